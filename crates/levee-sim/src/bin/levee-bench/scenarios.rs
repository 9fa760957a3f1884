//! The three scenarios of issue 3's overload benchmark:
//!
//! 1. `levels`: constant open-loop load at 0.5×, 1×, 2×, 4× capacity through
//!    each peer, repeated; medians of each figure over the repeats.
//! 2. `capacity_change`: the upstream's service time doubles halfway; goodput
//!    per half and Levee's limit over time.
//! 3. `noisy_tenant`: one tenant at 10× the rate of each of three others; the
//!    quiet tenants' goodput with and without the noisy one.
//!
//! Each prints one line per leg as it ends. Nothing here formats results.

use std::time::Duration;

use levee_sim::load::{Schedule, Stream};
use levee_sim::report::Summary;

use crate::leg::{self, LegPlan, LegResult, Setup, Shift};
use crate::peers::Peer;

/// The goodput objective.
pub(crate) const SLO: Duration = Duration::from_millis(500);

/// Scenario 1's load levels, as multiples of capacity.
pub(crate) const LEVELS: [f64; 4] = [0.5, 1.0, 2.0, 4.0];

/// Scenario 1: every repeat of every (peer, level).
#[derive(Debug, Default)]
pub(crate) struct Levels {
    /// (peer, level, one summary per repeat).
    pub(crate) cells: Vec<(Peer, f64, Vec<Summary>)>,
    /// The first repeat at 4× of each peer, for the HTML report.
    pub(crate) at_peak: Vec<(Peer, LegResult)>,
    /// Levee's `/metrics` at the end of the first repeat of each level.
    pub(crate) metrics: Vec<(f64, String)>,
}

/// Runs scenario 1.
pub(crate) async fn levels(
    setup: &Setup,
    peers: &[Peer],
    duration: Duration,
    repeats: usize,
) -> anyhow::Result<Levels> {
    let mut out = Levels::default();
    for repeat in 0..repeats {
        for level in LEVELS {
            // The floor (a static 503) is the reference for Levee's sheds at 4×.
            for &peer in peers.iter().filter(|p| **p != Peer::Floor || level == 4.0) {
                let schedule = Schedule::constant(level * setup.capacity(), duration);
                let plan = LegPlan {
                    streams: vec![Stream::new(schedule)],
                    seed: repeat as u64 + 1,
                    change: None,
                };
                let result = leg::run(setup, peer, plan).await?;
                let summary = Summary::of(&result.run, SLO);
                println!(
                    "levels  {:<8} {level:>3}× #{}: {}",
                    peer.label(),
                    repeat + 1,
                    brief(&summary)
                );
                match out.cells.iter_mut().find(|c| c.0 == peer && c.1 == level) {
                    Some(cell) => cell.2.push(summary),
                    None => out.cells.push((peer, level, vec![summary])),
                }
                if repeat == 0
                    && let Some(metrics) = &result.metrics
                {
                    out.metrics.push((level, metrics.clone()));
                }
                if level == 4.0 && repeat == 0 {
                    out.at_peak.push((peer, result));
                }
            }
        }
    }
    Ok(out)
}

/// Scenario 2's outcome for one peer and one kind of change.
#[derive(Debug)]
pub(crate) struct Change {
    pub(crate) peer: Peer,
    /// What changed at half time.
    pub(crate) shift: Shift,
    /// The first half.
    pub(crate) before: Summary,
    /// From 5 s after the change to the end.
    pub(crate) after: Summary,
    pub(crate) result: LegResult,
}

/// Runs scenario 2: load at `level` × the initial capacity for `duration`;
/// the upstream changes by `shift` at half time.
pub(crate) async fn capacity_change(
    setup: &Setup,
    peers: &[Peer],
    duration: Duration,
    level: f64,
    shift: Shift,
) -> anyhow::Result<Vec<Change>> {
    let half = duration / 2;
    let mut out = Vec::new();
    for &peer in peers {
        let schedule = Schedule::constant(level * setup.capacity(), duration);
        let change = Some((half, shift));
        let plan = LegPlan {
            streams: vec![Stream::new(schedule)],
            seed: 7,
            change,
        };
        let result = leg::run(setup, peer, plan).await?;
        let before = Summary::of(&leg::window(&result.run, Duration::ZERO, half), SLO);
        let after = Summary::of(
            &leg::window(&result.run, half + Duration::from_secs(5), duration),
            SLO,
        );
        println!(
            "change  {:<8} {shift:?} before: {}",
            peer.label(),
            brief(&before)
        );
        println!(
            "change  {:<8} {shift:?} after:  {}",
            peer.label(),
            brief(&after)
        );
        out.push(Change {
            peer,
            shift,
            before,
            after,
            result,
        });
    }
    Ok(out)
}

/// Scenario 3's outcome for one peer.
#[derive(Debug)]
pub(crate) struct Tenants {
    pub(crate) peer: Peer,
    /// The quiet tenants' goodput per second without the noisy tenant.
    pub(crate) alone: f64,
    /// The quiet tenants' goodput per second with it.
    pub(crate) with_noisy: f64,
    /// The noisy tenant's goodput per second.
    pub(crate) noisy: f64,
    /// The quiet tenants' p99 of 2xx with the noisy tenant, in ms.
    pub(crate) quiet_p99_ms: Option<f64>,
    /// Levee's `/metrics` at the end of the leg with the noisy tenant.
    pub(crate) metrics: Option<String>,
}

/// The quiet tenants of scenario 3.
const QUIET: [&str; 3] = ["quiet-1", "quiet-2", "quiet-3"];

/// Runs scenario 3: three quiet tenants at r and one at 10 r, 13 r in all =
/// `level` × capacity; and the quiet ones alone.
pub(crate) async fn noisy_tenant(
    setup: &Setup,
    peers: &[Peer],
    duration: Duration,
    level: f64,
) -> anyhow::Result<Vec<Tenants>> {
    let r = level * setup.capacity() / 13.0;
    let quiet: Vec<Stream> = QUIET
        .iter()
        .map(|t| {
            Stream::new(Schedule::constant(r, duration))
                .label(*t)
                .tenant(*t)
        })
        .collect();
    let noisy = Stream::new(Schedule::constant(10.0 * r, duration))
        .label("noisy")
        .tenant("noisy");
    let mut out = Vec::new();
    for &peer in peers {
        let alone = leg::run(
            setup,
            peer,
            LegPlan {
                streams: quiet.clone(),
                seed: 11,
                change: None,
            },
        )
        .await?;
        let mut all = quiet.clone();
        all.push(noisy.clone());
        let with = leg::run(
            setup,
            peer,
            LegPlan {
                streams: all,
                seed: 11,
                change: None,
            },
        )
        .await?;
        let quiet_goodput = |run: &levee_sim::load::Run| -> f64 {
            QUIET
                .iter()
                .map(|t| Summary::of(&run.only(t), SLO).goodput_per_s)
                .sum()
        };
        let mut quiet_runs = with.run.clone();
        quiet_runs
            .records
            .retain(|r| with.run.labels[usize::from(r.stream)].starts_with("quiet"));
        let t = Tenants {
            peer,
            alone: quiet_goodput(&alone.run),
            with_noisy: quiet_goodput(&with.run),
            noisy: Summary::of(&with.run.only("noisy"), SLO).goodput_per_s,
            quiet_p99_ms: Summary::of(&quiet_runs, SLO).p99_success_ms,
            metrics: with.metrics.clone(),
        };
        println!(
            "tenants {:<8} quiet goodput alone {:.0}/s, with noisy {:.0}/s ({:.0}%), noisy {:.0}/s; quiet: {}",
            peer.label(),
            t.alone,
            t.with_noisy,
            100.0 * t.with_noisy / t.alone.max(1e-9),
            t.noisy,
            brief(&Summary::of(&quiet_runs, SLO))
        );
        out.push(t);
    }
    Ok(out)
}

/// One line of figures for progress output.
pub(crate) fn brief(s: &Summary) -> String {
    let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}"));
    format!(
        "offered {:.0}/s goodput {:.0}/s p50 {} p99 {} ms, 503 {} (p99 {} ms, from send {} ms), lag p99 {:.1} ms, timeouts {}, errors {}",
        s.offered_per_s,
        s.goodput_per_s,
        ms(s.p50_success_ms),
        ms(s.p99_success_ms),
        s.unavailable,
        ms(s.p99_unavailable_ms),
        ms(s.p99_unavailable_sent_ms),
        s.lag_p99_ms,
        s.timeouts,
        s.failed + s.saturated + s.other_status
    )
}
