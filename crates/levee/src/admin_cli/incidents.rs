//! `levee incident list|show|open|update|resolve` and `levee components
//! [pin|unpin]`: the status page's incidents and components
//! (`/v1/incidents`, `/v1/components`).
//!
//! Turns flags into the API's request bodies (`--message` is an update's
//! `body`), and incidents and components into tables and key/value blocks.
//! This module must not validate what the API validates (statuses, impacts,
//! component ids, lengths): a typo reaches the API, whose 422 names the
//! field and the values it takes. Nor does it decide what becomes of an
//! automatic incident an operator changes: the API's answer says
//! (`automatic`).

use http::Method;
use serde_json::{Map, Value, json};

use super::client::segment;
use super::failure::Failure;
use super::model::{Component, ComponentList, Incident, IncidentList};
use super::table::{Table, pairs, truncate};
use super::{Ctx, times};

/// The longest incident title a table cell shows before cutting it.
const NAME_WIDTH: usize = 48;
/// The longest pin cell before it is cut.
const PIN_WIDTH: usize = 60;

/// `levee incident …` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum IncidentCmd {
    /// List unresolved incidents, newest first (with --all, resolved ones too).
    List {
        /// Include resolved incidents.
        #[arg(long)]
        all: bool,
    },
    /// Show one incident and every update posted on it.
    Show {
        /// The incident's id (`inc_…`).
        id: String,
    },
    /// Open an incident: the status page shows it at once.
    Open(OpenArgs),
    /// Post an update, or change an incident's status, impact, title or
    /// components. On an automatic incident, any change makes it yours:
    /// Levee stops updating and resolving it.
    Update(UpdateArgs),
    /// Resolve an incident, with a closing message (default "Resolved.").
    Resolve {
        /// The incident's id (`inc_…`).
        id: String,
        /// What people are told as it is resolved.
        #[arg(long, value_name = "TEXT")]
        message: Option<String>,
    },
}

/// Flags of `levee incident open`.
#[derive(Debug, clap::Args)]
pub(crate) struct OpenArgs {
    /// The incident's title, e.g. "Checkout errors" (at most 200 characters).
    #[arg(value_name = "NAME")]
    name: String,
    /// What people should know now: the first update (at most 10000 characters).
    #[arg(long, value_name = "TEXT")]
    message: String,
    /// investigating (the default), identified, monitoring or resolved.
    #[arg(long, value_name = "STATUS")]
    status: Option<String>,
    /// none, minor, major or critical. Default: from its components' status,
    /// at least minor.
    #[arg(long, value_name = "IMPACT")]
    impact: Option<String>,
    /// A component it affects, by id (see `levee components`); repeatable.
    #[arg(long = "component", value_name = "ID")]
    components: Vec<String>,
}

impl OpenArgs {
    /// The body of `POST /v1/incidents`.
    fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("name".into(), self.name.as_str().into());
        body.insert("body".into(), self.message.as_str().into());
        if let Some(s) = &self.status {
            body.insert("status".into(), s.as_str().into());
        }
        if let Some(i) = &self.impact {
            body.insert("impact".into(), i.as_str().into());
        }
        if !self.components.is_empty() {
            body.insert("components".into(), self.components.clone().into());
        }
        body.into()
    }
}

/// Flags of `levee incident update`: at least one change.
#[derive(Debug, clap::Args)]
#[command(group(
    clap::ArgGroup::new("change")
        .required(true)
        .multiple(true)
        .args(["message", "status", "impact", "name", "components"])
))]
pub(crate) struct UpdateArgs {
    /// The incident's id (`inc_…`).
    id: String,
    /// The words of a new update (a status change without one posts "Identified.", …).
    #[arg(long, value_name = "TEXT")]
    message: Option<String>,
    /// investigating, identified, monitoring or resolved.
    #[arg(long, value_name = "STATUS")]
    status: Option<String>,
    /// none, minor, major or critical.
    #[arg(long, value_name = "IMPACT")]
    impact: Option<String>,
    /// A new title.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// A component it affects, by id; repeatable. Replaces the set.
    #[arg(long = "component", value_name = "ID")]
    components: Vec<String>,
}

impl UpdateArgs {
    /// The body of `PATCH /v1/incidents/{id}`.
    fn body(&self) -> Value {
        let mut body = Map::new();
        let fields = [
            ("name", &self.name),
            ("status", &self.status),
            ("impact", &self.impact),
            ("body", &self.message),
        ];
        for (key, value) in fields {
            if let Some(v) = value {
                body.insert(key.into(), v.as_str().into());
            }
        }
        if !self.components.is_empty() {
            body.insert("components".into(), self.components.clone().into());
        }
        body.into()
    }
}

/// `levee components …` subcommands; without one, the list.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ComponentsCmd {
    /// Pin a component to a status: the page shows it, whatever the
    /// gateway sees, until it is unpinned.
    Pin {
        /// The component's id (see `levee components`).
        id: String,
        /// operational, degraded_performance, partial_outage, major_outage
        /// or under_maintenance.
        status: String,
        /// Why, for the other operators (shown by `levee components`).
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
    },
    /// Unpin a component: the page shows what the gateway sees again.
    Unpin {
        /// The component's id.
        id: String,
    },
}

/// Runs one `levee incident` subcommand.
pub(crate) async fn incident(ctx: &Ctx, cmd: IncidentCmd) -> Result<(), Failure> {
    match cmd {
        IncidentCmd::List { all } => {
            let path = if all {
                "/v1/incidents?state=all"
            } else {
                "/v1/incidents"
            };
            let answer = ctx.client.get(path).await?;
            ctx.show(&answer, |list: IncidentList| {
                match (list.incidents.is_empty(), all) {
                    (true, true) => "no incidents\n".to_owned(),
                    (true, false) => {
                        "no unresolved incidents (--all shows resolved ones too)\n".to_owned()
                    }
                    (false, _) => table(&list.incidents),
                }
            })
        }
        IncidentCmd::Show { id } => {
            let answer = ctx.client.get(&incident_path(&id)).await?;
            ctx.show(&answer, |i: Incident| described(&i, ""))
        }
        IncidentCmd::Open(args) => {
            let answer = ctx
                .client
                .call(Method::POST, "/v1/incidents", Some(&args.body()))
                .await?;
            ctx.show(&answer, |i: Incident| {
                format!(
                    "{}post an update:  levee incident update {} --status identified --message TEXT{}\n\
                     resolve it:      levee incident resolve {} --message TEXT{}\n",
                    described(&i, " opened"),
                    i.id,
                    ctx.admin_flag,
                    i.id,
                    ctx.admin_flag,
                )
            })
        }
        IncidentCmd::Update(args) => {
            let answer = ctx
                .client
                .call(Method::PATCH, &incident_path(&args.id), Some(&args.body()))
                .await?;
            ctx.show(&answer, |i: Incident| described(&i, " updated"))
        }
        IncidentCmd::Resolve { id, message } => {
            let mut body = json!({ "status": "resolved" });
            if let Some(m) = message {
                body["body"] = m.into();
            }
            let answer = ctx
                .client
                .call(Method::PATCH, &incident_path(&id), Some(&body))
                .await?;
            ctx.show(&answer, |i: Incident| {
                format!(
                    "incident {} resolved at {}\n",
                    i.id,
                    time(&i.resolved_at, "now")
                )
            })
        }
    }
}

/// Runs `levee components` and its subcommands.
pub(crate) async fn components(ctx: &Ctx, cmd: Option<ComponentsCmd>) -> Result<(), Failure> {
    match cmd {
        None => {
            let answer = ctx.client.get("/v1/components").await?;
            ctx.show(&answer, |list: ComponentList| {
                components_table(&list.components)
            })
        }
        Some(ComponentsCmd::Pin { id, status, note }) => {
            let mut body = json!({ "status": status });
            if let Some(n) = note {
                body["note"] = n.into();
            }
            let answer = ctx
                .client
                .call(Method::PUT, &pin_path(&id), Some(&body))
                .await?;
            ctx.show(&answer, |c: Component| {
                format!(
                    "component {} pinned to {} (what the gateway sees: {})\nunpin it:  levee components unpin {}{}\n",
                    c.id, c.status, c.live_status, c.id, ctx.admin_flag
                )
            })
        }
        Some(ComponentsCmd::Unpin { id }) => {
            let answer = ctx
                .client
                .call(Method::DELETE, &pin_path(&id), None)
                .await?;
            ctx.show(&answer, |c: Component| {
                format!("component {} unpinned: {}\n", c.id, c.status)
            })
        }
    }
}

/// `/v1/incidents/{id}`.
fn incident_path(id: &str) -> String {
    format!("/v1/incidents/{}", segment(id.trim()))
}

/// `/v1/components/{id}/pin`.
fn pin_path(id: &str) -> String {
    format!("/v1/components/{}/pin", segment(id.trim()))
}

/// An API time to the second, or `none` when there is none.
fn time(t: &Option<String>, none: &str) -> String {
    t.as_deref().map_or_else(|| none.to_owned(), times::show)
}

/// `incident ID{what}: identified, major impact` and the incident in detail.
fn described(i: &Incident, what: &str) -> String {
    let automatic = if i.automatic { ", automatic" } else { "" };
    format!(
        "incident {}{what}: {}, {} impact{automatic}\n{}",
        i.id,
        i.status,
        i.impact,
        detail(i)
    )
}

/// One incident as aligned `key value` lines, then its updates, newest first.
fn detail(i: &Incident) -> String {
    let mut lines = vec![
        ("name", i.name.clone()),
        ("status", i.status.clone()),
        ("impact", i.impact.clone()),
        ("components", list(&i.components)),
    ];
    if i.started_at.is_some() && i.started_at != i.created_at {
        lines.push(("started", time(&i.started_at, "-")));
    }
    lines.push(("opened", time(&i.created_at, "-")));
    if i.updated_at.is_some() && i.updated_at != i.created_at {
        lines.push(("updated", time(&i.updated_at, "-")));
    }
    if i.monitoring_at.is_some() {
        lines.push(("monitoring", time(&i.monitoring_at, "-")));
    }
    if i.resolved_at.is_some() {
        lines.push(("resolved", time(&i.resolved_at, "-")));
    }
    lines.push((
        "managed by",
        if i.automatic {
            "Levee (automatic): it updates and resolves it until an operator changes it".to_owned()
        } else {
            "an operator".to_owned()
        },
    ));
    let mut out = pairs(&lines);
    if i.updates.is_empty() {
        return out;
    }
    out.push_str("updates, newest first:\n");
    for u in &i.updates {
        out.push_str(&format!("  {}  {}\n", time(&u.created_at, "-"), u.status));
        for line in u.body.lines() {
            out.push_str(&format!("    {line}\n"));
        }
    }
    out
}

/// `a,b`, or `-` for none.
fn list(items: &[String]) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(",")
    }
}

/// Incidents as a table; automatic ones are marked `(auto)`.
fn table(incidents: &[Incident]) -> String {
    let mut t = Table::new(&["id", "status", "impact", "name", "components", "updated"]);
    for i in incidents {
        let id = if i.automatic {
            format!("{} (auto)", i.id)
        } else {
            i.id.clone()
        };
        t.row(vec![
            id,
            i.status.clone(),
            i.impact.clone(),
            truncate(&i.name, NAME_WIDTH),
            list(&i.components),
            time(&i.updated_at, "-"),
        ]);
    }
    t.render()
}

/// Components as a table: the live status only where it differs from the
/// status shown (a pin, or a change not shown yet), and the pin's note.
fn components_table(components: &[Component]) -> String {
    if components.is_empty() {
        return "no components (is [status] enabled?)\n".to_owned();
    }
    let mut t = Table::new(&["id", "name", "status", "live", "pin"]);
    for c in components {
        let name = match &c.group {
            Some(g) => format!("{g} / {}", c.name),
            None => c.name.clone(),
        };
        let live = if c.live_status != c.status {
            c.live_status.clone()
        } else {
            String::new()
        };
        let pin = c.pin.as_ref().map_or_else(String::new, |p| {
            let by = p
                .pinned_by
                .as_deref()
                .map(|b| format!(" by {b}"))
                .unwrap_or_default();
            if p.note.is_empty() {
                format!("pinned{by}")
            } else {
                format!("pinned{by}: {}", p.note)
            }
        });
        t.row(vec![
            c.id.clone(),
            name,
            c.status.clone(),
            live,
            truncate(&pin, PIN_WIDTH),
        ]);
    }
    t.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn incident(v: Value) -> Incident {
        serde_json::from_value(v).expect("incident")
    }

    fn sample() -> Incident {
        incident(json!({
            "id": "inc_01JD2M6Q4T7V1N9X5R8B3C0E2F",
            "name": "Checkout errors",
            "status": "identified",
            "impact": "major",
            "components": ["checkout", "api"],
            "automatic": false,
            "started_at": "2026-12-05T09:00:00.000Z",
            "created_at": "2026-12-05T09:00:00.000Z",
            "updated_at": "2026-12-05T09:10:00.500Z",
            "monitoring_at": null,
            "resolved_at": null,
            "updates": [
                {"id": "upd_2", "status": "identified", "body": "The database is full.\nWe are adding space.", "created_at": "2026-12-05T09:10:00.500Z"},
                {"id": "upd_1", "status": "investigating", "body": "We are looking into it.", "created_at": "2026-12-05T09:00:00Z"}
            ]
        }))
    }

    #[test]
    fn an_incident_in_detail() {
        assert_eq!(
            described(&sample(), " updated"),
            "incident inc_01JD2M6Q4T7V1N9X5R8B3C0E2F updated: identified, major impact\n  \
               name        Checkout errors\n  \
               status      identified\n  \
               impact      major\n  \
               components  checkout,api\n  \
               opened      2026-12-05T09:00:00Z\n  \
               updated     2026-12-05T09:10:00Z\n  \
               managed by  an operator\n\
             updates, newest first:\n  \
               2026-12-05T09:10:00Z  identified\n    \
                 The database is full.\n    \
                 We are adding space.\n  \
               2026-12-05T09:00:00Z  investigating\n    \
                 We are looking into it.\n"
        );
    }

    #[test]
    fn incidents_in_a_table() {
        let auto = incident(json!({
            "id": "inc_2", "name": "default: major outage", "status": "investigating",
            "impact": "critical", "components": ["default"], "automatic": true,
            "updated_at": "2026-12-05T09:20:00Z", "updates": []
        }));
        let bare = incident(json!({"id": "inc_3", "status": "resolved", "impact": "none"}));
        assert_eq!(
            table(&[sample(), auto, bare]),
            "ID                              STATUS         IMPACT    NAME                   COMPONENTS    UPDATED\n\
             inc_01JD2M6Q4T7V1N9X5R8B3C0E2F  identified     major     Checkout errors        checkout,api  2026-12-05T09:10:00Z\n\
             inc_2 (auto)                    investigating  critical  default: major outage  default       2026-12-05T09:20:00Z\n\
             inc_3                           resolved       none                             -             -\n"
        );
    }

    #[test]
    fn automatic_incidents_say_who_manages_them() {
        let mut i = sample();
        i.automatic = true;
        i.started_at = Some("2026-12-05T08:58:00Z".into());
        i.resolved_at = Some("2026-12-05T09:30:00Z".into());
        let text = described(&i, "");
        assert!(
            text.starts_with(
                "incident inc_01JD2M6Q4T7V1N9X5R8B3C0E2F: identified, major impact, automatic\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("  started     2026-12-05T08:58:00Z\n"),
            "{text}"
        );
        assert!(
            text.contains("  resolved    2026-12-05T09:30:00Z\n"),
            "{text}"
        );
        assert!(text.contains("managed by  Levee (automatic)"), "{text}");
    }

    #[test]
    fn components_in_a_table() {
        let list: ComponentList = serde_json::from_value(json!({"components": [
            {"id": "default", "name": "default", "group": null, "status": "major_outage",
             "live_status": "operational", "since": "2026-12-05T09:00:00Z",
             "pin": {"status": "major_outage", "note": "DB failover", "pinned_at": "2026-12-05T09:00:00Z", "pinned_by": "alice"},
             "routes": ["default"], "pools": ["default"]},
            {"id": "search", "name": "Search", "group": "Public API", "status": "operational",
             "live_status": "degraded_performance", "pin": null},
            {"id": "db", "name": "DB", "status": "under_maintenance", "live_status": "under_maintenance",
             "pin": {"status": "under_maintenance", "note": "", "pinned_by": "bob"}}
        ]}))
        .expect("list");
        assert_eq!(
            components_table(&list.components),
            "ID       NAME                 STATUS             LIVE                  PIN\n\
             default  default              major_outage       operational           pinned by alice: DB failover\n\
             search   Public API / Search  operational        degraded_performance\n\
             db       DB                   under_maintenance                        pinned by bob\n"
        );
        assert_eq!(
            components_table(&[]),
            "no components (is [status] enabled?)\n"
        );
    }

    /// `levee incident …` as a user types it.
    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: IncidentCmd,
    }

    fn parse(args: &[&str]) -> Result<IncidentCmd, String> {
        Cli::try_parse_from(std::iter::once(&"incident").chain(args))
            .map(|c| c.cmd)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn open_flags_become_the_body() {
        let body = |args: &[&str]| match parse(args) {
            Ok(IncidentCmd::Open(a)) => a.body(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            body(&["open", "Checkout errors", "--message", "Looking"]),
            json!({"name": "Checkout errors", "body": "Looking"})
        );
        assert_eq!(
            body(&[
                "open",
                "Checkout errors",
                "--message",
                "Looking",
                "--status",
                "identified",
                "--impact",
                "major",
                "--component",
                "api",
                "--component",
                "checkout"
            ]),
            json!({"name": "Checkout errors", "body": "Looking", "status": "identified",
                   "impact": "major", "components": ["api", "checkout"]})
        );
        assert!(parse(&["open", "No message"]).is_err());
        // Values are the API's to judge: a wrong one is passed on.
        assert_eq!(
            body(&["open", "x", "--message", "m", "--status", "fixed"])["status"],
            "fixed"
        );
    }

    #[test]
    fn update_needs_a_change_and_sends_only_it() {
        let body = |args: &[&str]| match parse(args) {
            Ok(IncidentCmd::Update(a)) => a.body(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            body(&[
                "update",
                "inc_1",
                "--status",
                "identified",
                "--message",
                "Found it"
            ]),
            json!({"status": "identified", "body": "Found it"})
        );
        assert_eq!(
            body(&[
                "update",
                "inc_1",
                "--component",
                "api",
                "--name",
                "API errors"
            ]),
            json!({"name": "API errors", "components": ["api"]})
        );
        assert!(parse(&["update", "inc_1"]).is_err());
    }

    #[test]
    fn paths_are_encoded() {
        assert_eq!(incident_path(" inc_1 "), "/v1/incidents/inc_1");
        assert_eq!(pin_path("a/b"), "/v1/components/a%2Fb/pin");
    }
}
