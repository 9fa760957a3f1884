//! `levee explain -` and `levee explain --url URL`: a real response,
//! diagnosed — its status, who produced it, what that means, what its
//! Retry-After and cache headers say, and the request id to quote.
//!
//! The recognising is `levee_http::recognise`'s; this module owns getting
//! the response (stdin, or one request with no retries and no redirects
//! through the same client code as `levee check`) and laying the diagnosis
//! out. It must not recognise anything itself.

use std::io::{IsTerminal, Read};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use levee_http::recognise::{self, Producer, Recognition};
use levee_http::status::{self, Class, StatusInfo};
use serde_json::{Value, json};

use super::raw::{self, RawResponse};
use super::topic::{fault_text, standing_line};
use super::wrap::Text;
use crate::check::{CheckArgs, probe};

/// Where the response comes from.
pub(crate) enum Source {
    /// Raw text on stdin.
    Stdin,
    /// One GET of this URL, with these headers.
    Url {
        url: String,
        headers: Vec<String>,
        timeout: Duration,
    },
}

/// Why no response could be had.
pub(crate) enum Failure {
    /// Bad input or flags: exit 2.
    Usage(anyhow::Error),
    /// No HTTP answer from the URL: exit 3.
    Network(anyhow::Error),
}

/// Reads or fetches the response.
pub(crate) async fn get(source: Source) -> Result<RawResponse, Failure> {
    match source {
        Source::Stdin => {
            if std::io::stdin().is_terminal() {
                return Err(Failure::Usage(anyhow::anyhow!(
                    "`levee explain -` reads a response from stdin: pipe one in, e.g. `curl -si URL | levee explain -`"
                )));
            }
            let mut input = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut input)
                .context("cannot read stdin")
                .map_err(Failure::Usage)?;
            raw::parse(&input).map_err(Failure::Usage)
        }
        Source::Url {
            url,
            headers,
            timeout,
        } => {
            let client = crate::fetch::client_builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .context("cannot build the HTTP client")
                .map_err(Failure::Usage)?;
            let args = CheckArgs {
                url: url.clone(),
                method: "GET".into(),
                headers,
                timeout,
            };
            match probe(&client, &args, "*/*").await {
                Err(e) => Err(Failure::Usage(e)),
                Ok(Err(e)) => Err(Failure::Network(
                    anyhow::Error::new(e).context(format!("no HTTP response from {url}")),
                )),
                Ok(Ok(p)) => Ok(RawResponse {
                    status: p.status.as_u16(),
                    headers: p.headers,
                    body: p.body,
                }),
            }
        }
    }
}

/// Recognises the response (now is this machine's clock, for a
/// Retry-After date without a Date header).
pub(crate) fn recognise(r: &RawResponse) -> Recognition {
    recognise::recognise(r.status, &r.headers, &r.body, SystemTime::now())
}

/// The status entry to explain with: the code's own, or for an unknown
/// code the x00 of its class, which RFC 9110 §15 says to read it as.
fn entry(status: u16) -> (Option<&'static StatusInfo>, bool) {
    match status::lookup(status) {
        Some(info) => (Some(info), true),
        None => (
            Class::of(status).and_then(|c| status::lookup(c.first())),
            false,
        ),
    }
}

/// The diagnosis as text.
pub(crate) fn text(r: &Recognition, width: usize) -> String {
    let mut t = Text::new(width);
    let (info, exact) = entry(r.status);
    let label = match (info, exact) {
        (Some(i), true) => i.label(),
        (Some(i), false) => format!(
            "{} (not a known code; read as {}, RFC 9110 §15)",
            r.status,
            i.label()
        ),
        (None, _) => r.status.to_string(),
    };
    match &r.producer {
        Some(p) => t.para("", &format!("{label} — from {} ({})", p.name, p.kind)),
        None => t.para(
            "",
            &format!(
                "{label} — producer not recognised{}",
                r.server
                    .as_ref()
                    .map(|s| format!(" (Server: {s})"))
                    .unwrap_or_default()
            ),
        ),
    }
    if let Some(p) = &r.producer {
        producer_text(&mut t, p);
    }
    for p in &r.path {
        t.labelled("  Passed through: ", &format!("{} ({})", p.name, p.kind));
    }
    if let Some(info) = info {
        t.gap();
        if let Some(s) = standing_line(info) {
            t.para("", &s);
        }
        t.labelled(&format!("What {} means: ", info.code), &info.meaning);
        t.labelled("Whose side: ", fault_text(info.fault));
    }
    t.gap();
    t.line("Retry:");
    if let Some(s) = r.retry_after.says(r.status) {
        t.para("  ", &s);
    }
    if let Some(info) = info {
        t.para("  ", &info.retry_note);
    }
    t.gap();
    t.line("Caching:");
    t.para("  ", &r.cache.says);
    t.gap();
    match &r.request_id {
        Some(id) => t.labelled(
            "Request id: ",
            &format!(
                "{} (from {}) — quote it to the service's support.",
                id.value, id.source
            ),
        ),
        None => t.line("Request id: none in this response."),
    }
    let mut more = format!("levee explain {}", r.status);
    if let Some(reason) = &r.levee_reason {
        more.push_str(&format!(", levee explain {reason}"));
    }
    t.labelled("More: ", &more);
    t.finish()
}

fn producer_text(t: &mut Text, p: &Producer) {
    if let Some(s) = &p.status_means {
        t.para("  ", s);
    }
    t.para("  ", &p.means);
    if let Some(d) = &p.detail {
        t.labelled("  Detail: ", d);
    }
}

/// The diagnosis as JSON.
pub(crate) fn json(r: &Recognition) -> Value {
    let (info, exact) = entry(r.status);
    let mut v = json!({ "kind": "response" });
    if let (Value::Object(into), Ok(Value::Object(from))) = (&mut v, serde_json::to_value(r)) {
        into.extend(from);
    }
    v["status_info"] = if exact {
        serde_json::to_value(info).expect("a StatusInfo serializes")
    } else {
        Value::Null
    };
    v["read_as"] = match (info, exact) {
        (Some(i), false) => i.code.into(),
        _ => Value::Null,
    };
    v["retry_after_says"] = r.retry_after.says(r.status).into();
    v
}
