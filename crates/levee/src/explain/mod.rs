//! `levee explain`: what any HTTP status means, and who produced a real
//! error response.
//!
//! - `levee explain 503`, `levee explain overloaded`, `levee explain
//!   too-many-requests`: an entry of the status knowledge (every IANA code,
//!   unofficial codes marked) or a Levee reason — meaning, class, whose
//!   side, causes, fixes, headers, retry guidance, and how to return it in
//!   Flask, Express, PHP, Go, Spring Boot, Sinatra and axum.
//! - `curl -si URL | levee explain -`, `levee explain --url URL`: a real
//!   response diagnosed (see [`response`]).
//! - `levee explain`: the index.
//!
//! Plain text wrapped at the terminal's width by default, `--json` for
//! tools. Exit codes: 0 explained; 1 an unknown code or word (it says so);
//! 2 usage (bad flag, unreadable input); 3 no HTTP response from `--url`.
//!
//! This module owns the command's flags, dispatch and exit codes. It must
//! not hold knowledge: that is `levee_http::{status, recognise, examples}`,
//! shared with the gateway's pages and the client.

mod raw;
mod response;
mod topic;
mod wrap;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use levee_http::Reason;
use levee_http::status::{self, Class};
use serde_json::json;

use crate::fetch::{EXIT_NETWORK, EXIT_OK, EXIT_USAGE, parse_duration};
use response::{Failure, Source};
use topic::Frameworks;

/// Exit code: the code or word is not known.
const EXIT_UNKNOWN: u8 = 1;

/// `levee explain`: what a status means, or who produced a real error response.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ExplainArgs {
    /// A status code (503), a Levee reason (overloaded), a status name
    /// (too-many-requests), or `-` to read a response (`curl -si` output) from stdin.
    #[arg(value_name = "CODE|REASON|-", conflicts_with = "url")]
    topic: Option<String>,
    /// Fetch this URL once (GET, no retries, no redirects) and explain the answer.
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// A request header for --url, `Name: value`; repeatable.
    #[arg(short = 'H', long = "header", value_name = "HEADER", requires = "url")]
    headers: Vec<String>,
    /// Time allowed for --url.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    timeout: Duration,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Code examples to show: all, none, or one of flask, express, php, go, spring, sinatra, axum.
    #[arg(long, default_value = "all", value_name = "NAME", value_parser = Frameworks::parse)]
    examples: Frameworks,
    /// Wrap text at this many columns [default: $COLUMNS, else the terminal's width, else 80].
    #[arg(long, value_name = "COLUMNS")]
    width: Option<usize>,
}

/// Runs `levee explain`.
pub(crate) async fn run(args: ExplainArgs) -> ExitCode {
    let (code, out) = explain(args).await;
    // A closed pipe (`| head`) is not an error worth a message.
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    ExitCode::from(code)
}

async fn explain(args: ExplainArgs) -> (u8, String) {
    let width = wrap::width(args.width);
    let source = match (&args.topic, &args.url) {
        (_, Some(url)) => Some(Source::Url {
            url: url.clone(),
            headers: args.headers.clone(),
            timeout: args.timeout,
        }),
        (Some(t), None) if t == "-" => Some(Source::Stdin),
        _ => None,
    };
    if let Some(source) = source {
        return match response::get(source).await {
            Ok(raw) => {
                let r = response::recognise(&raw);
                let out = if args.json {
                    pretty(&response::json(&r))
                } else {
                    response::text(&r, width)
                };
                (EXIT_OK, out)
            }
            Err(Failure::Usage(e)) => {
                eprintln!("levee: {e:#}");
                (EXIT_USAGE, String::new())
            }
            Err(Failure::Network(e)) => {
                eprintln!("levee: {e:#}");
                (EXIT_NETWORK, String::new())
            }
        };
    }
    let Some(topic) = args.topic.as_deref().map(str::trim) else {
        let out = if args.json {
            pretty(&topic::index_json())
        } else {
            topic::index_text(width)
        };
        return (EXIT_OK, out);
    };
    let code: Option<u16> = topic.parse().ok();
    if let Some(info) = code.and_then(status::lookup).or_else(|| {
        // A name such as `too-many-requests`, unless it is a reason's slug.
        Reason::from_slug(topic)
            .is_none()
            .then(|| status::lookup_name(topic))
            .flatten()
    }) {
        let out = if args.json {
            pretty(&topic::status_json(info, &args.examples))
        } else {
            topic::status_text(info, &args.examples, width)
        };
        return (EXIT_OK, out);
    }
    if let Some(reason) = Reason::from_slug(topic) {
        let out = if args.json {
            pretty(&topic::reason_json(reason, &args.examples))
        } else {
            topic::reason_text(reason, &args.examples, width)
        };
        return (EXIT_OK, out);
    }
    let message = unknown(topic, code);
    let out = if args.json {
        let read_as = code.and_then(Class::of).map(Class::first);
        pretty(
            &json!({ "kind": "unknown", "topic": topic, "message": message, "read_as": read_as }),
        )
    } else {
        let mut t = wrap::Text::new(width);
        t.para("", &message);
        t.finish()
    };
    (EXIT_UNKNOWN, out)
}

/// What to say about a code or word nobody knows.
fn unknown(topic: &str, code: Option<u16>) -> String {
    match code.map(|c| (c, Class::of(c))) {
        Some((c, Some(class))) => {
            let x00 = status::lookup(class.first())
                .map_or_else(|| class.first().to_string(), |s| s.label());
            format!(
                "{c} is not a registered HTTP status code and Levee knows no common unofficial use of it. \
                 RFC 9110 §15 says a client that does not recognise a status code treats it as the x00 of its class: {c} reads as {x00} ({}). \
                 Try `levee explain {}`.",
                class,
                class.first()
            )
        }
        Some((c, None)) => {
            format!("{c} is not an HTTP status code: they are three digits, 100 to 599.")
        }
        None => format!(
            "{topic:?} is neither a status code, a status name, nor a Levee reason. Reasons: {}. `levee explain` lists every code.",
            Reason::ALL
                .iter()
                .map(|r| r.slug())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn pretty(v: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("a JSON value always serializes");
    s.push('\n');
    s
}
