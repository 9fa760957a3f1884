//! The last phase: the response head that leaves the gateway, and the record
//! of the exchange written when its body really ends.
//!
//! An upstream's response head is finished here: the gateway speaks its own
//! HTTP version to the client, the request id goes back in its header, the
//! route's rate-limit fields are added unless the upstream set its own, and
//! an upstream `503` without `Retry-After` gets `Retry-After: 1` (the
//! contract: every 503 that leaves Levee says when to come back).
//!
//! [`Exchange`] rides inside the response body (see [`crate::body`]) and,
//! when the body ends or is dropped, writes the access-log line and the
//! metrics and counts the request out of the connection and the drain. A
//! request whose client went away before any response was made (the handler
//! is dropped mid-way) is settled all the same, when its record is dropped:
//! one access-log line with status `499` ("client closed request", as nginx
//! logs it; HAProxy's `CD`, Envoy's `DC`) and its metrics counted out. Every
//! request, whatever its end, writes exactly one line.
//!
//! This module must not decide the status of an answer.

use std::sync::Arc;
use std::time::Duration;

use http::header::{self, HeaderValue};
use http::{Method, Response, StatusCode, Uri, Version};
use hyper::body::Incoming;
use levee_http::{Reason, RequestId};
use tokio::time::Instant;

use crate::body::{Completion, OnComplete, ProxyBody};
use crate::conn::{ConnState, Peer};
use crate::context::RequestCx;
use crate::drain::InFlightGuard;
use crate::metrics::RouteMetrics;
use crate::rescue::{RATELIMIT, RATELIMIT_POLICY};
use crate::runtime::{Runtime, Settings};

/// Finishes an upstream response's head for the client: the request id,
/// the rate-limit fields, and on a 503 the contract's `Retry-After` and the
/// status page's `Link` (unless the upstream gave its own).
pub(crate) fn upstream_head(
    response: Response<Incoming>,
    cx: &crate::rescue::ErrorContext<'_>,
    rate_fields: Option<(HeaderValue, HeaderValue)>,
) -> Response<ProxyBody> {
    let mut response = response.map(ProxyBody::upstream);
    // The gateway speaks its own HTTP version to the client (an HTTP/1.0
    // upstream must not make the client's connection 1.0).
    *response.version_mut() = Version::HTTP_11;
    let status = response.status();
    finish_headers(
        status,
        response.headers_mut(),
        cx.request_id,
        rate_fields,
        cx.settings,
    );
    if status == StatusCode::SERVICE_UNAVAILABLE && cx.settings.status_page.is_some() {
        crate::rescue::link_upstream_503(response.headers_mut(), cx);
    }
    response
}

fn finish_headers(
    status: StatusCode,
    h: &mut http::HeaderMap,
    request_id: &RequestId,
    rate_fields: Option<(HeaderValue, HeaderValue)>,
    settings: &Settings,
) {
    h.insert(
        settings.request_id_header.clone(),
        request_id.header_value().clone(),
    );
    // The upstream's own rate-limit fields, if any, win over ours.
    if let Some((policy, limit)) = rate_fields.filter(|_| !h.contains_key(RATELIMIT)) {
        h.insert(RATELIMIT_POLICY, policy);
        h.insert(RATELIMIT, limit);
    }
    // The contract: every 503 that leaves Levee says when to come back.
    if status == StatusCode::SERVICE_UNAVAILABLE && !h.contains_key(header::RETRY_AFTER) {
        h.insert(header::RETRY_AFTER, HeaderValue::from(1u64));
    }
}

/// Everything the access log and metrics need about one exchange; written
/// when the response body ends or is dropped.
pub(crate) struct Exchange {
    start: Instant,
    method: Method,
    uri: Uri,
    version: Version,
    request_id: RequestId,
    peer: Peer,
    status: u16,
    /// The route, once known.
    pub(crate) route: Option<Arc<str>>,
    /// The route's metric handles, once known.
    pub(crate) metrics: Option<RouteMetrics>,
    /// The endpoint that answered, if one did.
    pub(crate) upstream: Option<http::uri::Authority>,
    /// The endpoint that failed, when none answered.
    pub(crate) tried: Option<String>,
    /// Its time to the response head.
    pub(crate) headers_after: Option<Duration>,
    /// The reason, when the gateway answered itself.
    pub(crate) reason: Option<Reason>,
    rt: Arc<Runtime>,
    conn: Arc<ConnState>,
    _guard: InFlightGuard,
    /// The request's place in its client's count, for as long as it runs.
    pub(crate) client: Option<crate::limits::ClientGuard>,
    /// Written and counted out already.
    settled: bool,
}

impl Exchange {
    /// The record of the exchange `cx` describes, counted in at once.
    pub(crate) fn begin<B>(
        req: &http::Request<B>,
        cx: &RequestCx,
        rt: Arc<Runtime>,
        conn: Arc<ConnState>,
        guard: InFlightGuard,
    ) -> Exchange {
        rt.metrics.requests_in_flight.inc();
        conn.request_started(req.version());
        Exchange {
            start: cx.start,
            method: req.method().clone(),
            uri: req.uri().clone(),
            version: req.version(),
            request_id: cx.request_id.clone(),
            peer: cx.peer,
            status: 0,
            route: None,
            metrics: None,
            upstream: None,
            tried: None,
            headers_after: None,
            reason: None,
            rt,
            conn,
            _guard: guard,
            client: None,
            settled: false,
        }
    }

    /// Attaches the record to the response that ends the exchange.
    pub(crate) fn attach(mut self, mut response: Response<ProxyBody>) -> Response<ProxyBody> {
        if let Some(reason) = self.reason {
            self.rt.metrics.gateway_error(reason);
        }
        self.status = response.status().as_u16();
        if let Some(reason) = self.reason
            && levee_http::grpc::is_grpc(
                response
                    .headers()
                    .get(http::header::CONTENT_TYPE)
                    .map(|v| v.as_bytes()),
            )
        {
            // A gRPC refusal travels as HTTP 200 with `grpc-status`; the log
            // and the metrics count it as the status it stands for, so a
            // shed call is never a 2xx on a dashboard.
            self.status = reason.status().as_u16();
        }
        let body = std::mem::replace(response.body_mut(), ProxyBody::empty());
        *response.body_mut() = body.on_complete(Completion::new(Box::new(self)));
        response
    }
}

/// The status logged for a request whose client left before any response.
pub(crate) const CLIENT_CLOSED: u16 = 499;

impl OnComplete for Exchange {
    fn complete(mut self: Box<Self>, bytes: u64, finished: bool) {
        self.settle(bytes, finished);
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        if !self.settled {
            // Dropped before a response was attached: the client went away
            // while the gateway was still working on its request.
            self.status = CLIENT_CLOSED;
            self.settle(0, false);
        }
    }
}

impl Exchange {
    fn settle(&mut self, bytes: u64, finished: bool) {
        if std::mem::replace(&mut self.settled, true) {
            return;
        }
        let elapsed = self.start.elapsed();
        if let Some(m) = &self.metrics {
            m.record(self.status, elapsed, self.reason, self.headers_after);
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
                route = self.route.as_deref(),
                status = self.status,
                reason = self.reason.map(Reason::slug),
                upstream = self.upstream.as_ref().map(|a| a.as_str()).or(self.tried.as_deref()),
                upstream_headers_ms = self.headers_after.map(|d| d.as_secs_f64() * 1000.0),
                duration_ms = elapsed.as_secs_f64() * 1000.0,
                bytes_out = bytes,
                completed = finished,
                "request"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(status: StatusCode, h: &mut http::HeaderMap, rate: bool) {
        let id = RequestId::from_ulid(ulid::Ulid::nil());
        let fields = rate.then(|| {
            (
                HeaderValue::from_static("\"default\";q=10;w=1"),
                HeaderValue::from_static("\"default\";r=9;t=1"),
            )
        });
        finish_headers(status, h, &id, fields, &Settings::default());
    }

    #[test]
    fn an_upstream_503_always_says_when_to_come_back() {
        let mut h = http::HeaderMap::new();
        finished(StatusCode::SERVICE_UNAVAILABLE, &mut h, false);
        assert_eq!(h["retry-after"], "1");
        let mut own = http::HeaderMap::new();
        own.insert(header::RETRY_AFTER, HeaderValue::from_static("42"));
        finished(StatusCode::SERVICE_UNAVAILABLE, &mut own, false);
        assert_eq!(own["retry-after"], "42", "the upstream's own is kept");
        let mut ok = http::HeaderMap::new();
        finished(StatusCode::OK, &mut ok, false);
        assert!(ok.get("retry-after").is_none());
        assert!(ok.contains_key("x-request-id"));
    }

    #[test]
    fn the_upstreams_rate_fields_win_over_the_routes() {
        let mut h = http::HeaderMap::new();
        finished(StatusCode::OK, &mut h, true);
        assert_eq!(h[RATELIMIT], "\"default\";r=9;t=1");
        let mut own = http::HeaderMap::new();
        own.insert(RATELIMIT, HeaderValue::from_static("\"up\";r=1;t=5"));
        finished(StatusCode::OK, &mut own, true);
        assert_eq!(own[RATELIMIT], "\"up\";r=1;t=5");
        assert!(own.get(RATELIMIT_POLICY).is_none());
    }
}
