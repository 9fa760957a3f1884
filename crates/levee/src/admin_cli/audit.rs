//! `levee audit [--limit N]`: who changed what through the admin API.
//!
//! Each entry becomes one row, its `before`/`after` objects summed up in a
//! CHANGE column (`ends_at 02:10:00Z → 02:20:00Z`); `--json` gives the
//! objects whole. This module must not hide an entry, nor reorder them: the
//! API's order (newest first) is the log's.

use serde_json::Value;

use super::failure::Failure;
use super::model::{AuditEntry, AuditList};
use super::table::{Table, truncate};
use super::{Ctx, times};

/// The longest CHANGE cell before it is cut.
const CHANGE_WIDTH: usize = 72;

/// Fields that change with every update and say nothing by themselves.
const BOOKKEEPING: &[&str] = &["updated_at", "state"];

/// Runs `levee audit`.
pub(crate) async fn run(ctx: &Ctx, limit: Option<u16>) -> Result<(), Failure> {
    let path = match limit {
        Some(n) => format!("/v1/audit?limit={n}"),
        None => "/v1/audit".to_owned(),
    };
    let answer = ctx.client.get(&path).await?;
    ctx.show(&answer, |list: AuditList| table(&list.entries))
}

/// Entries as a table.
fn table(entries: &[AuditEntry]) -> String {
    if entries.is_empty() {
        return "no changes recorded\n".to_owned();
    }
    let mut t = Table::new(&["id", "at", "actor", "action", "target", "change"]);
    for e in entries {
        t.row(vec![
            e.id.as_ref().map(plain).unwrap_or_default(),
            times::show(&e.at),
            e.actor.clone(),
            e.action.clone(),
            e.target.clone(),
            truncate(&change(&e.before, &e.after), CHANGE_WIDTH),
        ]);
    }
    t.render()
}

/// What an entry changed, in a few words.
fn change(before: &Value, after: &Value) -> String {
    match (before, after) {
        (Value::Null, Value::Null) => String::new(),
        (Value::Null, new) => created(new),
        (_, Value::Null) => "removed".to_owned(),
        (Value::Object(old), Value::Object(new)) => {
            let mut parts = Vec::new();
            for (key, value) in new {
                let was = old.get(key).unwrap_or(&Value::Null);
                if BOOKKEEPING.contains(&key.as_str()) || was == value {
                    continue;
                }
                if key == "update" {
                    // An incident update: what was said.
                    if let Some(body) = value["body"].as_str() {
                        parts.push(format!("said {body:?}"));
                    }
                    continue;
                }
                parts.push(format!("{key} {} → {}", plain(was), plain(value)));
            }
            parts.join(", ")
        }
        (old, new) => format!("{} → {}", plain(old), plain(new)),
    }
}

/// A new object summed up: a window's scope, end and message; a drain's pools.
fn created(new: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(kind) = new["scope"]["kind"].as_str() {
        match new["scope"]["name"].as_str() {
            Some(name) => parts.push(format!("{kind} {name}")),
            None => parts.push(kind.to_owned()),
        }
        match &new["ends_at"] {
            Value::Null => parts.push("open-ended".to_owned()),
            end => parts.push(format!("until {}", plain(end))),
        }
    }
    if let Some(message) = new["message"].as_str().filter(|m| !m.is_empty()) {
        parts.push(format!("{message:?}"));
    }
    if let Some(pools) = new["pools"].as_array() {
        let names: Vec<String> = pools.iter().map(plain).collect();
        parts.push(format!("pools {}", names.join(",")));
    }
    // An incident: its title, state and impact; a pin: the status shown.
    if let Some(name) = new["name"].as_str() {
        parts.push(format!("{name:?}"));
    }
    if let Some(status) = new["status"].as_str() {
        parts.push(status.to_owned());
    }
    if let Some(impact) = new["impact"].as_str() {
        parts.push(format!("impact {impact}"));
    }
    if let Some(note) = new["note"].as_str().filter(|n| !n.is_empty()) {
        parts.push(format!("{note:?}"));
    }
    parts.join(", ")
}

/// A JSON value without quotes around strings, times to the second.
fn plain(v: &Value) -> String {
    match v {
        Value::Null => "none".to_owned(),
        Value::String(s) => times::show(s),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changes_in_a_few_words() {
        let before = json!({"id": "w_1", "state": "active", "ends_at": "2026-12-01T02:10:00Z",
                            "message": "m", "updated_at": "2026-12-01T02:00:00Z"});
        let after = json!({"id": "w_1", "state": "active", "ends_at": "2026-12-01T02:20:00.5Z",
                           "message": "m", "updated_at": "2026-12-01T02:01:00Z"});
        assert_eq!(
            change(&before, &after),
            "ends_at 2026-12-01T02:10:00Z → 2026-12-01T02:20:00Z"
        );
        assert_eq!(change(&before, &Value::Null), "removed");
        assert_eq!(
            change(
                &Value::Null,
                &json!({"scope": {"kind": "route", "name": "api"}, "ends_at": null, "message": "Database upgrade"})
            ),
            "route api, open-ended, \"Database upgrade\""
        );
        assert_eq!(
            change(
                &Value::Null,
                &json!({"endpoint": "127.0.0.1:8081", "pools": ["default"]})
            ),
            "pools default"
        );
    }

    #[test]
    fn entries_in_a_table() {
        let list: AuditList = serde_json::from_value(json!({"entries": [
            {"id": 12, "at": "2026-11-30T17:00:00Z", "actor": "alice", "action": "window.create",
             "target": "w_1", "before": null,
             "after": {"scope": {"kind": "all"}, "ends_at": "2026-11-30T17:10:00Z", "message": ""}},
            {"id": 11, "at": "2026-11-30T16:00:00Z", "actor": "bob", "action": "drain.remove",
             "target": "127.0.0.1:8081", "before": {"endpoint": "127.0.0.1:8081"}, "after": null}
        ]}))
        .expect("list");
        assert_eq!(
            table(&list.entries),
            "ID  AT                    ACTOR  ACTION         TARGET          CHANGE\n\
             12  2026-11-30T17:00:00Z  alice  window.create  w_1             all, until 2026-11-30T17:10:00Z\n\
             11  2026-11-30T16:00:00Z  bob    drain.remove   127.0.0.1:8081  removed\n"
        );
        assert_eq!(table(&[]), "no changes recorded\n");
    }
}
