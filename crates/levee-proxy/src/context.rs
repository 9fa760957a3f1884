//! One request's context through the phases of [`crate::service`]: who sent
//! it, its id, when it started, and what an error answer will need once the
//! request itself has moved upstream.
//!
//! The error head (the `Accept`, `Host` and `Content-Type` fields — the last
//! says whether the answer must be gRPC's —, the URI and the version)
//! is copied once, when the request arrives, and the route's JSON style is
//! set as soon as the route is known: so every answer the gateway makes on a
//! route — maintenance, rate limit, overload, or after forwarding — comes in
//! the route's format.
//!
//! This module must not decide anything; it only carries.

use http::header::{self, HeaderMap};
use http::{Request, Uri, Version};
use levee_http::{JsonStyle, RequestId};
use tokio::time::Instant;

use crate::conn::Peer;
use crate::rescue::ErrorContext;
use crate::runtime::Settings;

/// What the phases share about one request.
#[derive(Debug)]
pub(crate) struct RequestCx {
    /// When the request head arrived.
    pub(crate) start: Instant,
    /// Its id: the client's if well-formed, else a new one.
    pub(crate) request_id: RequestId,
    /// The connection it came on.
    pub(crate) peer: Peer,
    /// The JSON style of its errors: the route's, once the route is known.
    pub(crate) json_style: JsonStyle,
    head: ErrorHead,
}

/// The parts of a request head an error answer needs.
#[derive(Debug)]
struct ErrorHead {
    headers: HeaderMap,
    uri: Uri,
    version: Version,
}

impl RequestCx {
    /// The context of `req`, arriving now on `peer`.
    pub(crate) fn new<B>(req: &Request<B>, peer: Peer, settings: &Settings) -> RequestCx {
        let request_id = req
            .headers()
            .get(&settings.request_id_header)
            .and_then(RequestId::accept)
            .unwrap_or_else(|| RequestId::from_ulid(ulid::Ulid::new()));
        let mut headers = HeaderMap::new();
        for name in [header::ACCEPT, header::HOST, header::CONTENT_TYPE] {
            for v in req.headers().get_all(&name) {
                headers.append(name.clone(), v.clone());
            }
        }
        RequestCx {
            start: Instant::now(),
            request_id,
            peer,
            json_style: JsonStyle::Problem,
            head: ErrorHead {
                headers,
                uri: req.uri().clone(),
                version: req.version(),
            },
        }
    }

    /// What [`crate::rescue`] needs to answer this request with a problem.
    pub(crate) fn error_context<'a>(&'a self, settings: &'a Settings) -> ErrorContext<'a> {
        ErrorContext {
            request_id: &self.request_id,
            headers: &self.head.headers,
            uri: &self.head.uri,
            version: self.head.version,
            tls: self.peer.tls,
            json_style: self.json_style,
            settings,
        }
    }
}
