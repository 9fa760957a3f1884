//! From the file's types to the runtime's: parse, then resolve.
//!
//! [`load`] parses a TOML text into [`FileConfig`] and resolves it into a
//! [`Config`]: addresses parsed, pools and routes cross-checked, TLS material
//! loaded, defaults filled in, command-line [`Overrides`] applied. Every
//! problem found is reported at once with its file, line and column. A
//! [`Config`] then builds a data-path [`Runtime`] snapshot.
//!
//! This module must not publish anything or start listeners.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
use http::uri::Authority;
use levee_http::JsonStyle;
use levee_policy::breaker::BreakerConfig;
use levee_policy::limit::{
    AdaptiveConfig, AimdConfig, Bounds, Gradient2Config, LimiterConfig, VegasConfig,
};
use levee_proxy::admission::{Admission, AdmissionSpec, Mode, Priority};
use levee_proxy::metrics::Metrics;
use levee_proxy::pool::{Pool, PoolSpec, Protocol};
use levee_proxy::ratelimit::{DEFAULT_MAX_TENANTS, RateLimitSpec, RateLimiter};
use levee_proxy::route::{HostMatch, Route, RouteTable};
use levee_proxy::tenant::TenantSource;
use levee_proxy::{Runtime, Settings};
use serde_spanned::Spanned;

use super::error::{Collector, ConfigError};
use super::file::{
    AdmissionModeName, AdmissionSection, AdmissionSectionOrShorthand, AdmissionShorthand,
    ErrorFormat, FileConfig, LimiterName, PoolSection, ProtocolName, RateLimitSection,
    TenantSection,
};
use crate::admin::auth::AdminTokens;
use crate::control::{Source, Topology, WindowRecord};

/// Values given on the command line; they win over the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen`: replaces the file's listeners with one cleartext listener.
    pub listen: Option<SocketAddr>,
    /// `--upstream`: the endpoints of the pool `default` (created, with a
    /// catch-all route, when the file has no such pool).
    pub upstream: Vec<String>,
    /// `--admin`: the admin listener's address.
    pub admin: Option<SocketAddr>,
    /// `--data-dir`: where durable state lives (wins over `data_dir`).
    pub data_dir: Option<PathBuf>,
    /// `--admin-token-file` / `LEVEE_ADMIN_TOKEN`: the admin API's tokens.
    pub admin_tokens: AdminTokens,
}

/// A traffic listener, resolved.
#[derive(Clone)]
pub struct ListenerSpec {
    /// Name for logs.
    pub name: String,
    /// Address to bind.
    pub addr: SocketAddr,
    /// TLS configuration, with ALPN `h2` and `http/1.1`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl std::fmt::Debug for ListenerSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListenerSpec")
            .field("name", &self.name)
            .field("addr", &self.addr)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// A route, resolved (its pool by name).
#[derive(Debug, Clone)]
pub struct RouteSpec {
    /// Name.
    pub name: String,
    /// Host pattern.
    pub host: HostMatch,
    /// Path prefix.
    pub path_prefix: String,
    /// Pool name (checked to exist).
    pub pool: String,
    /// Body limit in bytes.
    pub max_body_size: Option<u64>,
    /// Error JSON style.
    pub json_style: JsonStyle,
    /// Admission control; `None` when off.
    pub admission: Option<AdmissionSpec>,
    /// Default priority.
    pub priority: Priority,
    /// Where the tenant key comes from; `None` without tenants.
    pub tenant: Option<TenantSource>,
    /// Per-tenant rate limit; `None` for none.
    pub rate_limit: Option<RateLimitSpec>,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it came from (`<flags>` when there was no file).
    pub source: PathBuf,
    /// Traffic listeners.
    pub listeners: Vec<ListenerSpec>,
    /// The admin listener, unless disabled.
    pub admin: Option<SocketAddr>,
    /// Longest wait for in-flight requests at shutdown.
    pub drain_timeout: Duration,
    /// Gateway-wide settings.
    pub settings: Settings,
    /// Routes in file order.
    pub routes: Vec<RouteSpec>,
    /// Pools.
    pub pools: Vec<PoolSpec>,
    /// Where durable state lives (`--data-dir`, else `data_dir`); `None`:
    /// the caller picks (`levee serve` uses [`default_data_dir`], an
    /// embedded gateway keeps state in memory).
    pub data_dir: Option<PathBuf>,
    /// Maintenance windows declared in the file.
    pub windows: Vec<WindowRecord>,
    /// The admin API's tokens.
    pub admin_tokens: AdminTokens,
}

impl Config {
    /// The names API input is checked against.
    pub fn topology(&self) -> Topology {
        Topology {
            routes: self.routes.iter().map(|r| r.name.clone()).collect(),
            pools: self
                .pools
                .iter()
                .map(|p| (p.name.clone(), p.endpoints.clone()))
                .collect(),
        }
    }
}

/// The data directory when neither `--data-dir` nor `data_dir` says:
/// `$LEVEE_DATA_DIR`, else `$XDG_STATE_HOME/levee`, else
/// `$HOME/.local/state/levee`, else `./levee-data`.
pub fn default_data_dir() -> PathBuf {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("LEVEE_DATA_DIR")
        .or_else(|| var("XDG_STATE_HOME").map(|d| d.join("levee")))
        .or_else(|| var("HOME").map(|h| h.join(".local/state/levee")))
        .unwrap_or_else(|| PathBuf::from("levee-data"))
}

/// The admin listener's default address.
pub const DEFAULT_ADMIN: &str = "127.0.0.1:9901";

/// Reads and resolves a configuration file.
pub fn load_file(path: &Path, overrides: &Overrides) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_owned(),
        diagnostics: vec![super::error::Diagnostic {
            line: None,
            column: None,
            message: format!("cannot read the file: {e}"),
        }],
    })?;
    load(&text, path, overrides)
}

/// Resolves a configuration made only of command-line flags.
pub fn from_flags(overrides: &Overrides) -> Result<Config, ConfigError> {
    load("", Path::new("<flags>"), overrides)
}

/// Parses and resolves `text`, which was read from `path`.
pub fn load(text: &str, path: &Path, overrides: &Overrides) -> Result<Config, ConfigError> {
    let file: FileConfig = toml::from_str(text).map_err(|e| {
        let mut c = Collector::new(text);
        c.at(e.span(), e.message().trim_end().to_owned());
        c.finish(path.to_owned())
            .expect_err("one diagnostic was recorded")
    })?;
    resolve(&file, text, path, overrides)
}

fn resolve(
    file: &FileConfig,
    text: &str,
    path: &Path,
    ov: &Overrides,
) -> Result<Config, ConfigError> {
    let mut c = Collector::new(text);
    let base_dir = path.parent().unwrap_or(Path::new("."));
    let defaults = Settings::default();
    let s = &file.server;

    let request_id_header = header_name(
        s.request_id_header.as_ref(),
        &defaults.request_id_header,
        &mut c,
    );
    let problem_base_url = s.problem_base_url.as_ref().map(|u| {
        let v = u.get_ref().trim_end_matches('/').to_owned();
        let ok = v.parse::<http::Uri>().is_ok_and(|uri| uri.scheme().is_some() && uri.authority().is_some());
        if !ok {
            c.at(Some(u.span()), format!("invalid problem_base_url `{v}`: expected an absolute URL such as \"https://api.example.com/_levee/problems\""));
        }
        v
    });
    let settings = Settings {
        request_id_header,
        max_header_bytes: s.max_header_bytes.map_or(defaults.max_header_bytes, |b| {
            usize::try_from(b.0).unwrap_or(usize::MAX)
        }),
        max_headers: s.max_headers.unwrap_or(defaults.max_headers),
        x_forwarded: s.x_forwarded.unwrap_or(defaults.x_forwarded),
        forwarded: s.forwarded.unwrap_or(defaults.forwarded),
        problem_base_url,
        drain_retry_after: s
            .drain_retry_after
            .map_or(defaults.drain_retry_after, |d| d.0),
        header_read_timeout: s
            .header_read_timeout
            .map_or(defaults.header_read_timeout, |d| d.0),
        idle_timeout: s.idle_timeout.map_or(defaults.idle_timeout, |d| d.0),
        access_log: s.access_log.unwrap_or(defaults.access_log),
        preserve_header_case: s
            .preserve_header_case
            .unwrap_or(defaults.preserve_header_case),
        priority_header: header_name(
            s.priority_header.as_ref(),
            &defaults.priority_header,
            &mut c,
        ),
        deadline_header: header_name(
            s.deadline_header.as_ref(),
            &defaults.deadline_header,
            &mut c,
        ),
        maintenance_page: match &file.maintenance.page {
            Some(p) => match std::fs::read_to_string(base_dir.join(p.get_ref())) {
                Ok(t) => t.into(),
                Err(e) => {
                    c.at(
                        Some(p.span()),
                        format!("cannot read the maintenance page `{}`: {e}", p.get_ref()),
                    );
                    defaults.maintenance_page.clone()
                }
            },
            None => defaults.maintenance_page.clone(),
        },
        maintenance_retry_after_date: file.maintenance.retry_after
            == Some(super::file::RetryAfterForm::HttpDate),
        maintenance_open_ended_retry_after: file
            .maintenance
            .open_ended_retry_after
            .map_or(defaults.maintenance_open_ended_retry_after, |d| d.0),
        trusted_networks: match &s.trusted_networks {
            Some(nets) => nets
                .iter()
                .filter_map(|n| {
                    levee_proxy::cidr::Cidr::parse(n.get_ref())
                        .map_err(|e| c.at(Some(n.span()), e))
                        .ok()
                })
                .collect(),
            None => defaults.trusted_networks.clone(),
        },
    };
    if settings.max_headers == 0 {
        c.at(None, "server.max_headers must be at least 1");
    }

    // Listeners.
    let mut listeners = Vec::new();
    if let Some(addr) = ov.listen {
        listeners.push(ListenerSpec {
            name: "listener-0".to_owned(),
            addr,
            tls: None,
        });
    } else {
        for (i, l) in file.listeners.iter().enumerate() {
            let addr = match l.listen.get_ref().parse::<SocketAddr>() {
                Ok(a) => a,
                Err(_) => {
                    c.at(Some(l.listen.span()), format!("invalid listen address `{}`: expected ip:port such as \"0.0.0.0:8000\" or \"[::1]:8443\"", l.listen.get_ref()));
                    continue;
                }
            };
            let tls = l.tls.as_ref().and_then(|t| {
                match crate::tls::server_config(
                    &base_dir.join(t.cert.get_ref()),
                    &base_dir.join(t.key.get_ref()),
                ) {
                    Ok(cfg) => Some(cfg),
                    Err(e) => {
                        c.at(Some(t.cert.span()), e.to_string());
                        None
                    }
                }
            });
            listeners.push(ListenerSpec {
                name: l.name.clone().unwrap_or_else(|| format!("listener-{i}")),
                addr,
                tls,
            });
        }
    }
    if listeners.is_empty() && c.is_empty() {
        c.at(
            None,
            "no listener: add a [[listeners]] table with listen = \"ip:port\", or pass --listen",
        );
    }

    // Admin.
    let admin = if file.admin.enabled == Some(false) {
        None
    } else if let Some(a) = ov.admin {
        Some(a)
    } else {
        match &file.admin.listen {
            Some(l) => l.get_ref().parse::<SocketAddr>().map_err(|_| {
                c.at(Some(l.span()), format!("invalid admin listen address `{}`: expected ip:port such as \"127.0.0.1:9901\"", l.get_ref()));
            }).ok(),
            None => Some(DEFAULT_ADMIN.parse().expect("the default admin address is valid")),
        }
    };

    // Pools.
    let mut pools: Vec<PoolSpec> = Vec::new();
    let mut pool_index: HashMap<String, usize> = HashMap::new();
    for p in &file.pools {
        let name = p.name.get_ref().clone();
        if pool_index.contains_key(&name) {
            c.at(Some(p.name.span()), format!("duplicate pool name `{name}`"));
            continue;
        }
        if let Some(spec) = resolve_pool(p, &mut c) {
            pool_index.insert(name, pools.len());
            pools.push(spec);
        }
    }
    let mut routes: Vec<RouteSpec> = Vec::new();
    if !ov.upstream.is_empty() {
        let mut endpoints = Vec::new();
        for u in &ov.upstream {
            match parse_endpoint(u) {
                Ok(a) => endpoints.push(a),
                Err(e) => c.at(None, format!("--upstream {u}: {e}")),
            }
        }
        match pool_index.get("default") {
            Some(&i) => pools[i].endpoints = endpoints,
            None => {
                pool_index.insert("default".to_owned(), pools.len());
                pools.push(PoolSpec::new("default", endpoints));
            }
        }
        if file.routes.is_empty() {
            routes.push(RouteSpec {
                name: "default".to_owned(),
                host: HostMatch::Any,
                path_prefix: "/".to_owned(),
                pool: "default".to_owned(),
                max_body_size: None,
                json_style: JsonStyle::Problem,
                admission: resolve_admission(None, &mut c),
                priority: Priority::Default,
                tenant: None,
                rate_limit: None,
            });
        }
    }

    // Routes.
    for (i, r) in file.routes.iter().enumerate() {
        let pool = r.pool.get_ref();
        if !pool_index.contains_key(pool) {
            let mut known: Vec<&str> = pool_index.keys().map(String::as_str).collect();
            known.sort_unstable();
            let expected = if known.is_empty() {
                "no pools are defined: add a [[pools]] table".to_owned()
            } else {
                format!("expected one of: {}", known.join(", "))
            };
            c.at(
                Some(r.pool.span()),
                format!("unknown pool `{pool}`; {expected}"),
            );
        }
        let path_prefix = match &r.path_prefix {
            Some(p) if !p.get_ref().starts_with('/') => {
                c.at(
                    Some(p.span()),
                    format!(
                        "invalid path_prefix `{}`: it must start with /",
                        p.get_ref()
                    ),
                );
                "/".to_owned()
            }
            Some(p) => p.get_ref().clone(),
            None => "/".to_owned(),
        };
        let tenant = r.tenant.as_ref().and_then(|t| resolve_tenant(t, &mut c));
        let rate_limit = r.rate_limit.as_ref().and_then(|rl| {
            if r.tenant.is_none() {
                c.at(
                    Some(rl.span()),
                    "rate_limit needs a tenant key: add tenant = { from = \"header\", header = \"x-api-key\" } or tenant = { from = \"client_ip\" }",
                );
            }
            resolve_rate_limit(rl, &mut c)
        });
        routes.push(RouteSpec {
            tenant,
            rate_limit,
            name: r.name.clone().unwrap_or_else(|| format!("route-{i}")),
            host: HostMatch::parse(r.host.as_deref().unwrap_or("*")),
            path_prefix,
            pool: pool.clone(),
            max_body_size: r.max_body_size.map(|b| b.0),
            json_style: match r.error_format {
                Some(ErrorFormat::Envelope) => JsonStyle::Envelope,
                _ => JsonStyle::Problem,
            },
            admission: resolve_admission(r.admission.as_ref(), &mut c),
            priority: match &r.priority {
                Some(p) => Priority::parse(p.get_ref()).unwrap_or_else(|| {
                    c.at(
                        Some(p.span()),
                        format!(
                            "invalid priority `{}`: expected critical, default or sheddable",
                            p.get_ref()
                        ),
                    );
                    Priority::Default
                }),
                None => Priority::Default,
            },
        });
    }
    if routes.is_empty() && c.is_empty() {
        c.at(
            None,
            "no route: add a [[routes]] table with pool = \"NAME\", or pass --upstream URL",
        );
    }

    for p in &mut pools {
        p.preserve_header_case = settings.preserve_header_case;
    }
    let drain_timeout = s.drain_timeout.map_or(Duration::from_secs(30), |d| d.0);
    let windows = resolve_windows(&file.maintenance.windows, &routes, &pools, &mut c);
    let data_dir = ov
        .data_dir
        .clone()
        .or_else(|| file.data_dir.as_ref().map(|d| base_dir.join(d.get_ref())));
    c.finish(path.to_owned())?;
    Ok(Config {
        source: path.to_owned(),
        listeners,
        admin,
        drain_timeout,
        settings,
        routes,
        pools,
        data_dir,
        windows,
        admin_tokens: ov.admin_tokens.clone(),
    })
}

/// `[[maintenance.windows]]` → windows owned by the file (`config:NAME`).
fn resolve_windows(
    sections: &[super::file::WindowSection],
    routes: &[RouteSpec],
    pools: &[PoolSpec],
    c: &mut Collector<'_>,
) -> Vec<WindowRecord> {
    use levee_proxy::control::{Bypass, Scope, Window};
    let now = std::time::SystemTime::now();
    let mut out: Vec<WindowRecord> = Vec::new();
    for w in sections {
        let name = w.name.get_ref();
        let id = format!("config:{name}");
        if name.is_empty() || out.iter().any(|r| *r.window.id == *id) {
            c.at(
                Some(w.name.span()),
                format!("maintenance window names must be unique and non-empty; `{name}` is not"),
            );
            continue;
        }
        let scope = match (&w.route, &w.pool) {
            (Some(_), Some(p)) => {
                c.at(Some(p.span()), "give route or pool, not both");
                continue;
            }
            (Some(r), None) => {
                if !routes.iter().any(|x| &x.name == r.get_ref()) {
                    c.at(Some(r.span()), format!("unknown route `{}`", r.get_ref()));
                }
                Scope::Route(r.get_ref().as_str().into())
            }
            (None, Some(p)) => {
                if !pools.iter().any(|x| &x.name == p.get_ref()) {
                    c.at(Some(p.span()), format!("unknown pool `{}`", p.get_ref()));
                }
                Scope::Pool(p.get_ref().as_str().into())
            }
            (None, None) => Scope::All,
        };
        let time = |v: &Option<Spanned<String>>, c: &mut Collector<'_>| {
            v.as_ref().and_then(|t| {
                let parsed = levee_http::maintenance::parse_rfc3339(t.get_ref());
                if parsed.is_none() {
                    c.at(
                        Some(t.span()),
                        format!(
                            "invalid time `{}`: expected RFC 3339 such as \"2026-12-01T02:00:00Z\"",
                            t.get_ref()
                        ),
                    );
                }
                parsed
            })
        };
        // A window with no start is in force from the moment the file is loaded.
        let starts_at = time(&w.starts_at, c).unwrap_or(now);
        let ends_at = time(&w.ends_at, c);
        if let (Some(end), Some(span)) = (ends_at, w.ends_at.as_ref())
            && end <= starts_at
        {
            c.at(Some(span.span()), "ends_at must be later than starts_at");
        }
        let header = header_name(
            w.bypass_header.as_ref(),
            &HeaderName::from_static(Bypass::DEFAULT_HEADER),
            c,
        );
        let token_sha256 = w.bypass_token.as_ref().and_then(|t| {
            let tok = t.get_ref();
            if let Err(e) = levee_proxy::control::check_token(tok) {
                c.at(Some(t.span()), format!("bypass_token: {e}"));
                return None;
            }
            Some(levee_proxy::control::token_digest(tok))
        });
        let networks = w
            .bypass_networks
            .iter()
            .flatten()
            .filter_map(|n| {
                levee_proxy::cidr::Cidr::parse(n.get_ref())
                    .map_err(|e| c.at(Some(n.span()), e))
                    .ok()
            })
            .collect();
        out.push(WindowRecord {
            window: Arc::new(Window {
                id: id.into(),
                scope,
                starts_at,
                ends_at,
                message: w.message.as_str().into(),
                bypass: Bypass {
                    header,
                    token_sha256,
                    networks,
                },
            }),
            source: Source::Config,
            created_at: now,
            created_by: "config".to_owned(),
            updated_at: now,
        });
    }
    out
}

/// A header name from the file, or the default (with a located error when invalid).
fn header_name(
    v: Option<&Spanned<String>>,
    default: &HeaderName,
    c: &mut Collector<'_>,
) -> HeaderName {
    let Some(v) = v else { return default.clone() };
    HeaderName::from_bytes(v.get_ref().as_bytes()).unwrap_or_else(|_| {
        c.at(
            Some(v.span()),
            format!("invalid header name `{}`", v.get_ref()),
        );
        default.clone()
    })
}

/// A route's tenant source.
fn resolve_tenant(t: &Spanned<TenantSection>, c: &mut Collector<'_>) -> Option<TenantSource> {
    let t = t.get_ref();
    match (t.from.get_ref().as_str(), &t.header) {
        ("header", Some(h)) => match HeaderName::from_bytes(h.get_ref().as_bytes()) {
            Ok(name) => Some(TenantSource::Header(name)),
            Err(_) => {
                c.at(
                    Some(h.span()),
                    format!("invalid header name `{}`", h.get_ref()),
                );
                None
            }
        },
        ("header", None) => {
            c.at(
                Some(t.from.span()),
                "tenant from a header needs header = \"NAME\", e.g. header = \"x-api-key\"",
            );
            None
        }
        ("client_ip", None) => Some(TenantSource::ClientIp),
        ("client_ip", Some(h)) => {
            c.at(
                Some(h.span()),
                "tenant = { from = \"client_ip\" } takes no header",
            );
            None
        }
        (other, _) => {
            c.at(
                Some(t.from.span()),
                format!("invalid tenant source `{other}`: expected header or client_ip"),
            );
            None
        }
    }
}

/// A route's per-tenant rate limit.
fn resolve_rate_limit(
    rl: &Spanned<RateLimitSection>,
    c: &mut Collector<'_>,
) -> Option<RateLimitSpec> {
    let span = rl.span();
    let rl = rl.get_ref();
    let spec = RateLimitSpec {
        quota: rl.quota,
        period: rl.period.map_or(Duration::from_secs(1), |d| d.0),
        burst: rl.burst.unwrap_or(0),
    };
    if spec.period.is_zero() || spec.period.subsec_nanos() != 0 {
        c.at(
            Some(span),
            format!(
                "rate_limit: period must be a whole number of seconds, at least 1s (RateLimit-Policy states it in seconds), not {:?}",
                spec.period
            ),
        );
        return None;
    }
    if let Err(e) = spec.gcra().validate() {
        c.at(Some(span), format!("rate_limit: {e}"));
        return None;
    }
    Some(spec)
}

/// Admission settings of a route: on by default, the adaptive limiter with
/// its defaults.
fn resolve_admission(
    a: Option<&AdmissionSectionOrShorthand>,
    c: &mut Collector<'_>,
) -> Option<AdmissionSpec> {
    let d = AdmissionSection::default();
    let (a, shorthand_mode) = match a {
        None => (&d, None),
        Some(AdmissionSectionOrShorthand::Shorthand(AdmissionShorthand::Off)) => return None,
        Some(AdmissionSectionOrShorthand::Shorthand(AdmissionShorthand::On)) => (&d, None),
        Some(AdmissionSectionOrShorthand::Shorthand(AdmissionShorthand::Observe)) => {
            (&d, Some(Mode::Observe))
        }
        Some(AdmissionSectionOrShorthand::Section(s)) => (s, None),
    };
    if a.enabled == Some(false) {
        return None;
    }
    let defaults = AdmissionSpec::default();
    let name = a.limiter.unwrap_or(LimiterName::Adaptive);
    let bounds_default = match name {
        LimiterName::Adaptive => AdaptiveConfig::default().bounds,
        _ => Bounds::default(),
    };
    let min = a.min_limit.unwrap_or(bounds_default.min);
    let bounds = Bounds {
        initial: a.initial_limit.unwrap_or(bounds_default.initial.max(min)),
        min,
        max: a.max_limit.unwrap_or(bounds_default.max),
    };
    let limiter = match name {
        LimiterName::Adaptive => LimiterConfig::Adaptive(AdaptiveConfig {
            bounds,
            ..AdaptiveConfig::default()
        }),
        LimiterName::Gradient2 => LimiterConfig::Gradient2(Gradient2Config {
            bounds,
            ..Gradient2Config::default()
        }),
        LimiterName::Aimd => LimiterConfig::Aimd(AimdConfig {
            bounds,
            ..AimdConfig::default()
        }),
        LimiterName::Vegas => LimiterConfig::Vegas(VegasConfig {
            bounds,
            ..VegasConfig::default()
        }),
        LimiterName::Fixed => match a.limit {
            Some(n) => LimiterConfig::Fixed(n),
            None => {
                c.at(None, "admission: the fixed limiter needs `limit = N`");
                LimiterConfig::Fixed(1)
            }
        },
    };
    if let Err(e) = limiter.validate() {
        c.at(None, format!("admission: {e}"));
    }
    let mode = match (shorthand_mode, a.mode) {
        (Some(m), _) => m,
        (None, Some(AdmissionModeName::Observe)) => Mode::Observe,
        (None, _) => Mode::Enforce,
    };
    let spec = AdmissionSpec {
        limiter,
        mode,
        max_queue: a.max_queue.unwrap_or(defaults.max_queue),
        max_queue_time: a.max_queue_time.map_or(defaults.max_queue_time, |d| d.0),
        retry_after_max: a.retry_after_max.map_or(defaults.retry_after_max, |d| d.0),
        ..defaults
    };
    if spec.retry_after_max < spec.retry_after_min {
        c.at(None, "admission: retry_after_max must be at least 1s");
    }
    Some(spec)
}

fn resolve_pool(p: &PoolSection, c: &mut Collector<'_>) -> Option<PoolSpec> {
    let mut endpoints = Vec::new();
    for e in &p.endpoints {
        match parse_endpoint(e.get_ref()) {
            Ok(a) => endpoints.push(a),
            Err(msg) => c.at(
                Some(e.span()),
                format!("invalid endpoint `{}`: {msg}", e.get_ref()),
            ),
        }
    }
    if p.endpoints.is_empty() {
        c.at(
            Some(p.name.span()),
            format!("pool `{}` has no endpoints", p.name.get_ref()),
        );
    }
    let mut spec = PoolSpec::new(p.name.get_ref().clone(), endpoints);
    spec.protocol = match p.protocol {
        Some(ProtocolName::H2c) => Protocol::H2c,
        _ => Protocol::Http1,
    };
    if let Some(d) = p.connect_timeout {
        spec.connect_timeout = d.0;
    }
    if let Some(d) = p.response_timeout {
        spec.response_timeout = d.0;
    }
    if let Some(d) = p.idle_timeout {
        spec.idle_timeout = d.0;
    }
    if let Some(n) = p.max_idle_per_endpoint {
        spec.max_idle_per_endpoint = n;
    }
    if let Some(b) = &p.breaker {
        let d = BreakerConfig::default();
        spec.breaker = BreakerConfig {
            consecutive_failures: b.consecutive_failures.unwrap_or(d.consecutive_failures),
            failure_ratio: b.failure_ratio.unwrap_or(d.failure_ratio),
            min_requests: b.min_requests.unwrap_or(d.min_requests),
            window: b.window.map_or(d.window, |w| w.0),
            open_base: b.open_base.map_or(d.open_base, |w| w.0),
            open_max: b.open_max.map_or(d.open_max, |w| w.0),
            probes: b.probes.unwrap_or(d.probes),
            ..d
        };
        if let Err(e) = levee_policy::breaker::Breaker::new(spec.breaker) {
            c.at(
                Some(p.name.span()),
                format!("pool `{}`: invalid breaker: {e}", p.name.get_ref()),
            );
        }
    }
    Some(spec)
}

/// Parses `http://host:port`, `host:port` or `http://host` (port 80).
pub fn parse_endpoint(s: &str) -> Result<Authority, String> {
    let s = s.trim();
    let rest = if let Some(r) = s.strip_prefix("http://") {
        r
    } else if s.starts_with("https://") {
        return Err(
            "TLS to upstreams is not supported yet; use http:// (e.g. a local sidecar)".to_owned(),
        );
    } else if s.contains("://") {
        return Err("expected http://host:port".to_owned());
    } else {
        s
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains('/') || rest.contains('?') {
        return Err("an endpoint is host:port only; routes choose paths".to_owned());
    }
    let a: Authority = rest
        .parse()
        .map_err(|_| "expected host:port such as 127.0.0.1:8080".to_owned())?;
    if a.as_str().contains('@') || a.host().is_empty() {
        return Err("expected host:port such as 127.0.0.1:8080".to_owned());
    }
    let with_port = if a.port().is_some() {
        a
    } else {
        format!("{}:80", a.host())
            .parse()
            .map_err(|_| "invalid host".to_owned())?
    };
    Ok(with_port)
}

impl Config {
    /// Builds the data-path snapshot; pools get fresh clients and breakers.
    /// A route whose admission settings did not change keeps its controller
    /// from `previous` (its learned limit and its permits in flight).
    pub fn build_runtime(
        &self,
        metrics: Arc<Metrics>,
        previous: Option<&Runtime>,
    ) -> Result<Runtime, ConfigError> {
        let mut pools: HashMap<&str, Arc<Pool>> = HashMap::new();
        let mut c = Collector::new("");
        for spec in &self.pools {
            match Pool::new(spec.clone()) {
                Ok(p) => {
                    pools.insert(spec.name.as_str(), Arc::new(p));
                }
                Err(e) => c.at(None, format!("pool `{}`: {e}", spec.name)),
            }
        }
        let mut routes = Vec::new();
        for r in &self.routes {
            let Some(pool) = pools.get(r.pool.as_str()) else {
                c.at(
                    None,
                    format!("route `{}`: unknown pool `{}`", r.name, r.pool),
                );
                continue;
            };
            let admission = match &r.admission {
                None => None,
                Some(spec) => {
                    let kept = previous
                        .and_then(|rt| rt.routes.iter().find(|old| *old.name == *r.name))
                        .and_then(|old| old.admission.clone())
                        .filter(|a| a.spec() == spec);
                    match kept {
                        Some(a) => Some(a),
                        None => match Admission::new(
                            Arc::from(r.name.as_str()),
                            spec.clone(),
                            metrics.admission(&r.name),
                        ) {
                            Ok(a) => Some(Arc::new(a)),
                            Err(e) => {
                                c.at(None, format!("route `{}`: admission: {e}", r.name));
                                None
                            }
                        },
                    }
                }
            };
            let rate_limit = match &r.rate_limit {
                None => None,
                Some(spec) => {
                    // An unchanged limit keeps its tenants' state over a reload.
                    let kept = previous
                        .and_then(|rt| rt.routes.iter().find(|old| *old.name == *r.name))
                        .and_then(|old| old.rate_limit.clone())
                        .filter(|l| l.spec() == spec);
                    match kept {
                        Some(l) => Some(l),
                        None => match RateLimiter::new(
                            *spec,
                            DEFAULT_MAX_TENANTS,
                            metrics.rate_limit(&r.name),
                        ) {
                            Ok(l) => Some(Arc::new(l)),
                            Err(e) => {
                                c.at(None, format!("route `{}`: rate_limit: {e}", r.name));
                                None
                            }
                        },
                    }
                }
            };
            routes.push(Arc::new(Route {
                tenant: r.tenant.clone(),
                rate_limit,
                admission,
                priority: r.priority,
                name: Arc::from(r.name.as_str()),
                host: r.host.clone(),
                path_prefix: r.path_prefix.clone(),
                pool: pool.clone(),
                max_body_size: r.max_body_size,
                json_style: r.json_style,
                metrics: metrics.route(&r.name),
            }));
        }
        c.finish(self.source.clone())?;
        Ok(Runtime {
            settings: self.settings.clone(),
            routes: RouteTable::new(routes),
            metrics,
        })
    }
}
