//! One benchmark leg: a fresh sample upstream, one peer in front of it, one
//! bounded run of load through it, and (for Levee) the limit sampled and its
//! `/metrics` kept.
//!
//! A fresh upstream per leg keeps one leg's backlog out of the next. This
//! file only runs legs; the scenarios (overload's, the false-shed workloads)
//! decide which.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use levee_sim::load::{self, LoadPlan, Run, Stream};
use levee_sim::upstream::{Upstream, UpstreamHandle, UpstreamStats};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::limit;
use crate::peers::{self, Peer, Programs, Running};

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
    /// What the upstream saw and served, at the end of the leg.
    pub(crate) upstream: UpstreamStats,
}

/// Runs one leg of the overload benchmark through `peer`.
pub(crate) async fn run(setup: &Setup, peer: Peer, plan: LegPlan) -> anyhow::Result<LegResult> {
    let upstream = Upstream::builder()
        .workers(setup.workers)
        .service_time(setup.service_time)
        .service_jitter(setup.service_jitter)
        .start()
        .await
        .context("starting the sample upstream")?;
    let running = peers::start(peer, &setup.programs, upstream.addr(), setup.workers).await?;
    let load = load_plan(running.addr, setup.deadline, plan.seed, plan.streams);
    let through = Through {
        load,
        change: plan.change,
        limit_every: setup.limit_every,
    };
    drive(upstream, running, through).await
}

/// A load plan against `target`: `streams`, the client `deadline`, `seed`,
/// and connections enough for every request that can be in flight at once.
pub(crate) fn load_plan(
    target: std::net::SocketAddr,
    deadline: Duration,
    seed: u64,
    streams: Vec<Stream>,
) -> LoadPlan {
    let in_flight: f64 = streams.iter().map(|s| s.peak_in_flight(deadline)).sum();
    let mut plan = LoadPlan::new(target)
        .deadline(deadline)
        .max_connections((in_flight * 1.5) as usize + 256)
        .seed(seed);
    for stream in streams {
        plan = plan.stream(stream);
    }
    plan
}

/// What to do through a started peer.
#[derive(Debug)]
pub(crate) struct Through {
    /// The load, aimed at the peer.
    pub(crate) load: LoadPlan,
    /// At this offset, the upstream changes so.
    pub(crate) change: Option<(Duration, Shift)>,
    /// How often Levee's limit is read from its `/metrics`.
    pub(crate) limit_every: Duration,
}

/// Drives `through.load` through `running` (already in front of
/// `upstream`), then stops both: the peer by its pid, the upstream by its
/// handle.
pub(crate) async fn drive(
    upstream: UpstreamHandle,
    running: Running,
    through: Through,
) -> anyhow::Result<LegResult> {
    let upstream = Arc::new(upstream);
    let start = Instant::now();
    let (stop, stopped) = watch::channel(false);
    let sampler = running
        .admin
        .map(|admin| tokio::spawn(limit::sample(admin, start, through.limit_every, stopped)));
    let changer = through.change.map(|(at, shift)| {
        let upstream = Arc::clone(&upstream);
        tokio::spawn(async move {
            tokio::time::sleep_until(start + at).await;
            match shift {
                Shift::ServiceTime(t) => upstream.set_service_time(t),
                Shift::Workers(n) => upstream.set_workers(n),
            }
        })
    });
    let result = load::run(through.load).await.context("running the load");
    stop.send_replace(true);
    let limit = match sampler {
        Some(task) => task.await.unwrap_or_default(),
        None => Vec::new(),
    };
    if let Some(task) = changer {
        task.abort();
        let _ = task.await; // so that its handle on the upstream is gone
    }
    let metrics = match running.admin {
        Some(admin) => tokio::time::timeout(Duration::from_secs(2), limit::metrics(admin))
            .await
            .ok()
            .flatten(),
        None => None,
    };
    running.stop().await;
    let stats = upstream.stats();
    if let Ok(upstream) = Arc::try_unwrap(upstream) {
        upstream.shutdown().await;
    }
    Ok(LegResult {
        run: result?,
        limit,
        metrics,
        upstream: stats,
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
