//! The admin API's JSON forms of windows, drains and pools (the audit log
//! keeps windows in the same form).
//!
//! This module must not decide anything; it renders.

use std::time::SystemTime;

use serde_json::{Value, json};

use levee_proxy::control::Scope;

use crate::control::{DrainRecord, WindowRecord};

/// The JSON form of a window, as the API answers it and the audit log keeps it.
pub fn window_json(r: &WindowRecord, now: SystemTime) -> serde_json::Value {
    use levee_http::maintenance::rfc3339;
    let w = &r.window;
    let scope = match &w.scope {
        Scope::All => serde_json::json!({"kind": "all"}),
        Scope::Route(n) => serde_json::json!({"kind": "route", "name": &**n}),
        Scope::Pool(n) => serde_json::json!({"kind": "pool", "name": &**n}),
    };
    serde_json::json!({
        "id": &*w.id,
        "source": r.source.as_str(),
        "scope": scope,
        "state": r.state(now).as_str(),
        "starts_at": rfc3339(w.starts_at),
        "ends_at": w.ends_at.map(rfc3339),
        "message": &*w.message,
        "bypass": {
            "header": w.bypass.header.as_str(),
            "token": w.bypass.token_sha256.is_some(),
            "networks": w.bypass.networks.iter().map(ToString::to_string).collect::<Vec<_>>(),
        },
        "created_at": rfc3339(r.created_at),
        "created_by": r.created_by,
        "updated_at": rfc3339(r.updated_at),
    })
}

/// The JSON form of a drain.
pub fn drain_json(d: &DrainRecord, pools: &[String]) -> serde_json::Value {
    serde_json::json!({
        "endpoint": d.endpoint.as_str(),
        "pools": pools,
        "drained_at": levee_http::maintenance::rfc3339(d.drained_at),
        "drained_by": d.drained_by,
    })
}

/// The JSON form of a pool's state (`GET /v1/pools`), read at `now`.
pub fn pool_json(p: &levee_proxy::pool::PoolStatus, now: SystemTime) -> serde_json::Value {
    use levee_http::maintenance::rfc3339;
    let endpoints: Vec<serde_json::Value> = p
        .endpoints
        .iter()
        .map(|e| {
            serde_json::json!({
                "endpoint": e.endpoint,
                "state": e.state,
                "takes_requests": e.takes_requests,
                "health": match e.health {
                    levee_proxy::pool::HealthState::Healthy => "healthy",
                    levee_proxy::pool::HealthState::Unhealthy => "unhealthy",
                    levee_proxy::pool::HealthState::Unknown => "unknown",
                },
                "why": e.why,
                "since": rfc3339(e.since.min(now)),
                "retry_in_seconds": e.retry_in.map(|d| d.as_secs_f64().ceil() as u64),
            })
        })
        .collect();
    let up = p.endpoints.iter().filter(|e| e.takes_requests).count();
    serde_json::json!({
        "name": p.name,
        "health_checked": p.health_checked,
        "panicking": p.panicking,
        "endpoints_up": up,
        "endpoints": endpoints,
    })
}

fn ms_time(ms: i64) -> String {
    levee_http::maintenance::rfc3339(crate::control::from_ms(ms))
}

/// An incident as the admin API shows it.
pub fn incident_json(i: &levee_http::status_site::IncidentView) -> Value {
    json!({
        "id": i.id,
        "name": i.name,
        "status": i.status.as_str(),
        "impact": i.impact.as_str(),
        "components": i.components,
        "automatic": i.automatic,
        "started_at": ms_time(i.started_at_ms),
        "created_at": ms_time(i.created_at_ms),
        "updated_at": ms_time(i.updated_at_ms),
        "monitoring_at": i.monitoring_at_ms.map(ms_time),
        "resolved_at": i.resolved_at_ms.map(ms_time),
        "updates": i.updates.iter().map(|u| json!({
            "id": u.id,
            "status": u.status.as_str(),
            "body": u.body,
            "created_at": ms_time(u.created_at_ms),
        })).collect::<Vec<_>>(),
    })
}

/// A component as the admin API shows it.
pub fn component_json(c: &crate::status::ComponentInfo) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "group": c.group,
        "status": c.status.as_str(),
        "live_status": c.live.as_str(),
        "since": levee_http::maintenance::rfc3339(c.since),
        "pin": c.pin.as_ref().map(|p| json!({
            "status": p.status,
            "note": p.note,
            "pinned_at": ms_time(p.pinned_at_ms),
            "pinned_by": p.pinned_by,
        })),
        "routes": c.routes,
        "pools": c.pools,
    })
}
