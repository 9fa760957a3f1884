//! The admin API's objects as the CLI reads them (docs/admin-api.md):
//! windows, drains, pools, audit entries, the status page's incidents and
//! components, and the lists that carry them.
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

/// One update of an incident: what people were told, and when.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct IncidentUpdate {
    /// The incident's state with this update.
    #[serde(default)]
    pub(crate) status: String,
    /// What it says.
    #[serde(default)]
    pub(crate) body: String,
    /// When it was posted.
    #[serde(default)]
    pub(crate) created_at: Option<String>,
}

/// An incident of the status page (`GET /v1/incidents/{id}`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Incident {
    /// `inc_` + ULID.
    pub(crate) id: String,
    /// Its title.
    #[serde(default)]
    pub(crate) name: String,
    /// `investigating`, `identified`, `monitoring` or `resolved`.
    #[serde(default)]
    pub(crate) status: String,
    /// `none`, `minor`, `major` or `critical`.
    #[serde(default)]
    pub(crate) impact: String,
    /// Ids of the components it affects.
    #[serde(default)]
    pub(crate) components: Vec<String>,
    /// Whether Levee opened it and still manages it.
    #[serde(default)]
    pub(crate) automatic: bool,
    /// When the trouble started (may precede `created_at`).
    #[serde(default)]
    pub(crate) started_at: Option<String>,
    /// When it was opened.
    #[serde(default)]
    pub(crate) created_at: Option<String>,
    /// When it last changed.
    #[serde(default)]
    pub(crate) updated_at: Option<String>,
    /// When it entered `monitoring`, if it did.
    #[serde(default)]
    pub(crate) monitoring_at: Option<String>,
    /// When it was resolved, if it is.
    #[serde(default)]
    pub(crate) resolved_at: Option<String>,
    /// Its updates, newest first.
    #[serde(default)]
    pub(crate) updates: Vec<IncidentUpdate>,
}

/// `GET /v1/incidents`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct IncidentList {
    /// Newest first.
    pub(crate) incidents: Vec<Incident>,
}

/// An operator's pin on a component (the status it pins is the component's
/// `status`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Pin {
    /// The operator's note (may be empty).
    #[serde(default)]
    pub(crate) note: String,
    /// The token name that pinned it.
    #[serde(default)]
    pub(crate) pinned_by: Option<String>,
}

/// A component of the status page (`GET /v1/components`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Component {
    /// Its id: its name, slugged.
    pub(crate) id: String,
    /// Its name.
    #[serde(default)]
    pub(crate) name: String,
    /// Its group, if any.
    #[serde(default)]
    pub(crate) group: Option<String>,
    /// The status the page shows (the pin's, when pinned).
    #[serde(default)]
    pub(crate) status: String,
    /// The status the gateway's signals give (what shows once unpinned).
    #[serde(default)]
    pub(crate) live_status: String,
    /// The pin, if any.
    #[serde(default)]
    pub(crate) pin: Option<Pin>,
}

/// `GET /v1/components`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ComponentList {
    /// In page order.
    pub(crate) components: Vec<Component>,
}
