//! What keeps a fleet safe: idempotency rules, the budget and the breaker.

use std::time::Duration;

use http::Method;
use levee_client::{GiveUp, IdempotencyKeys, Retrier, RetryPolicy};
use levee_policy::breaker::BreakerConfig;
use levee_policy::budget::TpsBudgetConfig;

use crate::retries::policy;
use crate::support::client::Harness;
use crate::support::{Reply, Server, refusing_addr};

#[tokio::test(start_paused = true)]
async fn post_without_a_key_is_not_repeated_after_the_server_saw_it() {
    let server = Server::start(vec![Reply::unavailable(1, "req_p"), Reply::ok("ok")]).await;
    let mut h = Harness::new(Retrier::builder().policy(policy()));
    let err = h
        .send(Method::POST, &server.url("/pay"), &[])
        .await
        .expect_err("not retried");
    assert_eq!(server.hits(), 1);
    assert_eq!(
        err.gave_up,
        GiveUp::NotIdempotent {
            method: Method::POST
        }
    );
}

#[tokio::test(start_paused = true)]
async fn post_with_a_key_is_repeated_with_the_same_key() {
    let server = Server::start(vec![Reply::Reset, Reply::ok("ok")]).await;
    let mut h = Harness::new(Retrier::builder().policy(policy()));
    h.send(
        Method::POST,
        &server.url("/pay"),
        &[("idempotency-key", "k-1")],
    )
    .await
    .expect("retried");
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert!(
        seen.iter()
            .all(|s| s.headers["idempotency-key"] == "k-1" && s.body == "payload")
    );
}

#[tokio::test(start_paused = true)]
async fn automatic_keys_are_added_once_and_reused() {
    let server = Server::start(vec![Reply::status(502), Reply::ok("ok")]).await;
    let mut h = Harness::new(Retrier::builder().policy(RetryPolicy {
        idempotency_keys: IdempotencyKeys::Auto,
        ..policy()
    }));
    h.send(Method::POST, &server.url("/pay"), &[])
        .await
        .expect("retried");
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    let key = &seen[0].headers["idempotency-key"];
    assert_eq!(key.len(), 36);
    assert_eq!(&seen[1].headers["idempotency-key"], key);
}

#[tokio::test(start_paused = true)]
async fn post_to_a_refusing_port_is_retried_because_it_never_left() {
    let dead = refusing_addr().await;
    let server = Server::start(vec![Reply::ok("ok")]).await;
    let mut h = Harness::new(
        Retrier::builder()
            .policy(policy())
            .endpoints([format!("http://{dead}"), server.base()]),
    );
    h.send(Method::POST, &format!("http://{dead}/pay"), &[])
        .await
        .expect("failed over");
    assert_eq!(server.hits(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_empty_budget_stops_retries() {
    let server = Server::start(vec![Reply::status(503)]).await;
    let mut h = Harness::new(Retrier::builder().policy(policy()).budget(TpsBudgetConfig {
        ttl: Duration::from_secs(10),
        min_per_sec: 0,
        retry_ratio: 0.5,
    }));
    // Each request deposits half a retry: the first cannot retry, the second can.
    let first = h.get(&server.url("/")).await.expect_err("fails");
    assert_eq!(first.gave_up, GiveUp::BudgetExhausted);
    assert_eq!(server.hits(), 1);
    let second = h.get(&server.url("/")).await.expect_err("fails");
    assert_eq!(server.hits(), 3, "one retry's worth after two requests");
    assert_eq!(second.gave_up, GiveUp::BudgetExhausted);
}

#[tokio::test(start_paused = true)]
async fn the_budget_refills_as_requests_succeed_again() {
    let server = Server::start(vec![
        Reply::status(503),
        Reply::status(503),
        Reply::ok("ok"),
    ])
    .await;
    let mut h = Harness::new(Retrier::builder().policy(policy()).budget(TpsBudgetConfig {
        ttl: Duration::from_secs(1),
        min_per_sec: 1,
        retry_ratio: 0.0,
    }));
    // The floor is one retry per second: spent on the first request.
    let err = h
        .get(&server.url("/"))
        .await
        .expect_err("second 503, budget spent");
    assert_eq!(err.gave_up, GiveUp::BudgetExhausted);
    tokio::time::sleep(Duration::from_secs(2)).await;
    h.get(&server.url("/")).await.expect("ok");
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_fails_fast_without_touching_the_server() {
    let server = Server::start(vec![Reply::status(503)]).await;
    let mut h = Harness::new(
        Retrier::builder()
            .policy(RetryPolicy {
                max_attempts: 2,
                ..policy()
            })
            .breaker(BreakerConfig {
                consecutive_failures: 2,
                ..BreakerConfig::default()
            }),
    );
    let _ = h.get(&server.url("/")).await.expect_err("two 503s");
    assert_eq!(server.hits(), 2);
    let err = h.get(&server.url("/")).await.expect_err("breaker open");
    assert_eq!(server.hits(), 2, "not sent");
    assert!(
        matches!(err.gave_up, GiveUp::BreakerOpen { retry_in, .. } if retry_in <= Duration::from_secs(5))
    );
    assert!(err.to_string().contains("circuit open"), "{err}");
}
