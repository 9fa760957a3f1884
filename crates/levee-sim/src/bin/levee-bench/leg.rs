//! One benchmark leg: a fresh sample upstream, one peer in front of it, one
//! bounded open-loop run through it, and (for Levee) the limit sampled.
//!
//! A fresh upstream per leg keeps one leg's backlog out of the next. This
//! file only runs legs; the scenarios decide which.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use levee_sim::load::{self, LoadPlan, Run, Stream};
use levee_sim::upstream::Upstream;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::limit;
use crate::peers::{self, Peer, Programs};

/// The fixed parts of every leg.
#[derive(Clone, Debug)]
pub(crate) struct Setup {
    pub(crate) programs: Programs,
    pub(crate) workers: usize,
    pub(crate) service_time: Duration,
    /// Each service time varies uniformly within ± this fraction of it.
    pub(crate) service_jitter: f64,
    pub(crate) deadline: Duration,
    /// How often Levee's limit is read from its `/metrics` during a leg.
    pub(crate) limit_every: Duration,
}

impl Setup {
    /// Requests per second the upstream can serve.
    pub(crate) fn capacity(&self) -> f64 {
        self.workers as f64 / self.service_time.as_secs_f64()
    }
}

/// What to send in one leg, and an optional change of the upstream during it.
#[derive(Clone, Debug)]
pub(crate) struct LegPlan {
    pub(crate) streams: Vec<Stream>,
    pub(crate) seed: u64,
    /// At this offset, the upstream changes so.
    pub(crate) change: Option<(Duration, Shift)>,
}

/// A change of the upstream's capacity in the middle of a leg.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Shift {
    /// Every request takes this long from now on (the same workers).
    ServiceTime(Duration),
    /// This many workers from now on (the same service time), as when some
    /// of a pool's instances go away.
    Workers(usize),
}

/// The outcome of one leg.
#[derive(Clone, Debug)]
pub(crate) struct LegResult {
    pub(crate) run: Run,
    /// Levee's limit over time (seconds, limit); empty for other peers.
    pub(crate) limit: Vec<(f64, f64)>,
    /// Levee's `/metrics` page at the end of the leg (sheds by cause, queue
    /// times), for diagnosis; `None` for other peers.
    pub(crate) metrics: Option<String>,
}

/// Runs one leg through `peer`.
pub(crate) async fn run(setup: &Setup, peer: Peer, plan: LegPlan) -> anyhow::Result<LegResult> {
    let upstream = Arc::new(
        Upstream::builder()
            .workers(setup.workers)
            .service_time(setup.service_time)
            .service_jitter(setup.service_jitter)
            .start()
            .await
            .context("starting the sample upstream")?,
    );
    let running = peers::start(peer, &setup.programs, upstream.addr(), setup.workers).await?;
    let in_flight: f64 = plan
        .streams
        .iter()
        .map(|s| s.peak_in_flight(setup.deadline))
        .sum();
    let mut load_plan = LoadPlan::new(running.addr)
        .deadline(setup.deadline)
        .max_connections((in_flight * 1.5) as usize + 256)
        .seed(plan.seed);
    for stream in plan.streams {
        load_plan = load_plan.stream(stream);
    }

    let start = Instant::now();
    let (stop, stopped) = watch::channel(false);
    let sampler = running
        .admin
        .map(|admin| tokio::spawn(limit::sample(admin, start, setup.limit_every, stopped)));
    let changer = plan.change.map(|(at, shift)| {
        let upstream = Arc::clone(&upstream);
        tokio::spawn(async move {
            tokio::time::sleep_until(start + at).await;
            match shift {
                Shift::ServiceTime(t) => upstream.set_service_time(t),
                Shift::Workers(n) => upstream.set_workers(n),
            }
        })
    });
    let result = load::run(load_plan).await.context("running the load");
    stop.send_replace(true);
    let limit = match sampler {
        Some(task) => task.await.unwrap_or_default(),
        None => Vec::new(),
    };
    if let Some(task) = changer {
        task.abort();
    }
    let metrics = match running.admin {
        Some(admin) => tokio::time::timeout(Duration::from_secs(2), limit::metrics(admin))
            .await
            .ok()
            .flatten(),
        None => None,
    };
    running.stop().await;
    if let Ok(upstream) = Arc::try_unwrap(upstream) {
        upstream.shutdown().await;
    }
    Ok(LegResult {
        run: result?,
        limit,
        metrics,
    })
}

/// The part of `run` scheduled in [from, to), as a run of its own.
pub(crate) fn window(run: &Run, from: Duration, to: Duration) -> Run {
    let records = run
        .records
        .iter()
        .filter(|r| r.at >= from && r.at < to)
        .copied()
        .collect();
    Run {
        records,
        duration: to.saturating_sub(from),
        ..run.clone()
    }
}
