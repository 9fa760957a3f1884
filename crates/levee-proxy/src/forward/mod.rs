//! Forwarding one request to a pool and getting the response head back.
//!
//! Three steps, one file each: [`request`] makes the client's request ready
//! to send (hop-by-hop fields removed per RFC 9110 §7.6.1, forwarding fields
//! and the request id added, the body streamed through a size limit); `send`
//! picks endpoints and sends, with failover and the response-head deadline;
//! [`outcome`] says what each attempt means for the endpoint's breaker and
//! for admission. Every failure is a [`ProxyError`]:
//!
//! | what happened | answer |
//! | --- | --- |
//! | could not connect (refused, unreachable, connect timeout) | next endpoint (nothing was sent; a streamed body comes back unread), else `503 upstream-unavailable` |
//! | the TLS handshake failed (certificate, name, client certificate) | next endpoint (nothing was sent), else `502 bad-gateway` naming the endpoint and the reason |
//! | every breaker open | `503 upstream-unavailable`, `Retry-After` = time to the next probe |
//! | no endpoint of the pool could take it, and the route has alternate pools | the next pool, in order (a pool a maintenance window closes is skipped); when none could: `503 upstream-unavailable` naming the pools tried, `Retry-After` = the earliest any expects to recover |
//! | no response head within `response_timeout` (or the caller's deadline) | `504 gateway-timeout` |
//! | connection broken or invalid response head | `502 bad-gateway` |
//! | the client's body passed the route's limit | `413 payload-too-large` |
//!
//! An upgrade (WebSocket) that the upstream accepts with `101` is tunnelled
//! (see `tunnel.rs`), byte for byte, until either side closes.
//!
//! This module must not choose the route or render errors.

pub(crate) mod outcome;
mod request;
mod send;
mod tunnel;

use std::time::Duration;

use http::Response;
use hyper::body::Incoming;
use levee_http::RequestId;
use tokio::time::Instant;

use crate::conn::Peer;
use crate::control::ControlHandle;
use crate::error::ProxyError;
use crate::route::Route;
use crate::runtime::Settings;

/// A response head from upstream, and where it came from.
#[derive(Debug)]
pub struct Forwarded {
    /// The upstream's response, hop-by-hop fields removed.
    pub response: Response<Incoming>,
    /// The endpoint that answered.
    pub endpoint: http::uri::Authority,
    /// The pool it belongs to: its index in [`Route::pools`] (0 unless an
    /// alternate pool answered).
    pub pool: usize,
    /// Time from sending the request — its body fully, if it had one — to
    /// the response head.
    pub headers_after: Duration,
}

/// Sends `req` to the route's pool, or, when it has no endpoint to take
/// the request, to its alternate pools in order. `closed` marks the pools
/// (bit `i` of [`Route::pools`]) a maintenance window closes for this
/// request.
#[allow(clippy::too_many_arguments)]
pub async fn forward(
    req: http::Request<crate::body::RequestBody>,
    route: &Route,
    closed: u16,
    peer: Peer,
    request_id: &RequestId,
    settings: &Settings,
    deadline: Option<Instant>,
    control: &ControlHandle,
) -> Result<Forwarded, ProxyError> {
    let mut prepared = request::prepare(req, route.spec.body, peer, request_id, settings)?;
    let is_open = |i: usize| closed & (1 << i) == 0;
    // The last pool the request may go to: no attempt before it is the last.
    let last_open = (0..=route.fallback.len()).rev().find(|&i| is_open(i));
    let mut failed: Vec<ProxyError> = Vec::new();
    for (index, pool) in route.pools().enumerate().filter(|(i, _)| is_open(*i)) {
        let more = last_open.is_some_and(|last| index < last);
        match send::send(
            &mut prepared,
            pool,
            more,
            request_id,
            settings,
            deadline,
            control,
        )
        .await
        {
            // Nothing reached this pool: the next one may take the request,
            // when its body can still be sent.
            Err(e @ ProxyError::Unavailable { .. }) if more && prepared.reclaim() => {
                tracing::debug!(request_id = %request_id, pool = %pool.name, error = %e, "trying the route's next pool");
                failed.push(e);
            }
            Err(e @ ProxyError::Unavailable { .. }) if !failed.is_empty() => {
                failed.push(e);
                return Err(every_pool_failed(failed));
            }
            Ok(mut fwd) => {
                fwd.pool = index;
                return Ok(fwd);
            }
            Err(e) => return Err(e),
        }
    }
    Err(every_pool_failed(failed))
}

/// The one `503 upstream-unavailable` for a route none of whose pools could
/// take the request: it names the pools tried, and its `Retry-After` is the
/// earliest any of them expects to take requests again.
fn every_pool_failed(failed: Vec<ProxyError>) -> ProxyError {
    let mut pools = Vec::new();
    let mut first: Option<String> = None;
    let mut retry_in: Option<Duration> = None;
    let mut all_drained = true;
    let mut last_endpoint = None;
    let mut last_cause = String::new();
    for e in failed {
        if let ProxyError::Unavailable {
            pool,
            cause,
            retry_in: r,
            tried,
            drained,
            ..
        } = e
        {
            first.get_or_insert_with(|| pool.clone());
            pools.push(pool);
            retry_in = Some(retry_in.map_or(r, |s| s.min(r)));
            all_drained &= drained;
            last_endpoint = tried.or(last_endpoint);
            last_cause = cause;
        }
    }
    ProxyError::Unavailable {
        pool: first.unwrap_or_default(),
        cause: format!("every pool failed; the last: {last_cause}"),
        retry_in: retry_in.unwrap_or(Duration::from_secs(1)),
        tried: last_endpoint,
        drained: all_drained,
        pools,
    }
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
