//! Per-tenant rate limits with GCRA, and the numbers the `RateLimit` headers need.
//!
//! This module owns the decision "is this tenant over its rate?" (a `429`, not a
//! `503`: the tenant is over *its* allowance, the service is fine). It stores
//! nothing: the state of a tenant is one `Instant` (its *theoretical arrival
//! time*, TAT) that the caller keeps per key, in memory or in Redis, and passes in.
//!
//! # The idea
//!
//! The Generic Cell Rate Algorithm (from ATM networks; a leaky bucket without a
//! counter or a timer) spaces requests `T = period / quota` apart and tolerates
//! arriving early by up to `τ = (burst − 1) × T`. The TAT is when the tenant's next
//! request is "due"; a request at `now` is allowed if `TAT − now ≤ τ`, and then the
//! TAT moves to `max(TAT, now) + T`. So a fresh tenant may send `burst` requests at
//! once, and then one every `T`: at most `burst + quota × window / period` in any
//! window. One comparison and one addition per request; exact; no background work.
//!
//! # The headers
//!
//! For `draft-ietf-httpapi-ratelimit-headers`: [`Gcra::policy`] gives the policy
//! (`q` = `burst` requests per `w` = `burst × T`: the time an exhausted allowance
//! takes to refill), and each [`Decision`] gives `remaining` (`r`) and `reset` (`t`,
//! when the allowance is full again). A denial's `retry_after` is exactly when the
//! next request will be allowed.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use levee_policy::gcra::{Decision, Gcra, GcraConfig};
//!
//! # #[allow(clippy::disallowed_methods)] let now = Instant::now();
//! // 10 requests a second, bursts of up to 5.
//! let gcra = Gcra::new(GcraConfig { quota: 10, period: Duration::from_secs(1), burst: 5 })?;
//! let mut tat = None; // the caller stores this per tenant
//! for expected_remaining in [4, 3, 2, 1, 0] {
//!     match gcra.check(tat, now) {
//!         Decision::Allow { new_tat, remaining, .. } => {
//!             assert_eq!(remaining, expected_remaining);
//!             tat = Some(new_tat);
//!         }
//!         Decision::Deny { .. } => unreachable!("within the burst"),
//!     }
//! }
//! let Decision::Deny { retry_after, .. } = gcra.check(tat, now) else { unreachable!() };
//! assert_eq!(retry_after, Duration::from_millis(100)); // one emission interval
//! # Ok::<(), levee_policy::ConfigError>(())
//! ```

use std::time::{Duration, Instant};

use crate::ConfigError;
use crate::error::check_nonzero;

/// The largest burst accepted (keeps `τ` well within a `Duration`).
const MAX_BURST: u32 = 1_000_000;
/// The longest period accepted.
const MAX_PERIOD: Duration = Duration::from_secs(86_400 * 365);

/// A rate: `quota` requests per `period`, with bursts of up to `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcraConfig {
    /// Requests allowed per `period`, sustained. At least 1.
    pub quota: u32,
    /// The period of the quota. Non-zero, at most a year, and at least `quota`
    /// nanoseconds.
    pub period: Duration,
    /// Requests allowed at once by a tenant that has been quiet. At least 1 (no
    /// bursting: strictly one every `period / quota`), at most 1 000 000, and
    /// refilled within a year (`burst × period / quota`).
    pub burst: u32,
}

impl GcraConfig {
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_nonzero("quota", self.quota)?;
        check_nonzero("burst", self.burst)?;
        if self.burst > MAX_BURST {
            return Err(ConfigError::new(
                "burst",
                self.burst,
                "must be at most 1000000",
            ));
        }
        if self.period > MAX_PERIOD {
            return Err(ConfigError::new(
                "period",
                self.period,
                "must be at most a year",
            ));
        }
        let emission = self.period / self.quota;
        if emission.is_zero() {
            return Err(ConfigError::new(
                "period",
                self.period,
                "must be at least quota nanoseconds",
            ));
        }
        // The refill window bounds how far ahead a TAT can be, so `TAT + T` stays
        // representable whatever the traffic.
        if emission * self.burst > MAX_PERIOD {
            return Err(ConfigError::new(
                "burst",
                self.burst,
                "burst × period / quota must be at most a year",
            ));
        }
        Ok(())
    }
}

/// What [`Gcra::check`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Send it. Store `new_tat` for the tenant.
    Allow {
        /// The tenant's new theoretical arrival time.
        new_tat: Instant,
        /// Requests the tenant may still send right now (`RateLimit`'s `r`).
        remaining: u32,
        /// When the allowance is full again, from now (`RateLimit`'s `t`).
        reset: Duration,
    },
    /// Answer 429. The tenant's stored TAT does not change.
    Deny {
        /// When the next request will be allowed, from now (`Retry-After`).
        retry_after: Duration,
        /// When the allowance is full again, from now (`RateLimit`'s `t`).
        reset: Duration,
    },
}

/// The advertised policy, for `RateLimit-Policy`: `quota` requests per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Requests in a full allowance (the burst).
    pub quota: u32,
    /// Time for an exhausted allowance to refill completely.
    pub window: Duration,
}

/// A GCRA rate limiter for one rate; shared by every tenant that has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gcra {
    /// `T`: the spacing of requests at the sustained rate.
    emission: Duration,
    /// `τ`: how early a request may be (`(burst − 1) × T`).
    tolerance: Duration,
    burst: u32,
}

impl Gcra {
    /// A limiter for `config`, or the first out-of-range field.
    pub fn new(config: GcraConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let emission = config.period / config.quota;
        Ok(Self {
            emission,
            tolerance: emission * (config.burst - 1),
            burst: config.burst,
        })
    }

    /// The policy to advertise in `RateLimit-Policy`.
    pub fn policy(&self) -> Policy {
        Policy {
            quota: self.burst,
            window: self.emission * self.burst,
        }
    }

    /// Decides on one request at `now` from a tenant whose stored TAT is `tat`
    /// (`None` for a tenant never seen, or whose entry expired).
    ///
    /// A TAT in the past is the same as `None`: the tenant has its full allowance.
    /// So the caller may drop a tenant's entry once its TAT has passed.
    pub fn check(&self, tat: Option<Instant>, now: Instant) -> Decision {
        let tat = tat.map_or(now, |tat| tat.max(now));
        let ahead = tat - now; // how far the tenant is ahead of its sustained rate
        if ahead > self.tolerance {
            return Decision::Deny {
                retry_after: ahead - self.tolerance,
                reset: ahead,
            };
        }
        let new_tat = tat + self.emission;
        let reset = ahead + self.emission;
        // Each further request moves the TAT by T; it is allowed while the TAT is
        // at most τ ahead, so `(τ + T − reset) / T` more fit right now.
        let room = (self.tolerance + self.emission)
            .saturating_sub(reset)
            .as_nanos();
        let emission = self.emission.as_nanos();
        // u64 division when it fits (always, unless bursts span centuries): u128
        // division costs as much as the rest of the check.
        let remaining = match (u64::try_from(room), u64::try_from(emission)) {
            (Ok(room), Ok(emission)) => u128::from(room / emission),
            _ => room / emission,
        };
        Decision::Allow {
            new_tat,
            remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
            reset,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ms, t0};
    use proptest::prelude::*;

    fn gcra(quota: u32, period: Duration, burst: u32) -> Gcra {
        Gcra::new(GcraConfig {
            quota,
            period,
            burst,
        })
        .expect("valid test config")
    }

    /// A tenant that sends whenever it is allowed, starting fresh at `start`:
    /// how many requests does it get through by `start + window` (inclusive)?
    fn greedy(g: &Gcra, window: Duration) -> u64 {
        let start = t0();
        let (mut now, mut tat, mut allowed) = (start, None, 0);
        while now <= start + window {
            match g.check(tat, now) {
                Decision::Allow { new_tat, .. } => {
                    tat = Some(new_tat);
                    allowed += 1;
                }
                Decision::Deny { retry_after, .. } => now += retry_after,
            }
        }
        allowed
    }

    #[test]
    fn remaining_and_reset_track_the_allowance() {
        let g = gcra(10, Duration::from_secs(1), 3);
        let now = t0();
        let Decision::Allow {
            new_tat,
            remaining,
            reset,
        } = g.check(None, now)
        else {
            panic!("fresh tenant denied")
        };
        assert_eq!((remaining, reset), (2, ms(100)));
        let Decision::Allow {
            remaining, reset, ..
        } = g.check(Some(new_tat), now)
        else {
            panic!("within burst")
        };
        assert_eq!((remaining, reset), (1, ms(200)));
        // Half an emission interval later, the allowance has not yet grown back.
        let Decision::Allow { remaining, .. } = g.check(Some(new_tat), now + ms(50)) else {
            panic!("within burst")
        };
        assert_eq!(remaining, 1);
        assert_eq!(
            g.policy(),
            Policy {
                quota: 3,
                window: ms(300)
            }
        );
    }

    #[test]
    fn a_denial_leaves_the_state_and_says_exactly_when() {
        let g = gcra(1, Duration::from_secs(2), 1);
        let now = t0();
        let Decision::Allow { new_tat, .. } = g.check(None, now) else {
            panic!("fresh")
        };
        assert_eq!(
            g.check(Some(new_tat), now + ms(500)),
            Decision::Deny {
                retry_after: ms(1500),
                reset: ms(1500)
            }
        );
        assert!(matches!(
            g.check(Some(new_tat), now + ms(2000)),
            Decision::Allow { .. }
        ));
    }

    #[test]
    fn an_old_tat_means_a_full_allowance() {
        let g = gcra(5, Duration::from_secs(1), 5);
        let now = t0();
        assert_eq!(
            g.check(Some(now), now + ms(10_000)),
            g.check(None, now + ms(10_000))
        );
    }

    #[test]
    fn rejects_out_of_range_config() {
        let ok = GcraConfig {
            quota: 10,
            period: Duration::from_secs(1),
            burst: 10,
        };
        assert!(Gcra::new(ok).is_ok());
        assert!(Gcra::new(GcraConfig { quota: 0, ..ok }).is_err());
        assert!(Gcra::new(GcraConfig { burst: 0, ..ok }).is_err());
        assert!(
            Gcra::new(GcraConfig {
                burst: 2_000_000,
                ..ok
            })
            .is_err()
        );
        assert!(
            Gcra::new(GcraConfig {
                period: Duration::from_nanos(5),
                ..ok
            })
            .is_err()
        );
        assert!(
            Gcra::new(GcraConfig {
                period: Duration::from_secs(86_400 * 366),
                ..ok
            })
            .is_err()
        );
        let year = Duration::from_secs(86_400 * 365);
        let slow_refill = GcraConfig {
            quota: 1,
            period: year,
            burst: 2,
        };
        assert!(Gcra::new(slow_refill).is_err(), "a two-year refill window");
    }

    proptest! {
        /// Exactly `burst + window / T` requests get through in a window, for a
        /// tenant that sends whenever it may.
        #[test]
        fn allows_exactly_burst_plus_rate_times_window(
            quota in 1u32..1_000,
            period_ms in 1u64..10_000,
            burst in 1u32..50,
            window_ms in 0u64..20_000,
        ) {
            let period = ms(period_ms);
            prop_assume!(period.as_nanos() >= u128::from(quota));
            let g = gcra(quota, period, burst);
            let t = g.emission.as_nanos();
            prop_assume!(ms(window_ms).as_nanos() / t <= 100_000); // keep the greedy loop short
            let expected = u64::from(burst) + (ms(window_ms).as_nanos() / t) as u64;
            prop_assert_eq!(greedy(&g, ms(window_ms)), expected);
        }

        /// `remaining` counts exactly the requests that would be allowed now.
        #[test]
        fn remaining_is_exact(burst in 1u32..30, sent in 0u32..40, wait_ms in 0u64..500) {
            let g = gcra(10, Duration::from_secs(1), burst);
            let now = t0();
            let mut tat = None;
            for _ in 0..sent {
                if let Decision::Allow { new_tat, .. } = g.check(tat, now) { tat = Some(new_tat) }
            }
            let later = now + ms(wait_ms);
            if let Decision::Allow { new_tat, remaining, .. } = g.check(tat, later) {
                let mut tat = Some(new_tat);
                for _ in 0..remaining {
                    match g.check(tat, later) {
                        Decision::Allow { new_tat, .. } => tat = Some(new_tat),
                        Decision::Deny { .. } => prop_assert!(false, "remaining overstated"),
                    }
                }
                prop_assert!(matches!(g.check(tat, later), Decision::Deny { .. }), "remaining understated");
            }
        }
    }
}
