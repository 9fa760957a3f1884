//! Issue 11: Levee must never manufacture an outage. Hostile or broken
//! clients get their own answer (400, 408, 429) and cannot take the
//! upstream's capacity or its breaker from everyone else.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::Response;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

/// An upstream that reads the whole body, then answers after `hold`.
async fn reading(hold: Duration) -> Upstream {
    Upstream::start(move |_s: Seen| async move {
        tokio::time::sleep(hold).await;
        Response::new(full("ok"))
    })
    .await
}

/// Sends `head` on a fresh connection and returns what comes back until the
/// connection closes or `bound` passes.
async fn exchange(addr: std::net::SocketAddr, head: &[u8], bound: Duration) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(head).await.expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(bound, s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// A client that sends a request head and then one byte of its body every
/// `every`, until `bytes` are sent or the gateway answers; returns the answer.
async fn drip(addr: std::net::SocketAddr, head: String, bytes: usize, every: Duration) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(head.as_bytes()).await.expect("head");
    let mut out = vec![0u8; 4096];
    for _ in 0..bytes {
        tokio::select! {
            n = s.read(&mut out) => {
                let n = n.unwrap_or(0);
                return String::from_utf8_lossy(&out[..n]).into_owned();
            }
            () = tokio::time::sleep(every) => {
                if s.write_all(b"x").await.is_err() {
                    break;
                }
            }
        }
    }
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut out))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or(0);
    String::from_utf8_lossy(&out[..n]).into_owned()
}

/// Item 2: a client's broken body is the client's fault. Fifty requests with
/// a bad chunk size are answered 400, and the endpoint's breaker (which trips
/// after 5 failures in a row by default) never hears of them: the next
/// ordinary request is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_are_400_and_never_open_the_breaker() {
    let up = reading(Duration::ZERO).await;
    let gw = Gw::to(up.addr, "").await;
    for _ in 0..50 {
        let answer = exchange(
            gw.addr,
            b"POST /upload HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\n",
            Duration::from_secs(5),
        )
        .await;
        assert!(
            answer.starts_with("HTTP/1.1 400"),
            "a malformed body is the client's fault: {answer}"
        );
        assert!(answer.contains("\"blame\":\"client\""), "{answer}");
    }
    let got = get(&gw.url("/after"), &[]).await;
    assert_eq!(got.status, 200, "the breaker stayed closed: {}", got.text());
}

/// Item 1: slow uploads hold no admission slot. On a route limited to 2
/// requests at once, 6 clients trickle small bodies a byte at a time; the
/// bodies are read before admission, so ordinary requests meanwhile are all
/// served, and the tricklers get a 408 problem when they fall under the
/// minimum rate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_uploads_hold_no_slot_and_end_in_408() {
    let up = reading(Duration::from_millis(20)).await;
    let gw = Gw::start(&format!(
        "[[pools]]\nname = \"a\"\nendpoints = [\"{}\"]\n\
         [[routes]]\npool = \"a\"\nclient_body_timeout = \"1s\"\n\
         admission = {{ limiter = \"fixed\", limit = 2, max_queue = 0 }}\n",
        up.addr
    ))
    .await;
    let head = "POST /upload HTTP/1.1\r\nhost: a\r\ncontent-length: 100\r\n\r\n".to_owned();
    let tricklers: Vec<_> = (0..6)
        .map(|_| {
            let head = head.clone();
            let addr = gw.addr;
            tokio::spawn(async move { drip(addr, head, 100, Duration::from_millis(300)).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let served = Arc::new(AtomicUsize::new(0));
    for _ in 0..20 {
        let got = get(&gw.url("/work"), &[]).await;
        assert_eq!(got.status, 200, "{}", got.text());
        served.fetch_add(1, Ordering::SeqCst);
    }
    for t in tricklers {
        let answer = t.await.expect("trickler");
        assert!(
            answer.starts_with("HTTP/1.1 408"),
            "a body under the minimum rate is a 408: {answer}"
        );
        assert!(answer.contains("request-timeout"), "{answer}");
    }
    assert_eq!(
        up.seen()
            .iter()
            .filter(|s| s.uri.path() == "/upload")
            .count(),
        0
    );
}

/// Item 1 and 2: a streamed (chunked) upload that stalls is cut after the
/// route's body timeout with a 408, its slot is given back, and the stall is
/// not held against the endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_streamed_upload_is_408_and_frees_its_slot() {
    let up = reading(Duration::ZERO).await;
    let gw = Gw::start(&format!(
        "[[pools]]\nname = \"a\"\nendpoints = [\"{}\"]\nbreaker = {{ consecutive_failures = 1 }}\n\
         [[routes]]\npool = \"a\"\nclient_body_timeout = \"500ms\"\n\
         admission = {{ limiter = \"fixed\", limit = 1, max_queue = 0 }}\n",
        up.addr
    ))
    .await;
    // A chunked body of unknown length is streamed; it sends one chunk and stops.
    let answer = exchange(
        gw.addr,
        b"POST /upload HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    // The slot is free and the breaker (tripping at the first failure) closed.
    let got = get(&gw.url("/after"), &[]).await;
    assert_eq!(got.status, 200, "{}", got.text());
}

/// Item 6: a request whose client leaves before the answer still writes one
/// access-log line (status 499, as nginx logs a client that closed) and is
/// counted out of `levee_requests_in_flight`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborted_requests_are_logged_and_counted_out() {
    let up = reading(Duration::from_millis(1500)).await;
    let gw = Served::start(
        &zero_config(&up.url())
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let aborts: Vec<_> = (0..20)
        .map(|i| {
            let addr = gw.addr;
            tokio::spawn(async move {
                let mut s = TcpStream::connect(addr).await.expect("connect");
                let head = format!("GET /abort/{i} HTTP/1.1\r\nhost: a\r\n\r\n");
                s.write_all(head.as_bytes()).await.expect("write");
                tokio::time::sleep(Duration::from_millis(200)).await;
                drop(s); // gone before the answer
            })
        })
        .collect();
    for a in aborts {
        a.await.expect("abort");
    }
    let metrics_url = format!("http://{}/metrics", gw.admin);
    eventually(Duration::from_secs(5), "in flight back to 0", async || {
        get(&metrics_url, &[])
            .await
            .text()
            .lines()
            .any(|l| l == "levee_requests_in_flight 0")
    })
    .await;
    let lines: Vec<serde_json::Value> = gw
        .log
        .lock()
        .expect("log")
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| {
            v["fields"]["path"]
                .as_str()
                .or(v["path"].as_str())
                .is_some_and(|p| p.starts_with("/abort/"))
        })
        .collect();
    assert_eq!(
        lines.len(),
        20,
        "one access line per aborted request: {lines:?}"
    );
    for l in &lines {
        let status = l["fields"]["status"].as_u64().or(l["status"].as_u64());
        assert_eq!(status, Some(499), "{l}");
    }
}
