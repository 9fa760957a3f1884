//! Who produced an error response, and what its headers say.
//!
//! Given a response's status, head and body, [`recognise`] says who made the
//! answer — Levee itself (a problem with a Levee reason), any server's RFC
//! 9457 problem, the `{"meta","error"}` envelope, or one of the products in
//! `data/recognisers.toml`: nginx, Apache, HAProxy and Envoy default pages,
//! CDNs' and cloud load balancers' 5xx pages — what that producer means by
//! this status, which CDNs or proxies it passed through, the request id to
//! quote, and what `Retry-After` and the cache headers say.
//!
//! JSON shapes are recognised in code; everything else is patterns in the
//! data file (substrings of the body and header values), tried in the
//! file's order, so adding a recogniser is a data change. The table test in
//! `tests.rs` holds one realistic sample per recogniser.
//!
//! This module must not do I/O or read the clock: `now` is an argument (for
//! a `Retry-After` date without a `Date` header).

mod file;
mod reading;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::SystemTime;

use http::HeaderMap;
use serde::{Deserialize, Serialize};

use crate::problem_info::{ProblemForm, ProblemInfo};
use crate::reason::Reason;

pub use file::RecogniserError;
pub use reading::{CacheReading, RetryAfterReading};

/// What a recogniser's match says about the answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// It made the answer.
    #[default]
    Producer,
    /// The answer passed through it.
    Path,
}

/// One entry of `data/recognisers.toml`, resolved.
#[derive(Debug, Clone)]
pub struct Recogniser {
    /// A stable id, e.g. `envoy-upstream-reset`.
    pub id: String,
    /// Producer or path.
    pub role: Role,
    /// Who, e.g. `Cloudflare`.
    pub producer: String,
    /// What kind of thing, e.g. `CDN`.
    pub kind: String,
    headers: Vec<(String, String)>,
    body_all: Vec<String>,
    body_any: Vec<String>,
    statuses: Vec<u16>,
    means: String,
    by_status: BTreeMap<u16, String>,
    request_id_headers: Vec<String>,
    request_id_after: Option<String>,
    detail_after: Option<String>,
}

impl Recogniser {
    fn matches(&self, status: u16, headers: &HeaderMap, lower_body: &str) -> bool {
        (self.statuses.is_empty() || self.statuses.contains(&status))
            && self.headers.iter().all(|(name, text)| {
                headers.get_all(name.as_str()).iter().any(|v| {
                    String::from_utf8_lossy(v.as_bytes())
                        .to_ascii_lowercase()
                        .contains(text.as_str())
                })
            })
            && self
                .body_all
                .iter()
                .all(|t| lower_body.contains(t.as_str()))
            && (self.body_any.is_empty()
                || self
                    .body_any
                    .iter()
                    .any(|t| lower_body.contains(t.as_str())))
    }
}

/// Who made the answer (or carried it), and what that means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Producer {
    /// The recogniser's id, or `levee`, `rfc9457`, `envelope`.
    pub id: String,
    /// Who, e.g. `Envoy`.
    pub name: String,
    /// What kind of thing, e.g. `proxy`.
    pub kind: String,
    /// What an answer from it means.
    pub means: String,
    /// What it means by this status in particular, when the data says.
    pub status_means: Option<String>,
    /// A detail it gave (an Envoy reset reason, a problem's `detail`).
    pub detail: Option<String>,
}

/// A request id found in the answer, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FoundId {
    /// The id.
    pub value: String,
    /// Where it was: a header name, `problem body`, or `page`.
    pub source: String,
}

/// What [`recognise`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recognition {
    /// The response's status.
    pub status: u16,
    /// Who made the answer, if recognised.
    pub producer: Option<Producer>,
    /// What the answer passed through (CDNs, proxies), when they say so.
    pub path: Vec<Producer>,
    /// The server's problem body (RFC 9457 or envelope), if any.
    pub problem: Option<ProblemInfo>,
    /// The Levee reason, when the answer is a Levee problem.
    pub levee_reason: Option<String>,
    /// The request id to quote to support.
    pub request_id: Option<FoundId>,
    /// What `Retry-After` says.
    pub retry_after: RetryAfterReading,
    /// What the cache headers say.
    pub cache: CacheReading,
    /// The `Server` header, as sent.
    pub server: Option<String>,
    /// The `Content-Type` header, as sent.
    pub content_type: Option<String>,
}

fn loaded() -> &'static file::Loaded {
    static LOADED: OnceLock<file::Loaded> = OnceLock::new();
    LOADED.get_or_init(|| {
        file::load(file::BUNDLED)
            .expect("the bundled recognisers.toml is valid (recognise::tests load it)")
    })
}

/// Every recogniser, in the order they are tried.
pub fn recognisers() -> &'static [Recogniser] {
    &loaded().recognisers
}

/// Recognises a response. `now` is this machine's time, used only for a
/// `Retry-After` date when the response has no `Date` header.
pub fn recognise(status: u16, headers: &HeaderMap, body: &[u8], now: SystemTime) -> Recognition {
    let text = String::from_utf8_lossy(body);
    let lower = text.to_ascii_lowercase();
    let problem = ProblemInfo::parse(body);
    let levee_reason = problem.as_ref().and_then(levee_reason);

    let mut producer = problem
        .as_ref()
        .map(|p| problem_producer(p, levee_reason, status));
    // The rules whose request-id headers to consult: the producer's first.
    let mut id_rules: Vec<&Recogniser> = Vec::new();
    let mut path: Vec<Producer> = Vec::new();
    for r in recognisers()
        .iter()
        .filter(|r| r.matches(status, headers, &lower))
    {
        let found = Producer {
            id: r.id.clone(),
            name: r.producer.clone(),
            kind: r.kind.clone(),
            means: r.means.clone(),
            status_means: r.by_status.get(&status).cloned(),
            detail: r
                .detail_after
                .as_deref()
                .and_then(|m| capture_after(&text, &lower, m)),
        };
        match r.role {
            Role::Producer if producer.is_none() => {
                producer = Some(found);
                id_rules.insert(0, r);
            }
            Role::Producer => {}
            Role::Path => {
                id_rules.push(r);
                let same = |p: &Producer| p.name == found.name;
                if !producer.as_ref().is_some_and(same) && !path.iter().any(same) {
                    path.push(found);
                }
            }
        }
    }

    let request_id = request_id(problem.as_ref(), &id_rules, headers, &text, &lower);
    Recognition {
        status,
        producer,
        path,
        levee_reason: levee_reason.map(|r| r.slug().to_owned()),
        problem,
        request_id,
        retry_after: RetryAfterReading::read(headers, now),
        cache: CacheReading::read(headers, status),
        server: header_text(headers, "server"),
        content_type: header_text(headers, "content-type"),
    }
}

/// The Levee reason of a problem that Levee made: a catalogue reason, and a
/// `type` under `/_levee/problems/` (the envelope carries no blame, so the
/// type decides there).
fn levee_reason(p: &ProblemInfo) -> Option<Reason> {
    let reason = p.reason_slug().and_then(Reason::from_slug)?;
    let levee_type = p
        .type_uri
        .as_deref()
        .is_some_and(|t| t.contains("/_levee/problems/"));
    levee_type.then_some(reason)
}

fn problem_producer(p: &ProblemInfo, reason: Option<Reason>, status: u16) -> Producer {
    let title = p.title.as_deref().unwrap_or("(no title)");
    let type_uri = p.type_uri.as_deref().unwrap_or("about:blank");
    match (reason, p.form) {
        (Some(r), _) => Producer {
            id: "levee".into(),
            name: "Levee gateway".into(),
            kind: "gateway".into(),
            means: format!(
                "{} (reason `{}`, blame: {})",
                r.summary(),
                r.slug(),
                r.blame().as_str()
            ),
            status_means: None,
            detail: p.detail.clone(),
        },
        (None, ProblemForm::Rfc9457) => Producer {
            id: "rfc9457".into(),
            name: "the service (RFC 9457 problem details)".into(),
            kind: "API".into(),
            means: format!(
                "The service explained the error itself: \"{title}\", type {type_uri}{}.",
                match p.status {
                    Some(s) if s != status =>
                        format!(" (the body says {s}, the response {status})"),
                    _ => String::new(),
                }
            ),
            status_means: None,
            detail: p.detail.clone(),
        },
        (None, ProblemForm::Envelope) => Producer {
            id: "envelope".into(),
            name: "the service ({meta, error} envelope)".into(),
            kind: "API".into(),
            means: format!(
                "The service explained the error itself in the {{\"meta\",\"error\"}} envelope: \"{title}\", type {type_uri}."
            ),
            status_means: None,
            detail: p.detail.clone(),
        },
    }
}

/// The id to quote: the problem body's, else one a matched recogniser names
/// (producer first), else the first of the usual headers.
fn request_id(
    problem: Option<&ProblemInfo>,
    rules: &[&Recogniser],
    headers: &HeaderMap,
    text: &str,
    lower: &str,
) -> Option<FoundId> {
    if let Some(id) = problem.and_then(|p| p.request_id.clone()) {
        return Some(FoundId {
            value: id,
            source: "problem body".into(),
        });
    }
    let from_header = |names: &[String]| {
        names.iter().find_map(|n| {
            header_text(headers, n).map(|value| FoundId {
                value,
                source: n.clone(),
            })
        })
    };
    for rule in rules {
        if let Some(found) = from_header(&rule.request_id_headers) {
            return Some(found);
        }
        if let Some(value) = rule
            .request_id_after
            .as_deref()
            .and_then(|m| capture_after(text, lower, m))
        {
            return Some(FoundId {
                value,
                source: "page".into(),
            });
        }
    }
    from_header(&loaded().request_id_headers)
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// The text after `marker` (already lowercase) in the body: leading
/// whitespace skipped, up to the end of the line or the next tag, HTML
/// character references decoded, at most 200 characters.
fn capture_after(text: &str, lower: &str, marker: &str) -> Option<String> {
    // ASCII lowercasing keeps byte offsets, so an offset in `lower` is one in `text`.
    let at = lower.find(marker)? + marker.len();
    let rest = text.get(at..)?.trim_start();
    let end = rest.find(['<', '\n', '\r']).unwrap_or(rest.len());
    let value: String = decode_entities(rest[..end].trim())
        .chars()
        .take(200)
        .collect();
    (!value.is_empty()).then_some(value)
}

/// Decodes `&#NN;`, `&#xHH;` and the five named references of XML.
fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let decoded = rest.find(';').and_then(|end| {
            let name = &rest[1..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => name
                    .strip_prefix("#x")
                    .or_else(|| name.strip_prefix("#X"))
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            }?;
            Some((c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}
