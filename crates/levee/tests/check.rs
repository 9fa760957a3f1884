//! `levee check` against real servers on loopback: the report and exit codes.

use crate::fetch::{Scripted, levee, reply, unavailable};

#[tokio::test]
async fn a_contract_keeping_503_passes() {
    let server = Scripted::start(vec![unavailable("30", "req_c")]).await;
    let out = levee(&["check", &server.url("/")]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("PASS  Retry-After: 30 (delay-seconds)"),
        "{text}"
    );
    assert!(
        text.contains("PASS  request id req_c in X-Request-Id and the body"),
        "{text}"
    );
    assert!(text.contains("meets the 503 contract"), "{text}");
    assert_eq!(out.status.code(), Some(0));
}

#[tokio::test]
async fn a_bare_503_falls_short_with_exit_1() {
    let server = Scripted::start(vec![reply(
        "503 Service Unavailable",
        &[("content-type", "text/html")],
        "<h1>down</h1>",
    )])
    .await;
    let out = levee(&["check", &server.url("/")]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("FAIL  Retry-After missing"), "{text}");
    assert!(
        text.contains("FAIL  Cache-Control should be no-store"),
        "{text}"
    );
    assert!(text.contains("FAIL  no request id"), "{text}");
    assert_eq!(out.status.code(), Some(1));
}
