//! The immutable snapshot the data path reads: settings, routes and pools.
//!
//! The control plane builds a [`Runtime`] from a validated configuration and
//! publishes it through a [`RuntimeHandle`]; every request loads the current
//! snapshot once (one atomic reference-count increment) and keeps it until its
//! response body ends, so a reload never changes the rules under a request in
//! flight, and a bad configuration never produces a half-built state (the old
//! snapshot stays published).
//!
//! This module must not parse configuration files or read the clock.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use http::HeaderName;

use crate::metrics::Metrics;
use crate::route::RouteTable;

/// Settings fixed when a listener starts: changing them takes a restart (a
/// reload logs which changed). Everything else is in [`Settings`], which a
/// reload replaces.
#[derive(Debug, Clone, PartialEq)]
pub struct ListenerSettings {
    /// Time a client has to send a complete request head, and to finish a
    /// TLS handshake (default 10 s).
    pub header_read_timeout: Duration,
    /// Keep the case of HTTP/1 header names as the client and upstream sent
    /// them (default off: names are sent lowercase, as HAProxy and Envoy do;
    /// on costs ~10% more CPU per request).
    pub preserve_header_case: bool,
    /// The HTTP parser's buffer is twice this plus 16 KiB (the gateway's own
    /// `431` check uses [`Settings::max_header_bytes`], reloadable).
    pub max_header_bytes: usize,
    /// The HTTP parser holds twice this many fields.
    pub max_headers: usize,
    /// Most client connections the gateway holds; at the cap it stops
    /// accepting until one closes. `None`: from the open-file limit
    /// ([`crate::limits::default_max_connections`]).
    pub max_connections: Option<usize>,
}

impl Default for ListenerSettings {
    fn default() -> ListenerSettings {
        let s = Settings::default();
        ListenerSettings {
            header_read_timeout: Duration::from_secs(10),
            preserve_header_case: false,
            max_header_bytes: s.max_header_bytes,
            max_headers: s.max_headers,
            max_connections: None,
        }
    }
}

/// Gateway-wide settings that apply to every request; a reload replaces them.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The header carrying the request id, in and out (default `x-request-id`).
    pub request_id_header: HeaderName,
    /// The most header bytes (names + values) a request may carry (default 32 KiB).
    pub max_header_bytes: usize,
    /// The most header fields a request may carry (default 100).
    pub max_headers: usize,
    /// Set `X-Forwarded-For`, `-Proto` and `-Host` (default on).
    pub x_forwarded: bool,
    /// Append an RFC 7239 `Forwarded` element (default off).
    pub forwarded: bool,
    /// Absolute base for problem `type` URIs, e.g. `https://api.example.com/_levee/problems`.
    /// `None`: derived from each request's scheme and `Host`.
    pub problem_base_url: Option<String>,
    /// `Retry-After` sent with `draining` answers (default 1 s).
    pub drain_retry_after: Duration,
    /// Time a client connection may sit idle between requests (default 60 s).
    pub idle_timeout: Duration,
    /// Write one access-log line per request (default on).
    pub access_log: bool,
    /// The header a client may set its priority with (default `x-priority`).
    pub priority_header: HeaderName,
    /// Clients whose priority header is believed and that are exempt from
    /// the per-client limits: a load balancer or proxy in front (default:
    /// loopback only).
    pub trusted_networks: Vec<crate::cidr::Cidr>,
    /// Most connections one client address (an IPv6 /64) may hold open
    /// (default 1024); more are closed at once.
    pub max_connections_per_client: usize,
    /// Most requests one client address may have in flight (default 1024);
    /// more are answered `429 client-limit`.
    pub max_requests_per_client: usize,
    /// Header holding the caller's remaining time in milliseconds (default
    /// `x-request-timeout-ms`; `grpc-timeout` is always read too).
    pub deadline_header: HeaderName,
    /// The maintenance page template for browsers (default: the built-in page).
    pub maintenance_page: Arc<str>,
    /// Send a maintenance 503's `Retry-After` as an HTTP-date (the window's
    /// end) instead of delay-seconds (default off).
    pub maintenance_retry_after_date: bool,
    /// `Retry-After` for an open-ended window (default 300 s).
    pub maintenance_open_ended_retry_after: Duration,
    /// The `Upgrade` protocols tunnelled to the upstream, lower case (default
    /// `websocket`). Any other is dropped and the request forwarded as an
    /// ordinary one, so that nothing bypasses routes, maintenance and
    /// admission inside a tunnel the gateway did not mean to open.
    pub upgrade_protocols: Vec<String>,
    /// Normalize request paths before routing and forwarding: RFC 3986 dot
    /// segments and unreserved percent-escapes (default on).
    pub normalize_path: bool,
    /// With `normalize_path`, merge runs of `/` too (default on).
    pub merge_slashes: bool,
    /// Where the status page is, for the `status_page` member and the
    /// `Link: <…>; rel="status"` header of refusals (default: none until the
    /// control plane sets it).
    pub status_page: Option<crate::status::StatusLink>,
}

impl Settings {
    /// Whether `ip` is in `trusted_networks`.
    pub fn is_trusted(&self, ip: std::net::IpAddr) -> bool {
        self.trusted_networks.iter().any(|n| n.contains(ip))
    }

    /// The per-client caps for a client that is not trusted.
    pub fn client_caps(&self) -> crate::limits::ClientCaps {
        crate::limits::ClientCaps {
            connections: self.max_connections_per_client,
            requests: self.max_requests_per_client,
        }
    }
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            request_id_header: HeaderName::from_static("x-request-id"),
            max_header_bytes: 32 * 1024,
            max_headers: 100,
            x_forwarded: true,
            forwarded: false,
            problem_base_url: None,
            drain_retry_after: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(60),
            access_log: true,
            priority_header: HeaderName::from_static("x-priority"),
            trusted_networks: vec![
                crate::cidr::Cidr::parse("127.0.0.0/8").expect("a valid literal network"),
                crate::cidr::Cidr::parse("::1/128").expect("a valid literal network"),
            ],
            max_connections_per_client: 1024,
            max_requests_per_client: 1024,
            deadline_header: HeaderName::from_static("x-request-timeout-ms"),
            maintenance_page: levee_http::maintenance::DEFAULT_TEMPLATE.into(),
            maintenance_retry_after_date: false,
            maintenance_open_ended_retry_after: Duration::from_secs(300),
            upgrade_protocols: vec!["websocket".to_owned()],
            normalize_path: true,
            merge_slashes: true,
            status_page: None,
        }
    }
}

/// One published configuration of the data path.
#[derive(Debug)]
pub struct Runtime {
    /// Gateway-wide settings.
    pub settings: Settings,
    /// The routes, in match order.
    pub routes: RouteTable,
    /// The pools, in configuration order (routes hold them too).
    pub pools: Vec<Arc<crate::pool::Pool>>,
    /// The metrics registry shared by every snapshot.
    pub metrics: Arc<Metrics>,
}

/// Where the current [`Runtime`] is published; cheap to clone and to read.
#[derive(Debug, Clone)]
pub struct RuntimeHandle(Arc<ArcSwap<Runtime>>);

impl RuntimeHandle {
    /// Publishes a first snapshot.
    pub fn new(rt: Runtime) -> RuntimeHandle {
        RuntimeHandle(Arc::new(ArcSwap::from_pointee(rt)))
    }

    /// The current snapshot.
    pub fn load(&self) -> Arc<Runtime> {
        self.0.load_full()
    }

    /// Replaces the snapshot; requests in flight keep the one they loaded.
    pub fn publish(&self, rt: Runtime) {
        self.0.store(Arc::new(rt));
    }
}
