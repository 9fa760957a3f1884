//! A circuit breaker: stop sending to an endpoint that keeps failing, and probe it
//! now and then until it recovers.
//!
//! This module owns the state machine and nothing else. It does not classify
//! responses (the caller reports success or failure), read the clock, or lock: the
//! owner (one breaker per endpoint in the gateway, per origin in the client) holds
//! it behind its own mutex and passes `now`.
//!
//! # States
//!
//! ```text
//!            N consecutive failures, or
//!            failure ratio ≥ r over ≥ m requests in the window
//!   Closed ───────────────────────────────────────────────▶ Open { until }
//!     ▲                                                     │   ▲
//!     │ all probes succeeded                   now ≥ until  │   │ a probe failed
//!     │                                                     ▼   │ (open longer)
//!     └──────────────────────────────────────────── HalfOpen { in_flight, .. }
//! ```
//!
//! Each trip opens the breaker for `open_base × 2^(trips-1)`, capped at `open_max`,
//! so an endpoint that keeps failing its probes is probed less and less often; the
//! count of trips resets when the breaker closes. While open, [`Breaker::try_acquire`]
//! returns [`BreakerOpen::retry_in`], the time to the next recovery probe: exactly
//! what a `503`'s `Retry-After` should say.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use levee_policy::breaker::{Breaker, BreakerConfig, BreakerState};
//!
//! # #[allow(clippy::disallowed_methods)] let now = Instant::now();
//! let mut breaker = Breaker::new(BreakerConfig { consecutive_failures: 2, ..Default::default() })?;
//! breaker.on_failure(now);
//! breaker.on_failure(now);
//! let open = breaker.try_acquire(now).unwrap_err();
//! assert_eq!(open.retry_in, Duration::from_secs(5));
//! // Five seconds later, one request may probe the endpoint.
//! assert!(breaker.try_acquire(now + open.retry_in).is_ok());
//! assert!(matches!(breaker.state(), BreakerState::HalfOpen { in_flight: 1, .. }));
//! # Ok::<(), levee_policy::ConfigError>(())
//! ```

mod window;

use std::time::{Duration, Instant};

use crate::ConfigError;
use crate::backoff::{Backoff, Jitter};
use crate::error::{check_nonzero, check_range};
use window::RollingCounts;

/// The longest `open_max` accepted: long enough for any real outage, short enough
/// that `now + open_max` cannot overflow an `Instant`.
const MAX_OPEN: Duration = Duration::from_secs(86_400);

/// When a breaker trips and how it recovers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    /// Trip after this many failures in a row, whatever the window says. `0`
    /// disables this rule. Default 5 (Envoy's `consecutive_5xx`).
    pub consecutive_failures: u32,
    /// Trip when at least this fraction of the window's outcomes failed, within
    /// `(0, 1]`. Default 0.5.
    pub failure_ratio: f64,
    /// The ratio rule needs at least this many outcomes in the window, so three
    /// requests of which two failed do not trip a busy endpoint. `0` disables the
    /// ratio rule. Default 20.
    pub min_requests: u32,
    /// The rolling window for the ratio rule. Non-zero. Default 10 s.
    pub window: Duration,
    /// How long the first trip stays open. Non-zero. Default 5 s.
    pub open_base: Duration,
    /// The longest a trip stays open, however many trips in a row; at most one
    /// day. Default 60 s.
    pub open_max: Duration,
    /// Requests admitted in half-open; all must succeed to close. Non-zero. Default 3.
    pub probes: u32,
    /// A probe that has not reported by then is presumed lost (its caller forgot
    /// to report), and new probes are admitted. Default 30 s.
    pub probe_timeout: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            failure_ratio: 0.5,
            min_requests: 20,
            window: Duration::from_secs(10),
            open_base: Duration::from_secs(5),
            open_max: Duration::from_secs(60),
            probes: 3,
            probe_timeout: Duration::from_secs(30),
        }
    }
}

impl BreakerConfig {
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_range(
            "failure_ratio",
            self.failure_ratio,
            f64::MIN_POSITIVE,
            1.0,
            "must be within (0, 1]",
        )?;
        check_nonzero("window", self.window)?;
        check_nonzero("open_base", self.open_base)?;
        check_nonzero("probes", self.probes)?;
        check_nonzero("probe_timeout", self.probe_timeout)?;
        if self.open_max < self.open_base {
            return Err(ConfigError::new(
                "open_max",
                self.open_max,
                "must be at least open_base",
            ));
        }
        if self.open_max > MAX_OPEN {
            return Err(ConfigError::new(
                "open_max",
                self.open_max,
                "must be at most one day",
            ));
        }
        Ok(())
    }
}

/// Where the breaker is. Returned by [`Breaker::state`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Healthy: every request is admitted, outcomes are counted.
    Closed,
    /// Tripped: no request is admitted before `until`; the first one at or after
    /// `until` becomes a probe and moves the breaker to half-open.
    Open {
        /// When the next recovery probe may go.
        until: Instant,
    },
    /// Probing: up to `probes` requests are admitted to test the endpoint; all
    /// others are rejected until they report.
    HalfOpen {
        /// Probes admitted and not yet reported.
        in_flight: u32,
        /// Probes that reported success; at `probes`, the breaker closes.
        succeeded: u32,
        /// When the breaker became half-open (for the lost-probe timeout).
        since: Instant,
    },
}

/// The breaker is open: do not send; try again in `retry_in`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker is open; next probe in {retry_in:?}")]
pub struct BreakerOpen {
    /// Time until the next request may probe the endpoint. Never zero.
    pub retry_in: Duration,
}

/// A per-endpoint circuit breaker. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Breaker {
    config: BreakerConfig,
    state: BreakerState,
    /// Failures in a row while closed.
    consecutive: u32,
    /// Trips since the breaker was last closed by successful probes.
    trips: u32,
    window: RollingCounts,
}

impl Breaker {
    /// A closed breaker, or the first out-of-range field of `config`.
    pub fn new(config: BreakerConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            config,
            state: BreakerState::Closed,
            consecutive: 0,
            trips: 0,
            window: RollingCounts::new(config.window),
        })
    }

    /// Asks to send one request at `now`. `Ok` admits it (and, when half-open,
    /// makes it a probe); the caller must then report [`on_success`](Self::on_success)
    /// or [`on_failure`](Self::on_failure).
    pub fn try_acquire(&mut self, now: Instant) -> Result<(), BreakerOpen> {
        match &mut self.state {
            BreakerState::Closed => Ok(()),
            BreakerState::Open { until } if now < *until => Err(BreakerOpen {
                retry_in: *until - now,
            }),
            BreakerState::Open { .. } => {
                self.state = BreakerState::HalfOpen {
                    in_flight: 1,
                    succeeded: 0,
                    since: now,
                };
                Ok(())
            }
            BreakerState::HalfOpen {
                in_flight,
                succeeded,
                since,
            } => {
                if now.saturating_duration_since(*since) >= self.config.probe_timeout {
                    // Probes this old are lost, not slow: start the probing again.
                    *in_flight = 0;
                    *since = now;
                }
                if *in_flight + *succeeded < self.config.probes {
                    *in_flight += 1;
                    Ok(())
                } else {
                    // Probes are under way; if they fail, the next comes no sooner
                    // than this, and if they succeed, sooner is fine too.
                    Err(BreakerOpen {
                        retry_in: self.config.open_base,
                    })
                }
            }
        }
    }

    /// When a request could be admitted, asked at `now` without admitting
    /// one: `None` if [`try_acquire`](Self::try_acquire) would admit it now,
    /// else the time until it would. Takes no probe and changes nothing, so
    /// computing a `Retry-After` cannot starve a recovering endpoint.
    pub fn retry_in(&self, now: Instant) -> Option<Duration> {
        match self.state {
            BreakerState::Closed => None,
            BreakerState::Open { until } if now < until => Some(until - now),
            BreakerState::Open { .. } => None,
            BreakerState::HalfOpen {
                in_flight,
                succeeded,
                since,
            } => {
                let lost = now.saturating_duration_since(since) >= self.config.probe_timeout;
                (!lost && in_flight + succeeded >= self.config.probes)
                    .then_some(self.config.open_base)
            }
        }
    }

    /// Reports that an admitted request ended without saying anything about
    /// the endpoint (its caller gave up first; the client's own request was
    /// at fault): a probe slot is given back, nothing is counted.
    pub fn on_neutral(&mut self) {
        if let BreakerState::HalfOpen { in_flight, .. } = &mut self.state {
            *in_flight = in_flight.saturating_sub(1);
        }
    }

    /// Reports that an admitted request succeeded.
    pub fn on_success(&mut self, now: Instant) {
        match &mut self.state {
            BreakerState::Closed => {
                self.consecutive = 0;
                self.window.record(now, false);
            }
            BreakerState::HalfOpen {
                in_flight,
                succeeded,
                ..
            } => {
                *in_flight = in_flight.saturating_sub(1);
                *succeeded += 1;
                if *succeeded >= self.config.probes {
                    self.close();
                }
            }
            // A request admitted before the trip answered late: it says nothing
            // about whether the endpoint has recovered since.
            BreakerState::Open { .. } => {}
        }
    }

    /// Reports that an admitted request failed (as the caller classifies failure:
    /// typically connect errors, timeouts, 5xx).
    pub fn on_failure(&mut self, now: Instant) {
        match self.state {
            BreakerState::Closed => {
                self.consecutive = self.consecutive.saturating_add(1);
                self.window.record(now, true);
                if self.should_trip() {
                    self.trip(now);
                }
            }
            BreakerState::HalfOpen { .. } => self.trip(now),
            BreakerState::Open { .. } => {}
        }
    }

    /// Opens the breaker until at least `until` without counting a trip: for an
    /// upstream that answered `503` with its own `Retry-After`.
    pub fn hold_open_until(&mut self, until: Instant) {
        let until = match self.state {
            BreakerState::Open { until: current } => current.max(until),
            _ => until,
        };
        self.state = BreakerState::Open { until };
        self.consecutive = 0;
        self.window.clear();
    }

    /// An out-of-band check (a health check, a connect probe) found the
    /// endpoint answering again: if the breaker is open, the next request may
    /// probe it now instead of after the rest of the back-off. The trip count
    /// stays, so an endpoint that fails its probe again is held off longer.
    /// Returns whether the breaker was open.
    pub fn probe_now(&mut self, now: Instant) -> bool {
        match &mut self.state {
            BreakerState::Open { until } => {
                if *until > now {
                    *until = now;
                }
                true
            }
            _ => false,
        }
    }

    /// The state as of the last call. An `Open` whose `until` has passed becomes
    /// half-open at the next [`try_acquire`](Self::try_acquire).
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// Trips since the breaker last closed, for metrics.
    pub fn trips(&self) -> u32 {
        self.trips
    }

    fn should_trip(&self) -> bool {
        let c = &self.config;
        if c.consecutive_failures > 0 && self.consecutive >= c.consecutive_failures {
            return true;
        }
        let (total, failed) = self.window.totals();
        c.min_requests > 0
            && total >= u64::from(c.min_requests)
            && failed as f64 >= c.failure_ratio * total as f64
    }

    fn trip(&mut self, now: Instant) {
        self.trips = self.trips.saturating_add(1);
        let open_for = Backoff {
            base: self.config.open_base,
            cap: self.config.open_max,
            jitter: Jitter::None,
        }
        .ceiling(self.trips - 1);
        self.state = BreakerState::Open {
            until: now + open_for,
        };
        self.consecutive = 0;
        self.window.clear();
    }

    fn close(&mut self) {
        self.state = BreakerState::Closed;
        self.trips = 0;
        self.consecutive = 0;
        self.window.clear();
    }
}

#[cfg(test)]
mod tests;
