//! Sending a prepared request: endpoint choice, failover, the response-head
//! deadline, and the breaker's verdict on each attempt.
//!
//! A request goes to the next endpoint when the first could not even be
//! connected to, or its TLS handshake failed: nothing reached the upstream.
//! A body read whole is sent again; a streamed one comes back unread from
//! the failed attempt. The wait for the response head is the pool's
//! `response_timeout`, or what remains of the caller's deadline if sooner
//! (the rest is passed on in the deadline headers).
//!
//! This module must not build the request or render errors.

use http::StatusCode;
use levee_http::RequestId;
use levee_http::headers::remove_hop_by_hop;
use tokio::time::Instant;

use super::outcome::{self, Attempt};
use super::request::Prepared;
use super::{Forwarded, chain, tunnel};
use crate::body::BodyFault;
use crate::control::ControlHandle;
use crate::error::ProxyError;
use crate::pool::{Pool, TlsFailure};
use crate::runtime::Settings;

/// Sends `prepared` to an endpoint of `pool`, going to the next endpoint
/// when one cannot be connected to. `more`: another pool may take the
/// request after this one, so no attempt here is the last.
#[allow(clippy::too_many_arguments)]
pub(super) async fn send(
    prepared: &mut Prepared,
    pool: &Pool,
    more: bool,
    request_id: &RequestId,
    settings: &Settings,
    deadline: Option<Instant>,
    control: &ControlHandle,
) -> Result<Forwarded, ProxyError> {
    let version = pool.version();
    let mut tried: Vec<usize> = Vec::new();
    let affinity = pool.affinity(prepared.headers(), prepared.client);
    let idempotent = prepared.idempotent();
    loop {
        let idx = pool
            .pick(
                Instant::now().into_std(),
                &tried,
                &control.load().drained,
                affinity,
            )
            .map_err(|e| {
                let drained = tried.is_empty() && e.all_drained;
                ProxyError::Unavailable {
                    pool: pool.name.clone(),
                    cause: if !tried.is_empty() {
                        "every endpoint refused".to_owned()
                    } else if drained {
                        "every endpoint is drained".to_owned()
                    } else {
                        "every endpoint is drained, unhealthy or its breaker is open".to_owned()
                    },
                    // A drain is the operator's planned work: no breaker
                    // will let a request through sooner.
                    retry_in: if drained {
                        settings.maintenance_open_ended_retry_after
                    } else {
                        e.retry_in
                    },
                    tried: tried
                        .last()
                        .map(|i: &usize| pool.endpoints[*i].authority.to_string()),
                    drained,
                    pools: Vec::new(),
                }
            })?;
        tried.push(idx);
        let endpoint = &pool.endpoints[idx];
        // Any request may go to another endpoint when this one cannot be
        // connected to: nothing was sent (a streamed body comes back unread).
        let last = !more && tried.len() >= pool.endpoints.len();
        let mut up = prepared.attempt(&endpoint.authority, version, pool.scheme(), last)?;

        let sent = Instant::now();
        // The wait for the response head is the pool's limit, or what is left
        // of the caller's deadline if that is sooner; the rest is passed on.
        let (timeout, callers) = match deadline {
            Some(d) => {
                let remaining = d.saturating_duration_since(sent);
                crate::deadline::pass_on(up.headers_mut(), &settings.deadline_header, remaining);
                (
                    pool.response_timeout.min(remaining),
                    remaining < pool.response_timeout,
                )
            }
            None => (pool.response_timeout, false),
        };
        let waiting = endpoint.waiting();
        let result = tokio::time::timeout(timeout, endpoint.client.request(up)).await;
        drop(waiting);
        let now = Instant::now();
        // The upstream's latency starts when it had the whole request.
        let sent = prepared
            .body_done
            .as_ref()
            .and_then(|d| d.get().copied())
            .map_or(sent, |done| done.max(sent));
        // A body still arriving when the deadline passed: the client's upload
        // took the time, not the upstream.
        let uploading = prepared.streamed
            && prepared
                .body_done
                .as_ref()
                .is_some_and(|d| d.get().is_none());
        // How the body failed, if it did: recorded by the body itself, since
        // an HTTP/2 connection reports its own stream reset instead.
        let fault = prepared.faults.get().cloned();
        // A TLS failure, and whether it was the handshake (nothing was sent).
        let tls = match &result {
            Ok(Err(e)) if pool.tls => crate::pool::tls_failure(e),
            _ => None,
        };
        let attempt = match (&result, &fault) {
            (Err(_elapsed), _) if uploading => Attempt::ClientBody,
            (Err(_elapsed), _) => Attempt::TimedOut { callers },
            (Ok(Ok(response)), _) if outcome::grpc_refused(response.headers()) => {
                Attempt::GrpcRefused
            }
            (Ok(Ok(response)), _) => Attempt::Answered(response.status()),
            (Ok(Err(_)), Some(BodyFault::Client { .. })) => Attempt::ClientBody,
            (Ok(Err(_)), Some(BodyFault::TooLarge { .. })) => Attempt::BodyTooLarge,
            (Ok(Err(e)), None) if e.is_connect() && tls.as_ref().is_some_and(|t| t.handshake) => {
                Attempt::TlsFailed
            }
            (Ok(Err(e)), None) if e.is_connect() => Attempt::ConnectFailed,
            // A pooled connection the endpoint closed before answering (it
            // died, or timed the connection out as it was reused): nothing
            // was answered, and an idempotent request may go elsewhere, as
            // nginx's `proxy_next_upstream error` does.
            (Ok(Err(e)), None) if idempotent && closed_unanswered(e) => Attempt::ClosedUnanswered,
            (Ok(Err(_)), None) => Attempt::Broken,
        };
        let tripped = endpoint.record(
            outcome::verdict(attempt, pool.failure_on_5xx),
            now.into_std(),
            || match (&result, attempt) {
                (_, Attempt::TlsFailed) => match &tls {
                    Some(t) => format!("TLS failed: {}", t.cause),
                    None => "TLS failed".to_owned(),
                },
                (Ok(Err(e)), _) => crate::forward::chain(e),
                (_, Attempt::TimedOut { .. }) => {
                    format!("no response head within {} ms", timeout.as_millis())
                }
                (_, Attempt::GrpcRefused) => {
                    "it answered grpc-status UNAVAILABLE or RESOURCE_EXHAUSTED".to_owned()
                }
                (_, Attempt::Answered(status)) => format!("it answered {status}"),
                _ => format!("{attempt:?}"),
            },
        );
        if tripped {
            pool.cap_ejections(idx, now.into_std(), &control.load().drained);
        }
        let mut response = match result {
            Err(_elapsed) if uploading => {
                return Err(ProxyError::ClientBody {
                    cause: "the body was still arriving when the response deadline passed"
                        .to_owned(),
                    timeout: true,
                });
            }
            Err(_elapsed) => {
                return Err(ProxyError::Timeout {
                    endpoint: endpoint.authority.to_string(),
                    timeout,
                    callers,
                });
            }
            Ok(Ok(response)) => response,
            Ok(Err(e)) => match attempt {
                Attempt::ClientBody => {
                    let (cause, timeout) = match fault {
                        Some(BodyFault::Client { cause, timeout }) => (cause, timeout),
                        _ => (chain(&e), true),
                    };
                    return Err(ProxyError::ClientBody { cause, timeout });
                }
                Attempt::BodyTooLarge => {
                    let limit = match fault {
                        Some(BodyFault::TooLarge { limit }) => limit,
                        _ => u64::MAX,
                    };
                    return Err(ProxyError::BodyTooLarge { limit });
                }
                Attempt::ConnectFailed
                    if tried.len() < pool.endpoints.len() && prepared.reclaim() =>
                {
                    endpoint.unreachable(request_id, &chain(&e));
                    continue;
                }
                Attempt::ConnectFailed => {
                    endpoint.unreachable(request_id, &chain(&e));
                    return Err(ProxyError::Unavailable {
                        pool: pool.name.clone(),
                        cause: chain(&e),
                        retry_in: pool.retry_in(now.into_std(), &control.load().drained),
                        tried: Some(endpoint.authority.to_string()),
                        drained: false,
                        pools: Vec::new(),
                    });
                }
                // Closed before any answer, and the request can be sent
                // again whole: the next endpoint may take it. The last one's
                // answer is a 502: the endpoint was reached and failed.
                Attempt::ClosedUnanswered
                    if tried.len() < pool.endpoints.len() && prepared.reclaim() =>
                {
                    continue;
                }
                // The handshake failed: like a failed connect, nothing was
                // sent, so the next endpoint may take the request; the last
                // one's failure is the answer, a 502 saying why.
                Attempt::TlsFailed if tried.len() < pool.endpoints.len() && prepared.reclaim() => {
                    endpoint.unreachable(request_id, &chain(&e));
                    continue;
                }
                _ => {
                    if let Some(TlsFailure { cause, .. }) = tls {
                        if attempt == Attempt::TlsFailed {
                            endpoint.unreachable(request_id, &chain(&e));
                        }
                        return Err(ProxyError::UpstreamTls {
                            endpoint: endpoint.authority.to_string(),
                            cause,
                        });
                    }
                    return Err(ProxyError::BadGateway {
                        endpoint: endpoint.authority.to_string(),
                        cause: chain(&e),
                    });
                }
            },
        };
        if let Some((_, downstream)) = prepared.upgrade.take()
            && response.status() == StatusCode::SWITCHING_PROTOCOLS
        {
            let upstream = hyper::upgrade::on(&mut response);
            tokio::spawn(tunnel::tunnel(downstream, upstream));
        } else {
            remove_hop_by_hop(response.headers_mut());
        }
        return Ok(Forwarded {
            response,
            endpoint: endpoint.authority.clone(),
            pool: 0,
            headers_after: now - sent,
        });
    }
}

/// Whether `e` says the connection was closed before any response came
/// (hyper's "connection closed before message completed", or a request
/// canceled on a connection that was closing).
fn closed_unanswered(e: &hyper_util::client::legacy::Error) -> bool {
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        if let Some(h) = c.downcast_ref::<hyper::Error>() {
            return h.is_incomplete_message() || h.is_canceled();
        }
        cause = c.source();
    }
    false
}
