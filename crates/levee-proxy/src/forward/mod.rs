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
    /// Time from sending the request — its body fully, if it had one — to
    /// the response head.
    pub headers_after: Duration,
}

/// Sends `req` to the route's pool.
pub async fn forward(
    req: http::Request<crate::body::RequestBody>,
    route: &Route,
    peer: Peer,
    request_id: &RequestId,
    settings: &Settings,
    deadline: Option<Instant>,
    control: &ControlHandle,
) -> Result<Forwarded, ProxyError> {
    let prepared = request::prepare(req, route.spec.body, peer, request_id, settings)?;
    send::send(
        prepared,
        &route.pool,
        request_id,
        settings,
        deadline,
        control,
    )
    .await
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
