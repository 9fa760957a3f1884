//! The sample upstream, driven by the load generator over real sockets.

use std::time::Duration;

use levee_sim::load::{self, Failure, LoadPlan, Outcome, Schedule, Spacing, Stream};
use levee_sim::ms;
use levee_sim::upstream::{Fault, Upstream};

/// `n` requests sent at once (within a millisecond), 2 s deadline.
fn burst(upstream: &levee_sim::upstream::UpstreamHandle, n: usize) -> LoadPlan {
    let schedule = Schedule::constant(n as f64 * 1000.0, ms(1));
    LoadPlan::new(upstream.addr())
        .deadline(ms(2000))
        .stream(Stream::new(schedule).spacing(Spacing::Uniform))
}

#[tokio::test]
async fn requests_beyond_the_workers_wait_for_one() {
    let upstream = Upstream::builder()
        .workers(4)
        .service_time(ms(50))
        .start()
        .await
        .expect("bind");
    assert_eq!(upstream.capacity(), Some(80.0));
    let run = load::run(burst(&upstream, 12)).await.expect("run");
    assert_eq!(run.count(Outcome::Success), 12);
    let mut latencies: Vec<Duration> = run.records.iter().map(|r| r.latency).collect();
    latencies.sort();
    // Three waves of four: ~50, ~100, ~150 ms.
    assert!(latencies[0] >= ms(50), "{latencies:?}");
    assert!(latencies[11] >= ms(150), "{latencies:?}");
    let stats = upstream.stats();
    assert_eq!(
        (stats.served, stats.received, stats.peak_waiting),
        (12, 12, 8)
    );
    upstream.shutdown().await;
}

#[tokio::test]
async fn a_client_that_gives_up_still_costs_a_worker() {
    let upstream = Upstream::builder()
        .workers(1)
        .service_time(ms(100))
        .start()
        .await
        .expect("bind");
    let plan = burst(&upstream, 3).deadline(ms(150));
    let run = load::run(plan).await.expect("run");
    assert_eq!(run.count(Outcome::Success), 1);
    assert_eq!(run.count(Outcome::Timeout), 2);
    // The abandoned requests are still served, one after the other.
    let served = tokio::time::timeout(Duration::from_secs(5), async {
        while upstream.stats().abandoned < 2 {
            tokio::time::sleep(ms(20)).await;
        }
    });
    served.await.expect("the backlog drains within 5 s");
    upstream.shutdown().await;
}

#[tokio::test]
async fn service_time_and_workers_change_while_running() {
    let upstream = Upstream::builder()
        .workers(2)
        .service_time(ms(10))
        .start()
        .await
        .expect("bind");
    upstream.set_service_time(ms(80));
    upstream.set_workers(4);
    assert_eq!(
        (upstream.service_time(), upstream.workers()),
        (ms(80), Some(4))
    );
    let run = load::run(burst(&upstream, 4)).await.expect("run");
    assert_eq!(run.count(Outcome::Success), 4);
    assert!(
        run.records
            .iter()
            .all(|r| r.latency >= ms(80) && r.latency < ms(160)),
        "{run:?}"
    );
    upstream.shutdown().await;
}

#[tokio::test]
async fn unavailable_answers_503_with_retry_after_without_a_worker() {
    let fault = Fault::Unavailable { retry_after: 7 };
    let upstream = Upstream::builder()
        .workers(1)
        .service_time(ms(500))
        .fault(fault)
        .start()
        .await
        .expect("bind");
    let run = load::run(burst(&upstream, 5)).await.expect("run");
    assert_eq!(run.count(Outcome::Unavailable), 5);
    assert!(
        run.records
            .iter()
            .all(|r| r.retry_after == Some(7) && r.latency < ms(400))
    );
    assert_eq!(upstream.stats().unavailable, 5);
    upstream.shutdown().await;
}

#[tokio::test]
async fn refuse_closes_the_listener_until_lifted() {
    let upstream = Upstream::builder()
        .fault(Fault::Refuse)
        .start()
        .await
        .expect("bind");
    let run = load::run(burst(&upstream, 2)).await.expect("run");
    assert_eq!(run.count(Outcome::Failed(Failure::Connect)), 2, "{run:?}");
    upstream.set_fault(Fault::None);
    // The listener is bound again by the accept loop: wait for it, bounded.
    let back = tokio::time::timeout(Duration::from_secs(5), async {
        while tokio::net::TcpStream::connect(upstream.addr())
            .await
            .is_err()
        {
            tokio::task::yield_now().await;
        }
    });
    back.await.expect("the listener comes back");
    let run = load::run(burst(&upstream, 2)).await.expect("run");
    assert_eq!(run.count(Outcome::Success), 2);
    upstream.shutdown().await;
}

#[tokio::test]
async fn a_crash_drops_open_connections_and_restart_serves_on_the_same_port() {
    let upstream = Upstream::builder()
        .service_time(ms(2_000))
        .start()
        .await
        .expect("bind");
    let addr = upstream.addr();
    // Two requests held by their workers when the server crashes: cut, not answered.
    let plan = LoadPlan::new(addr)
        .deadline(ms(5_000))
        .stream(Stream::new(Schedule::constant(1_000.0, ms(2))).spacing(Spacing::Uniform));
    let held = load::start(plan).expect("start");
    while upstream.stats().in_flight < 2 {
        tokio::time::sleep(ms(5)).await;
    }
    upstream.crash().await;
    let run = tokio::time::timeout(Duration::from_secs(1), held.wait())
        .await
        .expect("cut at once, long before the service time")
        .expect("run");
    assert_eq!(run.count(Outcome::Failed(Failure::Io)), 2, "{run:?}");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());

    upstream.set_service_time(ms(1));
    upstream.restart().await.expect("the port is free");
    assert_eq!(upstream.addr(), addr);
    let run = load::run(burst(&upstream, 2)).await.expect("run");
    assert_eq!(run.count(Outcome::Success), 2, "{run:?}");
    upstream.shutdown().await;
}

#[tokio::test]
async fn slow_and_reset_faults_show_to_the_client() {
    let upstream = Upstream::builder()
        .service_time(ms(1))
        .start()
        .await
        .expect("bind");
    upstream.set_fault(Fault::Slow { delay: ms(200) });
    let run = load::run(burst(&upstream, 2)).await.expect("run");
    assert!(
        run.records
            .iter()
            .all(|r| r.outcome == Outcome::Success && r.latency >= ms(200))
    );
    upstream.set_fault(Fault::Reset);
    let run = load::run(burst(&upstream, 3)).await.expect("run");
    assert_eq!(run.count(Outcome::Failed(Failure::Io)), 3, "{run:?}");
    assert_eq!(upstream.stats().reset, 3);
    upstream.shutdown().await;
}

#[tokio::test]
async fn fast_mode_answers_at_once() {
    let upstream = Upstream::builder().fast().start().await.expect("bind");
    assert_eq!((upstream.capacity(), upstream.workers()), (None, None));
    let run = load::run(burst(&upstream, 50)).await.expect("run");
    assert_eq!(run.count(Outcome::Success), 50);
    upstream.shutdown().await;
}

#[tokio::test]
async fn an_unlimited_upstream_answers_each_request_in_its_own_time() {
    let upstream = Upstream::builder().unlimited().start().await.expect("bind");
    assert_eq!((upstream.capacity(), upstream.workers()), (None, None));
    // 100 requests at once asking for 100 ms each, beside an event stream
    // of one event: no waves, and the stream ends a second later.
    let at_once = Schedule::constant(100_000.0, ms(1));
    let plan = LoadPlan::new(upstream.addr())
        .deadline(ms(2000))
        .stream(
            Stream::new(at_once)
                .spacing(Spacing::Uniform)
                .path("/any/ms/100"),
        )
        .stream(
            Stream::clients(1, 1)
                .path("/events/sse/1")
                .label("events")
                .deadline(ms(5000)),
        )
        .stream(Stream::clients(1, 1).path("/").label("now"));
    let run = load::run(plan).await.expect("run");
    assert_eq!(run.count(Outcome::Success), 102, "{run:?}");
    let short = run.only("all");
    assert!(
        short
            .records
            .iter()
            .all(|r| r.latency >= ms(100) && r.latency < ms(600)),
        "{short:?}"
    );
    let events = run.only("events").records[0].latency;
    assert!((ms(1000)..ms(1900)).contains(&events), "{events:?}");
    assert!(run.only("now").records[0].latency < ms(100));
    let stats = upstream.stats();
    assert_eq!(
        (stats.received, stats.served, stats.in_flight),
        (102, 102, 0)
    );
    assert!(stats.peak_in_flight >= 50, "taken at once: {stats:?}");
    upstream.shutdown().await;
}

#[tokio::test]
async fn only_loopback_is_allowed() {
    let far = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
    assert!(Upstream::builder().addr(far).start().await.is_err());
}
