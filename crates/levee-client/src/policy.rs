//! `RetryPolicy`: the knobs of one retrying client, with defaults that are
//! safe for a fleet.
//!
//! The defaults answer "how hard may one client push a struggling service":
//! at most 5 attempts within 2 minutes, full-jitter exponential backoff from
//! 100 ms to 10 s, any single wait (including one a server asks for) at most
//! 60 s, 30 s per attempt, retries on 408, 429, 502, 503 and 504. The retry
//! budget and the breakers (see [`crate::Retrier`]) bound what a whole
//! process adds on top.
//!
//! This module owns the configuration and its validation. It must not hold
//! state shared between requests; [`crate::Retrier`] does.

use std::time::Duration;

use http::StatusCode;
pub use levee_policy::backoff::{Backoff, Jitter};

use crate::endpoints::FailoverOrder;
use crate::idempotency::IdempotencyKeys;

/// How one request is retried.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// The most attempts a request gets, the first included. Default 5.
    pub max_attempts: u32,
    /// The most time a request may take, waits included. Default 2 min.
    pub max_time: Duration,
    /// Time allowed for one attempt to produce response headers. Default 30 s.
    pub per_try_timeout: Option<Duration>,
    /// The longest single wait. A server that asks (with `Retry-After`) for
    /// more makes the client give up at once with a clear error instead of
    /// sleeping for an hour. Default 60 s.
    pub max_wait: Duration,
    /// The backoff used when the server gives no `Retry-After`.
    pub backoff: Backoff,
    /// The statuses worth retrying. Default 408, 429, 502, 503, 504.
    pub retry_on: Vec<StatusCode>,
    /// What to do with POST/PATCH that carry no `Idempotency-Key`.
    pub idempotency_keys: IdempotencyKeys,
    /// The order in which endpoints are tried.
    pub failover: FailoverOrder,
}

/// The statuses retried by default: RFC 9110 says these are temporary.
pub const DEFAULT_RETRY_ON: [StatusCode; 5] = [
    StatusCode::REQUEST_TIMEOUT,
    StatusCode::TOO_MANY_REQUESTS,
    StatusCode::BAD_GATEWAY,
    StatusCode::SERVICE_UNAVAILABLE,
    StatusCode::GATEWAY_TIMEOUT,
];

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            max_time: Duration::from_secs(120),
            per_try_timeout: Some(Duration::from_secs(30)),
            max_wait: Duration::from_secs(60),
            backoff: Backoff::default(),
            retry_on: DEFAULT_RETRY_ON.to_vec(),
            idempotency_keys: IdempotencyKeys::Never,
            failover: FailoverOrder::InOrder,
        }
    }
}

/// A policy that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid retry policy: {field} = {value}: {why}")]
pub struct PolicyError {
    /// The field.
    pub field: &'static str,
    /// The rejected value.
    pub value: String,
    /// What it must be instead.
    pub why: &'static str,
}

impl RetryPolicy {
    /// A policy that never retries (one attempt), keeping the timeouts.
    pub fn no_retries() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// Checks that every field can work together.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let err = |field, value: String, why| Err(PolicyError { field, value, why });
        if self.max_attempts == 0 {
            return err("max_attempts", "0".into(), "must be at least 1");
        }
        if self.max_time.is_zero() {
            return err("max_time", "0s".into(), "must be greater than zero");
        }
        if self.per_try_timeout.is_some_and(|t| t.is_zero()) {
            return err("per_try_timeout", "0s".into(), "must be greater than zero");
        }
        if self.backoff.base > self.backoff.cap {
            return err(
                "backoff.base",
                format!("{:?}", self.backoff.base),
                "must not exceed backoff.cap",
            );
        }
        if let Some(s) = self.retry_on.iter().find(|s| s.is_success()) {
            return err(
                "retry_on",
                s.to_string(),
                "must not contain a success status",
            );
        }
        Ok(())
    }

    /// Whether `status` is one this policy retries.
    pub fn retries_status(&self, status: StatusCode) -> bool {
        self.retry_on.contains(&status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_the_docs() {
        let p = RetryPolicy::default();
        p.validate().expect("defaults validate");
        assert_eq!(p.max_attempts, 5);
        assert_eq!(p.max_time, Duration::from_secs(120));
        assert_eq!(p.backoff.jitter, Jitter::Full);
        for code in [408, 429, 502, 503, 504] {
            assert!(p.retries_status(StatusCode::from_u16(code).expect("code")));
        }
        for code in [400, 401, 404, 409, 500, 501] {
            assert!(!p.retries_status(StatusCode::from_u16(code).expect("code")));
        }
    }

    #[test]
    fn rejects_nonsense() {
        let zero = RetryPolicy {
            max_attempts: 0,
            ..RetryPolicy::default()
        };
        assert_eq!(zero.validate().expect_err("zero").field, "max_attempts");
        let ok_retry = RetryPolicy {
            retry_on: vec![StatusCode::OK],
            ..RetryPolicy::default()
        };
        assert_eq!(ok_retry.validate().expect_err("200").field, "retry_on");
    }
}
