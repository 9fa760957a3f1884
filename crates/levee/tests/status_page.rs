//! Issue 13: the status page, fed by what the gateway sees. A pool going
//! down turns its component to `major_outage` and opens an incident within
//! the configured delay, and its recovery resolves it; a maintenance window
//! is `under_maintenance` and a scheduled maintenance; every 503 links the
//! page; the documents are Statuspage v2 (checked against the schema and read
//! by a third-party client); the HTML renders in Chromium; webhooks are
//! delivered and signed; the history survives `kill -9`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::maintenance::{api, overrides};
use crate::outage::{free_port, serve_on};
use crate::support::*;

/// Quick thresholds so that tests see changes within seconds.
const FAST: &str = "[status]\nraise_after = \"1s\"\nclear_after = \"1s\"\nwindow = \"1s\"\nincident_after = \"1s\"\nmin_requests = 1\n";

async fn status_doc(gw: SocketAddr, doc: &str) -> serde_json::Value {
    let got = get(&format!("http://{gw}/_levee/status/api/v2/{doc}"), &[]).await;
    assert_eq!(got.status, 200, "{doc}: {}", got.text());
    assert_eq!(got.header("content-type"), Some("application/json"));
    got.json()
}

async fn component_status(gw: SocketAddr, id: &str) -> String {
    let doc = status_doc(gw, "components.json").await;
    doc["components"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["id"] == id))
        .and_then(|c| c["status"].as_str())
        .unwrap_or("missing")
        .to_owned()
}

/// Issue 13 "done means": a pool going down flips its component to
/// `major_outage` and opens an incident within the configured delay; its
/// recovery brings the component back and resolves the incident.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_going_down_opens_an_incident_and_its_recovery_resolves_it() {
    let addr = free_port();
    let upstream = serve_on(addr).await;
    let gw = Gw::start_with(
        &format!(
            "{FAST}[[pools]]\nname = \"app\"\nendpoints = [\"{addr}\"]\n\
             health_check = {{ path = \"/healthz\", interval = \"100ms\", unhealthy_threshold = 1, healthy_threshold = 1 }}\n\
             [[routes]]\nname = \"api\"\npool = \"app\"\n"
        ),
        overrides(),
    )
    .await;
    assert_eq!(get(&gw.url("/x"), &[]).await.status, 200);
    assert_eq!(component_status(gw.addr, "api").await, "operational");
    let status = status_doc(gw.addr, "status.json").await;
    assert_eq!(status["status"]["indicator"], "none");

    // The service crashes: its listener and connections are gone.
    upstream.abort();
    let _ = upstream.await;
    eventually(
        Duration::from_secs(15),
        "the component shows a major outage",
        async || {
            let _ = get(&gw.url("/y"), &[]).await;
            component_status(gw.addr, "api").await == "major_outage"
        },
    )
    .await;
    eventually(Duration::from_secs(15), "an incident opens", async || {
        let doc = status_doc(gw.addr, "incidents/unresolved.json").await;
        doc["incidents"].as_array().is_some_and(|i| i.len() == 1)
    })
    .await;
    let open = status_doc(gw.addr, "incidents/unresolved.json").await;
    let incident = &open["incidents"][0];
    assert_eq!(incident["status"], "investigating");
    assert_eq!(incident["impact"], "critical");
    assert_eq!(incident["components"][0]["id"], "api");
    let words = incident["incident_updates"][0]["body"]
        .as_str()
        .unwrap_or_default();
    assert!(words.contains("pool"), "the update says why: {words}");
    let status = status_doc(gw.addr, "status.json").await;
    assert_eq!(status["status"]["indicator"], "critical");
    // The refusals while it is down link the page.
    let refused = get(&gw.url("/z"), &[]).await;
    assert_eq!(refused.status, 503);
    assert_eq!(
        refused.json()["status_page"],
        format!("http://{}/_levee/status/", gw.addr)
    );

    let _back = serve_on(addr).await;
    eventually(
        Duration::from_secs(20),
        "the component is operational again",
        async || {
            let _ = get(&gw.url("/w"), &[]).await;
            component_status(gw.addr, "api").await == "operational"
        },
    )
    .await;
    eventually(
        Duration::from_secs(10),
        "the incident is resolved",
        async || {
            let doc = status_doc(gw.addr, "incidents/unresolved.json").await;
            doc["incidents"].as_array().is_some_and(Vec::is_empty)
        },
    )
    .await;
    // Every change is recorded with the signal that caused it.
    let changes = api(gw.admin, "GET", "/v1/components/api/changes", None).await;
    assert_eq!(changes.status, 200, "{}", changes.text());
    let changes = changes.json();
    let list = changes["changes"].as_array().cloned().unwrap_or_default();
    assert!(list.len() >= 2, "{changes}");
    assert_eq!(list[0]["to"], "operational", "newest first: {changes}");
    assert!(
        list.iter().any(
            |c| c["to"] == "major_outage" && c["cause"].as_str().is_some_and(|w| !w.is_empty())
        ),
        "{changes}"
    );
    let all = status_doc(gw.addr, "incidents.json").await;
    let resolved = &all["incidents"][0];
    assert_eq!(resolved["status"], "resolved");
    assert!(resolved["resolved_at"].is_string());
    assert!(
        resolved["incident_updates"]
            .as_array()
            .is_some_and(|u| u.len() >= 2),
        "opened and resolved: {resolved}"
    );
}

/// A maintenance window in force shows its components `under_maintenance`
/// and is the active scheduled maintenance; a later one is upcoming. Both
/// come from the windows themselves: nothing was entered twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_windows_are_the_scheduled_maintenance() {
    let upstream = Upstream::echo().await;
    let now = SystemTime::now();
    let later = levee_http::maintenance::rfc3339(now + Duration::from_secs(86_400));
    let later_end = levee_http::maintenance::rfc3339(now + Duration::from_secs(90_000));
    let gw = Gw::start(&format!(
        "{FAST}[[pools]]\nname = \"app\"\nendpoints = [\"{}\"]\n\
         [[routes]]\nname = \"api\"\npool = \"app\"\nhost = \"api.test\"\n\
         [[routes]]\nname = \"web\"\npool = \"app\"\n\
         [maintenance]\n[[maintenance.windows]]\nname = \"now\"\nroute = \"api\"\nmessage = \"Database upgrade\"\n\
         [[maintenance.windows]]\nname = \"later\"\nroute = \"web\"\nstarts_at = \"{later}\"\nends_at = \"{later_end}\"\nmessage = \"Disk swap\"\n",
        upstream.addr
    ))
    .await;
    eventually(
        Duration::from_secs(5),
        "api is under maintenance",
        async || component_status(gw.addr, "api").await == "under_maintenance",
    )
    .await;
    assert_eq!(component_status(gw.addr, "web").await, "operational");
    let active = status_doc(gw.addr, "scheduled-maintenances/active.json").await;
    let m = &active["scheduled_maintenances"];
    assert_eq!(m.as_array().map(Vec::len), Some(1), "{active}");
    assert_eq!(m[0]["status"], "in_progress");
    assert_eq!(m[0]["impact"], "maintenance");
    assert_eq!(m[0]["components"][0]["id"], "api");
    let upcoming = status_doc(gw.addr, "scheduled-maintenances/upcoming.json").await;
    let u = &upcoming["scheduled_maintenances"];
    assert_eq!(u.as_array().map(Vec::len), Some(1), "{upcoming}");
    assert_eq!(u[0]["status"], "scheduled");
    assert!(
        u[0]["scheduled_for"]
            .as_str()
            .is_some_and(|s| s.starts_with(&later[..16]))
    );
    let summary = status_doc(gw.addr, "summary.json").await;
    assert_eq!(
        summary["scheduled_maintenances"].as_array().map(Vec::len),
        Some(2),
        "upcoming and in progress: {summary}"
    );
    assert_eq!(
        summary["status"]["description"],
        "Service Under Maintenance"
    );
}

/// Every 503 carries the status page: a `status_page` member and
/// `Link: <…>; rel="status"` (RFC 8631); the configured public URL wins.
#[tokio::test]
async fn refusals_link_the_status_page() {
    let upstream = Upstream::echo().await;
    let gw = Gw::to(
        upstream.addr,
        "[status]\nurl = \"https://status.example.com/\"\n[maintenance]\n[[maintenance.windows]]\nname = \"now\"\nmessage = \"upgrade\"\n",
    )
    .await;
    let got = get(&gw.url("/a"), &[("accept", "application/json")]).await;
    let problem = assert_problem(&got, 503, "maintenance");
    assert_eq!(problem["status_page"], "https://status.example.com/");
    assert_eq!(
        got.header("link"),
        Some("<https://status.example.com/>; rel=\"status\"")
    );
    let page = get(&gw.url("/a"), &[("accept", "text/html")]).await;
    assert!(
        page.text().contains("href=\"https://status.example.com/\""),
        "the maintenance page links it: {}",
        page.text()
    );
    // `levee fetch` gives up on an open-ended window and says where to look.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_levee"))
        .args(["fetch", &gw.url("/a")])
        .output()
        .await
        .expect("levee fetch runs");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("status page:   https://status.example.com/"),
        "{said}"
    );
}

/// `[status] listen` serves the same documents at `/` of its own address;
/// `enabled = false` turns the page and its links off.
#[tokio::test]
async fn its_own_listener_and_off() {
    let upstream = Upstream::echo().await;
    let port = free_port();
    let gw = Gw::to(
        upstream.addr,
        &format!("[status]\nname = \"Own\"\nlisten = \"{port}\"\non_traffic_listener = false\n"),
    )
    .await;
    let own = gw.gateway.status_addr().expect("the status listener");
    let status = get(&format!("http://{own}/api/v2/status.json"), &[]).await;
    assert_eq!(status.status, 200);
    assert_eq!(status.json()["page"]["name"], "Own");
    let html = get(&format!("http://{own}/"), &[]).await;
    assert!(html.text().contains("Own"));
    // Not on the traffic listener: that path goes to the upstream.
    let _ = get(&gw.url("/_levee/status/"), &[]).await;
    assert!(
        upstream
            .seen()
            .iter()
            .any(|s| s.uri.path() == "/_levee/status/")
    );

    let off = Gw::to(
        upstream.addr,
        "[status]\nenabled = false\n[maintenance]\n[[maintenance.windows]]\nname = \"now\"\n",
    )
    .await;
    let refused = get(&off.url("/b"), &[]).await;
    assert_eq!(refused.status, 503);
    assert!(refused.header("link").is_none());
    assert!(refused.json().get("status_page").is_none());
}

/// The page and its API are served from memory with validators: a second
/// read with `If-None-Match` is a 304, and the HTML links the feed and API.
#[tokio::test]
async fn the_page_is_cacheable_and_revalidates() {
    let upstream = Upstream::echo().await;
    let gw = Gw::to(upstream.addr, "").await;
    let bare = get(&gw.url("/_levee/status"), &[]).await;
    assert_eq!(bare.status, 301);
    assert_eq!(bare.header("location"), Some("/_levee/status/"));
    let page = get(&gw.url("/_levee/status/"), &[]).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let cc = page.header("cache-control").unwrap_or_default().to_owned();
    assert!(cc.contains("max-age=10"), "{cc}");
    let etag = page.header("etag").expect("an ETag").to_owned();
    let again = get(&gw.url("/_levee/status/"), &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, 304);
    // Gzipped for clients that take it: a fraction of the bytes.
    let gz = get(
        &gw.url("/_levee/status/"),
        &[("accept-encoding", "gzip, br")],
    )
    .await;
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gz.header("vary"), Some("Accept-Encoding"));
    let plain_len = page
        .header("content-length")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(0);
    let gz_len = gz
        .header("content-length")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(usize::MAX);
    assert!(gz_len * 3 < plain_len, "{gz_len} gzipped vs {plain_len}");
    let html = page.text();
    assert!(html.contains("history.atom") && html.contains("api/v2/summary.json"));
    let feed = get(&gw.url("/_levee/status/history.atom"), &[]).await;
    assert_eq!(feed.status, 200);
    assert!(feed.text().contains("<feed"));
}

/// The documents validate against the Statuspage v2 shapes (the JSON Schema
/// in docs/) and a third-party Statuspage client (npm `statuspage.io`)
/// reads the page: indicator, components, incidents and maintenance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_is_statuspage_v2_for_a_third_party_client() {
    let upstream = Upstream::echo().await;
    let later = levee_http::maintenance::rfc3339(SystemTime::now() + Duration::from_secs(3600));
    let later_end = levee_http::maintenance::rfc3339(SystemTime::now() + Duration::from_secs(5400));
    let gw = Gw::start_with(
        &format!(
            "[[pools]]\nname = \"app\"\nendpoints = [\"{}\"]\n[[routes]]\nname = \"api\"\npool = \"app\"\n\
             [status]\nname = \"Example\"\n[[status.components]]\nname = \"Public API\"\ngroup = \"Core\"\nroutes = [\"api\"]\n\
             [maintenance]\n[[maintenance.windows]]\nname = \"later\"\nstarts_at = \"{later}\"\nends_at = \"{later_end}\"\nmessage = \"Upgrade\"\n",
            upstream.addr
        ),
        overrides(),
    )
    .await;
    let opened = api(
        gw.admin,
        "POST",
        "/v1/incidents",
        Some(serde_json::json!({"name": "Slow logins", "body": "We are looking into slow logins.", "impact": "minor", "components": ["public-api"]})),
    )
    .await;
    assert_eq!(opened.status, 201, "{}", opened.text());
    let base = format!("http://{}/_levee/status/api/v2", gw.addr);

    // The schema: every document.
    let schema = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/statuspage-v2.schema.json");
    if let Some(venv) = python_venv("jsonschema", &["jsonschema"], "jsonschema").await {
        let script = r##"
import json, sys, urllib.request, jsonschema
schema = json.load(open(sys.argv[1]))
base = sys.argv[2]
docs = {"status.json": "status", "summary.json": "summary", "components.json": "components",
        "incidents.json": "incidents", "incidents/unresolved.json": "incidents",
        "scheduled-maintenances.json": "scheduled_maintenances",
        "scheduled-maintenances/upcoming.json": "scheduled_maintenances",
        "scheduled-maintenances/active.json": "scheduled_maintenances"}
for path, name in docs.items():
    doc = json.load(urllib.request.urlopen(base + "/" + path))
    sub = dict(schema); sub["$ref"] = "#/$defs/" + name
    sub.pop("oneOf", None); sub.pop("anyOf", None)
    jsonschema.validate(doc, sub)
    print("valid", path)
"##;
        let out = run(
            venv.join("bin/python"),
            &["-c", script, &schema.to_string_lossy(), &base],
            std::path::Path::new("."),
        )
        .await
        .expect("every document validates against docs/statuspage-v2.schema.json");
        assert_eq!(out.matches("valid ").count(), 8, "{out}");
    } else {
        skip("python3 with pip is needed for the JSON Schema check");
    }

    // A third-party client.
    let Some(node_out) = statuspage_client(&base).await else {
        return;
    };
    let read: serde_json::Value =
        serde_json::from_str(node_out.trim()).unwrap_or_else(|e| panic!("{e}: {node_out}"));
    assert_eq!(read["indicator"], "minor", "{read}");
    assert_eq!(read["description"], "Minor Service Outage", "{read}");
    let comps = read["components"].to_string();
    assert!(
        comps.contains("Public API") && comps.contains("operational"),
        "{read}"
    );
    assert!(
        comps.contains("\"Core\"") && comps.contains("\"group\":true"),
        "{read}"
    );
    assert_eq!(read["unresolved_incidents"][0], "Slow logins", "{read}");
    assert_eq!(
        read["scheduled_maintenances"].as_array().map(Vec::len),
        Some(1),
        "{read}"
    );
}

/// Runs crates/levee/tests/statuspage-client/read.js against `base` (npm
/// and the package installed when missing); its one line of JSON.
async fn statuspage_client(base: &str) -> Option<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/statuspage-client");
    if run("node", &["--version"], &dir).await.is_none() {
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
        if !root {
            skip("node is not installed and cannot be");
            return None;
        }
        run("apt-get", &["update", "-qq"], &dir).await;
        run("apt-get", &["install", "-y", "-qq", "nodejs", "npm"], &dir)
            .await
            .expect("apt-get installs nodejs and npm");
    }
    if !dir.join("node_modules").exists() {
        run(
            "npm",
            &["install", "--no-audit", "--no-fund", "--silent"],
            &dir,
        )
        .await
        .expect("npm installs the client library");
    }
    Some(
        run("node", &["read.js", base], &dir)
            .await
            .expect("the client reads the page"),
    )
}

/// The HTML page in headless Chromium: the components, the incident and its
/// update are there, and a screenshot is kept at
/// `target/test-artifacts/status-page.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_renders_in_chromium() {
    let Some(chromium) = crate::maintenance_page::chromium().await else {
        return;
    };
    let upstream = Upstream::echo().await;
    let gw = Gw::start_with(
        &format!(
            "[[pools]]\nname = \"app\"\nendpoints = [\"{}\"]\n[[routes]]\nname = \"api\"\npool = \"app\"\nhost = \"api.test\"\n\
             [[routes]]\nname = \"web\"\npool = \"app\"\n\
             [status]\nname = \"Example status\"\n\
             [[status.components]]\nname = \"Public API\"\ndescription = \"REST and gRPC\"\ngroup = \"Core\"\nroutes = [\"api\"]\n\
             [[status.components]]\nname = \"Website\"\nroutes = [\"web\"]\n",
            upstream.addr
        ),
        overrides(),
    )
    .await;
    for _ in 0..20 {
        let _ = get(&gw.url("/"), &[]).await;
    }
    // Let a once-a-second evaluation count them into today's bar.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let opened = api(
        gw.admin,
        "POST",
        "/v1/incidents",
        Some(serde_json::json!({"name": "Elevated errors on the API", "body": "Some requests fail; we are on it.", "status": "identified", "impact": "major", "components": ["public-api"]})),
    )
    .await;
    assert_eq!(opened.status, 201, "{}", opened.text());
    let pinned = api(
        gw.admin,
        "PUT",
        "/v1/components/public-api/pin",
        Some(serde_json::json!({"status": "partial_outage", "note": "EU only"})),
    )
    .await;
    assert_eq!(pinned.status, 200, "{}", pinned.text());
    let url = gw.url("/_levee/status/");
    let browser = crate::maintenance_page::Browser::new(chromium);
    let dom = browser.dump_dom(&url).await;
    for needle in [
        "Example status",
        "Public API",
        "Website",
        "Elevated errors on the API",
        "Some requests fail; we are on it.",
        "Partial outage",
    ] {
        assert!(dom.contains(needle), "`{needle}` on the page:\n{dom}");
    }
    let png = crate::maintenance_page::artifacts_dir().join("status-page.png");
    let _ = std::fs::remove_file(&png);
    browser.screenshot(&url, &png, (1280, 1100)).await;
    let bytes = std::fs::read(&png).expect("the screenshot was written");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert!(
        bytes.len() > 10_000,
        "a page, not a blank: {} bytes",
        bytes.len()
    );
    println!("status page screenshot: {}", png.display());
}

/// One request a webhook receiver got.
#[derive(Debug, Clone)]
struct Hook {
    method: http::Method,
    path: String,
    headers: http::HeaderMap,
    body: bytes::Bytes,
}

/// A webhook receiver on 127.0.0.1:0 that keeps every request, body included.
async fn receiver() -> (SocketAddr, Arc<std::sync::Mutex<Vec<Hook>>>) {
    use http_body_util::BodyExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen: Arc<std::sync::Mutex<Vec<Hook>>> = Arc::default();
    let keep = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let keep = keep.clone();
            tokio::spawn(async move {
                let svc =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let keep = keep.clone();
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            keep.lock().expect("lock").push(Hook {
                                method: parts.method,
                                path: parts.uri.path().to_owned(),
                                headers: parts.headers,
                                body,
                            });
                            Ok::<_, std::convert::Infallible>(http::Response::new(full("thanks")))
                        }
                    });
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                .await;
            });
        }
    });
    (addr, seen)
}

/// Webhook subscribers get Statuspage's payload for a component change,
/// signed with HMAC-SHA256 over the timestamp and the body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_delivered_signed() {
    let (hook_addr, hooks) = receiver().await;
    let upstream = Upstream::echo().await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("secret"), "s3cret-webhook-key\n").expect("secret");
    let toml = format!(
        "[[pools]]\nname = \"app\"\nendpoints = [\"{}\"]\n[[routes]]\nname = \"api\"\npool = \"app\"\n\
         [status]\n[[status.webhooks]]\nurl = \"http://{}/hook\"\nsecret_file = \"secret\"\n\
         [[listeners]]\nlisten = \"127.0.0.1:0\"\n[admin]\nlisten = \"127.0.0.1:0\"\n",
        upstream.addr, hook_addr
    );
    let path = dir.path().join("levee.toml");
    std::fs::write(&path, &toml).expect("config");
    let cfg = levee_control::config::load(&toml, &path, &overrides()).expect("config loads");
    let gateway = levee_control::gateway::Gateway::start(cfg)
        .await
        .expect("starts");
    let admin = gateway.admin_addr().expect("admin");
    let pinned = api(
        admin,
        "PUT",
        "/v1/components/api/pin",
        Some(serde_json::json!({"status": "major_outage"})),
    )
    .await;
    assert_eq!(pinned.status, 200, "{}", pinned.text());
    eventually(Duration::from_secs(10), "the hook is called", async || {
        hooks
            .lock()
            .expect("lock")
            .iter()
            .any(|h| h.path == "/hook")
    })
    .await;
    let hook = hooks
        .lock()
        .expect("lock")
        .iter()
        .find(|h| h.path == "/hook")
        .cloned()
        .expect("seen");
    assert_eq!(hook.method, http::Method::POST);
    assert_eq!(
        hook.headers
            .get("x-levee-event")
            .and_then(|v| v.to_str().ok()),
        Some("component.update")
    );
    let body: serde_json::Value = serde_json::from_slice(&hook.body).expect("JSON payload");
    assert_eq!(body["component_update"]["new_status"], "major_outage");
    assert_eq!(body["component_update"]["old_status"], "operational");
    assert_eq!(body["component"]["id"], "api");
    let sig = hook
        .headers
        .get("x-levee-signature")
        .and_then(|v| v.to_str().ok())
        .expect("signed")
        .to_owned();
    let (t, v1) = sig
        .split_once(',')
        .and_then(|(t, v)| Some((t.strip_prefix("t=")?, v.strip_prefix("v1=")?)))
        .unwrap_or_else(|| panic!("t=…,v1=…: {sig}"));
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"s3cret-webhook-key").expect("key");
    mac.update(format!("{t}.").as_bytes());
    mac.update(&hook.body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(v1, expected, "the signature verifies");
}

/// Incidents, pins and component history are in SQLite before the API
/// answers: a `kill -9` right after loses none of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_survives_kill_9() {
    let upstream = Upstream::echo().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("alice:{}\n", crate::maintenance::TOKEN)).expect("tokens");
    let data = dir.path().join("data");
    let upstream_url = upstream.url();
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--admin",
        "127.0.0.1:0",
        "--upstream",
        &upstream_url,
        "--admin-token-file",
        &tokens.to_string_lossy(),
        "--data-dir",
        &data.to_string_lossy(),
    ];
    let first = Served::start(&args);
    let opened = api(
        first.admin,
        "POST",
        "/v1/incidents",
        Some(serde_json::json!({"name": "Payment delays", "body": "Investigating."})),
    )
    .await;
    assert_eq!(opened.status, 201, "{}", opened.text());
    let components = api(first.admin, "GET", "/v1/components", None).await.json();
    let id = components["components"][0]["id"]
        .as_str()
        .expect("a component")
        .to_owned();
    let pinned = api(
        first.admin,
        "PUT",
        &format!("/v1/components/{id}/pin"),
        Some(serde_json::json!({"status": "degraded_performance", "note": "slow"})),
    )
    .await;
    assert_eq!(pinned.status, 200, "{}", pinned.text());
    let mut first = first;
    let _ = first.child.kill(); // SIGKILL
    let _ = first.child.wait();

    let second = Served::start(&args);
    let incidents = get(
        &second.url("/_levee/status/api/v2/incidents/unresolved.json"),
        &[],
    )
    .await
    .json();
    assert_eq!(
        incidents["incidents"][0]["name"], "Payment delays",
        "{incidents}"
    );
    let comps = get(&second.url("/_levee/status/api/v2/components.json"), &[])
        .await
        .json();
    assert_eq!(
        comps["components"][0]["status"], "degraded_performance",
        "{comps}"
    );
    let audit = api(second.admin, "GET", "/v1/audit", None).await.json();
    let actions = audit["entries"].to_string();
    assert!(
        actions.contains("incident.open") && actions.contains("component.pin"),
        "{audit}"
    );
}

fn load_err(toml: &str) -> String {
    match levee_control::config::load(
        toml,
        std::path::Path::new("levee.toml"),
        &levee_control::config::Overrides::default(),
    ) {
        Ok(_) => panic!("accepted:\n{toml}"),
        Err(e) => e.to_string(),
    }
}

/// A bad `[status]` is refused with its file, line and what was expected.
#[test]
fn status_settings_are_validated_with_locations() {
    let base = "[[pools]]\nname = \"a\"\nendpoints = [\"127.0.0.1:1\"]\n[[routes]]\nname = \"api\"\npool = \"a\"\n[status]\n";
    let e = load_err(&format!(
        "{base}[[status.components]]\nname = \"API\"\nroutes = [\"nope\"]\n"
    ));
    assert!(
        e.contains("names the route `nope`, which is not defined") && e.contains("levee.toml:10:"),
        "{e}"
    );
    let e = load_err(&format!("{base}[[status.components]]\nname = \"API\"\n"));
    assert!(e.contains("covers nothing"), "{e}");
    let e = load_err(&format!(
        "{base}[[status.components]]\nname = \"A B\"\nroutes = [\"api\"]\n[[status.components]]\nname = \"a-b\"\nroutes = [\"api\"]\n"
    ));
    assert!(e.contains("same id (`a-b`)"), "{e}");
    let e = load_err(&format!("{base}url = \"status.example.com\"\n"));
    assert!(
        e.contains("invalid status url") && e.contains("levee.toml:8:"),
        "{e}"
    );
    let e = load_err(&format!("{base}raise_after = \"0s\"\n"));
    assert!(e.contains("out of range"), "{e}");
    let e = load_err(&format!("{base}partial_share = 0.5\nmajor_share = 0.2\n"));
    assert!(e.contains("must not be above"), "{e}");
    let e = load_err(&format!("{base}incident_after = \"soon\"\n"));
    assert!(e.contains("incident_after") && e.contains("\"off\""), "{e}");
    let e = load_err(&format!("{base}[[status.webhooks]]\nurl = \"ftp://x\"\n"));
    assert!(e.contains("invalid webhook url"), "{e}");
}

/// An upstream's own 503 passes through with the status page linked too
/// (unless it linked one itself), beside the `Retry-After` Levee adds.
#[tokio::test]
async fn an_upstreams_503_links_the_status_page_too() {
    let upstream = Upstream::start(|s: Seen| async move {
        let mut resp = http::Response::new(full("busy"));
        *resp.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
        if s.uri.path() == "/own" {
            resp.headers_mut().insert(
                "link",
                http::HeaderValue::from_static(
                    "<https://status.upstream.example/>; rel=\"status\"",
                ),
            );
        }
        resp
    })
    .await;
    let gw = Gw::to(upstream.addr, "").await;
    let got = get(&gw.url("/a"), &[]).await;
    assert_eq!(got.status, 503);
    assert_eq!(got.text(), "busy");
    assert_eq!(got.header("retry-after"), Some("1"));
    assert_eq!(
        got.header("link"),
        Some(format!("<http://{}/_levee/status/>; rel=\"status\"", gw.addr).as_str())
    );
    let own = get(&gw.url("/own"), &[]).await;
    assert_eq!(
        own.header("link"),
        Some("<https://status.upstream.example/>; rel=\"status\"")
    );
}

/// Clients that give up on a hanging upstream get no answer at all (the
/// gateway logs `499`): from their side the route is down, and the page
/// says so rather than "operational".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_their_clients_gave_up_on_are_an_outage() {
    let upstream = Upstream::start(|_s: Seen| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        http::Response::new(full("late"))
    })
    .await;
    let gw = Gw::start(&format!(
        "{FAST}[[pools]]\nname = \"app\"\nendpoints = [\"{}\"]\n[[routes]]\nname = \"api\"\npool = \"app\"\n",
        upstream.addr
    ))
    .await;
    eventually(
        Duration::from_secs(20),
        "the route shows an outage",
        async || {
            let _ =
                tokio::time::timeout(Duration::from_millis(1200), get(&gw.url("/hang"), &[])).await;
            let status = component_status(gw.addr, "api").await;
            status == "major_outage" || status == "partial_outage"
        },
    )
    .await;
}
