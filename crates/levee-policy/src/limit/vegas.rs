//! [`Vegas`]: keep a small, known number of requests queued at the upstream.

use std::time::{Duration, Instant};

use super::baseline::{Steered, Step};
use super::{Bounds, Limiter, Sample};
use crate::ConfigError;
use crate::error::check_range;

/// Settings of a [`Vegas`] limiter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VegasConfig {
    /// Initial, minimum and maximum limit. Default 4, 4, 1000.
    pub bounds: Bounds,
    /// Below `alpha × log10(limit)` estimated queued requests, grow. Default 3
    /// (Netflix's).
    pub alpha: f64,
    /// Above `beta × log10(limit)` estimated queued requests, shrink. Greater than
    /// `alpha`. Default 6 (Netflix's).
    pub beta: f64,
    /// The limit is multiplied by this on a drop, at most once per round trip.
    /// Within `[0.5, 1)`. Default 0.9.
    pub backoff_ratio: f64,
    /// How long sustained load may go without a no-load RTT measurement before the
    /// limiter probes (halves its limit for ~6 RTTs). At most one day. Default 30 s.
    pub probe_interval: Duration,
}

impl Default for VegasConfig {
    fn default() -> Self {
        Self {
            bounds: Bounds::default(),
            alpha: 3.0,
            beta: 6.0,
            backoff_ratio: 0.9,
            probe_interval: Duration::from_secs(30),
        }
    }
}

impl VegasConfig {
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.bounds.validate()?;
        check_range("alpha", self.alpha, 1.0, 1000.0, "must be within [1, 1000]")?;
        check_range(
            "beta",
            self.beta,
            self.alpha + 1.0,
            2000.0,
            "must be at least alpha + 1",
        )?;
        super::check_backoff_ratio(self.backoff_ratio)?;
        super::check_probe_interval(self.probe_interval)
    }
}

/// The Vegas limiter: keep a small, known number of requests queued at the upstream.
///
/// After TCP Vegas, as adapted by Netflix concurrency-limits' `VegasLimit`. If the
/// upstream serves `C` at a time, then with `limit` in flight the excess waits in its
/// queue, and RTT grows by the same factor. So the upstream's queue can be estimated
/// from latency alone:
///
/// ```text
/// queue = limit × (1 − no_load_rtt / rtt)
/// ```
///
/// Vegas keeps that estimate between `alpha` and `beta` requests (multiples of
/// `log10(limit)`, so a large limit may queue a few more), per round trip:
///
/// | estimated queue | change per round trip |
/// | --- | --- |
/// | ≤ `log10(limit)` (nothing queues) | `+ beta × log10(limit)` |
/// | < `alpha × log10(limit)` | `+ log10(limit)` |
/// | > `beta × log10(limit)` | `− log10(limit)` |
/// | in between | none |
///
/// It settles at `C` plus a few requests, the tightest of the limiters, but its
/// thresholds are absolute: at `limit = 1000`, a 2% error in the RTT estimates
/// reads as 20 queued requests: in the simulation it kept about half the capacity
/// of a 1000-worker upstream with noisy latency (the table in the [module
/// docs](super)). It suits upstreams with steady latency
/// and modest limits; otherwise prefer [`Gradient2`](super::Gradient2), whose
/// tolerance is relative.
///
/// Differences from Netflix's version, as for Gradient2 (see the [module
/// docs](super)): changes are per round trip, as in TCP Vegas, and judge the
/// round trip's average RTT; the no-load RTT is measured at low concurrency rather
/// than being the minimum sample since the last reset (the minimum of noisy samples
/// is far below the typical no-load RTT, which shrinks the limit to a fraction of
/// capacity); a drop cuts multiplicatively, once per round trip.
#[derive(Debug, Clone)]
pub struct Vegas {
    config: VegasConfig,
    steered: Steered,
}

impl Vegas {
    /// A limiter at `bounds.initial`, or the first out-of-range setting.
    pub fn new(config: VegasConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let b = config.bounds;
        Ok(Self {
            config,
            steered: Steered::new(b, config.probe_interval),
        })
    }
}

impl Limiter for Vegas {
    fn limit(&self) -> usize {
        self.steered.limit()
    }

    fn on_sample(&mut self, now: Instant, sample: Sample) {
        let c = &self.config;
        let Step::Judge { no_load, rtt } =
            self.steered.prepare(now, sample, c.bounds, c.backoff_ratio)
        else {
            return;
        };
        let limit = self.steered.limit;
        let log = limit.log10().max(1.0);
        let queue = if rtt > 0.0 {
            limit * (1.0 - no_load / rtt)
        } else {
            0.0
        };
        let per_round_trip = if queue <= log {
            c.beta * log
        } else if queue < c.alpha * log {
            log
        } else if queue > c.beta * log {
            -log
        } else {
            return;
        };
        self.steered.limit = c.bounds.clamp(limit + per_round_trip / limit.max(1.0));
    }

    fn no_load_rtt(&self) -> Option<Duration> {
        self.steered.no_load_rtt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ms, t0};

    fn step(v: &mut Vegas, now: &mut Instant, rtt: Duration) {
        *now += ms(1);
        let inflight = v.limit();
        v.on_sample(
            *now,
            Sample {
                rtt,
                inflight,
                limit: inflight,
                dropped: false,
            },
        );
    }

    #[test]
    fn grows_without_queue_holds_in_band_and_shrinks_above_beta() {
        let config = VegasConfig {
            bounds: Bounds {
                initial: 20,
                ..Bounds::default()
            },
            ..Default::default()
        };
        let mut v = Vegas::new(config).expect("valid");
        let mut now = t0();
        while v.no_load_rtt().is_none() {
            step(&mut v, &mut now, ms(100));
        }
        let start = v.steered.limit;
        for _ in 0..20 {
            step(&mut v, &mut now, ms(100));
        }
        // One round trip (about 20 samples) with no queue: + beta × log10(~22) ≈ +8,
        // less as the limit (and so the samples per round trip) grows.
        let grown = v.steered.limit - start;
        assert!(
            (6.0..9.0).contains(&grown),
            "{} -> {}",
            start,
            v.steered.limit
        );

        // RTT such that queue = limit × (1 − 100/rtt) is 4.5 × log10: in the band.
        // The first round trip or two move the recent average over to it.
        let rtt =
            Duration::from_secs_f64(0.1 / (1.0 - 4.5 * v.steered.limit.log10() / v.steered.limit));
        for _ in 0..60 {
            step(&mut v, &mut now, rtt);
        }
        let held = v.steered.limit;
        for _ in 0..100 {
            step(&mut v, &mut now, rtt);
        }
        assert!(
            (v.steered.limit - held).abs() < 0.01,
            "held at {held}, got {}",
            v.steered.limit
        );

        for _ in 0..200 {
            step(&mut v, &mut now, ms(200)); // queue = limit / 2: far above beta
        }
        assert!(v.steered.limit < held - 5.0);
    }
}
