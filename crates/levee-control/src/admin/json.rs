//! The admin API's JSON forms of windows, drains and pools (the audit log
//! keeps windows in the same form).
//!
//! This module must not decide anything; it renders.

use std::time::SystemTime;

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
