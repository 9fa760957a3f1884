use serde_json::{Value, json};

use super::schema_check::{check, enum_values, schema};
use super::*;
use crate::status_site::model::{ComponentStatus, Impact, IncidentStatus};
use crate::status_site::sample::{self, NOW};

fn parse(s: &str) -> Value {
    serde_json::from_str(s).expect("valid JSON")
}

/// Every document, with the `$defs` entry it must satisfy.
fn documents(view: &PageView) -> Vec<(&'static str, &'static str, String)> {
    [
        ("status.json", "status", status_json(view)),
        ("summary.json", "summary", summary_json(view)),
        ("components.json", "components", components_json(view)),
        ("incidents.json", "incidents", incidents_json(view)),
        ("unresolved.json", "incidents", unresolved_json(view)),
        (
            "scheduled.json",
            "scheduled_maintenances",
            scheduled_json(view),
        ),
        (
            "upcoming.json",
            "scheduled_maintenances",
            upcoming_json(view),
        ),
        ("active.json", "scheduled_maintenances", active_json(view)),
        (
            "webhook component",
            "webhook_component_update",
            webhook_component_json(
                view,
                "eu",
                ComponentStatus::Operational,
                ComponentStatus::PartialOutage,
                NOW,
            ),
        ),
        (
            "webhook unknown component",
            "webhook_component_update",
            webhook_component_json(
                view,
                "removed",
                ComponentStatus::MajorOutage,
                ComponentStatus::Operational,
                NOW,
            ),
        ),
    ]
    .into_iter()
    .chain(
        view.incidents
            .iter()
            .filter_map(|i| webhook_incident_json(view, &i.id))
            .map(|body| ("webhook incident", "webhook_incident", body)),
    )
    .collect()
}

#[test]
fn every_document_satisfies_the_schema_strictly() {
    let schema = schema();
    for view in [sample::rich(), sample::empty()] {
        for (name, def, body) in documents(&view) {
            let errors = check(&schema, def, &parse(&body), true);
            assert!(errors.is_empty(), "{name}: {errors:#?}");
        }
    }
}

#[test]
fn the_schema_rejects_what_statuspage_would_not_serve() {
    let schema = schema();
    let mut doc = parse(&summary_json(&sample::rich()));
    doc["components"][0]["status"] = json!("fine");
    doc["incidents"][0]
        .as_object_mut()
        .expect("object")
        .remove("shortlink");
    doc["status"]["indicator"] = json!("green");
    let errors = check(&schema, "summary", &doc, true);
    assert_eq!(errors.len(), 3, "{errors:#?}");
    let mut extra = parse(&status_json(&sample::rich()));
    extra["page"]["colour"] = json!("red");
    assert_eq!(check(&schema, "status", &extra, true).len(), 1);
    assert!(check(&schema, "status", &extra, false).is_empty());
}

#[test]
fn every_enum_value_rendered_is_in_the_schema() {
    let values = enum_values(&schema());
    let has = |v: &str| values.iter().any(|e| e == v);
    for s in ComponentStatus::ALL {
        assert!(has(s.as_str()), "{s:?}");
    }
    for s in IncidentStatus::ALL {
        assert!(has(s.as_str()), "{s:?}");
    }
    for i in Impact::ALL {
        assert!(has(i.as_str()), "{i:?}");
    }
    for m in MaintenanceStatus::ALL {
        assert!(has(m.as_str()), "{m:?}");
    }
    assert!(
        has("maintenance"),
        "the indicator's and the impact's fifth value"
    );
    // And every enumerated member of every rendered document.
    fn walk(v: &Value, has: &dyn Fn(&str) -> bool) {
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    let enumerated = [
                        "status",
                        "indicator",
                        "impact",
                        "old_status",
                        "new_status",
                        "status_indicator",
                    ];
                    if let (true, Some(s)) = (enumerated.contains(&k.as_str()), child.as_str()) {
                        assert!(has(s), "{k}: {s}");
                    }
                    walk(child, has);
                }
            }
            Value::Array(a) => a.iter().for_each(|c| walk(c, has)),
            _ => {}
        }
    }
    for (_, _, body) in documents(&sample::rich()) {
        walk(&parse(&body), &has);
    }
}

#[test]
fn status_is_the_page_and_the_rollup() {
    let doc = parse(&status_json(&sample::rich()));
    assert_eq!(
        doc,
        json!({
            "page": {
                "id": "levee",
                "name": "Example status",
                "url": "https://status.example.com/",
                "time_zone": "Etc/UTC",
                "updated_at": "2026-12-05T08:00:00.000Z"
            },
            "status": {"indicator": "major", "description": "Partial System Outage"}
        })
    );
}

#[test]
fn indicator_rolls_up_incidents_components_and_maintenance() {
    let mut view = sample::empty();
    let rollup = |v: &PageView| parse(&status_json(v))["status"].clone();
    assert_eq!(
        rollup(&view),
        json!({"indicator": "none", "description": "All Systems Operational"})
    );
    view.maintenances = sample::rich().maintenances;
    assert_eq!(
        rollup(&view),
        json!({"indicator": "maintenance", "description": "Service Under Maintenance"})
    );
    view.components = sample::rich().components;
    view.components[1].status = ComponentStatus::DegradedPerformance;
    assert_eq!(
        rollup(&view),
        json!({"indicator": "minor", "description": "Minor Service Outage"})
    );
    view.incidents = sample::rich().incidents;
    view.incidents[0].impact = Impact::Critical;
    assert_eq!(
        rollup(&view),
        json!({"indicator": "critical", "description": "Major System Outage"})
    );
    view.incidents[0].status = IncidentStatus::Resolved;
    assert_eq!(
        rollup(&view)["indicator"],
        "minor",
        "resolved ones do not count"
    );
}

#[test]
fn components_list_groups_before_their_members() {
    let view = sample::rich();
    let doc = parse(&components_json(&view));
    let list = doc["components"].as_array().expect("list");
    let ids: Vec<&str> = list
        .iter()
        .map(|c| c["id"].as_str().unwrap_or("?"))
        .collect();
    let group = crate::status_site::ids::group_id("Regions");
    assert_eq!(ids, ["api", group.as_str(), "eu", "us", "web"]);
    assert_eq!(
        list[0],
        json!({
            "id": "api",
            "name": "API",
            "status": "operational",
            "created_at": "2025-10-31T09:00:00.000Z",
            "updated_at": "2026-12-05T08:00:00.000Z",
            "position": 1,
            "description": null,
            "showcase": true,
            "start_date": "2025-10-31",
            "group_id": null,
            "page_id": "levee",
            "group": false,
            "only_show_if_degraded": false
        })
    );
    let g = &list[1];
    assert_eq!(g["group"], true);
    assert_eq!(g["name"], "Regions");
    assert_eq!(g["status"], "partial_outage", "the worst member's");
    assert_eq!(g["components"], json!(["eu", "us"]));
    assert_eq!(g["group_id"], Value::Null);
    assert_eq!(g["position"], 2);
    assert_eq!(list[2]["position"], 1, "members count within their group");
    assert_eq!(list[3]["position"], 2);
    assert_eq!(list[4]["position"], 3);
    for member in &list[2..4] {
        assert_eq!(member["group_id"], json!(group));
        assert_eq!(member["group"], false);
        assert!(member.get("components").is_none());
    }
    assert_eq!(list[2]["description"], "What EU does");
    assert_eq!(list[4]["name"], "Website <script>alert(1)</script>");
    assert_eq!(list[4]["status"], "under_maintenance");
}

#[test]
fn incidents_carry_updates_newest_first_and_their_components() {
    let view = sample::rich();
    let doc = parse(&incidents_json(&view));
    let list = doc["incidents"].as_array().expect("list");
    let ids: Vec<&str> = list
        .iter()
        .map(|i| i["id"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(ids, ["inc_open", "inc_done", "inc_ancient"]);
    let open = &list[0];
    assert_eq!(open["name"], "Errors on <b>EU</b> & \"friends\"");
    assert_eq!(open["status"], "identified");
    assert_eq!(open["impact"], "major");
    assert_eq!(open["created_at"], "2026-12-05T07:00:00.000Z");
    assert_eq!(open["started_at"], "2026-12-05T06:00:00.000Z");
    assert_eq!(open["monitoring_at"], Value::Null);
    assert_eq!(open["resolved_at"], Value::Null);
    assert_eq!(open["shortlink"], "https://status.example.com/#inc_open");
    assert_eq!(open["page_id"], "levee");
    let comps = open["components"].as_array().expect("components");
    assert_eq!(comps.len(), 1, "the unknown id is skipped");
    assert_eq!(comps[0]["id"], "eu");
    assert_eq!(
        comps[0]["group_id"],
        json!(crate::status_site::ids::group_id("Regions"))
    );
    let updates = open["incident_updates"].as_array().expect("updates");
    assert_eq!(updates.len(), 2);
    assert_eq!(
        updates[1],
        json!({
            "id": "upd_1",
            "status": "investigating",
            "body": "5xx from EU <img src=x onerror=alert(1)>",
            "incident_id": "inc_open",
            "created_at": "2026-12-05T07:00:00.000Z",
            "updated_at": "2026-12-05T07:00:00.000Z",
            "display_at": "2026-12-05T07:00:00.000Z",
            "affected_components": [
                {"code": "eu", "name": "EU", "old_status": "operational", "new_status": "partial_outage"}
            ],
            "deliver_notifications": true,
            "custom_tweet": null,
            "tweet_id": null
        })
    );
    assert_eq!(updates[0]["affected_components"], Value::Null);
    let done = &list[1];
    assert_eq!(done["monitoring_at"], "2026-12-03T11:00:00.000Z");
    assert_eq!(done["resolved_at"], "2026-12-03T12:00:00.000Z");
    let unresolved = parse(&unresolved_json(&view));
    let ids: Vec<&str> = unresolved["incidents"]
        .as_array()
        .expect("list")
        .iter()
        .map(|i| i["id"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(ids, ["inc_open"]);
}

#[test]
fn incidents_json_keeps_the_fifty_newest() {
    let mut view = sample::rich();
    let template = view.incidents[1].clone();
    view.incidents = (0..60)
        .map(|n| {
            let mut i = template.clone();
            i.id = format!("inc_{n}");
            i.created_at_ms = NOW - 1000 * n;
            i
        })
        .collect();
    view.incidents.reverse();
    let doc = parse(&incidents_json(&view));
    let list = doc["incidents"].as_array().expect("list");
    assert_eq!(list.len(), MAX_INCIDENTS);
    assert_eq!(list[0]["id"], "inc_0");
    assert_eq!(list[49]["id"], "inc_49");
}

#[test]
fn maintenances_are_scheduled_maintenances() {
    let view = sample::rich();
    let all = parse(&scheduled_json(&view));
    let ids = |doc: &Value| -> Vec<String> {
        doc["scheduled_maintenances"]
            .as_array()
            .expect("list")
            .iter()
            .map(|m| m["id"].as_str().unwrap_or("?").to_owned())
            .collect()
    };
    assert_eq!(ids(&all), ["win_next", "win_now", "win_done"]);
    assert_eq!(ids(&parse(&upcoming_json(&view))), ["win_next"]);
    assert_eq!(ids(&parse(&active_json(&view))), ["win_now"]);
    let summary = parse(&summary_json(&view));
    assert_eq!(ids(&summary), ["win_now", "win_next"]);
    let next = &all["scheduled_maintenances"][0];
    assert_eq!(next["status"], "scheduled");
    assert_eq!(next["impact"], "maintenance");
    assert_eq!(next["scheduled_for"], "2026-12-06T09:00:00.000Z");
    assert_eq!(next["scheduled_until"], Value::Null, "open-ended");
    assert_eq!(next["resolved_at"], Value::Null);
    let comps: Vec<&str> = next["components"]
        .as_array()
        .expect("components")
        .iter()
        .map(|c| c["id"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(comps, ["eu", "us"]);
    let updates = next["incident_updates"].as_array().expect("updates");
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0]["body"], "Kernel upgrades.");
    assert_eq!(updates[0]["status"], "scheduled");
    assert_eq!(updates[0]["incident_id"], "win_next");
    let now = &all["scheduled_maintenances"][1];
    assert_eq!(now["status"], "in_progress");
    assert_eq!(now["scheduled_until"], "2026-12-05T10:00:00.000Z");
    let done = &all["scheduled_maintenances"][2];
    assert_eq!(done["status"], "completed");
    assert_eq!(done["resolved_at"], "2026-12-02T10:00:00.000Z");
}

#[test]
fn summary_has_every_part() {
    let view = sample::rich();
    let doc = parse(&summary_json(&view));
    let keys: Vec<&String> = doc.as_object().expect("object").keys().collect();
    assert_eq!(
        keys.len(),
        5,
        "page, components, incidents, scheduled_maintenances, status"
    );
    assert_eq!(
        doc["components"],
        parse(&components_json(&view))["components"]
    );
    assert_eq!(
        doc["incidents"],
        parse(&unresolved_json(&view))["incidents"]
    );
    assert_eq!(doc["status"], parse(&status_json(&view))["status"]);
}

#[test]
fn webhooks_have_statuspage_shape() {
    let view = sample::rich();
    let doc = parse(&webhook_component_json(
        &view,
        "eu",
        ComponentStatus::Operational,
        ComponentStatus::PartialOutage,
        NOW,
    ));
    assert_eq!(
        doc["meta"],
        json!({"unsubscribe": null, "documentation": WEBHOOK_DOCUMENTATION})
    );
    assert_eq!(
        doc["page"],
        json!({"id": "levee", "status_indicator": "major", "status_description": "Partial System Outage"})
    );
    let update = &doc["component_update"];
    assert_eq!(update["created_at"], "2026-12-05T09:00:00.000Z");
    assert_eq!(update["old_status"], "operational");
    assert_eq!(update["new_status"], "partial_outage");
    assert_eq!(update["component_id"], "eu");
    assert!(update["id"].as_str().expect("id").starts_with("cu_"));
    assert_eq!(doc["component"]["id"], "eu");
    assert_eq!(doc["component"]["name"], "EU");
    let again = parse(&webhook_component_json(
        &view,
        "eu",
        ComponentStatus::Operational,
        ComponentStatus::PartialOutage,
        NOW,
    ));
    assert_eq!(again["component_update"]["id"], update["id"], "stable id");
    let incident = parse(&webhook_incident_json(&view, "inc_done").expect("known"));
    assert_eq!(
        incident["incident"],
        parse(&incidents_json(&view))["incidents"][1]
    );
    assert_eq!(webhook_incident_json(&view, "nope"), None);
}
