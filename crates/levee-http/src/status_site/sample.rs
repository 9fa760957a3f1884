//! A rich view for the tests: groups, every component status but one, an
//! open and a resolved incident, maintenance in progress, upcoming and
//! completed, 90 days of varied uptime, and hostile names.

use super::model::*;
use super::when::DAY_MS;

/// 2026-12-05T09:00:00Z.
pub(crate) const NOW: i64 = 1_796_461_200_000;
const HOUR: i64 = 3_600_000;

/// 90 days ending today: ten without data, then mostly clean days with a
/// few bad ones, one maintenance-only day and one with nothing served.
pub(crate) fn uptime(seed: u64) -> Vec<DayUptime> {
    let today = NOW.div_euclid(DAY_MS) * DAY_MS;
    (0..90)
        .map(|i| {
            let day_start_ms = today - (89 - i) * DAY_MS;
            let (requests, ok, maintenance_minutes, outage_minutes) = match i {
                0..=9 => (0, 0, 0, 0),
                40 => (10_000, 9_000, 0, 90),
                50 => (10_000, 9_700, 0, 20),
                60 => (10_000, 9_950, 0, 0),
                70 => (0, 0, 120, 0),
                75 => (0, 0, 0, 1_440),
                _ => (12_345 + seed, 12_345 + seed, 0, 0),
            };
            DayUptime {
                day_start_ms,
                requests,
                ok,
                maintenance_minutes,
                outage_minutes,
            }
        })
        .collect()
}

fn component(
    id: &str,
    name: &str,
    group: Option<&str>,
    status: ComponentStatus,
    position: u32,
) -> ComponentView {
    ComponentView {
        id: id.into(),
        name: name.into(),
        description: format!("What {name} does"),
        group: group.map(Into::into),
        status,
        pinned: false,
        created_at_ms: NOW - 400 * DAY_MS,
        updated_at_ms: NOW - HOUR,
        position,
        uptime: uptime(u64::from(position)),
    }
}

/// The rich view.
pub(crate) fn rich() -> PageView {
    let mut api = component("api", "API", None, ComponentStatus::Operational, 1);
    api.description.clear();
    PageView {
        id: "levee".into(),
        name: "Example status".into(),
        url: "https://status.example.com/".into(),
        updated_at_ms: NOW - HOUR,
        now_ms: NOW,
        components: vec![
            api,
            component(
                "eu",
                "EU",
                Some("Regions"),
                ComponentStatus::PartialOutage,
                2,
            ),
            component(
                "web",
                "Website <script>alert(1)</script>",
                None,
                ComponentStatus::UnderMaintenance,
                3,
            ),
            component("us", "US", Some("Regions"), ComponentStatus::Operational, 4),
        ],
        incidents: vec![
            IncidentView {
                id: "inc_open".into(),
                name: "Errors on <b>EU</b> & \"friends\"".into(),
                status: IncidentStatus::Identified,
                impact: Impact::Major,
                created_at_ms: NOW - 2 * HOUR,
                updated_at_ms: NOW - HOUR,
                started_at_ms: NOW - 3 * HOUR,
                monitoring_at_ms: None,
                resolved_at_ms: None,
                components: vec!["eu".into(), "gone".into()],
                updates: vec![
                    UpdateView {
                        id: "upd_2".into(),
                        status: IncidentStatus::Identified,
                        body: "A pool is down; failing over.".into(),
                        created_at_ms: NOW - HOUR,
                        affected: vec![],
                    },
                    UpdateView {
                        id: "upd_1".into(),
                        status: IncidentStatus::Investigating,
                        body: "5xx from EU <img src=x onerror=alert(1)>".into(),
                        created_at_ms: NOW - 2 * HOUR,
                        affected: vec![AffectedComponent {
                            id: "eu".into(),
                            name: "EU".into(),
                            old_status: ComponentStatus::Operational,
                            new_status: ComponentStatus::PartialOutage,
                        }],
                    },
                ],
                automatic: true,
            },
            IncidentView {
                id: "inc_done".into(),
                name: "Slow API".into(),
                status: IncidentStatus::Resolved,
                impact: Impact::Minor,
                created_at_ms: NOW - 2 * DAY_MS,
                updated_at_ms: NOW - 2 * DAY_MS + 3 * HOUR,
                started_at_ms: NOW - 2 * DAY_MS,
                monitoring_at_ms: Some(NOW - 2 * DAY_MS + 2 * HOUR),
                resolved_at_ms: Some(NOW - 2 * DAY_MS + 3 * HOUR),
                components: vec!["api".into()],
                updates: vec![
                    UpdateView {
                        id: "upd_5".into(),
                        status: IncidentStatus::Resolved,
                        body: "Back to normal.".into(),
                        created_at_ms: NOW - 2 * DAY_MS + 3 * HOUR,
                        affected: vec![AffectedComponent {
                            id: "api".into(),
                            name: "API".into(),
                            old_status: ComponentStatus::DegradedPerformance,
                            new_status: ComponentStatus::Operational,
                        }],
                    },
                    UpdateView {
                        id: "upd_4".into(),
                        status: IncidentStatus::Monitoring,
                        body: "Fixed; watching.".into(),
                        created_at_ms: NOW - 2 * DAY_MS + 2 * HOUR,
                        affected: vec![],
                    },
                    UpdateView {
                        id: "upd_3".into(),
                        status: IncidentStatus::Investigating,
                        body: "Latency up.".into(),
                        created_at_ms: NOW - 2 * DAY_MS,
                        affected: vec![],
                    },
                ],
                automatic: false,
            },
            IncidentView {
                id: "inc_ancient".into(),
                name: "Long ago".into(),
                status: IncidentStatus::Resolved,
                impact: Impact::Critical,
                created_at_ms: NOW - 120 * DAY_MS,
                updated_at_ms: NOW - 120 * DAY_MS,
                started_at_ms: NOW - 120 * DAY_MS,
                monitoring_at_ms: None,
                resolved_at_ms: Some(NOW - 120 * DAY_MS),
                components: vec![],
                updates: vec![],
                automatic: true,
            },
        ],
        maintenances: vec![
            MaintenanceView {
                id: "win_done".into(),
                name: "Maintenance: database".into(),
                body: "Vacuum.".into(),
                status: MaintenanceStatus::Completed,
                scheduled_for_ms: NOW - 3 * DAY_MS,
                scheduled_until_ms: Some(NOW - 3 * DAY_MS + HOUR),
                created_at_ms: NOW - 10 * DAY_MS,
                updated_at_ms: NOW - 3 * DAY_MS + HOUR,
                components: vec!["api".into()],
            },
            MaintenanceView {
                id: "win_now".into(),
                name: "Maintenance: website".into(),
                body: "New <em>theme</em>.".into(),
                status: MaintenanceStatus::InProgress,
                scheduled_for_ms: NOW - HOUR,
                scheduled_until_ms: Some(NOW + HOUR),
                created_at_ms: NOW - DAY_MS,
                updated_at_ms: NOW - HOUR,
                components: vec!["web".into()],
            },
            MaintenanceView {
                id: "win_next".into(),
                name: "Maintenance: regions".into(),
                body: "Kernel upgrades.".into(),
                status: MaintenanceStatus::Scheduled,
                scheduled_for_ms: NOW + DAY_MS,
                scheduled_until_ms: None,
                created_at_ms: NOW - DAY_MS,
                updated_at_ms: NOW - DAY_MS,
                components: vec!["eu".into(), "us".into()],
            },
        ],
    }
}

/// A view with nothing on it.
pub(crate) fn empty() -> PageView {
    PageView {
        id: "p".into(),
        name: "Empty".into(),
        url: "https://status.example.com".into(),
        updated_at_ms: NOW,
        now_ms: NOW,
        components: vec![],
        incidents: vec![],
        maintenances: vec![],
    }
}
