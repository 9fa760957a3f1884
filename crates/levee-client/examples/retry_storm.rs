//! The retry-storm benchmark: does a fleet of clients turn an outage into a
//! storm, and how fast is it back when the service recovers?
//!
//! One run, three strategies side by side, on loopback only, bounded in time
//! (about 50 s) and requests (about 1000/s offered):
//!
//! - `naive`: retry every 1 s, up to 5 attempts (the `while curl; sleep 1` loop);
//! - `exp-no-jitter`: exponential backoff 100 ms × 2^n, up to 5 attempts;
//! - `levee`: levee-client's defaults (full jitter, budget, breaker).
//!
//! 200 clients each send a request every 200 ms (open loop, random phase).
//! The upstream answers 200 for 1 s, then 503 (no Retry-After) for 10 s, then
//! 200 again for 5 s. Reported per strategy: retry amplification during the
//! outage (upstream attempts ÷ original requests), the peak attempt rate in
//! the first second after recovery, and the time until goodput is back to 95%
//! of the offered rate.
//!
//! `cargo run --release -p levee-client --example retry_storm`

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use levee_client::{BoxError, Retrier};
use tokio::net::TcpListener;
use tokio::time::Instant;

const CLIENTS: usize = 200;
const PERIOD: Duration = Duration::from_millis(200);
const UP_BEFORE: Duration = Duration::from_secs(1);
const OUTAGE: Duration = Duration::from_secs(10);
const UP_AFTER: Duration = Duration::from_secs(5);
const BUCKET: Duration = Duration::from_millis(100);
const BUCKETS: usize = 200; // 20 s of 100 ms buckets

type Http = Client<HttpConnector, Empty<Bytes>>;

/// Per-100 ms counters, shared by the upstream and the clients.
struct Stats {
    start: Instant,
    attempts: Vec<AtomicU64>,
    successes: Vec<AtomicU64>,
    originals: Vec<AtomicU64>,
}

impl Stats {
    fn new(start: Instant) -> Stats {
        let v = || (0..BUCKETS).map(|_| AtomicU64::new(0)).collect();
        Stats {
            start,
            attempts: v(),
            successes: v(),
            originals: v(),
        }
    }
    fn bucket(&self) -> usize {
        ((self.start.elapsed().as_millis() / BUCKET.as_millis()) as usize).min(BUCKETS - 1)
    }
    fn bump(counters: &[AtomicU64], i: usize) {
        counters[i].fetch_add(1, Ordering::Relaxed);
    }
}

async fn upstream(down: Arc<AtomicBool>, stats: Arc<Stats>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (down, stats) = (down.clone(), stats.clone());
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |_req: Request<Incoming>| {
                    let (down, stats) = (down.clone(), stats.clone());
                    async move {
                        Stats::bump(&stats.attempts, stats.bucket());
                        let status = if down.load(Ordering::Relaxed) {
                            StatusCode::SERVICE_UNAVAILABLE
                        } else {
                            StatusCode::OK
                        };
                        let mut r = Response::new(Full::new(Bytes::from_static(b"x")));
                        *r.status_mut() = status;
                        Ok::<_, Infallible>(r)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

#[derive(Clone, Copy, Debug)]
enum Strategy {
    Naive,
    ExpNoJitter,
    Levee,
}

async fn once(http: &Http, uri: &Uri) -> Result<StatusCode, BoxError> {
    let resp = http.get(uri.clone()).await?;
    let status = resp.status();
    let _ = resp.into_body().collect().await;
    Ok(status)
}

/// One request under a hand-written strategy: true if it ended in a 200.
async fn hand_written(http: &Http, uri: &Uri, strategy: Strategy) -> bool {
    for attempt in 0..5u32 {
        if let Ok(s) = once(http, uri).await
            && s.is_success()
        {
            return true;
        }
        let wait = match strategy {
            Strategy::Naive => Duration::from_secs(1),
            _ => Duration::from_millis(100) * 2u32.pow(attempt),
        };
        if attempt < 4 {
            tokio::time::sleep(wait).await;
        }
    }
    false
}

async fn levee(http: &Http, uri: &Uri, retrier: &Retrier) -> bool {
    let send = |u: Uri| {
        let http = http.clone();
        async move { http.get(u).await.map_err(BoxError::from) }
    };
    match levee_client::drive(retrier, Method::GET, &HeaderMap::new(), uri.clone(), send).await {
        Ok(f) => {
            let ok = f.response.status().is_success();
            let _ = f.response.into_body().collect().await;
            ok
        }
        Err(_) => false,
    }
}

struct Outcome {
    amplification: f64,
    peak_after: f64,
    to_95: Option<Duration>,
}

async fn scenario(http: &Http, strategy: Strategy) -> Outcome {
    let down = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(Stats::new(Instant::now()));
    let addr = upstream(down.clone(), stats.clone()).await;
    let uri: Uri = format!("http://{addr}/work").parse().expect("uri");
    let end = UP_BEFORE + OUTAGE + UP_AFTER;

    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (http, uri, stats) = (http.clone(), uri.clone(), stats.clone());
        // Each client is its own process in a fleet: its own budget and breakers.
        let retrier = Retrier::new();
        clients.push(tokio::spawn(async move {
            let phase = PERIOD * (c as u32) / CLIENTS as u32;
            let mut tick = tokio::time::interval_at(stats.start + phase, PERIOD);
            let mut inflight = Vec::new();
            while stats.start.elapsed() < end {
                tick.tick().await;
                let (http, uri, stats, retrier) =
                    (http.clone(), uri.clone(), stats.clone(), retrier.clone());
                Stats::bump(&stats.originals, stats.bucket());
                inflight.push(tokio::spawn(async move {
                    let ok = match strategy {
                        Strategy::Levee => levee(&http, &uri, &retrier).await,
                        s => hand_written(&http, &uri, s).await,
                    };
                    if ok {
                        Stats::bump(&stats.successes, stats.bucket());
                    }
                }));
            }
            for t in inflight {
                let _ = t.await;
            }
        }));
    }
    tokio::time::sleep_until(stats.start + UP_BEFORE).await;
    down.store(true, Ordering::Relaxed);
    tokio::time::sleep_until(stats.start + UP_BEFORE + OUTAGE).await;
    down.store(false, Ordering::Relaxed);
    for c in clients {
        let _ = c.await;
    }

    let b = |d: Duration| (d.as_millis() / BUCKET.as_millis()) as usize;
    let (o0, o1) = (b(UP_BEFORE), b(UP_BEFORE + OUTAGE));
    let load = |v: &[AtomicU64], r: std::ops::Range<usize>| -> u64 {
        v[r].iter().map(|a| a.load(Ordering::Relaxed)).sum()
    };
    let amplification =
        load(&stats.attempts, o0..o1) as f64 / load(&stats.originals, o0..o1).max(1) as f64;
    let peak_after = (o1..o1 + 10)
        .map(|i| stats.attempts[i].load(Ordering::Relaxed) as f64 * 10.0)
        .fold(0.0, f64::max);
    let offered = CLIENTS as f64 / PERIOD.as_secs_f64();
    // Goodput over a 500 ms window, as a rate; first window from recovery at 95%.
    let to_95 = (o1..b(end) - 5)
        .find(|&i| load(&stats.successes, i..i + 5) as f64 * 2.0 >= 0.95 * offered)
        .map(|i| BUCKET * (i - o1) as u32);
    Outcome {
        amplification,
        peak_after,
        to_95,
    }
}

#[tokio::main]
async fn main() {
    let http: Http = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(512)
        .build_http();
    println!(
        "retry storm: {CLIENTS} clients, {:.0} req/s offered, 503 outage {} s, loopback",
        CLIENTS as f64 / PERIOD.as_secs_f64(),
        OUTAGE.as_secs()
    );
    println!(
        "{:<15} {:>22} {:>26} {:>22}",
        "strategy", "amplification (outage)", "peak attempts/s (1st s up)", "time to 95% goodput"
    );
    for strategy in [Strategy::Naive, Strategy::ExpNoJitter, Strategy::Levee] {
        let o = scenario(&http, strategy).await;
        let name = match strategy {
            Strategy::Naive => "naive-1s",
            Strategy::ExpNoJitter => "exp-no-jitter",
            Strategy::Levee => "levee-client",
        };
        let t95 = o.to_95.map_or("not reached".to_owned(), |d| {
            format!("{:.1} s", d.as_secs_f64())
        });
        println!(
            "{name:<15} {:>21.2}× {:>26.0} {:>22}",
            o.amplification, o.peak_after, t95
        );
    }
}
