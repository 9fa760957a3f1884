//! Building the upstream request from the client's: the first step of
//! forwarding.
//!
//! Hop-by-hop fields go (RFC 9110 §7.6.1), forwarding fields and the request
//! id come in, `Host` is filled from `:authority` for HTTP/2 clients, and the
//! body is wrapped to stream through the route's size limit and to note when
//! it was fully sent. A request whose declared length is over the limit is
//! refused here, before anything is sent.
//!
//! This module must not pick endpoints or send anything.

use http::header::{self, HeaderValue};
use http::request::Parts;
use http::{Request, Uri, Version};
use levee_http::RequestId;
use levee_http::headers::{
    ForwardedFor, allowed_upgrade, append_forwarded, is_upgrade_request, remove_hop_by_hop,
    set_x_forwarded,
};

use crate::body::{BodyDone, BodyFaults, BodyPolicy, RequestBody, Unread, UpstreamBody};
use crate::conn::Peer;
use crate::error::ProxyError;
use crate::runtime::Settings;

/// A client request made ready to send upstream, to one endpoint or, when
/// an endpoint cannot be connected to, to the next.
#[derive(Debug)]
pub(super) struct Prepared {
    parts: Parts,
    path_and_query: String,
    body: Option<RequestBody>,
    policy: BodyPolicy,
    /// When the body was fully sent; `None` for a request without one.
    pub(super) body_done: Option<BodyDone>,
    /// How the body failed, if it did (the client's fault or over the limit).
    pub(super) faults: BodyFaults,
    /// Its body is still arriving from the client as it is sent.
    pub(super) streamed: bool,
    /// The client asked to switch protocols (WebSocket): the protocol and
    /// the client's side of the upgrade.
    pub(super) upgrade: Option<(Option<HeaderValue>, hyper::upgrade::OnUpgrade)>,
    /// The authority the client asked for (`Host`, or HTTP/2's
    /// `:authority`): sent upstream as the request's authority, so that an
    /// HTTP/2 upstream's `:authority` is the client's, as `Host` is.
    authority: Option<http::uri::Authority>,
    /// The client sent `TE: trailers` (gRPC does, to detect proxies that
    /// would lose trailers): passed on to HTTP/2 upstreams, the only value
    /// RFC 9113 §8.2.2 allows there.
    te_trailers: bool,
    /// Where a streamed body comes back when an attempt dropped it unread
    /// (the connection could not be opened): it can still go elsewhere.
    unread: Option<Unread>,
    /// The client's address (the connection's peer), for hashing pools.
    pub(super) client: std::net::IpAddr,
}

/// The longest pause in a gRPC request stream (Envoy's stream idle timeout
/// is 5 minutes; a gRPC subscription can be quiet far longer).
const GRPC_STREAM_IDLE: std::time::Duration = std::time::Duration::from_secs(30 * 86_400);

/// Makes `req` ready to send upstream.
pub(super) fn prepare(
    mut req: Request<RequestBody>,
    mut policy: BodyPolicy,
    peer: Peer,
    request_id: &RequestId,
    settings: &Settings,
) -> Result<Prepared, ProxyError> {
    if levee_http::grpc::is_grpc(
        req.headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.as_bytes()),
    ) {
        // A gRPC call's request stream may rightly pause for as long as the
        // call lasts (a subscription sends one message and waits); gRPC has
        // its own deadlines. The size limit still applies.
        policy.read = crate::body::BodyRead {
            idle: GRPC_STREAM_IDLE,
            min_rate: 0,
            grace: GRPC_STREAM_IDLE,
        };
    }
    let limit = policy.max_size.unwrap_or(u64::MAX);
    if let Some(len) = content_length(req.headers())
        && len > limit
    {
        return Err(ProxyError::BodyTooLarge { limit });
    }
    // Only an allowed protocol is tunnelled; otherwise `Upgrade` goes with
    // the other hop-by-hop fields and the request is an ordinary one.
    let upgrade = if req.version() == Version::HTTP_11 && is_upgrade_request(req.headers()) {
        allowed_upgrade(req.headers(), &settings.upgrade_protocols)
            .map(|proto| (Some(proto), hyper::upgrade::on(&mut req)))
    } else {
        None
    };
    let te_trailers = req
        .headers()
        .get_all(header::TE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("trailers")
        });
    let (mut parts, body) = req.into_parts();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    rewrite_head(&mut parts, peer, request_id, settings, upgrade.is_some());
    if let Some((Some(proto), _)) = &upgrade {
        parts.headers.insert(header::UPGRADE, proto.clone());
    }
    let authority = parts
        .headers
        .get(header::HOST)
        .and_then(|h| http::uri::Authority::try_from(h.as_bytes()).ok());
    let streamed = matches!(body, RequestBody::Streamed(_)) && !body.is_empty();
    let body_done: Option<BodyDone> = streamed.then(Default::default);
    Ok(Prepared {
        client: peer.client.ip(),
        parts,
        path_and_query,
        body: Some(body),
        policy,
        body_done,
        streamed,
        upgrade,
        authority,
        te_trailers,
        unread: None,
        faults: BodyFaults::default(),
    })
}

/// The head rewrite every forwarded request gets.
fn rewrite_head(
    parts: &mut Parts,
    peer: Peer,
    request_id: &RequestId,
    settings: &Settings,
    upgrade: bool,
) {
    let authority = parts.uri.authority().cloned();
    let headers = &mut parts.headers;
    remove_hop_by_hop(headers);
    if !settings.is_trusted(peer.client.ip()) {
        // A priority only a trusted client may set is not passed on from
        // anyone else either.
        headers.remove(&settings.priority_header);
    }
    if !headers.contains_key(header::HOST) {
        // HTTP/2 clients send :authority instead of Host; HTTP/1.1 upstreams need Host.
        if let Some(a) = &authority
            && let Ok(v) = HeaderValue::from_str(a.as_str())
        {
            headers.insert(header::HOST, v);
        }
    }
    if settings.x_forwarded || settings.forwarded {
        let host = headers.get(header::HOST).cloned();
        let fwd = ForwardedFor {
            client: peer.client.ip(),
            proto: if peer.tls { "https" } else { "http" },
            host: host.as_ref(),
            by: Some(peer.local.ip()),
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
    if upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
}

impl Prepared {
    /// Whether RFC 9110 §9.2.2 calls the method idempotent, and the
    /// request (no upgrade, no streamed body) can be sent again whole after
    /// a connection closed unanswered.
    pub(super) fn idempotent(&self) -> bool {
        self.upgrade.is_none()
            && !self.streamed
            && matches!(
                self.parts.method,
                http::Method::GET
                    | http::Method::HEAD
                    | http::Method::OPTIONS
                    | http::Method::TRACE
                    | http::Method::PUT
                    | http::Method::DELETE
            )
    }

    /// The request's header fields as they will be sent (before the last
    /// attempt takes them).
    pub(super) fn headers(&self) -> &http::HeaderMap {
        &self.parts.headers
    }

    /// The request for one attempt at `endpoint`, in `version`, its URI in
    /// `scheme` (`https` over TLS). The last attempt takes the
    /// head and the extensions (hyper's record of the header-name case);
    /// earlier ones take copies.
    pub(super) fn attempt(
        &mut self,
        endpoint: &http::uri::Authority,
        version: Version,
        scheme: &str,
        last: bool,
    ) -> Result<Request<UpstreamBody>, ProxyError> {
        // The endpoint's client dials the endpoint; the URI names what the
        // client asked for.
        let authority = self.authority.clone().unwrap_or_else(|| endpoint.clone());
        let uri = Uri::builder()
            .scheme(scheme)
            .authority(authority)
            .path_and_query(self.path_and_query.as_str())
            .build()
            .map_err(|_| ProxyError::BadRequest("the request target cannot be forwarded"))?;
        let limit = self.policy.max_size.unwrap_or(u64::MAX);
        let body = match self.body.take() {
            // A body read whole is sent again as it is.
            Some(RequestBody::Buffered(bytes)) => {
                if !last {
                    self.body = Some(RequestBody::Buffered(bytes.clone()));
                }
                UpstreamBody::new(RequestBody::Buffered(bytes), limit, self.policy.read, None)
                    .reporting_faults(self.faults.clone())
            }
            Some(streamed) => {
                let mut body =
                    UpstreamBody::new(streamed, limit, self.policy.read, self.body_done.clone())
                        .reporting_faults(self.faults.clone());
                if !last {
                    let slot = self.unread.get_or_insert_with(Default::default).clone();
                    body = body.returning_unread(slot);
                }
                body
            }
            None => UpstreamBody::empty(),
        };
        let mut up = Request::new(body);
        *up.method_mut() = self.parts.method.clone();
        *up.uri_mut() = uri;
        *up.version_mut() = version;
        if last {
            *up.headers_mut() = std::mem::take(&mut self.parts.headers);
            *up.extensions_mut() = std::mem::take(&mut self.parts.extensions);
        } else {
            *up.headers_mut() = self.parts.headers.clone();
            *up.extensions_mut() = self.parts.extensions.clone();
        }
        if version == Version::HTTP_2 {
            // `:authority` carries the host; and `TE: trailers` passes.
            up.headers_mut().remove(header::HOST);
            if self.te_trailers {
                up.headers_mut()
                    .insert(header::TE, HeaderValue::from_static("trailers"));
            }
        }
        Ok(up)
    }

    /// Takes back a streamed body the last attempt dropped unread (it could
    /// not connect, so nothing was sent): `true` when the request can go to
    /// another endpoint.
    pub(super) fn reclaim(&mut self) -> bool {
        if self.body.is_some() {
            return true;
        }
        let back = self
            .unread
            .as_ref()
            .and_then(|slot| slot.lock().ok()?.take());
        match back {
            Some(body) => {
                self.body = Some(body);
                true
            }
            None => false,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> Peer {
        Peer {
            client: "10.0.0.7:5000".parse().expect("addr"),
            local: "10.0.0.1:80".parse().expect("addr"),
            tls: false,
        }
    }

    fn rewritten(req: http::Request<()>, settings: &Settings) -> http::HeaderMap {
        let (mut parts, ()) = req.into_parts();
        let id = RequestId::from_ulid(ulid::Ulid::nil());
        rewrite_head(&mut parts, peer(), &id, settings, false);
        parts.headers
    }

    #[test]
    fn hop_by_hop_fields_go_and_forwarding_fields_come() {
        let req = http::Request::get("/x")
            .header("host", "api.example")
            .header("connection", "keep-alive, x-secret")
            .header("x-secret", "1")
            .header("te", "gzip")
            .header("accept", "*/*")
            .body(())
            .expect("request");
        let h = rewritten(req, &Settings::default());
        assert!(h.get("connection").is_none() && h.get("x-secret").is_none());
        assert!(h.get("te").is_none());
        assert_eq!(h["accept"], "*/*");
        assert_eq!(h["x-forwarded-for"], "10.0.0.7");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "api.example");
        assert!(h.contains_key("x-request-id"));
    }

    #[test]
    fn an_h2_authority_becomes_the_host() {
        let req = http::Request::get("http://api.example:8443/x")
            .version(Version::HTTP_2)
            .body(())
            .expect("request");
        let h = rewritten(req, &Settings::default());
        assert_eq!(h["host"], "api.example:8443");
    }

    #[test]
    fn declared_lengths_are_read_strictly() {
        let mut h = http::HeaderMap::new();
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static(" 42 "));
        assert_eq!(content_length(&h), Some(42));
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("4x"));
        assert_eq!(content_length(&h), None);
    }
}
