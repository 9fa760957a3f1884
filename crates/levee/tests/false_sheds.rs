//! No false sheds (issue 19), over real sockets against the real binary with
//! its defaults: in front of a service that takes any number of requests at
//! once, `levee serve --upstream URL` never answers 503 — a cold burst, a
//! long-poll and event-stream mix, a route of fast and slow endpoints. And
//! when the upstream really is full, it says so in its log, with the
//! evidence, and again when it is not any more.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::{Request, Response};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;

use crate::support::*;

/// A service that takes any number of requests at once: `/ms/N` sleeps N ms
/// and answers; `/sse/N` sends N events, one every 200 ms.
async fn unlimited() -> Upstream {
    Upstream::start(|s: Seen| async move {
        let path = s.uri.path().to_owned();
        if let Some(n) = path.strip_prefix("/sse/") {
            let n: u8 = n.parse().unwrap_or(1);
            let stream = futures_util::stream::unfold(0u8, move |i| async move {
                if i == n {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                let event = bytes::Bytes::from(format!("data: {i}\n\n"));
                Some((Ok::<_, BoxError>(http_body::Frame::data(event)), i + 1))
            });
            let mut resp = Response::new(http_body_util::StreamBody::new(stream).boxed());
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/event-stream"),
            );
            return resp;
        }
        let ms: u64 = path
            .rsplit('/')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Response::new(full("ok"))
    })
    .await
}

/// Statuses of every answer, in any order.
#[derive(Default)]
struct Tally {
    ok: AtomicUsize,
    shed: AtomicUsize,
    other: AtomicUsize,
}

impl Tally {
    fn count(&self, status: u16) {
        match status {
            200 => &self.ok,
            503 => &self.shed,
            _ => &self.other,
        }
        .fetch_add(1, Ordering::SeqCst);
    }

    fn assert_none_shed(&self, what: &str, expected: usize) {
        let (ok, shed, other) = (
            self.ok.load(Ordering::SeqCst),
            self.shed.load(Ordering::SeqCst),
            self.other.load(Ordering::SeqCst),
        );
        assert_eq!(
            (ok, shed, other),
            (expected, 0, 0),
            "{what}: every request served, none shed"
        );
    }
}

/// One request through a keep-alive client; the whole body is read.
async fn fetch(client: &Client<HttpConnector, TestBody>, url: &str, tally: &Tally) -> Duration {
    let start = tokio::time::Instant::now();
    let req = Request::get(url).body(full("")).expect("request");
    match client.request(req).await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let _ = resp.into_body().collect().await;
            tally.count(status);
        }
        Err(_) => tally.count(0),
    }
    start.elapsed()
}

/// `n` requests of `path` at `rate` per second (evenly spaced), each on its
/// own task; returns their latencies.
async fn paced(gw: &Served, path: &str, rate: f64, n: usize, tally: &Arc<Tally>) -> Vec<Duration> {
    let client = h1();
    let mut tasks = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    for _ in 0..n {
        tick.tick().await;
        let (client, url, tally) = (client.clone(), gw.url(path), tally.clone());
        tasks.push(tokio::spawn(
            async move { fetch(&client, &url, &tally).await },
        ));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("task"));
    }
    out
}

fn p99(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[(v.len() - 1) * 99 / 100]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_burst_of_64_clients_is_served_whole() {
    let up = unlimited().await;
    let gw = Served::start(
        &zero_config(&up.url())
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let tally = Arc::new(Tally::default());
    let clients: Vec<_> = (0..64)
        .map(|_| {
            let (url, tally) = (gw.url("/ms/50"), tally.clone());
            tokio::spawn(async move {
                let client = h1();
                for _ in 0..10 {
                    fetch(&client, &url, &tally).await;
                }
            })
        })
        .collect();
    for c in clients {
        c.await.expect("client");
    }
    tally.assert_none_shed("64 clients at once x 10 x 50 ms", 640);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polls_and_event_streams_do_not_starve_short_requests() {
    let up = unlimited().await;
    let gw = Served::start(
        &zero_config(&up.url())
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let tally = Arc::new(Tally::default());
    // 24 long-polls of 4 s and 24 event streams of 4 s, all opened at once.
    let mut long = Vec::new();
    for path in ["/poll/ms/4000", "/sse/20"] {
        for _ in 0..24 {
            let (url, tally) = (gw.url(path), tally.clone());
            long.push(tokio::spawn(
                async move { fetch(&h1(), &url, &tally).await },
            ));
        }
    }
    // Meanwhile 40/s of 10 ms requests for 3 s.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let short = paced(&gw, "/api/ms/10", 40.0, 120, &tally).await;
    for l in long {
        assert!(l.await.expect("long") >= Duration::from_secs(3));
    }
    tally.assert_none_shed("48 long-lived + 120 short", 168);
    let p99 = p99(short);
    assert!(
        p99 < Duration::from_millis(500),
        "short requests were not held behind the long ones: p99 {p99:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_of_fast_and_slow_endpoints_is_not_congestion() {
    let up = unlimited().await;
    let gw = Served::start(
        &zero_config(&up.url())
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let tally = Arc::new(Tally::default());
    // 60/s for 4 s: 90% of 5 ms and 10% of an 800 ms report; and, on one
    // path pattern, 95% of 3 ms and 5% of 500 ms.
    let client = h1();
    let mut tasks = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_micros(16_667));
    for i in 0..240usize {
        tick.tick().await;
        let path = match i % 20 {
            0 => "/reports/ms/800".to_owned(),
            1 => "/items/ms/500".to_owned(),
            j if j % 2 == 0 => "/items/ms/3".to_owned(),
            _ => "/users/ms/5".to_owned(),
        };
        let (client, url, tally) = (client.clone(), gw.url(&path), tally.clone());
        tasks.push(tokio::spawn(
            async move { fetch(&client, &url, &tally).await },
        ));
    }
    for t in tasks {
        t.await.expect("task");
    }
    tally.assert_none_shed("mixed latencies", 240);
    // The classes it compared by are readable.
    let metrics = get(&format!("http://{}/metrics", gw.admin), &[])
        .await
        .text();
    assert!(
        metrics.contains(r#"levee_admission_class_baseline_seconds{route="default",class="GET /reports/ms/{id}"}"#),
        "{metrics}"
    );
}

/// A worker-limited upstream at several times its capacity: the gateway
/// logs that the route is congested, with the evidence, sheds, and logs
/// again when the surge is over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn congestion_is_logged_with_its_evidence_when_it_starts_and_ends() {
    let workers = Arc::new(tokio::sync::Semaphore::new(4));
    let up = Upstream::start(move |_s: Seen| {
        let workers = workers.clone();
        async move {
            let _slot = workers.acquire().await.expect("open");
            tokio::time::sleep(Duration::from_millis(20)).await;
            Response::new(full("ok"))
        }
    })
    .await;
    let gw = Served::start(
        &zero_config(&up.url())
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    // Capacity 200/s; offered 800/s for 2 s.
    let tally = Arc::new(Tally::default());
    paced(&gw, "/work", 800.0, 1600, &tally).await;
    assert!(tally.shed.load(Ordering::SeqCst) > 0, "the surge was shed");
    assert!(
        tally.ok.load(Ordering::SeqCst) >= 200,
        "and served at capacity"
    );
    assert!(
        gw.logged("route congested: shedding above the limit"),
        "{:?}",
        gw.log.lock().expect("lock")
    );
    let line = gw
        .log
        .lock()
        .expect("lock")
        .iter()
        .find(|l| l.contains("route congested"))
        .cloned()
        .expect("logged");
    let v: serde_json::Value = serde_json::from_str(&line).expect("json log");
    for field in ["limit", "in_flight", "latency_ratio", "route"] {
        assert!(!v[field].is_null(), "the evidence has {field}: {line}");
    }
    // Demand falls below capacity: shedding stops, and says so.
    paced(&gw, "/work", 50.0, 100, &tally).await;
    eventually(Duration::from_secs(5), "shedding stops", async || {
        gw.logged("route no longer congested")
    })
    .await;
}
