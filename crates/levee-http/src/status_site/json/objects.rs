//! Statuspage's objects (page, status rollup, component, incident, its
//! updates, scheduled maintenance) built from the view's parts, with
//! Statuspage's field names in Statuspage's order. The documents in
//! [`super`] assemble them; this module must not decide which objects a
//! document lists.

use serde::Serialize;

use super::super::ids;
use super::super::layout::{self, Entry, Group};
use super::super::model::{
    ComponentStatus, ComponentView, IncidentView, MaintenanceStatus, MaintenanceView, PageView,
    UpdateView,
};
use super::super::when::{self, rfc3339};
use super::MAX_INCIDENTS;

#[derive(Serialize)]
pub(super) struct Page<'a> {
    id: &'a str,
    name: &'a str,
    url: &'a str,
    time_zone: &'static str,
    updated_at: String,
}

#[derive(Serialize)]
pub(super) struct Rollup {
    indicator: &'static str,
    description: &'static str,
}

#[derive(Serialize)]
pub(super) struct Component<'a> {
    id: &'a str,
    name: &'a str,
    status: &'static str,
    created_at: String,
    updated_at: String,
    position: u32,
    description: Option<&'a str>,
    showcase: bool,
    start_date: Option<String>,
    group_id: Option<String>,
    page_id: &'a str,
    group: bool,
    only_show_if_degraded: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    components: Option<Vec<&'a str>>,
}

#[derive(Serialize)]
pub(super) struct Affected<'a> {
    code: &'a str,
    name: &'a str,
    old_status: &'static str,
    new_status: &'static str,
}

#[derive(Serialize)]
pub(super) struct Update<'a> {
    id: String,
    status: &'static str,
    body: &'a str,
    incident_id: &'a str,
    created_at: String,
    updated_at: String,
    display_at: String,
    affected_components: Option<Vec<Affected<'a>>>,
    deliver_notifications: bool,
    custom_tweet: Option<&'a str>,
    tweet_id: Option<&'a str>,
}

#[derive(Serialize)]
pub(super) struct Incident<'a> {
    id: &'a str,
    name: &'a str,
    status: &'static str,
    created_at: String,
    updated_at: String,
    monitoring_at: Option<String>,
    resolved_at: Option<String>,
    impact: &'static str,
    shortlink: String,
    started_at: String,
    page_id: &'a str,
    incident_updates: Vec<Update<'a>>,
    components: Vec<Component<'a>>,
}

#[derive(Serialize)]
pub(super) struct Maintenance<'a> {
    #[serde(flatten)]
    incident: Incident<'a>,
    scheduled_for: String,
    scheduled_until: Option<String>,
}

pub(super) fn page(view: &PageView) -> Page<'_> {
    Page {
        id: &view.id,
        name: &view.name,
        url: &view.url,
        time_zone: "Etc/UTC",
        updated_at: rfc3339(view.updated_at_ms),
    }
}

pub(super) fn rollup(view: &PageView) -> Rollup {
    Rollup {
        indicator: view.indicator_name(),
        description: view.description(),
    }
}

/// A component's object; its `group_id` is its group's derived id, its
/// `position` where `entries` show it.
pub(super) fn component<'a>(
    view: &'a PageView,
    entries: &[Entry<'_>],
    c: &'a ComponentView,
) -> Component<'a> {
    Component {
        id: &c.id,
        name: &c.name,
        status: c.status.as_str(),
        created_at: rfc3339(c.created_at_ms),
        updated_at: rfc3339(c.updated_at_ms),
        position: layout::position(entries, &c.id).unwrap_or(c.position),
        description: (!c.description.is_empty()).then_some(c.description.as_str()),
        showcase: true,
        start_date: Some(when::date(c.created_at_ms)),
        group_id: c.group.as_deref().map(ids::group_id),
        page_id: &view.id,
        group: false,
        only_show_if_degraded: false,
        components: None,
    }
}

fn group_component<'a>(view: &'a PageView, g: &'a Group<'a>, position: u32) -> Component<'a> {
    Component {
        id: &g.id,
        name: g.name,
        status: g.status().as_str(),
        created_at: rfc3339(g.created_at_ms()),
        updated_at: rfc3339(g.updated_at_ms()),
        position,
        description: None,
        showcase: false,
        start_date: None,
        group_id: None,
        page_id: &view.id,
        group: true,
        only_show_if_degraded: false,
        components: Some(g.members.iter().map(|c| c.id.as_str()).collect()),
    }
}

/// Every component, groups before their members.
pub(super) fn components<'a>(view: &'a PageView, entries: &'a [Entry<'a>]) -> Vec<Component<'a>> {
    let mut out = Vec::with_capacity(view.components.len() + entries.len());
    for (n, e) in entries.iter().enumerate() {
        match e {
            Entry::Single(c) => out.push(component(view, entries, c)),
            Entry::Group(g) => {
                let position = u32::try_from(n + 1).unwrap_or(u32::MAX);
                out.push(group_component(view, g, position));
                out.extend(g.members.iter().map(|c| component(view, entries, c)));
            }
        }
    }
    out
}

/// The components `ids` name, as component objects (unknown ids skipped).
pub(super) fn components_named<'a>(view: &'a PageView, ids: &[String]) -> Vec<Component<'a>> {
    let entries = layout::entries(view);
    ids.iter()
        .filter_map(|id| view.components.iter().find(|c| &c.id == id))
        .map(|c| component(view, &entries, c))
        .collect()
}

/// The page's URL with the incident's (or maintenance's) id as fragment,
/// where the HTML page shows it.
fn shortlink(view: &PageView, id: &str) -> String {
    format!("{}#{}", view.url, ids::percent(id))
}

fn update<'a>(incident_id: &'a str, u: &'a UpdateView) -> Update<'a> {
    let at = rfc3339(u.created_at_ms);
    let affected: Vec<Affected<'a>> = u
        .affected
        .iter()
        .map(|a| Affected {
            code: &a.id,
            name: &a.name,
            old_status: a.old_status.as_str(),
            new_status: a.new_status.as_str(),
        })
        .collect();
    Update {
        id: u.id.clone(),
        status: u.status.as_str(),
        body: &u.body,
        incident_id,
        created_at: at.clone(),
        updated_at: at.clone(),
        display_at: at,
        affected_components: (!affected.is_empty()).then_some(affected),
        deliver_notifications: true,
        custom_tweet: None,
        tweet_id: None,
    }
}

pub(super) fn incident<'a>(view: &'a PageView, i: &'a IncidentView) -> Incident<'a> {
    let mut updates: Vec<&UpdateView> = i.updates.iter().collect();
    updates.sort_by_key(|u| std::cmp::Reverse(u.created_at_ms));
    Incident {
        id: &i.id,
        name: &i.name,
        status: i.status.as_str(),
        created_at: rfc3339(i.created_at_ms),
        updated_at: rfc3339(i.updated_at_ms),
        monitoring_at: i.monitoring_at_ms.map(rfc3339),
        resolved_at: i.resolved_at_ms.map(rfc3339),
        impact: i.impact.as_str(),
        shortlink: shortlink(view, &i.id),
        started_at: rfc3339(i.started_at_ms),
        page_id: &view.id,
        incident_updates: updates.into_iter().map(|u| update(&i.id, u)).collect(),
        components: components_named(view, &i.components),
    }
}

pub(super) fn maintenance<'a>(view: &'a PageView, m: &'a MaintenanceView) -> Maintenance<'a> {
    let updated = rfc3339(m.updated_at_ms);
    let update = Update {
        id: format!("upd_{}", m.id),
        status: m.status.as_str(),
        body: &m.body,
        incident_id: &m.id,
        created_at: updated.clone(),
        updated_at: updated.clone(),
        display_at: updated.clone(),
        affected_components: None,
        deliver_notifications: true,
        custom_tweet: None,
        tweet_id: None,
    };
    let scheduled_for = rfc3339(m.scheduled_for_ms);
    Maintenance {
        incident: Incident {
            id: &m.id,
            name: &m.name,
            status: m.status.as_str(),
            created_at: rfc3339(m.created_at_ms),
            updated_at: updated.clone(),
            monitoring_at: None,
            resolved_at: (m.status == MaintenanceStatus::Completed).then_some(updated),
            impact: "maintenance",
            shortlink: shortlink(view, &m.id),
            started_at: scheduled_for.clone(),
            page_id: &view.id,
            incident_updates: vec![update],
            components: components_named(view, &m.components),
        },
        scheduled_for,
        scheduled_until: m.scheduled_until_ms.map(rfc3339),
    }
}

/// The view's incidents, newest first, keeping those `keep` accepts.
pub(super) fn incidents_where<'a>(
    view: &'a PageView,
    keep: impl Fn(&IncidentView) -> bool,
) -> Vec<Incident<'a>> {
    let mut list: Vec<&IncidentView> = view.incidents.iter().filter(|i| keep(i)).collect();
    list.sort_by_key(|i| std::cmp::Reverse(i.created_at_ms));
    list.into_iter()
        .take(MAX_INCIDENTS)
        .map(|i| incident(view, i))
        .collect()
}

/// The view's maintenances in `statuses`, soonest first.
pub(super) fn maintenances_in<'a>(
    view: &'a PageView,
    statuses: &[MaintenanceStatus],
) -> Vec<Maintenance<'a>> {
    let mut list: Vec<&MaintenanceView> = view
        .maintenances
        .iter()
        .filter(|m| statuses.contains(&m.status))
        .collect();
    list.sort_by_key(|m| m.scheduled_for_ms);
    list.into_iter().map(|m| maintenance(view, m)).collect()
}

/// A component the view no longer has, described by its id alone (for a
/// webhook about it): named by its id, in `status` since `at_ms`.
pub(super) fn unknown_component<'a>(
    view: &'a PageView,
    id: &'a str,
    status: ComponentStatus,
    at_ms: i64,
) -> Component<'a> {
    Component {
        id,
        name: id,
        status: status.as_str(),
        created_at: rfc3339(at_ms),
        updated_at: rfc3339(at_ms),
        position: 0,
        description: None,
        showcase: true,
        start_date: Some(when::date(at_ms)),
        group_id: None,
        page_id: &view.id,
        group: false,
        only_show_if_degraded: false,
        components: None,
    }
}
