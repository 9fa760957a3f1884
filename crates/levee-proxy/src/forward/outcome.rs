//! What an upstream exchange says, and to whom: the last step of forwarding.
//!
//! Two listeners judge each exchange. The endpoint's **breaker** hears
//! whether the endpoint worked ([`Verdict`]): a response is a success, except
//! the upstream's own 502/504 (it cannot serve: its backend is gone or slow,
//! as in Envoy's outlier detection); no connection, a failed TLS handshake, a
//! broken connection or a response head too late by the pool's own limit are
//! failures; and an
//! exchange cut by the caller's deadline, or by the client's body passing
//! the route's limit, says nothing about the endpoint (neutral). The upstream
//! 503 is a deliberate, healthy answer (load shedding, maintenance) that the
//! client must see: a success for the breaker.
//!
//! A gRPC upstream's trailers-only `UNAVAILABLE` or `RESOURCE_EXHAUSTED`
//! (in an HTTP 200) is a failure for the breaker and a drop for admission:
//! the server could not take the call.
//!
//! **Admission** hears whether the upstream dropped the request
//! ([`limiter_sample`]): its own 503 (or gRPC refusal), a timeout of the pool's, a broken or
//! refused connection are drops (congestion signals); a response is a
//! latency sample; an exchange that never reached the upstream, or was cut
//! by the caller, is nothing. A TLS failure is nothing too: a certificate
//! that does not verify is a configuration problem, not congestion, and
//! counting it as drops would shrink the limit until the gateway answered
//! `503 overloaded` instead of the 502 that says what is wrong.
//!
//! This module must not send anything or build responses.

use std::time::Duration;

use http::StatusCode;

use super::Forwarded;
use crate::error::ProxyError;

/// What one attempt at an endpoint came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Attempt {
    /// A response head with this status.
    Answered(StatusCode),
    /// A gRPC trailers-only answer saying `UNAVAILABLE` (14) or
    /// `RESOURCE_EXHAUSTED` (8): the server could not take the call.
    GrpcRefused,
    /// No response head in time; `callers` when the time was what remained
    /// of the caller's deadline rather than the pool's limit.
    TimedOut { callers: bool },
    /// The client's body passed the route's limit while streaming.
    BodyTooLarge,
    /// The client's body failed: malformed, stalled, too slow — or still
    /// arriving when the response deadline passed.
    ClientBody,
    /// No connection could be opened.
    ConnectFailed,
    /// The connection was opened but the TLS handshake failed (the
    /// certificate, the name, the client certificate, the protocol
    /// versions): nothing was sent.
    TlsFailed,
    /// The connection broke, or the response head was not HTTP.
    Broken,
    /// The endpoint closed the connection before any answer, and the
    /// request can be sent whole again (idempotent, no streamed body).
    ClosedUnanswered,
}

/// What an attempt says about the endpoint, for its breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The endpoint worked.
    Success,
    /// The endpoint failed.
    Failure,
    /// Nothing about the endpoint (a probe slot is given back).
    Neutral,
}

/// The breaker's verdict on an attempt. `failure_on_5xx`: the pool counts
/// its endpoints' own 5xx answers (but `503`, a deliberate refusal) as
/// failures too.
pub(super) fn verdict(attempt: Attempt, failure_on_5xx: bool) -> Verdict {
    match attempt {
        Attempt::Answered(StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT) => {
            Verdict::Failure
        }
        Attempt::Answered(status)
            if failure_on_5xx
                && status.is_server_error()
                && status != StatusCode::SERVICE_UNAVAILABLE =>
        {
            Verdict::Failure
        }
        Attempt::Answered(_) => Verdict::Success,
        Attempt::GrpcRefused => Verdict::Failure,
        Attempt::TimedOut { callers: false }
        | Attempt::ConnectFailed
        | Attempt::TlsFailed
        | Attempt::Broken
        | Attempt::ClosedUnanswered => Verdict::Failure,
        Attempt::TimedOut { callers: true } | Attempt::BodyTooLarge | Attempt::ClientBody => {
            Verdict::Neutral
        }
    }
}

/// Whether a response head is a gRPC trailers-only refusal: `grpc-status`
/// `UNAVAILABLE` (14) or `RESOURCE_EXHAUSTED` (8). Other codes are the
/// application's business. (A status in trailers after messages is not seen
/// here: by then the call was served.)
pub(super) fn grpc_refused(headers: &http::HeaderMap) -> bool {
    headers
        .get("grpc-status")
        .is_some_and(|v| v.as_bytes() == b"14" || v.as_bytes() == b"8")
}

/// What admission learns from a forwarded request: its latency to the
/// response head and whether it was a drop; `None` when it never reached the
/// upstream or was cut by its caller. `elapsed` is the time since it was
/// sent, for failures that have no head.
pub(crate) fn limiter_sample(
    result: &Result<Forwarded, ProxyError>,
    elapsed: Duration,
) -> Option<(Duration, bool)> {
    match result {
        Ok(fwd) => Some((
            fwd.headers_after,
            fwd.response.status() == StatusCode::SERVICE_UNAVAILABLE
                || grpc_refused(fwd.response.headers()),
        )),
        Err(ProxyError::Timeout { callers: true, .. } | ProxyError::UpstreamTls { .. }) => None,
        Err(
            ProxyError::Timeout { .. }
            | ProxyError::BadGateway { .. }
            | ProxyError::Unavailable { .. },
        ) => Some((elapsed, true)),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_may_count_its_endpoints_5xx() {
        use Attempt::*;
        let err = StatusCode::INTERNAL_SERVER_ERROR;
        assert_eq!(verdict(Answered(err), false), Verdict::Success);
        assert_eq!(verdict(Answered(err), true), Verdict::Failure);
        assert_eq!(
            verdict(Answered(StatusCode::SERVICE_UNAVAILABLE), true),
            Verdict::Success,
            "a deliberate 503 says the service is busy, not broken"
        );
        assert_eq!(
            verdict(Answered(StatusCode::NOT_FOUND), true),
            Verdict::Success
        );
    }

    #[test]
    fn the_breaker_hears_only_what_the_endpoint_did() {
        use Attempt::*;
        assert_eq!(verdict(Answered(StatusCode::OK), false), Verdict::Success);
        assert_eq!(
            verdict(Answered(StatusCode::NOT_FOUND), false),
            Verdict::Success
        );
        assert_eq!(
            verdict(Answered(StatusCode::SERVICE_UNAVAILABLE), false),
            Verdict::Success,
            "a deliberate 503 is a healthy answer"
        );
        assert_eq!(
            verdict(Answered(StatusCode::BAD_GATEWAY), false),
            Verdict::Failure
        );
        assert_eq!(
            verdict(Answered(StatusCode::GATEWAY_TIMEOUT), false),
            Verdict::Failure
        );
        assert_eq!(
            verdict(TimedOut { callers: false }, false),
            Verdict::Failure
        );
        assert_eq!(verdict(ConnectFailed, false), Verdict::Failure);
        assert_eq!(
            verdict(TlsFailed, false),
            Verdict::Failure,
            "a certificate that does not verify is the endpoint's (or its settings') fault"
        );
        assert_eq!(verdict(Broken, false), Verdict::Failure);
        assert_eq!(
            verdict(TimedOut { callers: true }, false),
            Verdict::Neutral,
            "the caller's deadline says nothing about the endpoint"
        );
        assert_eq!(
            verdict(ClientBody, false),
            Verdict::Neutral,
            "a failed client body is the client's fault"
        );
        assert_eq!(
            verdict(BodyTooLarge, false),
            Verdict::Neutral,
            "the client's fault"
        );
    }

    #[test]
    fn admission_hears_drops_and_latencies_not_what_never_reached_the_upstream() {
        let timeout = |callers| {
            Err(ProxyError::Timeout {
                endpoint: "e".into(),
                timeout: Duration::from_millis(100),
                callers,
            })
        };
        let ms = Duration::from_millis;
        assert_eq!(
            limiter_sample(&timeout(false), ms(100)),
            Some((ms(100), true))
        );
        assert_eq!(limiter_sample(&timeout(true), ms(100)), None);
        let too_large = Err(ProxyError::BodyTooLarge { limit: 4 });
        assert_eq!(limiter_sample(&too_large, ms(1)), None);
        let bad = Err(ProxyError::BadGateway {
            endpoint: "e".into(),
            cause: "reset".into(),
        });
        assert_eq!(limiter_sample(&bad, ms(3)), Some((ms(3), true)));
        let tls = Err(ProxyError::UpstreamTls {
            endpoint: "e".into(),
            cause: "invalid peer certificate: UnknownIssuer".into(),
        });
        assert_eq!(
            limiter_sample(&tls, ms(3)),
            None,
            "a TLS failure is not congestion"
        );
    }
}
