//! Exponential backoff with jitter: how long to wait before the next retry.
//!
//! This module owns the delay arithmetic only. It does not decide *whether* to
//! retry (that is the [`budget`](crate::budget), the breaker and the client's
//! classification) and it never sleeps: the caller does.
//!
//! # Why jitter
//!
//! When an outage fails many requests at once, their clients retry at once. Plain
//! exponential backoff spaces each client's attempts out, but every client that
//! failed at the same moment still comes back at the same moments — `base`, `2·base`,
//! `4·base` — so the recovering service sees synchronised waves. Adding randomness
//! spreads each wave over its whole interval. AWS's "Exponential Backoff and Jitter"
//! (Marc Brooker, 2015) simulated the choices: *full* jitter (uniform between zero
//! and the exponential ceiling) did the least total work and finished soonest, so it
//! is our default. *Equal* jitter keeps half the ceiling as a guaranteed minimum
//! wait; *decorrelated* jitter grows from the previous delay instead of the attempt
//! number; `None` is for tests and for callers that jitter elsewhere.
//!
//! A `Retry-After` from the server overrides all of this: the server knows better.
//!
//! ```
//! use std::time::Duration;
//! use levee_policy::backoff::{Backoff, Jitter};
//! use rand::{SeedableRng, rngs::StdRng};
//!
//! let backoff = Backoff { base: Duration::from_millis(100), cap: Duration::from_secs(5), jitter: Jitter::Full };
//! let mut rng = StdRng::seed_from_u64(7);
//! let mut prev = None;
//! for attempt in 0..10 {
//!     let delay = backoff.delay(attempt, prev, &mut rng);
//!     assert!(delay <= backoff.ceiling(attempt));
//!     assert!(delay <= Duration::from_secs(5));
//!     prev = Some(delay);
//! }
//! ```

use std::time::Duration;

use rand::Rng;

/// How randomness is mixed into the exponential delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Jitter {
    /// Uniform in `[0, ceiling]`: spreads retries the most. The default.
    #[default]
    Full,
    /// `ceiling/2` plus uniform in `[0, ceiling/2]`: never waits less than half.
    Equal,
    /// Uniform in `[base, 3 × previous delay]`, capped: grows from the last delay
    /// rather than from the attempt number (the first retry uses `base` as the
    /// previous delay).
    Decorrelated,
    /// Exactly the ceiling: deterministic, for tests or when the caller jitters.
    None,
}

/// An exponential backoff schedule: `min(cap, base × 2^attempt)`, jittered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first retry's delay. Default 100 ms.
    pub base: Duration,
    /// No delay ever exceeds this. Default 10 s: long enough to ride out a blip,
    /// short enough that a person waiting still sees progress.
    pub cap: Duration,
    /// How the delay is randomised. Default [`Jitter::Full`].
    pub jitter: Jitter,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(10),
            jitter: Jitter::Full,
        }
    }
}

impl Backoff {
    /// The un-jittered delay for retry number `attempt` (0 for the first retry):
    /// `min(cap, base × 2^attempt)`. Saturates instead of overflowing, so any
    /// `attempt` is fine.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt).unwrap_or(0);
        match self.base.checked_mul(factor) {
            Some(d) if factor != 0 => d.min(self.cap),
            // 2^attempt overflowed u32 or the product overflowed Duration: far past the cap.
            _ if self.base.is_zero() => Duration::ZERO,
            _ => self.cap,
        }
    }

    /// The delay before retry number `attempt` (0 for the first retry).
    ///
    /// `prev` is the delay used before the previous retry, if any; only
    /// [`Jitter::Decorrelated`] reads it. The result never exceeds `cap`.
    pub fn delay(&self, attempt: u32, prev: Option<Duration>, rng: &mut impl Rng) -> Duration {
        match self.jitter {
            Jitter::None => self.ceiling(attempt),
            Jitter::Full => uniform(Duration::ZERO, self.ceiling(attempt), rng),
            Jitter::Equal => {
                let ceiling = self.ceiling(attempt);
                let half = ceiling / 2;
                half + uniform(Duration::ZERO, ceiling - half, rng)
            }
            Jitter::Decorrelated => {
                let lo = self.base.min(self.cap);
                let prev = prev.unwrap_or(self.base);
                let hi = prev.saturating_mul(3).clamp(lo, self.cap);
                uniform(lo, hi, rng)
            }
        }
    }
}

/// Uniform in `[lo, hi]` at nanosecond resolution. Durations beyond `u64` nanoseconds
/// (584 years) are treated as that many; `lo > hi` yields `hi`.
fn uniform(lo: Duration, hi: Duration, rng: &mut impl Rng) -> Duration {
    let lo = nanos(lo);
    let hi = nanos(hi);
    if lo >= hi {
        return Duration::from_nanos(hi);
    }
    Duration::from_nanos(rng.random_range(lo..=hi))
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::{SeedableRng, rngs::StdRng};

    fn backoff(jitter: Jitter) -> Backoff {
        Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(10),
            jitter,
        }
    }

    #[test]
    fn ceiling_doubles_then_caps() {
        let b = backoff(Jitter::None);
        let got: Vec<u64> = (0..9).map(|a| b.ceiling(a).as_millis() as u64).collect();
        assert_eq!(got, [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]);
        assert_eq!(b.ceiling(31), b.cap);
        assert_eq!(b.ceiling(32), b.cap);
        assert_eq!(b.ceiling(u32::MAX), b.cap);
    }

    #[test]
    fn huge_base_and_cap_do_not_overflow() {
        let b = Backoff {
            base: Duration::MAX,
            cap: Duration::MAX,
            jitter: Jitter::Full,
        };
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(b.ceiling(5), Duration::MAX);
        let _ = b.delay(u32::MAX, Some(Duration::MAX), &mut rng);
        let d = Backoff {
            jitter: Jitter::Decorrelated,
            ..b
        };
        let _ = d.delay(3, Some(Duration::MAX), &mut rng);
    }

    #[test]
    fn equal_jitter_waits_at_least_half() {
        let b = backoff(Jitter::Equal);
        let mut rng = StdRng::seed_from_u64(2);
        for attempt in 0..20 {
            let d = b.delay(attempt, None, &mut rng);
            assert!(d >= b.ceiling(attempt) / 2 && d <= b.ceiling(attempt));
        }
    }

    #[test]
    fn full_jitter_spreads_over_the_interval() {
        // Not a statistics test, just "it is not a constant": of 200 draws for the
        // same attempt, both halves of the interval are hit.
        let b = backoff(Jitter::Full);
        let mut rng = StdRng::seed_from_u64(3);
        let draws: Vec<Duration> = (0..200).map(|_| b.delay(3, None, &mut rng)).collect();
        let half = b.ceiling(3) / 2;
        assert!(draws.iter().any(|d| *d < half));
        assert!(draws.iter().any(|d| *d > half));
    }

    #[test]
    fn decorrelated_grows_from_previous_delay() {
        let b = backoff(Jitter::Decorrelated);
        let mut rng = StdRng::seed_from_u64(4);
        let d = b.delay(0, Some(Duration::from_secs(1)), &mut rng);
        assert!(d >= b.base && d <= Duration::from_secs(3));
    }

    fn any_jitter() -> impl Strategy<Value = Jitter> {
        prop_oneof![
            Just(Jitter::Full),
            Just(Jitter::Equal),
            Just(Jitter::Decorrelated),
            Just(Jitter::None),
        ]
    }

    proptest! {
        #[test]
        fn delay_never_exceeds_cap(
            base_ms in 0u64..100_000,
            cap_ms in 0u64..1_000_000,
            attempt in any::<u32>(),
            prev_ms in proptest::option::of(0u64..u64::MAX / 2_000_000),
            jitter in any_jitter(),
            seed in any::<u64>(),
        ) {
            let b = Backoff { base: Duration::from_millis(base_ms), cap: Duration::from_millis(cap_ms), jitter };
            let mut rng = StdRng::seed_from_u64(seed);
            let d = b.delay(attempt, prev_ms.map(Duration::from_millis), &mut rng);
            prop_assert!(d <= b.cap);
            if jitter != Jitter::Decorrelated {
                prop_assert!(d <= b.ceiling(attempt));
            } else {
                prop_assert!(d >= b.base.min(b.cap));
            }
        }

        #[test]
        fn ceiling_is_monotonic(base_ms in 0u64..100_000, cap_ms in 0u64..1_000_000, attempt in 0u32..200) {
            let b = Backoff { base: Duration::from_millis(base_ms), cap: Duration::from_millis(cap_ms), jitter: Jitter::None };
            prop_assert!(b.ceiling(attempt) <= b.ceiling(attempt + 1));
        }
    }
}
