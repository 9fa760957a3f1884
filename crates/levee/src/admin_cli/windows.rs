//! `levee maint start|list|show|extend|end|delete`: maintenance windows.
//!
//! Turns flags into the API's request bodies (durations in whole seconds,
//! times in RFC 3339 UTC) and windows into a table or a key/value block,
//! with times relative to now (`ends in 9m 59s`). This module must not
//! validate what the API validates (scopes, networks, the order of times):
//! the API's 422 names the field better than a guess here could.

use std::path::PathBuf;

use http::Method;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::client::segment;
use super::failure::Failure;
use super::model::{Window, WindowList};
use super::table::{Table, pairs, truncate};
use super::{Ctx, duration, times, token};

/// The longest message a table cell shows before cutting it.
const MESSAGE_WIDTH: usize = 48;

/// `levee maint …` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum MaintCmd {
    /// Start a window now or at a time: matching requests get 503 maintenance.
    Start(StartArgs),
    /// List windows that are scheduled or active (with --all, ended ones too).
    List {
        /// Include ended windows.
        #[arg(long)]
        all: bool,
    },
    /// Show one window.
    Show {
        /// The window's id (`w_…`, or `config:NAME` for the config file's).
        id: String,
    },
    /// Move a window's end: later with `--by 10m`, earlier with `--by -5m`, or to `--until T`.
    #[command(group(clap::ArgGroup::new("change").required(true).args(["by", "until"])))]
    Extend {
        /// The window's id.
        id: String,
        /// How far to move the end (`10m`, `1h30m`; `-5m` shortens).
        #[arg(long, value_name = "DURATION", allow_hyphen_values = true, value_parser = duration::parse_signed_seconds)]
        by: Option<i64>,
        /// The new end (RFC 3339).
        #[arg(long, value_name = "TIME", value_parser = times::parse)]
        until: Option<OffsetDateTime>,
    },
    /// End a window now.
    End {
        /// The window's id.
        id: String,
    },
    /// Delete a window's record (an active window stops at once).
    Delete {
        /// The window's id.
        id: String,
    },
}

/// Flags of `levee maint start`.
#[derive(Debug, clap::Args)]
pub(crate) struct StartArgs {
    /// How long it lasts (`10m`, `1h30m`, `90s`, `2d`). Without --for or
    /// --until the window is open-ended: end it with `levee maint end`.
    #[arg(long = "for", value_name = "DURATION", value_parser = duration::parse_seconds, conflicts_with = "until")]
    duration: Option<u64>,
    /// When it ends (RFC 3339, e.g. 2026-12-01T03:00:00Z).
    #[arg(long, value_name = "TIME", value_parser = times::parse)]
    until: Option<OffsetDateTime>,
    /// When it starts (RFC 3339); default now.
    #[arg(long, value_name = "TIME", value_parser = times::parse)]
    at: Option<OffsetDateTime>,
    /// Only this route (default: everything).
    #[arg(long, value_name = "ROUTE", conflicts_with = "pool")]
    route: Option<String>,
    /// Only the routes to this pool.
    #[arg(long, value_name = "POOL")]
    pool: Option<String>,
    /// What clients are told (at most 1000 characters).
    #[arg(long, value_name = "TEXT")]
    message: Option<String>,
    /// A file whose first line is a token that lets a request through (in
    /// the `x-levee-bypass` header).
    #[arg(long, value_name = "FILE")]
    bypass_token_file: Option<PathBuf>,
    /// A client network (CIDR) whose requests go through; repeatable.
    #[arg(long, value_name = "CIDR")]
    bypass_network: Vec<String>,
    /// The header that carries the bypass token (default `x-levee-bypass`).
    #[arg(long, value_name = "NAME")]
    bypass_header: Option<String>,
}

impl StartArgs {
    /// The body of `POST /v1/windows`.
    fn body(&self) -> Result<Value, Failure> {
        let mut body = Map::new();
        let scope = match (&self.route, &self.pool) {
            (Some(r), _) => json!({"kind": "route", "name": r}),
            (None, Some(p)) => json!({"kind": "pool", "name": p}),
            (None, None) => json!({"kind": "all"}),
        };
        body.insert("scope".into(), scope);
        if let Some(at) = self.at {
            body.insert("starts_at".into(), times::format(at).into());
        }
        if let Some(until) = self.until {
            body.insert("ends_at".into(), times::format(until).into());
        }
        if let Some(secs) = self.duration {
            body.insert("duration_seconds".into(), secs.into());
        }
        if let Some(message) = &self.message {
            body.insert("message".into(), message.as_str().into());
        }
        let mut bypass = Map::new();
        if let Some(file) = &self.bypass_token_file {
            let t = token::bypass_token_file(file).map_err(|e| Failure::Usage(e.to_string()))?;
            bypass.insert("token".into(), t.into());
        }
        if !self.bypass_network.is_empty() {
            bypass.insert("networks".into(), self.bypass_network.clone().into());
        }
        if let Some(header) = &self.bypass_header {
            bypass.insert("header".into(), header.as_str().into());
        }
        if !bypass.is_empty() {
            body.insert("bypass".into(), bypass.into());
        }
        Ok(body.into())
    }
}

/// Runs one `levee maint` subcommand.
pub(crate) async fn run(ctx: &Ctx, cmd: MaintCmd) -> Result<(), Failure> {
    match cmd {
        MaintCmd::Start(args) => {
            let body = args.body()?;
            let answer = ctx
                .client
                .call(Method::POST, "/v1/windows", Some(&body))
                .await?;
            ctx.show(&answer, |w: Window| {
                format!(
                    "{}end it:     levee maint end {}{}\nextend it:  levee maint extend {} --by 10m{}\n",
                    described(&w, " created"),
                    w.id,
                    ctx.admin_flag,
                    w.id,
                    ctx.admin_flag,
                )
            })
        }
        MaintCmd::List { all } => {
            let path = if all {
                "/v1/windows?state=all"
            } else {
                "/v1/windows"
            };
            let answer = ctx.client.get(path).await?;
            ctx.show(&answer, |list: WindowList| {
                if list.windows.is_empty() {
                    return if all {
                        "no maintenance windows\n".to_owned()
                    } else {
                        "no maintenance windows scheduled or active (--all shows ended ones too)\n"
                            .to_owned()
                    };
                }
                table(&list.windows, times::now())
            })
        }
        MaintCmd::Show { id } => {
            let answer = ctx.client.get(&window_path(&id)).await?;
            ctx.show(&answer, |w: Window| described(&w, ""))
        }
        MaintCmd::Extend { id, by, until } => {
            let body = match (by, until) {
                (Some(secs), _) => json!({ "extend_seconds": secs }),
                (None, Some(t)) => json!({ "ends_at": times::format(t) }),
                (None, None) => {
                    return Err(Failure::Usage("give --by DURATION or --until TIME".into()));
                }
            };
            let answer = ctx
                .client
                .call(Method::PATCH, &window_path(&id), Some(&body))
                .await?;
            ctx.show(&answer, |w: Window| described(&w, " updated"))
        }
        MaintCmd::End { id } => {
            let path = format!("{}/end", window_path(&id));
            let answer = ctx.client.call(Method::POST, &path, None).await?;
            ctx.show(&answer, |w: Window| {
                let at = w
                    .ends_at
                    .as_deref()
                    .map_or_else(|| "now".to_owned(), times::show);
                format!("window {} ended at {at}\n", w.id)
            })
        }
        MaintCmd::Delete { id } => {
            ctx.client
                .call(Method::DELETE, &window_path(&id), None)
                .await?;
            ctx.done(&format!("window {id} deleted\n"));
            Ok(())
        }
    }
}

/// `/v1/windows/{id}`.
fn window_path(id: &str) -> String {
    format!("/v1/windows/{}", segment(id))
}

/// `window ID{what}: active, ends in 9m 59s` and the window in detail,
/// as of now.
fn described(w: &Window, what: &str) -> String {
    let now = times::now();
    format!(
        "window {}{what}: {}\n{}",
        w.id,
        state_phrase(w, now),
        detail(w, now)
    )
}

/// The time that matters now: `ends in 9m 59s`, `starts in 1h 0m`,
/// `ended 5m 0s ago`, `open-ended`.
fn when(w: &Window, now: OffsetDateTime) -> String {
    let rel = |t: &Option<String>| t.as_deref().and_then(|t| times::relative(t, now));
    match w.state.as_str() {
        "scheduled" => rel(&w.starts_at).map_or_else(String::new, |r| format!("starts {r}")),
        "ended" => rel(&w.ends_at).map_or_else(String::new, |r| format!("ended {r}")),
        _ if w.ends_at.is_none() => "open-ended".to_owned(),
        _ => rel(&w.ends_at).map_or_else(String::new, |r| format!("ends {r}")),
    }
}

/// `active, ends in 9m 59s`, `scheduled, starts in 1h 0m`, `ended 5m 0s ago`.
fn state_phrase(w: &Window, now: OffsetDateTime) -> String {
    let when = when(w, now);
    if when.is_empty() {
        w.state.clone()
    } else if w.state == "ended" {
        when
    } else {
        format!("{}, {when}", w.state)
    }
}

/// An API time to the second, or `none` when there is none.
fn time(t: &Option<String>, none: &str) -> String {
    t.as_deref().map_or_else(|| none.to_owned(), times::show)
}

/// One window as aligned `key value` lines.
fn detail(w: &Window, now: OffsetDateTime) -> String {
    let mut lines = vec![
        ("scope", w.scope.to_string()),
        ("state", state_phrase(w, now)),
        ("starts", time(&w.starts_at, "-")),
        ("ends", time(&w.ends_at, "never (open-ended)")),
        (
            "message",
            if w.message.is_empty() {
                "(none)".to_owned()
            } else {
                w.message.clone()
            },
        ),
        ("bypass", bypass(w)),
    ];
    if !w.source.is_empty() {
        lines.push(("source", w.source.clone()));
    }
    if let Some(at) = &w.created_at {
        let by = w
            .created_by
            .as_deref()
            .map(|b| format!(" by {b}"))
            .unwrap_or_default();
        lines.push(("created", format!("{}{by}", times::show(at))));
    }
    if let Some(at) = &w.updated_at
        && w.updated_at != w.created_at
    {
        lines.push(("updated", times::show(at)));
    }
    pairs(&lines)
}

/// `header x-levee-bypass with a token; networks 10.0.0.0/8`, or `none`.
fn bypass(w: &Window) -> String {
    let b = &w.bypass;
    let mut parts = Vec::new();
    if b.token {
        let header = b.header.as_deref().unwrap_or("x-levee-bypass");
        parts.push(format!("a token in the {header} header"));
    }
    if !b.networks.is_empty() {
        parts.push(format!("clients in {}", b.networks.join(", ")));
    }
    if parts.is_empty() {
        "none".to_owned()
    } else {
        parts.join("; ")
    }
}

/// Windows as a table.
fn table(windows: &[Window], now: OffsetDateTime) -> String {
    let mut t = Table::new(&["id", "scope", "state", "starts", "ends", "when", "message"]);
    for w in windows {
        t.row(vec![
            w.id.clone(),
            w.scope.to_string(),
            w.state.clone(),
            time(&w.starts_at, "-"),
            time(&w.ends_at, "-"),
            when(w, now),
            truncate(&w.message, MESSAGE_WIDTH),
        ]);
    }
    t.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn window(v: Value) -> Window {
        serde_json::from_value(v).expect("window")
    }

    fn now() -> OffsetDateTime {
        times::parse("2026-12-01T02:00:00.200Z").expect("now")
    }

    fn sample() -> Window {
        window(json!({
            "id": "w_01JD2M6Q4T7V1N9X5R8B3C0E2F",
            "source": "api",
            "scope": {"kind": "route", "name": "api"},
            "state": "active",
            "starts_at": "2026-12-01T02:00:00Z",
            "ends_at": "2026-12-01T02:10:00Z",
            "message": "Database upgrade",
            "bypass": {"header": "x-levee-bypass", "token": true, "networks": ["10.0.0.0/8"]},
            "created_at": "2026-12-01T02:00:00Z",
            "created_by": "alice",
            "updated_at": "2026-12-01T02:00:00Z"
        }))
    }

    #[test]
    fn a_window_in_detail() {
        assert_eq!(
            detail(&sample(), now()),
            "  scope    route api\n  \
               state    active, ends in 9m 59s\n  \
               starts   2026-12-01T02:00:00Z\n  \
               ends     2026-12-01T02:10:00Z\n  \
               message  Database upgrade\n  \
               bypass   a token in the x-levee-bypass header; clients in 10.0.0.0/8\n  \
               source   api\n  \
               created  2026-12-01T02:00:00Z by alice\n"
        );
    }

    #[test]
    fn windows_in_a_table() {
        let open = window(json!({
            "id": "w_2", "scope": {"kind": "all"}, "state": "active",
            "starts_at": "2026-12-01T01:00:00Z", "ends_at": null, "message": ""
        }));
        let later = window(json!({
            "id": "config:nightly", "scope": {"kind": "pool", "name": "db"}, "state": "scheduled",
            "starts_at": "2026-12-01T03:00:00.200Z", "ends_at": "2026-12-01T04:00:00Z",
            "message": "Nightly\nreindex"
        }));
        assert_eq!(
            table(&[sample(), open, later], now()),
            "ID                            SCOPE      STATE      STARTS                ENDS                  WHEN             MESSAGE\n\
             w_01JD2M6Q4T7V1N9X5R8B3C0E2F  route api  active     2026-12-01T02:00:00Z  2026-12-01T02:10:00Z  ends in 9m 59s   Database upgrade\n\
             w_2                           all        active     2026-12-01T01:00:00Z  -                     open-ended\n\
             config:nightly                pool db    scheduled  2026-12-01T03:00:00Z  2026-12-01T04:00:00Z  starts in 1h 0m  Nightly reindex\n"
        );
    }

    #[test]
    fn ended_windows_say_how_long_ago() {
        let mut w = sample();
        w.state = "ended".into();
        w.ends_at = Some("2026-12-01T01:55:00.200Z".into());
        assert_eq!(state_phrase(&w, now()), "ended 5m 0s ago");
    }

    /// The flags of `levee maint start` as a user types them.
    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: MaintCmd,
    }

    fn start(args: &[&str]) -> Result<Value, String> {
        let cli = Cli::try_parse_from(["maint", "start"].iter().chain(args))
            .map_err(|e| e.to_string())?;
        match cli.cmd {
            MaintCmd::Start(a) => a.body().map_err(|f| f.message()),
            other => Err(format!("parsed as {other:?}")),
        }
    }

    #[test]
    fn start_flags_become_the_body() {
        assert_eq!(
            start(&["--for", "10m", "--message", "Database upgrade"]),
            Ok(
                json!({"scope": {"kind": "all"}, "duration_seconds": 600, "message": "Database upgrade"})
            )
        );
        assert_eq!(
            start(&[
                "--at",
                "2026-12-01T02:00:00Z",
                "--until",
                "2026-12-01T04:00:00+01:00",
                "--route",
                "api"
            ]),
            Ok(json!({
                "scope": {"kind": "route", "name": "api"},
                "starts_at": "2026-12-01T02:00:00Z",
                "ends_at": "2026-12-01T03:00:00Z"
            }))
        );
        assert_eq!(
            start(&[
                "--pool",
                "db",
                "--bypass-network",
                "10.0.0.0/8",
                "--bypass-network",
                "::1/128"
            ]),
            Ok(
                json!({"scope": {"kind": "pool", "name": "db"}, "bypass": {"networks": ["10.0.0.0/8", "::1/128"]}})
            )
        );
    }

    #[test]
    fn start_refuses_contradictions() {
        assert!(start(&["--for", "10m", "--until", "2026-12-01T03:00:00Z"]).is_err());
        assert!(start(&["--route", "a", "--pool", "b"]).is_err());
        assert!(start(&["--for", "ten minutes"]).is_err());
        assert!(start(&["--at", "tomorrow"]).is_err());
        let missing =
            start(&["--bypass-token-file", "/nonexistent/levee-bypass"]).expect_err("no file");
        assert!(missing.contains("/nonexistent/levee-bypass"), "{missing}");
    }

    #[test]
    fn extend_takes_one_of_by_and_until() {
        let parse =
            |args: &[&str]| Cli::try_parse_from(["maint", "extend", "w_1"].iter().chain(args));
        assert!(matches!(
            parse(&["--by", "-5m"]).map(|c| c.cmd),
            Ok(MaintCmd::Extend {
                by: Some(-300),
                until: None,
                ..
            })
        ));
        assert!(parse(&[]).is_err());
        assert!(parse(&["--by", "5m", "--until", "2026-12-01T03:00:00Z"]).is_err());
    }
}
