//! What the page shows: the [`PageView`] built from the status page's state,
//! the store's history and the maintenance windows.
//!
//! This module must not decide a status or write anything.

use std::time::SystemTime;

use levee_http::status_site::{
    AffectedComponent, ComponentStatus, ComponentView, DayUptime, Impact, IncidentStatus,
    IncidentView, MaintenanceStatus, MaintenanceView, PageView, UpdateView,
};
use levee_proxy::control::Scope;

use super::{Inner, day_start, level_status};
use crate::config::resolve::component_id;
use crate::control::{WindowRecord, WindowState, to_ms};

/// Days of uptime shown per component.
pub(super) const DAYS: i64 = 90;

const DAY_MS: i64 = 86_400_000;

/// The page at `now`.
pub(super) fn build(inner: &Inner, windows: &[WindowRecord], now: SystemTime) -> PageView {
    let now_ms = to_ms(now);
    let today = day_start(now_ms);
    let first_day = today - (DAYS - 1) * DAY_MS;
    let components: Vec<ComponentView> = inner
        .components
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut uptime: Vec<DayUptime> = (0..DAYS)
                .map(|d| DayUptime {
                    day_start_ms: first_day + d * DAY_MS,
                    requests: 0,
                    ok: 0,
                    maintenance_minutes: 0,
                    outage_minutes: 0,
                })
                .collect();
            let slot = |day: i64| usize::try_from((day - first_day) / DAY_MS).ok();
            for d in inner.days.iter().filter(|d| d.component == c.spec.id) {
                if let Some(u) = slot(d.day_start_ms).and_then(|s| uptime.get_mut(s)) {
                    u.requests += d.requests;
                    u.ok += d.ok;
                    u.maintenance_minutes += d.maintenance_minutes;
                    u.outage_minutes += d.outage_minutes;
                }
            }
            // The minute in progress, not yet in the store.
            if let Some(u) = uptime.last_mut() {
                u.requests += c.minute.requests;
                u.ok += c.minute.ok;
            }
            ComponentView {
                id: c.spec.id.clone(),
                name: c.spec.name.clone(),
                description: c.spec.description.clone(),
                group: c.spec.group.clone(),
                status: level_status(c.eval.level()),
                pinned: inner.pins.contains_key(&c.spec.id),
                created_at_ms: c.created_at_ms,
                updated_at_ms: c.updated_at_ms,
                position: u32::try_from(i + 1).unwrap_or(u32::MAX),
                uptime,
            }
        })
        .collect();
    let incidents: Vec<IncidentView> = inner
        .incidents
        .iter()
        .map(|(row, updates)| IncidentView {
            id: row.id.clone(),
            name: row.name.clone(),
            status: IncidentStatus::parse(&row.status).unwrap_or(IncidentStatus::Investigating),
            impact: Impact::parse(&row.impact).unwrap_or(Impact::Minor),
            created_at_ms: row.created_at_ms,
            updated_at_ms: row.updated_at_ms,
            started_at_ms: row.started_at_ms,
            monitoring_at_ms: row.monitoring_at_ms,
            resolved_at_ms: row.resolved_at_ms,
            components: serde_json::from_str(&row.components).unwrap_or_default(),
            updates: updates
                .iter()
                .map(|u| UpdateView {
                    id: u.id.clone(),
                    status: IncidentStatus::parse(&u.status)
                        .unwrap_or(IncidentStatus::Investigating),
                    body: u.body.clone(),
                    created_at_ms: u.created_at_ms,
                    affected: affected(&u.affected),
                })
                .collect(),
            automatic: row.automatic && row.owner.is_none(),
        })
        .collect();
    let history_from = now_ms - i64::try_from(inner.config.history.as_millis()).unwrap_or(i64::MAX);
    let maintenances: Vec<MaintenanceView> = windows
        .iter()
        .filter(|w| w.window.ends_at.is_none_or(|e| to_ms(e) >= history_from))
        .map(|w| {
            let covered: Vec<String> = inner
                .components
                .iter()
                .filter(|c| match &w.window.scope {
                    Scope::All => true,
                    Scope::Route(r) => c.routes.iter().any(|x| **x == **r),
                    Scope::Pool(p) => c.pools.iter().any(|x| **x == **p),
                })
                .map(|c| c.spec.id.clone())
                .collect();
            let what = match &w.window.scope {
                Scope::All => "every service".to_owned(),
                Scope::Route(r) => names(inner, &covered).unwrap_or_else(|| r.to_string()),
                Scope::Pool(p) => names(inner, &covered).unwrap_or_else(|| p.to_string()),
            };
            MaintenanceView {
                id: w.window.id.to_string(),
                name: format!("Maintenance: {what}"),
                body: w.window.message.to_string(),
                status: match w.state(now) {
                    WindowState::Scheduled => MaintenanceStatus::Scheduled,
                    WindowState::Active => MaintenanceStatus::InProgress,
                    WindowState::Ended => MaintenanceStatus::Completed,
                },
                scheduled_for_ms: to_ms(w.window.starts_at),
                scheduled_until_ms: w.window.ends_at.map(to_ms),
                created_at_ms: to_ms(w.created_at),
                updated_at_ms: to_ms(w.updated_at),
                components: covered,
            }
        })
        .collect();
    let updated_at_ms = components
        .iter()
        .map(|c| c.updated_at_ms)
        .chain(incidents.iter().map(|i| i.updated_at_ms))
        .chain(maintenances.iter().map(|m| m.updated_at_ms))
        .max()
        .unwrap_or(now_ms);
    let url = match (&inner.config.url, inner.config.on_traffic_listener) {
        (Some(u), _) => u.clone(),
        (None, true) => levee_proxy::status::STATUS_PATH.to_owned() + "/",
        (None, false) => "/".to_owned(),
    };
    PageView {
        id: component_id(&inner.config.name),
        name: inner.config.name.clone(),
        url,
        updated_at_ms,
        now_ms,
        components,
        incidents,
        maintenances,
    }
}

fn names(inner: &Inner, ids: &[String]) -> Option<String> {
    let names: Vec<&str> = inner
        .components
        .iter()
        .filter(|c| ids.contains(&c.spec.id))
        .map(|c| c.spec.name.as_str())
        .collect();
    (!names.is_empty()).then(|| names.join(", "))
}

fn affected(json: &str) -> Vec<AffectedComponent> {
    let Ok(serde_json::Value::Array(items)) = serde_json::from_str::<serde_json::Value>(json)
    else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|v| {
            let s = |k: &str| v.get(k).and_then(|x| x.as_str());
            Some(AffectedComponent {
                id: s("id")?.to_owned(),
                name: s("name")?.to_owned(),
                old_status: ComponentStatus::parse(s("old_status")?)?,
                new_status: ComponentStatus::parse(s("new_status")?)?,
            })
        })
        .collect()
}
