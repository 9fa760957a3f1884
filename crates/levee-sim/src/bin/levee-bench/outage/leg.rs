//! One leg of the outage benchmark: fresh sample upstreams, one gateway in
//! front of them, open-loop load through it while upstreams crash and come
//! back on a timeline, and the upstreams' served counts sampled meanwhile.
//!
//! It runs legs and records what happened ([`Trace`]); the figures are
//! `figures.rs`'s, the choice of legs `scenarios.rs`'s.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use levee_sim::load::{self, LoadPlan, Schedule, Stream};
use levee_sim::upstream::{Upstream, UpstreamHandle};
use tokio::sync::watch;
use tokio::time::Instant;

use super::figures::{Action, Trace};
use super::gateways::{self, Gateway, Layout, Programs};

/// How often the upstreams' served counts are read.
const SAMPLE_EVERY: Duration = Duration::from_millis(50);

/// The fixed parts of every leg.
#[derive(Clone, Debug)]
pub(crate) struct Setup {
    pub(crate) programs: Programs,
    /// Workers of each sample upstream.
    pub(crate) workers: usize,
    pub(crate) service_time: Duration,
    pub(crate) service_jitter: f64,
    /// Requests per second offered.
    pub(crate) rate: f64,
    /// The client deadline.
    pub(crate) deadline: Duration,
}

/// What one leg does.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub(crate) layout: Layout,
    /// How long load is offered.
    pub(crate) span: Duration,
    /// (offset from the start of the load, upstream index, action), in
    /// time order.
    pub(crate) timeline: Vec<(Duration, usize, Action)>,
    pub(crate) seed: u64,
}

/// The outcome of one leg, and the gateway's output (its log).
#[derive(Debug)]
pub(crate) struct Leg {
    pub(crate) trace: Trace,
    pub(crate) output: String,
}

/// Runs one leg of `plan` through `gateway`.
pub(crate) async fn run(setup: &Setup, gateway: Gateway, plan: &Plan) -> anyhow::Result<Leg> {
    let mut upstreams = Vec::new();
    for _ in 0..plan.layout.upstreams() {
        let upstream = Upstream::builder()
            .workers(setup.workers)
            .service_time(setup.service_time)
            .service_jitter(setup.service_jitter)
            .start()
            .await
            .context("starting a sample upstream")?;
        upstreams.push(upstream);
    }
    let addrs: Vec<_> = upstreams.iter().map(UpstreamHandle::addr).collect();
    let upstreams = Arc::new(upstreams);
    let running = gateways::start(gateway, &setup.programs, plan.layout, &addrs)
        .await
        .with_context(|| format!("starting {}", gateway.label()))?;

    let load = LoadPlan::new(running.addr)
        .deadline(setup.deadline)
        .seed(plan.seed)
        .max_requests(200_000)
        .max_duration(plan.span)
        .stream(Stream::new(Schedule::constant(setup.rate, plan.span)));
    // The timeline counts from here; `load::start` reads the clock right
    // after, so the two agree to within microseconds.
    let t0 = Instant::now();
    let load = load::start(load).context("starting the load")?;

    let (stop, stopped) = watch::channel(false);
    let sampler = tokio::spawn(sample(Arc::clone(&upstreams), t0, stopped));
    let actor = tokio::spawn(act(Arc::clone(&upstreams), t0, plan.timeline.clone()));
    let run = load.wait().await.context("running the load");
    stop.send_replace(true);
    let samples = sampler.await.unwrap_or_default();
    let events = actor.await.context("the timeline task")??;
    let output = running.output();
    running.stop().await;
    if let Ok(upstreams) = Arc::try_unwrap(upstreams) {
        for upstream in upstreams {
            upstream.shutdown().await;
        }
    }
    Ok(Leg {
        trace: Trace {
            run: run?,
            samples,
            events,
        },
        output,
    })
}

/// Reads every upstream's served count every [`SAMPLE_EVERY`] until `stop`.
async fn sample(
    upstreams: Arc<Vec<UpstreamHandle>>,
    t0: Instant,
    mut stop: watch::Receiver<bool>,
) -> Vec<(Duration, Vec<u64>)> {
    let mut samples = Vec::new();
    let mut tick = tokio::time::interval_at(t0, SAMPLE_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        let served = upstreams.iter().map(|u| u.stats().served).collect();
        samples.push((t0.elapsed(), served));
    }
    let served = upstreams.iter().map(|u| u.stats().served).collect();
    samples.push((t0.elapsed(), served));
    samples
}

/// Crashes and restarts upstreams on `timeline`; returns when each action
/// took effect (a crash complete, the listener back).
async fn act(
    upstreams: Arc<Vec<UpstreamHandle>>,
    t0: Instant,
    timeline: Vec<(Duration, usize, Action)>,
) -> anyhow::Result<Vec<(Duration, usize, Action)>> {
    let mut done = Vec::with_capacity(timeline.len());
    for (at, index, action) in timeline {
        tokio::time::sleep_until(t0 + at).await;
        let upstream = upstreams.get(index).context("no such upstream")?;
        match action {
            Action::Kill => upstream.crash().await,
            Action::Restart => upstream
                .restart()
                .await
                .with_context(|| format!("restarting upstream {index}"))?,
        }
        done.push((t0.elapsed(), index, action));
    }
    Ok(done)
}
