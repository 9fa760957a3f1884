//! The status page: the control plane's side.
//!
//! [`StatusPage`] owns the components, their live status, the incidents and
//! the availability history, and publishes the rendered site for the data
//! path to serve. Once a second ([`StatusPage::run`]) it reads what the
//! gateway saw — each route's answers ([`levee_proxy::status::Tally`]), each
//! pool's endpoints, the maintenance windows in force — and hands every
//! component's sample to [`levee_policy::status`], which decides its level
//! with hysteresis and when an automatic incident opens, changes or
//! resolves. Changes are written to the store first (component history,
//! incidents with their updates, per-minute availability), then applied in
//! memory, published as a new site, and sent to webhook subscribers.
//!
//! Operators write through the admin API ([`StatusPage::open_incident`],
//! [`StatusPage::update_incident`], [`StatusPage::pin`]): audited, durable
//! before they are acknowledged; an operator's words on an automatic
//! incident make it theirs (Levee stops updating or resolving it).
//! Scheduled maintenance is not stored here: it is the maintenance windows
//! of [`crate::control::Control`], one source of truth.
//!
//! This module must not serve requests of the data path, nor parse the
//! admin API's JSON ([`crate::admin`] does); `view.rs` builds what the page
//! shows, `listener.rs` serves it on its own address, `webhook.rs`
//! delivers notifications.

mod listener;
mod view;
pub mod webhook;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use levee_http::status_site::{ComponentStatus, Impact, IncidentStatus, IncidentView, PageView};
use levee_policy::status::{
    Action, Automation, Change as LevelChange, Component, IncidentTracker, Level, Sample,
};
use levee_proxy::RuntimeHandle;
use levee_proxy::status::{SiteHandle, StatusSite, Tally};
use levee_store::{
    Change, ComponentChangeRow, IncidentRow, MinuteRow, PinRow, Store, StoreError, UpdateRow,
};

use crate::config::resolve::{ComponentSpec, StatusConfig};
use crate::control::{Control, from_ms, to_ms};

pub use listener::serve as serve_listener;

/// The actor recorded for Levee's own changes.
pub const LEVEE: &str = "levee";

/// Incidents and changes kept in memory and shown (the page's history).
const HISTORY_INCIDENTS: u32 = 500;

/// Why an operator's status change was refused.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// The store refused the write; nothing changed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No such incident.
    #[error("no incident `{0}`")]
    NoIncident(String),
    /// No such component.
    #[error("no component `{0}`")]
    NoComponent(String),
    /// The component is not pinned (nothing to unpin).
    #[error("the component `{0}` is not pinned")]
    NotPinned(String),
    /// The input does not fit the state (e.g. updating a resolved incident
    /// without reopening it), with the field and why.
    #[error("{field}: {detail}")]
    Invalid {
        /// The field.
        field: String,
        /// Why.
        detail: String,
    },
    /// The status page is turned off.
    #[error("the status page is turned off ([status] enabled = false)")]
    Disabled,
    /// The blocking thread running the store call failed.
    #[error("the store's worker failed: {0}")]
    Worker(String),
}

/// A new incident from an operator.
#[derive(Debug, Clone)]
pub struct IncidentDraft {
    /// Its title.
    pub name: String,
    /// Its state (default investigating).
    pub status: IncidentStatus,
    /// Its impact (default: from its components' status, else minor).
    pub impact: Option<Impact>,
    /// The first update's words.
    pub body: String,
    /// Ids of the components it affects.
    pub components: Vec<String>,
}

/// An operator's change to an incident: each field that is set.
#[derive(Debug, Clone, Default)]
pub struct IncidentPatch {
    /// A new title.
    pub name: Option<String>,
    /// A new state (`resolved` resolves it).
    pub status: Option<IncidentStatus>,
    /// A new impact.
    pub impact: Option<Impact>,
    /// Words of a new update.
    pub body: Option<String>,
    /// A new set of affected components.
    pub components: Option<Vec<String>>,
}

/// One component as the admin API shows it.
#[derive(Debug, Clone)]
pub struct ComponentInfo {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its group.
    pub group: Option<String>,
    /// The status shown.
    pub status: ComponentStatus,
    /// The status the signals give (what shows once unpinned).
    pub live: ComponentStatus,
    /// The pin, if any.
    pub pin: Option<PinRow>,
    /// The routes and pools it covers.
    pub routes: Vec<String>,
    /// Pools.
    pub pools: Vec<String>,
    /// Since when its status is what it is.
    pub since: SystemTime,
}

/// One component's live state.
#[derive(Debug)]
struct Live {
    spec: ComponentSpec,
    /// Routes whose answers it counts (its own and its pools').
    routes: Vec<String>,
    /// Pools whose endpoints it watches (its own and its routes').
    pools: Vec<String>,
    eval: Component,
    tracker: IncidentTracker,
    /// The automatic incident open for it, if any.
    incident: Option<String>,
    created_at_ms: i64,
    updated_at_ms: i64,
    /// This minute's counts.
    minute: MinuteRow,
}

#[derive(Debug)]
struct Inner {
    config: StatusConfig,
    components: Vec<Live>,
    last: HashMap<String, Tally>,
    incidents: Vec<(IncidentRow, Vec<UpdateRow>)>,
    pins: HashMap<String, PinRow>,
    days: Vec<levee_store::DayRow>,
    /// Something shown changed since the last render.
    dirty: bool,
    rendered_at: Option<Instant>,
    /// The Unix minute being counted.
    minute: i64,
    pruned_at: Option<Instant>,
}

/// The status page; share it behind an `Arc`.
#[derive(Debug)]
pub struct StatusPage {
    store: Arc<Store>,
    runtime: RuntimeHandle,
    control: Arc<Control>,
    site: SiteHandle,
    webhooks: webhook::Webhooks,
    origin: Instant,
    inner: Mutex<Inner>,
    /// One write at a time (the tick's and operators').
    writes: tokio::sync::Mutex<()>,
}

fn level_status(l: Level) -> ComponentStatus {
    ComponentStatus::parse(l.as_str()).unwrap_or(ComponentStatus::Operational)
}

fn status_level(s: ComponentStatus) -> Level {
    Level::parse(s.as_str()).unwrap_or(Level::Operational)
}

fn unix_minute(t: SystemTime) -> i64 {
    to_ms(t).div_euclid(60_000)
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", ulid::Ulid::new())
}

impl StatusPage {
    /// Loads incidents, pins and history from `store`, builds the components
    /// of `config` (with the routes and pools of `routes`), and publishes a
    /// first site to `site`.
    pub fn open(
        config: &StatusConfig,
        routes: &[levee_proxy::route::RouteSpec],
        store: Arc<Store>,
        runtime: RuntimeHandle,
        control: Arc<Control>,
        site: SiteHandle,
    ) -> Result<Arc<StatusPage>, StoreError> {
        let now = SystemTime::now();
        let since = to_ms(now) - i64::try_from(config.history.as_millis()).unwrap_or(i64::MAX);
        let incidents = store.incidents(since, HISTORY_INCIDENTS)?;
        let pins: HashMap<String, PinRow> = store
            .pins()?
            .into_iter()
            .map(|p| (p.component.clone(), p))
            .collect();
        let days = store.daily_availability(day_start(to_ms(now)) - 89 * 86_400_000)?;
        let page = Arc::new(StatusPage {
            store,
            runtime,
            control,
            site,
            webhooks: webhook::Webhooks::start(config.webhooks.clone()),
            origin: Instant::now(),
            inner: Mutex::new(Inner {
                config: config.clone(),
                components: Vec::new(),
                last: HashMap::new(),
                incidents,
                pins,
                days,
                dirty: true,
                rendered_at: None,
                minute: unix_minute(now),
                pruned_at: None,
            }),
            writes: tokio::sync::Mutex::new(()),
        });
        page.reconfigure(config, routes);
        Ok(page)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn mono(&self) -> Duration {
        self.origin.elapsed()
    }

    /// Takes a new configuration (on reload): components keep their state
    /// by id, new ones start operational, removed ones go.
    pub fn reconfigure(&self, config: &StatusConfig, routes: &[levee_proxy::route::RouteSpec]) {
        let now_ms = to_ms(SystemTime::now());
        let mono = self.mono();
        let rt = self.runtime.load();
        {
            let mut inner = self.lock();
            let mut old: HashMap<String, Live> = std::mem::take(&mut inner.components)
                .into_iter()
                .map(|l| (l.spec.id.clone(), l))
                .collect();
            // An automatic incident still open in the store resumes.
            let open_auto: HashMap<String, (String, Level)> = inner
                .incidents
                .iter()
                .filter(|(i, _)| i.automatic && i.owner.is_none() && i.resolved_at_ms.is_none())
                .filter_map(|(i, _)| {
                    let comps: Vec<String> = serde_json::from_str(&i.components).ok()?;
                    let level = match Impact::parse(&i.impact) {
                        Some(Impact::Critical) => Level::MajorOutage,
                        Some(Impact::Major) => Level::PartialOutage,
                        _ => Level::DegradedPerformance,
                    };
                    Some(comps.into_iter().map(move |c| (c, (i.id.clone(), level))))
                })
                .flatten()
                .collect();
            let mut components = Vec::new();
            for spec in &config.components {
                let (own_routes, own_pools) = coverage(spec, routes);
                let live = match old.remove(&spec.id) {
                    Some(mut l) => {
                        l.spec = spec.clone();
                        l.routes = own_routes;
                        l.pools = own_pools;
                        l
                    }
                    None => {
                        let mut eval = Component::new(mono);
                        if let Some(pin) = inner.pins.get(&spec.id) {
                            let _ = eval.pin(mono, Level::parse(&pin.status));
                        }
                        let (tracker, incident) = match open_auto.get(&spec.id) {
                            Some((id, level)) => {
                                (IncidentTracker::resume(*level), Some(id.clone()))
                            }
                            None => (IncidentTracker::new(), None),
                        };
                        Live {
                            minute: MinuteRow {
                                component: spec.id.clone(),
                                minute: inner.minute,
                                requests: 0,
                                ok: 0,
                                maintenance: false,
                                outage: false,
                            },
                            spec: spec.clone(),
                            routes: own_routes,
                            pools: own_pools,
                            eval,
                            tracker,
                            incident,
                            created_at_ms: now_ms,
                            updated_at_ms: now_ms,
                        }
                    }
                };
                components.push(live);
            }
            inner.components = components;
            inner.config = config.clone();
            inner.dirty = true;
        }
        // Slow thresholds per route: the smallest of the components' that count it.
        let mut slow: HashMap<&str, Duration> = HashMap::new();
        for spec in &config.components {
            let (r, _) = coverage(spec, routes);
            if let Some(d) = spec.slow_after {
                for route in r {
                    let e = slow
                        .entry(
                            routes
                                .iter()
                                .find(|x| x.name == route)
                                .map_or("", |x| x.name.as_str()),
                        )
                        .or_insert(d);
                    *e = (*e).min(d);
                }
            }
        }
        for r in routes {
            rt.metrics
                .tally(&r.name)
                .set_slow_after(slow.get(r.name.as_str()).copied());
        }
        self.webhooks.replace(config.webhooks.clone());
        self.render(SystemTime::now());
    }

    /// Runs the once-a-second evaluation until the task is dropped.
    pub async fn run(self: Arc<Self>) {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if let Err(e) = self.tick().await {
                tracing::error!(error = %e, "the status page could not record a change; it is retried at the next tick");
            }
        }
    }

    /// One evaluation: read the signals, decide, record, publish.
    pub async fn tick(&self) -> Result<(), StatusError> {
        let _w = self.writes.lock().await;
        let now = SystemTime::now();
        let mono = self.mono();
        let rt = self.runtime.load();
        let tallies: HashMap<String, Tally> = rt.metrics.tallies().into_iter().collect();
        let control = self.control.handle().load();
        let drained = control.drained.clone();
        let std_now = tokio::time::Instant::now().into_std();
        let pools: HashMap<String, levee_proxy::pool::PoolStatus> = rt
            .pools
            .iter()
            .map(|p| (p.name.clone(), p.status(std_now, &drained)))
            .collect();
        let windows: Vec<_> = control
            .windows
            .iter()
            .filter(|w| w.is_active(now))
            .cloned()
            .collect();
        let minute = unix_minute(now);
        let mut changes: Vec<(String, String, LevelChange)> = Vec::new();
        let mut actions: Vec<(usize, Action, Level)> = Vec::new();
        let mut flush: Vec<MinuteRow> = Vec::new();
        {
            let mut inner = self.lock();
            let inner = &mut *inner;
            let thresholds = inner.config.thresholds;
            let automation = Automation {
                open_after: inner.config.incident_after,
            };
            let roll = minute != inner.minute;
            for (i, c) in inner.components.iter_mut().enumerate() {
                let mut delta = Tally::default();
                for r in &c.routes {
                    let now_t = tallies.get(r).copied().unwrap_or_default();
                    let before = inner.last.get(r).copied().unwrap_or(now_t);
                    delta = delta.plus(&now_t.since(&before));
                }
                let mut sample = Sample {
                    requests: delta.requests,
                    server_errors: delta.server_errors.saturating_sub(delta.shed),
                    shed: delta.shed,
                    slow: delta.slow,
                    ..Sample::default()
                };
                for p in &c.pools {
                    let Some(st) = pools.get(p) else { continue };
                    let counted: Vec<_> = st
                        .endpoints
                        .iter()
                        .filter(|e| e.state != "drained")
                        .collect();
                    sample.pools += 1;
                    sample.endpoints += u32::try_from(counted.len()).unwrap_or(u32::MAX);
                    // Up: healthy and not ejected. A pool is down when no
                    // endpoint takes requests (a panicking pool still does).
                    let up = counted
                        .iter()
                        .filter(|e| e.state == "up" || e.state == "probing")
                        .count();
                    sample.endpoints_up += u32::try_from(up).unwrap_or(u32::MAX);
                    let taking = counted.iter().filter(|e| e.takes_requests).count();
                    if taking == 0 && !counted.is_empty() {
                        sample.pools_down += 1;
                        sample.down_pools.push(p.clone());
                    }
                }
                sample.maintenance = windows.iter().any(|w| {
                    c.routes.iter().any(|r| w.covers(r, ""))
                        || c.pools.iter().any(|p| w.covers("", p))
                });
                if roll {
                    flush.push(std::mem::replace(
                        &mut c.minute,
                        MinuteRow {
                            component: c.spec.id.clone(),
                            minute,
                            requests: 0,
                            ok: 0,
                            maintenance: false,
                            outage: false,
                        },
                    ));
                }
                c.minute.requests += delta.requests;
                c.minute.ok += delta.requests.saturating_sub(delta.server_errors);
                if let Some(change) = c.eval.observe(mono, sample, &thresholds) {
                    if let Some(a) = c.tracker.on_change(&automation, &change) {
                        actions.push((i, a, change.from));
                    }
                    changes.push((c.spec.id.clone(), c.spec.name.clone(), change));
                    c.updated_at_ms = to_ms(now);
                }
                if let Some(a) = c.tracker.tick(&automation, mono) {
                    actions.push((i, a, Level::Operational));
                }
                let shown = level_status(c.eval.level());
                c.minute.maintenance |= shown == ComponentStatus::UnderMaintenance;
                c.minute.outage |= matches!(
                    shown,
                    ComponentStatus::PartialOutage | ComponentStatus::MajorOutage
                );
            }
            inner.last = tallies;
            inner.minute = minute;
        }
        // Store first: history, then availability, then incidents.
        let now_ms = to_ms(now);
        let rows: Vec<ComponentChangeRow> = changes
            .iter()
            // What the signals changed (pins are recorded by `pin`).
            .map(|(id, _, ch)| change_row(id, now_ms, ch, true))
            .collect();
        for (id, name, ch) in &changes {
            tracing::info!(component = %name, from = ch.from.as_str(), to = ch.to.as_str(), cause = %ch.cause, "component status changed");
            let _ = id;
        }
        let store = self.store.clone();
        let prune = {
            let inner = self.lock();
            inner
                .pruned_at
                .is_none_or(|t| t.elapsed() > Duration::from_secs(3600))
        };
        let history = self.lock().config.history;
        let days_since = day_start(now_ms) - 89 * 86_400_000;
        let flushed = !flush.is_empty();
        let days = blocking(move || {
            for r in &rows {
                store.record_component_change(r)?;
            }
            if !flush.is_empty() {
                store.add_availability(&flush)?;
            }
            if prune {
                let before = now_ms - i64::try_from(history.as_millis()).unwrap_or(i64::MAX);
                store.prune_status(before)?;
            }
            if flushed {
                return store.daily_availability(days_since).map(Some);
            }
            Ok(None)
        })
        .await?;
        {
            let mut inner = self.lock();
            if prune {
                inner.pruned_at = Some(Instant::now());
            }
            if let Some(d) = days {
                inner.days = d;
                inner.dirty = true;
            }
            if !changes.is_empty() {
                inner.dirty = true;
            }
        }
        if !changes.is_empty() {
            // One view for every change's payload (a view reads the windows
            // and the whole history).
            let view = self.view(now);
            for (id, _, ch) in &changes {
                self.webhooks.notify(
                    "component.update",
                    levee_http::status_site::json::webhook_component_json(
                        &view,
                        id,
                        level_status(ch.from),
                        level_status(ch.to),
                        now_ms,
                    ),
                );
            }
        }
        for (i, action, before) in actions {
            self.automatic(i, action, before, now).await?;
        }
        let stale = {
            let inner = self.lock();
            inner.dirty
                || inner
                    .rendered_at
                    .is_none_or(|t| t.elapsed() >= Duration::from_secs(30))
        };
        if stale {
            self.render(now);
        }
        Ok(())
    }

    /// Carries out an automatic incident action for component `i`.
    async fn automatic(
        &self,
        i: usize,
        action: Action,
        before: Level,
        now: SystemTime,
    ) -> Result<(), StatusError> {
        let now_ms = to_ms(now);
        let (spec, incident, level) = {
            let inner = self.lock();
            let Some(c) = inner.components.get(i) else {
                return Ok(());
            };
            (c.spec.clone(), c.incident.clone(), c.eval.level())
        };
        let status = level_status(level);
        let (row, update) = match action {
            Action::Open {
                level,
                since,
                cause,
            } => {
                let started = now_ms
                    - i64::try_from(self.mono().saturating_sub(since).as_millis()).unwrap_or(0);
                let id = new_id("inc_");
                let status = level_status(level);
                let row = IncidentRow {
                    id: id.clone(),
                    name: format!("{}: {}", spec.name, status.label().to_lowercase()),
                    status: IncidentStatus::Investigating.as_str().to_owned(),
                    impact: Impact::of(status).as_str().to_owned(),
                    components: serde_json::json!([spec.id]).to_string(),
                    automatic: true,
                    owner: None,
                    started_at_ms: started,
                    created_at_ms: now_ms,
                    updated_at_ms: now_ms,
                    monitoring_at_ms: None,
                    resolved_at_ms: None,
                };
                let update = levee_update(
                    &row,
                    format!(
                        "Levee sees {} {}: {cause}. We are looking into it.",
                        spec.name,
                        status.label().to_lowercase()
                    ),
                    affected_json(&spec, level_status(before), status),
                    now_ms,
                );
                (row, update)
            }
            Action::Update { from, to, cause } => {
                let Some(mut row) = incident.as_ref().and_then(|id| self.incident_row(id)) else {
                    return Ok(());
                };
                let (from, to) = (level_status(from), level_status(to));
                row.impact = Impact::of(to).max(Impact::Minor).as_str().to_owned();
                row.updated_at_ms = now_ms;
                let update = levee_update(
                    &row,
                    format!(
                        "{} is now {}: {cause}.",
                        spec.name,
                        to.label().to_lowercase()
                    ),
                    affected_json(&spec, from, to),
                    now_ms,
                );
                (row, update)
            }
            Action::Resolve { cause } => {
                let Some(mut row) = incident.as_ref().and_then(|id| self.incident_row(id)) else {
                    return Ok(());
                };
                row.status = IncidentStatus::Resolved.as_str().to_owned();
                row.resolved_at_ms = Some(now_ms);
                row.updated_at_ms = now_ms;
                let update = levee_update(
                    &row,
                    format!(
                        "{} is {} again: {cause}. This incident is resolved.",
                        spec.name,
                        status.label().to_lowercase()
                    ),
                    affected_json(&spec, level_status(before), status),
                    now_ms,
                );
                (row, update)
            }
        };
        let action_name = if incident.is_none() {
            "incident.open"
        } else {
            "incident.update"
        };
        self.write_incident(row.clone(), Some(update), LEVEE, action_name, now_ms)
            .await?;
        {
            let mut inner = self.lock();
            if let Some(c) = inner.components.get_mut(i) {
                c.incident = (row.resolved_at_ms.is_none()).then(|| row.id.clone());
            }
        }
        Ok(())
    }

    fn incident_row(&self, id: &str) -> Option<IncidentRow> {
        self.lock()
            .incidents
            .iter()
            .find(|(i, _)| i.id == id)
            .map(|(i, _)| i.clone())
    }

    /// Stores an incident (and an update) with its audit entry, then keeps
    /// it in memory, re-renders and notifies.
    async fn write_incident(
        &self,
        row: IncidentRow,
        update: Option<UpdateRow>,
        actor: &str,
        action: &str,
        now_ms: i64,
    ) -> Result<(), StatusError> {
        let before = self.incident_row(&row.id).map(|r| incident_audit(&r));
        let mut after = incident_audit(&row);
        if let (Some(u), Some(obj)) = (&update, after.as_object_mut()) {
            // What was said is part of what was done.
            obj.insert(
                "update".to_owned(),
                serde_json::json!({"status": u.status, "body": u.body}),
            );
        }
        let store = self.store.clone();
        let (r, u, actor_s, action_s) = (
            row.clone(),
            update.clone(),
            actor.to_owned(),
            action.to_owned(),
        );
        blocking(move || {
            store.put_incident(
                &r,
                u.as_ref(),
                &Change {
                    at_ms: now_ms,
                    actor: &actor_s,
                    action: &action_s,
                    target: &r.id,
                    before,
                    after: Some(after),
                },
            )
        })
        .await?;
        {
            let mut inner = self.lock();
            match inner.incidents.iter_mut().find(|(i, _)| i.id == row.id) {
                Some((i, updates)) => {
                    *i = row.clone();
                    if let Some(u) = update {
                        updates.insert(0, u);
                    }
                }
                None => inner
                    .incidents
                    .insert(0, (row.clone(), update.into_iter().collect())),
            }
            inner
                .incidents
                .sort_by_key(|i| std::cmp::Reverse(i.0.created_at_ms));
            inner.dirty = true;
        }
        let view = self.render(from_ms(now_ms));
        if let Some(p) = levee_http::status_site::json::webhook_incident_json(&view, &row.id) {
            self.webhooks.notify("incident.update", p);
        }
        Ok(())
    }

    /// Opens an incident an operator writes.
    pub async fn open_incident(
        &self,
        draft: IncidentDraft,
        actor: &str,
    ) -> Result<IncidentView, StatusError> {
        let _w = self.writes.lock().await;
        self.check_components(&draft.components, "components")?;
        let now_ms = to_ms(SystemTime::now());
        let worst = self.worst_of(&draft.components);
        let impact = draft
            .impact
            .unwrap_or_else(|| Impact::of(worst).max(Impact::Minor));
        let id = new_id("inc_");
        let resolved = draft.status == IncidentStatus::Resolved;
        let row = IncidentRow {
            id: id.clone(),
            name: draft.name,
            status: draft.status.as_str().to_owned(),
            impact: impact.as_str().to_owned(),
            components: serde_json::Value::from(draft.components.clone()).to_string(),
            automatic: false,
            owner: Some(actor.to_owned()),
            started_at_ms: now_ms,
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
            monitoring_at_ms: (draft.status == IncidentStatus::Monitoring).then_some(now_ms),
            resolved_at_ms: resolved.then_some(now_ms),
        };
        let update = UpdateRow {
            id: new_id("upd_"),
            incident_id: id.clone(),
            status: row.status.clone(),
            body: draft.body,
            author: actor.to_owned(),
            created_at_ms: now_ms,
            affected: "[]".to_owned(),
        };
        self.write_incident(row, Some(update), actor, "incident.open", now_ms)
            .await?;
        self.incident(&id).ok_or(StatusError::NoIncident(id))
    }

    /// Changes an incident; an operator's change to an automatic incident
    /// makes it theirs.
    pub async fn update_incident(
        &self,
        id: &str,
        patch: IncidentPatch,
        actor: &str,
    ) -> Result<IncidentView, StatusError> {
        let _w = self.writes.lock().await;
        let mut row = self
            .incident_row(id)
            .ok_or_else(|| StatusError::NoIncident(id.to_owned()))?;
        if let Some(c) = &patch.components {
            self.check_components(c, "components")?;
        }
        let now_ms = to_ms(SystemTime::now());
        let old_status =
            IncidentStatus::parse(&row.status).unwrap_or(IncidentStatus::Investigating);
        if let Some(n) = patch.name {
            row.name = n;
        }
        if let Some(i) = patch.impact {
            row.impact = i.as_str().to_owned();
        }
        if let Some(c) = &patch.components {
            row.components = serde_json::Value::from(c.clone()).to_string();
        }
        let new_status = patch.status.unwrap_or(old_status);
        row.status = new_status.as_str().to_owned();
        if new_status == IncidentStatus::Monitoring && row.monitoring_at_ms.is_none() {
            row.monitoring_at_ms = Some(now_ms);
        }
        row.resolved_at_ms = match new_status {
            IncidentStatus::Resolved => row.resolved_at_ms.or(Some(now_ms)),
            _ => None,
        };
        row.updated_at_ms = now_ms;
        let took_over = row.automatic && row.owner.is_none();
        row.owner = Some(actor.to_owned());
        let body = patch
            .body
            .or_else(|| (new_status != old_status).then(|| format!("{}.", new_status.label())));
        let update = body.map(|body| UpdateRow {
            id: new_id("upd_"),
            incident_id: row.id.clone(),
            status: row.status.clone(),
            body,
            author: actor.to_owned(),
            created_at_ms: now_ms,
            affected: "[]".to_owned(),
        });
        if took_over {
            let mut inner = self.lock();
            for c in inner
                .components
                .iter_mut()
                .filter(|c| c.incident.as_deref() == Some(id))
            {
                c.tracker.released();
                c.incident = None;
            }
        }
        self.write_incident(row, update, actor, "incident.update", now_ms)
            .await?;
        self.incident(id)
            .ok_or_else(|| StatusError::NoIncident(id.to_owned()))
    }

    /// Pins component `id` to `status` (`None`: unpins), with a note.
    pub async fn pin(
        &self,
        id: &str,
        pin: Option<(ComponentStatus, String)>,
        actor: &str,
    ) -> Result<ComponentInfo, StatusError> {
        let _w = self.writes.lock().await;
        self.check_components(&[id.to_owned()], "component")
            .map_err(|e| match e {
                StatusError::Invalid { .. } => StatusError::NoComponent(id.to_owned()),
                e => e,
            })?;
        let now = SystemTime::now();
        let now_ms = to_ms(now);
        let before = self.lock().pins.get(id).cloned();
        if pin.is_none() && before.is_none() {
            return Err(StatusError::NotPinned(id.to_owned()));
        }
        let store = self.store.clone();
        let row = pin.as_ref().map(|(s, note)| PinRow {
            component: id.to_owned(),
            status: s.as_str().to_owned(),
            note: note.clone(),
            pinned_at_ms: now_ms,
            pinned_by: actor.to_owned(),
        });
        let (r, idc, actor_s) = (row.clone(), id.to_owned(), actor.to_owned());
        let pin_json = |p: &PinRow| serde_json::json!({"component": p.component, "status": p.status, "note": p.note});
        let (b, a) = (before.as_ref().map(pin_json), row.as_ref().map(pin_json));
        blocking(move || {
            let change = Change {
                at_ms: now_ms,
                actor: &actor_s,
                action: if r.is_some() {
                    "component.pin"
                } else {
                    "component.unpin"
                },
                target: &idc,
                before: b,
                after: a,
            };
            match &r {
                Some(r) => store.put_pin(r, &change),
                None => store.delete_pin(&idc, &change).map(|_| ()),
            }
        })
        .await?;
        let change = {
            let mut inner = self.lock();
            match &row {
                Some(r) => inner.pins.insert(id.to_owned(), r.clone()),
                None => inner.pins.remove(id),
            };
            let mono = self.mono();
            let c = inner.components.iter_mut().find(|c| c.spec.id == id);
            let change = c.and_then(|c| {
                let ch = c
                    .eval
                    .pin(mono, pin.as_ref().map(|(s, _)| status_level(*s)));
                if ch.is_some() {
                    c.updated_at_ms = now_ms;
                }
                ch.map(|ch| (c.spec.id.clone(), ch))
            });
            inner.dirty = true;
            change
        };
        let notify = if let Some((cid, ch)) = change {
            let store = self.store.clone();
            let row = change_row(&cid, now_ms, &ch, false);
            blocking(move || store.record_component_change(&row)).await?;
            Some((cid, ch))
        } else {
            None
        };
        let view = self.render(now);
        if let Some((cid, ch)) = notify {
            self.webhooks.notify(
                "component.update",
                levee_http::status_site::json::webhook_component_json(
                    &view,
                    &cid,
                    level_status(ch.from),
                    level_status(ch.to),
                    now_ms,
                ),
            );
        }
        self.components()
            .into_iter()
            .find(|c| c.id == id)
            .ok_or_else(|| StatusError::NoComponent(id.to_owned()))
    }

    fn check_components(&self, ids: &[String], field: &str) -> Result<(), StatusError> {
        let inner = self.lock();
        if !inner.config.enabled {
            return Err(StatusError::Disabled);
        }
        for (n, id) in ids.iter().enumerate() {
            if !inner.components.iter().any(|c| &c.spec.id == id) {
                let known: Vec<&str> = inner
                    .components
                    .iter()
                    .map(|c| c.spec.id.as_str())
                    .collect();
                return Err(StatusError::Invalid {
                    field: if ids.len() > 1 || field == "components" {
                        format!("{field}[{n}]")
                    } else {
                        field.to_owned()
                    },
                    detail: format!(
                        "no component `{id}`; the components are: {}",
                        known.join(", ")
                    ),
                });
            }
        }
        Ok(())
    }

    fn worst_of(&self, ids: &[String]) -> ComponentStatus {
        let inner = self.lock();
        inner
            .components
            .iter()
            .filter(|c| ids.contains(&c.spec.id))
            .map(|c| level_status(c.eval.level()))
            .max()
            .unwrap_or(ComponentStatus::Operational)
    }

    /// The components now.
    pub fn components(&self) -> Vec<ComponentInfo> {
        let inner = self.lock();
        let mono = self.mono();
        let now = SystemTime::now();
        inner
            .components
            .iter()
            .map(|c| ComponentInfo {
                id: c.spec.id.clone(),
                name: c.spec.name.clone(),
                group: c.spec.group.clone(),
                status: level_status(c.eval.level()),
                live: level_status(c.eval.live_level()),
                pin: inner.pins.get(&c.spec.id).cloned(),
                routes: c.routes.clone(),
                pools: c.pools.clone(),
                since: now
                    .checked_sub(mono.saturating_sub(c.eval.since()))
                    .unwrap_or(now),
            })
            .collect()
    }

    /// Component `id`'s recorded status changes, newest first (at most
    /// `limit`), each with the signal that caused it.
    pub async fn changes(
        &self,
        id: &str,
        limit: u32,
    ) -> Result<Vec<ComponentChangeRow>, StatusError> {
        self.check_components(&[id.to_owned()], "component")
            .map_err(|_| StatusError::NoComponent(id.to_owned()))?;
        let store = self.store.clone();
        let id = id.to_owned();
        blocking(move || store.component_changes(Some(&id), 0, limit)).await
    }

    /// Every incident kept, newest first.
    pub fn incidents(&self) -> Vec<IncidentView> {
        self.view(SystemTime::now()).incidents
    }

    /// The incident `id`.
    pub fn incident(&self, id: &str) -> Option<IncidentView> {
        self.incidents().into_iter().find(|i| i.id == id)
    }

    /// The page as it is at `now`.
    pub fn view(&self, now: SystemTime) -> PageView {
        let windows = self.control.windows();
        let inner = self.lock();
        view::build(&inner, &windows, now)
    }

    /// Renders the site and publishes it for the listeners; the view it
    /// rendered.
    fn render(&self, now: SystemTime) -> PageView {
        let view = self.view(now);
        let (enabled, on_traffic, max_age) = {
            let inner = self.lock();
            (
                inner.config.enabled,
                inner.config.on_traffic_listener,
                inner.config.max_age,
            )
        };
        if !enabled {
            self.site.publish(None);
            return view;
        }
        let docs = levee_http::status_site::render_site(&view)
            .into_iter()
            .map(|d| (d.path.to_owned(), d.content_type, d.body));
        self.site
            .publish(Some(StatusSite::new(docs, on_traffic, max_age)));
        let mut inner = self.lock();
        inner.dirty = false;
        inner.rendered_at = Some(Instant::now());
        view
    }

    /// Counts the minute in progress into the store (at shutdown).
    pub async fn flush(&self) -> Result<(), StatusError> {
        let rows: Vec<MinuteRow> = {
            let mut inner = self.lock();
            inner
                .components
                .iter_mut()
                .map(|c| {
                    let m = c.minute.clone();
                    c.minute.requests = 0;
                    c.minute.ok = 0;
                    m
                })
                .filter(|m| m.requests > 0 || m.maintenance || m.outage)
                .collect()
        };
        let store = self.store.clone();
        blocking(move || store.add_availability(&rows)).await
    }

    /// Where the site is published.
    pub fn site(&self) -> &SiteHandle {
        &self.site
    }
}

/// The routes and pools a component counts: its own routes and the pools
/// they use (primary and fallbacks); its own pools and the routes that use
/// them.
fn coverage(
    spec: &ComponentSpec,
    routes: &[levee_proxy::route::RouteSpec],
) -> (Vec<String>, Vec<String>) {
    let mut rs: Vec<String> = spec.routes.clone();
    let mut ps: Vec<String> = spec.pools.clone();
    for r in routes {
        if spec.routes.contains(&r.name) {
            for p in std::iter::once(&r.pool).chain(&r.fallback) {
                if !ps.contains(p) {
                    ps.push(p.clone());
                }
            }
        }
        let uses_own_pool =
            spec.pools.contains(&r.pool) || r.fallback.iter().any(|f| spec.pools.contains(f));
        if uses_own_pool && !rs.contains(&r.name) {
            rs.push(r.name.clone());
        }
    }
    (rs, ps)
}

/// The stored record of component `id`'s level change `ch` at `at_ms`
/// (`automatic`: decided from the signals, not pinned by an operator).
fn change_row(id: &str, at_ms: i64, ch: &LevelChange, automatic: bool) -> ComponentChangeRow {
    ComponentChangeRow {
        id: 0,
        component: id.to_owned(),
        at_ms,
        old_status: ch.from.as_str().to_owned(),
        new_status: ch.to.as_str().to_owned(),
        cause: ch.cause.clone(),
        automatic,
    }
}

/// An update Levee posts to `row`, in the incident's state.
fn levee_update(row: &IncidentRow, body: String, affected: String, now_ms: i64) -> UpdateRow {
    UpdateRow {
        id: new_id("upd_"),
        incident_id: row.id.clone(),
        status: row.status.clone(),
        body,
        author: LEVEE.to_owned(),
        created_at_ms: now_ms,
        affected,
    }
}

fn affected_json(spec: &ComponentSpec, from: ComponentStatus, to: ComponentStatus) -> String {
    serde_json::json!([{
        "id": spec.id, "name": spec.name,
        "old_status": from.as_str(), "new_status": to.as_str()
    }])
    .to_string()
}

fn incident_audit(r: &IncidentRow) -> serde_json::Value {
    serde_json::json!({
        "id": r.id, "name": r.name, "status": r.status, "impact": r.impact,
        "components": serde_json::from_str::<serde_json::Value>(&r.components).unwrap_or_default(),
        "automatic": r.automatic, "owner": r.owner,
    })
}

/// Midnight UTC of the day holding `ms`.
fn day_start(ms: i64) -> i64 {
    ms - ms.rem_euclid(86_400_000)
}

/// Runs a store call on a blocking thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StatusError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(StatusError::Store),
        Err(e) => Err(StatusError::Worker(e.to_string())),
    }
}
