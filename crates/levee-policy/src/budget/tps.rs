//! [`TpsBudget`]: deposits per request, withdrawals per retry, both expiring after
//! `ttl`, over a reserve of `min_per_sec × ttl` retries.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::ConfigError;
use crate::error::{check_nonzero, check_range};

/// Fixed-point unit: one retry is this many units, so fractional deposits are exact
/// to a millionth of a retry.
const UNIT: i64 = 1_000_000;
/// The window is kept as this many slots; a deposit expires between
/// `ttl × (SLOTS-1)/SLOTS` and `ttl` after it was made.
const SLOTS: usize = 10;

/// Configuration of a [`TpsBudget`]. The defaults are Finagle's and tower's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TpsBudgetConfig {
    /// How long a deposit or a withdrawal counts. Within `[1 s, 60 s]`. Default 10 s.
    pub ttl: Duration,
    /// Retries per second allowed even with no requests, so a quiet client can still
    /// retry a blip. Default 10.
    pub min_per_sec: u32,
    /// Retries allowed per original request, on top of the floor. Within `[0, 1000]`.
    /// Default 0.2: retries add at most 20% load.
    pub retry_ratio: f64,
}

impl Default for TpsBudgetConfig {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(10),
            min_per_sec: 10,
            retry_ratio: 0.2,
        }
    }
}

impl TpsBudgetConfig {
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.ttl < Duration::from_secs(1) || self.ttl > Duration::from_secs(60) {
            return Err(ConfigError::new(
                "ttl",
                self.ttl,
                "must be within [1s, 60s]",
            ));
        }
        check_range(
            "retry_ratio",
            self.retry_ratio,
            0.0,
            1000.0,
            "must be within [0, 1000]",
        )
    }
}

/// A retry budget shared by all requests of one client: at most
/// `min_per_sec × ttl + retry_ratio × (requests in the last ttl)` retries per `ttl`.
///
/// All methods take `&self`; the state sits behind a mutex held for a few
/// arithmetic operations and never across anything else.
#[derive(Debug)]
pub struct TpsBudget {
    /// Units each original request adds.
    deposit: i64,
    /// Units always available, whatever the traffic.
    reserve: i64,
    slot_len: Duration,
    state: Mutex<Slots>,
}

#[derive(Debug)]
struct Slots {
    /// Net units (deposits minus withdrawals) per slot of the window.
    net: [i64; SLOTS],
    /// Index of the slot `started` belongs to.
    current: usize,
    /// When the current slot began; `None` until the first call.
    started: Option<Instant>,
}

impl TpsBudget {
    /// Builds a budget, or says which field of `config` is out of range.
    pub fn new(config: TpsBudgetConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        check_nonzero("ttl", config.ttl)?;
        let reserve = f64::from(config.min_per_sec) * config.ttl.as_secs_f64() * UNIT as f64;
        Ok(Self {
            deposit: (config.retry_ratio * UNIT as f64).round() as i64,
            reserve: reserve as i64,
            slot_len: config.ttl / SLOTS as u32,
            state: Mutex::new(Slots {
                net: [0; SLOTS],
                current: 0,
                started: None,
            }),
        })
    }

    /// Records one original (non-retry) request, earning `retry_ratio` of a retry.
    pub fn deposit(&self, now: Instant) {
        let mut slots = self.lock(now);
        let current = slots.current;
        slots.net[current] = slots.net[current].saturating_add(self.deposit);
    }

    /// Spends one retry if the budget has one; `false` means "do not retry".
    pub fn try_withdraw(&self, now: Instant) -> bool {
        let mut slots = self.lock(now);
        if self.units(&slots) < UNIT {
            return false;
        }
        let current = slots.current;
        slots.net[current] = slots.net[current].saturating_sub(UNIT);
        true
    }

    /// The retries available now, for metrics and diagnostics. Fractional; may be
    /// negative for a moment when deposits expire before the retries they paid for.
    pub fn balance(&self, now: Instant) -> f64 {
        let slots = self.lock(now);
        self.units(&slots) as f64 / UNIT as f64
    }

    fn units(&self, slots: &Slots) -> i64 {
        slots
            .net
            .iter()
            .fold(self.reserve, |sum, n| sum.saturating_add(*n))
    }

    /// Locks the state and expires the slots that fell out of the window by `now`.
    fn lock(&self, now: Instant) -> std::sync::MutexGuard<'_, Slots> {
        // The state is plain integers, consistent after every statement: a panic
        // elsewhere while holding the lock cannot leave it half-updated.
        let mut slots = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let started = *slots.started.get_or_insert(now);
        // A caller may pass a `now` read just before another thread's later one:
        // treat it as the current slot rather than going back in time.
        let elapsed = now.saturating_duration_since(started);
        if elapsed >= self.slot_len {
            let passed = elapsed.as_nanos() / self.slot_len.as_nanos();
            for _ in 0..passed.min(SLOTS as u128) {
                slots.current = (slots.current + 1) % SLOTS;
                let current = slots.current;
                slots.net[current] = 0;
            }
            // `passed` fits in u32 whenever it is below SLOTS; beyond that, all
            // slots are empty and the phase no longer matters.
            slots.started = Some(match u32::try_from(passed) {
                Ok(n) if (n as usize) < SLOTS => started + self.slot_len * n,
                _ => now,
            });
        }
        slots
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ms, t0};
    use proptest::prelude::*;

    fn budget(min_per_sec: u32, retry_ratio: f64) -> TpsBudget {
        TpsBudget::new(TpsBudgetConfig {
            ttl: Duration::from_secs(10),
            min_per_sec,
            retry_ratio,
        })
        .expect("valid test config")
    }

    #[test]
    fn floor_allows_min_per_sec_times_ttl_without_requests() {
        let b = budget(2, 0.0);
        let now = t0();
        for _ in 0..20 {
            assert!(b.try_withdraw(now));
        }
        assert!(!b.try_withdraw(now), "floor is 2/s × 10 s = 20 retries");
        assert_eq!(b.balance(now), 0.0);
    }

    #[test]
    fn deposits_earn_fractional_retries() {
        let b = budget(0, 0.1);
        let now = t0();
        for _ in 0..9 {
            b.deposit(now);
        }
        assert!(!b.try_withdraw(now), "9 × 0.1 is less than one retry");
        b.deposit(now);
        assert!(b.try_withdraw(now));
        assert!(!b.try_withdraw(now));
    }

    #[test]
    fn deposits_and_withdrawals_expire_after_ttl() {
        let b = budget(0, 1.0);
        let start = t0();
        for _ in 0..5 {
            b.deposit(start);
        }
        assert!(b.try_withdraw(start + ms(8_000)));
        assert_eq!(b.balance(start + ms(9_999)), 4.0);
        assert_eq!(
            b.balance(start + ms(10_000)),
            -1.0,
            "deposits expired before the retry they paid for"
        );
        assert_eq!(b.balance(start + ms(17_999)), -1.0);
        assert_eq!(b.balance(start + ms(18_000)), 0.0, "the retry expired too");
        assert!(!b.try_withdraw(start + ms(18_000)));
    }

    #[test]
    fn a_long_idle_gap_clears_everything() {
        let b = budget(1, 1.0);
        let start = t0();
        b.deposit(start);
        assert!(b.try_withdraw(start));
        assert_eq!(b.balance(start + Duration::from_secs(86_400 * 365)), 10.0);
    }

    #[test]
    fn stale_now_does_not_rewind() {
        let b = budget(0, 1.0);
        let start = t0();
        b.deposit(start + ms(5_000));
        b.deposit(start); // an older `now` from a slower thread
        assert_eq!(b.balance(start + ms(5_000)), 2.0);
    }

    #[test]
    fn rejects_out_of_range_config() {
        let bad = |c: TpsBudgetConfig| TpsBudget::new(c).is_err();
        let ok = TpsBudgetConfig::default();
        assert!(TpsBudget::new(ok).is_ok());
        assert!(bad(TpsBudgetConfig { ttl: ms(999), ..ok }));
        assert!(bad(TpsBudgetConfig {
            ttl: Duration::from_secs(61),
            ..ok
        }));
        assert!(bad(TpsBudgetConfig {
            retry_ratio: -0.1,
            ..ok
        }));
        assert!(bad(TpsBudgetConfig {
            retry_ratio: f64::NAN,
            ..ok
        }));
    }

    #[test]
    fn shared_across_threads() {
        let b = std::sync::Arc::new(budget(0, 0.5));
        let now = t0();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let b = b.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        b.deposit(now);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("depositing thread does not panic");
        }
        assert_eq!(b.balance(now), 2000.0);
    }

    proptest! {
        /// However requests and retries interleave, retries within any one window
        /// never exceed the floor plus `retry_ratio` × the requests of that window
        /// and the one before it (a deposit lives at most one ttl).
        #[test]
        fn retries_are_bounded_by_ratio_and_floor(
            ops in proptest::collection::vec((0u64..300, any::<bool>()), 1..2_000),
            ratio in 0.0f64..2.0,
            floor in 0u32..5,
        ) {
            let b = budget(floor, ratio);
            let start = t0();
            let mut at = 0u64;
            let (mut requests, mut retries) = (0u64, 0u64);
            for (gap_ms, is_retry) in ops {
                at += gap_ms;
                let now = start + ms(at);
                if is_retry {
                    if b.try_withdraw(now) { retries += 1; }
                } else {
                    b.deposit(now);
                    requests += 1;
                }
                prop_assert!(b.balance(now) >= -(retries as f64));
            }
            let windows = at / 10_000 + 1;
            let bound = f64::from(floor) * 10.0 * windows as f64 + ratio * requests as f64 + 0.01;
            prop_assert!(retries as f64 <= bound, "retries {} > bound {}", retries, bound);
        }

        /// With no traffic at all, the budget refills to exactly the floor after one ttl.
        #[test]
        fn refills_to_floor(floor in 0u32..50, spent in 0u32..500) {
            let b = budget(floor, 0.0);
            let start = t0();
            for _ in 0..spent { b.try_withdraw(start); }
            prop_assert_eq!(b.balance(start + Duration::from_secs(10)), f64::from(floor) * 10.0);
        }
    }
}
