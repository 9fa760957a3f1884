//! The admin CLI as an operator runs it: the real `levee` binary driving the
//! admin API of a real `levee serve` (its own data directory and token file),
//! with requests through the gateway to see what each command did.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use http::Response;

use crate::support::*;

const TOKEN: &str = "alice-token-0123456789";

/// What one `levee` command did.
#[derive(Debug)]
pub(crate) struct Ran {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Ran {
    /// Asserts exit 0 and returns stdout.
    pub(crate) fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "expected success:\n{self:#?}");
        &self.stdout
    }

    /// Asserts exit `code` and returns stderr.
    pub(crate) fn failed(&self, code: i32) -> &str {
        assert_eq!(self.code, code, "expected exit {code}:\n{self:#?}");
        &self.stderr
    }

    /// Asserts exit 0 and parses stdout as JSON.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.ok())
            .unwrap_or_else(|e| panic!("--json printed no JSON ({e}):\n{self:#?}"))
    }
}

/// A gateway (`levee serve`) in front of one upstream, with an operator's
/// token (alice's unless said), and the operator's side of it: `levee`
/// commands pointed at its admin API.
pub(crate) struct Ops {
    /// Kept alive for the gateway's lifetime.
    _up: Upstream,
    /// The upstream's `host:port`, as the pool `default` names it.
    endpoint: String,
    pub(crate) gw: Served,
    dir: tempfile::TempDir,
    tokens: PathBuf,
}

impl Ops {
    async fn start() -> Ops {
        Ops::start_as("alice", TOKEN).await
    }

    /// The gateway, with `name`'s `token` in its token file.
    pub(crate) async fn start_as(name: &str, token: &str) -> Ops {
        let up = Upstream::start(|_| async { Response::new(full("app")) }).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let tokens = dir.path().join("tokens");
        std::fs::write(&tokens, format!("# operators\n{name}:{token}\n")).expect("write tokens");
        let data = dir.path().join("data");
        let upstream = format!("http://{}", up.addr);
        let gw = Served::start(&[
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            &upstream,
            "--admin",
            "127.0.0.1:0",
            "--data-dir",
            &data.display().to_string(),
            "--admin-token-file",
            &tokens.display().to_string(),
        ]);
        Ops {
            endpoint: up.addr.to_string(),
            _up: up,
            gw,
            dir,
            tokens,
        }
    }

    /// `levee ARGS --admin ADDR --token-file TOKENS`.
    pub(crate) async fn levee(&self, args: &[&str]) -> Ran {
        let admin = self.gw.admin.to_string();
        let tokens = self.tokens.display().to_string();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--admin", &admin, "--token-file", &tokens]);
        run(&all, &[]).await
    }

    /// A request through the gateway.
    async fn get(&self) -> Got {
        get(&self.gw.url("/orders"), &[]).await
    }
}

/// Runs `levee ARGS` with only `env` from the admin variables.
async fn run(args: &[&str], env: &[(&str, &str)]) -> Ran {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_levee"));
    cmd.args(args)
        .env_remove("LEVEE_ADMIN")
        .env_remove("LEVEE_ADMIN_TOKEN")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("levee {args:?} did not finish within 60 s"))
        .expect("levee runs");
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The window id in `window w_… created: …`.
fn created_id(stdout: &str) -> String {
    stdout
        .split_whitespace()
        .find(|w| w.starts_with("w_"))
        .map(|w| w.trim_end_matches(':').to_owned())
        .unwrap_or_else(|| panic!("no window id in:\n{stdout}"))
}

#[tokio::test]
async fn a_window_from_start_to_delete_through_the_cli() {
    let ops = Ops::start().await;
    assert_eq!(ops.get().await.status, 200);

    // Start: the window, how long it has left, and how to end it.
    let ran = ops
        .levee(&[
            "maint",
            "start",
            "--for",
            "10m",
            "--message",
            "Database upgrade",
        ])
        .await;
    let out = ran.ok();
    let id = created_id(out);
    assert!(
        out.starts_with(&format!("window {id} created: active, ends in 9m 5")),
        "{out}"
    );
    assert!(out.contains("message  Database upgrade"), "{out}");
    assert!(
        out.contains("created  ") && out.contains(" by alice"),
        "{out}"
    );
    assert!(
        out.contains(&format!("levee maint end {id} --admin ")),
        "{out}"
    );

    // In force: requests get 503 maintenance with the message.
    let p = assert_problem(&ops.get().await, 503, "maintenance");
    assert_eq!(p["message"], "Database upgrade");

    // Listed, as a table and as the API's JSON.
    let table = ops.levee(&["maint", "list"]).await;
    let lines: Vec<&str> = table.ok().lines().collect();
    assert_eq!(lines.len(), 2, "{}", table.stdout);
    for column in ["ID", "SCOPE", "STATE", "STARTS", "ENDS", "WHEN", "MESSAGE"] {
        assert!(lines[0].contains(column), "{}", lines[0]);
    }
    let row: Vec<&str> = lines[1]
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(row[0], id);
    assert_eq!(&row[1..3], ["all", "active"]);
    assert!(row[5].starts_with("ends in 9m"), "{row:?}");
    assert_eq!(row[6], "Database upgrade");
    let listed = ops.levee(&["maint", "list", "--json"]).await.json();
    assert_eq!(listed["windows"][0]["id"], id.as_str());
    let before = ops.levee(&["maint", "show", &id, "--json"]).await.json();
    assert_eq!(before["state"], "active");

    // Extend by 10 minutes: ends_at moves by exactly 600 s.
    let out = ops.levee(&["maint", "extend", &id, "--by", "10m"]).await;
    assert!(
        out.ok()
            .starts_with(&format!("window {id} updated: active, ends in 19m 5")),
        "{}",
        out.stdout
    );
    let after = ops.levee(&["maint", "show", &id, "--json"]).await.json();
    let end = |w: &serde_json::Value| {
        levee_http::maintenance::parse_rfc3339(w["ends_at"].as_str().expect("ends_at"))
            .expect("RFC 3339")
    };
    assert_eq!(
        end(&after).duration_since(end(&before)).expect("later"),
        Duration::from_secs(600)
    );
    // And back by 5 minutes with a negative --by.
    let shortened = ops
        .levee(&["maint", "extend", &id, "--by", "-5m", "--json"])
        .await
        .json();
    assert_eq!(
        end(&after)
            .duration_since(end(&shortened))
            .expect("earlier"),
        Duration::from_secs(300)
    );

    // End: requests go through again at once.
    let out = ops.levee(&["maint", "end", &id]).await;
    assert!(
        out.ok().starts_with(&format!("window {id} ended at ")),
        "{}",
        out.stdout
    );
    assert_eq!(ops.get().await.status, 200);
    assert_eq!(
        ops.levee(&["maint", "list"]).await.ok(),
        "no maintenance windows scheduled or active (--all shows ended ones too)\n"
    );
    let all = ops.levee(&["maint", "list", "--all"]).await;
    assert!(
        all.ok()
            .lines()
            .any(|l| l.starts_with(&id) && l.contains("ended")),
        "{}",
        all.stdout
    );

    // Delete: gone, and showing it is the API's 404.
    assert_eq!(
        ops.levee(&["maint", "delete", &id]).await.ok(),
        format!("window {id} deleted\n")
    );
    let err = ops.levee(&["maint", "show", &id]).await;
    assert!(
        err.failed(1).starts_with("levee: 404 not-found: "),
        "{}",
        err.stderr
    );
    assert!(err.stderr.contains(&id), "{}", err.stderr);

    // The audit log has every change, by alice, newest first.
    let audit = ops.levee(&["audit"]).await;
    let actions: Vec<&str> = audit
        .ok()
        .lines()
        .skip(1)
        .filter(|l| l.contains(&id))
        .map(|l| {
            assert!(l.contains("alice"), "{l}");
            l.split_whitespace().nth(3).expect("action column")
        })
        .collect();
    assert_eq!(
        actions,
        [
            "window.delete",
            "window.end",
            "window.update",
            "window.update",
            "window.create"
        ],
        "{}",
        audit.stdout
    );
    let two = ops.levee(&["audit", "--limit", "2", "--json"]).await.json();
    let entries = two["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["action"], "window.delete");
    assert_eq!(entries[0]["actor"], "alice");
}

#[tokio::test]
async fn a_scheduled_window_waits_for_its_start() {
    let ops = Ops::start().await;
    let now = std::time::SystemTime::now();
    let at = levee_http::maintenance::rfc3339(now + Duration::from_secs(3600));
    let until = levee_http::maintenance::rfc3339(now + Duration::from_secs(7200));
    let ran = ops
        .levee(&[
            "maint", "start", "--at", &at, "--until", &until, "--route", "default",
        ])
        .await;
    let out = ran.ok();
    let id = created_id(out);
    assert!(
        out.starts_with(&format!("window {id} created: scheduled, starts in 59m")),
        "{out}"
    );
    assert!(out.contains("scope    route default"), "{out}");
    assert!(out.contains(&format!("starts   {at}")), "{out}");
    assert!(out.contains(&format!("ends     {until}")), "{out}");
    assert_eq!(ops.get().await.status, 200, "not started yet");
    let w = ops.levee(&["maint", "show", &id, "--json"]).await.json();
    assert_eq!(w["state"], "scheduled");
    assert_eq!(
        w["scope"],
        serde_json::json!({"kind": "route", "name": "default"})
    );
}

#[tokio::test]
async fn an_open_ended_window_with_bypass_rules() {
    let ops = Ops::start().await;
    let bypass = ops.dir.path().join("bypass");
    std::fs::write(&bypass, "# the on-call's token\nopen-sesame-0123456789\n").expect("write");
    let ran = ops
        .levee(&[
            "maint",
            "start",
            "--pool",
            "default",
            "--bypass-token-file",
            &bypass.display().to_string(),
            "--bypass-network",
            "10.0.0.0/8",
        ])
        .await;
    let out = ran.ok();
    assert!(out.contains("created: active, open-ended"), "{out}");
    assert!(out.contains("ends     never (open-ended)"), "{out}");
    assert!(
        out.contains("bypass   a token in the x-levee-bypass header; clients in 10.0.0.0/8"),
        "{out}"
    );
    assert!(!out.contains("open-sesame"), "the token is never printed");
    assert_problem(&ops.get().await, 503, "maintenance");
    let through = get(
        &ops.gw.url("/"),
        &[("x-levee-bypass", "open-sesame-0123456789")],
    )
    .await;
    assert_eq!(
        through.status, 200,
        "the bypass token lets the operator through"
    );
}

#[tokio::test]
async fn drain_and_undrain_an_endpoint() {
    let ops = Ops::start().await;
    let ep = ops.endpoint.as_str();

    let out = ops.levee(&["drain", ep]).await;
    assert!(
        out.ok().starts_with(&format!(
            "endpoint {ep} drained: no new requests from pool default"
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!("levee undrain {ep}")),
        "{}",
        out.stdout
    );
    // Its only endpoint drained, the pool has nothing to send to.
    assert_problem(&ops.get().await, 503, "upstream-unavailable");

    let again = ops.levee(&["drain", ep]).await;
    assert!(
        again
            .ok()
            .starts_with(&format!("endpoint {ep} was already drained since ")),
        "{}",
        again.stdout
    );
    assert!(again.stdout.contains(" by alice"), "{}", again.stdout);

    let list = ops.levee(&["drain", "--list"]).await;
    let lines: Vec<&str> = list.ok().lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["ENDPOINT", "POOLS", "DRAINED", "AT", "BY"]
    );
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!((row[0], row[1], row[3]), (ep, "default", "alice"));
    let json = ops.levee(&["drain", "--list", "--json"]).await.json();
    assert_eq!(json["drains"][0]["endpoint"], ep);

    assert_eq!(
        ops.levee(&["undrain", ep]).await.ok(),
        format!("endpoint {ep} is back in rotation\n")
    );
    assert_eq!(ops.get().await.status, 200);
    assert_eq!(
        ops.levee(&["drain", "--list"]).await.ok(),
        "no endpoints drained\n"
    );
    let err = ops.levee(&["undrain", ep]).await;
    assert!(
        err.failed(1).starts_with("levee: 404 not-found: "),
        "{}",
        err.stderr
    );

    // An endpoint no pool has: the API's 422 names the field.
    let err = ops.levee(&["drain", "127.0.0.1:1"]).await;
    assert!(
        err.failed(1)
            .starts_with("levee: 422 invalid-input: endpoint"),
        "{}",
        err.stderr
    );

    let audit = ops.levee(&["audit", "--json"]).await.json();
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, ["drain.remove", "drain.add"]);
}

#[tokio::test]
async fn refusals_exit_1_with_the_apis_detail() {
    let ops = Ops::start().await;
    let admin = ops.gw.admin.to_string();

    // A wrong token: the 401's detail.
    let wrong = ops.dir.path().join("wrong");
    std::fs::write(&wrong, "mallory:not-the-right-token-0000\n").expect("write");
    let ran = run(
        &[
            "maint",
            "list",
            "--admin",
            &admin,
            "--token-file",
            &wrong.display().to_string(),
        ],
        &[],
    )
    .await;
    assert_eq!(
        ran.failed(1).lines().next(),
        Some("levee: 401 unauthorized: the bearer token is not valid"),
        "{}",
        ran.stderr
    );
    assert!(ran.stdout.is_empty());

    // No token at all: the 401, and how to give one.
    let ran = run(&["maint", "list", "--admin", &admin], &[]).await;
    assert!(
        ran.failed(1).starts_with("levee: 401 unauthorized: "),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("--token-file"), "{}", ran.stderr);

    // The token and the address from the environment, the address as a URL.
    let url = format!("http://{admin}");
    let ran = run(
        &["maint", "list"],
        &[("LEVEE_ADMIN", &url), ("LEVEE_ADMIN_TOKEN", TOKEN)],
    )
    .await;
    assert!(
        ran.ok().starts_with("no maintenance windows"),
        "{}",
        ran.stdout
    );

    // A 422 names the field; --json prints the problem itself on stdout.
    let ran = ops
        .levee(&["maint", "start", "--route", "nope", "--for", "1m"])
        .await;
    let err = ran.failed(1);
    assert!(err.starts_with("levee: 422 invalid-input: scope"), "{err}");
    assert!(err.contains("nope"), "{err}");
    assert!(err.contains("request id req_"), "{err}");
    let past =
        levee_http::maintenance::rfc3339(std::time::SystemTime::now() - Duration::from_secs(60));
    let ran = ops
        .levee(&["maint", "start", "--until", &past, "--json"])
        .await;
    assert!(ran.failed(1).contains("ends_at"), "{}", ran.stderr);
    let problem: serde_json::Value =
        serde_json::from_str(&ran.stdout).expect("the problem as JSON");
    assert_eq!(problem["status"], 422);
    assert_eq!(problem["errors"][0]["field"], "ends_at");
}

#[tokio::test]
async fn usage_errors_exit_2_and_an_unreachable_api_exits_3() {
    // Usage: refused before any request, so no gateway is needed.
    for args in [
        &["maint", "start", "--for", "10x"][..],
        &[
            "maint",
            "start",
            "--for",
            "10m",
            "--until",
            "2026-12-01T03:00:00Z",
        ],
        &["maint", "start", "--at", "tomorrow"],
        &["maint", "start", "--route", "a", "--pool", "b"],
        &["maint", "extend", "w_1"],
        &["maint", "show"],
        &["drain"],
        &["audit", "--limit", "0"],
        &["maint", "list", "--admin", "https://127.0.0.1:9901"],
        &["maint", "list", "--token-file", "/nonexistent/levee-token"],
    ] {
        let ran = run(args, &[]).await;
        assert_eq!(ran.code, 2, "levee {args:?}:\n{ran:#?}");
        assert!(!ran.stderr.is_empty(), "levee {args:?} says why");
        assert!(!ran.stderr.contains("panicked"), "{}", ran.stderr);
    }

    // Nothing listens there: exit 3, naming the address.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = closed.local_addr().expect("addr").to_string();
    drop(closed);
    for args in [
        &["maint", "list", "--admin", &addr][..],
        &["drain", "127.0.0.1:8081", "--admin", &addr],
        &["audit", "--json", "--admin", &addr],
    ] {
        let ran = run(args, &[("LEVEE_ADMIN_TOKEN", TOKEN)]).await;
        let err = ran.failed(3);
        assert!(
            err.starts_with(&format!("levee: cannot reach the admin API at {addr}: ")),
            "{err}"
        );
        assert!(ran.stdout.is_empty());
    }
}

/// Issue 12 item 8: `levee pools` shows every endpoint's state, and a drain
/// shows up in it as soon as it is made.
#[tokio::test]
async fn pools_shows_each_endpoints_state() {
    let ops = Ops::start().await;
    let ep = ops.endpoint.as_str();
    assert_eq!(ops.get().await.status, 200);

    let out = ops.levee(&["pools"]).await;
    let lines: Vec<&str> = out.ok().lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["POOL", "ENDPOINT", "STATE", "SINCE", "WHY"]
    );
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(&row[..3], ["default", ep, "up"], "{}", out.stdout);

    ops.levee(&["drain", ep]).await.ok();
    let out = ops.levee(&["pools"]).await;
    let row: Vec<&str> = out
        .ok()
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(&row[..3], ["default", ep, "drained"], "{}", out.stdout);

    let json = ops.levee(&["pools", "--json"]).await.json();
    assert_eq!(json["pools"][0]["endpoints"][0]["state"], "drained");
    assert_eq!(json["pools"][0]["endpoints"][0]["takes_requests"], false);
    assert_eq!(json["pools"][0]["endpoints_up"], 0);
}
