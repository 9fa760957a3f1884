//! The data path's part in the status page: what it counts and what it
//! serves.
//!
//! - [`RouteTally`]: per route, monotonic counts of the requests answered,
//!   the 5xx among them, the sheds, the slow ones and the maintenance
//!   answers, bumped with relaxed atomics when an exchange is settled. The
//!   control plane reads them once a second ([`crate::metrics::Metrics::tallies`])
//!   and turns the differences into component statuses and availability.
//! - [`StatusSite`]: the rendered documents of the public status page (HTML,
//!   Statuspage v2 JSON, Atom), published by the control plane whenever they
//!   change and served from memory with an `ETag` by [`serve`], both on the
//!   traffic listener (`/_levee/status/…`) and on the status listener. A page
//!   hit hard during an outage costs a hash lookup and a copy of an `Arc`.
//! - [`StatusLink`]: where the status page is, for the `status_page` member
//!   and the `Link: <…>; rel="status"` header (RFC 8631) of refusals.
//!
//! This module must not decide a component's status or render a page.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Response, StatusCode};
use levee_http::Reason;

/// The path the status page is served under on the traffic listener.
pub const STATUS_PATH: &str = "/_levee/status";

/// One route's counts since the gateway started (monotonic).
#[derive(Debug, Default)]
pub struct RouteTally {
    requests: AtomicU64,
    server_errors: AtomicU64,
    shed: AtomicU64,
    slow: AtomicU64,
    maintenance: AtomicU64,
    /// Time to the response head above which an answered request is slow,
    /// in milliseconds; 0: none is.
    slow_after_ms: AtomicU64,
}

/// A reading of a [`RouteTally`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Requests answered outside maintenance (client-closed ones included).
    pub requests: u64,
    /// Of those, answered with a 5xx (the gateway's own 502/503/504 too), or
    /// not answered at all: given up by the client after
    /// [`ABANDONED_AFTER`] without a response head.
    pub server_errors: u64,
    /// Of those, refused by admission (`503 overloaded`).
    pub shed: u64,
    /// Of those, whose response head came later than the route's threshold.
    pub slow: u64,
    /// Requests answered `503 maintenance` (not in `requests`).
    pub maintenance: u64,
}

impl Tally {
    /// The counts between an earlier reading and this one.
    pub fn since(&self, earlier: &Tally) -> Tally {
        Tally {
            requests: self.requests.saturating_sub(earlier.requests),
            server_errors: self.server_errors.saturating_sub(earlier.server_errors),
            shed: self.shed.saturating_sub(earlier.shed),
            slow: self.slow.saturating_sub(earlier.slow),
            maintenance: self.maintenance.saturating_sub(earlier.maintenance),
        }
    }

    /// The sum of two readings.
    pub fn plus(&self, other: &Tally) -> Tally {
        Tally {
            requests: self.requests + other.requests,
            server_errors: self.server_errors + other.server_errors,
            shed: self.shed + other.shed,
            slow: self.slow + other.slow,
            maintenance: self.maintenance + other.maintenance,
        }
    }
}

/// A request its client gave up on before any answer counts as unanswered
/// (like the gateway's own 504) once it had waited this long; sooner, it is
/// a person or program that moved on, and it is not counted at all.
pub const ABANDONED_AFTER: Duration = Duration::from_secs(1);

impl RouteTally {
    /// Counts one settled exchange: its status, the time it took, the
    /// gateway's reason when it answered itself, and the upstream's time to
    /// the response head.
    pub fn record(
        &self,
        status: u16,
        elapsed: Duration,
        reason: Option<Reason>,
        head_after: Option<Duration>,
    ) {
        if reason == Some(Reason::Maintenance) {
            self.maintenance.fetch_add(1, Relaxed);
            return;
        }
        if status == crate::finish::CLIENT_CLOSED {
            // No answer reached the client: a timeout on its side.
            if elapsed >= ABANDONED_AFTER {
                self.requests.fetch_add(1, Relaxed);
                self.server_errors.fetch_add(1, Relaxed);
            }
            return;
        }
        self.requests.fetch_add(1, Relaxed);
        if (500..600).contains(&status) {
            self.server_errors.fetch_add(1, Relaxed);
        }
        if reason == Some(Reason::Overloaded) {
            self.shed.fetch_add(1, Relaxed);
        }
        let slow_after = self.slow_after_ms.load(Relaxed);
        if slow_after > 0
            && let Some(d) = head_after
            && d.as_millis() > u128::from(slow_after)
        {
            self.slow.fetch_add(1, Relaxed);
        }
    }

    /// Sets the time to the response head above which a request is slow
    /// (`None`: none is).
    pub fn set_slow_after(&self, slow_after: Option<Duration>) {
        let ms = slow_after.map_or(0, |d| {
            u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
        });
        self.slow_after_ms.store(ms, Relaxed);
    }

    /// The counts now.
    pub fn read(&self) -> Tally {
        Tally {
            requests: self.requests.load(Relaxed),
            server_errors: self.server_errors.load(Relaxed),
            shed: self.shed.load(Relaxed),
            slow: self.slow.load(Relaxed),
            maintenance: self.maintenance.load(Relaxed),
        }
    }
}

/// Where the status page is, for links from refusals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusLink {
    /// An absolute URL the operator configured (`[status] url`).
    Url(String),
    /// This gateway's own `/_levee/status/`, at the host the client asked.
    Local,
}

impl StatusLink {
    /// The URL for a request to `host` (`tls`: whether it came over TLS);
    /// `None` when the page is local and the host is unusable.
    pub fn url(&self, host: Option<&str>, tls: bool) -> Option<String> {
        match self {
            StatusLink::Url(u) => Some(u.clone()),
            StatusLink::Local => {
                host.map(|h| format!("{}://{h}{STATUS_PATH}/", if tls { "https" } else { "http" }))
            }
        }
    }
}

/// `Link: <url>; rel="status"` (RFC 8631 §6.4's `status` relation: "a
/// resource that represents the context's status").
pub fn link_header(url: &str) -> Option<HeaderValue> {
    if url.contains(['<', '>', '"']) {
        return None;
    }
    HeaderValue::from_str(&format!("<{url}>; rel=\"status\"")).ok()
}

/// One document of the status site.
#[derive(Debug, Clone)]
pub struct Document {
    /// Its media type.
    pub content_type: HeaderValue,
    /// Its bytes.
    pub body: Bytes,
    /// Its strong validator (a hash of the body).
    pub etag: HeaderValue,
    /// The same bytes gzipped (made once per render) and their validator,
    /// when that is smaller.
    pub gzip: Option<(Bytes, HeaderValue)>,
}

/// Documents smaller than this are sent as they are: gzip would not pay.
const GZIP_MIN: usize = 1024;

/// `body` gzipped, if that makes it smaller.
fn gzipped(body: &[u8]) -> Option<Bytes> {
    use std::io::Write;
    if body.len() < GZIP_MIN {
        return None;
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(body).ok()?;
    let out = enc.finish().ok()?;
    (out.len() < body.len()).then(|| Bytes::from(out))
}

/// Whether `Accept-Encoding` admits gzip (RFC 9110 §12.5.3: listed, or
/// `*`, with a weight above 0).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && q > 0.0
        })
}

/// Every document of the status page, by path relative to the site's base
/// (`""` is the HTML page, `api/v2/summary.json`, `history.atom`, …).
#[derive(Debug, Clone, Default)]
pub struct StatusSite {
    documents: HashMap<String, Document>,
    /// Whether it is served on the traffic listener under [`STATUS_PATH`].
    pub on_traffic_listener: bool,
    /// `Cache-Control` of every document.
    pub cache_control: Option<HeaderValue>,
}

impl StatusSite {
    /// A site of `documents` (`(path, content type, body)`).
    pub fn new(
        documents: impl IntoIterator<Item = (String, &'static str, String)>,
        on_traffic_listener: bool,
        max_age: Duration,
    ) -> StatusSite {
        let documents = documents
            .into_iter()
            .map(|(path, content_type, body)| {
                let hash = fnv1a(body.as_bytes());
                let etag = HeaderValue::from_str(&format!("\"{hash:016x}\""))
                    .unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
                // A representation of its own: its own strong validator.
                let gzip = gzipped(body.as_bytes()).and_then(|z| {
                    let tag = HeaderValue::from_str(&format!("\"{hash:016x}-gzip\"")).ok()?;
                    Some((z, tag))
                });
                let doc = Document {
                    content_type: HeaderValue::from_static(content_type),
                    body: Bytes::from(body),
                    etag,
                    gzip,
                };
                (path, doc)
            })
            .collect();
        // Short enough that people see changes within seconds; long enough
        // that a CDN or browser absorbs a crowd; stale copies may stand in
        // while this gateway cannot answer at all.
        let cache_control = HeaderValue::from_str(&format!(
            "public, max-age={}, stale-if-error=86400",
            max_age.as_secs()
        ))
        .ok();
        StatusSite {
            documents,
            on_traffic_listener,
            cache_control,
        }
    }

    /// The document at `path` (relative to the base), if any.
    pub fn document(&self, path: &str) -> Option<&Document> {
        self.documents.get(path)
    }
}

/// FNV-1a, 64 bits: a cheap, stable content hash for `ETag`s.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The answer to `method path` on the status site whose base is `base`
/// (`"/"` on the status listener, `"/_levee/status/"` on the traffic
/// listener); `None` when `path` is not under `base` (nor `base` without its
/// slash, which is redirected to it).
pub fn serve(
    site: &StatusSite,
    base: &str,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Option<Response<Bytes>> {
    let bare = base.strip_suffix('/').unwrap_or(base);
    if !bare.is_empty() && path == bare {
        // Relative links inside the page need the trailing slash.
        return Some(plain(
            StatusCode::MOVED_PERMANENTLY,
            Some((header::LOCATION, HeaderValue::from_str(base).ok()?)),
            "",
        ));
    }
    let rel = path.strip_prefix(base)?;
    let rel = if rel == "index.html" { "" } else { rel };
    let Some(doc) = site.document(rel) else {
        return Some(plain(
            StatusCode::NOT_FOUND,
            None,
            "no such status page document\n",
        ));
    };
    if method != Method::GET && method != Method::HEAD {
        return Some(plain(
            StatusCode::METHOD_NOT_ALLOWED,
            Some((header::ALLOW, HeaderValue::from_static("GET, HEAD"))),
            "the status page is read-only: GET or HEAD\n",
        ));
    }
    // The representation: gzipped when the client takes it and it pays.
    let (bytes, etag, gzip) = match &doc.gzip {
        Some((z, tag)) if accepts_gzip(headers) => (z, tag, true),
        _ => (&doc.body, &doc.etag, false),
    };
    let fresh = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t.as_bytes() == etag.as_bytes());
    let (status, body) = if fresh {
        (StatusCode::NOT_MODIFIED, Bytes::new())
    } else if method == Method::HEAD {
        (StatusCode::OK, Bytes::new())
    } else {
        (StatusCode::OK, bytes.clone())
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::ETAG, etag.clone());
    if let Some(cc) = &site.cache_control {
        h.insert(header::CACHE_CONTROL, cc.clone());
    }
    if doc.gzip.is_some() {
        h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    if status == StatusCode::OK {
        h.insert(header::CONTENT_TYPE, doc.content_type.clone());
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
        if gzip {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
    }
    if rel.ends_with(".json") {
        // Statuspage's API is readable from any origin (widgets, dashboards).
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Some(resp)
}

fn plain(
    status: StatusCode,
    extra: Option<(header::HeaderName, HeaderValue)>,
    body: &'static str,
) -> Response<Bytes> {
    let mut resp = Response::new(Bytes::from_static(body.as_bytes()));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some((k, v)) = extra {
        h.insert(k, v);
    }
    resp
}

/// Where the control plane publishes the site; cheap to clone and read.
#[derive(Debug, Clone, Default)]
pub struct SiteHandle(Arc<arc_swap::ArcSwapOption<StatusSite>>);

impl SiteHandle {
    /// The site now, if one was published.
    pub fn load(&self) -> Option<Arc<StatusSite>> {
        self.0.load_full()
    }

    /// Replaces the site (`None`: no status page).
    pub fn publish(&self, site: Option<StatusSite>) {
        self.0.store(site.map(Arc::new));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> StatusSite {
        StatusSite::new(
            [
                (
                    "".to_owned(),
                    "text/html; charset=utf-8",
                    "<html>".to_owned(),
                ),
                (
                    "api/v2/status.json".to_owned(),
                    "application/json",
                    "{}".to_owned(),
                ),
            ],
            true,
            Duration::from_secs(10),
        )
    }

    fn get(path: &str, headers: &HeaderMap) -> Option<Response<Bytes>> {
        serve(&site(), "/_levee/status/", &Method::GET, path, headers)
    }

    #[test]
    fn documents_are_served_with_validators_and_revalidated() {
        let h = HeaderMap::new();
        let resp = get("/_levee/status/", &h).expect("under the base");
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.body().as_ref(), b"<html>");
        let etag = resp.headers()[header::ETAG].clone();
        let mut again = HeaderMap::new();
        again.insert(header::IF_NONE_MATCH, etag);
        let resp = get("/_levee/status/", &again).expect("under the base");
        assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
        assert!(resp.body().is_empty());
        let json = get("/_levee/status/api/v2/status.json", &h).expect("json");
        assert_eq!(json.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert!(
            json.headers()[header::CACHE_CONTROL]
                .to_str()
                .is_ok_and(|v| v.contains("max-age=10"))
        );
    }

    #[test]
    fn a_client_that_takes_gzip_gets_it_with_its_own_validator() {
        let page = "<html>".to_owned() + &"status ".repeat(500) + "</html>";
        let site = StatusSite::new(
            [("".to_owned(), "text/html; charset=utf-8", page.clone())],
            true,
            Duration::from_secs(10),
        );
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("br;q=1, gzip;q=0.8"),
        );
        let resp = serve(&site, "/", &Method::GET, "/", &h).expect("served");
        assert_eq!(resp.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(resp.headers()[header::VARY], "Accept-Encoding");
        assert!(resp.body().len() < page.len() / 4);
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(resp.body().as_ref()),
            &mut text,
        )
        .expect("gzip");
        assert_eq!(text, page);
        let gz_tag = resp.headers()[header::ETAG].clone();
        // The identity representation has another validator.
        let plain_resp = serve(&site, "/", &Method::GET, "/", &HeaderMap::new()).expect("served");
        assert!(plain_resp.headers().get(header::CONTENT_ENCODING).is_none());
        assert_ne!(plain_resp.headers()[header::ETAG], gz_tag);
        assert_eq!(plain_resp.body().len(), page.len());
        // Revalidating the gzipped one is a 304.
        h.insert(header::IF_NONE_MATCH, gz_tag);
        let again = serve(&site, "/", &Method::GET, "/", &h).expect("served");
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        // gzip;q=0 refuses it.
        let mut no = HeaderMap::new();
        no.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip;q=0"),
        );
        let resp = serve(&site, "/", &Method::GET, "/", &no).expect("served");
        assert!(resp.headers().get(header::CONTENT_ENCODING).is_none());
    }

    #[test]
    fn the_bare_base_redirects_and_unknown_paths_are_404() {
        let h = HeaderMap::new();
        let resp = get("/_levee/status", &h).expect("the bare base");
        assert_eq!(resp.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(resp.headers()[header::LOCATION], "/_levee/status/");
        assert_eq!(
            get("/_levee/status/nope", &h).map(|r| r.status()),
            Some(StatusCode::NOT_FOUND)
        );
        assert!(get("/elsewhere", &h).is_none());
        let post = serve(&site(), "/", &Method::POST, "/", &h).expect("root base");
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn tallies_split_maintenance_sheds_and_slow_requests() {
        let t = RouteTally::default();
        t.set_slow_after(Some(Duration::from_millis(100)));
        let ms = Duration::from_millis;
        t.record(200, ms(5), None, Some(ms(5)));
        t.record(200, ms(500), None, Some(ms(500)));
        t.record(503, ms(1), Some(Reason::Overloaded), None);
        t.record(503, ms(1), Some(Reason::Maintenance), None);
        t.record(502, ms(1), Some(Reason::BadGateway), None);
        // A client that left at once is not counted; one that waited a
        // second for nothing was not answered.
        t.record(499, ms(50), None, None);
        t.record(499, ms(1200), None, None);
        let r = t.read();
        assert_eq!(
            r,
            Tally {
                requests: 5,
                server_errors: 3,
                shed: 1,
                slow: 1,
                maintenance: 1
            }
        );
        assert_eq!(r.since(&r), Tally::default());
    }

    #[test]
    fn links_are_absolute_and_refuse_to_break_the_header() {
        assert_eq!(
            StatusLink::Local
                .url(Some("gw.example:8080"), true)
                .as_deref(),
            Some("https://gw.example:8080/_levee/status/")
        );
        assert_eq!(StatusLink::Local.url(None, false), None);
        assert_eq!(
            link_header("https://status.example/")
                .as_ref()
                .and_then(|v| v.to_str().ok()),
            Some("<https://status.example/>; rel=\"status\"")
        );
        assert!(link_header("https://x/\">").is_none());
    }
}
