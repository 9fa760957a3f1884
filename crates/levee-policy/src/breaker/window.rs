//! Success and failure counts over a rolling time window, kept as ten buckets.

use std::time::{Duration, Instant};

const BUCKETS: usize = 10;

/// Outcomes counted over the last `window` (to a tenth of it).
#[derive(Debug, Clone)]
pub(crate) struct RollingCounts {
    bucket_len: Duration,
    /// `(successes, failures)` per bucket.
    buckets: [(u32, u32); BUCKETS],
    current: usize,
    started: Option<Instant>,
}

impl RollingCounts {
    /// `window` must be non-zero (the breaker's config validation ensures it).
    pub(crate) fn new(window: Duration) -> Self {
        Self {
            bucket_len: (window / BUCKETS as u32).max(Duration::from_nanos(1)),
            buckets: [(0, 0); BUCKETS],
            current: 0,
            started: None,
        }
    }

    /// Counts one outcome at `now`.
    pub(crate) fn record(&mut self, now: Instant, failed: bool) {
        self.advance(now);
        let bucket = &mut self.buckets[self.current];
        if failed {
            bucket.1 = bucket.1.saturating_add(1);
        } else {
            bucket.0 = bucket.0.saturating_add(1);
        }
    }

    /// `(total, failures)` in the window as of the last `record`.
    pub(crate) fn totals(&self) -> (u64, u64) {
        self.buckets.iter().fold((0, 0), |(total, failed), (s, f)| {
            (
                total + u64::from(*s) + u64::from(*f),
                failed + u64::from(*f),
            )
        })
    }

    /// Forgets everything (the breaker starts each closed period afresh).
    pub(crate) fn clear(&mut self) {
        self.buckets = [(0, 0); BUCKETS];
        self.started = None;
    }

    fn advance(&mut self, now: Instant) {
        let started = *self.started.get_or_insert(now);
        let elapsed = now.saturating_duration_since(started);
        if elapsed < self.bucket_len {
            return;
        }
        let passed = elapsed.as_nanos() / self.bucket_len.as_nanos();
        for _ in 0..passed.min(BUCKETS as u128) {
            self.current = (self.current + 1) % BUCKETS;
            self.buckets[self.current] = (0, 0);
        }
        self.started = Some(match u32::try_from(passed) {
            Ok(n) if (n as usize) < BUCKETS => started + self.bucket_len * n,
            _ => now,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ms, t0};

    #[test]
    fn counts_expire_a_window_later() {
        let mut w = RollingCounts::new(ms(1000));
        let start = t0();
        w.record(start, true);
        w.record(start + ms(500), false);
        assert_eq!(w.totals(), (2, 1));
        w.record(start + ms(1000), false);
        assert_eq!(w.totals(), (2, 0), "the failure at 0 ms left the window");
        w.record(start + ms(60_000), true);
        assert_eq!(w.totals(), (1, 1));
        w.clear();
        assert_eq!(w.totals(), (0, 0));
    }
}
