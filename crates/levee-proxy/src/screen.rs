//! The first phase: is this a request the gateway will route at all?
//!
//! In order: a draining gateway refuses what is new (`503 draining`); the
//! pages that problem `type` URIs point at, and the status page under
//! `/_levee/status/` when it is served on this listener, are served here; the header
//! section must be within the limits (`431`); and HTTP/1.1 needs exactly one
//! valid `Host` (RFC 9112 §3.2; HTTP/2 carries `:authority`), which becomes
//! the lowercase host, without port, that routing matches (`400`). Then
//! [`normalize_path`] rewrites the path routing matches and the upstream
//! receives (dot segments, merged slashes, unreserved escapes: `400` for an
//! invalid escape).
//!
//! This module must not choose routes or contact upstreams.

use http::{Method, Request, Response, Version, header};

use crate::body::ProxyBody;
use crate::context::RequestCx;
use crate::error::ProxyError;
use crate::rescue::problem_page;
use crate::runtime::Settings;

/// The status page's base on the traffic listener.
const STATUS_BASE: &str = "/_levee/status/";

/// What screening decided.
#[derive(Debug)]
pub(crate) enum Screened {
    /// A page the gateway serves itself.
    Page(Response<ProxyBody>),
    /// Route it: the host asked for, lowercase, without port (if any).
    Host(Option<String>),
}

/// Screens `req`.
pub(crate) fn screen<B>(
    req: &Request<B>,
    draining: bool,
    cx: &RequestCx,
    settings: &Settings,
    site: Option<&crate::status::SiteHandle>,
) -> Result<Screened, ProxyError> {
    if draining {
        return Err(ProxyError::Draining {
            retry_in: settings.drain_retry_after,
        });
    }
    // Only a request for the page loads the published site.
    if req.uri().path().starts_with(crate::status::STATUS_PATH)
        && let Some(site) = site
            .and_then(crate::status::SiteHandle::load)
            .filter(|s| s.on_traffic_listener)
        && let Some(resp) = crate::status::serve(
            &site,
            STATUS_BASE,
            req.method(),
            req.uri().path(),
            req.headers(),
        )
    {
        let mut resp = resp.map(ProxyBody::full);
        resp.headers_mut().insert(
            settings.request_id_header.clone(),
            cx.request_id.header_value().clone(),
        );
        return Ok(Screened::Page(resp));
    }
    if (req.method() == Method::GET || req.method() == Method::HEAD)
        && let Some(page) = problem_page(
            req.uri().path(),
            &cx.request_id,
            &settings.request_id_header,
        )
    {
        return Ok(Screened::Page(page));
    }
    check_header_limits(req, settings)?;
    check_transfer_coding(req)?;
    request_host(req).map(Screened::Host)
}

fn check_header_limits<B>(req: &Request<B>, settings: &Settings) -> Result<(), ProxyError> {
    let headers = req.headers();
    if headers.len() > settings.max_headers {
        return Err(ProxyError::HeadersTooLarge {
            what: format!(
                "{} fields, more than the limit of {}",
                headers.len(),
                settings.max_headers
            ),
        });
    }
    let bytes: usize = headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum();
    if bytes > settings.max_header_bytes {
        return Err(ProxyError::HeadersTooLarge {
            what: format!(
                "{bytes} bytes, more than the limit of {}",
                settings.max_header_bytes
            ),
        });
    }
    Ok(())
}

/// Normalizes the request's path in place (see [`levee_http::path`]) when
/// `normalize_path` is on, so that routes, route-scoped maintenance and body
/// limits match the path the upstream acts on, and the upstream receives
/// that same path. The query is kept as sent.
pub(crate) fn normalize_path<B>(
    req: &mut Request<B>,
    settings: &Settings,
) -> Result<(), ProxyError> {
    if !settings.normalize_path {
        return Ok(());
    }
    let uri = req.uri();
    let path = uri.path();
    let normal = levee_http::path::normalize(path, settings.merge_slashes)
        .map_err(|_| ProxyError::BadRequest("the path has an invalid percent-escape"))?;
    let std::borrow::Cow::Owned(normal) = normal else {
        return Ok(());
    };
    let path_and_query = match uri.query() {
        Some(q) => format!("{normal}?{q}"),
        None => normal,
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(
        path_and_query
            .parse()
            .map_err(|_| ProxyError::BadRequest("the path is not valid once normalized"))?,
    );
    *req.uri_mut() = http::Uri::from_parts(parts)
        .map_err(|_| ProxyError::BadRequest("the path is not valid once normalized"))?;
    Ok(())
}

/// Only `chunked` is implemented (RFC 9112 §6.1: a server that receives a
/// transfer coding it does not understand answers 501). hyper decodes the
/// chunked framing; any other coding would reach the upstream undecoded,
/// without the field that names it.
fn check_transfer_coding<B>(req: &Request<B>) -> Result<(), ProxyError> {
    for value in req.headers().get_all(header::TRANSFER_ENCODING) {
        let text = value.to_str().unwrap_or("(not text)");
        for coding in text.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            if !coding.eq_ignore_ascii_case("chunked") {
                return Err(ProxyError::TransferCoding(coding.to_owned()));
            }
        }
    }
    Ok(())
}

/// The host the request is for, lowercase, without port.
fn request_host<B>(req: &Request<B>) -> Result<Option<String>, ProxyError> {
    let mut hosts = req.headers().get_all(header::HOST).iter();
    let host = match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => return Err(ProxyError::BadRequest("more than one Host header")),
        (Some(h), None) => Some(levee_http::headers::parse_host(h.as_bytes()).ok_or(
            ProxyError::BadRequest("the Host header is not a valid host"),
        )?),
        (None, None) => match req.uri().authority() {
            Some(a) => Some(a.host().to_ascii_lowercase()),
            None if req.version() == Version::HTTP_11 => {
                return Err(ProxyError::BadRequest(
                    "HTTP/1.1 requests need a Host header",
                ));
            }
            None => None,
        },
        (None, Some(_)) => None,
    };
    Ok(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx(req: &Request<()>, settings: &Settings) -> RequestCx {
        let peer = crate::conn::Peer {
            client: "127.0.0.1:1".parse().expect("addr"),
            local: "127.0.0.1:2".parse().expect("addr"),
            tls: false,
        };
        RequestCx::new(req, peer, settings)
    }

    fn screened(req: Request<()>, draining: bool) -> Result<Screened, ProxyError> {
        let settings = Settings::default();
        let cx = cx(&req, &settings);
        screen(&req, draining, &cx, &settings, None)
    }

    fn host(h: &str) -> Result<Screened, ProxyError> {
        screened(
            Request::get("/")
                .header("host", h)
                .body(())
                .expect("request"),
            false,
        )
    }

    #[test]
    fn the_host_is_lowercase_without_port_or_trailing_dot() {
        let Ok(Screened::Host(h)) = host("API.Example.com.:8443") else {
            panic!("routed")
        };
        assert_eq!(h.as_deref(), Some("api.example.com"));
    }

    #[test]
    fn bad_hosts_are_400() {
        for bad in ["user@api.example", "a b", ""] {
            assert!(
                matches!(host(bad), Err(ProxyError::BadRequest(_))),
                "{bad:?}"
            );
        }
        let two = Request::get("/")
            .header("host", "a")
            .header("host", "b")
            .body(())
            .expect("request");
        assert!(matches!(
            screened(two, false),
            Err(ProxyError::BadRequest(_))
        ));
        let none = Request::get("/").body(()).expect("request");
        assert!(matches!(
            screened(none, false),
            Err(ProxyError::BadRequest(_))
        ));
    }

    #[test]
    fn draining_refuses_first_and_pages_are_served() {
        let req = Request::get("/_levee/problems/overloaded")
            .header("host", "a")
            .body(())
            .expect("request");
        assert!(matches!(
            screened(req, true),
            Err(ProxyError::Draining { .. })
        ));
        let req = Request::get("/_levee/problems/overloaded")
            .header("host", "a")
            .body(())
            .expect("request");
        assert!(matches!(screened(req, false), Ok(Screened::Page(_))));
    }

    #[test]
    fn only_chunked_is_a_transfer_coding_we_know() {
        let te = |v: &str| {
            screened(
                Request::post("/")
                    .header("host", "a")
                    .header("transfer-encoding", v)
                    .body(())
                    .expect("request"),
                false,
            )
        };
        assert!(matches!(te("chunked"), Ok(Screened::Host(_))));
        assert!(matches!(te("Chunked"), Ok(Screened::Host(_))));
        match te("gzip, chunked") {
            Err(ProxyError::TransferCoding(c)) => assert_eq!(c, "gzip"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn too_many_header_fields_are_431() {
        let mut b = Request::get("/").header("host", "a");
        for i in 0..=Settings::default().max_headers {
            b = b.header(format!("x-{i}"), "1");
        }
        let req = b.body(()).expect("request");
        assert!(matches!(
            screened(req, false),
            Err(ProxyError::HeadersTooLarge { .. })
        ));
    }
}
