//! One endpoint: its client, its circuit breaker (passive outlier
//! detection: what real requests showed) and its active health (what the
//! pool's health checks showed), and every change of either, logged once
//! with the reason.
//!
//! An endpoint takes requests when its active health is not `unhealthy`
//! (unless the pool panics, see [`super::Pool::pick`]) and its breaker admits
//! them. A health check that passes while the breaker is open lets the next
//! request probe the endpoint at once ([`Breaker::probe_now`]): an upstream
//! that is back is used again within one check interval, not after the rest
//! of a doubling back-off.
//!
//! This module must not send requests or choose between endpoints.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use http::uri::Authority;
use levee_policy::breaker::{Breaker, BreakerOpen, BreakerState};
use prometheus_client::metrics::counter::Counter;

use super::connect::{EndpointConnector, UpstreamClient};

/// What the active health checks say of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthState {
    /// Not checked (no health check), or not yet: presumed healthy.
    Unknown,
    /// The last `healthy_threshold` checks passed.
    Healthy,
    /// The last `unhealthy_threshold` checks failed: no requests (unless the
    /// pool panics).
    Unhealthy,
}

impl HealthState {
    /// `unknown`, `healthy` or `unhealthy`.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Unknown => "unknown",
            HealthState::Healthy => "healthy",
            HealthState::Unhealthy => "unhealthy",
        }
    }
}

#[derive(Debug)]
struct Health {
    state: HealthState,
    passed_in_a_row: u32,
    failed_in_a_row: u32,
    /// When the state last changed.
    since: SystemTime,
    /// Why, in a few words (the last check's result).
    why: String,
}

/// What an endpoint is, for `GET /v1/pools` and `levee pools`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointStatus {
    /// `host:port`.
    pub endpoint: String,
    /// `up` (takes requests), `ejected` (its breaker is open),
    /// `probing` (half-open), `unhealthy` (failed its health checks) or
    /// `drained` (by an operator).
    pub state: &'static str,
    /// The active health checks' verdict.
    pub health: HealthState,
    /// Why it is in this state.
    pub why: String,
    /// Since when (the later of the health and breaker changes).
    pub since: SystemTime,
    /// When the breaker lets the next probe through, if it is open.
    pub retry_in: Option<Duration>,
    /// Whether it gets requests now: `up` or `probing`, or `unhealthy`
    /// with a closed breaker while its pool panics.
    pub takes_requests: bool,
}

/// One upstream address, the client that reaches it, and what is known of
/// its health.
#[derive(Debug)]
pub struct Endpoint {
    /// `host:port`.
    pub authority: Authority,
    /// Pooled connections to this endpoint.
    pub client: UpstreamClient,
    /// What opens them (the health checks' connects use it too).
    pub(super) connector: EndpointConnector,
    /// The pool it belongs to, for logs.
    pool: String,
    breaker: Mutex<Tripwire>,
    health: Mutex<Health>,
    /// When a failure to reach it was last logged at WARN (ms since `epoch`).
    warned_ms: std::sync::atomic::AtomicU64,
    epoch: Instant,
    /// Its share of the pool's requests, relative to the others (≥ 1).
    pub weight: u32,
    /// Requests sent to it that have no response head yet.
    in_flight: std::sync::atomic::AtomicUsize,
    /// A fixed hash of its address (rendezvous hashing).
    pub(super) id: u64,
    /// Its counters (registered under its pool and address by
    /// [`super::Pool::with_metrics`]; unregistered until then).
    pub(super) metrics: EndpointMetrics,
}

/// A request waiting for an endpoint's response head: [`Endpoint::waiting`].
#[derive(Debug)]
pub(crate) struct InFlight<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// An endpoint's Prometheus counters: handles into families of the
/// gateway's registry, so they survive reloads.
#[derive(Debug, Clone, Default)]
pub struct EndpointMetrics {
    /// Attempts sent to it (`levee_endpoint_requests_total`).
    pub requests: Counter,
    /// Attempts its breaker counted as failures
    /// (`levee_endpoint_failures_total`).
    pub failures: Counter,
    /// Times its breaker opened (`levee_endpoint_ejections_total`).
    pub ejections: Counter,
    /// Health checks passed (`levee_health_checks_total{result="pass"}`).
    pub checks_passed: Counter,
    /// Health checks failed (`levee_health_checks_total{result="fail"}`).
    pub checks_failed: Counter,
}

/// How often a failure to reach one endpoint is logged at WARN; the others
/// are at DEBUG.
const WARN_EVERY: Duration = Duration::from_secs(1);

/// The breaker and when (and why) it last changed.
#[derive(Debug)]
struct Tripwire {
    breaker: Breaker,
    since: SystemTime,
    why: String,
}

impl Endpoint {
    pub(super) fn new(
        pool: &str,
        authority: Authority,
        client: UpstreamClient,
        connector: EndpointConnector,
        breaker: Breaker,
    ) -> Endpoint {
        let now = SystemTime::now();
        let authority_text = authority.as_str().to_owned();
        Endpoint {
            authority,
            client,
            connector,
            pool: pool.to_owned(),
            breaker: Mutex::new(Tripwire {
                breaker,
                since: now,
                why: "started".to_owned(),
            }),
            health: Mutex::new(Health {
                state: HealthState::Unknown,
                passed_in_a_row: 0,
                failed_in_a_row: 0,
                since: now,
                why: "not checked yet".to_owned(),
            }),
            warned_ms: std::sync::atomic::AtomicU64::new(u64::MAX),
            epoch: tokio::time::Instant::now().into_std(),
            metrics: EndpointMetrics::default(),
            weight: 1,
            in_flight: std::sync::atomic::AtomicUsize::new(0),
            id: super::balance::fnv(authority_text.as_bytes()),
        }
    }

    /// Logs that the endpoint could not be reached: at WARN at most once a
    /// second per endpoint (an outage would otherwise log every request),
    /// else at DEBUG.
    pub(crate) fn unreachable(&self, request_id: &dyn std::fmt::Display, error: &str) {
        use std::sync::atomic::Ordering;
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.warned_ms.load(Ordering::Relaxed);
        let due = last == u64::MAX || now.saturating_sub(last) >= WARN_EVERY.as_millis() as u64;
        if due
            && self
                .warned_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                pool = %self.pool,
                endpoint = %self.authority,
                %request_id,
                %error,
                "cannot reach the endpoint"
            );
        } else {
            tracing::debug!(
                pool = %self.pool,
                endpoint = %self.authority,
                %request_id,
                %error,
                "cannot reach the endpoint"
            );
        }
    }

    fn tripwire(&self) -> std::sync::MutexGuard<'_, Tripwire> {
        // A panic while holding this lock cannot leave a breaker half-updated
        // in a way that matters more than losing the endpoint; keep serving.
        self.breaker
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn health_lock(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Requests sent to it that have no response head yet.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Counts a request as waiting for this endpoint's response head until
    /// the guard is dropped (least-request balancing reads the count).
    pub(crate) fn waiting(&self) -> InFlight<'_> {
        self.in_flight
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        InFlight(&self.in_flight)
    }

    /// Asks the breaker to admit one request.
    pub(crate) fn try_acquire(&self, now: Instant) -> Result<(), BreakerOpen> {
        self.tripwire().breaker.try_acquire(now)
    }

    /// When the breaker would admit a request (read-only; `None`: now).
    pub fn retry_in(&self, now: Instant) -> Option<Duration> {
        self.tripwire().breaker.retry_in(now)
    }

    /// Whether the breaker is open (a probe is not due yet).
    pub fn ejected(&self, now: Instant) -> bool {
        self.retry_in(now).is_some()
    }

    /// The active health checks' verdict.
    pub fn health(&self) -> HealthState {
        self.health_lock().state
    }

    /// Tells the breaker what an attempt showed; `what` says it in a few
    /// words for the log (asked only when the breaker's state changes, which
    /// is logged once). `true` when this opened the breaker.
    pub(crate) fn record(
        &self,
        verdict: crate::forward::outcome::Verdict,
        now: Instant,
        what: impl FnOnce() -> String,
    ) -> bool {
        use crate::forward::outcome::Verdict;
        self.metrics.requests.inc();
        let mut t = self.tripwire();
        let before = t.breaker.state();
        match verdict {
            Verdict::Success => t.breaker.on_success(now),
            Verdict::Failure => {
                self.metrics.failures.inc();
                t.breaker.on_failure(now)
            }
            Verdict::Neutral => t.breaker.on_neutral(),
        }
        let after = t.breaker.state();
        match (before, after) {
            (
                BreakerState::Closed | BreakerState::HalfOpen { .. },
                BreakerState::Open { until },
            ) => {
                t.since = SystemTime::now();
                t.why = what();
                self.metrics.ejections.inc();
                tracing::warn!(
                    pool = %self.pool,
                    endpoint = %self.authority,
                    reason = %t.why,
                    next_probe_ms = until.saturating_duration_since(now).as_millis() as u64,
                    trips = t.breaker.trips(),
                    "endpoint ejected: its breaker opened"
                );
                return true;
            }
            (BreakerState::HalfOpen { .. }, BreakerState::Closed) => {
                t.since = SystemTime::now();
                t.why = "its probes succeeded".to_owned();
                tracing::info!(
                    pool = %self.pool,
                    endpoint = %self.authority,
                    "endpoint back: its breaker closed"
                );
            }
            _ => {}
        }
        false
    }

    /// Records one active health check; `thresholds` are (healthy,
    /// unhealthy) runs. A change of state is logged once. A passing check
    /// lets the next request probe an ejected endpoint at once.
    pub(crate) fn checked(&self, passed: bool, why: String, thresholds: (u32, u32)) {
        let (rise, fall) = thresholds;
        if passed {
            self.metrics.checks_passed.inc();
        } else {
            self.metrics.checks_failed.inc();
        }
        let mut h = self.health_lock();
        if passed {
            h.passed_in_a_row = h.passed_in_a_row.saturating_add(1);
            h.failed_in_a_row = 0;
        } else {
            h.failed_in_a_row = h.failed_in_a_row.saturating_add(1);
            h.passed_in_a_row = 0;
        }
        let next = match h.state {
            HealthState::Unhealthy if passed && h.passed_in_a_row >= rise => HealthState::Healthy,
            HealthState::Unknown if passed => HealthState::Healthy,
            HealthState::Healthy | HealthState::Unknown if !passed && h.failed_in_a_row >= fall => {
                HealthState::Unhealthy
            }
            s => s,
        };
        if next != h.state {
            h.state = next;
            h.since = SystemTime::now();
            h.why = why.clone();
            match next {
                HealthState::Unhealthy => tracing::warn!(
                    pool = %self.pool,
                    endpoint = %self.authority,
                    reason = %why,
                    "endpoint unhealthy: its health checks failed"
                ),
                _ => tracing::info!(
                    pool = %self.pool,
                    endpoint = %self.authority,
                    reason = %why,
                    "endpoint healthy: its health checks pass"
                ),
            }
        } else {
            h.why = why;
        }
        drop(h);
        if passed {
            self.answers_again("its health check passed");
        }
    }

    /// An out-of-band check found the endpoint answering: if its breaker is
    /// open, the next request probes it now.
    pub(crate) fn answers_again(&self, what: &str) {
        let mut t = self.tripwire();
        let now = tokio::time::Instant::now().into_std();
        let was_waiting = t.breaker.retry_in(now).is_some();
        if t.breaker.probe_now(now) && was_waiting {
            tracing::info!(
                pool = %self.pool,
                endpoint = %self.authority,
                reason = what,
                "endpoint answers again: the next request probes it"
            );
        }
    }

    /// Keeps an endpoint whose breaker just opened in rotation, because
    /// its pool already has as many ejected as `max_ejection` allows: the
    /// next request probes it.
    pub(crate) fn keep_in_rotation(&self, limit: usize) {
        let now = tokio::time::Instant::now().into_std();
        if self.tripwire().breaker.probe_now(now) {
            tracing::warn!(
                pool = %self.pool,
                endpoint = %self.authority,
                ejected = limit,
                "endpoint kept in rotation: its pool has as many ejected as max_ejection allows"
            );
        }
    }

    /// Takes the health an endpoint of the previous configuration had found:
    /// a reload must not make an unhealthy endpoint look healthy again.
    pub(crate) fn inherit_health(&self, old: &Endpoint) {
        let old = old.health_lock();
        let mut h = self.health_lock();
        h.state = old.state;
        h.passed_in_a_row = old.passed_in_a_row;
        h.failed_in_a_row = old.failed_in_a_row;
        h.since = old.since;
        h.why = old.why.clone();
    }

    /// What this endpoint is now; `drained` when an operator drained it,
    /// `panicking` when its pool ignores the health checks.
    pub fn status(&self, now: Instant, drained: bool, panicking: bool) -> EndpointStatus {
        let t = self.tripwire();
        let h = self.health_lock();
        let retry_in = t.breaker.retry_in(now);
        let (state, why, since) = if drained {
            (
                "drained",
                "drained by an operator".to_owned(),
                t.since.max(h.since),
            )
        } else if h.state == HealthState::Unhealthy {
            ("unhealthy", h.why.clone(), h.since)
        } else {
            match t.breaker.state() {
                BreakerState::Open { .. } if retry_in.is_some() => {
                    ("ejected", t.why.clone(), t.since)
                }
                BreakerState::Open { .. } | BreakerState::HalfOpen { .. } => {
                    ("probing", t.why.clone(), t.since)
                }
                BreakerState::Closed => ("up", h.why.clone(), t.since.max(h.since)),
            }
        };
        let takes_requests = match state {
            "up" | "probing" => true,
            "unhealthy" => panicking && retry_in.is_none(),
            _ => false,
        };
        EndpointStatus {
            takes_requests,
            endpoint: self.authority.to_string(),
            state,
            health: h.state,
            why,
            since,
            retry_in,
        }
    }
}
