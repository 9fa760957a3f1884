//! The open-loop generator against the sample upstream.

use levee_sim::load::{self, Failure, LoadPlan, Outcome, Schedule, Spacing, Stream};
use levee_sim::ms;
use levee_sim::report::Summary;
use levee_sim::upstream::Upstream;

#[tokio::test]
async fn under_capacity_every_request_succeeds_at_the_service_time() {
    let upstream = Upstream::builder()
        .workers(8)
        .service_time(ms(20))
        .start()
        .await
        .expect("bind");
    let plan = LoadPlan::new(upstream.addr())
        .stream(Stream::new(Schedule::constant(100.0, ms(1000))).spacing(Spacing::Uniform));
    let run = load::run(plan).await.expect("run");
    let s = Summary::of(&run, ms(500));
    assert_eq!((s.requests, s.success, s.goodput), (100, 100, 100));
    let p50 = s.p50_success_ms.expect("successes");
    assert!((20.0..60.0).contains(&p50), "p50 {p50}");
    assert_eq!(upstream.stats().served, 100);
    upstream.shutdown().await;
}

#[tokio::test]
async fn arrivals_do_not_wait_for_responses() {
    // 1 worker × 100 ms = 10 req/s, offered 50 req/s for 1 s, deadline 300 ms:
    // a closed-loop client would slow down; an open-loop one times out.
    let upstream = Upstream::builder()
        .workers(1)
        .service_time(ms(100))
        .start()
        .await
        .expect("bind");
    let plan = LoadPlan::new(upstream.addr())
        .deadline(ms(300))
        .stream(Stream::new(Schedule::constant(50.0, ms(1000))).spacing(Spacing::Uniform));
    let run = load::run(plan).await.expect("run");
    assert_eq!(run.records.len(), 50);
    assert!(
        run.count(Outcome::Timeout) >= 30,
        "{}",
        run.count(Outcome::Timeout)
    );
    assert!(run.records.last().expect("records").at >= ms(950));
    assert!(
        run.elapsed < ms(1000) + ms(300) + ms(200),
        "bounded by the deadline: {:?}",
        run.elapsed
    );
    upstream.shutdown().await;
}

#[tokio::test]
async fn streams_are_labelled_and_bounded() {
    let upstream = Upstream::builder().fast().start().await.expect("bind");
    let s = Schedule::constant(200.0, ms(500));
    let plan = LoadPlan::new(upstream.addr())
        .stream(
            Stream::new(s.scaled(10.0))
                .label("noisy")
                .tenant("noisy")
                .spacing(Spacing::Uniform),
        )
        .stream(
            Stream::new(s)
                .label("quiet")
                .tenant("quiet")
                .priority("critical")
                .spacing(Spacing::Uniform),
        )
        .max_requests(600);
    let run = load::run(plan).await.expect("run");
    assert_eq!(run.records.len(), 600);
    assert_eq!(run.labels, ["noisy", "quiet"]);
    let quiet = run.only("quiet").records.len();
    assert!(
        (40..=80).contains(&quiet),
        "about 1 in 11 of the first 600: {quiet}"
    );
    upstream.shutdown().await;
}

#[tokio::test]
async fn closed_loop_clients_send_one_request_after_another() {
    let upstream = Upstream::builder().unlimited().start().await.expect("bind");
    let plan = LoadPlan::new(upstream.addr())
        .stream(Stream::clients(4, 5).path("/ms/20").starting_at(ms(100)));
    let run = load::run(plan).await.expect("run");
    assert_eq!(run.count(Outcome::Success), 20);
    assert!(run.records.iter().all(|r| r.at >= ms(100)), "{run:?}");
    // Four at a time, never more: each client waits for its answer.
    assert_eq!(upstream.stats().peak_in_flight, 4);
    assert!(run.elapsed >= ms(100 + 5 * 20), "{:?}", run.elapsed);
    let last = run.records.last().expect("records").at;
    assert!(last >= ms(100 + 4 * 20), "the fifth round: {last:?}");
    upstream.shutdown().await;
}

#[tokio::test]
async fn too_few_connections_show_as_saturation_not_as_waiting() {
    let upstream = Upstream::builder()
        .workers(1)
        .service_time(ms(200))
        .start()
        .await
        .expect("bind");
    let plan = LoadPlan::new(upstream.addr())
        .max_connections(2)
        .stream(Stream::new(Schedule::constant(5000.0, ms(2))).spacing(Spacing::Uniform));
    let run = load::run(plan).await.expect("run");
    assert_eq!(run.count(Outcome::Failed(Failure::Saturated)), 8);
    assert_eq!(Summary::of(&run, ms(500)).saturated, 8);
    upstream.shutdown().await;
}

#[tokio::test]
async fn live_progress_adds_up() {
    let upstream = Upstream::builder().fast().start().await.expect("bind");
    let plan = LoadPlan::new(upstream.addr())
        .stream(Stream::new(Schedule::constant(400.0, ms(250))).spacing(Spacing::Uniform));
    let running = load::start(plan).expect("start");
    let run = loop {
        let p = running.progress();
        assert!(p.success + p.shed + p.timeouts + p.other <= p.sent);
        if running.is_finished() {
            break running.wait().await.expect("run");
        }
        tokio::time::sleep(ms(50)).await;
    };
    assert_eq!(run.count(Outcome::Success), 100);
    upstream.shutdown().await;
}
