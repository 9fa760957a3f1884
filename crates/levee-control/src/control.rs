//! Maintenance windows and drains: the control plane's side.
//!
//! [`Control`] owns the windows (those declared in the config file and
//! those created through the admin API), the drained endpoints, and the
//! [`Store`] that makes the API's changes durable. Every change is written to
//! the store first (with its audit entry, in one transaction), then applied
//! in memory and published to the data path as a new
//! [`ControlState`]. So a change the API acknowledged is on disk, and what
//! the data path enforces is always something the store holds.
//!
//! [`Control::run_scheduler`] wakes at every window boundary to log the
//! start or end, update the gauges and drop ended windows from the published
//! state. Enforcement does not depend on it: the data path compares each
//! window's times with the clock on every request.
//!
//! This module must not parse HTTP or JSON (see [`crate::admin`]); it takes
//! validated drafts and decides only what depends on the state: whether
//! names exist, whether times make sense now, who owns a window.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use http::HeaderName;
use http::uri::Authority;
use levee_proxy::cidr::Cidr;
use levee_proxy::control::{Bypass, ControlHandle, ControlState, Scope, Window};
use levee_proxy::metrics::Metrics;
use levee_store::{AuditRow, Change, DrainRow, Store, StoreError, WindowRow};

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

#[derive(Debug, Default)]
struct State {
    config_windows: Vec<WindowRecord>,
    api_windows: Vec<WindowRecord>,
    drains: Vec<DrainRecord>,
    topology: Topology,
}

/// The owner of windows and drains; share it behind an `Arc`.
#[derive(Debug)]
pub struct Control {
    store: Arc<Store>,
    handle: ControlHandle,
    metrics: Arc<Metrics>,
    state: Mutex<State>,
    /// One write at a time: store, then memory, then publish.
    writes: tokio::sync::Mutex<()>,
    changed: tokio::sync::Notify,
}

impl Control {
    /// Loads the store's windows and drains, takes `config_windows` and
    /// `topology` from the configuration, and publishes the result.
    pub fn open(
        store: Arc<Store>,
        metrics: Arc<Metrics>,
        config_windows: Vec<WindowRecord>,
        topology: Topology,
    ) -> Result<Control, StoreError> {
        let api_windows = store
            .windows()?
            .into_iter()
            .filter_map(|row| match record_from_row(&row) {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::error!(window = %row.id, error = %e, "a stored window cannot be read; it is not enforced");
                    None
                }
            })
            .collect();
        let drains = store
            .drains()?
            .into_iter()
            .filter_map(|row| match row.endpoint.parse::<Authority>() {
                Ok(endpoint) => Some(DrainRecord {
                    endpoint,
                    drained_at: from_ms(row.drained_at_ms),
                    drained_by: row.drained_by,
                }),
                Err(_) => {
                    tracing::error!(endpoint = %row.endpoint, "a stored drain cannot be read; it is not enforced");
                    None
                }
            })
            .collect();
        let control = Control {
            store,
            handle: ControlHandle::new(),
            metrics,
            state: Mutex::new(State {
                config_windows,
                api_windows,
                drains,
                topology,
            }),
            writes: tokio::sync::Mutex::new(()),
            changed: tokio::sync::Notify::new(),
        };
        control.publish();
        Ok(control)
    }

    /// The handle the data path reads.
    pub fn handle(&self) -> &ControlHandle {
        &self.handle
    }

    /// The database file.
    pub fn store_path(&self) -> &std::path::Path {
        self.store.path()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the config file's windows and the names API input is checked
    /// against (on reload).
    pub fn set_config(&self, config_windows: Vec<WindowRecord>, topology: Topology) {
        {
            let mut st = self.lock();
            st.config_windows = config_windows;
            st.topology = topology;
        }
        self.publish();
    }

    /// Publishes and wakes the scheduler (its next boundary may have moved).
    fn publish(&self) {
        self.publish_state();
        self.changed.notify_one();
    }

    /// Publishes what is in force or still to come to the data path.
    fn publish_state(&self) {
        let now = SystemTime::now();
        let st = self.lock();
        let windows: Vec<Arc<Window>> = st
            .config_windows
            .iter()
            .chain(&st.api_windows)
            .filter(|r| r.state(now) != WindowState::Ended)
            .map(|r| r.window.clone())
            .collect();
        let active = windows.iter().filter(|w| w.is_active(now)).count();
        self.metrics
            .maintenance_windows_active
            .set(i64::try_from(active).unwrap_or(i64::MAX));
        self.metrics
            .endpoints_drained
            .set(i64::try_from(st.drains.len()).unwrap_or(i64::MAX));
        self.handle.publish(ControlState {
            windows,
            drained: st.drains.iter().map(|d| d.endpoint.clone()).collect(),
        });
    }

    /// Every window, config ones first, each group soonest start first.
    pub fn windows(&self) -> Vec<WindowRecord> {
        let st = self.lock();
        let mut out: Vec<WindowRecord> = st
            .config_windows
            .iter()
            .chain(&st.api_windows)
            .cloned()
            .collect();
        out.sort_by_key(|r| (r.window.starts_at, r.window.id.clone()));
        out
    }

    /// The window `id`.
    pub fn window(&self, id: &str) -> Option<WindowRecord> {
        let st = self.lock();
        st.config_windows
            .iter()
            .chain(&st.api_windows)
            .find(|r| &*r.window.id == id)
            .cloned()
    }

    /// The drained endpoints.
    pub fn drains(&self) -> Vec<DrainRecord> {
        self.lock().drains.clone()
    }

    /// The pools of the configuration in force that contain `endpoint`.
    pub fn pools_with(&self, endpoint: &Authority) -> Vec<String> {
        self.lock().topology.pools_with(endpoint)
    }

    /// The newest `limit` audit entries.
    pub async fn audit(&self, limit: u32) -> Result<Vec<AuditRow>, ControlError> {
        let store = self.store.clone();
        blocking(move || store.audit(limit)).await
    }

    fn check_scope(&self, scope: &Scope, errors: &mut Vec<FieldError>) {
        let st = self.lock();
        match scope {
            Scope::All => {}
            Scope::Route(r) if !st.topology.routes.iter().any(|n| n == &**r) => {
                errors.push(FieldError::new(
                    "scope.name",
                    format!(
                        "no route named `{r}`; the routes are: {}",
                        st.topology.routes.join(", ")
                    ),
                ));
            }
            Scope::Pool(p) if !st.topology.pools.iter().any(|(n, _)| n == &**p) => {
                let names: Vec<&str> = st.topology.pools.iter().map(|(n, _)| n.as_str()).collect();
                errors.push(FieldError::new(
                    "scope.name",
                    format!("no pool named `{p}`; the pools are: {}", names.join(", ")),
                ));
            }
            _ => {}
        }
    }

    /// Creates a window from `draft`, on behalf of `actor`.
    pub async fn create_window(
        &self,
        actor: &str,
        draft: WindowDraft,
    ) -> Result<WindowRecord, ControlError> {
        let now = SystemTime::now();
        let mut errors = Vec::new();
        self.check_scope(&draft.scope, &mut errors);
        let starts_at = draft.starts_at.unwrap_or(now);
        let ends_at = match draft.end {
            End::Open => None,
            End::At(t) => Some(t),
            End::After(d) => Some(starts_at + d),
        };
        check_times(starts_at, ends_at, now, &mut errors);
        if !errors.is_empty() {
            return Err(ControlError::Invalid(errors));
        }
        let record = WindowRecord {
            window: Arc::new(Window {
                id: format!("w_{}", ulid::Ulid::new()).into(),
                scope: draft.scope,
                starts_at: whole_seconds(starts_at),
                ends_at: ends_at.map(whole_seconds),
                message: draft.message.into(),
                bypass: bypass_of(draft.bypass),
            }),
            source: Source::Api,
            created_at: whole_seconds(now),
            created_by: actor.to_owned(),
            updated_at: whole_seconds(now),
        };
        let _write = self.writes.lock().await;
        self.save_locked(actor, "window.create", None, record).await
    }

    /// Applies `patch` to the API window `id`.
    pub async fn update_window(
        &self,
        actor: &str,
        id: &str,
        patch: WindowPatch,
    ) -> Result<WindowRecord, ControlError> {
        let _write = self.writes.lock().await;
        let now = SystemTime::now();
        let before = self.api_window(id)?;
        if before.state(now) == WindowState::Ended {
            return Err(ControlError::Invalid(vec![FieldError::new(
                "id",
                "the window has ended; create a new one",
            )]));
        }
        let mut errors = Vec::new();
        let old = &before.window;
        let starts_at = patch.starts_at.unwrap_or(old.starts_at);
        let mut ends_at = patch.ends_at.unwrap_or(old.ends_at);
        if let Some(secs) = patch.extend_seconds {
            match ends_at {
                Some(end) => {
                    let moved = if secs >= 0 {
                        end.checked_add(Duration::from_secs(secs.unsigned_abs()))
                    } else {
                        end.checked_sub(Duration::from_secs(secs.unsigned_abs()))
                    };
                    ends_at = moved.or(ends_at);
                }
                None => errors.push(FieldError::new(
                    "extend_seconds",
                    "the window is open-ended: set ends_at instead",
                )),
            }
        }
        check_times(starts_at, ends_at, now, &mut errors);
        if !errors.is_empty() {
            return Err(ControlError::Invalid(errors));
        }
        let window = Window {
            id: old.id.clone(),
            scope: old.scope.clone(),
            starts_at: whole_seconds(starts_at),
            ends_at: ends_at.map(whole_seconds),
            message: patch
                .message
                .map_or_else(|| old.message.clone(), Into::into),
            bypass: patch.bypass.map_or_else(|| old.bypass.clone(), bypass_of),
        };
        let after = WindowRecord {
            window: Arc::new(window),
            updated_at: whole_seconds(now),
            ..before.clone()
        };
        self.save_locked(actor, "window.update", Some(&before), after)
            .await
    }

    /// Ends the API window `id` now (a no-op when it has ended).
    pub async fn end_window(&self, actor: &str, id: &str) -> Result<WindowRecord, ControlError> {
        let _write = self.writes.lock().await;
        let now = whole_seconds(SystemTime::now());
        let before = self.api_window(id)?;
        if before.state(now) == WindowState::Ended {
            return Ok(before);
        }
        let mut window = (*before.window).clone();
        window.ends_at = Some(now);
        let after = WindowRecord {
            window: Arc::new(window),
            updated_at: now,
            ..before.clone()
        };
        self.save_locked(actor, "window.end", Some(&before), after)
            .await
    }

    /// Deletes the API window `id`.
    pub async fn delete_window(&self, actor: &str, id: &str) -> Result<(), ControlError> {
        let _write = self.writes.lock().await;
        let before = self.api_window(id)?;
        let change = owned_change(actor, "window.delete", id, Some(&before), None);
        let store = self.store.clone();
        let key = id.to_owned();
        let deleted = blocking(move || store.delete_window(&key, &change.borrow())).await?;
        if deleted {
            self.lock().api_windows.retain(|r| &*r.window.id != id);
            self.publish();
        }
        Ok(())
    }

    /// Drains `endpoint`; `true` when it was not drained before.
    pub async fn drain(
        &self,
        actor: &str,
        endpoint: Authority,
    ) -> Result<(DrainRecord, bool), ControlError> {
        let _write = self.writes.lock().await;
        if self.pools_with(&endpoint).is_empty() {
            return Err(ControlError::Invalid(vec![FieldError::new(
                "endpoint",
                format!("no pool in the configuration in force has the endpoint `{endpoint}`"),
            )]));
        }
        if let Some(d) = self.lock().drains.iter().find(|d| d.endpoint == endpoint) {
            return Ok((d.clone(), false));
        }
        let now = whole_seconds(SystemTime::now());
        let record = DrainRecord {
            endpoint,
            drained_at: now,
            drained_by: actor.to_owned(),
        };
        let row = DrainRow {
            endpoint: record.endpoint.to_string(),
            drained_at_ms: to_ms(now),
            drained_by: actor.to_owned(),
        };
        let change = OwnedChange {
            at_ms: to_ms(now),
            actor: actor.to_owned(),
            action: "drain.add",
            target: row.endpoint.clone(),
            before: None,
            after: Some(drain_json(&record, &self.pools_with(&record.endpoint))),
        };
        let store = self.store.clone();
        let added = blocking(move || store.add_drain(&row, &change.borrow())).await?;
        if added {
            self.lock().drains.push(record.clone());
            self.publish();
        }
        Ok((record, added))
    }

    /// Puts `endpoint` back in rotation; `NotFound` when it was not drained.
    pub async fn undrain(&self, actor: &str, endpoint: &Authority) -> Result<(), ControlError> {
        let _write = self.writes.lock().await;
        let Some(before) = self
            .lock()
            .drains
            .iter()
            .find(|d| &d.endpoint == endpoint)
            .cloned()
        else {
            return Err(ControlError::NotFound(format!(
                "the endpoint `{endpoint}` is not drained"
            )));
        };
        let change = OwnedChange {
            at_ms: to_ms(SystemTime::now()),
            actor: actor.to_owned(),
            action: "drain.remove",
            target: endpoint.to_string(),
            before: Some(drain_json(&before, &self.pools_with(endpoint))),
            after: None,
        };
        let store = self.store.clone();
        let key = endpoint.to_string();
        blocking(move || store.remove_drain(&key, &change.borrow())).await?;
        self.lock().drains.retain(|d| &d.endpoint != endpoint);
        self.publish();
        Ok(())
    }

    fn api_window(&self, id: &str) -> Result<WindowRecord, ControlError> {
        match self.window(id) {
            Some(r) if r.source == Source::Config => Err(ControlError::Conflict(format!(
                "the window `{id}` is declared in the configuration file; change it there and reload"
            ))),
            Some(r) => Ok(r),
            None => Err(ControlError::NotFound(format!("no window with id `{id}`"))),
        }
    }

    /// Writes `after` (and the audit entry) to the store, then to memory,
    /// then publishes. The caller holds `writes`.
    async fn save_locked(
        &self,
        actor: &str,
        action: &'static str,
        before: Option<&WindowRecord>,
        after: WindowRecord,
    ) -> Result<WindowRecord, ControlError> {
        let row = row_from_record(&after);
        let change = owned_change(actor, action, &after.window.id, before, Some(&after));
        let store = self.store.clone();
        blocking(move || store.put_window(&row, &change.borrow())).await?;
        {
            let mut st = self.lock();
            match st
                .api_windows
                .iter_mut()
                .find(|r| r.window.id == after.window.id)
            {
                Some(slot) => *slot = after.clone(),
                None => st.api_windows.push(after.clone()),
            }
        }
        self.publish();
        Ok(after)
    }

    /// The next time a window starts or ends after `now`.
    fn next_boundary(&self, now: SystemTime) -> Option<SystemTime> {
        let st = self.lock();
        st.config_windows
            .iter()
            .chain(&st.api_windows)
            .flat_map(|r| [Some(r.window.starts_at), r.window.ends_at])
            .flatten()
            .filter(|t| *t > now)
            .min()
    }

    fn active_ids(&self, now: SystemTime) -> Vec<(Arc<str>, Option<SystemTime>, String)> {
        let st = self.lock();
        st.config_windows
            .iter()
            .chain(&st.api_windows)
            .filter(|r| r.state(now) == WindowState::Active)
            .map(|r| {
                (
                    r.window.id.clone(),
                    r.window.ends_at,
                    scope_label(&r.window.scope),
                )
            })
            .collect()
    }

    /// Logs each window's start and end when it happens, keeps the gauges
    /// true and the published state free of ended windows. Runs until the
    /// task is dropped.
    pub async fn run_scheduler(self: Arc<Self>) {
        let mut active: Vec<Arc<str>> = Vec::new();
        loop {
            let now = SystemTime::now();
            let now_active = self.active_ids(now);
            for (id, ends_at, scope) in &now_active {
                if !active.contains(id) {
                    let ends = ends_at
                        .map_or_else(|| "open-ended".to_owned(), levee_http::maintenance::rfc3339);
                    tracing::info!(window = %id, %scope, ends_at = %ends, "maintenance window in force");
                }
            }
            for id in &active {
                if !now_active.iter().any(|(a, _, _)| a == id) {
                    tracing::info!(window = %id, "maintenance window over");
                }
            }
            active = now_active.into_iter().map(|(id, _, _)| id).collect();
            self.publish_state();
            // Wake just after the next boundary, on any change, or hourly.
            let wait = self
                .next_boundary(now)
                .and_then(|t| t.duration_since(SystemTime::now()).ok())
                .map_or(Duration::from_secs(3600), |d| {
                    (d + Duration::from_millis(5)).min(Duration::from_secs(3600))
                });
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.changed.notified() => {}
            }
        }
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

fn check_times(
    starts_at: SystemTime,
    ends_at: Option<SystemTime>,
    now: SystemTime,
    errors: &mut Vec<FieldError>,
) {
    if let Some(end) = ends_at {
        if end <= starts_at {
            errors.push(FieldError::new("ends_at", "must be later than starts_at"));
        } else if end <= now {
            errors.push(FieldError::new(
                "ends_at",
                "is in the past: a window must end in the future (to end one now, use end)",
            ));
        }
    }
}

fn bypass_of(d: BypassDraft) -> Bypass {
    Bypass {
        header: d.header,
        token_sha256: d.token_sha256,
        networks: d.networks,
    }
}

/// The JSON form of a window, as the API answers it and the audit log keeps it.
pub fn window_json(r: &WindowRecord, now: SystemTime) -> serde_json::Value {
    use levee_http::maintenance::rfc3339;
    let w = &r.window;
    let scope = match &w.scope {
        Scope::All => serde_json::json!({"kind": "all"}),
        Scope::Route(n) => serde_json::json!({"kind": "route", "name": &**n}),
        Scope::Pool(n) => serde_json::json!({"kind": "pool", "name": &**n}),
    };
    serde_json::json!({
        "id": &*w.id,
        "source": r.source.as_str(),
        "scope": scope,
        "state": r.state(now).as_str(),
        "starts_at": rfc3339(w.starts_at),
        "ends_at": w.ends_at.map(rfc3339),
        "message": &*w.message,
        "bypass": {
            "header": w.bypass.header.as_str(),
            "token": w.bypass.token_sha256.is_some(),
            "networks": w.bypass.networks.iter().map(ToString::to_string).collect::<Vec<_>>(),
        },
        "created_at": rfc3339(r.created_at),
        "created_by": r.created_by,
        "updated_at": rfc3339(r.updated_at),
    })
}

/// The JSON form of a drain.
pub fn drain_json(d: &DrainRecord, pools: &[String]) -> serde_json::Value {
    serde_json::json!({
        "endpoint": d.endpoint.as_str(),
        "pools": pools,
        "drained_at": levee_http::maintenance::rfc3339(d.drained_at),
        "drained_by": d.drained_by,
    })
}

/// An audit entry with owned fields, movable to the store's thread.
struct OwnedChange {
    at_ms: i64,
    actor: String,
    action: &'static str,
    target: String,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
}

impl OwnedChange {
    fn borrow(&self) -> Change<'_> {
        Change {
            at_ms: self.at_ms,
            actor: &self.actor,
            action: self.action,
            target: &self.target,
            before: self.before.clone(),
            after: self.after.clone(),
        }
    }
}

fn owned_change(
    actor: &str,
    action: &'static str,
    target: &str,
    before: Option<&WindowRecord>,
    after: Option<&WindowRecord>,
) -> OwnedChange {
    let now = SystemTime::now();
    OwnedChange {
        at_ms: to_ms(now),
        actor: actor.to_owned(),
        action,
        target: target.to_owned(),
        before: before.map(|r| window_json(r, now)),
        after: after.map(|r| window_json(r, now)),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ControlError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(ControlError::Store),
        Err(e) => Err(ControlError::Worker(e.to_string())),
    }
}

/// Unix milliseconds (negative before 1970).
pub fn to_ms(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// The time `ms` Unix milliseconds denote.
pub fn from_ms(ms: i64) -> SystemTime {
    let d = Duration::from_millis(ms.unsigned_abs());
    if ms >= 0 {
        SystemTime::UNIX_EPOCH + d
    } else {
        SystemTime::UNIX_EPOCH - d
    }
}

/// Window times are whole seconds, as the API writes them (RFC 3339
/// without fractions): what a client reads in `ends_at` is exactly when the
/// window ends, and `Retry-After` agrees with it.
fn whole_seconds(t: SystemTime) -> SystemTime {
    from_ms(to_ms(t).div_euclid(1000) * 1000)
}

fn row_from_record(r: &WindowRecord) -> WindowRow {
    let w = &r.window;
    let (scope_kind, scope_name) = match &w.scope {
        Scope::All => ("all", None),
        Scope::Route(n) => ("route", Some(n.to_string())),
        Scope::Pool(n) => ("pool", Some(n.to_string())),
    };
    WindowRow {
        id: w.id.to_string(),
        scope_kind: scope_kind.to_owned(),
        scope_name,
        starts_at_ms: to_ms(w.starts_at),
        ends_at_ms: w.ends_at.map(to_ms),
        message: w.message.to_string(),
        bypass_header: w.bypass.header.as_str().to_owned(),
        bypass_token_sha256: w.bypass.token_sha256.map(|d| d.to_vec()),
        bypass_networks: w.bypass.networks.iter().map(ToString::to_string).collect(),
        created_at_ms: to_ms(r.created_at),
        created_by: r.created_by.clone(),
        updated_at_ms: to_ms(r.updated_at),
    }
}

fn record_from_row(row: &WindowRow) -> Result<WindowRecord, String> {
    let scope = match (row.scope_kind.as_str(), &row.scope_name) {
        ("all", _) => Scope::All,
        ("route", Some(n)) => Scope::Route(n.as_str().into()),
        ("pool", Some(n)) => Scope::Pool(n.as_str().into()),
        (k, _) => return Err(format!("unknown scope `{k}`")),
    };
    let header = HeaderName::from_bytes(row.bypass_header.as_bytes())
        .map_err(|_| format!("invalid bypass header `{}`", row.bypass_header))?;
    let token_sha256 = row
        .bypass_token_sha256
        .as_ref()
        .map(|d| {
            <[u8; 32]>::try_from(d.as_slice())
                .map_err(|_| "a bypass digest is not 32 bytes".to_owned())
        })
        .transpose()?;
    let networks = row
        .bypass_networks
        .iter()
        .map(|n| Cidr::parse(n))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(WindowRecord {
        window: Arc::new(Window {
            id: row.id.as_str().into(),
            scope,
            starts_at: from_ms(row.starts_at_ms),
            ends_at: row.ends_at_ms.map(from_ms),
            message: row.message.as_str().into(),
            bypass: Bypass {
                header,
                token_sha256,
                networks,
            },
        }),
        source: Source::Api,
        created_at: from_ms(row.created_at_ms),
        created_by: row.created_by.clone(),
        updated_at: from_ms(row.updated_at_ms),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_records_round_trip() {
        let now = whole_seconds(SystemTime::now());
        let r = WindowRecord {
            window: Arc::new(Window {
                id: "w_1".into(),
                scope: Scope::Pool("db".into()),
                starts_at: now,
                ends_at: Some(now + Duration::from_secs(60)),
                message: "upgrade".into(),
                bypass: Bypass {
                    header: HeaderName::from_static("x-bypass"),
                    token_sha256: Some([3; 32]),
                    networks: vec![Cidr::parse("10.0.0.0/8").expect("cidr")],
                },
            }),
            source: Source::Api,
            created_at: now,
            created_by: "alice".into(),
            updated_at: now,
        };
        let back = record_from_row(&row_from_record(&r)).expect("readable");
        assert_eq!(window_json(&back, now), window_json(&r, now));
        assert_eq!(back.state(now), WindowState::Active);
        assert_eq!(
            back.state(now + Duration::from_secs(60)),
            WindowState::Ended
        );
    }

    #[test]
    fn ms_conversion_handles_both_sides_of_the_epoch() {
        for ms in [-1_500, 0, 1, 1_796_090_400_123] {
            assert_eq!(to_ms(from_ms(ms)), ms);
        }
    }
}
