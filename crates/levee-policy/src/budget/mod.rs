//! Retry budgets: retries allowed as a fraction of requests, plus a small floor per
//! second, shared by every request of one client (or one gateway route).
//!
//! This module owns the accounting only. It does not decide whether a failure is
//! retryable, how long to wait ([`backoff`](crate::backoff)) or whether the endpoint
//! is healthy ([`breaker`](crate::breaker)).
//!
//! # Why budgets and not "max 3 retries"
//!
//! A per-request retry cap multiplies load exactly when the service can least take
//! it: with three retries, a service that starts failing everything receives four
//! times its traffic, from every client, until it is dead for good. A budget caps
//! the *fleet-wide* ratio instead: with `retry_ratio = 0.2`, retries can add at most
//! 20% to the traffic a client sends, however many requests fail — a retry storm
//! cannot happen. The floor (`min_per_sec`) lets a client that sends little still
//! retry the occasional blip.
//!
//! # Which budget
//!
//! [`TpsBudget`] is the default (Finagle's `RetryBudget`, tower's `TpsBudget`): every
//! original request deposits `retry_ratio` of a retry, every retry withdraws one, and
//! both expire after `ttl`. It bounds amplification at `1 + retry_ratio` whatever the
//! failure pattern, needs no success/failure signal (so a timeout, a 503 and a reset
//! are treated alike), and forgets the past after `ttl`, so a client recovers from
//! an outage as soon as the window rolls over.
//!
//! [`RetryThrottle`] is gRPC's `retryThrottling` token bucket, offered for parity with
//! gRPC service configs: failures drain tokens, successes refill them slowly, and
//! retries stop while the bucket is at most half full. It reacts to the *failure
//! rate* rather than the request volume and has no notion of time, so it stays shut
//! after an outage until successes refill it.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use levee_policy::budget::{TpsBudget, TpsBudgetConfig};
//!
//! # #[allow(clippy::disallowed_methods)] let now = Instant::now();
//! let config = TpsBudgetConfig { ttl: Duration::from_secs(10), min_per_sec: 0, retry_ratio: 0.5 };
//! let budget = TpsBudget::new(config)?;
//! for _ in 0..4 {
//!     budget.deposit(now); // four requests: two retries' worth
//! }
//! assert!(budget.try_withdraw(now));
//! assert!(budget.try_withdraw(now));
//! assert!(!budget.try_withdraw(now)); // the third retry would exceed 50%
//! # Ok::<(), levee_policy::ConfigError>(())
//! ```

mod throttle;
mod tps;

pub use throttle::{RetryThrottle, RetryThrottleConfig};
pub use tps::{TpsBudget, TpsBudgetConfig};
