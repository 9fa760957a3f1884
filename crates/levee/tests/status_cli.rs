//! The status page's admin CLI as an operator runs it: the real `levee`
//! binary (`levee incident …`, `levee components …`) driving the admin API
//! of a real `levee serve --upstream` (its own data directory and token
//! file), with the public status page read on the traffic listener to see
//! what each command did.

use crate::support::*;

const TOKEN: &str = "carol-token-0123456789";

/// The component `levee serve --upstream` gets without `[status]`
/// components: one per route, and its one route is the catch-all `default`.
const COMPONENT: &str = "default";

/// A gateway with a status page (the default) in front of one healthy
/// upstream, with carol's token, and `levee` commands pointed at it: the
/// admin CLI tests' operator, with the status page's documents at hand.
struct Ops(crate::admin_cli::Ops);

impl std::ops::Deref for Ops {
    type Target = crate::admin_cli::Ops;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Ops {
    async fn start() -> Ops {
        Ops(crate::admin_cli::Ops::start_as("carol", TOKEN).await)
    }

    /// A document of the public status page, on the traffic listener.
    async fn public(&self, doc: &str) -> serde_json::Value {
        let got = get(&self.gw.url(&format!("/_levee/status/api/v2/{doc}")), &[]).await;
        assert_eq!(got.status, 200, "{doc}: {}", got.text());
        got.json()
    }

    /// The public status of component `id` (`components.json`).
    async fn public_status(&self, id: &str) -> String {
        let doc = self.public("components.json").await;
        doc["components"]
            .as_array()
            .expect("components")
            .iter()
            .find(|c| c["id"] == id)
            .and_then(|c| c["status"].as_str())
            .unwrap_or_else(|| panic!("no component {id} in {doc:#}"))
            .to_owned()
    }

    /// The audit log's actions on `target`, newest first, each by carol.
    async fn audited(&self, target: &str) -> Vec<String> {
        let audit = self.levee(&["audit", "--json"]).await.json();
        audit["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .filter(|e| e["target"] == target)
            .map(|e| {
                assert_eq!(e["actor"], "carol", "{e}");
                e["action"].as_str().expect("action").to_owned()
            })
            .collect()
    }
}

/// The incident id in `incident inc_… opened: …`.
fn incident_id(stdout: &str) -> String {
    stdout
        .split_whitespace()
        .find(|w| w.starts_with("inc_"))
        .map(|w| w.trim_end_matches(':').to_owned())
        .unwrap_or_else(|| panic!("no incident id in:\n{stdout}"))
}

/// The cells of a table row, split on runs of two spaces or more.
fn cells(line: &str) -> Vec<&str> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

#[tokio::test]
async fn an_incident_from_open_to_resolved_through_the_cli() {
    let ops = Ops::start().await;

    // Open: the incident, and how to update and resolve it.
    let ran = ops
        .levee(&[
            "incident",
            "open",
            "Checkout errors",
            "--message",
            "Some payments fail. We are looking into it.",
            "--impact",
            "major",
            "--component",
            COMPONENT,
        ])
        .await;
    let out = ran.ok();
    let id = incident_id(out);
    assert!(
        out.starts_with(&format!(
            "incident {id} opened: investigating, major impact\n"
        )),
        "{out}"
    );
    assert!(out.contains("  components  default\n"), "{out}");
    assert!(out.contains("  managed by  an operator\n"), "{out}");
    assert!(
        out.contains("    Some payments fail. We are looking into it.\n"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "levee incident resolve {id} --message TEXT --admin "
        )),
        "{out}"
    );

    // Listed, as a table and as the API's JSON.
    let table = ops.levee(&["incident", "list"]).await;
    let lines: Vec<&str> = table.ok().lines().collect();
    assert_eq!(lines.len(), 2, "{}", table.stdout);
    assert_eq!(
        cells(lines[0]),
        ["ID", "STATUS", "IMPACT", "NAME", "COMPONENTS", "UPDATED"]
    );
    let row = cells(lines[1]);
    assert_eq!(
        &row[..5],
        [
            id.as_str(),
            "investigating",
            "major",
            "Checkout errors",
            COMPONENT
        ]
    );
    let listed = ops.levee(&["incident", "list", "--json"]).await.json();
    assert_eq!(listed["incidents"][0]["id"], id.as_str());
    assert_eq!(listed["incidents"][0]["automatic"], false);

    // The public page shows it.
    let unresolved = ops.public("incidents/unresolved.json").await;
    assert_eq!(unresolved["incidents"][0]["name"], "Checkout errors");

    // Identified, with a message.
    let ran = ops
        .levee(&[
            "incident",
            "update",
            &id,
            "--status",
            "identified",
            "--message",
            "The payments database is full; we are adding space.",
        ])
        .await;
    let out = ran.ok();
    assert!(
        out.starts_with(&format!(
            "incident {id} updated: identified, major impact\n"
        )),
        "{out}"
    );
    let shown = ops.levee(&["incident", "show", &id]).await;
    let text = shown.ok();
    let first = text
        .find("The payments database is full")
        .unwrap_or_else(|| panic!("{text}"));
    let second = text
        .find("Some payments fail")
        .unwrap_or_else(|| panic!("{text}"));
    assert!(first < second, "updates newest first:\n{text}");
    let shown = ops.levee(&["incident", "show", &id, "--json"]).await.json();
    assert_eq!(shown["status"], "identified");
    let updates = shown["updates"].as_array().expect("updates");
    assert_eq!(updates.len(), 2);
    assert_eq!(updates[0]["status"], "identified");
    assert_eq!(
        updates[0]["body"],
        "The payments database is full; we are adding space."
    );

    // Resolved: gone from the unresolved list, there with --all.
    let out = ops
        .levee(&[
            "incident",
            "resolve",
            &id,
            "--message",
            "Payments work again.",
        ])
        .await;
    assert!(
        out.ok().starts_with(&format!("incident {id} resolved at ")),
        "{}",
        out.stdout
    );
    assert_eq!(
        ops.levee(&["incident", "list"]).await.ok(),
        "no unresolved incidents (--all shows resolved ones too)\n"
    );
    let all = ops.levee(&["incident", "list", "--all"]).await;
    assert!(
        all.ok()
            .lines()
            .any(|l| l.starts_with(&id) && l.contains("resolved")),
        "{}",
        all.stdout
    );
    let resolved = ops.levee(&["incident", "show", &id, "--json"]).await.json();
    assert_eq!(resolved["status"], "resolved");
    assert!(resolved["resolved_at"].is_string(), "{resolved}");
    assert_eq!(resolved["updates"][0]["body"], "Payments work again.");
    let unresolved = ops.public("incidents/unresolved.json").await;
    assert_eq!(unresolved["incidents"], serde_json::json!([]));

    // The audit log has every change, by carol, newest first.
    assert_eq!(
        ops.audited(&id).await,
        ["incident.update", "incident.update", "incident.open"]
    );
}

#[tokio::test]
async fn refusals_carry_the_apis_field_errors() {
    let ops = Ops::start().await;

    // A status the API does not know: exit 1, the field and what it takes.
    let ran = ops
        .levee(&[
            "incident",
            "open",
            "Outage",
            "--message",
            "m",
            "--status",
            "fixed",
        ])
        .await;
    let err = ran.failed(1);
    assert!(
        err.starts_with("levee: 422 invalid-input: status: `fixed` is not one of: investigating, identified, monitoring, resolved"),
        "{err}"
    );
    assert!(err.contains("request id req_"), "{err}");
    // With --json the problem itself, on stdout.
    let ran = ops
        .levee(&[
            "incident",
            "open",
            "Outage",
            "--message",
            "m",
            "--impact",
            "huge",
            "--json",
        ])
        .await;
    assert!(ran.failed(1).contains("impact"), "{}", ran.stderr);
    let problem: serde_json::Value =
        serde_json::from_str(&ran.stdout).expect("the problem as JSON");
    assert_eq!(problem["status"], 422);
    assert_eq!(problem["errors"][0]["field"], "impact");

    // A component that does not exist, named by its place in the list.
    let ran = ops
        .levee(&[
            "incident",
            "open",
            "Outage",
            "--message",
            "m",
            "--component",
            "nope",
        ])
        .await;
    let err = ran.failed(1);
    assert!(
        err.starts_with("levee: 422 invalid-input: components[0]: no component `nope`"),
        "{err}"
    );
    assert!(err.contains(COMPONENT), "the known ids are listed: {err}");

    // A pin to a status components do not have.
    let ran = ops.levee(&["components", "pin", COMPONENT, "down"]).await;
    assert!(
        ran.failed(1)
            .starts_with("levee: 422 invalid-input: status: `down` is not one of: "),
        "{}",
        ran.stderr
    );

    // An incident that does not exist: the API's 404.
    let ran = ops.levee(&["incident", "show", "inc_nope"]).await;
    let err = ran.failed(1);
    assert!(err.starts_with("levee: 404 not-found: "), "{err}");
    assert!(err.contains("inc_nope"), "{err}");

    // Usage errors never reach the API.
    for args in [
        &["incident", "update", "inc_1"][..],
        &["incident", "open", "No message"],
        &["components", "pin", COMPONENT],
    ] {
        let ran = ops.levee(args).await;
        assert_eq!(ran.code, 2, "levee {args:?}:\n{ran:#?}");
    }

    // Nothing was opened or pinned.
    assert_eq!(
        ops.levee(&["incident", "list", "--all"]).await.ok(),
        "no incidents\n"
    );
    assert!(ops.audited(COMPONENT).await.is_empty());
}

#[tokio::test]
async fn pin_a_component_and_unpin_it() {
    let ops = Ops::start().await;

    // One component per route: `default`, operational, unpinned.
    let out = ops.levee(&["components"]).await;
    let lines: Vec<&str> = out.ok().lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert_eq!(cells(lines[0]), ["ID", "NAME", "STATUS", "LIVE", "PIN"]);
    assert_eq!(cells(lines[1]), [COMPONENT, "default", "operational"]);
    let listed = ops.levee(&["components", "--json"]).await.json();
    let c = &listed["components"][0];
    assert_eq!(c["id"], COMPONENT);
    assert_eq!(c["routes"], serde_json::json!(["default"]));
    assert_eq!(c["pools"], serde_json::json!(["default"]));
    assert_eq!(c["pin"], serde_json::Value::Null);
    assert_eq!(ops.public_status(COMPONENT).await, "operational");

    // Pinned to major_outage: shown so, here and on the public page.
    let ran = ops
        .levee(&[
            "components",
            "pin",
            COMPONENT,
            "major_outage",
            "--note",
            "Payments provider down",
        ])
        .await;
    let out = ran.ok();
    assert!(
        out.starts_with(
            "component default pinned to major_outage (what the gateway sees: operational)\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("levee components unpin default --admin "),
        "{out}"
    );
    let out = ops.levee(&["components"]).await;
    let row = cells(out.ok().lines().nth(1).unwrap_or_default());
    assert_eq!(
        row,
        [
            COMPONENT,
            "default",
            "major_outage",
            "operational",
            "pinned by carol: Payments provider down"
        ],
        "{}",
        out.stdout
    );
    let pinned = ops.levee(&["components", "--json"]).await.json();
    let c = &pinned["components"][0];
    assert_eq!(c["status"], "major_outage");
    assert_eq!(c["live_status"], "operational");
    assert_eq!(c["pin"]["note"], "Payments provider down");
    assert_eq!(c["pin"]["pinned_by"], "carol");
    assert_eq!(ops.public_status(COMPONENT).await, "major_outage");

    // Unpinned: what the gateway sees again.
    let ran = ops.levee(&["components", "unpin", COMPONENT]).await;
    assert_eq!(ran.ok(), "component default unpinned: operational\n");
    let out = ops.levee(&["components"]).await;
    assert_eq!(
        cells(out.ok().lines().nth(1).unwrap_or_default()),
        [COMPONENT, "default", "operational"]
    );
    assert_eq!(ops.public_status(COMPONENT).await, "operational");

    // Both changes are audited, by carol, newest first.
    assert_eq!(
        ops.audited(COMPONENT).await,
        ["component.unpin", "component.pin"]
    );
    let audit = ops.levee(&["audit"]).await;
    let actions: Vec<&str> = audit
        .ok()
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(3))
        .collect();
    assert_eq!(
        actions,
        ["component.unpin", "component.pin"],
        "{}",
        audit.stdout
    );
}
