//! The gateway as a plain proxy: nothing breaks, nothing is lost.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

#[tokio::test]
async fn methods_statuses_paths_and_queries_pass_through() {
    let up = Upstream::start(|s: Seen| async move {
        let status = match s.uri.path() {
            "/created" => 201,
            "/empty" => 204,
            "/missing" => 404,
            "/broken" => 500,
            _ => 200,
        };
        Response::builder()
            .status(status)
            .body(full(if status == 204 { "" } else { "x" }))
            .expect("resp")
    })
    .await;
    let gw = Gw::to(up.addr, "").await;
    let cases = [
        ("GET", "/a/b?x=1&y=%20z", 200),
        ("POST", "/created", 201),
        ("PUT", "/p", 200),
        ("PATCH", "/p", 200),
        ("DELETE", "/empty", 204),
        ("OPTIONS", "/p", 200),
        ("HEAD", "/p", 200),
        ("GET", "/missing", 404),
        ("GET", "/broken", 500),
    ];
    for (method, path, status) in cases {
        let req = Request::builder()
            .method(method)
            .uri(gw.url(path))
            .body(full(""))
            .expect("req");
        let got = send(&h1(), req).await;
        assert_eq!(got.status.as_u16(), status, "{method} {path}");
        // An upstream's own error is passed through untouched, not rewritten.
        assert_ne!(got.header("content-type"), Some("application/problem+json"));
        let seen = up.seen().pop().expect("upstream saw it");
        assert_eq!(seen.method.as_str(), method);
        assert_eq!(seen.uri.path_and_query().map(|p| p.as_str()), Some(path));
    }
}

#[tokio::test]
async fn headers_round_trip_with_duplicates_and_case_when_asked() {
    let up = RawUpstream::start(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Mixed-Case: A\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nok",
    )
    .await;
    let gw = Gw::to(up.addr, "[server]\npreserve_header_case = true\n").await;
    let mut s = TcpStream::connect(gw.addr).await.expect("connect");
    s.write_all(b"GET /h HTTP/1.1\r\nHost: example.test\r\nX-Custom-Case: 1\r\nX-Dup: first\r\nX-Dup: second\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("read");
    let head = up
        .heads
        .lock()
        .expect("lock")
        .pop()
        .expect("upstream got the request");
    assert!(
        head.contains("X-Custom-Case: 1\r\n"),
        "header case kept upstream:\n{head}"
    );
    let first = head.find("X-Dup: first").expect("first dup");
    let second = head.find("X-Dup: second").expect("second dup");
    assert!(first < second, "duplicates keep their order:\n{head}");
    assert!(
        head.to_ascii_lowercase().contains("host: example.test\r\n"),
        "Host is preserved:\n{head}"
    );
    assert!(
        out.contains("X-Mixed-Case: A\r\n"),
        "response header case kept:\n{out}"
    );
    let a = out.find("Set-Cookie: a=1").expect("cookie a");
    let b = out.find("Set-Cookie: b=2").expect("cookie b");
    assert!(a < b);
}

#[tokio::test]
async fn hop_by_hop_fields_are_removed_both_ways() {
    let up = RawUpstream::start(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: X-Up-Secret\r\nX-Up-Secret: 1\r\nKeep-Alive: timeout=5\r\nX-Up-Kept: 1\r\n\r\nok",
    )
    .await;
    let gw = Gw::to(up.addr, "").await;
    let out = raw_exchange(
        gw.addr,
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close, X-Secret\r\nX-Secret: s\r\nKeep-Alive: 300\r\nTE: trailers\r\nProxy-Connection: keep-alive\r\nX-Kept: k\r\n\r\n",
    )
    .await;
    let head = up
        .heads
        .lock()
        .expect("lock")
        .pop()
        .expect("upstream got it")
        .to_ascii_lowercase();
    for gone in [
        "x-secret",
        "keep-alive: 300",
        "te: trailers",
        "proxy-connection",
    ] {
        assert!(!head.contains(gone), "{gone} reached the upstream:\n{head}");
    }
    assert!(head.contains("x-kept: k"));
    let out = out.to_ascii_lowercase();
    assert!(out.starts_with("http/1.1 200"), "{out}");
    assert!(
        !out.contains("x-up-secret") && !out.contains("keep-alive: timeout"),
        "{out}"
    );
    assert!(out.contains("x-up-kept: 1"));
}

#[tokio::test]
async fn forwarding_headers_are_set() {
    let up = Upstream::echo().await;
    let gw = Gw::to(up.addr, "[server]\nforwarded = true\n").await;
    let got = get(
        &gw.url("/f"),
        &[("x-forwarded-for", "203.0.113.7"), ("host", "shop.example")],
    )
    .await;
    assert_eq!(got.status, StatusCode::OK);
    let seen = up.seen().pop().expect("seen");
    assert_eq!(seen.headers["x-forwarded-for"], "203.0.113.7, 127.0.0.1");
    assert_eq!(seen.headers["x-forwarded-proto"], "http");
    assert_eq!(seen.headers["x-forwarded-host"], "shop.example");
    assert_eq!(
        seen.headers["forwarded"],
        "for=127.0.0.1;by=127.0.0.1;proto=http;host=shop.example"
    );
}

#[tokio::test]
async fn chunked_and_content_length_bodies() {
    let up = Upstream::echo().await;
    let gw = Gw::to(up.addr, "").await;
    // Content-Length.
    let got = send(
        &h1(),
        Request::post(gw.url("/cl"))
            .body(full(vec![7u8; 100_000]))
            .expect("req"),
    )
    .await;
    assert_eq!(got.json()["body_len"], 100_000);
    assert!(
        up.seen()
            .pop()
            .expect("seen")
            .headers
            .contains_key("content-length")
    );
    // Chunked: a streamed body of unknown length.
    let chunks =
        (0..50).map(|_| Ok::<_, BoxError>(http_body::Frame::data(Bytes::from(vec![1u8; 1000]))));
    let body = StreamBody::new(futures_util::stream::iter(chunks)).boxed();
    let got = send(
        &h1(),
        Request::post(gw.url("/chunked")).body(body).expect("req"),
    )
    .await;
    assert_eq!(got.json()["body_len"], 50_000);
    let seen = up.seen().pop().expect("seen");
    assert_eq!(
        seen.headers.get("transfer-encoding").map(|v| v.as_bytes()),
        Some(&b"chunked"[..])
    );
}

/// A body of `total` bytes made on the fly, never held in memory whole.
fn generated(total: u64) -> TestBody {
    const CHUNK: usize = 256 * 1024;
    let block = Bytes::from(vec![0x5au8; CHUNK]);
    let stream = futures_util::stream::unfold(0u64, move |sent| {
        let block = block.clone();
        async move {
            if sent >= total {
                return None;
            }
            let n = (total - sent).min(CHUNK as u64) as usize;
            Some((
                Ok::<_, BoxError>(http_body::Frame::data(block.slice(..n))),
                sent + n as u64,
            ))
        }
    });
    StreamBody::new(stream).boxed()
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Upload and download of a large body stream through with bounded memory.
/// The size is 256 MiB by default (LEVEE_BIG_BODY_MIB to change it; the
/// 1 GiB figure in docs/BENCHMARKS.md was measured with 1024).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_stream_with_bounded_memory() {
    let mib: u64 = std::env::var("LEVEE_BIG_BODY_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let total = mib << 20;
    let up = Upstream::start(move |s: Seen| async move {
        // Answers uploads with their length, and GET /download with `total` bytes.
        if s.uri.path() == "/download" {
            Response::new(generated(total))
        } else {
            Response::new(full(s.body_len.to_string()))
        }
    })
    .await;
    let gw = Gw::to(up.addr, "").await;
    let before = rss_kib();
    let got = send(
        &h1(),
        Request::post(gw.url("/upload"))
            .body(generated(total))
            .expect("req"),
    )
    .await;
    assert_eq!(got.text(), total.to_string(), "every byte arrived upstream");
    let resp = h1()
        .request(
            Request::get(gw.url("/download"))
                .body(full(""))
                .expect("req"),
        )
        .await
        .expect("resp");
    let mut body = resp.into_body();
    let mut received = 0u64;
    while let Some(frame) = body.frame().await {
        received += frame
            .expect("frame")
            .data_ref()
            .map_or(0, |d| d.len() as u64);
    }
    assert_eq!(received, total, "every byte arrived downstream");
    let grown_mib = rss_kib().saturating_sub(before) / 1024;
    assert!(
        grown_mib < 64,
        "memory grew by {grown_mib} MiB while streaming {mib} MiB each way"
    );
}

#[tokio::test]
async fn h2_downstream_to_h1_upstream_and_h1_to_h2c_upstream() {
    let up = Upstream::echo().await;
    let gw = Gw::to(up.addr, "").await;
    let got = send(
        &h2(),
        Request::post(gw.url("/via-h2"))
            .body(full("abc"))
            .expect("req"),
    )
    .await;
    assert_eq!(got.version, http::Version::HTTP_2);
    assert_eq!(got.json()["body_len"], 3);
    let seen = up.seen().pop().expect("seen");
    assert_eq!(seen.version, http::Version::HTTP_11);
    assert_eq!(
        seen.headers["host"],
        gw.addr.to_string(),
        ":authority became Host"
    );

    let gw2 = Gw::start(&format!(
        "[[pools]]\nname = \"h2\"\nprotocol = \"h2c\"\nendpoints = [\"{}\"]\n[[routes]]\npool = \"h2\"\n",
        up.addr
    ))
    .await;
    let got = send(
        &h1(),
        Request::post(gw2.url("/via-h1"))
            .body(full("abcd"))
            .expect("req"),
    )
    .await;
    assert_eq!(got.version, http::Version::HTTP_11);
    assert_eq!(got.json()["body_len"], 4);
    assert_eq!(
        up.seen().pop().expect("seen").version,
        http::Version::HTTP_2
    );
}

#[tokio::test]
async fn websocket_echo_through_the_proxy() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let up_addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let mut ws = tokio_tungstenite::accept_async(stream)
            .await
            .expect("handshake");
        while let Some(Ok(msg)) = ws.next().await {
            if msg.is_text() || msg.is_binary() {
                ws.send(msg).await.expect("echo");
            }
        }
    });
    let gw = Gw::to(up_addr, "").await;
    let (mut ws, resp) = tokio_tungstenite::connect_async(format!("ws://{}/chat", gw.addr))
        .await
        .expect("ws through levee");
    assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
    for i in 0..3 {
        ws.send(Message::text(format!("hello {i}")))
            .await
            .expect("send");
        let back = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("echo in time")
            .expect("msg")
            .expect("ok");
        assert_eq!(
            back.into_text().expect("text").as_str(),
            format!("hello {i}")
        );
    }
    ws.close(None).await.expect("close");
    server.abort();
}

#[tokio::test]
async fn expect_100_continue() {
    let up = Upstream::echo().await;
    let gw = Gw::to(up.addr, "").await;
    let mut s = TcpStream::connect(gw.addr).await.expect("connect");
    s.write_all(b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
        .await
        .expect("write head");
    let mut buf = vec![0u8; 25];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .expect("interim in time")
        .expect("read");
    let interim = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(
        interim.starts_with("HTTP/1.1 100 Continue"),
        "got {interim:?}"
    );
    s.write_all(b"hello").await.expect("write body");
    let mut rest = String::new();
    s.read_to_string(&mut rest).await.expect("read");
    assert!(
        rest.contains("200 OK") && rest.contains("\"body_len\":5"),
        "{rest}"
    );
}

#[tokio::test]
async fn expect_100_continue_is_refused_early_when_too_large() {
    let up = Upstream::echo().await;
    let gw = Gw::start(&format!("[[pools]]\nname = \"a\"\nendpoints = [\"{}\"]\n[[routes]]\npool = \"a\"\nmax_body_size = \"1KiB\"\n", up.addr)).await;
    let out = raw_exchange(
        gw.addr,
        b"POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        out.starts_with("HTTP/1.1 413"),
        "a final 413 instead of 100 Continue: {out}"
    );
    assert!(up.seen().is_empty(), "the upstream never saw it");
}
