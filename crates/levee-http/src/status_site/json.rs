//! The Atlassian Statuspage v2 public API, as documents: `status.json`,
//! `summary.json`, `components.json`, `incidents.json`,
//! `incidents/unresolved.json`, `scheduled-maintenances.json` (and its
//! `upcoming` and `active` lists), and the two webhook payloads Statuspage
//! sends subscribers (a component's change, an incident's).
//!
//! Field names, enums and shapes are Statuspage's, so tools written for
//! Statuspage pages (dashboards, bots, the `statuspage.io` npm client) read
//! a Levee page unchanged; `docs/statuspage-v2.schema.json` states them as
//! a JSON Schema and the tests hold the documents to it. Times are
//! Statuspage's RFC 3339 UTC with milliseconds (`2026-12-05T09:00:00.000Z`).
//!
//! Where Levee's view differs from Statuspage's model, the choice is made
//! here: a group (Levee names groups only) becomes a group component with
//! an id derived from its name, listed before its members; a maintenance
//! window becomes a scheduled maintenance with one update carrying its
//! message; an empty description is `null`. This module renders; it must
//! not decide what is on the page (the control plane builds the
//! [`PageView`]) nor read the clock.

use serde::Serialize;

use super::ids;
use super::layout;
use super::model::{ComponentStatus, IncidentStatus, MaintenanceStatus, PageView};
use super::when::rfc3339;
use objects::{
    Component, Incident, Maintenance, Page, Rollup, component, components, incident,
    incidents_where, maintenances_in, page, rollup,
};

/// How many incidents `incidents.json` lists, as Statuspage does.
pub const MAX_INCIDENTS: usize = 50;
/// How many scheduled maintenances `scheduled-maintenances.json` lists, as
/// Statuspage does.
pub const MAX_MAINTENANCES: usize = 50;
/// Statuspage's webhook documentation, which every webhook's `meta` names.
pub const WEBHOOK_DOCUMENTATION: &str =
    "https://support.atlassian.com/statuspage/docs/enable-webhook-notifications/";

fn render(value: &impl Serialize) -> String {
    // Serializing these structs cannot fail: every key is a string and
    // every value a string, number, bool, null or a list of those.
    serde_json::to_string(value).unwrap_or_else(|_| String::from("{}"))
}

/// `api/v2/status.json`: the page and its rolled-up status.
pub fn status_json(view: &PageView) -> String {
    #[derive(Serialize)]
    struct Doc<'a> {
        page: Page<'a>,
        status: Rollup,
    }
    render(&Doc {
        page: page(view),
        status: rollup(view),
    })
}

/// `api/v2/summary.json`: the page, every component, the unresolved
/// incidents, the scheduled maintenances upcoming or in progress, and the
/// rolled-up status.
pub fn summary_json(view: &PageView) -> String {
    #[derive(Serialize)]
    struct Doc<'a> {
        page: Page<'a>,
        components: Vec<Component<'a>>,
        incidents: Vec<Incident<'a>>,
        scheduled_maintenances: Vec<Maintenance<'a>>,
        status: Rollup,
    }
    let entries = layout::entries(view);
    render(&Doc {
        page: page(view),
        components: components(view, &entries),
        incidents: incidents_where(view, |i| i.status != IncidentStatus::Resolved),
        scheduled_maintenances: maintenances_in(
            view,
            &[MaintenanceStatus::InProgress, MaintenanceStatus::Scheduled],
        ),
        status: rollup(view),
    })
}

/// `api/v2/components.json`: every component, groups before their members.
pub fn components_json(view: &PageView) -> String {
    #[derive(Serialize)]
    struct Doc<'a> {
        page: Page<'a>,
        components: Vec<Component<'a>>,
    }
    let entries = layout::entries(view);
    render(&Doc {
        page: page(view),
        components: components(view, &entries),
    })
}

#[derive(Serialize)]
struct IncidentsDoc<'a> {
    page: Page<'a>,
    incidents: Vec<Incident<'a>>,
}

/// `api/v2/incidents.json`: the [`MAX_INCIDENTS`] newest incidents,
/// resolved or not.
pub fn incidents_json(view: &PageView) -> String {
    render(&IncidentsDoc {
        page: page(view),
        incidents: incidents_where(view, |_| true),
    })
}

/// `api/v2/incidents/unresolved.json`: incidents investigating, identified
/// or monitoring, newest first.
pub fn unresolved_json(view: &PageView) -> String {
    render(&IncidentsDoc {
        page: page(view),
        incidents: incidents_where(view, |i| i.status != IncidentStatus::Resolved),
    })
}

#[derive(Serialize)]
struct MaintenancesDoc<'a> {
    page: Page<'a>,
    scheduled_maintenances: Vec<Maintenance<'a>>,
}

/// `api/v2/scheduled-maintenances.json`: the [`MAX_MAINTENANCES`] latest
/// scheduled maintenances in any state, latest start first.
pub fn scheduled_json(view: &PageView) -> String {
    let mut all = maintenances_in(view, &MaintenanceStatus::ALL);
    all.reverse();
    all.truncate(MAX_MAINTENANCES);
    render(&MaintenancesDoc {
        page: page(view),
        scheduled_maintenances: all,
    })
}

/// `api/v2/scheduled-maintenances/upcoming.json`: those not started yet,
/// soonest first.
pub fn upcoming_json(view: &PageView) -> String {
    render(&MaintenancesDoc {
        page: page(view),
        scheduled_maintenances: maintenances_in(view, &[MaintenanceStatus::Scheduled]),
    })
}

/// `api/v2/scheduled-maintenances/active.json`: those in progress.
pub fn active_json(view: &PageView) -> String {
    render(&MaintenancesDoc {
        page: page(view),
        scheduled_maintenances: maintenances_in(view, &[MaintenanceStatus::InProgress]),
    })
}

#[derive(Serialize)]
struct Meta {
    unsubscribe: Option<&'static str>,
    documentation: &'static str,
}

const META: Meta = Meta {
    unsubscribe: None,
    documentation: WEBHOOK_DOCUMENTATION,
};

#[derive(Serialize)]
struct WebhookPage<'a> {
    id: &'a str,
    status_indicator: &'static str,
    status_description: &'static str,
}

fn webhook_page(view: &PageView) -> WebhookPage<'_> {
    WebhookPage {
        id: &view.id,
        status_indicator: view.indicator_name(),
        status_description: view.description(),
    }
}

/// The webhook Statuspage sends when component `component_id` goes from
/// `old` to `new` at `at_ms`. The `component` member is the component as
/// the view has it; a component the view does not have (removed since) is
/// described by its id alone, with `new` as its status.
pub fn webhook_component_json(
    view: &PageView,
    component_id: &str,
    old: ComponentStatus,
    new: ComponentStatus,
    at_ms: i64,
) -> String {
    #[derive(Serialize)]
    struct ComponentUpdate<'a> {
        created_at: String,
        new_status: &'static str,
        old_status: &'static str,
        id: String,
        component_id: &'a str,
    }
    #[derive(Serialize)]
    struct Doc<'a> {
        meta: Meta,
        page: WebhookPage<'a>,
        component_update: ComponentUpdate<'a>,
        component: Component<'a>,
    }
    let entries = layout::entries(view);
    let component = match view.components.iter().find(|c| c.id == component_id) {
        Some(c) => component(view, &entries, c),
        None => objects::unknown_component(view, component_id, new, at_ms),
    };
    let key = format!("{component_id}\u{0}{at_ms}\u{0}{}", new.as_str());
    render(&Doc {
        meta: META,
        page: webhook_page(view),
        component_update: ComponentUpdate {
            created_at: rfc3339(at_ms),
            new_status: new.as_str(),
            old_status: old.as_str(),
            id: format!("cu_{}", ids::base36(ids::fnv1a(key.as_bytes()))),
            component_id,
        },
        component,
    })
}

/// The webhook Statuspage sends when incident `incident_id` is created or
/// updated, or `None` if the view has no such incident.
pub fn webhook_incident_json(view: &PageView, incident_id: &str) -> Option<String> {
    #[derive(Serialize)]
    struct Doc<'a> {
        meta: Meta,
        page: WebhookPage<'a>,
        incident: Incident<'a>,
    }
    let found = view.incidents.iter().find(|i| i.id == incident_id)?;
    Some(render(&Doc {
        meta: META,
        page: webhook_page(view),
        incident: incident(view, found),
    }))
}

mod objects;

#[cfg(test)]
mod schema_check;
#[cfg(test)]
mod tests;
