//! Admin API request bodies: JSON in, validated drafts out.
//!
//! Every field is checked by hand rather than by a derived deserializer, so
//! that a `422` can name the exact field (`scope.name`, `bypass.networks[1]`)
//! and say what was expected, and can report every bad field at once.
//! Unknown fields are errors: a typo must not be silently ignored.
//!
//! This module must not look at the state (whether a route exists, whether
//! a time is in the past): [`crate::control`] decides that.

use std::time::{Duration, SystemTime};

use http::HeaderName;
use levee_proxy::cidr::Cidr;
use levee_proxy::control::{Scope, token_digest};
use serde_json::{Map, Value};

use crate::control::{BypassDraft, End, FieldError, WindowDraft, WindowPatch};

/// The longest message accepted, in characters.
pub const MAX_MESSAGE: usize = 1000;

/// Reads the fields of one JSON object, collecting errors.
struct Fields<'a> {
    map: &'a Map<String, Value>,
    prefix: &'a str,
    errors: &'a mut Vec<FieldError>,
}

impl<'a> Fields<'a> {
    fn new(
        value: &'a Value,
        prefix: &'a str,
        errors: &'a mut Vec<FieldError>,
    ) -> Option<Fields<'a>> {
        match value {
            Value::Object(map) => Some(Fields {
                map,
                prefix,
                errors,
            }),
            _ => {
                let name = if prefix.is_empty() { "body" } else { prefix };
                errors.push(FieldError::new(name, "must be a JSON object"));
                None
            }
        }
    }

    fn name(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    fn error(&mut self, key: &str, detail: impl Into<String>) {
        let name = self.name(key);
        self.errors.push(FieldError::new(name, detail));
    }

    fn only(&mut self, known: &[&str]) {
        let unknown: Vec<String> = self
            .map
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .cloned()
            .collect();
        for k in unknown {
            self.error(
                &k,
                format!("unknown field; expected one of: {}", known.join(", ")),
            );
        }
    }

    /// `None`: absent. `Some(None)`: JSON null.
    fn get(&self, key: &str) -> Option<Option<&'a Value>> {
        self.map
            .get(key)
            .map(|v| if v.is_null() { None } else { Some(v) })
    }

    fn string(&mut self, key: &str) -> Option<&'a str> {
        match self.get(key)? {
            Some(Value::String(s)) => Some(s),
            _ => {
                self.error(key, "must be a string");
                None
            }
        }
    }

    /// An RFC 3339 time; `Some(None)` for an explicit null when `nullable`.
    fn time(&mut self, key: &str, nullable: bool) -> Option<Option<SystemTime>> {
        match self.get(key)? {
            None if nullable => Some(None),
            Some(Value::String(s)) => match levee_http::maintenance::parse_rfc3339(s) {
                Some(t) => Some(Some(t)),
                None => {
                    self.error(
                        key,
                        format!("`{s}` is not an RFC 3339 time such as 2026-12-01T02:00:00Z"),
                    );
                    None
                }
            },
            _ => {
                self.error(
                    key,
                    "must be an RFC 3339 time string such as 2026-12-01T02:00:00Z",
                );
                None
            }
        }
    }

    fn integer(&mut self, key: &str, min: i64, max: i64) -> Option<i64> {
        let v = self.get(key)?;
        match v.and_then(Value::as_i64) {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.error(key, format!("must be an integer from {min} to {max}"));
                None
            }
        }
    }
}

/// The most seconds a duration may be (about 10 years).
const MAX_SECONDS: i64 = 10 * 366 * 24 * 3600;

/// Validates a `POST /v1/windows` body.
pub fn window_draft(body: &Value) -> Result<WindowDraft, Vec<FieldError>> {
    let mut errors = Vec::new();
    let Some(mut f) = Fields::new(body, "", &mut errors) else {
        return Err(errors);
    };
    f.only(&[
        "scope",
        "starts_at",
        "ends_at",
        "duration_seconds",
        "message",
        "bypass",
    ]);
    let scope = match f.get("scope") {
        None => Some(Scope::All),
        Some(None) => {
            f.error(
                "scope",
                "must be an object, not null (leave it out for all)",
            );
            None
        }
        Some(Some(v)) => scope(v, f.errors),
    };
    let starts_at = f.time("starts_at", false).flatten();
    let ends_at = f.time("ends_at", false).flatten();
    let duration = f.integer("duration_seconds", 1, MAX_SECONDS);
    let end = match (ends_at, duration) {
        (Some(_), Some(_)) => {
            f.error(
                "duration_seconds",
                "give ends_at or duration_seconds, not both",
            );
            End::Open
        }
        (Some(t), None) => End::At(t),
        (None, Some(secs)) => End::After(Duration::from_secs(secs.unsigned_abs())),
        (None, None) => End::Open,
    };
    let message = message(&mut f);
    let bypass = match f.get("bypass") {
        None => Some(BypassDraft::default()),
        Some(None) => {
            f.error(
                "bypass",
                "must be an object, not null (leave it out for none)",
            );
            None
        }
        Some(Some(v)) => bypass(v, f.errors),
    };
    match (scope, bypass) {
        (Some(scope), Some(bypass)) if errors.is_empty() => Ok(WindowDraft {
            scope,
            starts_at,
            end,
            message: message.unwrap_or_default(),
            bypass,
        }),
        _ => Err(errors),
    }
}

/// Validates a `PATCH /v1/windows/{id}` body.
pub fn window_patch(body: &Value) -> Result<WindowPatch, Vec<FieldError>> {
    let mut errors = Vec::new();
    let Some(mut f) = Fields::new(body, "", &mut errors) else {
        return Err(errors);
    };
    f.only(&[
        "starts_at",
        "ends_at",
        "extend_seconds",
        "message",
        "bypass",
    ]);
    let mut patch = WindowPatch {
        starts_at: f.time("starts_at", false).flatten(),
        ends_at: f.time("ends_at", true),
        extend_seconds: f.integer("extend_seconds", -MAX_SECONDS, MAX_SECONDS),
        message: message(&mut f),
        bypass: None,
    };
    if patch.ends_at.is_some() && patch.extend_seconds.is_some() {
        f.error("extend_seconds", "give ends_at or extend_seconds, not both");
    }
    match f.get("bypass") {
        None => {}
        Some(None) => f.error(
            "bypass",
            "must be an object, not null (send {} for no bypass)",
        ),
        Some(Some(v)) => patch.bypass = bypass(v, f.errors),
    }
    if f.map.is_empty() {
        f.error(
            "body",
            "nothing to change: give starts_at, ends_at, extend_seconds, message or bypass",
        );
    }
    if errors.is_empty() {
        Ok(patch)
    } else {
        Err(errors)
    }
}

fn message(f: &mut Fields<'_>) -> Option<String> {
    let m = f.string("message")?;
    if m.chars().count() > MAX_MESSAGE {
        f.error(
            "message",
            format!("must be at most {MAX_MESSAGE} characters"),
        );
        return None;
    }
    Some(m.to_owned())
}

fn scope(v: &Value, errors: &mut Vec<FieldError>) -> Option<Scope> {
    let mut f = Fields::new(v, "scope", errors)?;
    f.only(&["kind", "name"]);
    let kind = f.string("kind");
    let name = f.string("name");
    match (kind, name) {
        (Some("all"), None) => Some(Scope::All),
        (Some("all"), Some(_)) => {
            f.error("name", "must be absent when kind is all");
            None
        }
        (Some("route" | "pool"), None) => {
            f.error("name", "is required when kind is route or pool");
            None
        }
        (Some(_), Some("")) => {
            f.error("name", "must not be empty");
            None
        }
        (Some("route"), Some(n)) => Some(Scope::Route(n.into())),
        (Some("pool"), Some(n)) => Some(Scope::Pool(n.into())),
        (Some(other), _) => {
            f.error(
                "kind",
                format!("`{other}` is not a scope: expected all, route or pool"),
            );
            None
        }
        (None, _) => {
            if f.get("kind").is_none() {
                f.error("kind", "is required: all, route or pool");
            }
            None
        }
    }
}

fn bypass(v: &Value, errors: &mut Vec<FieldError>) -> Option<BypassDraft> {
    let before = errors.len();
    let mut f = Fields::new(v, "bypass", errors)?;
    f.only(&["header", "token", "networks"]);
    let mut out = BypassDraft::default();
    if let Some(h) = f.string("header") {
        match HeaderName::from_bytes(h.as_bytes()) {
            Ok(name) => out.header = name,
            Err(_) => f.error("header", format!("`{h}` is not a valid header name")),
        }
    }
    if let Some(t) = f.string("token") {
        match levee_proxy::control::check_token(t) {
            Ok(()) => out.token_sha256 = Some(token_digest(t)),
            Err(e) => f.error("token", e),
        }
    }
    match f.get("networks") {
        None => {}
        Some(Some(Value::Array(items))) => {
            for (i, item) in items.iter().enumerate() {
                let key = format!("networks[{i}]");
                match item.as_str().map(Cidr::parse) {
                    Some(Ok(net)) => out.networks.push(net),
                    Some(Err(e)) => f.error(&key, e),
                    None => f.error(&key, "must be a string such as 10.0.0.0/8"),
                }
            }
        }
        Some(_) => f.error("networks", "must be an array of CIDR strings"),
    }
    (errors.len() == before).then_some(out)
}

/// The longest incident title accepted, in characters.
pub const MAX_TITLE: usize = 200;

/// The longest incident update accepted, in characters.
pub const MAX_BODY_TEXT: usize = 10_000;

impl Fields<'_> {
    /// A non-empty string of at most `max` characters.
    fn text(&mut self, key: &str, max: usize) -> Option<String> {
        let s = self.string(key)?.trim().to_owned();
        if s.is_empty() {
            self.error(key, "must not be empty");
            None
        } else if s.chars().count() > max {
            self.error(key, format!("must be at most {max} characters"));
            None
        } else {
            Some(s)
        }
    }

    /// One of Statuspage's names for an enum.
    fn named<T: Copy>(
        &mut self,
        key: &str,
        parse: fn(&str) -> Option<T>,
        names: &[&str],
    ) -> Option<T> {
        let s = self.string(key)?;
        let v = parse(s);
        if v.is_none() {
            self.error(key, format!("`{s}` is not one of: {}", names.join(", ")));
        }
        v
    }

    /// An array of component ids.
    fn ids(&mut self, key: &str) -> Option<Vec<String>> {
        match self.get(key)? {
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                for (i, v) in items.iter().enumerate() {
                    match v.as_str() {
                        Some(s) if !s.is_empty() => out.push(s.to_owned()),
                        _ => {
                            let k = format!("{key}[{i}]");
                            self.error(&k, "must be a component id (a string)");
                        }
                    }
                }
                Some(out)
            }
            _ => {
                self.error(key, "must be an array of component ids");
                None
            }
        }
    }
}

const INCIDENT_STATES: &[&str] = &["investigating", "identified", "monitoring", "resolved"];
const IMPACTS: &[&str] = &["none", "minor", "major", "critical"];

/// Validates a `POST /v1/incidents` body.
pub fn incident_draft(body: &Value) -> Result<crate::status::IncidentDraft, Vec<FieldError>> {
    use levee_http::status_site::{Impact, IncidentStatus};
    let mut errors = Vec::new();
    let Some(mut f) = Fields::new(body, "", &mut errors) else {
        return Err(errors);
    };
    f.only(&["name", "status", "impact", "body", "components"]);
    let name = match f.get("name") {
        None => {
            f.error("name", "is required: the incident's title");
            None
        }
        Some(_) => f.text("name", MAX_TITLE),
    };
    let body_text = match f.get("body") {
        None => {
            f.error("body", "is required: what people should know now");
            None
        }
        Some(_) => f.text("body", MAX_BODY_TEXT),
    };
    let status = f
        .named("status", IncidentStatus::parse, INCIDENT_STATES)
        .unwrap_or(IncidentStatus::Investigating);
    let impact = f.named("impact", Impact::parse, IMPACTS);
    let components = f.ids("components").unwrap_or_default();
    match (name, body_text) {
        (Some(name), Some(body)) if errors.is_empty() => Ok(crate::status::IncidentDraft {
            name,
            status,
            impact,
            body,
            components,
        }),
        _ => Err(errors),
    }
}

/// Validates a `PATCH /v1/incidents/{id}` body.
pub fn incident_patch(body: &Value) -> Result<crate::status::IncidentPatch, Vec<FieldError>> {
    use levee_http::status_site::{Impact, IncidentStatus};
    let mut errors = Vec::new();
    let Some(mut f) = Fields::new(body, "", &mut errors) else {
        return Err(errors);
    };
    f.only(&["name", "status", "impact", "body", "components"]);
    let patch = crate::status::IncidentPatch {
        name: f.text("name", MAX_TITLE),
        status: f.named("status", IncidentStatus::parse, INCIDENT_STATES),
        impact: f.named("impact", Impact::parse, IMPACTS),
        body: f.text("body", MAX_BODY_TEXT),
        components: f.ids("components"),
    };
    if f.map.is_empty() {
        f.error(
            "body",
            "nothing to change: give name, status, impact, body or components",
        );
    }
    if errors.is_empty() {
        Ok(patch)
    } else {
        Err(errors)
    }
}

/// Validates a `PUT /v1/components/{id}/pin` body: the status to show and
/// an optional note.
pub fn pin(
    body: &Value,
) -> Result<(levee_http::status_site::ComponentStatus, String), Vec<FieldError>> {
    use levee_http::status_site::ComponentStatus;
    let mut errors = Vec::new();
    let Some(mut f) = Fields::new(body, "", &mut errors) else {
        return Err(errors);
    };
    f.only(&["status", "note"]);
    let status = match f.get("status") {
        None => {
            f.error("status", "is required: the status to show");
            None
        }
        Some(_) => f.named(
            "status",
            ComponentStatus::parse,
            &[
                "operational",
                "degraded_performance",
                "partial_outage",
                "major_outage",
                "under_maintenance",
            ],
        ),
    };
    let note = match f.get("note") {
        None | Some(None) => String::new(),
        Some(Some(_)) => match f.string("note") {
            Some(n) if n.chars().count() > MAX_MESSAGE => {
                f.error("note", format!("must be at most {MAX_MESSAGE} characters"));
                String::new()
            }
            Some(n) => n.to_owned(),
            None => String::new(),
        },
    };
    match status {
        Some(s) if errors.is_empty() => Ok((s, note)),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields(errs: Vec<FieldError>) -> Vec<String> {
        errs.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_full_draft_is_read() {
        let d = window_draft(&json!({
            "scope": {"kind": "route", "name": "api"},
            "starts_at": "2026-12-01T02:00:00Z",
            "duration_seconds": 600,
            "message": "Database upgrade",
            "bypass": {"header": "x-ops", "token": "0123456789abcdef", "networks": ["10.0.0.0/8"]}
        }))
        .expect("valid");
        assert_eq!(d.scope, Scope::Route("api".into()));
        assert!(matches!(d.end, End::After(t) if t == Duration::from_secs(600)));
        assert_eq!(d.bypass.header.as_str(), "x-ops");
        assert_eq!(
            d.bypass.token_sha256,
            Some(token_digest("0123456789abcdef"))
        );
        assert_eq!(d.bypass.networks.len(), 1);
    }

    #[test]
    fn an_empty_object_is_an_open_ended_global_window_starting_now() {
        let d = window_draft(&json!({})).expect("valid");
        assert_eq!(d.scope, Scope::All);
        assert!(d.starts_at.is_none());
        assert!(matches!(d.end, End::Open));
    }

    #[test]
    fn every_bad_field_is_named() {
        let errs = window_draft(&json!({
            "scope": {"kind": "route"},
            "starts_at": "tomorrow",
            "ends_at": "2026-12-01T02:00:00Z",
            "duration_seconds": 0,
            "mesage": "typo",
            "bypass": {"token": "short", "networks": ["10.0.0.0/8", "nope"]}
        }))
        .expect_err("invalid");
        let mut names = fields(errs);
        names.sort();
        assert_eq!(
            names,
            [
                "bypass.networks[1]",
                "bypass.token",
                "duration_seconds",
                "mesage",
                "scope.name",
                "starts_at"
            ]
        );
    }

    #[test]
    fn null_is_not_absent() {
        for body in [
            json!({"scope": null}),
            json!({"bypass": null}),
            json!({"message": null}),
        ] {
            assert!(window_draft(&body).is_err(), "{body}");
        }
        assert!(window_patch(&json!({"bypass": null})).is_err());
    }

    #[test]
    fn both_end_forms_at_once_are_refused() {
        let errs = window_draft(&json!({"ends_at": "2026-12-01T02:00:00Z", "duration_seconds": 5}))
            .expect_err("invalid");
        assert_eq!(fields(errs), ["duration_seconds"]);
    }

    #[test]
    fn patches_distinguish_null_from_absent() {
        let p = window_patch(&json!({"ends_at": null})).expect("valid");
        assert_eq!(p.ends_at, Some(None));
        let p = window_patch(&json!({"extend_seconds": -60})).expect("valid");
        assert_eq!((p.ends_at, p.extend_seconds), (None, Some(-60)));
        assert_eq!(
            fields(window_patch(&json!({})).expect_err("empty")),
            ["body"]
        );
        assert_eq!(
            fields(window_patch(&json!([1])).expect_err("array")),
            ["body"]
        );
    }
}
