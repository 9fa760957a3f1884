//! The `/v1` admin API: maintenance windows, drains, the audit log, pools,
//! admission, and the status page's incidents and components.
//!
//! One function per operation, each: authenticate, read and validate the
//! input ([`super::input`]), ask [`Control`] to make the change, answer JSON.
//! Every failure is a problem (`application/problem+json`) with the request
//! id; see docs/admin-api.md for the contract and `openapi.json` for the
//! schema.
//!
//! This module must not store anything itself or touch the data path: it
//! goes through [`Control`].

use std::time::SystemTime;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::uri::Authority;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use levee_http::{Problem, Reason, RequestId};
use serde_json::{Value, json};

use super::AdminState;
use super::auth::Verdict;
use super::json::{drain_json, window_json};
use crate::control::{ControlError, FieldError, WindowState};

/// The largest request body the API reads.
const MAX_BODY: usize = 64 * 1024;

type Answer = Response<Full<Bytes>>;

/// An error answer in the making.
struct Failure {
    reason: Reason,
    detail: String,
    errors: Vec<FieldError>,
    allow: Option<&'static str>,
    invalid_token: bool,
}

impl Failure {
    fn new(reason: Reason, detail: impl Into<String>) -> Failure {
        Failure {
            reason,
            detail: detail.into(),
            errors: Vec::new(),
            allow: None,
            invalid_token: false,
        }
    }

    fn invalid(errors: Vec<FieldError>) -> Failure {
        let detail = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.detail))
            .collect::<Vec<_>>()
            .join("; ");
        Failure {
            errors,
            ..Failure::new(Reason::InvalidInput, detail)
        }
    }

    fn method(allow: &'static str) -> Failure {
        Failure {
            allow: Some(allow),
            ..Failure::new(Reason::MethodNotAllowed, format!("this path takes {allow}"))
        }
    }
}

impl From<ControlError> for Failure {
    fn from(e: ControlError) -> Failure {
        match e {
            ControlError::NotFound(d) => Failure::new(Reason::NotFound, d),
            ControlError::Conflict(d) => Failure::new(Reason::Conflict, d),
            ControlError::Invalid(errors) => Failure::invalid(errors),
            e @ (ControlError::Store(_) | ControlError::Worker(_)) => {
                tracing::error!(error = %e, "admin change not made: the state store failed");
                Failure::new(
                    Reason::Internal,
                    format!("the state store failed, nothing was changed: {e}"),
                )
            }
        }
    }
}

/// Answers one `/v1/…` request.
pub(super) async fn handle(req: Request<Incoming>, state: &AdminState) -> Answer {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(RequestId::accept)
        .unwrap_or_else(|| RequestId::from_ulid(ulid::Ulid::new()));
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| h.parse::<Authority>().is_ok() && !h.contains('@'))
        .map(str::to_owned);
    let path = req.uri().path().to_owned();
    let mut resp = match route(req, state).await {
        Ok(r) => r,
        Err(f) => problem(&f, host.as_deref(), &path, &request_id),
    };
    resp.headers_mut()
        .insert("x-request-id", request_id.header_value().clone());
    resp
}

async fn route(req: Request<Incoming>, state: &AdminState) -> Result<Answer, Failure> {
    let tokens = state.tokens.load();
    let actor = match tokens.verify(
        req.headers()
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes),
    ) {
        Verdict::Allowed(name) => name,
        _ if tokens.is_empty() => {
            return Err(Failure::new(
                Reason::Unauthorized,
                "this gateway has no admin tokens: start it with --admin-token-file FILE or LEVEE_ADMIN_TOKEN",
            ));
        }
        Verdict::Missing => {
            return Err(Failure::new(
                Reason::Unauthorized,
                "send Authorization: Bearer <token>",
            ));
        }
        Verdict::Invalid => {
            return Err(Failure {
                invalid_token: true,
                ..Failure::new(Reason::Unauthorized, "the bearer token is not valid")
            });
        }
    };
    let path = req.uri().path().to_owned();
    let segments: Vec<&str> = path
        .trim_start_matches("/v1/")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let method = req.method().clone();
    let control = &state.control;
    match (segments.as_slice(), &method) {
        (["windows"], &Method::GET | &Method::HEAD) => {
            let filter = query(&req, "state");
            let filter = match filter.as_deref() {
                None => None,
                Some(s @ ("scheduled" | "active" | "ended" | "all")) => Some(s.to_owned()),
                Some(other) => {
                    return Err(Failure::invalid(vec![FieldError::new(
                        "state",
                        format!(
                            "`{other}` is not a state: expected scheduled, active, ended or all"
                        ),
                    )]));
                }
            };
            let now = SystemTime::now();
            let windows: Vec<Value> = control
                .windows()
                .iter()
                .filter(|w| match filter.as_deref() {
                    None => w.state(now) != WindowState::Ended,
                    Some("all") => true,
                    Some(s) => w.state(now).as_str() == s,
                })
                .map(|w| window_json(w, now))
                .collect();
            Ok(ok(StatusCode::OK, &json!({ "windows": windows })))
        }
        (["windows"], &Method::POST) => {
            let body = read_json(req).await?;
            let draft = super::input::window_draft(&body).map_err(Failure::invalid)?;
            let w = control.create_window(&actor, draft).await?;
            let mut r = ok(StatusCode::CREATED, &window_json(&w, SystemTime::now()));
            if let Ok(loc) = HeaderValue::from_str(&format!("/v1/windows/{}", w.window.id)) {
                r.headers_mut().insert(header::LOCATION, loc);
            }
            Ok(r)
        }
        (["windows"], _) => Err(Failure::method("GET, HEAD, POST")),
        (["windows", id], &Method::GET | &Method::HEAD) => match control.window(id) {
            Some(w) => Ok(ok(StatusCode::OK, &window_json(&w, SystemTime::now()))),
            None => Err(Failure::new(
                Reason::NotFound,
                format!("no window with id `{id}`"),
            )),
        },
        (["windows", id], &Method::PATCH) => {
            let id = (*id).to_owned();
            let body = read_json(req).await?;
            let patch = super::input::window_patch(&body).map_err(Failure::invalid)?;
            let w = control.update_window(&actor, &id, patch).await?;
            Ok(ok(StatusCode::OK, &window_json(&w, SystemTime::now())))
        }
        (["windows", id], &Method::DELETE) => {
            control.delete_window(&actor, id).await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        (["windows", _], _) => Err(Failure::method("GET, HEAD, PATCH, DELETE")),
        (["windows", id, "end"], &Method::POST) => {
            let w = control.end_window(&actor, id).await?;
            Ok(ok(StatusCode::OK, &window_json(&w, SystemTime::now())))
        }
        (["windows", _, "end"], _) => Err(Failure::method("POST")),
        (["drains"], &Method::GET | &Method::HEAD) => {
            let drains: Vec<Value> = control
                .drains()
                .iter()
                .map(|d| drain_json(d, &control.pools_with(&d.endpoint)))
                .collect();
            Ok(ok(StatusCode::OK, &json!({ "drains": drains })))
        }
        (["drains"], _) => Err(Failure::method("GET, HEAD")),
        (["drains", endpoint], &Method::PUT) => {
            let endpoint = parse_endpoint(endpoint)?;
            let (d, created) = control.drain(&actor, endpoint).await?;
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(ok(
                status,
                &drain_json(&d, &control.pools_with(&d.endpoint)),
            ))
        }
        (["drains", endpoint], &Method::DELETE) => {
            // What is not even host:port was never drained: 404, as for any
            // endpoint that is not drained.
            let endpoint = parse_endpoint(endpoint).map_err(|_| {
                Failure::new(
                    Reason::NotFound,
                    format!("the endpoint `{}` is not drained", percent_decode(endpoint)),
                )
            })?;
            control.undrain(&actor, &endpoint).await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        (["drains", _], _) => Err(Failure::method("PUT, DELETE")),
        (["audit"], &Method::GET | &Method::HEAD) => {
            let limit = limit(&req)?;
            let entries: Vec<Value> = control
                .audit(limit)
                .await?
                .into_iter()
                .map(|a| {
                    json!({
                        "id": a.id,
                        "at": levee_http::maintenance::rfc3339(crate::control::from_ms(a.at_ms)),
                        "actor": a.actor,
                        "action": a.action,
                        "target": a.target,
                        "before": a.before,
                        "after": a.after,
                    })
                })
                .collect();
            Ok(ok(StatusCode::OK, &json!({ "entries": entries })))
        }
        (["audit"], _) => Err(Failure::method("GET, HEAD")),
        (["admission"], &Method::GET | &Method::HEAD) => {
            let routes: Vec<Value> = state
                .runtime
                .load()
                .routes
                .iter()
                .filter_map(|r| {
                    r.admission
                        .as_ref()
                        .map(|a| admission_json(&r.name, &a.view()))
                })
                .collect();
            Ok(ok(StatusCode::OK, &json!({ "routes": routes })))
        }
        (["admission"], _) => Err(Failure::method("GET, HEAD")),
        (["pools"], &Method::GET | &Method::HEAD) => {
            let now = tokio::time::Instant::now().into_std();
            let wall = SystemTime::now();
            let drained = control.handle().load().drained.clone();
            let pools: Vec<Value> = state
                .runtime
                .load()
                .pools
                .iter()
                .map(|p| crate::admin::json::pool_json(&p.status(now, &drained), wall))
                .collect();
            Ok(ok(StatusCode::OK, &json!({ "pools": pools })))
        }
        (["pools"], _) => Err(Failure::method("GET, HEAD")),
        (["incidents"] | ["incidents", ..] | ["components"] | ["components", ..], _)
            if state.status.is_none() =>
        {
            Err(Failure::new(
                Reason::NotFound,
                "this gateway has no status page ([status] enabled = false)",
            ))
        }
        (["incidents"], &Method::GET | &Method::HEAD) => {
            let page = status_page(state)?;
            let all = match query(&req, "state").as_deref() {
                None | Some("unresolved") => false,
                Some("all") => true,
                Some(other) => {
                    return Err(Failure::invalid(vec![FieldError::new(
                        "state",
                        format!("`{other}` is not a choice: expected unresolved or all"),
                    )]));
                }
            };
            let incidents: Vec<Value> = page
                .incidents()
                .iter()
                .filter(|i| all || i.resolved_at_ms.is_none())
                .map(super::json::incident_json)
                .collect();
            Ok(ok(StatusCode::OK, &json!({ "incidents": incidents })))
        }
        (["incidents"], &Method::POST) => {
            let page = status_page(state)?;
            let body = read_json(req).await?;
            let draft = super::input::incident_draft(&body).map_err(Failure::invalid)?;
            let i = page.open_incident(draft, &actor).await?;
            let mut r = ok(StatusCode::CREATED, &super::json::incident_json(&i));
            if let Ok(loc) = HeaderValue::from_str(&format!("/v1/incidents/{}", i.id)) {
                r.headers_mut().insert(header::LOCATION, loc);
            }
            Ok(r)
        }
        (["incidents"], _) => Err(Failure::method("GET, HEAD, POST")),
        (["incidents", id], &Method::GET | &Method::HEAD) => {
            match status_page(state)?.incident(id) {
                Some(i) => Ok(ok(StatusCode::OK, &super::json::incident_json(&i))),
                None => Err(Failure::new(
                    Reason::NotFound,
                    format!("no incident with id `{id}`"),
                )),
            }
        }
        (["incidents", id], &Method::PATCH) => {
            let id = (*id).to_owned();
            let page = status_page(state)?;
            let body = read_json(req).await?;
            let patch = super::input::incident_patch(&body).map_err(Failure::invalid)?;
            let i = page.update_incident(&id, patch, &actor).await?;
            Ok(ok(StatusCode::OK, &super::json::incident_json(&i)))
        }
        (["incidents", _], _) => Err(Failure::method("GET, HEAD, PATCH")),
        (["components"], &Method::GET | &Method::HEAD) => {
            let components: Vec<Value> = status_page(state)?
                .components()
                .iter()
                .map(super::json::component_json)
                .collect();
            Ok(ok(StatusCode::OK, &json!({ "components": components })))
        }
        (["components"], _) => Err(Failure::method("GET, HEAD")),
        (["components", id, "pin"], &Method::PUT) => {
            let id = (*id).to_owned();
            let page = status_page(state)?;
            let body = read_json(req).await?;
            let pin = super::input::pin(&body).map_err(Failure::invalid)?;
            let c = page.pin(&id, Some(pin), &actor).await?;
            Ok(ok(StatusCode::OK, &super::json::component_json(&c)))
        }
        (["components", id, "pin"], &Method::DELETE) => {
            let id = (*id).to_owned();
            let c = status_page(state)?.pin(&id, None, &actor).await?;
            Ok(ok(StatusCode::OK, &super::json::component_json(&c)))
        }
        (["components", _, "pin"], _) => Err(Failure::method("PUT, DELETE")),
        (["components", id, "changes"], &Method::GET | &Method::HEAD) => {
            let limit = limit(&req)?;
            let changes: Vec<Value> = status_page(state)?
                .changes(id, limit)
                .await?
                .iter()
                .map(|c| {
                    json!({
                        "at": levee_http::maintenance::rfc3339(crate::control::from_ms(c.at_ms)),
                        "from": c.old_status,
                        "to": c.new_status,
                        "cause": c.cause,
                        "automatic": c.automatic,
                    })
                })
                .collect();
            Ok(ok(StatusCode::OK, &json!({ "changes": changes })))
        }
        (["components", _, "changes"], _) => Err(Failure::method("GET, HEAD")),
        _ => Err(Failure::new(
            Reason::NotFound,
            format!("no such path: {path} (see /openapi.json)"),
        )),
    }
}

/// The `limit` query parameter: 1 to 1000, 100 when absent.
fn limit(req: &Request<Incoming>) -> Result<u32, Failure> {
    match query(req, "limit") {
        None => Ok(100),
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| {
                Failure::invalid(vec![FieldError::new(
                    "limit",
                    "must be an integer from 1 to 1000",
                )])
            }),
    }
}

fn status_page(state: &AdminState) -> Result<&crate::status::StatusPage, Failure> {
    state.status.as_deref().ok_or_else(|| {
        Failure::new(
            Reason::NotFound,
            "this gateway has no status page ([status] enabled = false)",
        )
    })
}

impl From<crate::status::StatusError> for Failure {
    fn from(e: crate::status::StatusError) -> Failure {
        use crate::status::StatusError as E;
        match e {
            E::NoIncident(id) => {
                Failure::new(Reason::NotFound, format!("no incident with id `{id}`"))
            }
            E::NoComponent(id) => Failure::new(Reason::NotFound, format!("no component `{id}`")),
            E::NotPinned(id) => Failure::new(
                Reason::NotFound,
                format!("the component `{id}` is not pinned"),
            ),
            E::Invalid { field, detail } => Failure::invalid(vec![FieldError::new(field, detail)]),
            E::Disabled => Failure::new(Reason::NotFound, e.to_string()),
            E::Store(_) | E::Worker(_) => {
                tracing::error!(error = %e, "status change not made: the state store failed");
                Failure::new(
                    Reason::Internal,
                    format!("the state store failed, nothing was changed: {e}"),
                )
            }
        }
    }
}

/// One route's admission state: what it would take to be shed, and the
/// per-class baselines it compares latency with.
fn admission_json(route: &str, v: &levee_proxy::admission::AdmissionView) -> Value {
    let classes: Vec<Value> = v
        .classes
        .iter()
        .map(|c| {
            json!({
                "class": &*c.name,
                "baseline_ms": c.baseline.map(|b| (b.as_secs_f64() * 1e6).round() / 1e3),
                "answers": c.answers,
            })
        })
        .collect();
    json!({
        "route": route,
        "mode": match v.mode {
            levee_proxy::admission::Mode::Enforce => "enforce",
            levee_proxy::admission::Mode::Observe => "observe",
        },
        "state": v.state,
        "limit": v.limit,
        "in_flight": v.in_flight,
        "queued": v.queued,
        "latency_ratio": v.ratio.map(|r| (r * 1000.0).round() / 1000.0),
        "classes": classes,
    })
}

/// A path segment naming an endpoint, percent-decoded (`%3A` for `:`).
fn parse_endpoint(segment: &str) -> Result<Authority, Failure> {
    let decoded = percent_decode(segment);
    decoded
        .parse::<Authority>()
        .ok()
        .filter(|a| a.port_u16().is_some() && !decoded.contains('@'))
        .ok_or_else(|| {
            Failure::invalid(vec![FieldError::new(
                "endpoint",
                format!("`{decoded}` is not host:port"),
            )])
        })
}

/// `%XX` escapes decoded (invalid UTF-8 replaced), as a path segment or a
/// query value carries them.
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

fn query(req: &Request<Incoming>, key: &str) -> Option<String> {
    req.uri().query()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == key).then(|| percent_decode(v))
    })
}

async fn read_json(req: Request<Incoming>) -> Result<Value, Failure> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/json") {
        return Err(Failure::new(
            Reason::UnsupportedMediaType,
            format!(
                "send Content-Type: application/json (got {})",
                if ct.is_empty() { "none" } else { ct }
            ),
        ));
    }
    let body = Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| {
            Failure::new(
                Reason::PayloadTooLarge,
                format!("the body could not be read or exceeds {MAX_BODY} bytes: {e}"),
            )
        })?
        .to_bytes();
    serde_json::from_slice(&body).map_err(|e| {
        Failure::new(
            Reason::BadRequest,
            format!("the body is not valid JSON: {e}"),
        )
    })
}

fn ok(status: StatusCode, body: &Value) -> Answer {
    let mut bytes = serde_json::to_vec_pretty(body).unwrap_or_default();
    bytes.push(b'\n');
    let mut r = Response::new(Full::new(Bytes::from(bytes)));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn empty(status: StatusCode) -> Answer {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn problem(f: &Failure, host: Option<&str>, path: &str, request_id: &RequestId) -> Answer {
    let base = match host {
        Some(h) => format!("http://{h}{}", levee_http::pages::PROBLEMS_PATH),
        None => levee_http::pages::PROBLEMS_PATH.to_owned(),
    };
    let mut p = Problem::new(f.reason, &base)
        .with_detail(f.detail.clone())
        .with_instance(path)
        .with_request_id(request_id.as_str());
    if !f.errors.is_empty() {
        p = p.with_extension(
            "errors",
            f.errors
                .iter()
                .map(|e| json!({"field": e.field, "detail": e.detail}))
                .collect::<Vec<_>>(),
        );
    }
    let mut r = Response::new(Full::new(Bytes::from(p.to_json())));
    *r.status_mut() = f.reason.status();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if f.reason == Reason::Unauthorized {
        // RFC 6750 §3.
        let challenge = if f.invalid_token {
            r#"Bearer realm="levee-admin", error="invalid_token""#
        } else {
            r#"Bearer realm="levee-admin""#
        };
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
    }
    if let Some(allow) = f.allow {
        h.insert(header::ALLOW, HeaderValue::from_static(allow));
    }
    r
}
