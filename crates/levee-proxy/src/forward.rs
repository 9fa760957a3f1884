//! Forwarding one request to a pool and getting the response head back.
//!
//! Builds the upstream request (hop-by-hop fields removed per RFC 9110
//! §7.6.1, forwarding fields and the request id added, the body streamed
//! through a size limit), picks an endpoint, sends it with the pool's
//! response-head deadline, and maps every failure to a [`ProxyError`]:
//!
//! | what happened | answer |
//! | --- | --- |
//! | could not connect (refused, unreachable, connect timeout) | next endpoint if the request has no body, else `503 upstream-unavailable` |
//! | every breaker open | `503 upstream-unavailable`, `Retry-After` = time to the next probe |
//! | no response head within `response_timeout` (or the caller's deadline) | `504 gateway-timeout` |
//! | connection broken or invalid response head | `502 bad-gateway` |
//! | the client's body passed the route's limit | `413 payload-too-large` |
//!
//! Breakers count connect failures, timeouts, broken responses and an
//! upstream's own 502/504 as failures; any other response is a success.
//!
//! An upgrade (WebSocket) that the upstream accepts with `101` is tunnelled
//! here, byte for byte, until either side closes.
//!
//! This module must not choose the route or render errors.

use std::net::SocketAddr;
use std::time::Duration;

use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode, Uri, Version};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use levee_http::RequestId;
use levee_http::headers::{
    ForwardedFor, append_forwarded, is_upgrade_request, remove_hop_by_hop, set_x_forwarded,
};
use tokio::time::Instant;

use crate::body::{BodyTooLarge, UpstreamBody};
use crate::control::ControlHandle;
use crate::error::ProxyError;
use crate::pool::{Pool, Protocol};
use crate::route::Route;
use crate::runtime::Settings;

/// What the client connection tells the forwarder.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    /// The client's address.
    pub client: SocketAddr,
    /// The gateway's address the client connected to.
    pub local: SocketAddr,
    /// Whether the client used TLS.
    pub tls: bool,
}

/// A response head from upstream, and where it came from.
#[derive(Debug)]
pub struct Forwarded {
    /// The upstream's response, hop-by-hop fields removed.
    pub response: Response<Incoming>,
    /// The endpoint that answered.
    pub endpoint: http::uri::Authority,
    /// Time from sending the request — its body fully, if it had one — to
    /// the response head.
    pub headers_after: Duration,
}

/// Sends `req` to the route's pool.
pub async fn forward(
    mut req: Request<Incoming>,
    route: &Route,
    peer: Peer,
    request_id: &RequestId,
    settings: &Settings,
    deadline: Option<Instant>,
    control: &ControlHandle,
) -> Result<Forwarded, ProxyError> {
    let pool = &route.pool;
    let limit = route.max_body_size.unwrap_or(u64::MAX);
    if let Some(len) = content_length(req.headers())
        && len > limit
    {
        return Err(ProxyError::BodyTooLarge { limit });
    }
    let upgrade =
        (req.version() == Version::HTTP_11 && is_upgrade_request(req.headers())).then(|| {
            (
                req.headers().get(header::UPGRADE).cloned(),
                hyper::upgrade::on(&mut req),
            )
        });

    let (mut parts, body) = req.into_parts();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    let authority = parts.uri.authority().cloned();
    let headers = &mut parts.headers;
    remove_hop_by_hop(headers);
    if !headers.contains_key(header::HOST) {
        // HTTP/2 clients send :authority instead of Host; HTTP/1.1 upstreams need Host.
        if let Some(a) = &authority
            && let Ok(v) = HeaderValue::from_str(a.as_str())
        {
            headers.insert(header::HOST, v);
        }
    }
    let fwd = ForwardedFor {
        client: peer.client.ip(),
        proto: if peer.tls { "https" } else { "http" },
        host: None,
        by: Some(peer.local.ip()),
    };
    if settings.x_forwarded || settings.forwarded {
        let host = headers.get(header::HOST).cloned();
        let fwd = ForwardedFor {
            host: host.as_ref(),
            ..fwd
        };
        if settings.x_forwarded {
            set_x_forwarded(headers, &fwd);
        }
        if settings.forwarded {
            append_forwarded(headers, &fwd);
        }
    }
    headers.insert(
        settings.request_id_header.clone(),
        request_id.header_value().clone(),
    );
    if let Some((Some(proto), _)) = &upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, proto.clone());
    }

    // A request without a body can be sent again to another endpoint when the
    // first could not even be connected to: nothing reached the upstream.
    let bodyless = http_body::Body::is_end_stream(&body);
    let body_done: Option<crate::body::BodyDone> = (!bodyless).then(Default::default);
    let mut body = Some(UpstreamBody::new(body, limit, body_done.clone()));
    let mut tried: Vec<usize> = Vec::new();
    let version = match pool.protocol {
        Protocol::Http1 => Version::HTTP_11,
        Protocol::H2c => Version::HTTP_2,
    };
    loop {
        let idx = pool
            .pick(Instant::now().into_std(), &tried, &control.load().drained)
            .map_err(|e| ProxyError::Unavailable {
                pool: pool.name.clone(),
                cause: if !tried.is_empty() {
                    "every endpoint refused".to_owned()
                } else if e.all_drained {
                    "every endpoint is drained".to_owned()
                } else {
                    "every endpoint is drained or its breaker is open".to_owned()
                },
                retry_in: e.retry_in,
            })?;
        tried.push(idx);
        let endpoint = &pool.endpoints[idx];
        let uri = Uri::builder()
            .scheme("http")
            .authority(endpoint.authority.clone())
            .path_and_query(path_and_query.as_str())
            .build()
            .map_err(|_| ProxyError::BadRequest("the request target cannot be forwarded"))?;
        let this_body = body.take().unwrap_or_else(UpstreamBody::empty);
        let mut up = Request::new(this_body);
        *up.method_mut() = parts.method.clone();
        *up.uri_mut() = uri;
        *up.version_mut() = version;
        let last_try = !bodyless || tried.len() >= pool.endpoints.len();
        if last_try {
            *up.headers_mut() = std::mem::take(&mut parts.headers);
            // Extensions carry hyper's record of the original header-name case.
            *up.extensions_mut() = std::mem::take(&mut parts.extensions);
        } else {
            *up.headers_mut() = parts.headers.clone();
        }

        let sent = Instant::now();
        // The wait for the response head is the pool's limit, or what is left
        // of the caller's deadline if that is sooner; the rest is passed on.
        let timeout = match deadline {
            Some(d) => {
                let remaining = d.saturating_duration_since(sent);
                crate::deadline::pass_on(up.headers_mut(), &settings.deadline_header, remaining);
                pool.response_timeout.min(remaining)
            }
            None => pool.response_timeout,
        };
        let result = tokio::time::timeout(timeout, pool.client.request(up)).await;
        let now = Instant::now();
        // The upstream's latency starts when it had the whole request.
        let sent = body_done
            .as_ref()
            .and_then(|d| d.get().copied())
            .map_or(sent, |done| done.max(sent));
        match result {
            Err(_elapsed) => {
                // Only the pool's own limit says the endpoint is slow; a
                // caller's short deadline says nothing about it.
                if timeout == pool.response_timeout {
                    endpoint.on_failure(now.into_std());
                } else {
                    endpoint.on_success(now.into_std());
                }
                return Err(ProxyError::Timeout {
                    endpoint: endpoint.authority.to_string(),
                    timeout,
                });
            }
            Ok(Ok(mut response)) => {
                // An upstream's own 502/504 says it cannot serve (its backend
                // is gone or slow): a breaker failure, as in Envoy's outlier
                // detection. Its 503 is a deliberate, healthy answer (load
                // shedding, maintenance) that the client must see, so it is not.
                match response.status() {
                    StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT => {
                        endpoint.on_failure(now.into_std())
                    }
                    _ => endpoint.on_success(now.into_std()),
                }
                if let Some((_, downstream)) = upgrade
                    && response.status() == StatusCode::SWITCHING_PROTOCOLS
                {
                    let upstream = hyper::upgrade::on(&mut response);
                    tokio::spawn(tunnel(downstream, upstream));
                    return Ok(Forwarded {
                        response,
                        endpoint: endpoint.authority.clone(),
                        headers_after: now - sent,
                    });
                }
                remove_hop_by_hop(response.headers_mut());
                return Ok(Forwarded {
                    response,
                    endpoint: endpoint.authority.clone(),
                    headers_after: now - sent,
                });
            }
            Ok(Err(e)) => {
                if let Some(limit) = find::<BodyTooLarge>(&e).map(|b| b.limit) {
                    endpoint.on_success(now.into_std());
                    return Err(ProxyError::BodyTooLarge { limit });
                }
                endpoint.on_failure(now.into_std());
                if e.is_connect() {
                    if bodyless && tried.len() < pool.endpoints.len() {
                        tracing::debug!(request_id = %request_id, endpoint = %endpoint.authority, error = %chain(&e), "connect failed; trying the next endpoint");
                        continue;
                    }
                    return Err(ProxyError::Unavailable {
                        pool: pool.name.clone(),
                        cause: chain(&e),
                        retry_in: pool.pick_retry_in(now.into_std(), &control.load().drained),
                    });
                }
                return Err(ProxyError::BadGateway {
                    endpoint: endpoint.authority.to_string(),
                    cause: chain(&e),
                });
            }
        }
    }
}

impl Pool {
    /// When to tell a client to come back after every endpoint failed: the
    /// earliest time a breaker admits a probe, at least one second.
    fn pick_retry_in(&self, now: std::time::Instant, drained: &[http::uri::Authority]) -> Duration {
        self.pick(now, &[], drained)
            .err()
            .map_or(Duration::from_secs(1), |e| e.retry_in)
    }
}

async fn tunnel(downstream: hyper::upgrade::OnUpgrade, upstream: hyper::upgrade::OnUpgrade) {
    let (down, up) = match tokio::try_join!(downstream, upstream) {
        Ok(pair) => pair,
        Err(e) => {
            tracing::debug!(error = %e, "upgrade failed");
            return;
        }
    };
    let mut down = TokioIo::new(down);
    let mut up = TokioIo::new(up);
    if let Err(e) = tokio::io::copy_bidirectional(&mut down, &mut up).await {
        tracing::debug!(error = %e, "upgraded connection closed with an error");
    }
}

fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The first error of type `E` in a cause chain.
fn find<'a, E: std::error::Error + 'static>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(hit) = err.downcast_ref::<E>() {
            return Some(hit);
        }
        cur = err.source();
    }
    None
}

/// An error and its causes on one line, for logs.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
