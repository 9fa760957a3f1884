//! The admin API's objects as the CLI reads them (docs/admin-api.md):
//! windows, drains, audit entries, and the lists that carry them.
//!
//! Reading is lenient: bookkeeping fields may be missing and unknown fields
//! are ignored, so a newer gateway still prints. This module must not
//! describe request bodies: the commands build those as JSON.

use serde::Deserialize;

/// A maintenance window.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Window {
    /// `w_…` for API windows, `config:…` for the file's.
    pub(crate) id: String,
    /// `api` or `config`.
    #[serde(default)]
    pub(crate) source: String,
    /// What it covers.
    #[serde(default)]
    pub(crate) scope: Scope,
    /// `scheduled`, `active` or `ended`, at answer time.
    #[serde(default)]
    pub(crate) state: String,
    /// When it starts (RFC 3339).
    #[serde(default)]
    pub(crate) starts_at: Option<String>,
    /// When it ends (RFC 3339); `None` for an open-ended window.
    #[serde(default)]
    pub(crate) ends_at: Option<String>,
    /// What clients are told.
    #[serde(default)]
    pub(crate) message: String,
    /// Who gets through anyway.
    #[serde(default)]
    pub(crate) bypass: Bypass,
    /// When it was created.
    #[serde(default)]
    pub(crate) created_at: Option<String>,
    /// The token name that created it.
    #[serde(default)]
    pub(crate) created_by: Option<String>,
    /// When it last changed.
    #[serde(default)]
    pub(crate) updated_at: Option<String>,
}

/// What a window covers.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Scope {
    /// `all`, `route` or `pool`.
    #[serde(default)]
    pub(crate) kind: String,
    /// The route's or pool's name.
    #[serde(default)]
    pub(crate) name: Option<String>,
}

impl std::fmt::Display for Scope {
    /// `all`, `route api`, `pool db`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.name, self.kind.as_str()) {
            (_, "" | "all") => f.write_str("all"),
            (Some(name), kind) => write!(f, "{kind} {name}"),
            (None, kind) => f.write_str(kind),
        }
    }
}

/// A window's bypass rules.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Bypass {
    /// The header that carries the token.
    #[serde(default)]
    pub(crate) header: Option<String>,
    /// Whether a token is set (never the token itself).
    #[serde(default)]
    pub(crate) token: bool,
    /// Client networks that bypass.
    #[serde(default)]
    pub(crate) networks: Vec<String>,
}

/// `GET /v1/windows`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct WindowList {
    /// Soonest start first.
    pub(crate) windows: Vec<Window>,
}

/// A drained endpoint.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Drain {
    /// `host:port`.
    pub(crate) endpoint: String,
    /// The pools in force that contain it.
    #[serde(default)]
    pub(crate) pools: Vec<String>,
    /// When it was drained.
    #[serde(default)]
    pub(crate) drained_at: Option<String>,
    /// The token name that drained it.
    #[serde(default)]
    pub(crate) drained_by: Option<String>,
}

/// `GET /v1/drains`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DrainList {
    /// Every drained endpoint.
    pub(crate) drains: Vec<Drain>,
}

/// One endpoint of a pool (`GET /v1/pools`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct EndpointState {
    /// `host:port`.
    pub(crate) endpoint: String,
    /// `up`, `probing`, `ejected`, `unhealthy` or `drained`.
    pub(crate) state: String,
    /// Whether it gets requests now.
    #[serde(default)]
    pub(crate) takes_requests: bool,
    /// Why it is in this state.
    #[serde(default)]
    pub(crate) why: String,
    /// Since when.
    #[serde(default)]
    pub(crate) since: Option<String>,
    /// When its breaker lets the next probe through.
    #[serde(default)]
    pub(crate) retry_in_seconds: Option<u64>,
}

/// A pool (`GET /v1/pools`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PoolState {
    /// Its name.
    pub(crate) name: String,
    /// Whether it ignores its health checks.
    #[serde(default)]
    pub(crate) panicking: bool,
    /// Its endpoints.
    #[serde(default)]
    pub(crate) endpoints: Vec<EndpointState>,
}

/// `GET /v1/pools`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PoolList {
    /// Every pool in force.
    pub(crate) pools: Vec<PoolState>,
}

/// One change made through the API.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AuditEntry {
    /// Its sequence number.
    #[serde(default)]
    pub(crate) id: Option<serde_json::Value>,
    /// When.
    #[serde(default)]
    pub(crate) at: String,
    /// The token's name.
    #[serde(default)]
    pub(crate) actor: String,
    /// `window.create`, `drain.add`, ….
    #[serde(default)]
    pub(crate) action: String,
    /// The window id or endpoint.
    #[serde(default)]
    pub(crate) target: String,
    /// The object before (`null` when there was none).
    #[serde(default)]
    pub(crate) before: serde_json::Value,
    /// The object after (`null` when there is none).
    #[serde(default)]
    pub(crate) after: serde_json::Value,
}

/// `GET /v1/audit`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AuditList {
    /// Newest first.
    pub(crate) entries: Vec<AuditEntry>,
}
