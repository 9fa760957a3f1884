//! Failover between endpoints (regions): order, refused connections, health.

use levee_client::{FailoverOrder, Retrier, RetryPolicy};

use crate::retries::policy;
use crate::support::client::Harness;
use crate::support::{Reply, Server, refusing_addr};

#[tokio::test(start_paused = true)]
async fn a_refused_primary_fails_over_at_once_with_the_same_path() {
    let dead = refusing_addr().await;
    let backup = Server::start(vec![Reply::ok("from backup")]).await;
    let mut h = Harness::new(Retrier::builder().policy(policy()).endpoints([
        format!("http://{dead}"),
        format!("{}/mirror", backup.base()),
    ]));
    h.get(&format!("http://{dead}/v1/items?page=2"))
        .await
        .expect("backup answers");
    assert_eq!(backup.seen()[0].path, "/mirror/v1/items?page=2");
    assert_eq!(
        h.lines(),
        [format!(
            "could not connect to http://{dead} — failing over to {}/mirror, attempt 2/5",
            backup.base()
        )]
    );
}

#[tokio::test(start_paused = true)]
async fn a_503_region_is_left_for_the_next_while_it_waits() {
    let eu = Server::start(vec![Reply::unavailable(30, "req_eu")]).await;
    let us = Server::start(vec![Reply::ok("us")]).await;
    let mut h = Harness::new(
        Retrier::builder()
            .policy(policy())
            .endpoints([eu.base(), us.base()]),
    );
    let started = tokio::time::Instant::now();
    h.get(&eu.url("/x")).await.expect("us answers");
    assert!(
        started.elapsed().as_millis() < 100,
        "no 30 s wait when another region is free"
    );
    assert_eq!((eu.hits(), us.hits()), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn everything_refused_is_a_network_error_after_all_attempts() {
    let a = refusing_addr().await;
    let b = refusing_addr().await;
    let mut h = Harness::new(
        Retrier::builder()
            .policy(RetryPolicy {
                max_attempts: 4,
                ..policy()
            })
            .endpoints([format!("http://{a}"), format!("http://{b}")]),
    );
    let err = h
        .get(&format!("http://{a}/"))
        .await
        .expect_err("nothing listens");
    assert!(err.is_network());
    let order: Vec<String> = err
        .summary
        .attempts
        .iter()
        .map(|r| r.endpoint.clone())
        .collect();
    // Primary, then the backup at once; after that whichever is free soonest.
    assert_eq!(order.len(), 4);
    assert_eq!(order[..2], [format!("http://{a}"), format!("http://{b}")]);
}

#[tokio::test(start_paused = true)]
async fn by_health_prefers_the_region_that_has_been_working() {
    let sick = Server::start(vec![Reply::status(502)]).await;
    let well = Server::start(vec![Reply::ok("ok")]).await;
    let mut h = Harness::new(
        Retrier::builder()
            .policy(RetryPolicy {
                failover: FailoverOrder::ByHealth,
                ..policy()
            })
            .endpoints([sick.base(), well.base()]),
    );
    for _ in 0..3 {
        h.get(&sick.url("/"))
            .await
            .expect("the well region answers");
    }
    // The first request tried the sick region first; later ones go straight to the well one.
    assert_eq!(sick.hits(), 1);
    assert_eq!(well.hits(), 3);
}
