//! The request handler: one function that reads top to bottom.
//!
//! For every request: pick up the current runtime snapshot, settle the
//! request id, refuse when draining, serve problem-type pages, check the
//! header limits and the `Host`, find the route, forward, and turn any error
//! into a problem via [`crate::rescue`]. The response body carries the
//! completion hook that writes the access-log line and the metrics when the
//! exchange really ends. [`Proxy::handle`] never fails: hyper never sees an
//! error from us.
//!
//! This module must not open sockets (see [`crate::server`]) or talk to
//! endpoints directly (see [`crate::forward`]).

use std::sync::Arc;
use std::time::Duration;

use http::header::{self, HeaderValue};
use http::{Method, Request, Response, Uri, Version};
use hyper::body::Incoming;
use levee_http::{Reason, RequestId};
use tokio::time::Instant;

use crate::admission::Priority;
use crate::body::{Completion, OnComplete, ProxyBody};
use crate::control::ControlHandle;
use crate::drain::{Drain, InFlightGuard};
use crate::error::ProxyError;
use crate::forward::{Peer, forward};
use crate::metrics::RouteMetrics;
use crate::ratelimit::RateDecision;
use crate::rescue::{ErrorContext, problem_page, rescue};
use crate::runtime::{Runtime, RuntimeHandle};
use crate::server::ConnState;

/// The data path's request handler; cheap to clone (one per connection).
#[derive(Debug, Clone)]
pub struct Proxy {
    runtime: RuntimeHandle,
    drain: Drain,
    control: ControlHandle,
}

impl Proxy {
    /// A handler reading `runtime` and the operator's `control` directives
    /// (maintenance windows, drains), and observing `drain`.
    pub fn new(runtime: RuntimeHandle, drain: Drain, control: ControlHandle) -> Proxy {
        Proxy {
            runtime,
            drain,
            control,
        }
    }

    /// The runtime handle.
    pub fn runtime(&self) -> &RuntimeHandle {
        &self.runtime
    }

    /// The drain signal.
    pub fn drain(&self) -> &Drain {
        &self.drain
    }

    /// Answers one request. Never fails.
    pub async fn handle(
        &self,
        req: Request<Incoming>,
        peer: Peer,
        conn: &Arc<ConnState>,
    ) -> Response<ProxyBody> {
        let start = Instant::now();
        let rt = self.runtime.load();
        let guard = self.drain.request();
        rt.metrics.requests_in_flight.inc();
        conn.request_started(req.version());
        let settings = &rt.settings;
        let request_id = req
            .headers()
            .get(&settings.request_id_header)
            .and_then(RequestId::accept)
            .unwrap_or_else(|| RequestId::from_ulid(ulid::Ulid::new()));

        let mut log = Exchange {
            start,
            method: req.method().clone(),
            uri: req.uri().clone(),
            version: req.version(),
            request_id: request_id.clone(),
            peer,
            status: 0,
            route: None,
            metrics: None,
            upstream: None,
            headers_after: None,
            reason: None,
            rt: rt.clone(),
            conn: conn.clone(),
            _guard: guard,
        };

        let mut response = match self
            .route_and_forward(req, peer, &rt, &request_id, &mut log)
            .await
        {
            Ok(resp) => resp,
            Err(resp) => resp,
        };
        if let Some(reason) = log.reason {
            rt.metrics.gateway_error(reason);
        }
        log.status = response.status().as_u16();
        let body = std::mem::replace(response.body_mut(), ProxyBody::empty());
        *response.body_mut() = body.on_complete(Completion::new(Box::new(log)));
        response
    }

    /// Everything between the request head and the response head; `Err`
    /// carries a response the gateway made itself.
    async fn route_and_forward(
        &self,
        req: Request<Incoming>,
        peer: Peer,
        rt: &Runtime,
        request_id: &RequestId,
        log: &mut Exchange,
    ) -> Result<Response<ProxyBody>, Response<ProxyBody>> {
        let settings = &rt.settings;
        let cx = ErrorContext::of(&req, request_id, peer.tls, settings);
        let fail = |log: &mut Exchange, cx: &ErrorContext<'_>, err: ProxyError| {
            log.reason = Some(err.reason());
            rescue(&err, cx)
        };

        // Draining: finish what is in flight, refuse what is new.
        if self.drain.is_draining() {
            let err = ProxyError::Draining {
                retry_in: settings.drain_retry_after,
            };
            return Err(fail(log, &cx, err));
        }
        // The pages that problem `type` URIs point at.
        if (req.method() == Method::GET || req.method() == Method::HEAD)
            && let Some(page) =
                problem_page(req.uri().path(), request_id, &settings.request_id_header)
        {
            return Ok(page);
        }
        check_header_limits(&req, settings).map_err(|e| fail(log, &cx, e))?;
        let host = request_host(&req).map_err(|e| fail(log, &cx, e))?;
        let Some(route) = rt.routes.find(host.as_deref(), req.uri().path()) else {
            let err = ProxyError::NoRoute {
                host,
                path: req.uri().path().to_owned(),
            };
            return Err(fail(log, &cx, err));
        };
        log.route = Some(route.name.clone());
        log.metrics = Some(route.metrics.clone());

        // Maintenance: a window in force that covers this route, unless the
        // request bypasses it (operator token or network). The state is read
        // once here and not held across the awaits below.
        if let Some(err) = self.maintenance(&req, route, peer, settings) {
            return Err(fail(log, &cx, err));
        }

        // The caller's deadline, if it told us one (grpc-timeout or the ms header).
        let deadline = crate::deadline::budget(req.headers(), &settings.deadline_header)
            .map(|b| log.start + b);

        // Whose request: the unit of fairness and of rate limits (hashed).
        let tenant = route
            .tenant
            .as_ref()
            .map(|src| src.key(req.headers(), peer.client.ip()));
        // A tenant over its own rate gets 429 before admission: it never takes a slot.
        let rate_fields = match (&route.rate_limit, tenant) {
            (Some(limiter), Some(t)) => match limiter.check(t, Instant::now().into_std()) {
                RateDecision::Allow { limit } => Some((limiter.policy().clone(), limit)),
                RateDecision::Deny(denied) => {
                    return Err(fail(log, &cx, ProxyError::RateLimited(denied)));
                }
            },
            _ => None,
        };

        // Admission: forward now, wait briefly, or shed without touching the upstream.
        let mut permit = match &route.admission {
            Some(admission) => {
                let request = crate::admission::Request {
                    method: req.method(),
                    path: req.uri().path(),
                    priority: request_priority(&req, route, settings, peer),
                    deadline,
                    tenant,
                };
                match admission.acquire(request).await {
                    Ok(permit) => Some(permit),
                    Err(shed) => {
                        let err = ProxyError::Overloaded {
                            cause: shed.cause,
                            retry_in: shed.retry_after,
                        };
                        return Err(fail(log, &cx, err));
                    }
                }
            }
            None => None,
        };

        // `cx` borrows the request; keep what rescue needs before it moves.
        let head = ErrorHead::of(&req);
        let sent = Instant::now();
        let result = forward(
            req,
            route,
            peer,
            request_id,
            settings,
            deadline,
            &self.control,
        )
        .await;
        let cx = head.context(request_id, peer.tls, route.json_style, settings);
        if let Some(mut permit) = permit.take() {
            // The limiter's signal: time to the response head (from when the
            // request was fully sent), and whether the upstream dropped the
            // request (error, timeout, its own 503). The slot is given back
            // now, at the head: a streamed body (server-sent events, a
            // download) is an answered request, not a busy upstream.
            match &result {
                Ok(fwd) => permit.record(
                    fwd.headers_after,
                    fwd.response.status() == http::StatusCode::SERVICE_UNAVAILABLE,
                ),
                Err(
                    ProxyError::Timeout { .. }
                    | ProxyError::BadGateway { .. }
                    | ProxyError::Unavailable { .. },
                ) => {
                    permit.record(sent.elapsed(), true);
                }
                Err(_) => {}
            }
            drop(permit);
        }
        match result {
            Ok(fwd) => {
                log.upstream = Some(fwd.endpoint);
                log.headers_after = Some(fwd.headers_after);
                let mut response = fwd.response.map(ProxyBody::upstream);
                // The gateway speaks its own HTTP version to the client (an
                // HTTP/1.0 upstream must not make the client's connection 1.0).
                *response.version_mut() = Version::HTTP_11;
                let is_503 = response.status() == http::StatusCode::SERVICE_UNAVAILABLE;
                let h = response.headers_mut();
                h.insert(
                    settings.request_id_header.clone(),
                    request_id.header_value().clone(),
                );
                // The upstream's own rate-limit fields, if any, win over ours.
                if let Some((policy, limit)) =
                    rate_fields.filter(|_| !h.contains_key(crate::rescue::RATELIMIT))
                {
                    h.insert(crate::rescue::RATELIMIT_POLICY, policy);
                    h.insert(crate::rescue::RATELIMIT, limit);
                }
                if is_503 && !h.contains_key(header::RETRY_AFTER) {
                    // The contract: every 503 that leaves Levee says when to come back.
                    h.insert(header::RETRY_AFTER, HeaderValue::from(1u64));
                }
                Ok(response)
            }
            Err(err) => {
                tracing::debug!(request_id = %request_id, error = %err, "answering for the upstream");
                Err(fail(log, &cx, err))
            }
        }
    }

    /// The `maintenance` error for this request, when a window in force
    /// covers its route and it does not bypass the window. Reads the clock
    /// only when some window exists.
    fn maintenance<B>(
        &self,
        req: &Request<B>,
        route: &crate::route::Route,
        peer: Peer,
        settings: &crate::runtime::Settings,
    ) -> Option<ProxyError> {
        let control = self.control.load();
        if control.windows.is_empty() {
            return None;
        }
        let now = std::time::SystemTime::now();
        let window = control.blocking_window(
            &route.name,
            &route.pool.name,
            req.headers(),
            peer.client.ip(),
            now,
        )?;
        let retry_in = window
            .ends_at
            .map_or(settings.maintenance_open_ended_retry_after, |end| {
                end.duration_since(now).unwrap_or_default()
            });
        Some(ProxyError::Maintenance {
            window: window.clone(),
            retry_in,
        })
    }
}

/// The parts of a request head an error answer needs after the request moved.
struct ErrorHead {
    headers: http::HeaderMap,
    uri: Uri,
    version: Version,
}

impl ErrorHead {
    fn of<B>(req: &Request<B>) -> ErrorHead {
        let mut headers = http::HeaderMap::new();
        for name in [header::ACCEPT, header::HOST] {
            for v in req.headers().get_all(&name) {
                headers.append(name.clone(), v.clone());
            }
        }
        ErrorHead {
            headers,
            uri: req.uri().clone(),
            version: req.version(),
        }
    }

    fn context<'a>(
        &'a self,
        request_id: &'a RequestId,
        tls: bool,
        json_style: levee_http::JsonStyle,
        settings: &'a crate::runtime::Settings,
    ) -> ErrorContext<'a> {
        ErrorContext {
            request_id,
            headers: &self.headers,
            uri: &self.uri,
            version: self.version,
            tls,
            json_style,
            settings,
        }
    }
}

/// The request's priority: its priority header when the client is in a
/// trusted network and the value is valid, else the route's.
fn request_priority<B>(
    req: &Request<B>,
    route: &crate::route::Route,
    settings: &crate::runtime::Settings,
    peer: Peer,
) -> Priority {
    let trusted = || {
        settings
            .trusted_networks
            .iter()
            .any(|n| n.contains(peer.client.ip()))
    };
    req.headers()
        .get(&settings.priority_header)
        .and_then(|v| v.to_str().ok())
        .and_then(Priority::parse)
        .filter(|_| trusted())
        .unwrap_or(route.priority)
}

fn check_header_limits<B>(
    req: &Request<B>,
    settings: &crate::runtime::Settings,
) -> Result<(), ProxyError> {
    let headers = req.headers();
    if headers.len() > settings.max_headers {
        return Err(ProxyError::HeadersTooLarge {
            what: format!(
                "{} fields, more than the limit of {}",
                headers.len(),
                settings.max_headers
            ),
        });
    }
    let bytes: usize = headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum();
    if bytes > settings.max_header_bytes {
        return Err(ProxyError::HeadersTooLarge {
            what: format!(
                "{bytes} bytes, more than the limit of {}",
                settings.max_header_bytes
            ),
        });
    }
    Ok(())
}

/// The host the request is for, lowercase, without port. HTTP/1.1 requires
/// exactly one valid `Host` (RFC 9112 §3.2); HTTP/2 carries `:authority`.
fn request_host<B>(req: &Request<B>) -> Result<Option<String>, ProxyError> {
    let mut hosts = req.headers().get_all(header::HOST).iter();
    let host = match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => return Err(ProxyError::BadRequest("more than one Host header")),
        (Some(h), None) => {
            let a: http::uri::Authority =
                h.to_str()
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or(ProxyError::BadRequest(
                        "the Host header is not a valid host",
                    ))?;
            if a.as_str().contains('@') {
                return Err(ProxyError::BadRequest(
                    "the Host header is not a valid host",
                ));
            }
            Some(a.host().trim_end_matches('.').to_ascii_lowercase())
        }
        (None, None) => match req.uri().authority() {
            Some(a) => Some(a.host().to_ascii_lowercase()),
            None if req.version() == Version::HTTP_11 => {
                return Err(ProxyError::BadRequest(
                    "HTTP/1.1 requests need a Host header",
                ));
            }
            None => None,
        },
        (None, Some(_)) => None,
    };
    Ok(host)
}

/// Everything the access log and metrics need about one exchange; written
/// when the response body ends or is dropped.
struct Exchange {
    start: Instant,
    method: Method,
    uri: Uri,
    version: Version,
    request_id: RequestId,
    peer: Peer,
    status: u16,
    route: Option<Arc<str>>,
    metrics: Option<RouteMetrics>,
    upstream: Option<http::uri::Authority>,
    headers_after: Option<Duration>,
    reason: Option<Reason>,
    rt: Arc<Runtime>,
    conn: Arc<ConnState>,
    _guard: InFlightGuard,
}

impl OnComplete for Exchange {
    fn complete(self: Box<Self>, bytes: u64, finished: bool) {
        let elapsed = self.start.elapsed();
        if let Some(m) = &self.metrics {
            m.record(self.status, elapsed);
        }
        self.rt.metrics.requests_in_flight.dec();
        self.conn.request_finished();
        if self.rt.settings.access_log {
            tracing::info!(
                target: "levee::access",
                request_id = %self.request_id,
                client = %self.peer.client,
                method = %self.method,
                path = self.uri.path(),
                version = ?self.version,
                route = self.route.as_deref().unwrap_or("-"),
                status = self.status,
                reason = self.reason.map_or("-", Reason::slug),
                upstream = %self.upstream.as_ref().map_or("-", |a| a.as_str()),
                upstream_headers_ms = self.headers_after.map_or(-1.0, |d| d.as_secs_f64() * 1000.0),
                duration_ms = elapsed.as_secs_f64() * 1000.0,
                bytes_out = bytes,
                completed = finished,
                "request"
            );
        }
    }
}
