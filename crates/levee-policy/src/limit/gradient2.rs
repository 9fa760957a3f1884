//! [`Gradient2`]: move the limit by the ratio of no-load RTT to current RTT.

use std::time::{Duration, Instant};

use super::baseline::{PROBE_RATIO, Steered, Step};
use super::{Bounds, Limiter, Sample};
use crate::ConfigError;
use crate::error::check_range;

/// The smallest gradient: one sample can at most halve the target.
const MIN_GRADIENT: f64 = 0.5;

/// Settings of a [`Gradient2`] limiter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gradient2Config {
    /// Initial, minimum and maximum limit. Default 4, 4, 1000.
    pub bounds: Bounds,
    /// RTT inflation accepted before the limit shrinks: the limit settles where
    /// `rtt ≈ tolerance × no_load_rtt`. Within `[1, 1/0.5)`, so that a probe at half
    /// the limit converges. Default 1.2: admitted requests see at most ~20% more
    /// latency than unloaded, while latency noise does not shrink the limit below
    /// the upstream's capacity. (Netflix uses 1.5 with a per-sample step.)
    pub tolerance: f64,
    /// Fraction of the way to the target moved per round trip. Within `(0, 1]`.
    /// Default 0.2 (Netflix's).
    pub smoothing: f64,
    /// Requests of headroom added to the target. Default 1: with few workers
    /// every request of headroom is a request waiting in the upstream's own
    /// queue (8 workers: a limit of ~10.6 with 1, ~11.6 with 2), where the
    /// gateway can neither prioritise nor shed it; the gateway's queue bridges
    /// the gaps instead. Large upstreams hardly notice it either way.
    pub queue_size: f64,
    /// The largest gradient, which bounds growth per round trip, and the
    /// gradient of slow start. Within `[1, 4]`. Default 2.0 (as in Envoy's
    /// adaptive concurrency): 20% growth per round trip with the default
    /// smoothing.
    pub max_gradient: f64,
    /// The limit is multiplied by this on a drop, at most once per round trip.
    /// Within `[0.5, 1)`. Default 0.9.
    pub backoff_ratio: f64,
    /// How long sustained load may go without a no-load RTT measurement before
    /// the limiter probes (halves its limit for ~6 RTTs). At most one day. Default
    /// 30 s, and never more often than every 100 no-load RTTs.
    pub probe_interval: Duration,
}

impl Default for Gradient2Config {
    fn default() -> Self {
        Self {
            bounds: Bounds::default(),
            tolerance: 1.2,
            smoothing: 0.2,
            queue_size: 1.0,
            max_gradient: 2.0,
            backoff_ratio: 0.9,
            probe_interval: Duration::from_secs(30),
        }
    }
}

impl Gradient2Config {
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.bounds.validate()?;
        let max_tolerance = 1.0 / PROBE_RATIO - 1e-9;
        check_range(
            "tolerance",
            self.tolerance,
            1.0,
            max_tolerance,
            "must be within [1, 2)",
        )?;
        check_range(
            "smoothing",
            self.smoothing,
            1e-3,
            1.0,
            "must be within (0, 1]",
        )?;
        check_range(
            "queue_size",
            self.queue_size,
            0.0,
            1e6,
            "must be within [0, 1e6]",
        )?;
        check_range(
            "max_gradient",
            self.max_gradient,
            1.0,
            4.0,
            "must be within [1, 4]",
        )?;
        super::check_backoff_ratio(self.backoff_ratio)?;
        super::check_probe_interval(self.probe_interval)
    }
}

/// The Gradient2 limiter: move the limit by the ratio of no-load RTT to current RTT.
///
/// After Netflix concurrency-limits' `Gradient2Limit`. Each sample computes a
/// gradient
///
/// ```text
/// gradient = clamp(tolerance × no_load_rtt / rtt, 0.5, max_gradient)
/// target   = limit × gradient + queue_size
/// ```
///
/// and moves the limit towards `target` by `smoothing` per round trip. While the
/// upstream does not queue, `rtt ≈ no_load_rtt`, the gradient is `tolerance`, above
/// one, and the limit grows by a few percent per round trip. Once requests queue,
/// RTT grows in proportion to `limit / C` and the gradient falls below one; the limit
/// settles where `rtt ≈ tolerance × no_load_rtt`, that is at about `tolerance × C +
/// queue_size`. The 0.5 floor keeps one outlier from halving the limit.
///
/// **Slow start.** From the initial limit (4 by default) that growth would take
/// dozens of round trips to reach a large upstream's capacity, so until the RTT has
/// stayed above `tolerance × no_load_rtt` for a whole round trip the gradient is
/// `max_gradient` (+20% per round trip), as TCP grows its window in slow start; when
/// slow start ends, the limit goes to the gradient's target at once, undoing the
/// round trips of overshoot it took the RTT to show the queue. A drop also ends it.
///
/// Differences from Netflix's version, and why: see the [module docs](super). In
/// short: the step is per round trip and `rtt` is the round trip's average
/// (Netflix's per-sample step on single samples oscillates);
/// `no_load_rtt` is measured at low concurrency instead of being a long average of
/// everything (which drifts up under sustained overload until requests time out), and
/// a probe that queued looks lower; the gradient may exceed one, and slow start grows
/// the limit fast without a large `queue_size`; drops cut the limit.
///
/// This is the recommended gateway limiter: it needs no knowledge of the upstream,
/// its only target (`tolerance`) is relative, so it works the same at 5 and at 5000
/// requests in flight, and it tolerates noisy latencies (a slow outlier moves the
/// limit by at most half a step).
#[derive(Debug, Clone)]
pub struct Gradient2 {
    config: Gradient2Config,
    steered: Steered,
    /// Until the RTT first stays above `tolerance × no_load_rtt` for a round
    /// trip (or a drop), the limit grows at the largest gradient: slow start,
    /// as in TCP.
    slow_start: bool,
    /// How long, in round trips, the RTT has stayed above that in slow start.
    above: f64,
}

impl Gradient2 {
    /// A limiter at `bounds.initial`, or the first out-of-range setting.
    pub fn new(config: Gradient2Config) -> Result<Self, ConfigError> {
        config.validate()?;
        let b = config.bounds;
        Ok(Self {
            config,
            steered: Steered::new(b, config.probe_interval),
            slow_start: true,
            above: 0.0,
        })
    }
}

impl Limiter for Gradient2 {
    fn limit(&self) -> usize {
        self.steered.limit()
    }

    fn on_sample(&mut self, now: Instant, sample: Sample) {
        let c = self.config;
        let (no_load, rtt) = match self.steered.prepare(now, sample, c.bounds, c.backoff_ratio) {
            Step::Dropped => {
                self.slow_start = false;
                return;
            }
            Step::Hold => return,
            Step::Judge { no_load, rtt } => (no_load, rtt),
        };
        // While nothing queues, the RTT stays at the no-load RTT and the gradient
        // would be only `tolerance`, a few percent of growth per round trip; from a
        // low initial limit that takes dozens of round trips. So the limit grows at
        // the largest gradient until the RTT shows queueing: it has stayed above
        // the tolerance for a whole round trip (one noisy average at a small limit
        // is not enough: with heavy-tailed latency it would end slow start at a
        // fraction of the capacity, which the gradient then takes long to reach).
        let gradient = if rtt > 0.0 {
            (c.tolerance * no_load / rtt).clamp(MIN_GRADIENT, c.max_gradient)
        } else {
            c.max_gradient
        };
        if self.slow_start {
            if gradient >= 1.0 {
                self.above = 0.0;
            } else {
                self.above += 1.0 / self.steered.limit.max(1.0);
                if self.above >= 1.0 {
                    // Slow start overshoots by the round trips the RTT takes to
                    // show queueing: go to the gradient's target at once rather
                    // than by a fifth of the way per round trip.
                    self.slow_start = false;
                    self.steered.limit =
                        c.bounds.clamp(self.steered.limit * gradient + c.queue_size);
                    return;
                }
            }
        }
        let gradient = if self.slow_start {
            c.max_gradient
        } else {
            gradient
        };
        let target = self.steered.limit * gradient + c.queue_size;
        // One sample is 1/limit of a round trip's worth of evidence.
        let step = c.smoothing * (target - self.steered.limit) / self.steered.limit.max(1.0);
        self.steered.limit = c.bounds.clamp(self.steered.limit + step);
    }

    fn no_load_rtt(&self) -> Option<Duration> {
        self.steered.no_load_rtt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ms, t0};

    /// A sample sent at the limit.
    fn at_limit(g: &Gradient2, rtt_ms: u64) -> Sample {
        Sample {
            rtt: ms(rtt_ms),
            inflight: g.limit(),
            limit: g.limit(),
            dropped: false,
        }
    }

    fn warmed_up(config: Gradient2Config, rtt_ms: u64) -> (Gradient2, Instant) {
        let mut g = Gradient2::new(config).expect("valid");
        let mut now = t0();
        while g.no_load_rtt().is_none() {
            now += ms(1);
            g.on_sample(now, at_limit(&g, rtt_ms));
        }
        (g, now)
    }

    fn starting_at(initial: usize) -> Gradient2Config {
        Gradient2Config {
            bounds: Bounds {
                initial,
                ..Bounds::default()
            },
            ..Default::default()
        }
    }

    /// Feeds `n` samples sent at the limit, one a millisecond.
    fn feed(g: &mut Gradient2, now: &mut Instant, n: usize, rtt_ms: u64) {
        for _ in 0..n {
            *now += ms(1);
            g.on_sample(*now, at_limit(g, rtt_ms));
        }
    }

    #[test]
    fn slow_start_grows_fast_until_the_rtt_rises_then_the_gradient_holds() {
        let (mut g, mut now) = warmed_up(Gradient2Config::default(), 10);
        assert_eq!(g.no_load_rtt(), Some(ms(10)));
        let start = g.steered.limit;
        // One round trip is `limit` samples: about +20% (+0.2) each.
        let mut expected = start;
        for _ in 0..5 {
            let n = g.steered.limit as usize;
            feed(&mut g, &mut now, n, 10);
            expected = expected * 1.2 + 0.2;
        }
        assert!(
            g.steered.limit > 0.9 * expected,
            "slow start: from {start} to {}, expected about {expected}",
            g.steered.limit
        );
        // The RTT doubles: slow start ends and the limit shrinks.
        let grown = g.steered.limit;
        feed(&mut g, &mut now, 300, 20);
        assert!(!g.slow_start);
        assert!(
            g.steered.limit < grown * 0.75,
            "shrank from {grown} to {}",
            g.steered.limit
        );
        // Back at the no-load RTT, growth is the gradient's: a few percent per
        // round trip, not slow start's 20%.
        let low = g.steered.limit;
        let n = g.steered.limit as usize;
        feed(&mut g, &mut now, n, 10);
        assert!(
            g.steered.limit < low * 1.1 + 1.0,
            "{low} -> {}",
            g.steered.limit
        );
    }

    #[test]
    fn app_limited_samples_do_not_grow_the_limit() {
        let (mut g, mut now) = warmed_up(starting_at(20), 10);
        let before = g.limit();
        for _ in 0..500 {
            now += ms(1);
            let sample = Sample {
                inflight: 3,
                ..at_limit(&g, 10)
            };
            g.on_sample(now, sample);
        }
        assert_eq!(g.limit(), before);
    }

    /// A sample sent well under the limit *then* is app-limited even if the limit
    /// has since fallen to meet it; and one sent at the limit then is not, even if
    /// the limit has since grown far above it.
    #[test]
    fn app_limited_is_judged_by_the_limit_when_the_request_was_sent() {
        let (mut g, mut now) = warmed_up(starting_at(20), 10);
        let before = g.steered.limit;
        now += ms(1);
        let sent_at_a_lower_limit = Sample {
            rtt: ms(10),
            inflight: 4,
            limit: 4,
            dropped: false,
        };
        g.on_sample(now, sent_at_a_lower_limit);
        assert!(
            g.steered.limit > before,
            "grew: {before} -> {}",
            g.steered.limit
        );
    }

    #[test]
    fn a_drop_cuts_once_per_round_trip() {
        let (mut g, now) = warmed_up(starting_at(20), 10);
        let before = g.steered.limit;
        let drop = Sample {
            dropped: true,
            ..at_limit(&g, 10)
        };
        g.on_sample(now + ms(100), drop);
        g.on_sample(now + ms(101), drop);
        assert!((g.steered.limit - before * 0.9).abs() < 1e-9);
        assert!(!g.slow_start, "a drop ends slow start");
    }

    /// The first probe runs at the initial limit. When that is above what the
    /// upstream can take, the probe halves until the RTT stops falling, and the
    /// limit starts again from the lowest concurrency seen queueing.
    #[test]
    fn an_initial_limit_above_capacity_is_corrected_by_the_first_probe() {
        let mut g = Gradient2::new(starting_at(40)).expect("valid");
        let mut now = t0();
        // 8 workers of 20 ms: above 8 in flight, RTT grows in proportion.
        let rtt = |inflight: usize| (20 * inflight.max(8) / 8) as u64;
        while g.no_load_rtt().is_none() {
            now += ms(1);
            let sample = at_limit(&g, rtt(g.limit()));
            g.on_sample(now, sample);
        }
        assert_eq!(g.no_load_rtt(), Some(ms(20)));
        assert!(
            g.limit() <= 10,
            "restarts from 10 (queued), not 40: {}",
            g.limit()
        );
    }

    #[test]
    fn rejects_tolerance_that_would_not_converge() {
        let bad = Gradient2Config {
            tolerance: 2.0,
            ..Default::default()
        };
        assert!(Gradient2::new(bad).is_err());
        let bad = Gradient2Config {
            probe_interval: Duration::ZERO,
            ..Default::default()
        };
        assert!(Gradient2::new(bad).is_err());
    }
}
