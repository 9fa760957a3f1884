//! [`RetryThrottle`]: gRPC's `retryThrottling` token bucket.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::ConfigError;
use crate::error::check_range;

/// Fixed-point unit: one token is this many units (gRPC allows three decimals).
const UNIT: u64 = 1000;

/// Configuration of a [`RetryThrottle`], as in a gRPC service config.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryThrottleConfig {
    /// Bucket size, within `(0, 1000]`. The bucket starts full. Default 10 (the
    /// example in gRPC's retry design, A6).
    pub max_tokens: f64,
    /// Tokens a success puts back, within `(0, max_tokens]`, three decimals.
    /// Default 0.1: ten successes undo one failure.
    pub token_ratio: f64,
}

impl Default for RetryThrottleConfig {
    fn default() -> Self {
        Self {
            max_tokens: 10.0,
            token_ratio: 0.1,
        }
    }
}

impl RetryThrottleConfig {
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_range(
            "max_tokens",
            self.max_tokens,
            0.001,
            1000.0,
            "must be within (0, 1000]",
        )?;
        check_range(
            "token_ratio",
            self.token_ratio,
            0.001,
            self.max_tokens,
            "must be within (0, max_tokens]",
        )
    }
}

/// A token bucket that stops retries when too many attempts fail.
///
/// Each failed attempt takes one token, each success returns `token_ratio`;
/// retries are allowed only while more than half the bucket remains. Lock-free:
/// one atomic integer.
#[derive(Debug)]
pub struct RetryThrottle {
    max: u64,
    ratio: u64,
    tokens: AtomicU64,
}

impl RetryThrottle {
    /// Builds a full bucket, or says which field of `config` is out of range.
    pub fn new(config: RetryThrottleConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let max = (config.max_tokens * UNIT as f64).round() as u64;
        Ok(Self {
            max,
            ratio: (config.token_ratio * UNIT as f64).round() as u64,
            tokens: AtomicU64::new(max),
        })
    }

    /// Records a successful attempt: adds `token_ratio`, up to `max_tokens`.
    pub fn on_success(&self) {
        self.update(|t| t.saturating_add(self.ratio).min(self.max));
    }

    /// Records a failed attempt (one the client would have retried): removes one token.
    pub fn on_failure(&self) {
        self.update(|t| t.saturating_sub(UNIT));
    }

    /// Whether a retry may be sent now: more than `max_tokens / 2` remain.
    pub fn allows_retry(&self) -> bool {
        self.tokens.load(Ordering::Relaxed) * 2 > self.max
    }

    /// Tokens in the bucket now, for metrics and diagnostics.
    pub fn tokens(&self) -> f64 {
        self.tokens.load(Ordering::Relaxed) as f64 / UNIT as f64
    }

    fn update(&self, f: impl Fn(u64) -> u64) {
        // A lone counter: no other memory is published with it, so Relaxed suffices.
        let _ = self
            .tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| Some(f(t)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn throttle(max_tokens: f64, token_ratio: f64) -> RetryThrottle {
        RetryThrottle::new(RetryThrottleConfig {
            max_tokens,
            token_ratio,
        })
        .expect("valid test config")
    }

    #[test]
    fn stops_retrying_at_half_and_recovers_on_successes() {
        let t = throttle(10.0, 0.5);
        assert!(t.allows_retry());
        for _ in 0..5 {
            t.on_failure();
        }
        assert_eq!(t.tokens(), 5.0);
        assert!(!t.allows_retry(), "exactly half is not more than half");
        t.on_success();
        assert!(t.allows_retry());
    }

    #[test]
    fn tokens_stay_within_zero_and_max() {
        let t = throttle(3.0, 1.0);
        for _ in 0..10 {
            t.on_failure();
        }
        assert_eq!(t.tokens(), 0.0);
        for _ in 0..10 {
            t.on_success();
        }
        assert_eq!(t.tokens(), 3.0);
    }

    #[test]
    fn rejects_out_of_range_config() {
        assert!(RetryThrottle::new(RetryThrottleConfig::default()).is_ok());
        assert!(
            RetryThrottle::new(RetryThrottleConfig {
                max_tokens: 0.0,
                token_ratio: 0.1
            })
            .is_err()
        );
        assert!(
            RetryThrottle::new(RetryThrottleConfig {
                max_tokens: 1001.0,
                token_ratio: 0.1
            })
            .is_err()
        );
        assert!(
            RetryThrottle::new(RetryThrottleConfig {
                max_tokens: 10.0,
                token_ratio: 0.0
            })
            .is_err()
        );
    }

    proptest! {
        #[test]
        fn bounded_under_any_sequence(outcomes in proptest::collection::vec(any::<bool>(), 0..500)) {
            let t = throttle(10.0, 0.1);
            for ok in outcomes {
                if ok { t.on_success() } else { t.on_failure() }
                prop_assert!((0.0..=10.0).contains(&t.tokens()));
                prop_assert_eq!(t.allows_retry(), t.tokens() > 5.0);
            }
        }
    }
}
