//! The one place errors become responses.
//!
//! Everything above this module returns [`ProxyError`]; here it becomes a
//! problem in the format the client negotiated, with the headers the contract
//! requires: `Retry-After` (delay-seconds, ≥ 1) on every 503 and 429,
//! `Cache-Control: no-store`, the request id header, `Vary: Accept`, the
//! status page (a `status_page` member and `Link: <…>; rel="status"`, RFC
//! 8631) on every 5xx and 429 when there is one, and `Connection: close`
//! when the gateway is draining an HTTP/1 connection. So
//! an error never reaches hyper, and no connection is cut without an answer.
//!
//! This module must not decide *whether* to answer with an error.

use std::time::Duration;

use http::header::{self, HeaderName, HeaderValue};
use http::{Request, Response, Version};
use levee_http::negotiate::negotiate;
use levee_http::pages::PROBLEMS_PATH;
use levee_http::{JsonStyle, Problem, Reason, RequestId, grpc};

use crate::body::ProxyBody;
use crate::error::ProxyError;
use crate::runtime::Settings;

/// What rescue needs to know about the request it answers.
#[derive(Debug)]
pub struct ErrorContext<'a> {
    /// The request id.
    pub request_id: &'a RequestId,
    /// The request's headers (for `Accept` and `Host`).
    pub headers: &'a http::HeaderMap,
    /// The request's URI (for `instance` and the authority of h2 requests).
    pub uri: &'a http::Uri,
    /// The request's version (HTTP/1 gets `Connection: close` when draining).
    pub version: Version,
    /// Whether the client connected over TLS.
    pub tls: bool,
    /// The route's JSON style (problem+json unless a route asks for the envelope).
    pub json_style: JsonStyle,
    /// Gateway-wide settings.
    pub settings: &'a Settings,
}

impl<'a> ErrorContext<'a> {
    /// The context of a request.
    pub fn of<B>(
        req: &'a Request<B>,
        request_id: &'a RequestId,
        tls: bool,
        settings: &'a Settings,
    ) -> ErrorContext<'a> {
        ErrorContext {
            request_id,
            headers: req.headers(),
            uri: req.uri(),
            version: req.version(),
            tls,
            json_style: JsonStyle::Problem,
            settings,
        }
    }
}

/// The response for an error.
pub fn rescue(err: &ProxyError, cx: &ErrorContext<'_>) -> Response<ProxyBody> {
    if grpc::is_grpc(
        cx.headers
            .get(header::CONTENT_TYPE)
            .map(HeaderValue::as_bytes),
    ) {
        return grpc_response(err, cx);
    }
    if let ProxyError::Maintenance { window, retry_in } = err {
        return maintenance_response(window, *retry_in, Some(err.detail()), cx);
    }
    let reason = err.reason();
    let (mut problem, retry_after, status_page) =
        problem_for(reason, Some(err.detail()), err.retry_in(), cx);
    if let ProxyError::Unavailable { pools, .. } = err
        && pools.len() > 1
    {
        // A route with alternate pools says which it asked.
        problem = problem.with_extension("tried", pools.clone());
    }
    let mut resp = respond_problem(reason, &problem, retry_after, status_page.as_deref(), cx);
    if let ProxyError::RateLimited(r) = err {
        // draft-ietf-httpapi-ratelimit-headers: the policy and the (empty) allowance.
        let h = resp.headers_mut();
        h.insert(RATELIMIT_POLICY, r.policy.clone());
        h.insert(RATELIMIT, r.limit.clone());
    }
    resp
}

/// `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers).
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `RateLimit` (draft-ietf-httpapi-ratelimit-headers).
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// A problem response for `reason`.
pub fn problem_response(
    reason: Reason,
    detail: Option<String>,
    retry_in: Option<Duration>,
    cx: &ErrorContext<'_>,
) -> Response<ProxyBody> {
    let (problem, retry_after, status_page) = problem_for(reason, detail, retry_in, cx);
    respond_problem(reason, &problem, retry_after, status_page.as_deref(), cx)
}

/// `problem` rendered in the negotiated format, with its `Retry-After` and
/// its status page's `Link`.
fn respond_problem(
    reason: Reason,
    problem: &Problem,
    retry_after: Option<u64>,
    status_page: Option<&str>,
    cx: &ErrorContext<'_>,
) -> Response<ProxyBody> {
    let (content_type, body) = problem.render(format_for(cx));
    respond(
        reason,
        content_type,
        body,
        retry_after.map(HeaderValue::from),
        status_page,
        cx,
    )
}

/// The `503 maintenance` answer: the problem with the window's `message`,
/// `ends_at` and `window_id`, or the maintenance page for browsers.
/// `Retry-After` is the time to the window's end (as an HTTP-date when so
/// configured and the end is known).
fn maintenance_response(
    window: &crate::control::Window,
    retry_in: Duration,
    detail: Option<String>,
    cx: &ErrorContext<'_>,
) -> Response<ProxyBody> {
    let reason = Reason::Maintenance;
    let (mut problem, secs, status_page) = problem_for(reason, detail, Some(retry_in), cx);
    let secs = secs.unwrap_or(1);
    problem = problem
        .with_extension("message", &*window.message)
        .with_extension(
            "ends_at",
            window
                .ends_at
                .map(levee_http::maintenance::rfc3339)
                .map_or(serde_json::Value::Null, serde_json::Value::from),
        )
        .with_extension("window_id", &*window.id);
    let (content_type, body) = match format_for(cx) {
        levee_http::Format::Html => (
            "text/html; charset=utf-8",
            levee_http::maintenance::render(
                &cx.settings.maintenance_page,
                &levee_http::maintenance::PageFields {
                    title: reason.title(),
                    message: &window.message,
                    ends_at: window.ends_at,
                    retry_after: secs,
                    request_id: cx.request_id.as_str(),
                    status_page: status_page.as_deref(),
                },
            )
            .into_bytes(),
        ),
        format => problem.render(format),
    };
    let retry_after = match window.ends_at {
        // The date form only within the cap; further away, the capped delay.
        Some(end)
            if cx.settings.maintenance_retry_after_date
                && retry_in < crate::guard::MAINTENANCE_RETRY_CAP =>
        {
            HeaderValue::from_str(&httpdate::fmt_http_date(end)).ok()
        }
        _ => None,
    }
    .unwrap_or_else(|| HeaderValue::from(secs));
    respond(
        reason,
        content_type,
        body,
        Some(retry_after),
        status_page.as_deref(),
        cx,
    )
}

/// The problem for `reason`, its `Retry-After` seconds (when the contract
/// requires one) and its status page's URL (when it has one), computed once
/// for the member, the `Link` header and the maintenance page.
fn problem_for(
    reason: Reason,
    detail: Option<String>,
    retry_in: Option<Duration>,
    cx: &ErrorContext<'_>,
) -> (Problem, Option<u64>, Option<String>) {
    let mut problem = Problem::new(reason, &type_base(cx))
        .with_request_id(cx.request_id.as_str())
        .with_instance(cx.uri.path());
    if let Some(d) = detail {
        problem = problem.with_detail(d);
    }
    let retry_after = reason
        .requires_retry_after()
        .then(|| retry_after_secs(retry_in.unwrap_or(Duration::from_secs(1))));
    if let Some(secs) = retry_after {
        problem = problem.with_retry_after(secs);
    }
    let status_page = status_url(reason, cx);
    if let Some(url) = &status_page {
        problem = problem.with_extension("status_page", url.as_str());
    }
    (problem, retry_after, status_page)
}

/// The status page's URL for a refusal with `reason`: for 5xx and 429 only
/// (a client's own mistake is not news for a status page).
fn status_url(reason: Reason, cx: &ErrorContext<'_>) -> Option<String> {
    let status = reason.status();
    if !(status.is_server_error() || status == http::StatusCode::TOO_MANY_REQUESTS) {
        return None;
    }
    cx.settings
        .status_page
        .as_ref()?
        .url(request_host(cx), cx.tls)
}

/// `Link: <…>; rel="status"` for an upstream's own 503 passing through
/// (every 503 that leaves Levee points at the status page), unless the
/// upstream linked a status page itself.
pub(crate) fn link_upstream_503(h: &mut http::HeaderMap, cx: &ErrorContext<'_>) {
    let linked = h
        .get_all(header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("rel=\"status\"") || v.contains("rel=status"));
    if linked {
        return;
    }
    if let Some(v) =
        status_url(Reason::UpstreamUnavailable, cx).and_then(|u| crate::status::link_header(&u))
    {
        h.append(header::LINK, v);
    }
}

/// The host the client addressed (`Host`, else the URI's authority), when
/// usable in a URL.
fn request_host<'a>(cx: &ErrorContext<'a>) -> Option<&'a str> {
    cx.headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| cx.uri.authority().map(http::uri::Authority::as_str))
        .filter(|h| h.parse::<http::uri::Authority>().is_ok() && !h.contains('@'))
}

fn format_for(cx: &ErrorContext<'_>) -> levee_http::Format {
    negotiate(
        cx.headers
            .get_all(header::ACCEPT)
            .iter()
            .map(HeaderValue::as_bytes),
        cx.json_style,
    )
}

fn respond(
    reason: Reason,
    content_type: &'static str,
    body: Vec<u8>,
    retry_after: Option<HeaderValue>,
    status_page: Option<&str>,
    cx: &ErrorContext<'_>,
) -> Response<ProxyBody> {
    let mut resp = Response::new(ProxyBody::full(body));
    *resp.status_mut() = reason.status();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::VARY, HeaderValue::from_static("Accept"));
    h.insert(
        cx.settings.request_id_header.clone(),
        cx.request_id.header_value().clone(),
    );
    if let Some(v) = retry_after {
        h.insert(header::RETRY_AFTER, v);
    }
    if let Some(link) = status_page.and_then(crate::status::link_header) {
        h.insert(header::LINK, link);
    }
    resp
}

/// The answer to a gRPC request the gateway refuses itself: trailers-only
/// (HTTP 200, `content-type: application/grpc`, no body) with the status
/// mapped from the reason, a readable `grpc-message` with the request id,
/// the retry delay as `grpc-retry-pushback-ms` (`-1` when a retry cannot
/// help) and the problem as `grpc-status-details-bin` (see
/// [`levee_http::grpc`]). `Retry-After` is kept for HTTP-level tools.
fn grpc_response(err: &ProxyError, cx: &ErrorContext<'_>) -> Response<ProxyBody> {
    let reason = err.reason();
    let code = grpc::code_for(reason, err.is_callers_deadline());
    let retry_in = err.retry_in();
    let mut message = format!("{}: {}", reason.slug(), err.detail());
    if let ProxyError::Maintenance { window, .. } = err
        && !window.message.is_empty()
    {
        message = format!("{message} {}", window.message);
    }
    message.push_str(&format!(" (request id {})", cx.request_id.as_str()));
    let mut metadata = vec![("request_id", cx.request_id.as_str().to_owned())];
    if let ProxyError::Maintenance { window, .. } = err {
        metadata.push(("window_id", window.id.to_string()));
        if let Some(end) = window.ends_at {
            metadata.push(("ends_at", levee_http::maintenance::rfc3339(end)));
        }
    }
    let metadata: Vec<(&str, &str)> = metadata.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let details = grpc::status_details(code, &message, reason.slug(), &metadata, retry_in);
    let mut resp = Response::new(ProxyBody::empty());
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    h.insert("grpc-status", HeaderValue::from(u16::from(code.number())));
    if let Ok(v) = HeaderValue::from_str(&grpc::encode_message(&message)) {
        h.insert("grpc-message", v);
    }
    if let Some(v) =
        grpc::pushback(retry_in, reason.retryable()).and_then(|p| HeaderValue::from_str(&p).ok())
    {
        h.insert("grpc-retry-pushback-ms", v);
    }
    if let Ok(v) = HeaderValue::from_str(&details) {
        h.insert("grpc-status-details-bin", v);
    }
    if let Some(d) = retry_in {
        h.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs(d)));
    }
    h.insert(
        cx.settings.request_id_header.clone(),
        cx.request_id.header_value().clone(),
    );
    resp
}

/// Delay-seconds for `Retry-After`: whole seconds, rounded up, at least 1
/// (RFC 9110 §10.2.3; 0 would invite an immediate retry).
pub fn retry_after_secs(d: Duration) -> u64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.max(1)
}

/// The absolute base of problem `type` URIs for this request: the configured
/// one, else this gateway as the client addressed it, else a relative path.
fn type_base(cx: &ErrorContext<'_>) -> String {
    if let Some(base) = &cx.settings.problem_base_url {
        return base.clone();
    }
    match request_host(cx) {
        Some(host) => format!(
            "{}://{host}{PROBLEMS_PATH}",
            if cx.tls { "https" } else { "http" }
        ),
        None => PROBLEMS_PATH.to_owned(),
    }
}

/// The response for a problem-type page (`GET /_levee/problems/...`), or
/// `None` when the path names no page.
pub fn problem_page(
    path: &str,
    request_id: &RequestId,
    id_header: &HeaderName,
) -> Option<Response<ProxyBody>> {
    let html = levee_http::pages::page_for_path(path)?;
    let mut resp = Response::new(ProxyBody::full(html));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    h.insert(id_header.clone(), request_id.header_value().clone());
    Some(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_at_least_one() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(30)), 30);
    }
}
