//! The no-load RTT: what a request costs the upstream when it does not queue; and
//! the recent RTT, averaged over about one round trip.
//!
//! Shared by [`Gradient2`](super::Gradient2) and [`Vegas`](super::Vegas), which
//! differ only in how they turn "recent RTT vs. no-load RTT" into a limit.
//!
//! # Recent RTT
//!
//! An EWMA whose weight is `1/limit`, so it averages about one round trip of
//! samples, as TCP Vegas averages the RTTs acknowledged in the last round trip.
//! Judging each sample alone (as Netflix's limiters do) is biased: the clamped
//! gradient and Vegas's "+beta when nothing queues" react more to a fast sample
//! than to a slow one, and the limit creeps above capacity.
//!
//! # No-load RTT
//!
//! The hard part is not averaging but *what* to average. Under sustained overload
//! every sample includes queueing; an estimate that learns from them drifts up with
//! the queue, and the limit drifts up with it. So this estimate learns only from
//! samples taken at low concurrency:
//!
//! - **app-limited samples**: the request was sent with at most half the limit
//!   then in force in flight, so the upstream was not the bottleneck;
//! - **probes**: the limit is halved for a few round trips and the RTT measured
//!   there. The first probe runs at the initial limit, before the limiter knows
//!   anything; since that is usually small and gives few samples, a second one
//!   follows after `MIN_INTERVAL_RTTS`. Later ones run when sustained load has
//!   left the estimate unrefreshed for a probe interval, or early (but at most
//!   every `MIN_INTERVAL_RTTS`) when the estimate looks wrong: the limit has
//!   halved since its peak (latency rose and stayed up: was it queueing, or did
//!   the upstream get slower?), or the recent RTT is well below the no-load RTT
//!   (the upstream got faster; with enough samples per round trip, the recent
//!   RTT replaces the estimate at once).
//!
//! A probe first waits `SETTLE` mean RTTs for the queue to drain, then averages every
//! sample completing over the next `MEASURE` mean RTTs. Averaging a time window, not
//! "the first k samples", matters: the first samples to complete after a change are
//! the fastest ones, which would bias the estimate low.
//!
//! # A probe that queued looks lower
//!
//! A probe at a concurrency the upstream cannot take measures its queue. That is
//! the first probe's risk (an initial limit of 20 against 8 workers measures 2.5 ×
//! the service time, and a limiter trusting it settles at 3 × the capacity), and a
//! later probe's when the upstream lost more than half its capacity. In a queue the
//! RTT is proportional to the concurrency, so halving the concurrency halves the
//! RTT; below the upstream's capacity it leaves it unchanged. So:
//!
//! - a first probe, and a later one that measures more than `RISE_RATIO` × the
//!   estimate it checks (the upstream got slower, or the probe queued), runs a
//!   second stage at half its concurrency;
//! - a stage that measures less than `DESCEND_RATIO` × the stage above shows the
//!   stage above queued, and may itself have: it halves again;
//! - the first stage that does not is the answer (or the one at the minimum limit).
//!
//! When a probe found a concurrency that queues, the limiter restarts from no
//! higher (see [`NoLoadRtt::take_ceiling`]): the limit it had was set by a wrong
//! estimate.

use std::time::{Duration, Instant};

/// Mean RTTs to wait, after a probe starts, for the upstream's queue to drain.
const SETTLE: f64 = 2.0;
/// Mean RTTs over which the probe averages samples.
const MEASURE: f64 = 4.0;
/// A probe needs at least this many samples, however long it takes.
const MIN_PROBE_SAMPLES: u32 = 10;
/// App-limited samples that make a probe unnecessary for another interval.
const FRESH_SAMPLES: u32 = 50;
/// Weight of one app-limited sample in the estimate (an EWMA over ~500 samples).
const APP_LIMITED_ALPHA: f64 = 2.0 / 501.0;
/// Weight of one sample in the mean of all RTTs (an EWMA over ~100 samples).
const MEAN_ALPHA: f64 = 2.0 / 101.0;
/// Probes are at least this many no-load RTTs apart, so even a slow upstream spends
/// under ~3% of its time probing.
const MIN_INTERVAL_RTTS: f64 = 100.0;
/// A recent RTT below this fraction of the no-load RTT means the estimate is stale.
const STALE_RATIO: f64 = 0.8;
/// Below this limit, a round trip has too few samples for a stale estimate to be
/// replaced by the recent RTT directly (a probe decides instead).
const STALE_MIN_LIMIT: f64 = 50.0;
/// A probe stage whose RTT is below this fraction of the RTT measured at twice its
/// concurrency shows that the stage above queued, and may have queued itself: the
/// probe goes one stage lower. (In a queue, RTT is proportional to concurrency, so
/// a stage that queued measures half of the one above it; one that did not
/// measures the same.)
const DESCEND_RATIO: f64 = 0.75;
/// A probe's first stage measuring above this multiple of the current estimate is
/// checked one stage lower: the upstream got slower, or the probe still queued. And
/// a last stage above which the RTT was this much higher shows that the stage
/// above queued.
const RISE_RATIO: f64 = 1.1;
/// Probes are at most this far apart (also keeps `now + interval` representable).
pub(super) const MAX_INTERVAL: Duration = Duration::from_secs(86_400);
/// A probe runs at this fraction of the limit; `tolerance × PROBE_RATIO < 1` is what
/// makes successive probes converge.
pub(super) const PROBE_RATIO: f64 = 0.5;

/// The RTT estimates and the probe schedule.
#[derive(Debug, Clone)]
pub(super) struct NoLoadRtt {
    interval: Duration,
    min_limit: usize,
    /// Seconds; `None` until the first probe ends.
    rtt: Option<f64>,
    /// EWMA of every latency sample, queueing included (seconds): the probe's clock.
    mean: Option<f64>,
    /// Samples seen, up to `u32::MAX`.
    samples: u32,
    /// RTT averaged over about one round trip (seconds).
    recent: Option<f64>,
    phase: Phase,
    /// Set when a probe ends having found a concurrency that queues; taken by
    /// the limiter (see [`NoLoadRtt::take_ceiling`]).
    ceiling: Option<usize>,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// The limit is pinned to `limit` while the RTT is measured.
    Probing {
        limit: usize,
        /// When the probe began; for the first probe, when its first request was sent.
        start: Option<Instant>,
        /// The longest mean RTT seen during the probe (seconds): the probe's time unit.
        unit: f64,
        sum: f64,
        count: u32,
        /// The previous, twice as concurrent stage of this probe: its
        /// concurrency and what it measured (seconds); `None` in a first stage.
        above: Option<(usize, f64)>,
        /// The lowest concurrency this probe found queueing, if any.
        queued: Option<usize>,
    },
    /// Following app-limited samples; a probe is due at `due`.
    Tracking {
        due: Instant,
        fresh: u32,
        /// When the last probe ended, to space out early probes.
        probed: Instant,
        /// The highest limit since the last probe.
        peak: f64,
    },
}

/// The concurrency a probe (or its next stage) runs at below `limit`:
/// `PROBE_RATIO` of it, not under the minimum limit.
fn probe_at(limit: f64, min_limit: usize) -> usize {
    ((limit * PROBE_RATIO) as usize).max(min_limit)
}

impl Phase {
    /// A probe stage at `limit`, nothing measured yet.
    fn probe(
        limit: usize,
        start: Option<Instant>,
        unit: f64,
        above: Option<(usize, f64)>,
        queued: Option<usize>,
    ) -> Phase {
        Phase::Probing {
            limit,
            start,
            unit,
            sum: 0.0,
            count: 0,
            above,
            queued,
        }
    }
}

impl NoLoadRtt {
    pub(super) fn new(initial_limit: usize, min_limit: usize, interval: Duration) -> Self {
        Self {
            interval,
            min_limit,
            rtt: None,
            mean: None,
            samples: 0,
            recent: None,
            phase: Phase::probe(initial_limit, None, 0.0, None, None),
            ceiling: None,
        }
    }

    /// The no-load RTT in seconds, once the first probe has ended.
    pub(super) fn get(&self) -> Option<f64> {
        self.rtt
    }

    /// The no-load RTT as a `Duration`, for diagnostics.
    pub(super) fn duration(&self) -> Option<Duration> {
        self.rtt.and_then(|s| Duration::try_from_secs_f64(s).ok())
    }

    /// The RTT averaged over about the last round trip, in seconds.
    pub(super) fn recent(&self) -> Option<f64> {
        self.recent
    }

    /// A concurrency the last probe found queueing, once: a limit above it only
    /// adds latency, so the limiter starts again from no higher.
    pub(super) fn take_ceiling(&mut self) -> Option<usize> {
        self.ceiling.take()
    }

    /// The concurrency to hold to while a probe runs.
    pub(super) fn probe_limit(&self) -> Option<usize> {
        match self.phase {
            Phase::Probing { limit, .. } => Some(limit),
            Phase::Tracking { .. } => None,
        }
    }

    /// Learns from a latency sample (`rtt` in seconds, not a drop) sent with
    /// `inflight` in flight under the limit `sent_limit`. `limit` is the
    /// limiter's current (unpinned) limit.
    pub(super) fn on_sample(
        &mut self,
        now: Instant,
        rtt: f64,
        (inflight, sent_limit): (usize, usize),
        limit: f64,
    ) {
        // A plain average for the first 1/MEAN_ALPHA samples, then an EWMA: an EWMA
        // seeded with the first sample would stay near it (the fastest) for long.
        self.samples = self.samples.saturating_add(1);
        let weight = MEAN_ALPHA.max(1.0 / f64::from(self.samples));
        let mean = ewma(self.mean, rtt, weight);
        self.mean = Some(mean);
        let recent = ewma(self.recent, rtt, 1.0 / limit.max(1.0));
        self.recent = Some(recent);
        match &mut self.phase {
            Phase::Probing {
                limit: probe_limit,
                start,
                unit,
                sum,
                count,
                above,
                queued,
            } => {
                let sent = now.checked_sub(secs(rtt)).unwrap_or(now);
                let start = *start.get_or_insert(sent);
                *unit = unit.max(mean);
                let elapsed = now.saturating_duration_since(start).as_secs_f64();
                if inflight <= *probe_limit && elapsed >= SETTLE * *unit {
                    *sum += rtt;
                    *count += 1;
                }
                if elapsed >= (SETTLE + MEASURE) * *unit && *count >= MIN_PROBE_SAMPLES {
                    let measured = *sum / f64::from(*count);
                    let lower = probe_at(*probe_limit as f64, self.min_limit);
                    let descend = match *above {
                        // Halving the concurrency cut the RTT: the stage above queued,
                        // and this one may have too.
                        Some((above_limit, above_rtt)) if measured < DESCEND_RATIO * above_rtt => {
                            *queued = Some(above_limit);
                            true
                        }
                        Some(_) => false,
                        // A first probe, or the RTT rose since the last one: queueing
                        // or a slower upstream? One stage lower tells them apart.
                        None => self.rtt.is_none_or(|base| measured > RISE_RATIO * base),
                    };
                    if descend && lower < *probe_limit {
                        let above = Some((*probe_limit, measured));
                        self.phase = Phase::probe(lower, Some(now), measured, above, *queued);
                        return;
                    }
                    // The stage above measured more than this one: it queued, if
                    // not by enough to look further down.
                    if let Some((above_limit, above_rtt)) = *above
                        && above_rtt > RISE_RATIO * measured
                    {
                        *queued = Some(above_limit);
                    }
                    // A first probe at a small limit averages few samples, and
                    // with heavy-tailed latency a short window misses the slow
                    // ones: check it again soon, at half of a grown limit.
                    let next = if self.rtt.is_none() && *count < FRESH_SAMPLES {
                        secs(MIN_INTERVAL_RTTS * measured)
                    } else {
                        probe_interval(self.interval, measured, rtt)
                    };
                    self.ceiling = *queued;
                    self.rtt = Some(measured);
                    self.mean = Some(measured);
                    self.recent = Some(measured);
                    self.phase = Phase::Tracking {
                        due: later(now, next),
                        fresh: 0,
                        probed: now,
                        peak: limit,
                    };
                }
            }
            Phase::Tracking {
                due,
                fresh,
                probed,
                peak,
            } => {
                let Some(base) = self.rtt.as_mut() else {
                    return; // unreachable: tracking starts only after a probe
                };
                if inflight * 2 <= sent_limit {
                    *base += APP_LIMITED_ALPHA * (rtt - *base);
                    *fresh += 1;
                    if *fresh >= FRESH_SAMPLES {
                        *fresh = 0;
                        *due = later(now, probe_interval(self.interval, *base, rtt));
                    }
                    return;
                }
                *peak = peak.max(limit);
                let spaced = now.saturating_duration_since(*probed).as_secs_f64()
                    >= MIN_INTERVAL_RTTS * *base;
                let stale = recent < STALE_RATIO * *base;
                if stale && limit >= STALE_MIN_LIMIT {
                    // A round trip's average, queueing included, is an upper bound on
                    // the no-load RTT; with this many samples it is not noise. Take it
                    // now rather than let the limit balloon until the next probe.
                    *base = recent;
                }
                let suspect = stale || limit * 2.0 <= *peak;
                if now >= *due || (spaced && suspect) {
                    let unit = mean.max(*base);
                    let at = probe_at(limit, self.min_limit);
                    self.phase = Phase::probe(at, Some(now), unit, None, None);
                }
            }
        }
    }
}

fn ewma(prev: Option<f64>, sample: f64, weight: f64) -> f64 {
    match prev {
        Some(p) => p + weight * (sample - p),
        None => sample,
    }
}

/// `now + d`, saturating at a day (the longest interval used here).
fn later(now: Instant, d: Duration) -> Instant {
    now + d.min(MAX_INTERVAL)
}

/// The probe interval, at least `MIN_INTERVAL_RTTS` no-load RTTs, jittered by ±25%
/// so limiters started together do not probe together. The jitter is a hash of the
/// latest RTT: deterministic for tests, different across limiters.
fn probe_interval(configured: Duration, base: f64, rtt: f64) -> Duration {
    let interval = configured.as_secs_f64().max(MIN_INTERVAL_RTTS * base);
    let jitter = 0.75 + 0.5 * unit_hash(rtt.to_bits());
    secs(interval * jitter).min(MAX_INTERVAL)
}

/// Seconds to a `Duration`, saturating (RTTs are finite and non-negative here).
fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX)
}

/// A SplitMix64 finaliser mapped to `[0, 1)`.
fn unit_hash(x: u64) -> f64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ms, t0};

    /// Feeds one sample a millisecond, sent at the probe's concurrency (or at
    /// `limit` once tracking), with the RTT `rtt_at(concurrency)`, until the probe
    /// ends; returns the concurrency of each probe stage, in order.
    fn finish_probe(
        b: &mut NoLoadRtt,
        now: &mut Instant,
        limit: f64,
        rtt_at: impl Fn(usize) -> f64,
    ) -> Vec<usize> {
        let mut stages = Vec::new();
        for _ in 0..100_000 {
            let Some(p) = b.probe_limit() else {
                return stages;
            };
            if stages.last() != Some(&p) {
                stages.push(p);
            }
            *now += ms(1);
            b.on_sample(*now, rtt_at(p), (p, p), limit);
        }
        panic!("the probe did not end: stages {stages:?}");
    }

    /// After a first probe at 10 ms, sustained load at a limit of 100 with the RTT
    /// `rtt` (seconds), until a probe starts.
    fn loaded_until_a_probe(b: &mut NoLoadRtt, now: &mut Instant, rtt: f64) {
        finish_probe(b, now, 10.0, |_| 0.010);
        for _ in 0..60_000 {
            *now += ms(1);
            b.on_sample(*now, rtt, (100, 100), 100.0);
            if b.probe_limit().is_some() {
                return;
            }
        }
    }

    /// An upstream of `workers` servers and `service` seconds each, at full demand:
    /// above `workers` in flight, RTT grows in proportion (they queue).
    fn queueing(workers: usize, service: f64) -> impl Fn(usize) -> f64 {
        move |inflight| service * (inflight as f64 / workers as f64).max(1.0)
    }

    #[test]
    fn first_probe_averages_a_window_not_the_first_fast_samples() {
        let mut b = NoLoadRtt::new(10, 1, Duration::from_secs(30));
        let start = t0();
        // Ten requests sent at 0; the fast ones complete first.
        for i in 1..=10u64 {
            b.on_sample(start + ms(i * 2), (i * 2) as f64 / 1000.0, (10, 10), 10.0);
        }
        assert_eq!(b.get(), None, "too early: the window has not been measured");
        // Then a steady 20 ms for a while.
        let mut now = start + ms(40);
        let stages = finish_probe(&mut b, &mut now, 10.0, |_| 0.020);
        assert!((b.get().expect("probe ended") - 0.020).abs() < 1e-9);
        // A first probe always checks one stage lower; the RTT held, so it stopped.
        assert_eq!(stages, [10, 5]);
    }

    /// The first probe runs at the initial limit, which may be far above what the
    /// upstream can take: it then measures queueing, and a limiter trusting it
    /// would settle at a multiple of the capacity. Each halving that still cuts
    /// the RTT shows the stage above queued.
    #[test]
    fn a_first_probe_above_capacity_descends_until_the_rtt_stops_falling() {
        let mut b = NoLoadRtt::new(20, 4, Duration::from_secs(30));
        let mut now = t0();
        let stages = finish_probe(&mut b, &mut now, 20.0, queueing(8, 0.020));
        // 20 in flight: 50 ms; 10: 25 ms (halved: queued); 5: 20 ms (held).
        assert_eq!(stages, [20, 10, 5]);
        assert!((b.get().expect("probe ended") - 0.020).abs() < 1e-9);
    }

    #[test]
    fn a_probe_stops_at_the_minimum_limit() {
        let mut b = NoLoadRtt::new(20, 8, Duration::from_secs(30));
        let mut now = t0();
        let stages = finish_probe(&mut b, &mut now, 20.0, queueing(2, 0.010));
        assert_eq!(stages, [20, 10, 8]);
        assert!((b.get().expect("probe ended") - 0.040).abs() < 1e-9);
    }

    #[test]
    fn sustained_load_triggers_a_probe_at_half_the_limit() {
        let mut b = NoLoadRtt::new(10, 1, Duration::from_secs(30));
        let mut now = t0();
        // Loaded: every sample sent at the full limit of 100, RTT doubled.
        loaded_until_a_probe(&mut b, &mut now, 0.020);
        assert_eq!(b.probe_limit(), Some(50));
        assert!(
            (b.get().expect("estimate kept") - 0.010).abs() < 1e-9,
            "queued samples never feed the estimate"
        );
        // The probe measures no more than the estimate: one stage is enough.
        let stages = finish_probe(&mut b, &mut now, 100.0, queueing(60, 0.010));
        assert_eq!(stages, [50]);
        assert!((b.get().expect("probe ended") - 0.010).abs() < 1e-9);
    }

    /// A later probe that measures a higher RTT than the estimate checks one stage
    /// lower: if the RTT holds there, the upstream got slower and the estimate
    /// follows; it is not mistaken for queueing.
    #[test]
    fn a_slower_upstream_is_told_apart_from_queueing() {
        let mut b = NoLoadRtt::new(10, 1, Duration::from_secs(30));
        let mut now = t0();
        loaded_until_a_probe(&mut b, &mut now, 0.030);
        let stages = finish_probe(&mut b, &mut now, 100.0, queueing(80, 0.025));
        assert_eq!(stages, [50, 25]);
        assert!((b.get().expect("probe ended") - 0.025).abs() < 1e-9);
    }

    #[test]
    fn app_limited_samples_postpone_probes() {
        let mut b = NoLoadRtt::new(10, 1, Duration::from_secs(30));
        let mut now = t0();
        finish_probe(&mut b, &mut now, 10.0, |_| 0.010);
        for _ in 0..120_000 {
            now += ms(1);
            b.on_sample(now, 0.012, (10, 100), 100.0);
            assert_eq!(b.probe_limit(), None);
        }
        assert!(
            (b.get().expect("estimate kept") - 0.012).abs() < 1e-4,
            "learned the new no-load RTT"
        );
    }

    #[test]
    fn unit_hash_is_in_unit_interval() {
        for x in [0, 1, u64::MAX, 0.02f64.to_bits()] {
            assert!((0.0..1.0).contains(&unit_hash(x)));
        }
    }
}

/// What a sample means to a limiter steered by the no-load RTT, once the
/// part [`Gradient2`](super::Gradient2) and [`Vegas`](super::Vegas) share is
/// done (see [`Steered::prepare`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Step {
    /// A drop: the limit was cut (at most once per round trip).
    Dropped,
    /// Nothing to steer by: a probe is running, nothing is known yet, or the
    /// sample was app-limited.
    Hold,
    /// Steer: the no-load RTT and the recent RTT (the last round trip's
    /// average), in seconds.
    Judge {
        /// The no-load RTT.
        no_load: f64,
        /// The recent RTT.
        rtt: f64,
    },
}

/// The half Gradient2 and Vegas share: the limit, the no-load RTT estimate
/// with its probes, and the once-per-round-trip cut on drops.
#[derive(Debug, Clone)]
pub(super) struct Steered {
    pub(super) limit: f64,
    no_load: NoLoadRtt,
    cut: super::CutOncePerRtt,
}

impl Steered {
    pub(super) fn new(bounds: super::Bounds, probe_interval: Duration) -> Self {
        Self {
            limit: bounds.initial as f64,
            no_load: NoLoadRtt::new(bounds.initial, bounds.min, probe_interval),
            cut: super::CutOncePerRtt::default(),
        }
    }

    /// The limit in force: pinned lower while a probe runs.
    pub(super) fn limit(&self) -> usize {
        let limit = self.limit as usize;
        self.no_load.probe_limit().map_or(limit, |p| p.min(limit))
    }

    /// The no-load RTT estimate, for diagnostics.
    pub(super) fn no_load_rtt(&self) -> Option<Duration> {
        self.no_load.duration()
    }

    /// The shared prologue of a sample: a drop cuts the limit by `backoff`
    /// (once per round trip); otherwise the no-load estimate learns, a probe
    /// that found queueing caps the limit, and the sample is judged only
    /// when nothing is probing and it was sent at (at least half) the limit.
    pub(super) fn prepare(
        &mut self,
        now: Instant,
        sample: super::Sample,
        bounds: super::Bounds,
        backoff: f64,
    ) -> Step {
        if sample.dropped {
            if self.cut.try_cut(now, sample.rtt) {
                self.limit = bounds.clamp(self.limit * backoff);
            }
            return Step::Dropped;
        }
        let rtt = sample.rtt.as_secs_f64();
        self.no_load
            .on_sample(now, rtt, (sample.inflight, sample.limit), self.limit);
        if let Some(ceiling) = self.no_load.take_ceiling() {
            self.limit = bounds.clamp(self.limit.min(ceiling as f64));
        }
        // From here on, `rtt` is the average over the last round trip, not this sample.
        let nl = &self.no_load;
        let (Some(no_load), Some(rtt), None) = (nl.get(), nl.recent(), nl.probe_limit()) else {
            return Step::Hold; // probing: the limit is pinned, and these samples are not "full load"
        };
        // App-limited: the limit was not what held traffic back, so the sample
        // says nothing about whether a higher limit would queue. (Netflix's rule.)
        if sample.inflight * 2 < sample.limit {
            return Step::Hold;
        }
        Step::Judge { no_load, rtt }
    }
}
