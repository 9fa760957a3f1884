//! What the control plane keeps: maintenance windows (with who owns them
//! and when they were changed), drains, the drafts the admin API hands in,
//! and the errors a change can meet.
//!
//! This module must not store, publish or validate against the state; it
//! only names things.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::HeaderName;
use http::uri::Authority;
use levee_proxy::cidr::Cidr;
use levee_proxy::control::{Bypass, Scope, Window};
use levee_store::StoreError;

/// Who owns a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Created through the admin API; durable in the store.
    Api,
    /// Declared in the config file; replaced by reloads.
    Config,
}

impl Source {
    /// `api` or `config`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Api => "api",
            Source::Config => "config",
        }
    }
}

/// A window with its bookkeeping.
#[derive(Debug, Clone)]
pub struct WindowRecord {
    /// The window as the data path enforces it.
    pub window: Arc<Window>,
    /// Who owns it.
    pub source: Source,
    /// When it was created (config windows: when the file was loaded).
    pub created_at: SystemTime,
    /// The admin token's name (`config` for config windows).
    pub created_by: String,
    /// Last change.
    pub updated_at: SystemTime,
}

/// Where a window is, relative to `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowState {
    /// Not started yet.
    Scheduled,
    /// In force.
    Active,
    /// Over (or cancelled before it started).
    Ended,
}

impl WindowState {
    /// `scheduled`, `active` or `ended`.
    pub fn as_str(self) -> &'static str {
        match self {
            WindowState::Scheduled => "scheduled",
            WindowState::Active => "active",
            WindowState::Ended => "ended",
        }
    }
}

impl WindowRecord {
    /// The window's state at `now`.
    pub fn state(&self, now: SystemTime) -> WindowState {
        let w = &self.window;
        if w.ends_at
            .is_some_and(|end| end <= now || end <= w.starts_at)
        {
            WindowState::Ended
        } else if w.starts_at <= now {
            WindowState::Active
        } else {
            WindowState::Scheduled
        }
    }
}

/// A drained endpoint with its bookkeeping.
#[derive(Debug, Clone)]
pub struct DrainRecord {
    /// The endpoint.
    pub endpoint: Authority,
    /// When.
    pub drained_at: SystemTime,
    /// The admin token's name.
    pub drained_by: String,
}

/// A new window, validated for form (not yet against the state).
#[derive(Debug, Clone)]
pub struct WindowDraft {
    /// What it covers.
    pub scope: Scope,
    /// Start (`None`: now).
    pub starts_at: Option<SystemTime>,
    /// End.
    pub end: End,
    /// Message for clients.
    pub message: String,
    /// Bypass rules.
    pub bypass: BypassDraft,
}

/// How a new window ends.
#[derive(Debug, Clone, Copy)]
pub enum End {
    /// Open-ended.
    Open,
    /// At this time.
    At(SystemTime),
    /// This long after the start.
    After(Duration),
}

/// Bypass rules, validated for form.
#[derive(Debug, Clone)]
pub struct BypassDraft {
    /// The header.
    pub header: HeaderName,
    /// SHA-256 of the token.
    pub token_sha256: Option<[u8; 32]>,
    /// Networks.
    pub networks: Vec<Cidr>,
}

impl Default for BypassDraft {
    fn default() -> BypassDraft {
        BypassDraft {
            header: HeaderName::from_static(Bypass::DEFAULT_HEADER),
            token_sha256: None,
            networks: Vec::new(),
        }
    }
}

/// Changes to a window, validated for form.
#[derive(Debug, Clone, Default)]
pub struct WindowPatch {
    /// A new start.
    pub starts_at: Option<SystemTime>,
    /// A new end (`Some(None)`: open-ended).
    pub ends_at: Option<Option<SystemTime>>,
    /// Move the end by this many seconds (negative shortens).
    pub extend_seconds: Option<i64>,
    /// A new message.
    pub message: Option<String>,
    /// New bypass rules (replacing the old as a whole).
    pub bypass: Option<BypassDraft>,
}

/// One field that is wrong, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field, e.g. `ends_at` or `scope.name`.
    pub field: String,
    /// What was expected.
    pub detail: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: impl Into<String>, detail: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            detail: detail.into(),
        }
    }
}

/// Why a change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No such window or drain.
    #[error("{0}")]
    NotFound(String),
    /// The window belongs to the config file.
    #[error("{0}")]
    Conflict(String),
    /// Some fields are invalid.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// The store failed; nothing changed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store's worker thread failed.
    #[error("the state store's worker failed: {0}")]
    Worker(String),
}

/// What the configuration in force says about names (for validation).
#[derive(Debug, Clone, Default)]
pub struct Topology {
    /// Route names.
    pub routes: Vec<String>,
    /// Pool names and their endpoints.
    pub pools: Vec<(String, Vec<Authority>)>,
}

impl Topology {
    /// The pools that contain `endpoint`.
    pub fn pools_with(&self, endpoint: &Authority) -> Vec<String> {
        self.pools
            .iter()
            .filter(|(_, eps)| eps.contains(endpoint))
            .map(|(n, _)| n.clone())
            .collect()
    }
}

/// `all`, `route:NAME` or `pool:NAME`, for logs.
pub fn scope_label(scope: &Scope) -> String {
    match scope {
        Scope::All => "all".to_owned(),
        Scope::Route(r) => format!("route:{r}"),
        Scope::Pool(p) => format!("pool:{p}"),
    }
}
