//! `levee fetch` against real servers on loopback: narration, diagnosis,
//! exit codes.

use std::net::SocketAddr;
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A loopback server that answers the n-th request with `replies[n]` (the
/// last repeats), raw HTTP/1.1 with `Connection: close`.
pub(crate) struct Scripted {
    pub(crate) addr: SocketAddr,
    pub(crate) hits: Arc<AtomicUsize>,
}

impl Scripted {
    pub(crate) async fn start(replies: Vec<String>) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let reply = replies[n.min(replies.len() - 1)].clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    let mut got = Vec::new();
                    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(k) => got.extend_from_slice(&buf[..k]),
                        }
                    }
                    let _ = stream.write_all(reply.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Scripted { addr, hits }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// A raw HTTP/1.1 response.
pub(crate) fn reply(status: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut s = format!(
        "HTTP/1.1 {status}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        s.push_str(&format!("{k}: {v}\r\n"));
    }
    s.push_str("\r\n");
    s.push_str(body);
    s
}

/// A Levee-style 503 problem with `Retry-After: 0`… no: 1 s is the contract
/// minimum; tests that must be fast use `retry_after = "0"` explicitly.
pub(crate) fn unavailable(retry_after: &str, request_id: &str) -> String {
    let body = format!(
        r#"{{"type":"https://gw.example/_levee/problems/maintenance","title":"Down for maintenance","status":503,"detail":"back at 10:00","request_id":"{request_id}","reason":"maintenance","status_page":"https://status.example"}}"#
    );
    reply(
        "503 Service Unavailable",
        &[
            ("retry-after", retry_after),
            ("x-request-id", request_id),
            ("cache-control", "no-store"),
            ("content-type", "application/problem+json"),
        ],
        &body,
    )
}

pub(crate) async fn levee(args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_levee"))
        .args(args)
        .output()
        .await
        .expect("run levee")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test]
async fn retries_a_503_then_prints_the_body() {
    let server = Scripted::start(vec![
        unavailable("0", "req_1"),
        reply("200 OK", &[], "hello\n"),
    ])
    .await;
    let out = levee(&["fetch", &server.url("/x")]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");
    assert_eq!(
        stderr(&out),
        "levee: 503 Service Unavailable — server asks to retry in 0 ms (request id req_1) — waiting, attempt 2/5\n"
    );
    assert_eq!(server.hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn gives_up_with_a_diagnosis_and_exit_1() {
    let server = Scripted::start(vec![unavailable("0", "req_9")]).await;
    let url = server.url("/orders");
    let out = levee(&["fetch", "--max-attempts", "2", &url]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out).replace(&url, "URL");
    let expected = "\
levee: 503 Service Unavailable — server asks to retry in 0 ms (request id req_9) — waiting, attempt 2/2
levee: gave up on GET URL after 2 attempts: all 2 attempts used
  what it means: 503 Service Unavailable: The server cannot handle the request right now (overload or maintenance) and expects to recover; Retry-After says when. The server says: \"back at 10:00\".
  whose side:    the server's — nothing is wrong with your request
  likely causes:
    - A scheduled or emergency maintenance window covers this request.
  what to do:
    - Wait for the window to end (Retry-After says when) and check the status page.
  request id:    req_9 (quote it to the service's support)
  status page:   https://status.example
";
    assert_eq!(err, expected);
}

#[tokio::test]
async fn a_404_is_not_retried() {
    let server = Scripted::start(vec![reply(
        "404 Not Found",
        &[("x-request-id", "req_4")],
        "",
    )])
    .await;
    let out = levee(&["fetch", &server.url("/nope")]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);
    assert!(
        stderr(&out).contains("whose side:    yours"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn a_refused_port_is_exit_3_and_fallback_saves_it() {
    let dead = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let dead_addr = dead.local_addr().expect("addr");
    drop(dead);
    let out = levee(&[
        "fetch",
        "-s",
        "--max-attempts",
        "2",
        &format!("http://{dead_addr}/x"),
    ])
    .await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));

    let backup = Scripted::start(vec![reply("200 OK", &[], "from backup")]).await;
    let out = levee(&[
        "fetch",
        &format!("http://{dead_addr}/x"),
        "--fallback",
        &format!("http://{}", backup.addr),
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "from backup");
}

#[tokio::test]
async fn a_post_is_retried_only_with_an_idempotency_key() {
    let server = Scripted::start(vec![
        unavailable("0", "req_p"),
        reply("201 Created", &[], "ok"),
    ])
    .await;
    let out = levee(&["fetch", "-d", "a=1", &server.url("/pay")]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("POST is not idempotent"),
        "{}",
        stderr(&out)
    );

    let server = Scripted::start(vec![
        unavailable("0", "req_p"),
        reply("201 Created", &[], "ok"),
    ])
    .await;
    let out = levee(&[
        "fetch",
        "-d",
        "a=1",
        "--idempotency-key",
        "auto",
        &server.url("/pay"),
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[tokio::test]
async fn usage_errors_are_exit_2() {
    let out = levee(&[
        "fetch",
        "--data-binary",
        "@/nonexistent/file",
        "http://127.0.0.1:9/",
    ])
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("levee: cannot read"),
        "{}",
        stderr(&out)
    );
    let out = levee(&["fetch", "-H", "no-colon", "http://127.0.0.1:9/"]).await;
    assert_eq!(out.status.code(), Some(2));
}
