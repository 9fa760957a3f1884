//! Upstream pools: endpoints, their breakers, balancing, and the HTTP clients.
//!
//! A [`Pool`] is a list of [`Endpoint`]s, each with its own pooled HTTP client
//! (keep-alive connections, HTTP/1.1 or h2c prior knowledge) whose connector
//! always dials that endpoint, whatever the request's URI names. So the URI
//! can carry the client's authority, which HTTP/2 sends as `:authority` and
//! which must agree with `Host` (RFC 9113 §8.3.1), while the connection goes
//! to the endpoint. Each endpoint sits behind a circuit breaker (from
//! `levee-policy`). Requests go round
//! robin over the endpoints whose breaker admits them. When every breaker is
//! open the pool is unavailable, and the 503 says when the earliest one will
//! let a probe through: that is the honest `Retry-After`.
//!
//! This module must not build responses or know about routes.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::Uri;
use http::uri::Authority;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use levee_policy::breaker::{Breaker, BreakerConfig};

use crate::body::UpstreamBody;

/// The HTTP client an endpoint is reached with.
pub type UpstreamClient = Client<EndpointConnector, UpstreamBody>;

/// A connector that dials one endpoint, whatever URI it is asked for.
#[derive(Debug, Clone)]
pub struct EndpointConnector {
    inner: HttpConnector,
    target: Uri,
}

impl tower_service::Service<Uri> for EndpointConnector {
    type Response = <HttpConnector as tower_service::Service<Uri>>::Response;
    type Error = <HttpConnector as tower_service::Service<Uri>>::Error;
    type Future = <HttpConnector as tower_service::Service<Uri>>::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, _requested: Uri) -> Self::Future {
        self.inner.call(self.target.clone())
    }
}

/// The protocol a pool speaks to its endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// HTTP/1.1 with keep-alive (the default).
    #[default]
    Http1,
    /// HTTP/2 over cleartext with prior knowledge (RFC 9113 §3.3).
    H2c,
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
    /// Time allowed to open a TCP connection (default 2 s).
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
}

impl PoolSpec {
    /// A spec with the documented defaults.
    pub fn new(name: impl Into<String>, endpoints: Vec<Authority>) -> PoolSpec {
        PoolSpec {
            name: name.into(),
            endpoints,
            protocol: Protocol::Http1,
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(90),
            max_idle_per_endpoint: 256,
            breaker: BreakerConfig::default(),
            preserve_header_case: false,
        }
    }
}

/// One upstream address, the client that reaches it, and its circuit breaker.
#[derive(Debug)]
pub struct Endpoint {
    /// `host:port`.
    pub authority: Authority,
    /// Pooled connections to this endpoint.
    pub client: UpstreamClient,
    breaker: Mutex<Breaker>,
}

impl Endpoint {
    /// Tells the endpoint's breaker what an attempt showed.
    pub(crate) fn record(&self, verdict: crate::forward::outcome::Verdict, now: Instant) {
        use crate::forward::outcome::Verdict;
        let mut breaker = self.lock();
        match verdict {
            Verdict::Success => breaker.on_success(now),
            Verdict::Failure => breaker.on_failure(now),
            Verdict::Neutral => breaker.on_neutral(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Breaker> {
        // A panic while holding this lock cannot leave a breaker half-updated
        // in a way that matters more than losing the endpoint; keep serving.
        self.breaker
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The pooled client for one endpoint: its connector dials `authority`.
fn endpoint_client(spec: &PoolSpec, authority: &Authority) -> UpstreamClient {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.set_connect_timeout(Some(spec.connect_timeout));
    http.enforce_http(true);
    let target = Uri::builder()
        .scheme("http")
        .authority(authority.clone())
        .path_and_query("/")
        .build()
        .unwrap_or_default();
    let mut builder = Client::builder(TokioExecutor::new());
    builder
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .pool_idle_timeout(spec.idle_timeout)
        .pool_max_idle_per_host(spec.max_idle_per_endpoint)
        .http1_preserve_header_case(spec.preserve_header_case)
        .http2_only(spec.protocol == Protocol::H2c);
    builder.build(EndpointConnector {
        inner: http,
        target,
    })
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
    /// Time allowed from request to response head.
    pub response_timeout: Duration,
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

impl Pool {
    /// Builds the pool and its client (no connection is opened yet); fails
    /// when the breaker configuration is invalid.
    pub fn new(spec: PoolSpec) -> Result<Pool, levee_policy::ConfigError> {
        let endpoints = spec
            .endpoints
            .iter()
            .map(|authority| {
                Ok(Endpoint {
                    authority: authority.clone(),
                    client: endpoint_client(&spec, authority),
                    breaker: Mutex::new(Breaker::new(spec.breaker)?),
                })
            })
            .collect::<Result<_, levee_policy::ConfigError>>()?;
        Ok(Pool {
            name: spec.name,
            endpoints,
            protocol: spec.protocol,
            response_timeout: spec.response_timeout,
            next: AtomicUsize::new(0),
        })
    }

    /// Picks the next endpoint whose breaker admits a request, round robin,
    /// skipping `tried` (indexes already attempted for this request) and the
    /// `drained` endpoints (taken out of rotation by the operator).
    pub fn pick(
        &self,
        now: Instant,
        tried: &[usize],
        drained: &[Authority],
    ) -> Result<usize, NoEndpoint> {
        let n = self.endpoints.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut soonest: Option<Duration> = None;
        let mut all_drained = true;
        for i in 0..n {
            let idx = (start + i) % n;
            if tried.contains(&idx) {
                continue;
            }
            if drained.contains(&self.endpoints[idx].authority) {
                continue;
            }
            all_drained = false;
            match self.endpoints[idx].lock().try_acquire(now) {
                Ok(()) => return Ok(idx),
                Err(open) => {
                    soonest = Some(soonest.map_or(open.retry_in, |s| s.min(open.retry_in)));
                }
            }
        }
        Err(NoEndpoint {
            retry_in: soonest.unwrap_or(Duration::from_secs(1)),
            all_drained,
        })
    }

    /// When to tell a client to come back after every endpoint failed: the
    /// earliest time a breaker admits a request (drained endpoints aside),
    /// at least one second. A read-only question: it takes no probe and
    /// does not move the round robin, so answering it cannot starve a
    /// recovering endpoint.
    pub fn retry_in(&self, now: Instant, drained: &[Authority]) -> Duration {
        self.endpoints
            .iter()
            .filter(|e| !drained.contains(&e.authority))
            .map(|e| e.lock().retry_in(now).unwrap_or(Duration::ZERO))
            .min()
            .unwrap_or(Duration::ZERO)
            .max(Duration::from_secs(1))
    }
}
