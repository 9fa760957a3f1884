//! Classification and Retry-After: which answers are retried, and when.

use std::time::Duration;

use levee_client::{Backoff, GiveUp, Jitter, Retrier, RetryPolicy};
use tokio::time::Instant;

use crate::support::client::Harness;
use crate::support::{Reply, Server};

/// Paused-time friendly: no per-try timer racing the sockets.
pub fn policy() -> RetryPolicy {
    RetryPolicy {
        per_try_timeout: None,
        backoff: Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            jitter: Jitter::Full,
        },
        ..RetryPolicy::default()
    }
}

#[tokio::test(start_paused = true)]
async fn waits_as_long_as_retry_after_says_then_succeeds() {
    let server = Server::start(vec![Reply::unavailable(3, "req_1"), Reply::ok("hello")]).await;
    let mut h = Harness::new(Retrier::builder().policy(policy()));
    let started = Instant::now();
    let resp = h
        .get(&server.url("/x"))
        .await
        .expect("success after one retry");
    let waited = started.elapsed();
    assert_eq!(resp.status(), 200);
    assert_eq!(server.hits(), 2);
    assert!(
        waited >= Duration::from_secs(3),
        "never sooner than asked: {waited:?}"
    );
    assert!(
        waited <= Duration::from_millis(3300),
        "at most 10% spread: {waited:?}"
    );
    assert_eq!(
        h.lines(),
        [
            "503 Service Unavailable — server asks to retry in 3 s (request id req_1) — waiting, attempt 2/5"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn http_date_retry_after_is_corrected_by_the_server_date() {
    // The server's clock says 1994; our clock says otherwise. The wait is the
    // 10 s between the two server-clock instants, in the obsolete asctime form.
    let server = Server::start(vec![
        Reply::status(503)
            .header("date", "Sun, 06 Nov 1994 08:49:37 GMT")
            .header("retry-after", "Sun Nov  6 08:49:47 1994"),
        Reply::ok("ok"),
    ])
    .await;
    let mut h = Harness::new(Retrier::builder().policy(policy()));
    let started = Instant::now();
    h.get(&server.url("/")).await.expect("success");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(10) && waited <= Duration::from_secs(11),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_beyond_max_wait_gives_up_at_once_with_the_problem() {
    let server = Server::start(vec![Reply::unavailable(3600, "req_long")]).await;
    let mut h = Harness::new(Retrier::builder().policy(policy()));
    let started = Instant::now();
    let err = h.get(&server.url("/")).await.expect_err("gives up");
    assert!(started.elapsed() < Duration::from_secs(1), "did not sleep");
    assert_eq!(server.hits(), 1);
    assert_eq!(
        err.gave_up,
        GiveUp::RetryAfterTooLong {
            asked: Some(Duration::from_secs(3600)),
            max_wait: Duration::from_secs(60)
        }
    );
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(err.request_id.as_deref(), Some("req_long"));
    let problem = err.problem().expect("problem parsed");
    assert_eq!(problem.reason.as_deref(), Some("overloaded"));
}

#[tokio::test(start_paused = true)]
async fn never_retries_other_4xx_nor_500() {
    for status in [400, 401, 404, 409, 500] {
        let server = Server::start(vec![Reply::status(status)]).await;
        let mut h = Harness::new(Retrier::builder().policy(policy()));
        let err = h.get(&server.url("/")).await.expect_err("error status");
        assert_eq!(server.hits(), 1, "{status} must not be retried");
        assert_eq!(err.gave_up, GiveUp::NotRetryable);
    }
}

#[tokio::test(start_paused = true)]
async fn retries_each_temporary_status_until_attempts_run_out() {
    for status in [408, 429, 502, 503, 504] {
        let server =
            Server::start(vec![Reply::status(status).header("x-request-id", "req_x")]).await;
        let mut h = Harness::new(Retrier::builder().policy(RetryPolicy {
            max_attempts: 3,
            ..policy()
        }));
        let err = h.get(&server.url("/")).await.expect_err("keeps failing");
        assert_eq!(server.hits(), 3, "{status}");
        assert_eq!(err.gave_up, GiveUp::AttemptsExhausted { max_attempts: 3 });
        assert_eq!(err.attempts(), 3);
        assert_eq!(err.request_id.as_deref(), Some("req_x"));
        assert!(
            err.waited() <= Duration::from_millis(300),
            "backoff ceilings 100 + 200 ms"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn the_envelope_body_gives_the_request_id() {
    let server = Server::start(vec![Reply::status(503).body(
        r#"{"meta":{"requestId":"req_env"},"error":{"type":"https://x/problems/maintenance","title":"Maintenance","status":503,"detail":"back soon"}}"#,
    )])
    .await;
    let mut h = Harness::new(Retrier::builder().policy(RetryPolicy {
        max_attempts: 2,
        ..policy()
    }));
    let err = h.get(&server.url("/")).await.expect_err("fails");
    assert_eq!(err.request_id.as_deref(), Some("req_env"));
    assert_eq!(
        err.problem().and_then(|p| p.detail.as_deref()),
        Some("back soon")
    );
    assert!(
        h.lines()[0].contains("(request id req_env)"),
        "{:?}",
        h.lines()
    );
}

#[tokio::test(start_paused = true)]
async fn a_reset_before_the_response_is_retried_for_get() {
    let server = Server::start(vec![Reply::Reset, Reply::ok("ok")]).await;
    let mut h = Harness::new(Retrier::builder().policy(policy()));
    h.get(&server.url("/")).await.expect("second attempt works");
    assert_eq!(server.hits(), 2);
}
