//! Issue 11: Levee must never manufacture an outage. Hostile or broken
//! clients get their own answer (400, 408, 429) and cannot take the
//! upstream's capacity or its breaker from everyone else.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::Response;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
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
    // The access log is written by a background writer: wait for the lines.
    let abort_lines = || -> Vec<serde_json::Value> {
        gw.log
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
            .collect()
    };
    eventually(Duration::from_secs(10), "20 access lines", async || {
        abort_lines().len() >= 20
    })
    .await;
    let lines = abort_lines();
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

/// Issue 11 item 5: a `SIGTERM` under load loses no request. `/readyz` turns
/// 503 while the gateway keeps answering for the drain delay; then kept-alive
/// HTTP/1 clients are told `Connection: close` (or `503 draining`), HTTP/2
/// clients get GOAWAY, and the process waits for their connections. Every
/// request that reached the gateway gets a whole answer; the only failures
/// allowed are connections refused after the listener closed (nothing sent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_loses_no_request() {
    const TOTAL: usize = 2000;
    let up = reading(Duration::from_millis(5)).await;
    let mut gw = Served::start(
        &zero_config(&up.url())
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let attempts = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let lost = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let (ok, draining) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    // Three HTTP/1.1 keep-alive clients and one HTTP/2 client, each pacing
    // itself so that the load spans the drain delay and the drain. They are
    // plain connections with no retries (like wrk or hey): a kept-alive
    // connection that dies without having said `Connection: close` loses the
    // request written on it.
    let clients: Vec<_> = [false, false, false, true]
        .into_iter()
        .enumerate()
        .map(|(c, h2)| {
            let (attempts, answered, refused, lost) = (
                attempts.clone(),
                answered.clone(),
                refused.clone(),
                lost.clone(),
            );
            let (ok, draining) = (ok.clone(), draining.clone());
            let addr = gw.addr;
            tokio::spawn(async move {
                let mut pace = tokio::time::interval(Duration::from_millis(10));
                let mut conn: Option<Sender> = None;
                while attempts.fetch_add(1, Ordering::Relaxed) < TOTAL {
                    pace.tick().await;
                    if conn.as_ref().is_some_and(|s| s.closed() && !h2) {
                        lost.lock().expect("lost").push(format!(
                            "client {c}: kept-alive connection closed without `Connection: close`"
                        ));
                        conn = None;
                    }
                    if conn.as_ref().is_none_or(Sender::closed) {
                        match Sender::connect(addr, h2).await {
                            Some(s) => conn = Some(s),
                            None => {
                                refused.fetch_add(1, Ordering::Relaxed);
                                conn = None;
                                continue;
                            }
                        }
                    }
                    let Some(sender) = conn.as_mut() else {
                        continue;
                    };
                    let outcome =
                        tokio::time::timeout(Duration::from_secs(30), sender.get("/work"))
                            .await
                            .unwrap_or_else(|_| Err("no answer within 30 s".to_owned()));
                    match outcome {
                        Ok(None) => {
                            // Not sent: the attempt is tried again on a new connection.
                            attempts.fetch_sub(1, Ordering::Relaxed);
                            conn = None;
                        }
                        Ok(Some((status, retry_after, close))) => {
                            answered.fetch_add(1, Ordering::Relaxed);
                            match status {
                                200 => ok.fetch_add(1, Ordering::Relaxed),
                                503 if retry_after => draining.fetch_add(1, Ordering::Relaxed),
                                s => {
                                    lost.lock().expect("lost").push(format!("status {s}"));
                                    0
                                }
                            };
                            if close {
                                conn = None;
                            }
                        }
                        Err(e) => {
                            lost.lock().expect("lost").push(format!("client {c}: {e}"));
                            conn = None;
                        }
                    }
                }
            })
        })
        .collect();

    eventually(Duration::from_secs(30), "load is running", async || {
        ok.load(Ordering::Relaxed) >= 200
    })
    .await;
    gw.signal("TERM");
    // During the drain delay: not ready, yet still answering normally.
    let ready = format!("http://{}/readyz", gw.admin);
    eventually(Duration::from_secs(2), "/readyz turns 503", async || {
        get(&ready, &[]).await.status == 503
    })
    .await;
    let at_term = ok.load(Ordering::Relaxed);
    eventually(
        Duration::from_secs(2),
        "answers go on during the drain delay",
        async || ok.load(Ordering::Relaxed) >= at_term + 50,
    )
    .await;

    for c in clients {
        c.await.expect("client");
    }
    let status = gw.wait_exit(Duration::from_secs(30)).await;
    assert!(status.success(), "{status:?}");
    let lost = lost.lock().expect("lost").clone();
    let (answered, refused) = (
        answered.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed),
    );
    assert!(
        lost.is_empty(),
        "{} of {answered} sent requests lost ({refused} connections refused): {lost:?}",
        lost.len()
    );
    assert!(
        refused > 0,
        "the load outlasted the gateway ({answered} answered)"
    );
    assert_eq!(answered + refused, TOTAL, "every attempt is accounted for");
    assert!(
        gw.logged("drained; exiting"),
        "the process waited for its connections"
    );
}

/// One client connection with no retries and no pool.
enum Sender {
    H1(hyper::client::conn::http1::SendRequest<TestBody>),
    H2(hyper::client::conn::http2::SendRequest<TestBody>),
}

impl Sender {
    /// Connects; `None` when the connection is refused (nothing was sent).
    async fn connect(addr: std::net::SocketAddr, h2: bool) -> Option<Sender> {
        let io = hyper_util::rt::TokioIo::new(TcpStream::connect(addr).await.ok()?);
        if h2 {
            let exec = hyper_util::rt::TokioExecutor::new();
            let (send, conn) = hyper::client::conn::http2::handshake(exec, io).await.ok()?;
            tokio::spawn(conn);
            Some(Sender::H2(send))
        } else {
            let (send, conn) = hyper::client::conn::http1::handshake(io).await.ok()?;
            tokio::spawn(conn);
            Some(Sender::H1(send))
        }
    }

    fn closed(&self) -> bool {
        match self {
            Sender::H1(s) => s.is_closed(),
            Sender::H2(s) => s.is_closed(),
        }
    }

    /// Sends a GET and reads the whole answer: status, whether it carried
    /// `Retry-After`, and whether it said `Connection: close`. `Ok(None)`:
    /// an HTTP/2 connection went away (GOAWAY) before the request was sent.
    async fn get(&mut self, path: &str) -> Result<Option<(u16, bool, bool)>, String> {
        let req = http::Request::get(path)
            .header("host", "levee.test")
            .body(full(""))
            .map_err(|e| e.to_string())?;
        let resp = match self {
            Sender::H1(s) => {
                s.ready().await.map_err(|e| format!("not ready: {e}"))?;
                s.send_request(req).await
            }
            Sender::H2(s) => {
                if s.ready().await.is_err() {
                    return Ok(None);
                }
                s.send_request(req).await
            }
        }
        .map_err(|e| format!("sent, no answer: {e}"))?;
        let (parts, body) = resp.into_parts();
        http_body_util::BodyExt::collect(body)
            .await
            .map_err(|e| format!("body cut: {e}"))?;
        let close = parts
            .headers
            .get("connection")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        Ok(Some((
            parts.status.as_u16(),
            parts.headers.contains_key("retry-after"),
            close,
        )))
    }
}

/// Issue 11 item 7: only allowed protocols are tunnelled. An `h2c` upgrade
/// (with its `HTTP2-Settings`) is forwarded as an ordinary request, so that
/// no tunnel carries requests past routes, maintenance and admission; with
/// `upgrade_protocols = []` even a WebSocket handshake is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_allowed_upgrades_are_tunnelled() {
    let up = Upstream::echo().await;
    let gw = Gw::to(up.addr, "").await;
    let answer = exchange(
        gw.addr,
        b"GET /h2c HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\n\
          Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n",
        Duration::from_secs(2),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let seen = up.seen();
    let h = &seen.last().expect("the upstream saw the request").headers;
    for name in ["upgrade", "http2-settings", "connection"] {
        assert!(!h.contains_key(name), "the upstream saw `{name}`: {h:?}");
    }

    let closed = Gw::to(up.addr, "[server]\nupgrade_protocols = []\n").await;
    let answer = exchange(
        closed.addr,
        b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
          Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        Duration::from_secs(2),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let seen = up.seen();
    let h = &seen.last().expect("the upstream saw the request").headers;
    assert!(!h.contains_key("upgrade"), "{h:?}");

    // `h2c` cannot be allowed: the file is refused with its line.
    let refused = levee_control::config::load(
        "[server]\nupgrade_protocols = [\"websocket\", \"h2c\"]\n",
        std::path::Path::new("levee.toml"),
        &levee_control::config::Overrides::default(),
    )
    .expect_err("h2c is refused");
    assert!(refused.to_string().contains("levee.toml:2:"), "{refused}");
    assert!(refused.to_string().contains("h2c"), "{refused}");
}

/// Smaller defects: every numeric setting is bounded. A value out of range
/// is refused where it is written (file, line, the range it must be in),
/// never accepted to panic or misbehave later (`max_headers = u64::MAX`
/// used to pass `config check` and then panic every HTTP/1 request).
#[test]
fn every_numeric_setting_is_bounded() {
    let base = "[[pools]]\nname = \"a\"\nendpoints = [\"127.0.0.1:1\"]\n";
    let cases: &[(&str, &str, &str)] = &[
        // (table, key = bad value, key = edge value that is accepted)
        (
            "[server]",
            "max_headers = 18446744073709551615",
            "max_headers = 10000",
        ),
        ("[server]", "max_headers = 0", "max_headers = 1"),
        (
            "[server]",
            "max_header_bytes = \"2GiB\"",
            "max_header_bytes = \"1MiB\"",
        ),
        (
            "[server]",
            "header_read_timeout = \"0s\"",
            "header_read_timeout = \"1ms\"",
        ),
        (
            "[server]",
            "idle_timeout = \"100000d\"",
            "idle_timeout = \"1d\"",
        ),
        (
            "[server]",
            "drain_timeout = \"2d\"",
            "drain_timeout = \"0s\"",
        ),
        ("[server]", "max_connections = 0", "max_connections = 1"),
        (
            "[server]",
            "max_requests_per_client = -1",
            "max_requests_per_client = 1",
        ),
        (
            "[maintenance]",
            "open_ended_retry_after = \"0s\"",
            "open_ended_retry_after = \"1s\"",
        ),
        (
            "[[routes]]\npool = \"a\"",
            "client_body_timeout = \"0s\"",
            "client_body_timeout = \"1ms\"",
        ),
        (
            "[[routes]]\npool = \"a\"",
            "buffer_request_body = \"1GiB\"",
            "buffer_request_body = \"64MiB\"",
        ),
        (
            "[[routes]]\npool = \"a\"\n[routes.admission]",
            "max_limit = 0",
            "max_limit = 1000000",
        ),
        (
            "[[routes]]\npool = \"a\"\n[routes.admission]",
            "retry_after_max = \"100ms\"",
            "retry_after_max = \"1s\"",
        ),
        (
            "[[pools]]\nname = \"b\"\nendpoints = [\"127.0.0.1:2\"]",
            "connect_timeout = \"0s\"",
            "connect_timeout = \"1ms\"",
        ),
        (
            "[[pools]]\nname = \"b\"\nendpoints = [\"127.0.0.1:2\"]\n[pools.breaker]",
            "failure_ratio = 1.5",
            "failure_ratio = 1.0",
        ),
        (
            "[[pools]]\nname = \"b\"\nendpoints = [\"127.0.0.1:2\"]\n[pools.breaker]",
            "probes = 0",
            "probes = 1",
        ),
    ];
    let load = |text: &str| {
        levee_control::config::load(
            text,
            std::path::Path::new("levee.toml"),
            &levee_control::config::Overrides::default(),
        )
    };
    for (table, bad, edge) in cases {
        let text = format!("{base}{table}\n{bad}\n[[listeners]]\nlisten = \"127.0.0.1:0\"\n");
        let line = text.lines().position(|l| l == *bad).expect("the line") + 1;
        let err = load(&text).expect_err(bad).to_string();
        assert!(
            err.contains(&format!("levee.toml:{line}:")) && err.contains("out of range"),
            "{bad}: {err}"
        );
        let text = format!(
            "{base}{table}\n{edge}\n[[listeners]]\nlisten = \"127.0.0.1:0\"\n[[routes]]\nname = \"z\"\npool = \"a\"\n"
        );
        load(&text).unwrap_or_else(|e| panic!("{edge} is in range: {e}"));
    }
}

/// Issue 11 item 8: a connection that sends nothing is closed at the
/// header-read deadline from accept, not after the idle timeout (60 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_is_closed_at_the_header_deadline() {
    let up = Upstream::echo().await;
    let gw = Gw::to(
        up.addr,
        "[server]\nheader_read_timeout = \"300ms\"\nidle_timeout = \"60s\"\n",
    )
    .await;
    let mut silent = TcpStream::connect(gw.addr).await.expect("connect");
    let mut out = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(20), silent.read_to_end(&mut out)).await;
    assert!(
        closed.is_ok(),
        "a connection that sent nothing was still open after 20 s"
    );
}

/// Issue 11 item 8: at `max_connections` the gateway stops accepting; a
/// connection beyond waits in the backlog and is served once one closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_is_backpressure_not_failure() {
    let up = Upstream::echo().await;
    let gw = Gw::to(up.addr, "[server]\nmax_connections = 2\n").await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(gw.addr).await.expect("connect");
        s.write_all(b"GET /held HTTP/1.1\r\nHost: a\r\n\r\n")
            .await
            .expect("write");
        assert!(read_head(&mut s).await.starts_with("HTTP/1.1 200"));
        held.push(s);
    }
    // The third connects (the kernel's backlog) and sends; it is not served
    // while two are held...
    let mut third = TcpStream::connect(gw.addr).await.expect("connect");
    third
        .write_all(b"GET /third HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .expect("write");
    let mut buf = [0u8; 64];
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut buf)).await;
    assert!(early.is_err(), "served beyond max_connections");
    assert!(up.seen().iter().all(|s| s.uri.path() != "/third"));
    // ...and is, once one of them closes.
    drop(held.pop());
    let head = tokio::time::timeout(Duration::from_secs(10), read_head(&mut third))
        .await
        .expect("served once a connection closed");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
}

/// Issue 11 item 1: one client address cannot take the gateway. Beyond
/// `max_connections_per_client` its connections are closed at once; beyond
/// `max_requests_per_client` its requests are answered `429 client-limit`
/// (with `Retry-After`), while another client is served. Trusted networks
/// (a load balancer in front) are not counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_address_is_capped() {
    let up = reading(Duration::from_millis(1500)).await;
    let limits = "max_connections_per_client = 3\nmax_requests_per_client = 2\n";
    let gw = Gw::to(
        up.addr,
        &format!("[server]\ntrusted_networks = []\n{limits}"),
    )
    .await;

    // Requests: two in flight, the third is refused with the problem.
    let slow: Vec<_> = (0..2)
        .map(|_| {
            let url = gw.url("/slow");
            tokio::spawn(async move { get(&url, &[]).await })
        })
        .collect();
    eventually(
        Duration::from_secs(10),
        "two requests upstream",
        async || up.seen().len() == 2,
    )
    .await;
    let refused = get(&gw.url("/third"), &[]).await;
    assert_problem(&refused, 429, "client-limit");
    assert!(refused.header("retry-after").is_some());
    for s in slow {
        assert_eq!(s.await.expect("slow").status, 200);
    }
    assert_eq!(get(&gw.url("/after"), &[]).await.status, 200, "room again");

    // Connections: three open, a fourth is closed before anything is read.
    let metrics_url = gw.admin_url("/metrics");
    eventually(
        Duration::from_secs(10),
        "earlier connections closed",
        async || {
            get(&metrics_url, &[])
                .await
                .text()
                .lines()
                .any(|l| l == "levee_connections_open 0")
        },
    )
    .await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(TcpStream::connect(gw.addr).await.expect("connect"));
    }
    let mut fourth = TcpStream::connect(gw.addr).await.expect("connect");
    let _ = fourth
        .write_all(b"GET /fourth HTTP/1.1\r\nHost: a\r\n\r\n")
        .await;
    let mut out = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), fourth.read_to_end(&mut out)).await;
    assert!(
        closed.is_ok() && out.is_empty(),
        "the fourth was closed unanswered"
    );
    assert!(up.seen().iter().all(|s| s.uri.path() != "/fourth"));
    let metrics = get(&gw.admin_url("/metrics"), &[]).await.text();
    assert!(
        metrics.contains("levee_client_connections_refused_total 1"),
        "{metrics}"
    );
    drop(open);

    // The same client in a trusted network is not counted.
    let trusted = Gw::to(up.addr, &format!("[server]\n{limits}")).await;
    let many: Vec<_> = (0..4)
        .map(|_| {
            let url = trusted.url("/slow");
            tokio::spawn(async move { get(&url, &[]).await })
        })
        .collect();
    for r in many {
        assert_eq!(r.await.expect("request").status, 200);
    }
}

/// Issue 11 item 8: the soft open-file limit is raised to the hard one at
/// start, and the connection budget follows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open_file_limit_is_raised_at_start() {
    let up = Upstream::echo().await;
    let hard = std::process::Command::new("sh")
        .args(["-c", "ulimit -Hn"])
        .output()
        .expect("sh");
    let hard = String::from_utf8_lossy(&hard.stdout).trim().to_owned();
    if hard == "unlimited" || hard.parse::<u64>().is_ok_and(|h| h <= 512) {
        eprintln!("skipped: hard open-file limit {hard} leaves nothing to raise");
        return;
    }
    let data = tempfile::tempdir().expect("data dir");
    let mut child = tokio::process::Command::new("sh")
        .args([
            "-c",
            "ulimit -Sn 512 && exec \"$0\" --log-format json serve \"$@\"",
            env!("CARGO_BIN_EXE_levee"),
        ])
        .args(zero_config(&up.url()))
        .env("LEVEE_DATA_DIR", data.path())
        .env("LEVEE_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("levee starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let budget = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if v["message"] == "connection budget" {
                return Some(v);
            }
        }
        None
    })
    .await
    .expect("logged in time")
    .expect("the connection budget is logged");
    let _ = child.kill().await;
    let open_files = budget["open_files"].as_u64().expect("open_files");
    assert_eq!(open_files.to_string(), hard, "{budget}");
    let max = budget["max_connections"].as_u64().expect("max_connections");
    assert!(
        max > 512 / 2,
        "the budget follows the raised limit: {budget}"
    );
}

/// Smaller defects: a URL too long to parse gets the `414` problem with a
/// request id, like every answer the gateway makes (hyper's bare 414 used to
/// reach the client).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_uri_too_long_is_a_414_problem() {
    let up = Upstream::echo().await;
    let gw = Gw::to(up.addr, "").await;
    let path = format!("/{}", "a".repeat(70_000));
    let answer = exchange(
        gw.addr,
        format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes(),
        Duration::from_secs(10),
    )
    .await;
    assert!(
        answer.starts_with("HTTP/1.1 414 "),
        "{}",
        &answer[..answer.len().min(300)]
    );
    let lower = answer.to_ascii_lowercase();
    assert!(
        lower.contains("content-type: application/problem+json"),
        "{answer}"
    );
    assert!(lower.contains("x-request-id: req_"), "{answer}");
    assert!(answer.contains("\"reason\":\"uri-too-long\""), "{answer}");
    assert!(up.seen().is_empty());
}

/// Smaller defects: what is meant for the gateway is not passed on. A
/// maintenance bypass token is removed before forwarding, a priority header
/// from an untrusted client too, and `Connection: host` cannot strip `Host`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_only_headers_are_not_forwarded() {
    let up = Upstream::echo().await;
    let token = "let-me-in-0123456789";
    let gw = Gw::to(
        up.addr,
        &format!(
            "[server]\ntrusted_networks = []\n\n[[maintenance.windows]]\nname = \"w\"\n\
             starts_at = \"2020-01-01T00:00:00Z\"\nmessage = \"upgrade\"\n\
             bypass_token = \"{token}\"\n"
        ),
    )
    .await;
    let refused = get(&gw.url("/x"), &[]).await;
    assert_eq!(refused.status, 503, "the window is in force");
    let got = get(
        &gw.url("/x"),
        &[("x-levee-bypass", token), ("x-priority", "critical")],
    )
    .await;
    assert_eq!(got.status, 200, "{}", got.text());
    let seen = up.seen();
    let h = &seen.last().expect("forwarded").headers;
    assert!(
        !h.contains_key("x-levee-bypass"),
        "the token reached the upstream: {h:?}"
    );
    assert!(
        !h.contains_key("x-priority"),
        "an untrusted priority reached the upstream"
    );

    let answer = exchange(
        gw.addr,
        format!(
            "GET /y HTTP/1.1\r\nHost: app.example\r\nConnection: host, close\r\n\
             x-levee-bypass: {token}\r\n\r\n"
        )
        .as_bytes(),
        Duration::from_secs(5),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let seen = up.seen();
    let host = seen.last().expect("forwarded").headers.get("host").cloned();
    assert_eq!(
        host.as_ref().map(|v| v.as_bytes()),
        Some(&b"app.example"[..])
    );
}

/// Smaller defects: a request whose caller's deadline has already passed is
/// answered at once (`504`, not sent), instead of doing work nobody waits for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_deadline_is_not_forwarded() {
    let up = Upstream::echo().await;
    let gw = Gw::to(up.addr, "").await;
    for header in [("x-request-timeout-ms", "0"), ("grpc-timeout", "0m")] {
        let got = get(&gw.url("/late"), &[header]).await;
        assert_problem(&got, 504, "gateway-timeout");
    }
    assert!(up.seen().is_empty(), "work nobody waits for was sent");
    let ok = get(&gw.url("/fine"), &[("x-request-timeout-ms", "5000")]).await;
    assert_eq!(ok.status, 200);
}

/// Smaller defects: a window ending in year 9999 gives a bounded
/// `Retry-After` (at most a week), in both forms, instead of
/// `Retry-After: 251606052933`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_far_window_end_gives_a_bounded_retry_after() {
    let up = Upstream::echo().await;
    for form in ["delay-seconds", "http-date"] {
        let gw = Gw::to(
            up.addr,
            &format!(
                "[maintenance]\nretry_after = \"{form}\"\n\n[[maintenance.windows]]\nname = \"w\"\n\
                 starts_at = \"2020-01-01T00:00:00Z\"\nends_at = \"9999-12-31T23:59:59Z\"\n"
            ),
        )
        .await;
        let got = get(&gw.url("/x"), &[]).await;
        let problem = assert_problem(&got, 503, "maintenance");
        let secs: u64 = got
            .header("retry-after")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{form}: delay-seconds: {:?}", got.header("retry-after")));
        assert!((1..=7 * 86_400).contains(&secs), "{form}: {secs}");
        assert_eq!(problem["ends_at"], "9999-12-31T23:59:59Z");
    }
}

/// Smaller defects: paths are normalized before routing, so a rule for
/// `/limited` cannot be walked around with `/x/../limited/`, `//limited/` or
/// `/%6cimited/`; the upstream receives the normalized path; the opt-out
/// (`normalize_path = false`) forwards paths as sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_are_normalized_before_routing() {
    let up = Upstream::echo().await;
    let config = |server: &str| {
        format!(
            "[server]\n{server}\n[[pools]]\nname = \"app\"\nendpoints = [\"{}\"]\n\n\
             [[routes]]\nname = \"limited\"\npath_prefix = \"/limited\"\npool = \"app\"\n\n\
             [[routes]]\nname = \"open\"\npool = \"app\"\n\n\
             [[maintenance.windows]]\nname = \"w\"\nroute = \"limited\"\n\
             starts_at = \"2020-01-01T00:00:00Z\"\n",
            up.addr
        )
    };
    let gw = Gw::start(&config("")).await;
    let raw = async |gw: &Gw, target: &str| {
        exchange(
            gw.addr,
            format!("GET {target} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").as_bytes(),
            Duration::from_secs(5),
        )
        .await
    };
    for target in [
        "/limited/",
        "/x/../limited/",
        "//limited/",
        "/%6cimited/",
        "/./limited/a",
    ] {
        let answer = raw(&gw, target).await;
        assert!(
            answer.starts_with("HTTP/1.1 503") && answer.contains("\"reason\":\"maintenance\""),
            "{target}: {answer}"
        );
    }
    assert!(up.seen().is_empty(), "nothing got past the window");
    let answer = raw(&gw, "/open/./a//b/../c?q=%2e").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(
        up.seen().last().map(|s| s.uri.to_string()).as_deref(),
        Some("/open/a/c?q=%2e"),
        "the upstream gets the normalized path and the query as sent"
    );
    let answer = raw(&gw, "/bad%zz").await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");

    let raw_paths = Gw::start(&config("normalize_path = false")).await;
    let answer = raw(&raw_paths, "/x/../limited/").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "opted out: {answer}");
    assert_eq!(
        up.seen().last().map(|s| s.uri.path().to_owned()).as_deref(),
        Some("/x/../limited/")
    );
}
