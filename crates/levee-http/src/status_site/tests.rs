use proptest::prelude::*;

use super::*;
use crate::status_site::sample;

#[test]
fn the_site_has_every_document_at_a_relative_path() {
    let site = render_site(&sample::rich());
    let paths: Vec<(&str, &str)> = site.iter().map(|d| (d.path, d.content_type)).collect();
    assert_eq!(
        paths,
        [
            ("", "text/html; charset=utf-8"),
            ("api/v2/status.json", "application/json"),
            ("api/v2/summary.json", "application/json"),
            ("api/v2/components.json", "application/json"),
            ("api/v2/incidents.json", "application/json"),
            ("api/v2/incidents/unresolved.json", "application/json"),
            ("api/v2/scheduled-maintenances.json", "application/json"),
            (
                "api/v2/scheduled-maintenances/upcoming.json",
                "application/json"
            ),
            (
                "api/v2/scheduled-maintenances/active.json",
                "application/json"
            ),
            ("history.atom", "application/atom+xml"),
        ]
    );
    for d in &site {
        assert!(!d.path.starts_with('/'), "{}", d.path);
        if d.content_type == JSON {
            serde_json::from_str::<serde_json::Value>(&d.body).expect("JSON");
        }
    }
}

#[test]
fn times_at_the_ends_of_i64_do_not_panic() {
    for t in [i64::MIN, i64::MIN + 1, -1, 0, i64::MAX - 1, i64::MAX] {
        let mut view = sample::rich();
        view.now_ms = t;
        view.updated_at_ms = t;
        for c in &mut view.components {
            c.created_at_ms = t;
            c.updated_at_ms = t;
            for d in &mut c.uptime {
                d.day_start_ms = t;
                d.requests = u64::MAX;
                d.ok = u64::MAX;
            }
        }
        for i in &mut view.incidents {
            i.created_at_ms = t;
            i.started_at_ms = t;
            i.resolved_at_ms = Some(t);
            for u in &mut i.updates {
                u.created_at_ms = t;
            }
        }
        for m in &mut view.maintenances {
            m.scheduled_for_ms = t;
            m.scheduled_until_ms = Some(t);
        }
        let site = render_site(&view);
        let status: serde_json::Value = serde_json::from_str(&site[1].body).expect("status.json");
        let updated = status["page"]["updated_at"].as_str().expect("a time");
        assert!(
            updated == "9999-12-31T23:59:59.999Z"
                || updated == "0000-01-01T00:00:00.000Z"
                || updated.starts_with("19"),
            "{updated}"
        );
        roxmltree::Document::parse(&site[9].body).expect("feed parses");
    }
}

fn status() -> impl Strategy<Value = ComponentStatus> {
    prop::sample::select(ComponentStatus::ALL.to_vec())
}

fn incident_status() -> impl Strategy<Value = IncidentStatus> {
    prop::sample::select(IncidentStatus::ALL.to_vec())
}

fn day() -> impl Strategy<Value = DayUptime> {
    (
        any::<i64>(),
        any::<u64>(),
        any::<u64>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(
            |(day_start_ms, requests, ok, maintenance_minutes, outage_minutes)| DayUptime {
                day_start_ms,
                requests,
                ok,
                maintenance_minutes,
                outage_minutes,
            },
        )
}

fn component() -> impl Strategy<Value = ComponentView> {
    (
        (any::<String>(), any::<String>(), any::<String>()),
        prop::option::of(prop::sample::select(vec!["A", "B", "<g>"])),
        status(),
        (any::<bool>(), any::<i64>(), any::<i64>(), any::<u32>()),
        prop::collection::vec(day(), 0..4),
    )
        .prop_map(
            |(
                (id, name, description),
                group,
                status,
                (pinned, created, updated, position),
                uptime,
            )| {
                ComponentView {
                    id,
                    name,
                    description,
                    group: group.map(String::from),
                    status,
                    pinned,
                    created_at_ms: created,
                    updated_at_ms: updated,
                    position,
                    uptime,
                }
            },
        )
}

fn update() -> impl Strategy<Value = UpdateView> {
    (
        any::<String>(),
        incident_status(),
        any::<String>(),
        any::<i64>(),
        status(),
        status(),
    )
        .prop_map(
            |(id, status, body, created_at_ms, old_status, new_status)| UpdateView {
                affected: vec![AffectedComponent {
                    id: id.clone(),
                    name: body.clone(),
                    old_status,
                    new_status,
                }],
                id,
                status,
                body,
                created_at_ms,
            },
        )
}

fn incident() -> impl Strategy<Value = IncidentView> {
    (
        (any::<String>(), any::<String>(), incident_status()),
        prop::sample::select(Impact::ALL.to_vec()),
        (any::<i64>(), any::<i64>(), any::<i64>()),
        (any::<Option<i64>>(), any::<Option<i64>>()),
        prop::collection::vec(any::<String>(), 0..3),
        prop::collection::vec(update(), 0..3),
    )
        .prop_map(
            |(
                (id, name, status),
                impact,
                (created, updated, started),
                (monitoring, resolved),
                components,
                updates,
            )| {
                IncidentView {
                    id,
                    name,
                    status,
                    impact,
                    created_at_ms: created,
                    updated_at_ms: updated,
                    started_at_ms: started,
                    monitoring_at_ms: monitoring,
                    resolved_at_ms: resolved,
                    components,
                    updates,
                    automatic: false,
                }
            },
        )
}

fn maintenance() -> impl Strategy<Value = MaintenanceView> {
    (
        (any::<String>(), any::<String>(), any::<String>()),
        prop::sample::select(MaintenanceStatus::ALL.to_vec()),
        (
            any::<i64>(),
            any::<Option<i64>>(),
            any::<i64>(),
            any::<i64>(),
        ),
        prop::collection::vec(any::<String>(), 0..3),
    )
        .prop_map(
            |((id, name, body), status, (from, until, created, updated), components)| {
                MaintenanceView {
                    id,
                    name,
                    body,
                    status,
                    scheduled_for_ms: from,
                    scheduled_until_ms: until,
                    created_at_ms: created,
                    updated_at_ms: updated,
                    components,
                }
            },
        )
}

fn view() -> impl Strategy<Value = PageView> {
    (
        (any::<String>(), any::<String>(), any::<String>()),
        (any::<i64>(), any::<i64>()),
        prop::collection::vec(component(), 0..4),
        prop::collection::vec(incident(), 0..3),
        prop::collection::vec(maintenance(), 0..3),
    )
        .prop_map(
            |((id, name, url), (updated_at_ms, now_ms), components, incidents, maintenances)| {
                PageView {
                    id,
                    name,
                    url,
                    updated_at_ms,
                    now_ms,
                    components,
                    incidents,
                    maintenances,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn render_site_never_panics_and_stays_well_formed(view in view()) {
        let site = render_site(&view);
        prop_assert_eq!(site.len(), 10);
        for d in &site {
            if d.content_type == JSON {
                prop_assert!(serde_json::from_str::<serde_json::Value>(&d.body).is_ok());
            }
        }
        prop_assert!(roxmltree::Document::parse(&site[9].body).is_ok(), "{}", site[9].body);
        prop_assert!(!site[0].body.contains("<script"));
        for c in &view.components {
            let _ = json::webhook_component_json(&view, &c.id, c.status, ComponentStatus::MajorOutage, view.now_ms);
        }
        for i in &view.incidents {
            prop_assert!(json::webhook_incident_json(&view, &i.id).is_some());
        }
    }
}
