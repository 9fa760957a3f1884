//! Admission, retry and failure policies as pure algorithms.
//!
//! This crate owns the *decisions* that the gateway (`levee-proxy`) and the client
//! (`levee-client`) share: how long to back off, whether a retry is within budget,
//! whether a circuit is open, how much concurrency an upstream can take, whether a
//! wait queue is congested, what `Retry-After` to promise, and whether a tenant is
//! over its rate.
//!
//! It must not do I/O, read the clock, spawn, block or pick random numbers on its
//! own: `now` is always an argument (a [`std::time::Instant`] the caller read, so
//! tests can simulate time exactly; [`status`] takes a `Duration` since an origin
//! the caller keeps, so that its times can be stored) and randomness is always an
//! argument (a [`rand::Rng`] or a sample in `[0, 1)`). Every algorithm here is
//! therefore deterministic under test.
//!
//! | module | decision |
//! | --- | --- |
//! | [`admission`] | forward, queue or shed a request: the route's admission state machine |
//! | [`backoff`] | how long to wait before retry number *n* (exponential, jittered) |
//! | [`budget`] | whether a retry may be spent (a fraction of requests plus a floor per second) |
//! | [`breaker`] | whether an endpoint may be tried (closed, open, half-open) |
//! | [`limit`] | how many requests may be in flight to an upstream (adaptive, fixed, AIMD, Gradient2, Vegas) |
//! | [`codel`] | whether the gateway's wait queue is congested (switch to LIFO) |
//! | [`drain`] | the `Retry-After` to give a shed request (queued work ÷ drain rate) |
//! | [`gcra`] | whether a tenant is over its rate (429), with the `RateLimit` header values |
//! | [`status`] | a component's status-page level (with hysteresis), and when to open, update or resolve its automatic incident |
//!
//! Types that are shared by many requests ([`budget::TpsBudget`],
//! [`budget::RetryThrottle`]) take `&self` and synchronise internally; the others
//! take `&mut self` and leave locking to their owner, which holds one per endpoint,
//! route or tenant.

pub mod admission;
pub mod backoff;
pub mod breaker;
pub mod budget;
pub mod codel;
pub mod drain;
mod error;
pub mod gcra;
pub mod limit;
pub mod status;

pub use error::ConfigError;

#[cfg(test)]
mod testing;
