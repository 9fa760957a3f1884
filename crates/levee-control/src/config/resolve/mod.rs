//! From the file's types to the runtime's: parse, then resolve.
//!
//! [`load`] parses a TOML text into [`FileConfig`] and resolves it into a
//! [`Config`]: addresses parsed, pools and routes cross-checked, TLS material
//! loaded, defaults filled in, command-line [`Overrides`] applied. Every
//! problem found is reported at once with its file, line and column. A
//! [`Config`] then builds a data-path [`Runtime`] snapshot.
//!
//! One file per section: `server.rs` (`[server]` → settings), `listeners.rs`
//! (`[[listeners]]`, `[admin]`), `pools.rs` (with `pool_tls.rs`), `routes.rs` (with admission,
//! tenants, rate limits), `windows.rs` (`[[maintenance.windows]]`), `status.rs`
//! (`[status]`), with
//! `fields.rs` for what they share; `runtime.rs` builds the snapshot.
//!
//! This module must not publish anything or start listeners.

mod fields;
mod listeners;
mod pool_tls;
mod pools;
mod routes;
mod runtime;
mod server;
mod status;
mod windows;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use levee_proxy::pool::PoolSpec;
use levee_proxy::route::RouteSpec;
use levee_proxy::{ListenerSettings, Settings};

pub use pools::{Scheme, parse_endpoint, parse_endpoint_url};
pub use status::{ComponentSpec, StatusConfig, WebhookSpec, component_id};

use super::error::{Collector, ConfigError};
use super::file::FileConfig;
use crate::admin::auth::AdminTokens;
use crate::control::{Topology, WindowRecord};

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

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it came from (`<flags>` when there was no file).
    pub source: PathBuf,
    /// Traffic listeners.
    pub listeners: Vec<ListenerSpec>,
    /// The admin listener, unless disabled.
    pub admin: Option<SocketAddr>,
    /// Longest the whole shutdown takes, the drain delay included.
    pub drain_timeout: Duration,
    /// How long `SIGTERM` leaves the gateway serving while `/readyz` is 503.
    pub drain_delay: Duration,
    /// Gateway-wide settings every request reads (a reload replaces them).
    pub settings: Settings,
    /// Settings fixed when the listeners start (a change takes a restart).
    pub listener_settings: ListenerSettings,
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
    /// The status page.
    pub status: StatusConfig,
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
    let settings = server::settings(file, base_dir, &mut c);
    let listener_settings = server::listener_settings(file, &settings);
    let listeners = listeners::listeners(file, ov, base_dir, &mut c);
    let admin = listeners::admin(file, ov, &mut c);
    let mut pools = pools::pools(&file.pools, ov, base_dir, &mut c);
    let routes = routes::routes(file, ov, &pools, &mut c);
    for p in &mut pools {
        p.preserve_header_case = listener_settings.preserve_header_case;
    }
    let drain_timeout = file
        .server
        .drain_timeout
        .map_or(DEFAULT_DRAIN_TIMEOUT, |d| d.0);
    let drain_delay = file.server.drain_delay.map_or(DEFAULT_DRAIN_DELAY, |d| d.0);
    let windows = windows::windows(&file.maintenance.windows, &routes, &pools, &mut c);
    let status = status::status(file, &routes, &pools, base_dir, &mut c);
    let mut settings = settings;
    settings.status_page = if !status.enabled {
        None
    } else if let Some(url) = &status.url {
        Some(levee_proxy::status::StatusLink::Url(url.clone()))
    } else if status.on_traffic_listener {
        Some(levee_proxy::status::StatusLink::Local)
    } else {
        None
    };
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
        drain_delay,
        settings,
        listener_settings,
        routes,
        pools,
        data_dir,
        windows,
        status,
        admin_tokens: ov.admin_tokens.clone(),
    })
}

/// The longest a shutdown takes, by default.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// How long `SIGTERM` keeps the gateway serving, not ready, by default: long
/// enough for a load balancer's health check or an endpoints update to take it
/// out of rotation.
pub const DEFAULT_DRAIN_DELAY: Duration = Duration::from_secs(3);
