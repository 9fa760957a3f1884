//! Maintenance windows, drains and the admin API, over real sockets: the
//! lifecycle of a window as requests see it, scheduled starts and ends,
//! bypass, scopes, auth, validation, config-file windows, drains, and
//! durability across `kill -9` of a real `levee serve`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use http::{Request, Response};
use levee_control::admin::auth::AdminTokens;
use levee_control::config::Overrides;

use crate::support::*;

pub(crate) const TOKEN: &str = "alice-token-0123456789";

pub(crate) fn overrides() -> Overrides {
    Overrides {
        admin_tokens: AdminTokens::from_pairs([("alice", TOKEN)]),
        ..Overrides::default()
    }
}

/// An admin API call with alice's token; `body` is sent as JSON when given.
pub(crate) async fn api(
    admin: SocketAddr,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> Got {
    call(admin, method, path, body, Some(TOKEN)).await
}

async fn call(
    admin: SocketAddr,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
    token: Option<&str>,
) -> Got {
    let mut b = Request::builder()
        .method(method)
        .uri(format!("http://{admin}{path}"));
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    let body = match body {
        Some(v) => {
            b = b.header("content-type", "application/json");
            full(v.to_string())
        }
        None => full(""),
    };
    send(&h1(), b.body(body).expect("request")).await
}

fn rfc3339(t: SystemTime) -> String {
    levee_http::maintenance::rfc3339(t)
}

/// Asserts that `Retry-After` is the time left until the problem's `ends_at`,
/// as measured when the answer arrived, within 1 s.
fn assert_retry_after_is_time_left(got: &Got) -> u64 {
    let ra = secs(got);
    let ends =
        levee_http::maintenance::parse_rfc3339(got.json()["ends_at"].as_str().expect("ends_at"))
            .expect("RFC 3339");
    let left = ends
        .duration_since(SystemTime::now())
        .expect("the window has not ended")
        .as_secs_f64();
    assert!(
        (ra as f64 - left).abs() <= 1.0,
        "Retry-After {ra} s, but {left:.2} s are left"
    );
    ra
}

/// Creates a window that starts `lead` whole seconds from now (RFC 3339 in
/// the API is whole seconds) and lasts 2 s; returns its start, end and the
/// API's answer.
async fn schedule(admin: SocketAddr, lead: u64) -> (SystemTime, SystemTime, Got) {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(now + lead);
    let end = start + Duration::from_secs(2);
    let created = api(
        admin,
        "POST",
        "/v1/windows",
        Some(serde_json::json!({"starts_at": rfc3339(start), "ends_at": rfc3339(end)})),
    )
    .await;
    (start, end, created)
}

fn secs(got: &Got) -> u64 {
    got.header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "Retry-After in delay-seconds; got {:?}",
                got.header("retry-after")
            )
        })
}

/// An upstream answering 200 with `name` as the body.
async fn named(name: &'static str) -> Upstream {
    Upstream::start(move |_req| async move { Response::new(full(name)) }).await
}

#[tokio::test]
async fn a_window_from_creation_to_deletion_as_requests_see_it() {
    let up = named("app").await;
    let gw = Gw::to_with(up.addr, "", overrides()).await;
    assert_eq!(get(&gw.url("/"), &[]).await.status, 200);

    // Create: 201, Location, and the window as the API describes it.
    let created = api(
        gw.admin,
        "POST",
        "/v1/windows",
        Some(serde_json::json!({"duration_seconds": 600, "message": "Database upgrade"})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let w = created.json();
    let id = w["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("w_"));
    assert_eq!(
        created.header("location"),
        Some(format!("/v1/windows/{id}").as_str())
    );
    assert_eq!(w["state"], "active");
    assert_eq!(w["source"], "api");
    assert_eq!(w["created_by"], "alice");
    assert_eq!(w["scope"]["kind"], "all");

    // In force: 503 maintenance with the message, the end and Retry-After.
    let got = get(&gw.url("/orders"), &[]).await;
    let p = assert_problem(&got, 503, "maintenance");
    assert_eq!(p["message"], "Database upgrade");
    assert_eq!(p["ends_at"], w["ends_at"]);
    assert_eq!(p["window_id"], id.as_str());
    let ra = assert_retry_after_is_time_left(&got);
    assert!((595..=600).contains(&ra), "Retry-After {ra} ≈ 600");
    assert_eq!(p["retry_after"], ra);
    assert_eq!(
        up.seen().len(),
        1,
        "the upstream was not contacted (only the first request reached it)"
    );

    // Listed and readable.
    let list = api(gw.admin, "GET", "/v1/windows", None).await.json();
    assert_eq!(list["windows"][0]["id"], id.as_str());
    assert_eq!(
        api(gw.admin, "GET", &format!("/v1/windows/{id}"), None)
            .await
            .json()["message"],
        "Database upgrade"
    );

    // Extend by 10 minutes: Retry-After follows.
    let patched = api(
        gw.admin,
        "PATCH",
        &format!("/v1/windows/{id}"),
        Some(serde_json::json!({"extend_seconds": 600, "message": "Still upgrading"})),
    )
    .await;
    assert_eq!(patched.status, 200, "{}", patched.text());
    let got = get(&gw.url("/"), &[]).await;
    let ra = assert_retry_after_is_time_left(&got);
    assert!((1195..=1200).contains(&ra), "Retry-After {ra} ≈ 1200");
    assert_eq!(got.json()["message"], "Still upgrading");

    // End early: traffic flows at once.
    let ended = api(gw.admin, "POST", &format!("/v1/windows/{id}/end"), None).await;
    assert_eq!(ended.json()["state"], "ended");
    let got = get(&gw.url("/"), &[]).await;
    assert_eq!((got.status.as_u16(), got.text().as_str()), (200, "app"));
    assert!(
        api(gw.admin, "GET", "/v1/windows", None).await.json()["windows"]
            .as_array()
            .expect("array")
            .is_empty(),
        "ended windows are not listed by default"
    );
    let all = api(gw.admin, "GET", "/v1/windows?state=ended", None)
        .await
        .json();
    assert_eq!(all["windows"][0]["id"], id.as_str());

    // Delete: 204, then 404.
    assert_eq!(
        api(gw.admin, "DELETE", &format!("/v1/windows/{id}"), None)
            .await
            .status,
        204
    );
    let gone = api(gw.admin, "GET", &format!("/v1/windows/{id}"), None).await;
    assert_problem(&gone, 404, "not-found");

    // The audit log has every change, by alice, newest first.
    let audit = api(gw.admin, "GET", "/v1/audit", None).await.json();
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions,
        [
            "window.delete",
            "window.end",
            "window.update",
            "window.create"
        ]
    );
    let update = &audit["entries"][2];
    assert_eq!(update["actor"], "alice");
    assert_eq!(update["target"], id.as_str());
    assert_eq!(update["before"]["message"], "Database upgrade");
    assert_eq!(update["after"]["message"], "Still upgrading");
    assert!(
        !audit.to_string().contains(TOKEN),
        "tokens never appear in the audit log"
    );
}

#[tokio::test]
async fn a_scheduled_window_starts_and_ends_on_time_with_no_event() {
    let up = named("app").await;
    let gw = Gw::to_with(up.addr, "", overrides()).await;
    // Starts in 2-3 s (whole seconds), lasts 2 s.
    let (start, end, created) = schedule(gw.admin, 3).await;
    assert_eq!(created.json()["state"], "scheduled");

    // Poll (bounded) and note when requests saw the change.
    let mut first_503 = None;
    let mut first_200_after = None;
    let until = SystemTime::now() + Duration::from_secs(10);
    while SystemTime::now() < until && first_200_after.is_none() {
        let got = get(&gw.url("/"), &[]).await;
        let at = SystemTime::now();
        match (got.status.as_u16(), first_503) {
            (503, None) => first_503 = Some(at),
            (200, Some(_)) => first_200_after = Some(at),
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let began = first_503.expect("the window started");
    let ended = first_200_after.expect("the window ended");
    let late = |seen: SystemTime, due: SystemTime| seen.duration_since(due).unwrap_or_default();
    assert!(began >= start, "not before its start");
    assert!(
        late(began, start) < Duration::from_secs(1),
        "started within 1 s: {:?}",
        late(began, start)
    );
    assert!(ended >= end, "not before its end");
    assert!(
        late(ended, end) < Duration::from_secs(1),
        "ended within 1 s: {:?}",
        late(ended, end)
    );
}

#[tokio::test]
async fn operators_bypass_by_token_or_network_and_others_do_not() {
    let up = named("app").await;
    let gw = Gw::to_with(up.addr, "", overrides()).await;
    let w = api(
        gw.admin,
        "POST",
        "/v1/windows",
        Some(serde_json::json!({
            "duration_seconds": 300,
            "bypass": {"header": "x-ops", "token": "open-sesame-0123456789", "networks": ["10.0.0.0/8"]}
        })),
    )
    .await
    .json();
    assert_eq!(w["bypass"]["token"], true);
    assert!(
        !w.to_string().contains("open-sesame"),
        "the token is never echoed"
    );

    let through = get(&gw.url("/"), &[("x-ops", "open-sesame-0123456789")]).await;
    assert_eq!(
        (through.status.as_u16(), through.text().as_str()),
        (200, "app")
    );
    assert_eq!(up.seen().len(), 1);
    for wrong in ["open-sesame-012345678", "OPEN-SESAME-0123456789", ""] {
        assert_eq!(
            get(&gw.url("/"), &[("x-ops", wrong)]).await.status,
            503,
            "{wrong:?}"
        );
    }
    // The test client is 127.0.0.1: not in 10.0.0.0/8. A network that has it bypasses.
    let id = w["id"].as_str().expect("id");
    let patched = api(
        gw.admin,
        "PATCH",
        &format!("/v1/windows/{id}"),
        Some(serde_json::json!({"bypass": {"networks": ["127.0.0.1/32"]}})),
    )
    .await;
    assert_eq!(patched.status, 200, "{}", patched.text());
    assert_eq!(get(&gw.url("/"), &[]).await.status, 200);
    // The bypass was replaced as a whole: the token no longer works from elsewhere,
    // and it is reported as unset.
    assert_eq!(patched.json()["bypass"]["token"], false);
}

#[tokio::test]
async fn a_window_covers_only_its_route_or_pool() {
    let api_up = named("api").await;
    let web_up = named("web").await;
    let toml = format!(
        "[[pools]]\nname = \"api-pool\"\nendpoints = [\"{}\"]\n[[pools]]\nname = \"web-pool\"\nendpoints = [\"{}\"]\n\
         [[routes]]\nname = \"api\"\npath_prefix = \"/api\"\npool = \"api-pool\"\n\
         [[routes]]\nname = \"web\"\npool = \"web-pool\"\n",
        api_up.addr, web_up.addr
    );
    let gw = Gw::start_with(&toml, overrides()).await;
    let create = |scope: serde_json::Value| {
        api(
            gw.admin,
            "POST",
            "/v1/windows",
            Some(serde_json::json!({"scope": scope, "duration_seconds": 60})),
        )
    };
    let r = create(serde_json::json!({"kind": "route", "name": "api"}))
        .await
        .json();
    assert_eq!(get(&gw.url("/api/x"), &[]).await.status, 503);
    assert_eq!(get(&gw.url("/home"), &[]).await.text(), "web");
    api(
        gw.admin,
        "DELETE",
        &format!("/v1/windows/{}", r["id"].as_str().expect("id")),
        None,
    )
    .await;

    create(serde_json::json!({"kind": "pool", "name": "web-pool"})).await;
    assert_eq!(get(&gw.url("/api/x"), &[]).await.text(), "api");
    assert_eq!(get(&gw.url("/home"), &[]).await.status, 503);
}

#[tokio::test]
async fn the_admin_api_refuses_missing_wrong_and_unconfigured_tokens() {
    let up = named("app").await;
    let gw = Gw::to_with(up.addr, "", overrides()).await;
    let none = call(gw.admin, "GET", "/v1/windows", None, None).await;
    assert_problem(&none, 401, "unauthorized");
    assert_eq!(
        none.header("www-authenticate"),
        Some(r#"Bearer realm="levee-admin""#)
    );
    let wrong = call(
        gw.admin,
        "POST",
        "/v1/windows",
        Some(serde_json::json!({})),
        Some("alice-token-0123456780"),
    )
    .await;
    assert_problem(&wrong, 401, "unauthorized");
    assert_eq!(
        wrong.header("www-authenticate"),
        Some(r#"Bearer realm="levee-admin", error="invalid_token""#)
    );
    assert_eq!(
        get(&gw.url("/"), &[]).await.status,
        200,
        "nothing was created"
    );
    // Health and the schema need no token.
    assert_eq!(get(&gw.admin_url("/healthz"), &[]).await.status, 200);
    let spec = get(&gw.admin_url("/openapi.json"), &[]).await;
    assert_eq!(
        spec.json()["openapi"]
            .as_str()
            .map(|v| v.starts_with("3.1")),
        Some(true)
    );

    // A gateway started without tokens refuses every call and says how to fix it.
    let bare = Gw::to(up.addr, "").await;
    let got = call(bare.admin, "GET", "/v1/windows", None, Some(TOKEN)).await;
    let p = assert_problem(&got, 401, "unauthorized");
    assert!(
        p["detail"]
            .as_str()
            .expect("detail")
            .contains("--admin-token-file"),
        "{p}"
    );
}

#[tokio::test]
async fn invalid_input_is_a_problem_that_names_the_field() {
    let up = named("app").await;
    let gw = Gw::to_with(up.addr, "", overrides()).await;
    let field = |got: &Got| -> Vec<String> {
        let p = assert_problem(got, 422, "invalid-input");
        p["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|e| e["field"].as_str().expect("field").to_owned())
            .collect()
    };
    let post = |body: serde_json::Value| api(gw.admin, "POST", "/v1/windows", Some(body));
    let soon = rfc3339(SystemTime::now() + Duration::from_secs(3600));
    let later = rfc3339(SystemTime::now() + Duration::from_secs(7200));
    assert_eq!(
        field(&post(serde_json::json!({"starts_at": later, "ends_at": soon})).await),
        ["ends_at"]
    );
    assert_eq!(
        field(&post(serde_json::json!({"ends_at": "2020-01-01T00:00:00Z"})).await),
        ["ends_at"]
    );
    assert_eq!(
        field(&post(serde_json::json!({"ends_at": "next tuesday"})).await),
        ["ends_at"]
    );
    assert_eq!(
        field(&post(serde_json::json!({"scope": {"kind": "route", "name": "nope"}})).await),
        ["scope.name"]
    );
    assert_eq!(
        field(&post(serde_json::json!({"mesage": "typo"})).await),
        ["mesage"]
    );
    assert_eq!(
        field(&post(serde_json::json!({"bypass": {"networks": ["10.0.0.0/33"]}})).await),
        ["bypass.networks[0]"]
    );
    // Not JSON, not an object, not application/json.
    let raw = |ct: &'static str, body: &'static str| {
        let req = Request::post(gw.admin_url("/v1/windows"))
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("content-type", ct)
            .body(full(body))
            .expect("request");
        async move { send(&h1(), req).await }
    };
    assert_problem(&raw("application/json", "{").await, 400, "bad-request");
    assert_eq!(field(&raw("application/json", "[]").await), ["body"]);
    assert_problem(
        &raw("text/plain", "{}").await,
        415,
        "unsupported-media-type",
    );
    let wrong_method = api(gw.admin, "PUT", "/v1/windows", None).await;
    assert_problem(&wrong_method, 405, "method-not-allowed");
    assert_eq!(wrong_method.header("allow"), Some("GET, HEAD, POST"));
    // Nothing was created by any of this.
    assert_eq!(get(&gw.url("/"), &[]).await.status, 200);
}

#[tokio::test]
async fn config_windows_are_enforced_listed_and_read_only() {
    let up = named("app").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let page = dir.path().join("page.html");
    std::fs::write(
        &page,
        "<h1>{{title}}</h1><p>{{message}}</p><p>{{retry_after}}</p>",
    )
    .expect("write");
    let end = SystemTime::now() + Duration::from_secs(3600);
    let toml = format!(
        "[maintenance]\npage = \"{}\"\nretry_after = \"http-date\"\n\
         [[maintenance.windows]]\nname = \"migration\"\nends_at = \"{}\"\nmessage = \"Moving <data>\"\n",
        page.display(),
        rfc3339(end)
    );
    let gw = Gw::to_with(up.addr, &toml, overrides()).await;
    let list = api(gw.admin, "GET", "/v1/windows", None).await.json();
    let w = &list["windows"][0];
    assert_eq!(
        (w["id"].as_str(), w["source"].as_str()),
        (Some("config:migration"), Some("config"))
    );

    // Retry-After as an HTTP-date: the window's end, to the second.
    let got = get(&gw.url("/"), &[]).await;
    assert_eq!(got.status, 503);
    let date = match levee_http::retry_after::RetryAfter::parse(
        got.header("retry-after").expect("retry-after"),
    ) {
        Ok(levee_http::retry_after::RetryAfter::Date(d)) => d,
        other => panic!("expected an HTTP-date, got {other:?}"),
    };
    let expected = levee_http::maintenance::parse_rfc3339(&rfc3339(end)).expect("end");
    assert_eq!(date, expected);
    // Browsers get the operator's template, values escaped.
    let html = get(&gw.url("/"), &[("accept", "text/html")]).await;
    assert_eq!(
        html.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(
        html.text()
            .starts_with("<h1>Down for maintenance</h1><p>Moving &lt;data&gt;</p><p>"),
        "{}",
        html.text()
    );

    for (method, path) in [
        ("PATCH", "/v1/windows/config:migration"),
        ("POST", "/v1/windows/config:migration/end"),
        ("DELETE", "/v1/windows/config:migration"),
    ] {
        let body = (method == "PATCH").then(|| serde_json::json!({"message": "x"}));
        assert_problem(&api(gw.admin, method, path, body).await, 409, "conflict");
    }
}

#[tokio::test]
async fn an_open_ended_window_sends_the_configured_default() {
    let up = named("app").await;
    let gw = Gw::to_with(
        up.addr,
        "[maintenance]\nopen_ended_retry_after = \"90s\"\n",
        overrides(),
    )
    .await;
    api(
        gw.admin,
        "POST",
        "/v1/windows",
        Some(serde_json::json!({"message": "until further notice"})),
    )
    .await;
    let got = get(&gw.url("/"), &[]).await;
    let p = assert_problem(&got, 503, "maintenance");
    assert_eq!(secs(&got), 90);
    assert_eq!(p["ends_at"], serde_json::Value::Null);
}

#[tokio::test]
async fn a_drained_endpoint_finishes_its_requests_and_gets_no_new_ones() {
    // Endpoint A holds its first request until released; B answers at once.
    let release = Arc::new(tokio::sync::Notify::new());
    let a_hits = Arc::new(AtomicUsize::new(0));
    let a = {
        let (release, hits) = (release.clone(), a_hits.clone());
        Upstream::start(move |_req| {
            let (release, hits) = (release.clone(), hits.clone());
            async move {
                if hits.fetch_add(1, Ordering::SeqCst) == 0 {
                    release.notified().await;
                }
                Response::new(full("a"))
            }
        })
        .await
    };
    let b = named("b").await;
    let toml = format!(
        "[[pools]]\nname = \"app\"\nendpoints = [\"{}\", \"{}\"]\n[[routes]]\nname = \"main\"\npool = \"app\"\nadmission = {{ enabled = false }}\n",
        a.addr, b.addr
    );
    let gw = Gw::start_with(&toml, overrides()).await;
    // Round robin: send until A holds one request.
    let url = gw.url("/");
    let mut held = None;
    for _ in 0..4 {
        let u = url.clone();
        let task = tokio::spawn(async move { get(&u, &[]).await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        if a_hits.load(Ordering::SeqCst) == 1 && held.is_none() {
            held = Some(task);
            break;
        }
        task.await.expect("request");
    }
    let held = held.expect("endpoint A holds a request");

    let drained = api(gw.admin, "PUT", &format!("/v1/drains/{}", a.addr), None).await;
    assert_eq!(drained.status, 201, "{}", drained.text());
    assert_eq!(drained.json()["pools"], serde_json::json!(["app"]));
    assert_eq!(
        api(gw.admin, "PUT", &format!("/v1/drains/{}", a.addr), None)
            .await
            .status,
        200,
        "idempotent"
    );
    for _ in 0..6 {
        assert_eq!(
            get(&url, &[]).await.text(),
            "b",
            "new requests go elsewhere"
        );
    }
    release.notify_one();
    let finished = held.await.expect("held request");
    assert_eq!(
        (finished.status.as_u16(), finished.text().as_str()),
        (200, "a"),
        "the in-flight request finished"
    );
    assert_eq!(a_hits.load(Ordering::SeqCst), 1);

    // Drain B too: the pool has nothing left, and says so.
    api(gw.admin, "PUT", &format!("/v1/drains/{}", b.addr), None).await;
    assert_problem(&get(&url, &[]).await, 503, "upstream-unavailable");
    let list = api(gw.admin, "GET", "/v1/drains", None).await.json();
    assert_eq!(list["drains"].as_array().map(Vec::len), Some(2));

    // Undrain A: it serves again.
    assert_eq!(
        api(gw.admin, "DELETE", &format!("/v1/drains/{}", a.addr), None)
            .await
            .status,
        204
    );
    assert_eq!(get(&url, &[]).await.text(), "a");
    assert_problem(
        &api(gw.admin, "DELETE", &format!("/v1/drains/{}", a.addr), None).await,
        404,
        "not-found",
    );
    // An endpoint no pool has is refused, naming the field.
    let unknown = api(gw.admin, "PUT", "/v1/drains/127.0.0.1:1", None).await;
    assert_eq!(
        assert_problem(&unknown, 422, "invalid-input")["errors"][0]["field"],
        "endpoint"
    );
}

/// Creates windows against a real `levee serve` as fast as it acknowledges
/// them, kills it with SIGKILL mid-stream, restarts it on the same data
/// directory, and checks that every acknowledged window is there and the
/// active one is enforced from the first request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_changes_survive_kill_9_and_windows_are_enforced_at_once() {
    let up = named("app").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("alice:{TOKEN}\n")).expect("write");
    let data = dir.path().join("data");
    let args = |admin: &str| -> Vec<String> {
        vec![
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--upstream".into(),
            format!("http://{}", up.addr),
            "--admin".into(),
            admin.into(),
            "--data-dir".into(),
            data.display().to_string(),
            "--admin-token-file".into(),
            tokens.display().to_string(),
        ]
    };
    let first = Served::start(
        &args("127.0.0.1:0")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    // One active window, acknowledged before the storm.
    let active = api(
        first.admin,
        "POST",
        "/v1/windows",
        Some(serde_json::json!({"duration_seconds": 3600, "message": "survives"})),
    )
    .await;
    assert_eq!(active.status, 201);
    let active_id = active.json()["id"].as_str().expect("id").to_owned();

    // Writers create scheduled windows in a loop; the gateway is killed mid-stream.
    let acked = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let admin = first.admin;
    let start = rfc3339(SystemTime::now() + Duration::from_secs(86_400));
    let mut writers = Vec::new();
    for _ in 0..2 {
        let (acked, start) = (acked.clone(), start.clone());
        writers.push(tokio::spawn(async move {
            let client = h1();
            for i in 0..500 {
                let req = Request::post(format!("http://{admin}/v1/windows"))
                    .header("authorization", format!("Bearer {TOKEN}"))
                    .header("content-type", "application/json")
                    .body(full(serde_json::json!({"starts_at": start, "duration_seconds": 60, "message": format!("w{i}")}).to_string()))
                    .expect("request");
                // After the kill, requests fail: stop there.
                let Ok(Ok(resp)) = tokio::time::timeout(Duration::from_secs(5), client.request(req)).await else {
                    break;
                };
                if resp.status() != 201 {
                    break;
                }
                let body = http_body_util::BodyExt::collect(resp.into_body()).await;
                let Ok(body) = body else { break };
                let v: serde_json::Value = serde_json::from_slice(&body.to_bytes()).expect("json");
                acked.lock().expect("lock").push(v["id"].as_str().expect("id").to_owned());
            }
        }));
    }
    // Let some writes land, then SIGKILL.
    eventually(
        Duration::from_secs(30),
        "some windows acknowledged",
        async || acked.lock().expect("lock").len() >= 20,
    )
    .await;
    let mut first = first;
    first.signal("KILL");
    first.wait_exit(Duration::from_secs(10)).await;
    for w in writers {
        w.await.expect("writer");
    }
    let acked = acked.lock().expect("lock").clone();
    assert!(acked.len() >= 20, "{} acknowledged", acked.len());

    // Restart on the same data directory.
    let second = Served::start(
        &args("127.0.0.1:0")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    // The very first request is refused by the window that was active.
    let got = get(&second.url("/"), &[]).await;
    let p = assert_problem(&got, 503, "maintenance");
    assert_eq!(
        (p["window_id"].as_str(), p["message"].as_str()),
        (Some(active_id.as_str()), Some("survives"))
    );
    // Every acknowledged window is there.
    let list = api(second.admin, "GET", "/v1/windows?state=all", None)
        .await
        .json();
    let ids: std::collections::HashSet<&str> = list["windows"]
        .as_array()
        .expect("windows")
        .iter()
        .map(|w| w["id"].as_str().expect("id"))
        .collect();
    let lost: Vec<&String> = acked
        .iter()
        .filter(|id| !ids.contains(id.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "acknowledged but lost after kill -9: {lost:?}"
    );
    // And the audit log has an entry for each.
    let audit = api(second.admin, "GET", "/v1/audit?limit=1000", None)
        .await
        .json();
    let audited = audit["entries"].as_array().expect("entries").len();
    assert!(
        audited > acked.len(),
        "{audited} audit entries for {} windows",
        acked.len() + 1
    );
}

/// With no traffic at all, the gateway notices a window's start and end on
/// its own: the gauge moves at the boundaries.
#[tokio::test]
async fn the_gateway_notices_starts_and_ends_without_any_request() {
    let up = named("app").await;
    let gw = Gw::to_with(up.addr, "", overrides()).await;
    let (start, end, _) = schedule(gw.admin, 2).await;
    let gauge = async || {
        let text = get(&gw.admin_url("/metrics"), &[]).await.text();
        text.lines()
            .find_map(|l| l.strip_prefix("levee_maintenance_windows_active "))
            .and_then(|v| v.trim().parse::<i64>().ok())
            .expect("the gauge is exported")
    };
    assert_eq!(gauge().await, 0);
    let mut seen = Vec::new();
    let until = SystemTime::now() + Duration::from_secs(10);
    let mut last = 0;
    while SystemTime::now() < until && seen.len() < 2 {
        let g = gauge().await;
        if g != last {
            seen.push((g, SystemTime::now()));
            last = g;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen.iter().map(|(g, _)| *g).collect::<Vec<_>>(), [1, 0]);
    for ((_, at), due) in seen.iter().zip([start, end]) {
        let late = at.duration_since(due).unwrap_or_default();
        assert!(
            *at >= due && late < Duration::from_secs(1),
            "moved {late:?} after its time"
        );
    }
    assert!(up.seen().is_empty(), "no request went through the gateway");
}

/// Rotating a credential needs no restart: the token file is re-read on
/// SIGHUP (and when it changes); a token file with a bad line is refused and
/// the tokens in force stay, as a bad configuration does; an emptied or
/// deleted file revokes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_tokens_rotate_on_reload_and_a_bad_token_file_changes_nothing() {
    const NEW: &str = "bob-token-9876543210abc";
    let up = Upstream::echo().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("alice:{TOKEN}\n")).expect("write");
    let mut args = zero_config(&up.url());
    args.extend(["--admin-token-file".into(), tokens.display().to_string()]);
    let served = Served::start(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let status = async |token: &str| {
        call(served.admin, "GET", "/v1/windows", None, Some(token))
            .await
            .status
    };
    assert_eq!(status(TOKEN).await, 200);
    assert_eq!(status(NEW).await, 401);

    // Rotate: bob in, alice out.
    std::fs::write(&tokens, format!("bob:{NEW}\n")).expect("write");
    served.signal("HUP");
    eventually(Duration::from_secs(10), "the new token works", async || {
        status(NEW).await == 200
    })
    .await;
    assert_eq!(status(TOKEN).await, 401, "the old token no longer works");

    // A bad file: logged with its place, and bob keeps working.
    std::fs::write(&tokens, "carol:short\n").expect("write");
    served.signal("HUP");
    let path = tokens.display().to_string();
    eventually(
        Duration::from_secs(10),
        "the bad file is refused",
        async || served.logged(&format!("{path}:1: the token is too short")),
    )
    .await;
    assert!(served.logged("configuration rejected"));
    assert_eq!(status(NEW).await, 200, "the tokens in force stay");

    // Issue 11: emptying the file revokes its tokens (a credential fails
    // closed), and so does deleting it; the file watch sees both.
    std::fs::write(&tokens, "# nobody\n").expect("write");
    eventually(
        Duration::from_secs(10),
        "an emptied file revokes",
        async || status(NEW).await == 401,
    )
    .await;
    assert!(served.logged("its tokens are revoked"));
    std::fs::write(&tokens, format!("bob:{NEW}\n")).expect("write");
    eventually(Duration::from_secs(10), "bob is back", async || {
        status(NEW).await == 200
    })
    .await;
    std::fs::remove_file(&tokens).expect("delete");
    eventually(
        Duration::from_secs(10),
        "a deleted file revokes",
        async || status(NEW).await == 401,
    )
    .await;
}
