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
//!
//! The rooms: [`model`] (windows, drains, drafts, errors), this file (the
//! write path: validate, store, apply, publish), `scheduler.rs` (window
//! boundaries), `rows.rs` (the store's rows and times). The API's JSON is
//! beside the admin API ([`crate::admin::json`]).

mod model;
mod rows;
mod scheduler;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use http::uri::Authority;
use levee_proxy::control::{Bypass, ControlHandle, ControlState, Scope, Window};
use levee_proxy::metrics::Metrics;
use levee_store::{AuditRow, DrainRow, Store, StoreError};

use crate::admin::json::drain_json;

pub use model::*;
use rows::{OwnedChange, owned_change, record_from_row, row_from_record, whole_seconds};
pub use rows::{from_ms, to_ms};

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

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ControlError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(ControlError::Store),
        Err(e) => Err(ControlError::Worker(e.to_string())),
    }
}
