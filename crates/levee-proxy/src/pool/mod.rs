//! Upstream pools: endpoints, their health, and the choice among them.
//!
//! A [`Pool`] is a list of [`Endpoint`]s (see `endpoint.rs`: each with its
//! own HTTP client, circuit breaker and active health), reached with
//! connectors that always dial their endpoint (`connect.rs`), over TLS for
//! an `https://` pool (`tls.rs`), and checked
//! beside the data path (`health.rs`). Requests go, in the order the pool's
//! [`Balance`] gives (`balance.rs`), to the
//! endpoints that are neither drained, unhealthy by their checks, nor
//! ejected by their breaker. When fewer than `panic_threshold` of the pool's
//! (undrained) endpoints pass their health checks, the pool **panics**, as
//! Envoy's does: the checks are ignored and every endpoint whose breaker
//! admits a request takes its share, since spreading load over doubtful
//! endpoints serves more than refusing it all. When no endpoint can take the
//! request the pool is unavailable, and the 503 says when the earliest one
//! will let a probe through: that is the honest `Retry-After`.
//!
//! This module must not build responses or know about routes.

mod balance;
mod connect;
mod endpoint;
pub mod health;
mod tls;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::uri::Authority;
use levee_policy::breaker::{Breaker, BreakerConfig};

pub use balance::{Balance, HashOn};
pub use connect::{ConnectError, EndpointConnector, UpstreamClient};
pub use endpoint::{Endpoint, EndpointMetrics, EndpointStatus, HealthState};
pub use health::{CheckKind, HealthCheck};
pub use tls::{TlsFailed, TlsFailure, UpstreamStream, UpstreamTls, server_name_of, tls_failure};

/// The protocol a pool speaks to its endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// HTTP/1.1 with keep-alive (the default). Over TLS, ALPN offers only
    /// `http/1.1`.
    #[default]
    Http1,
    /// HTTP/2 only: with prior knowledge over cleartext (h2c, RFC 9113
    /// §3.3), or with ALPN offering only `h2` over TLS.
    Http2,
    /// Over TLS, ALPN offers `h2` then `http/1.1` and each connection speaks
    /// what the endpoint chose. Without TLS there is nothing to negotiate
    /// with: HTTP/1.1.
    Auto,
}

/// What a pool is built from.
#[derive(Debug, Clone)]
pub struct PoolSpec {
    /// The pool's name, for logs, metrics and problem details.
    pub name: String,
    /// `host:port` of each endpoint.
    pub endpoints: Vec<Authority>,
    /// The protocol spoken to the endpoints.
    pub protocol: Protocol,
    /// TLS to the endpoints (`https://`), or cleartext.
    pub tls: Option<UpstreamTls>,
    /// Time allowed to open a TCP connection (default 2 s), and again for a
    /// TLS handshake.
    pub connect_timeout: Duration,
    /// Time allowed from sending the request to the response head (default 30 s).
    pub response_timeout: Duration,
    /// Time an idle pooled connection is kept (default 90 s).
    pub idle_timeout: Duration,
    /// Idle connections kept per endpoint (default 256).
    pub max_idle_per_endpoint: usize,
    /// The breaker each endpoint sits behind.
    pub breaker: BreakerConfig,
    /// Keep the case of HTTP/1 header names (from `server.preserve_header_case`).
    pub preserve_header_case: bool,
    /// The active health check, if any.
    pub health_check: Option<HealthCheck>,
    /// Below this fraction of endpoints passing their health checks, the
    /// pool ignores the checks (default 0.5; 0 never panics).
    pub panic_threshold: f64,
    /// How requests are spread over the endpoints (default least request).
    pub balance: Balance,
    /// Each endpoint's weight, in the order of `endpoints` (default 1 each;
    /// missing entries are 1).
    pub weights: Vec<u32>,
    /// Count the endpoints' own 5xx answers (but 503) as breaker failures
    /// (default: only 502 and 504 are, besides connect and timeout faults).
    pub failure_on_5xx: bool,
    /// The largest share of the pool's (undrained) endpoints its breakers
    /// may eject at once (default 1: no cap); at least one may always be.
    pub max_ejection: f64,
}

impl PoolSpec {
    /// A spec with the documented defaults.
    pub fn new(name: impl Into<String>, endpoints: Vec<Authority>) -> PoolSpec {
        PoolSpec {
            name: name.into(),
            endpoints,
            protocol: Protocol::Http1,
            tls: None,
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(90),
            max_idle_per_endpoint: 256,
            breaker: BreakerConfig::default(),
            preserve_header_case: false,
            health_check: None,
            panic_threshold: 0.5,
            balance: Balance::default(),
            weights: Vec::new(),
            failure_on_5xx: false,
            max_ejection: 1.0,
        }
    }
}

/// A set of endpoints that serve the same thing, and the client to reach them.
#[derive(Debug)]
pub struct Pool {
    /// The pool's name.
    pub name: String,
    /// The endpoints, in configuration order.
    pub endpoints: Vec<Endpoint>,
    /// The protocol spoken.
    pub protocol: Protocol,
    /// Whether the endpoints are reached over TLS.
    pub tls: bool,
    /// Time allowed from request to response head.
    pub response_timeout: Duration,
    /// The active health check, if any.
    pub health_check: Option<HealthCheck>,
    panic_threshold: f64,
    /// How requests are spread.
    pub balance: Balance,
    /// Whether the endpoints' own 5xx answers (but 503) count against them.
    pub failure_on_5xx: bool,
    /// Time from sending to the response head
    /// (`levee_upstream_response_headers_seconds{pool}`, registered by
    /// [`Pool::with_metrics`]): a handle, so the request path does no label
    /// lookup.
    pub headers_seconds: prometheus_client::metrics::histogram::Histogram,
    max_ejection: f64,
    next: AtomicUsize,
}

/// Every endpoint's breaker is open (or the pool has none).
#[derive(Debug, Clone, Copy)]
pub struct NoEndpoint {
    /// Time until the earliest breaker lets a probe through (1 s when no
    /// breaker is open: every endpoint is drained or was tried).
    pub retry_in: Duration,
    /// Every endpoint not yet tried is drained.
    pub all_drained: bool,
}

/// A pool as it is now: [`Pool::status`].
#[derive(Debug, Clone)]
pub struct PoolStatus {
    /// Its name.
    pub name: String,
    /// Whether it ignores its health checks, too few endpoints passing.
    pub panicking: bool,
    /// Whether it has an active health check.
    pub health_checked: bool,
    /// Each endpoint, in configuration order.
    pub endpoints: Vec<EndpointStatus>,
}

impl Pool {
    /// Builds the pool and its client (no connection is opened yet); fails
    /// when the breaker configuration is invalid.
    pub fn new(spec: PoolSpec) -> Result<Pool, levee_policy::ConfigError> {
        let endpoints = spec
            .endpoints
            .iter()
            .enumerate()
            .map(|(i, authority)| {
                let connector = connect::endpoint_connector(&spec, authority);
                let mut e = Endpoint::new(
                    &spec.name,
                    authority.clone(),
                    connect::endpoint_client(&spec, connector.clone()),
                    connector,
                    Breaker::new(spec.breaker)?,
                );
                e.weight = spec.weights.get(i).copied().unwrap_or(1).max(1);
                Ok(e)
            })
            .collect::<Result<_, levee_policy::ConfigError>>()?;
        Ok(Pool {
            name: spec.name,
            endpoints,
            protocol: spec.protocol,
            tls: spec.tls.is_some(),
            response_timeout: spec.response_timeout,
            health_check: spec.health_check,
            panic_threshold: spec.panic_threshold,
            balance: spec.balance,
            failure_on_5xx: spec.failure_on_5xx,
            headers_seconds: crate::metrics::duration_histogram(),
            max_ejection: spec.max_ejection,
            next: AtomicUsize::new(0),
        })
    }

    /// The pool with its endpoints' counters and its response-head
    /// histogram registered in `metrics` (under the pool's name and each
    /// endpoint's address).
    pub fn with_metrics(mut self, metrics: &crate::metrics::Metrics) -> Pool {
        for e in &mut self.endpoints {
            e.metrics = metrics.endpoint(&self.name, e.authority.as_str());
        }
        self.headers_seconds = metrics.upstream_headers(&self.name);
        self
    }

    /// The version upstream requests are written in: HTTP/2 when the pool
    /// speaks only that, else HTTP/1.1 (an `Auto` pool's client sends it as
    /// HTTP/2 on a connection whose ALPN chose `h2`).
    pub fn version(&self) -> http::Version {
        match self.protocol {
            Protocol::Http2 => http::Version::HTTP_2,
            Protocol::Http1 | Protocol::Auto => http::Version::HTTP_11,
        }
    }

    /// The scheme of upstream request URIs (HTTP/2's `:scheme`).
    pub fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }

    /// Keeps what `old` (the same pool in the previous configuration) found
    /// by its health checks, endpoint by endpoint, when both check.
    pub fn inherit_health(&self, old: &Pool) {
        if self.health_check.is_none() || old.health_check.is_none() {
            return;
        }
        for e in &self.endpoints {
            if let Some(o) = old.endpoints.iter().find(|o| o.authority == e.authority) {
                e.inherit_health(o);
            }
        }
    }

    /// What the pool and each of its endpoints are now (`drained`: the
    /// endpoints an operator drained), for the admin API and the metrics.
    pub fn status(&self, now: Instant, drained: &[Authority]) -> PoolStatus {
        let panicking = self.panicking(drained);
        PoolStatus {
            name: self.name.clone(),
            panicking,
            health_checked: self.health_check.is_some(),
            endpoints: self
                .endpoints
                .iter()
                .map(|e| e.status(now, drained.contains(&e.authority), panicking))
                .collect(),
        }
    }

    /// Whether the pool panics: fewer than `panic_threshold` of its
    /// undrained endpoints pass their health checks, so the checks are
    /// ignored. Never without a health check.
    pub fn panicking(&self, drained: &[Authority]) -> bool {
        if self.health_check.is_none() {
            return false;
        }
        let (mut total, mut healthy) = (0usize, 0usize);
        for e in &self.endpoints {
            if drained.contains(&e.authority) {
                continue;
            }
            total += 1;
            if e.health() != HealthState::Unhealthy {
                healthy += 1;
            }
        }
        total > 0 && (healthy as f64) < self.panic_threshold * total as f64
    }

    /// Picks an endpoint for a request: among those not `tried` yet for
    /// it, not `drained` by an operator, not unhealthy by their checks
    /// (unless the pool panics) and whose breaker admits a request, in the
    /// order the pool's [`Balance`] gives (`affinity`: the request's hash
    /// key, for a hashing pool). Endpoints whose breaker is open are asked
    /// last, so a due probe still goes out.
    pub fn pick(
        &self,
        now: Instant,
        tried: &[usize],
        drained: &[Authority],
        affinity: Option<u64>,
    ) -> Result<usize, NoEndpoint> {
        let turn = self.next.fetch_add(1, Ordering::Relaxed);
        let panic = self.panicking(drained);
        let mut soonest: Option<Duration> = None;
        let mut all_drained = true;
        // Candidates on the stack for pools of up to STACK endpoints: no
        // allocation per request. (`waiting` allocates only when a breaker
        // is open.)
        const STACK: usize = 16;
        let on_stack = self.endpoints.len() <= STACK;
        let mut stack = [balance::Candidate::default(); STACK];
        let mut heap: Vec<balance::Candidate> = Vec::new();
        let mut len = 0;
        let mut waiting: Vec<usize> = Vec::new();
        for (idx, endpoint) in self.endpoints.iter().enumerate() {
            if tried.contains(&idx) || drained.contains(&endpoint.authority) {
                continue;
            }
            all_drained = false;
            if !panic && endpoint.health() == HealthState::Unhealthy {
                let next_check = self
                    .health_check
                    .as_ref()
                    .map_or(Duration::from_secs(1), |c| c.interval);
                soonest = Some(soonest.map_or(next_check, |s| s.min(next_check)));
                continue;
            }
            if endpoint.retry_in(now).is_some() {
                waiting.push(idx);
                continue;
            }
            let candidate = balance::Candidate {
                index: idx,
                weight: endpoint.weight,
                in_flight: endpoint.in_flight(),
                id: endpoint.id,
            };
            if on_stack {
                stack[len] = candidate;
            } else {
                heap.push(candidate);
            }
            len += 1;
        }
        let ready = if on_stack {
            &mut stack[..len]
        } else {
            &mut heap[..]
        };
        if ready.len() > 1 {
            self.balance
                .order(ready, turn, affinity, [rand::random(), rand::random()]);
        }
        for idx in ready.iter().map(|c| c.index).chain(waiting) {
            match self.endpoints[idx].try_acquire(now) {
                Ok(()) => return Ok(idx),
                Err(open) => {
                    // Its next check or connect probe may find it back
                    // sooner than the breaker's own back-off.
                    let retry_in = open.retry_in.min(self.probe_every());
                    soonest = Some(soonest.map_or(retry_in, |s| s.min(retry_in)));
                }
            }
        }
        Err(NoEndpoint {
            retry_in: soonest.unwrap_or(Duration::from_secs(1)),
            all_drained,
        })
    }

    /// After endpoint `index`'s breaker opened: when that leaves more of
    /// the pool ejected than `max_ejection` allows (at least one may always
    /// be), it stays in rotation, its next request a probe, as Envoy's
    /// `max_ejection_percent`: a fault of the network or of the gateway
    /// itself must not eject every endpoint.
    pub fn cap_ejections(&self, index: usize, now: Instant, drained: &[Authority]) {
        if self.max_ejection >= 1.0 {
            return;
        }
        let undrained = self
            .endpoints
            .iter()
            .filter(|e| !drained.contains(&e.authority));
        let (mut total, mut ejected) = (0usize, 0usize);
        for e in undrained {
            total += 1;
            if e.ejected(now) {
                ejected += 1;
            }
        }
        let limit = ((self.max_ejection * total as f64).floor() as usize).max(1);
        if ejected > limit
            && let Some(e) = self.endpoints.get(index)
        {
            e.keep_in_rotation(limit);
        }
    }

    /// The hash key of a request for a hashing pool, else `None`.
    pub fn affinity(&self, headers: &http::HeaderMap, client: std::net::IpAddr) -> Option<u64> {
        match &self.balance {
            Balance::Hash(on) => on.key(headers, client),
            _ => None,
        }
    }

    /// When to tell a client to come back after every endpoint failed: the
    /// earliest time a breaker admits a request or a check may find an
    /// endpoint back (drained endpoints aside), at least one second. A read-only question: it takes no probe and
    /// does not move the round robin, so answering it cannot starve a
    /// recovering endpoint.
    pub fn retry_in(&self, now: Instant, drained: &[Authority]) -> Duration {
        self.endpoints
            .iter()
            .filter(|e| !drained.contains(&e.authority))
            .map(|e| {
                e.retry_in(now)
                    .unwrap_or(Duration::ZERO)
                    .min(self.probe_every())
            })
            .min()
            .unwrap_or(Duration::ZERO)
            .max(Duration::from_secs(1))
    }

    /// How often an ejected endpoint is checked out of band: its pool's
    /// health-check interval, else the connect probe's. A passing check lets
    /// the next request through, so this bounds the honest `Retry-After`.
    fn probe_every(&self) -> Duration {
        self.health_check
            .as_ref()
            .map_or(health::RECOVERY_PROBE_EVERY, |c| c.interval)
    }
}
