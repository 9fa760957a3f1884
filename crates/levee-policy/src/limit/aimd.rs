//! [`Aimd`]: additive increase, multiplicative decrease, driven by drops.

use std::time::{Duration, Instant};

use super::{Bounds, CutOncePerRtt, Limiter, Sample};
use crate::ConfigError;

/// Settings of an [`Aimd`] limiter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AimdConfig {
    /// Initial, minimum and maximum limit. Default 4, 4, 1000.
    pub bounds: Bounds,
    /// The limit is multiplied by this on a drop, at most once per round trip.
    /// Within `[0.5, 1)`. Default 0.9 (Netflix's; TCP's 0.5 is too harsh when one
    /// drop among hundreds of requests in flight is routine).
    pub backoff_ratio: f64,
    /// A request slower than this counts as dropped. Default 5 s.
    pub timeout: Duration,
}

impl Default for AimdConfig {
    fn default() -> Self {
        Self {
            bounds: Bounds::default(),
            backoff_ratio: 0.9,
            timeout: Duration::from_secs(5),
        }
    }
}

impl AimdConfig {
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.bounds.validate()?;
        super::check_backoff_ratio(self.backoff_ratio)
    }
}

/// The AIMD limiter: additive increase, multiplicative decrease, driven by drops.
///
/// TCP Reno's rule applied to requests: grow the limit by one per round trip while
/// requests succeed, cut it by `backoff_ratio` when one is dropped or slower than
/// `timeout`. Until the first cut the limit grows by one per *sample* ("slow
/// start": it doubles every round trip), so it finds a large capacity quickly.
///
/// AIMD reads no latency below `timeout`, so it settles just below where the
/// upstream starts failing — with the upstream's queue full. Use it when latency is
/// too noisy to read but the upstream sheds (503s) when full; otherwise prefer
/// [`Gradient2`](super::Gradient2).
#[derive(Debug, Clone)]
pub struct Aimd {
    config: AimdConfig,
    limit: f64,
    slow_start: bool,
    cut: CutOncePerRtt,
}

impl Aimd {
    /// A limiter at `bounds.initial`, or the first out-of-range setting.
    pub fn new(config: AimdConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            config,
            limit: config.bounds.initial as f64,
            slow_start: true,
            cut: CutOncePerRtt::default(),
        })
    }
}

impl Limiter for Aimd {
    fn limit(&self) -> usize {
        self.limit as usize
    }

    fn on_sample(&mut self, now: Instant, sample: Sample) {
        if sample.dropped || sample.rtt > self.config.timeout {
            if self.cut.try_cut(now, sample.rtt) {
                self.limit = self
                    .config
                    .bounds
                    .clamp(self.limit * self.config.backoff_ratio);
                self.slow_start = false;
            }
            return;
        }
        // Only grow when the limit is actually in use; an idle limiter learns nothing.
        if sample.inflight * 2 < sample.limit {
            return;
        }
        let step = if self.slow_start {
            1.0
        } else {
            1.0 / self.limit
        };
        self.limit = self.config.bounds.clamp(self.limit + step);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ms, t0};

    /// A success sent with `inflight` in flight, at the limit.
    fn ok(rtt: u64, inflight: usize) -> Sample {
        Sample {
            rtt: ms(rtt),
            inflight,
            limit: inflight,
            dropped: false,
        }
    }

    fn at_20() -> AimdConfig {
        AimdConfig {
            bounds: Bounds {
                initial: 20,
                ..Bounds::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn slow_start_then_one_cut_per_round_trip_then_additive() {
        let mut a = Aimd::new(at_20()).expect("valid");
        let start = t0();
        for i in 0..10 {
            a.on_sample(start + ms(i), ok(10, 20));
        }
        assert_eq!(a.limit(), 30, "slow start: +1 per sample");
        let drop = Sample {
            rtt: ms(10),
            inflight: 30,
            limit: 30,
            dropped: true,
        };
        a.on_sample(start + ms(100), drop);
        assert_eq!(a.limit(), 27);
        a.on_sample(start + ms(105), drop); // sent at 95, before the cut at 100
        assert_eq!(
            a.limit(),
            27,
            "a second drop from the same round trip is not news"
        );
        a.on_sample(start + ms(120), drop); // sent at 110, after the cut
        assert_eq!(a.limit(), 24);
        for i in 0..24 {
            a.on_sample(start + ms(200 + i), ok(10, 24));
        }
        assert_eq!(
            a.limit(),
            25,
            "congestion avoidance: about +1 per round trip"
        );
    }

    #[test]
    fn timeouts_count_as_drops_and_idle_does_not_grow() {
        let config = AimdConfig {
            timeout: ms(100),
            ..at_20()
        };
        let mut a = Aimd::new(config).expect("valid");
        a.on_sample(t0() + ms(500), ok(200, 20));
        assert_eq!(a.limit(), 18);
        a.on_sample(t0() + ms(600), ok(10, 3));
        assert_eq!(a.limit(), 18);
    }
}
