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

use crate::body::{BodyDone, BodyPolicy, RequestBody, UpstreamBody};
use crate::conn::Peer;
use crate::error::ProxyError;
use crate::runtime::Settings;

/// A client request made ready to send upstream, to one endpoint or (when it
/// has no body) to several in turn.
#[derive(Debug)]
pub(super) struct Prepared {
    parts: Parts,
    path_and_query: String,
    body: Option<RequestBody>,
    policy: BodyPolicy,
    /// When the body was fully sent; `None` for a request without one.
    pub(super) body_done: Option<BodyDone>,
    /// Its body can be sent again (none, or read whole before admission):
    /// the request may go to another endpoint when the first could not be
    /// connected to.
    pub(super) replayable: bool,
    /// Its body is still arriving from the client as it is sent.
    pub(super) streamed: bool,
    /// The client asked to switch protocols (WebSocket): the protocol and
    /// the client's side of the upgrade.
    pub(super) upgrade: Option<(Option<HeaderValue>, hyper::upgrade::OnUpgrade)>,
}

/// Makes `req` ready to send upstream.
pub(super) fn prepare(
    mut req: Request<RequestBody>,
    policy: BodyPolicy,
    peer: Peer,
    request_id: &RequestId,
    settings: &Settings,
) -> Result<Prepared, ProxyError> {
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
    let streamed = matches!(body, RequestBody::Streamed(_)) && !body.is_empty();
    let replayable = !streamed;
    let body_done: Option<BodyDone> = streamed.then(Default::default);
    Ok(Prepared {
        parts,
        path_and_query,
        body: Some(body),
        policy,
        body_done,
        replayable,
        streamed,
        upgrade,
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
    /// The request for one attempt at `authority`. The last attempt takes the
    /// head and the extensions (hyper's record of the header-name case);
    /// earlier ones (only for replayable requests) take copies.
    pub(super) fn attempt(
        &mut self,
        authority: &http::uri::Authority,
        version: Version,
        last: bool,
    ) -> Result<Request<UpstreamBody>, ProxyError> {
        let uri = Uri::builder()
            .scheme("http")
            .authority(authority.clone())
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
            }
            Some(streamed) => {
                UpstreamBody::new(streamed, limit, self.policy.read, self.body_done.clone())
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
        }
        Ok(up)
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
