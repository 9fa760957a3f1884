//! An honest `Retry-After` for shed requests: how long until the queue ahead drains.
//!
//! This module owns the estimate only. It does not shed, queue or format headers:
//! the gateway reports each completion and asks for a delay when it sheds; the
//! `RetryAfter` type in `levee-http` writes it.
//!
//! # The idea
//!
//! A shed client should come back when there is room, not before (it would be shed
//! again) and not much later (capacity would go unused). If `queued` requests are
//! ahead and the upstream completes `rate` per second, room appears in about
//! `queued / rate` seconds. The rate is the *measured* completion rate, an
//! exponentially weighted event rate with a time constant of `window`, so it
//! follows the upstream as it slows or recovers.
//!
//! The estimate is clamped to `[min, max]` and then spread by up to +50% with the
//! caller's random sample, so that the clients shed in one burst do not all return in
//! the same second and make the next burst. It is rounded up to whole seconds,
//! at least 1, as `Retry-After: <delay-seconds>` requires.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use levee_policy::drain::{DrainConfig, DrainRate};
//!
//! # #[allow(clippy::disallowed_methods)] let t = Instant::now();
//! let mut drain = DrainRate::new(DrainConfig::default())?;
//! for i in 0..1000 {
//!     drain.on_complete(t + Duration::from_millis(i * 10)); // 100 completions a second
//! }
//! let now = t + Duration::from_secs(10);
//! let (min, max) = (Duration::from_secs(1), Duration::from_secs(60));
//! // 500 queued at ~100/s: about 5 s, spread to at most 7.5 s, whole seconds.
//! let after = drain.retry_after(now, 500, min, max, 0.3);
//! assert!((5..=8).contains(&after.as_secs()));
//! # Ok::<(), levee_policy::ConfigError>(())
//! ```

use std::time::{Duration, Instant};

use crate::ConfigError;
use crate::error::check_nonzero;

/// The spread added to an estimate: up to this fraction of it.
const SPREAD: f64 = 0.5;

/// How the completion rate is averaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrainConfig {
    /// Time constant of the rate average: completions this long ago weigh `1/e` of
    /// current ones. Non-zero. Default 2 s: steady enough for a few hundred requests
    /// a second, quick enough to follow an upstream that slows down.
    pub window: Duration,
}

impl Default for DrainConfig {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(2),
        }
    }
}

impl DrainConfig {
    /// Checks that `window` is non-zero.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_nonzero("window", self.window)
    }
}

/// The measured completion rate of one queue. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct DrainRate {
    tau: f64,
    /// The weighted rate at `last`, per second, before the start-up correction.
    raw: f64,
    last: Option<Instant>,
    first: Option<Instant>,
}

impl DrainRate {
    /// An estimator that has seen nothing yet.
    pub fn new(config: DrainConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            tau: config.window.as_secs_f64(),
            raw: 0.0,
            last: None,
            first: None,
        })
    }

    /// Records one completed request at `now`.
    pub fn on_complete(&mut self, now: Instant) {
        self.raw = self.decayed(now) + 1.0 / self.tau;
        self.first.get_or_insert(now);
        // Keep the later of the two: a stale `now` from another thread is counted
        // as if it happened at `last`.
        self.last = Some(self.last.map_or(now, |last| last.max(now)));
    }

    /// Completions per second around `now`; 0 before the first completion.
    pub fn rate(&self, now: Instant) -> f64 {
        let Some(first) = self.first else {
            return 0.0;
        };
        // The average assumes silence before the first completion; divide by the
        // weight actually observed so a young estimator is not biased low.
        let observed = now.saturating_duration_since(first).as_secs_f64();
        let coverage = 1.0 - (-observed / self.tau).exp();
        if coverage < 1e-3 {
            return 0.0; // a single instant: no rate yet
        }
        self.decayed(now) / coverage
    }

    /// The delay to send with a request shed at `now` with `queued` requests ahead:
    /// `queued ÷ rate`, clamped to `[min, max]`, spread by up to +50% with `jitter`
    /// (a uniform sample in `[0, 1)`), rounded up to whole seconds, at least 1 s.
    /// With no measured rate (nothing has completed), the answer is `max`.
    pub fn retry_after(
        &self,
        now: Instant,
        queued: usize,
        min: Duration,
        max: Duration,
        jitter: f64,
    ) -> Duration {
        let (lo, hi) = (min.as_secs_f64(), max.as_secs_f64().max(min.as_secs_f64()));
        let rate = self.rate(now);
        let estimate = if rate > 0.0 { queued as f64 / rate } else { hi };
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let spread = estimate.clamp(lo, hi) * (1.0 + SPREAD * jitter);
        let secs = spread.min(hi).ceil().max(lo.ceil()).max(1.0);
        Duration::from_secs(secs.min(u64::MAX as f64) as u64)
    }

    fn decayed(&self, now: Instant) -> f64 {
        match self.last {
            Some(last) => {
                let dt = now.saturating_duration_since(last).as_secs_f64();
                self.raw * (-dt / self.tau).exp()
            }
            None => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ms, t0};
    use proptest::prelude::*;

    fn drain() -> DrainRate {
        DrainRate::new(DrainConfig::default()).expect("valid")
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn rate_converges_to_the_true_rate_and_follows_a_slowdown() {
        let mut d = drain();
        let t = t0();
        for i in 0..2000 {
            d.on_complete(t + ms(i * 5)); // 200/s for 10 s
        }
        let r = d.rate(t + ms(10_000));
        assert!((r - 200.0).abs() < 10.0, "{r}");
        for i in 0..200 {
            d.on_complete(t + ms(10_000 + i * 50)); // then 20/s for 10 s
        }
        let r = d.rate(t + ms(20_000));
        assert!((r - 20.0).abs() < 3.0, "{r}");
        let r = d.rate(t + ms(40_000));
        assert!(r < 0.01, "silence decays the rate: {r}");
    }

    #[test]
    fn young_estimator_is_not_biased_low() {
        let mut d = drain();
        let t = t0();
        for i in 0..50 {
            d.on_complete(t + ms(i * 10)); // 100/s for half a second
        }
        let r = d.rate(t + ms(500));
        assert!((r - 100.0).abs() < 15.0, "{r}");
    }

    #[test]
    fn nothing_completed_means_max() {
        let d = drain();
        assert_eq!(d.retry_after(t0(), 10, secs(1), secs(30), 0.0), secs(30));
    }

    #[test]
    fn estimate_is_queue_over_rate_and_spread_upwards() {
        let mut d = drain();
        let t = t0();
        for i in 0..1000 {
            d.on_complete(t + ms(i * 10));
        }
        let now = t + ms(10_000);
        // 1000 queued at ~100/s: ~10 s (the rate is an estimate, so 10 or 11 once
        // rounded up), spread by up to half again.
        let at_least = d.retry_after(now, 1000, secs(1), secs(60), 0.0);
        assert!((10..=11).contains(&at_least.as_secs()), "{at_least:?}");
        let spread = d.retry_after(now, 1000, secs(1), secs(60), 0.999);
        assert!((15..=16).contains(&spread.as_secs()), "{spread:?}");
        assert_eq!(d.retry_after(now, 0, secs(1), secs(60), 0.0), secs(1));
        assert_eq!(
            d.retry_after(now, 100_000, secs(1), secs(60), 0.5),
            secs(60)
        );
    }

    proptest! {
        #[test]
        fn always_whole_seconds_within_bounds(
            completions in proptest::collection::vec(0u64..2_000, 0..100),
            queued in 0usize..1_000_000,
            min_ms in 0u64..10_000,
            extra_ms in 0u64..100_000,
            jitter in -1.0f64..2.0,
            probe_ms in 0u64..100_000,
        ) {
            let mut d = drain();
            let t = t0();
            let mut at = 0;
            for gap in completions {
                at += gap;
                d.on_complete(t + ms(at));
            }
            let (min, max) = (ms(min_ms), ms(min_ms + extra_ms));
            let got = d.retry_after(t + ms(at + probe_ms), queued, min, max, jitter);
            prop_assert_eq!(got.subsec_nanos(), 0);
            prop_assert!(got >= secs(1));
            prop_assert!(got.as_secs_f64() >= min.as_secs_f64().ceil());
            prop_assert!(got.as_secs_f64() <= max.as_secs_f64().ceil().max(min.as_secs_f64().ceil()).max(1.0));
        }

        #[test]
        fn more_queued_never_means_sooner(queued in 0usize..100_000, more in 0usize..100_000, jitter in 0.0f64..1.0) {
            let mut d = drain();
            let t = t0();
            for i in 0..300 {
                d.on_complete(t + ms(i * 7));
            }
            let now = t + ms(2_100);
            let a = d.retry_after(now, queued, secs(1), secs(120), jitter);
            let b = d.retry_after(now, queued + more, secs(1), secs(120), jitter);
            prop_assert!(a <= b);
        }
    }
}
