//! [`Retrier`]: the state one client shares across all its requests.
//!
//! A retrying client is only fleet-safe if its requests share what they learn:
//! one retry budget (so retries stay a small fraction of traffic when
//! everything fails), one circuit breaker per endpoint (so a dead region is
//! skipped, not hammered), and one health score per endpoint (for
//! [`FailoverOrder::ByHealth`](crate::FailoverOrder::ByHealth)). A `Retrier` is
//! that shared state plus the [`RetryPolicy`]; clone it freely, clones share.
//!
//! The algorithms are `levee-policy`'s, the same the gateway runs:
//! [`TpsBudget`] and [`Breaker`]. This module owns only their wiring and the
//! client's defaults, tuned for a fleet:
//!
//! - budget: 10% retries on top of requests, a floor of 1 retry/s (so a quiet
//!   client still rides out a blip), over a 10 s window;
//! - breaker: opens after 5 consecutive failures, for 0.5 s doubling to at
//!   most 2 s, so a recovered service sees this client back within seconds.
//!
//! It must not do I/O or sleep; [`crate::driver`] does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use levee_policy::breaker::{Breaker, BreakerConfig, BreakerState};
use levee_policy::budget::{TpsBudget, TpsBudgetConfig};

use crate::endpoints::{Endpoint, EndpointError};
use crate::event::{Event, Observer};
use crate::policy::{PolicyError, RetryPolicy};

/// The client's default retry budget (see the module docs).
pub const DEFAULT_BUDGET: TpsBudgetConfig = TpsBudgetConfig {
    ttl: Duration::from_secs(10),
    min_per_sec: 1,
    retry_ratio: 0.1,
};

/// The client's default breaker: quick to reopen the door after recovery.
pub fn default_breaker() -> BreakerConfig {
    BreakerConfig {
        consecutive_failures: 5,
        open_base: Duration::from_millis(500),
        open_max: Duration::from_secs(2),
        ..BreakerConfig::default()
    }
}

/// A configuration the retrier cannot be built from.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The retry policy is inconsistent.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// An endpoint is not a base URL.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// The budget or breaker configuration is out of range.
    #[error("{what}: {source}")]
    Algorithm {
        /// `budget` or `breaker`.
        what: &'static str,
        /// The field that is out of range.
        source: levee_policy::ConfigError,
    },
}

/// Builds a [`Retrier`].
#[derive(Default)]
pub struct RetrierBuilder {
    policy: RetryPolicy,
    endpoints: Vec<String>,
    budget: Option<TpsBudgetConfig>,
    breaker: Option<BreakerConfig>,
    observer: Option<Arc<dyn Observer>>,
}

impl RetrierBuilder {
    /// Uses `policy` instead of [`RetryPolicy::default`].
    pub fn policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Sends every request to these base URLs instead of its own, failing
    /// over from one to the next (see [`Endpoint::url_for`]).
    pub fn endpoints<I, S>(mut self, bases: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.endpoints = bases.into_iter().map(Into::into).collect();
        self
    }

    /// Uses this retry budget instead of [`DEFAULT_BUDGET`].
    pub fn budget(mut self, budget: TpsBudgetConfig) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Uses this breaker configuration instead of [`default_breaker`].
    pub fn breaker(mut self, breaker: BreakerConfig) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// Reports every attempt and retry decision to `observer`.
    pub fn observer(mut self, observer: impl Observer + 'static) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// Validates everything and builds the retrier.
    pub fn build(self) -> Result<Retrier, BuildError> {
        self.policy.validate()?;
        let endpoints = self
            .endpoints
            .iter()
            .map(|e| Endpoint::parse(e))
            .collect::<Result<Vec<_>, _>>()?;
        let budget = TpsBudget::new(self.budget.unwrap_or(DEFAULT_BUDGET)).map_err(|source| {
            BuildError::Algorithm {
                what: "budget",
                source,
            }
        })?;
        let breaker = self.breaker.unwrap_or_else(default_breaker);
        Breaker::new(breaker).map_err(|source| BuildError::Algorithm {
            what: "breaker",
            source,
        })?;
        Ok(Retrier {
            shared: Arc::new(Shared {
                policy: self.policy,
                endpoints,
                budget,
                breaker,
                health: Mutex::new(HashMap::new()),
                observer: self.observer,
            }),
        })
    }
}

/// The state shared by every request of one client. Cheap to clone.
#[derive(Clone)]
pub struct Retrier {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Retrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retrier")
            .field("policy", &self.shared.policy)
            .field("endpoints", &self.shared.endpoints)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Shared {
    pub(crate) policy: RetryPolicy,
    /// Configured endpoints; empty means "each request's own URL".
    pub(crate) endpoints: Vec<Endpoint>,
    pub(crate) budget: TpsBudget,
    breaker: BreakerConfig,
    health: Mutex<HashMap<Endpoint, EndpointHealth>>,
    observer: Option<Arc<dyn Observer>>,
}

/// What the client knows about one endpoint.
struct EndpointHealth {
    breaker: Breaker,
    /// Exponentially weighted success rate, 1.0 = every recent attempt worked.
    success: f64,
}

/// Weight of the newest outcome in the success rate.
const HEALTH_ALPHA: f64 = 0.2;

impl Retrier {
    /// A retrier with the default policy, budget and breakers.
    pub fn new() -> Retrier {
        Retrier::builder()
            .build()
            .expect("the default configuration is valid")
    }

    /// Starts building a retrier.
    pub fn builder() -> RetrierBuilder {
        RetrierBuilder::default()
    }

    /// The policy requests are retried under.
    pub fn policy(&self) -> &RetryPolicy {
        &self.shared.policy
    }

    /// The state of `endpoint`'s breaker (closed if never used).
    pub fn breaker_state(&self, endpoint: &Endpoint) -> BreakerState {
        self.shared
            .lock_health()
            .get(endpoint)
            .map_or(BreakerState::Closed, |h| h.breaker.state())
    }
}

impl Default for Retrier {
    fn default() -> Self {
        Retrier::new()
    }
}

impl Shared {
    fn lock_health(&self) -> std::sync::MutexGuard<'_, HashMap<Endpoint, EndpointHealth>> {
        // The map holds plain numbers; a panic elsewhere cannot leave it torn.
        self.health.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn emit(&self, event: &Event) {
        if let Some(o) = &self.observer {
            o.on_event(event);
        }
    }

    /// Success rates of `endpoints`, in order.
    pub(crate) fn health_of(&self, endpoints: &[Endpoint]) -> Vec<f64> {
        let map = self.lock_health();
        endpoints
            .iter()
            .map(|e| map.get(e).map_or(1.0, |h| h.success))
            .collect()
    }

    /// When `endpoint`'s breaker will next admit a request, if it is open.
    pub(crate) fn open_until(&self, endpoint: &Endpoint, now: Instant) -> Option<Instant> {
        match self.lock_health().get(endpoint)?.breaker.state() {
            BreakerState::Open { until } if until > now => Some(until),
            _ => None,
        }
    }

    /// Asks `endpoint`'s breaker to admit one attempt.
    pub(crate) fn acquire(&self, endpoint: &Endpoint, now: Instant) -> Result<(), Duration> {
        let mut map = self.lock_health();
        let entry = map
            .entry(endpoint.clone())
            .or_insert_with(|| EndpointHealth {
                breaker: Breaker::new(self.breaker).expect("validated in build()"),
                success: 1.0,
            });
        entry.breaker.try_acquire(now).map_err(|open| open.retry_in)
    }

    /// Reports the outcome of an admitted attempt.
    pub(crate) fn report(&self, endpoint: &Endpoint, ok: bool, now: Instant) {
        let mut map = self.lock_health();
        if let Some(h) = map.get_mut(endpoint) {
            if ok {
                h.breaker.on_success(now);
            } else {
                h.breaker.on_failure(now);
            }
            let sample = if ok { 1.0 } else { 0.0 };
            h.success += HEALTH_ALPHA * (sample - h.success);
        }
    }
}
