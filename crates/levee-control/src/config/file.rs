//! The configuration file's types: a mirror of the TOML, nothing resolved.
//!
//! Every table refuses unknown keys (a typo is an error, not a silent
//! default), and the values that later checks may reject keep their source
//! span, so an error can say `levee.toml:12:8`. The defaults documented here
//! are the ones in `docs/configuration.md`.
//!
//! This module must not build runtime types; see [`super::resolve`].

use serde::Deserialize;
use serde_spanned::Spanned;

use super::units::{self, ByteSize, ConfigDuration};

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Where durable state (the SQLite database) lives; relative to the
    /// config file. Default: `$LEVEE_DATA_DIR`, `$XDG_STATE_HOME/levee` or
    /// `~/.local/state/levee`.
    pub data_dir: Option<Spanned<String>>,
    /// Gateway-wide settings.
    #[serde(default)]
    pub server: ServerSection,
    /// The admin listener.
    #[serde(default)]
    pub admin: AdminSection,
    /// Traffic listeners.
    #[serde(default)]
    pub listeners: Vec<ListenerSection>,
    /// Routes, matched most specific first.
    #[serde(default)]
    pub routes: Vec<RouteSection>,
    /// Upstream pools.
    #[serde(default)]
    pub pools: Vec<PoolSection>,
    /// Maintenance: the page, `Retry-After` form, and windows declared here.
    #[serde(default)]
    pub maintenance: MaintenanceSection,
    /// The status page.
    #[serde(default)]
    pub status: StatusSection,
}

/// `[status]`: the status page.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusSection {
    /// Set false for no status page at all (default true).
    pub enabled: Option<bool>,
    /// The page's name (default "Status").
    pub name: Option<String>,
    /// Its public URL, when it is reached through another address (a CDN,
    /// `status.example.com`); default: this gateway's `/_levee/status/`.
    pub url: Option<Spanned<String>>,
    /// Serve it at `/_levee/status/` on the traffic listeners (default true).
    pub on_traffic_listener: Option<bool>,
    /// Its own listener, e.g. `"0.0.0.0:8081"` (default none).
    pub listen: Option<Spanned<String>>,
    /// `Cache-Control: max-age` of its documents (default `10s`).
    #[serde(default, deserialize_with = "units::duration::<1_000, 3_600_000, _>")]
    pub max_age: Option<ConfigDuration>,
    /// How long history is kept: availability, changes, resolved incidents (default `90d`).
    #[serde(
        default,
        deserialize_with = "units::duration::<86_400_000, 315_360_000_000, _>"
    )]
    pub history: Option<ConfigDuration>,
    /// Open an incident when a component has been out of `operational` this
    /// long; `"off"` never opens one (default `2m`).
    pub incident_after: Option<Spanned<String>>,
    /// The window shares are computed over (default `60s`).
    #[serde(default, deserialize_with = "units::duration::<1_000, 86_400_000, _>")]
    pub window: Option<ConfigDuration>,
    /// Requests in the window before a share counts (default 20).
    #[serde(default, deserialize_with = "units::count::<1, 1_000_000, _, _>")]
    pub min_requests: Option<u64>,
    /// Share of requests shed or slow that makes a component degraded (default 0.05).
    #[serde(default, deserialize_with = "units::fraction")]
    pub degraded_share: Option<f64>,
    /// Share of 5xx that makes a partial outage (default 0.05).
    #[serde(default, deserialize_with = "units::fraction")]
    pub partial_share: Option<f64>,
    /// Share of 5xx that makes a major outage (default 0.9).
    #[serde(default, deserialize_with = "units::fraction")]
    pub major_share: Option<f64>,
    /// How long a worse state must last before it is shown (default `10s`).
    #[serde(default, deserialize_with = "units::duration::<1_000, 86_400_000, _>")]
    pub raise_after: Option<ConfigDuration>,
    /// How long a better state must last before it is shown (default `60s`).
    #[serde(default, deserialize_with = "units::duration::<1_000, 86_400_000, _>")]
    pub clear_after: Option<ConfigDuration>,
    /// The components (default: one per route).
    #[serde(default)]
    pub components: Vec<ComponentSection>,
    /// Who is told of incident and component changes.
    #[serde(default)]
    pub webhooks: Vec<WebhookSection>,
}

/// `[[status.components]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentSection {
    /// Its name on the page.
    pub name: Spanned<String>,
    /// What it is, for people.
    pub description: Option<String>,
    /// The group it is shown under.
    pub group: Option<String>,
    /// The routes whose answers it reflects.
    #[serde(default)]
    pub routes: Vec<Spanned<String>>,
    /// The pools whose endpoints' health it reflects (their routes' answers too).
    #[serde(default)]
    pub pools: Vec<Spanned<String>>,
    /// A response head later than this makes a request slow (default: none is).
    #[serde(default, deserialize_with = "units::duration::<1, 3_600_000, _>")]
    pub slow_after: Option<ConfigDuration>,
}

/// `[[status.webhooks]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSection {
    /// Where payloads are POSTed (`http://` or `https://`).
    pub url: Spanned<String>,
    /// A file holding the HMAC-SHA256 signing secret (relative to the config file).
    pub secret_file: Option<Spanned<String>>,
    /// An environment variable holding the secret.
    pub secret_env: Option<Spanned<String>>,
}

/// `[maintenance]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceSection {
    /// An HTML template for the browser page; relative to the config file
    /// (default: the built-in page).
    pub page: Option<Spanned<String>>,
    /// `delay-seconds` (default) or `http-date` (the window's end).
    pub retry_after: Option<RetryAfterForm>,
    /// `Retry-After` for open-ended windows (default `5m`).
    #[serde(default, deserialize_with = "units::duration::<1_000, 86_400_000, _>")]
    pub open_ended_retry_after: Option<ConfigDuration>,
    /// Windows owned by this file.
    #[serde(default)]
    pub windows: Vec<WindowSection>,
}

/// How a maintenance 503 writes `Retry-After`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RetryAfterForm {
    /// Seconds until the end (RFC 9110 delay-seconds).
    DelaySeconds,
    /// The end as an HTTP-date.
    HttpDate,
}

/// `[[maintenance.windows]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSection {
    /// A unique name; the window's id is `config:NAME`.
    pub name: Spanned<String>,
    /// Cover only this route.
    pub route: Option<Spanned<String>>,
    /// Cover only the routes forwarding to this pool.
    pub pool: Option<Spanned<String>>,
    /// RFC 3339 start (default: in force from the moment the file is loaded).
    pub starts_at: Option<Spanned<String>>,
    /// RFC 3339 end (default: open-ended).
    pub ends_at: Option<Spanned<String>>,
    /// The message for clients.
    #[serde(default)]
    pub message: String,
    /// The header carrying the bypass token (default `x-levee-bypass`).
    pub bypass_header: Option<Spanned<String>>,
    /// A bypass token (16 to 256 visible ASCII characters).
    pub bypass_token: Option<Spanned<String>>,
    /// Client networks that bypass.
    pub bypass_networks: Option<Vec<Spanned<String>>>,
}

/// `[server]`: settings for every request and connection.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Header carrying the request id (default `x-request-id`).
    pub request_id_header: Option<Spanned<String>>,
    /// Most header bytes per request (default `32KiB`).
    #[serde(default, deserialize_with = "units::size::<1_024, 1_048_576, _>")]
    pub max_header_bytes: Option<ByteSize>,
    /// Most header fields per request (default 100).
    #[serde(default, deserialize_with = "units::count::<1, 10_000, _, _>")]
    pub max_headers: Option<usize>,
    /// Set `X-Forwarded-For/-Proto/-Host` (default true).
    pub x_forwarded: Option<bool>,
    /// Append RFC 7239 `Forwarded` (default false).
    pub forwarded: Option<bool>,
    /// Absolute base URL for problem `type` URIs (default: derived per request).
    pub problem_base_url: Option<Spanned<String>>,
    /// Time to receive a request head (default `10s`).
    #[serde(default, deserialize_with = "units::duration::<1, 86_400_000, _>")]
    pub header_read_timeout: Option<ConfigDuration>,
    /// Idle time allowed between requests on a connection (default `60s`).
    #[serde(default, deserialize_with = "units::duration::<1, 86_400_000, _>")]
    pub idle_timeout: Option<ConfigDuration>,
    /// Longest a shutdown takes, drain delay included (default `30s`).
    #[serde(default, deserialize_with = "units::duration::<0, 86_400_000, _>")]
    pub drain_timeout: Option<ConfigDuration>,
    /// How long `SIGTERM` keeps serving while `/readyz` is 503 (default `3s`).
    #[serde(default, deserialize_with = "units::duration::<0, 86_400_000, _>")]
    pub drain_delay: Option<ConfigDuration>,
    /// `Retry-After` on `draining` answers (default `1s`).
    #[serde(default, deserialize_with = "units::duration::<0, 86_400_000, _>")]
    pub drain_retry_after: Option<ConfigDuration>,
    /// One access-log line per request (default true).
    pub access_log: Option<bool>,
    /// Keep HTTP/1 header-name case (default false).
    pub preserve_header_case: Option<bool>,
    /// Header a client may set its priority with (default `x-priority`).
    pub priority_header: Option<Spanned<String>>,
    /// Networks whose priority header is believed (default loopback only).
    pub trusted_networks: Option<Vec<Spanned<String>>>,
    /// Most client connections (default: from the open-file limit).
    #[serde(default, deserialize_with = "units::count::<1, 10_000_000, _, _>")]
    pub max_connections: Option<usize>,
    /// Most connections per client address (default 1024).
    #[serde(default, deserialize_with = "units::count::<1, 10_000_000, _, _>")]
    pub max_connections_per_client: Option<usize>,
    /// Most requests in flight per client address (default 1024).
    #[serde(default, deserialize_with = "units::count::<1, 10_000_000, _, _>")]
    pub max_requests_per_client: Option<usize>,
    /// Normalize request paths before routing (default true).
    pub normalize_path: Option<bool>,
    /// With `normalize_path`, merge runs of `/` (default true).
    pub merge_slashes: Option<bool>,
    /// `Upgrade` protocols tunnelled to the upstream (default `["websocket"]`).
    pub upgrade_protocols: Option<Vec<Spanned<String>>>,
    /// Header with the caller's remaining time in ms (default `x-request-timeout-ms`).
    pub deadline_header: Option<Spanned<String>>,
}

/// `[admin]`: the admin listener (health, readiness, metrics).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSection {
    /// Address to listen on (default `127.0.0.1:9901`).
    pub listen: Option<Spanned<String>>,
    /// Set false to run without an admin listener (default true).
    pub enabled: Option<bool>,
}

/// `[[listeners]]`: where clients connect.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerSection {
    /// A name for logs (default `listener-N`).
    pub name: Option<String>,
    /// `ip:port` to bind.
    pub listen: Spanned<String>,
    /// TLS certificate and key; when present the listener speaks HTTPS.
    pub tls: Option<TlsSection>,
}

/// `tls = { cert = "...", key = "..." }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// PEM certificate chain, leaf first; relative to the config file.
    pub cert: Spanned<String>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1); relative to the config file.
    pub key: Spanned<String>,
}

/// `[[routes]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSection {
    /// Name for logs and metrics (default `route-N`).
    pub name: Option<String>,
    /// Host to match: `example.com`, `*.example.com` or `*` (default any).
    pub host: Option<String>,
    /// Path prefix to match (default `/`).
    pub path_prefix: Option<Spanned<String>>,
    /// The pool to forward to.
    pub pool: Spanned<String>,
    /// Alternate pools, tried in order when the ones before have no
    /// endpoint to take the request.
    pub fallback: Option<Spanned<Vec<Spanned<String>>>>,
    /// Largest request body accepted (default unlimited).
    #[serde(
        default,
        deserialize_with = "units::size::<0, 1_125_899_906_842_624, _>"
    )]
    pub max_body_size: Option<ByteSize>,
    /// Bodies declaring a length up to this are read whole before admission
    /// (default `64KiB`; `0` streams every body).
    #[serde(default, deserialize_with = "units::size::<0, 67_108_864, _>")]
    pub buffer_request_body: Option<ByteSize>,
    /// The longest pause within a request body (default `10s`).
    #[serde(default, deserialize_with = "units::duration::<1, 86_400_000, _>")]
    pub client_body_timeout: Option<ConfigDuration>,
    /// The least average rate of a request body, in bytes per second, after
    /// its first `client_body_timeout` (default `1KiB`; `0` for none).
    #[serde(default, deserialize_with = "units::size::<0, 1_099_511_627_776, _>")]
    pub min_body_rate: Option<ByteSize>,
    /// `problem` (RFC 9457, default) or `envelope`.
    pub error_format: Option<ErrorFormat>,
    /// Admission control: `"on"` (the default), `"observe"`, `"off"`, or a
    /// table of settings.
    pub admission: Option<AdmissionSectionOrShorthand>,
    /// Priority of requests without a trusted priority header (default `default`).
    pub priority: Option<Spanned<String>>,
    /// Whom a request belongs to, for fairness and rate limits (default none).
    pub tenant: Option<Spanned<TenantSection>>,
    /// Per-tenant rate limit (default none; requires `tenant`).
    pub rate_limit: Option<Spanned<RateLimitSection>>,
}

/// `tenant = { from = "header", header = "x-api-key" }` or
/// `tenant = { from = "client_ip" }` on a route.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TenantSection {
    /// `header` or `client_ip`.
    pub from: Spanned<String>,
    /// The header holding the key (required with `from = "header"`).
    pub header: Option<Spanned<String>>,
}

/// `rate_limit = { quota = 100, period = "1s", burst = 20 }` on a route.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSection {
    /// Requests per period per tenant, sustained.
    pub quota: u32,
    /// The period: whole seconds (default `1s`).
    #[serde(default, deserialize_with = "units::duration::<1, 86_400_000, _>")]
    pub period: Option<ConfigDuration>,
    /// Requests a quiet tenant may send at once beyond `quota` (default 0).
    #[serde(default, deserialize_with = "units::count::<0, 1_000_000_000, _, _>")]
    pub burst: Option<u32>,
}

/// `admission = { ... }` on a route, or `admission = "on" | "observe" | "off"`
/// for the defaults in that mode.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AdmissionSection {
    /// Set false to forward everything (default true).
    pub enabled: Option<bool>,
    /// `enforce` (default) or `observe`: compute everything, shed nothing,
    /// count what would have been shed.
    pub mode: Option<AdmissionModeName>,
    /// `adaptive` (default), `gradient2`, `aimd`, `vegas` or `fixed`.
    pub limiter: Option<LimiterName>,
    /// The limit of the `fixed` limiter (required with it).
    #[serde(default, deserialize_with = "units::count::<1, 1_000_000, _, _>")]
    pub limit: Option<usize>,
    /// Starting limit of an adaptive limiter (default 16 for `adaptive`, 4
    /// for the others).
    #[serde(default, deserialize_with = "units::count::<1, 1_000_000, _, _>")]
    pub initial_limit: Option<usize>,
    /// Lowest limit (default 4).
    #[serde(default, deserialize_with = "units::count::<1, 1_000_000, _, _>")]
    pub min_limit: Option<usize>,
    /// Highest limit (default 10 000 for `adaptive`, 1000 for the others).
    #[serde(default, deserialize_with = "units::count::<1, 1_000_000, _, _>")]
    pub max_limit: Option<usize>,
    /// Most requests waiting for a slot (default 256).
    #[serde(default, deserialize_with = "units::count::<0, 1_000_000, _, _>")]
    pub max_queue: Option<usize>,
    /// Longest wait for a slot (default `50ms`).
    #[serde(default, deserialize_with = "units::duration::<0, 86_400_000, _>")]
    pub max_queue_time: Option<ConfigDuration>,
    /// Longest `Retry-After` given when shedding (default `30s`).
    #[serde(default, deserialize_with = "units::duration::<1_000, 86_400_000, _>")]
    pub retry_after_max: Option<ConfigDuration>,
}

/// `admission = "…"`: the defaults in one mode.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AdmissionShorthand {
    /// Admission with the defaults (as if absent).
    On,
    /// Computed and counted, never enforced.
    Observe,
    /// No admission control on this route.
    Off,
}

/// Admission modes.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AdmissionModeName {
    /// Queue and shed.
    Enforce,
    /// Admit everything; count what would have been shed.
    Observe,
}

impl<'de> Deserialize<'de> for AdmissionSectionOrShorthand {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = AdmissionSectionOrShorthand;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(r#""on", "observe", "off" or a table of admission settings"#)
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                let mode = AdmissionShorthand::deserialize(
                    serde::de::value::StrDeserializer::<E>::new(v),
                )?;
                Ok(AdmissionSectionOrShorthand::Shorthand(mode))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                AdmissionSection::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(AdmissionSectionOrShorthand::Section)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// `admission` on a route, as written.
#[derive(Debug, Clone, PartialEq)]
pub enum AdmissionSectionOrShorthand {
    /// `admission = "observe"` and the like.
    Shorthand(AdmissionShorthand),
    /// `admission = { … }`.
    Section(AdmissionSection),
}

/// Limiter names.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LimiterName {
    /// Binds only on evidence of congestion (the default).
    Adaptive,
    /// Netflix Gradient2.
    Gradient2,
    /// Additive increase, multiplicative decrease.
    Aimd,
    /// TCP Vegas-style queue estimate.
    Vegas,
    /// A constant limit.
    Fixed,
}

/// The JSON shape of a route's errors.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ErrorFormat {
    /// `application/problem+json`.
    Problem,
    /// `{"meta":{"requestId"},"error":{…}}`.
    Envelope,
}

/// `[[pools]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSection {
    /// The name routes refer to.
    pub name: Spanned<String>,
    /// `http://host:port`, `h2c://host:port`, `https://host:port` or
    /// `host:port` of each endpoint.
    pub endpoints: Vec<Spanned<EndpointEntry>>,
    /// `http1` (default for cleartext), `h2c`, or `h2` (over TLS; without
    /// it, an `https://` pool lets ALPN choose).
    pub protocol: Option<Spanned<ProtocolName>>,
    /// TLS to `https://` endpoints (default: the platform's roots, SNI
    /// from each endpoint's host, no client certificate).
    pub tls: Option<Spanned<PoolTlsSection>>,
    /// TCP connect deadline (default `2s`).
    #[serde(default, deserialize_with = "units::duration::<1, 86_400_000, _>")]
    pub connect_timeout: Option<ConfigDuration>,
    /// Deadline for the response head (default `30s`).
    #[serde(default, deserialize_with = "units::duration::<1, 86_400_000, _>")]
    pub response_timeout: Option<ConfigDuration>,
    /// How long idle upstream connections are kept (default `90s`).
    #[serde(default, deserialize_with = "units::duration::<1, 86_400_000, _>")]
    pub idle_timeout: Option<ConfigDuration>,
    /// Idle connections kept per endpoint (default 256).
    #[serde(default, deserialize_with = "units::count::<0, 1_000_000, _, _>")]
    pub max_idle_per_endpoint: Option<usize>,
    /// The endpoints' circuit breaker.
    pub breaker: Option<BreakerSection>,
    /// Active health checks (default none: an ejected endpoint still gets a
    /// connect probe every second).
    pub health_check: Option<Spanned<HealthCheckSection>>,
    /// How requests are spread over the endpoints (default least request).
    pub balance: Option<Spanned<BalanceSection>>,
    /// Below this fraction of endpoints passing their checks, ignore the
    /// checks (default 0.5).
    #[serde(default, deserialize_with = "units::share")]
    pub panic_threshold: Option<f64>,
}

/// `health_check = { ... }` on a pool.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckSection {
    /// `http` (default), `tcp` or `grpc`.
    pub kind: Option<Spanned<String>>,
    /// The service a `grpc` check asks about (default: the server).
    pub service: Option<Spanned<String>>,
    /// The path asked for (default `/`).
    pub path: Option<Spanned<String>>,
    /// `GET` (default) or `HEAD`.
    pub method: Option<Spanned<String>>,
    /// The `Host` sent (default the endpoint's).
    pub host: Option<Spanned<String>>,
    /// Statuses that pass: numbers or `"lo-hi"` ranges (default `["200-399"]`).
    pub expect: Option<Vec<Spanned<StatusOrRange>>>,
    /// Time between checks (default `1s`).
    #[serde(default, deserialize_with = "units::duration::<10, 3_600_000, _>")]
    pub interval: Option<ConfigDuration>,
    /// Time a check may take (default `1s`).
    #[serde(default, deserialize_with = "units::duration::<1, 60_000, _>")]
    pub timeout: Option<ConfigDuration>,
    /// Passes in a row that make an endpoint healthy again (default 1).
    #[serde(default, deserialize_with = "units::count::<1, 100, _, _>")]
    pub healthy_threshold: Option<u32>,
    /// Failures in a row that make an endpoint unhealthy (default 2).
    #[serde(default, deserialize_with = "units::count::<1, 100, _, _>")]
    pub unhealthy_threshold: Option<u32>,
}

/// An endpoint: its address, or a table with its address and weight.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum EndpointEntry {
    /// `"host:port"` (or a URL such as `"http://host:port"`).
    Address(String),
    /// `{ address = "host:port", weight = 3 }`.
    Weighted(WeightedEndpoint),
}

/// `{ address = "host:port", weight = 3 }`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WeightedEndpoint {
    /// The endpoint, as an address entry would say it.
    pub address: String,
    /// Its share relative to the pool's other endpoints (1–1000, default 1).
    pub weight: Option<i64>,
}

impl EndpointEntry {
    /// The address as written.
    pub fn address(&self) -> &str {
        match self {
            EndpointEntry::Address(a) => a,
            EndpointEntry::Weighted(w) => &w.address,
        }
    }
}

/// How a pool balances: `"least_request"`, `"round_robin"`, or a hash table.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum BalanceSection {
    /// `"least_request"` or `"round_robin"`.
    Name(String),
    /// `{ hash = "header" | "cookie" | "client_ip", name = "..." }`.
    Hash(HashSection),
}

/// `{ hash = "header", name = "x-user" }`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HashSection {
    /// `header`, `cookie` or `client_ip`.
    pub hash: String,
    /// The header or cookie name.
    pub name: Option<String>,
}

/// A status (`204`) or a range of them (`"200-399"`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum StatusOrRange {
    /// One status.
    Status(u16),
    /// `"lo-hi"`.
    Range(String),
}

/// Upstream protocol names.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ProtocolName {
    /// HTTP/1.1 (over TLS: ALPN `http/1.1` only).
    Http1,
    /// HTTP/2 cleartext, prior knowledge.
    H2c,
    /// HTTP/2 over TLS (ALPN `h2` only).
    H2,
}

impl ProtocolName {
    /// The name as written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            ProtocolName::Http1 => "http1",
            ProtocolName::H2c => "h2c",
            ProtocolName::H2 => "h2",
        }
    }
}

/// `tls = { ... }` on a pool of `https://` endpoints.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PoolTlsSection {
    /// PEM bundle of the CAs endpoints' certificates are verified against,
    /// instead of the platform's; relative to the config file.
    pub ca_file: Option<Spanned<String>>,
    /// The name sent as SNI and verified (default: each endpoint's host).
    pub server_name: Option<Spanned<String>>,
    /// PEM client certificate chain, leaf first, for endpoints that ask for
    /// one (mTLS); with `key_file`.
    pub cert_file: Option<Spanned<String>>,
    /// PEM private key of `cert_file`.
    pub key_file: Option<Spanned<String>>,
}

/// `breaker = { ... }` on a pool.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerSection {
    /// Trip after this many failures in a row (default 5; 0 disables).
    #[serde(default, deserialize_with = "units::count::<0, 1_000_000, _, _>")]
    pub consecutive_failures: Option<u32>,
    /// Trip when this fraction of the window failed (default 0.5).
    #[serde(default, deserialize_with = "units::fraction")]
    pub failure_ratio: Option<f64>,
    /// Outcomes needed in the window before the ratio counts (default 20).
    #[serde(default, deserialize_with = "units::count::<0, 1_000_000, _, _>")]
    pub min_requests: Option<u32>,
    /// The window (default `10s`).
    #[serde(default, deserialize_with = "units::duration::<1, 86_400_000, _>")]
    pub window: Option<ConfigDuration>,
    /// First open period (default `5s`), doubling per trip up to `open_max`.
    #[serde(default, deserialize_with = "units::duration::<1, 86_400_000, _>")]
    pub open_base: Option<ConfigDuration>,
    /// Longest open period (default `60s`).
    #[serde(default, deserialize_with = "units::duration::<1, 86_400_000, _>")]
    pub open_max: Option<ConfigDuration>,
    /// Probes admitted when half-open (default 3).
    #[serde(default, deserialize_with = "units::count::<1, 1_000, _, _>")]
    pub probes: Option<u32>,
    /// Count the endpoint's own 5xx answers (but 503) as failures (default
    /// false: only 502 and 504 are).
    pub failure_on_5xx: Option<bool>,
    /// The largest share of the pool's endpoints ejected at once (default
    /// 1: no cap).
    #[serde(default, deserialize_with = "units::share")]
    pub max_ejection: Option<f64>,
}
