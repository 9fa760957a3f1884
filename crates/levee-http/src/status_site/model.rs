//! What a status page shows, as plain data: the view the control plane
//! builds from its live state and its store, and every rendering (the
//! Statuspage v2 JSON documents, the HTML page, the Atom feed) reads.
//!
//! Times are Unix milliseconds (UTC). This module holds no logic beyond the
//! vocabulary's names and the page's rolled-up indicator.

/// A component's status, with Statuspage's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ComponentStatus {
    /// Working normally.
    Operational,
    /// A maintenance window is in force for what it covers.
    UnderMaintenance,
    /// Working, but shedding or slow for a sustained share of requests.
    DegradedPerformance,
    /// Some endpoints or pools down, or a share of requests failing.
    PartialOutage,
    /// Nothing served.
    MajorOutage,
}

impl ComponentStatus {
    /// Every status, in the order above.
    pub const ALL: [ComponentStatus; 5] = [
        ComponentStatus::Operational,
        ComponentStatus::UnderMaintenance,
        ComponentStatus::DegradedPerformance,
        ComponentStatus::PartialOutage,
        ComponentStatus::MajorOutage,
    ];

    /// Statuspage's name, e.g. `partial_outage`.
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentStatus::Operational => "operational",
            ComponentStatus::UnderMaintenance => "under_maintenance",
            ComponentStatus::DegradedPerformance => "degraded_performance",
            ComponentStatus::PartialOutage => "partial_outage",
            ComponentStatus::MajorOutage => "major_outage",
        }
    }

    /// The status named `s` (Statuspage's name).
    pub fn parse(s: &str) -> Option<ComponentStatus> {
        ComponentStatus::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// How people read it, e.g. "Partial outage".
    pub fn label(self) -> &'static str {
        match self {
            ComponentStatus::Operational => "Operational",
            ComponentStatus::UnderMaintenance => "Under maintenance",
            ComponentStatus::DegradedPerformance => "Degraded performance",
            ComponentStatus::PartialOutage => "Partial outage",
            ComponentStatus::MajorOutage => "Major outage",
        }
    }
}

/// An incident's state, with Statuspage's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IncidentStatus {
    /// Something is wrong; the cause is not known yet.
    Investigating,
    /// The cause is known; a fix is under way.
    Identified,
    /// A fix is in; watching that it holds.
    Monitoring,
    /// Over.
    Resolved,
}

impl IncidentStatus {
    /// Every state, in the order above.
    pub const ALL: [IncidentStatus; 4] = [
        IncidentStatus::Investigating,
        IncidentStatus::Identified,
        IncidentStatus::Monitoring,
        IncidentStatus::Resolved,
    ];

    /// Statuspage's name, e.g. `investigating`.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Investigating => "investigating",
            IncidentStatus::Identified => "identified",
            IncidentStatus::Monitoring => "monitoring",
            IncidentStatus::Resolved => "resolved",
        }
    }

    /// The state named `s`.
    pub fn parse(s: &str) -> Option<IncidentStatus> {
        IncidentStatus::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// How people read it, e.g. "Investigating".
    pub fn label(self) -> &'static str {
        match self {
            IncidentStatus::Investigating => "Investigating",
            IncidentStatus::Identified => "Identified",
            IncidentStatus::Monitoring => "Monitoring",
            IncidentStatus::Resolved => "Resolved",
        }
    }
}

/// An incident's impact, with Statuspage's names; also the page's
/// indicator (`status.indicator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Impact {
    /// No impact.
    None,
    /// Minor.
    Minor,
    /// Major.
    Major,
    /// Critical.
    Critical,
}

impl Impact {
    /// Every impact, in the order above.
    pub const ALL: [Impact; 4] = [Impact::None, Impact::Minor, Impact::Major, Impact::Critical];

    /// Statuspage's name, e.g. `major`.
    pub fn as_str(self) -> &'static str {
        match self {
            Impact::None => "none",
            Impact::Minor => "minor",
            Impact::Major => "major",
            Impact::Critical => "critical",
        }
    }

    /// The impact named `s`.
    pub fn parse(s: &str) -> Option<Impact> {
        Impact::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// How people read it, e.g. "Major".
    pub fn label(self) -> &'static str {
        match self {
            Impact::None => "None",
            Impact::Minor => "Minor",
            Impact::Major => "Major",
            Impact::Critical => "Critical",
        }
    }

    /// The impact a component in `status` has on its own: operational and
    /// maintenance none, degraded minor, partial major, major critical.
    pub fn of(status: ComponentStatus) -> Impact {
        match status {
            ComponentStatus::Operational | ComponentStatus::UnderMaintenance => Impact::None,
            ComponentStatus::DegradedPerformance => Impact::Minor,
            ComponentStatus::PartialOutage => Impact::Major,
            ComponentStatus::MajorOutage => Impact::Critical,
        }
    }
}

/// A scheduled maintenance's state, with Statuspage's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MaintenanceStatus {
    /// Not started yet.
    Scheduled,
    /// In force now.
    InProgress,
    /// Over.
    Completed,
}

impl MaintenanceStatus {
    /// Every state, in the order above.
    pub const ALL: [MaintenanceStatus; 3] = [
        MaintenanceStatus::Scheduled,
        MaintenanceStatus::InProgress,
        MaintenanceStatus::Completed,
    ];

    /// How people read it, e.g. "In progress".
    pub fn label(self) -> &'static str {
        match self {
            MaintenanceStatus::Scheduled => "Scheduled",
            MaintenanceStatus::InProgress => "In progress",
            MaintenanceStatus::Completed => "Completed",
        }
    }

    /// Statuspage's name, e.g. `in_progress`.
    pub fn as_str(self) -> &'static str {
        match self {
            MaintenanceStatus::Scheduled => "scheduled",
            MaintenanceStatus::InProgress => "in_progress",
            MaintenanceStatus::Completed => "completed",
        }
    }
}

/// The whole page at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct PageView {
    /// A stable id for the page (Statuspage's `page.id`).
    pub id: String,
    /// Its name, e.g. "Example status".
    pub name: String,
    /// Its public URL (the HTML page), absolute.
    pub url: String,
    /// When anything on it last changed.
    pub updated_at_ms: i64,
    /// When this view was built (the uptime bars end today, by this clock).
    pub now_ms: i64,
    /// The components, in display order.
    pub components: Vec<ComponentView>,
    /// Incidents, newest first (open ones and the history kept).
    pub incidents: Vec<IncidentView>,
    /// Scheduled maintenance (the maintenance windows), soonest first.
    pub maintenances: Vec<MaintenanceView>,
}

/// One component.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentView {
    /// Stable id (derived from its name).
    pub id: String,
    /// Its name.
    pub name: String,
    /// What it is, for people (may be empty).
    pub description: String,
    /// The group it is shown under, if any.
    pub group: Option<String>,
    /// Its status now.
    pub status: ComponentStatus,
    /// Whether an operator pinned that status.
    pub pinned: bool,
    /// When it was first seen.
    pub created_at_ms: i64,
    /// When its status last changed.
    pub updated_at_ms: i64,
    /// Position on the page, from 1.
    pub position: u32,
    /// One entry per day, oldest first, ending with today (90 by default;
    /// days before any record have zero counts).
    pub uptime: Vec<DayUptime>,
}

/// One day of a component's availability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayUptime {
    /// Midnight UTC starting the day.
    pub day_start_ms: i64,
    /// Requests answered outside maintenance.
    pub requests: u64,
    /// Of those, the ones not answered with a 5xx.
    pub ok: u64,
    /// Minutes spent in a maintenance window (shown apart; not downtime).
    pub maintenance_minutes: u32,
    /// Minutes in partial or major outage.
    pub outage_minutes: u32,
}

impl DayUptime {
    /// The share of requests answered without a 5xx, if any was answered.
    pub fn availability(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.ok as f64 / self.requests as f64)
    }
}

/// One incident.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentView {
    /// `inc_` + ULID.
    pub id: String,
    /// Its title.
    pub name: String,
    /// Its state now.
    pub status: IncidentStatus,
    /// Its impact.
    pub impact: Impact,
    /// When it was opened.
    pub created_at_ms: i64,
    /// When it last changed.
    pub updated_at_ms: i64,
    /// When the trouble started (may precede opening).
    pub started_at_ms: i64,
    /// When it entered `monitoring`, if it did.
    pub monitoring_at_ms: Option<i64>,
    /// When it was resolved, if it is.
    pub resolved_at_ms: Option<i64>,
    /// Ids of the components it affects.
    pub components: Vec<String>,
    /// Its updates, newest first.
    pub updates: Vec<UpdateView>,
    /// Whether Levee opened it (an operator's words replace its text).
    pub automatic: bool,
}

/// One update of an incident.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateView {
    /// `upd_` + ULID.
    pub id: String,
    /// The incident's state with this update.
    pub status: IncidentStatus,
    /// What it says.
    pub body: String,
    /// When it was posted.
    pub created_at_ms: i64,
    /// Component status changes it reports.
    pub affected: Vec<AffectedComponent>,
}

/// A component's change, as an incident update reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct AffectedComponent {
    /// The component's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Before.
    pub old_status: ComponentStatus,
    /// After.
    pub new_status: ComponentStatus,
}

/// One scheduled maintenance (a maintenance window).
#[derive(Debug, Clone, PartialEq)]
pub struct MaintenanceView {
    /// The window's id.
    pub id: String,
    /// Its title, e.g. "Maintenance: api".
    pub name: String,
    /// The operator's message.
    pub body: String,
    /// Scheduled, in progress or completed.
    pub status: MaintenanceStatus,
    /// When it starts.
    pub scheduled_for_ms: i64,
    /// When it ends (`None`: open-ended).
    pub scheduled_until_ms: Option<i64>,
    /// When it was created.
    pub created_at_ms: i64,
    /// When it last changed.
    pub updated_at_ms: i64,
    /// Ids of the components it covers.
    pub components: Vec<String>,
}

impl PageView {
    /// The page's rolled-up indicator: the worst of the unresolved
    /// incidents' impacts and of the components' own impacts.
    pub fn indicator(&self) -> Impact {
        let incidents = self
            .incidents
            .iter()
            .filter(|i| i.status != IncidentStatus::Resolved)
            .map(|i| i.impact);
        let components = self.components.iter().map(|c| Impact::of(c.status));
        incidents.chain(components).max().unwrap_or(Impact::None)
    }

    /// Whether a maintenance window is in force: a scheduled maintenance in
    /// progress, or a component under maintenance.
    pub fn in_maintenance(&self) -> bool {
        self.maintenances
            .iter()
            .any(|m| m.status == MaintenanceStatus::InProgress)
            || self
                .components
                .iter()
                .any(|c| c.status == ComponentStatus::UnderMaintenance)
    }

    /// Statuspage's `status.indicator`: [`PageView::indicator`]'s name, or
    /// `maintenance` when the only departure from normal is a window in
    /// force (Statuspage's fifth value: its documentation lists four, its
    /// pages serve this one with "Service Under Maintenance").
    pub fn indicator_name(&self) -> &'static str {
        match self.indicator() {
            Impact::None if self.in_maintenance() => "maintenance",
            other => other.as_str(),
        }
    }

    /// Statuspage's description of [`PageView::indicator`] ("All Systems
    /// Operational", "Minor Service Outage", "Partial System Outage",
    /// "Major System Outage"), or "Service Under Maintenance" when the only
    /// departure from normal is a window in force.
    pub fn description(&self) -> &'static str {
        match self.indicator() {
            Impact::None if self.in_maintenance() => "Service Under Maintenance",
            Impact::None => "All Systems Operational",
            Impact::Minor => "Minor Service Outage",
            Impact::Major => "Partial System Outage",
            Impact::Critical => "Major System Outage",
        }
    }
}
