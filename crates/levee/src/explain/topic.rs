//! `levee explain CODE` and `levee explain REASON`: an entry of the status
//! knowledge, or a Levee reason, as text or JSON.
//!
//! The knowledge and its examples come from `levee_http::{status,
//! examples}`; this module owns only their layout for a terminal and the
//! JSON document tools read. It must not add knowledge of its own.

use levee_http::Reason;
use levee_http::examples::{self, Example};
use levee_http::status::{self, Fault, Standing, StatusInfo};
use serde_json::{Value, json};

use super::wrap::Text;

/// Which framework examples to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Frameworks {
    /// Every framework.
    All,
    /// None.
    None,
    /// One, by id.
    One(String),
}

impl Frameworks {
    /// `all`, `none`, or a framework id (`flask`, `go` …).
    pub(crate) fn parse(s: &str) -> Result<Frameworks, String> {
        match s {
            "all" => Ok(Frameworks::All),
            "none" => Ok(Frameworks::None),
            id if examples::frameworks().iter().any(|f| f.id == id) => {
                Ok(Frameworks::One(id.to_owned()))
            }
            other => Err(format!(
                "unknown framework {other:?}: expected all, none, or one of {}",
                examples::frameworks()
                    .iter()
                    .map(|f| f.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    fn keep(&self, e: &Example) -> bool {
        match self {
            Frameworks::All => true,
            Frameworks::None => false,
            Frameworks::One(id) => &e.framework == id,
        }
    }
}

pub(crate) fn fault_text(fault: Fault) -> &'static str {
    match fault {
        Fault::Client => {
            "the client's — the request must change (or the client must act) before it can succeed"
        }
        Fault::Server => "the server's — nothing is wrong with the request",
        Fault::Neither => "nobody's — this is not an error",
    }
}

/// The lines about a status that an entry and a diagnosis share.
pub(crate) fn standing_line(info: &StatusInfo) -> Option<String> {
    match &info.standing {
        Standing::Registered => None,
        Standing::Temporary { note } => Some(format!(
            "Temporarily registered ({note}): its definition is still an Internet-Draft."
        )),
        Standing::Unofficial { origin } => Some(format!(
            "UNOFFICIAL: not in the IANA registry. Used by {origin}."
        )),
    }
}

/// `levee explain CODE` as text.
pub(crate) fn status_text(info: &StatusInfo, frameworks: &Frameworks, width: usize) -> String {
    let mut t = Text::new(width);
    t.line(&info.label());
    let mut facts = info.class.to_string();
    if let Some(r) = &info.reference {
        facts.push_str(&format!(" · {r} · {}", r.url));
    }
    t.para("", &facts);
    if let Some(s) = standing_line(info) {
        t.para("", &s);
    }
    t.gap();
    t.para("", &info.meaning);
    t.gap();
    t.labelled("Whose side: ", fault_text(info.fault));
    section_list(&mut t, "Common causes:", &info.causes);
    t.gap();
    t.line("If you are visiting:");
    t.para("  ", &info.visitor_fix);
    section_list(
        &mut t,
        "If you are the developer or operator:",
        &info.developer_fix,
    );
    if !info.headers.is_empty() {
        t.gap();
        t.line("Headers that belong with it:");
        for h in &info.headers {
            let name = match &h.example {
                Some(v) => format!("{}: {v}", h.name),
                None => h.name.clone(),
            };
            t.bullet("  ", &format!("{name} — {}", h.why));
        }
    }
    t.gap();
    t.line("Retry:");
    t.para("  ", &info.retry_note);
    let reasons = info.levee_reasons();
    if !reasons.is_empty() {
        t.gap();
        t.line("When Levee sends it (levee explain REASON):");
        for r in reasons {
            t.bullet("  ", &format!("{} — {}", r.slug(), r.title()));
        }
    }
    examples_text(&mut t, &examples::for_status(info), frameworks);
    t.finish()
}

/// `levee explain REASON` as text.
pub(crate) fn reason_text(reason: Reason, frameworks: &Frameworks, width: usize) -> String {
    let mut t = Text::new(width);
    let info = status::lookup(reason.status().as_u16());
    t.line(&format!("{} — {}", reason.slug(), reason.title()));
    t.para(
        "",
        &format!(
            "A Levee reason: the gateway answers {} (levee explain {}) · blame: {} · {}",
            info.map_or_else(|| reason.status().as_u16().to_string(), StatusInfo::label),
            reason.status().as_u16(),
            reason.blame().as_str(),
            if reason.retryable() {
                "retryable"
            } else {
                "not retryable"
            }
        ),
    );
    t.gap();
    t.para("", reason.summary());
    let causes: Vec<String> = reason.causes().iter().map(|s| (*s).to_owned()).collect();
    section_list(&mut t, "Likely causes:", &causes);
    t.gap();
    t.line("If you are visiting:");
    t.para("  ", reason.visitor_fix());
    let fixes: Vec<String> = reason
        .developer_fix()
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    section_list(&mut t, "If you are the developer or operator:", &fixes);
    if let Some(info) = info {
        let headers: Vec<String> = info
            .headers
            .iter()
            .map(|h| format!("{} — {}", h.name, h.why))
            .collect();
        section_list(&mut t, "Headers that belong with it:", &headers);
        t.gap();
        t.line("Retry:");
        t.para("  ", &info.retry_note);
    }
    t.gap();
    t.labelled(
        "Its page on a gateway: ",
        &format!("{}/{}", levee_http::pages::PROBLEMS_PATH, reason.slug()),
    );
    examples_text(&mut t, &examples::for_reason(reason), frameworks);
    t.finish()
}

fn section_list(t: &mut Text, heading: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    t.gap();
    t.line(heading);
    for i in items {
        t.bullet("  ", i);
    }
}

fn examples_text(t: &mut Text, examples: &[Example], frameworks: &Frameworks) {
    let shown: Vec<&Example> = examples.iter().filter(|e| frameworks.keep(e)).collect();
    if shown.is_empty() {
        return;
    }
    t.gap();
    t.para(
        "",
        "Returning it correctly (application/problem+json, a request id, Cache-Control: no-store):",
    );
    for e in shown {
        t.gap();
        t.para("  ", &format!("{} — {} ({})", e.name, e.file, e.run));
        t.gap();
        t.code("    ", &e.code);
    }
    if *frameworks == Frameworks::All {
        t.gap();
        t.para("", "One framework only: --examples flask (or express, php, go, spring, sinatra, axum); none: --examples none.");
    }
}

/// `levee explain CODE --json`.
pub(crate) fn status_json(info: &StatusInfo, frameworks: &Frameworks) -> Value {
    let mut v = json!({ "kind": "status" });
    merge(
        &mut v,
        serde_json::to_value(info).expect("a StatusInfo serializes"),
    );
    v["official"] = info.is_official().into();
    v["levee_reasons"] = info
        .levee_reasons()
        .iter()
        .map(|r| Value::from(r.slug()))
        .collect();
    v["examples"] = examples_json(&examples::for_status(info), frameworks);
    v
}

/// `levee explain REASON --json`.
pub(crate) fn reason_json(reason: Reason, frameworks: &Frameworks) -> Value {
    let code = reason.status().as_u16();
    json!({
        "kind": "reason",
        "slug": reason.slug(),
        "status": code,
        "title": reason.title(),
        "summary": reason.summary(),
        "causes": reason.causes(),
        "visitor_fix": reason.visitor_fix(),
        "developer_fix": reason.developer_fix(),
        "blame": reason.blame().as_str(),
        "retryable": reason.retryable(),
        "requires_retry_after": reason.requires_retry_after(),
        "page": format!("{}/{}", levee_http::pages::PROBLEMS_PATH, reason.slug()),
        "status_info": status::lookup(code),
        "examples": examples_json(&examples::for_reason(reason), frameworks),
    })
}

fn examples_json(examples: &[Example], frameworks: &Frameworks) -> Value {
    examples
        .iter()
        .filter(|e| frameworks.keep(e))
        .map(|e| serde_json::to_value(e).expect("an Example serializes"))
        .collect()
}

fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(a), Value::Object(b)) = (into, from) {
        a.extend(b);
    }
}

/// `levee explain` with no topic: every code and reason, one line each.
pub(crate) fn index_text(width: usize) -> String {
    let mut t = Text::new(width);
    t.para(
        "",
        "levee explain CODE | REASON | - | --url URL — what a status means, whose fault it is, how to fix it, and how to return it correctly; or who produced a real error response.",
    );
    let mut class = None;
    for s in status::all() {
        if class != Some(s.class) {
            class = Some(s.class);
            t.gap();
            t.line(&format!("{}:", s.class));
        }
        let tag = match &s.standing {
            Standing::Unofficial { origin } => format!(" (unofficial: {origin})"),
            Standing::Temporary { .. } => " (temporary)".into(),
            Standing::Registered => String::new(),
        };
        t.bullet("  ", &format!("{} {}{tag}", s.code, s.name));
    }
    t.gap();
    t.line("Levee reasons:");
    for r in Reason::ALL {
        t.bullet(
            "  ",
            &format!("{} — {} {}", r.slug(), r.status().as_u16(), r.title()),
        );
    }
    t.finish()
}

/// `levee explain --json` with no topic.
pub(crate) fn index_json() -> Value {
    json!({
        "kind": "index",
        "codes": status::all().iter().map(|s| json!({
            "code": s.code,
            "name": s.name,
            "official": s.is_official(),
            "standing": s.standing,
        })).collect::<Vec<_>>(),
        "reasons": Reason::ALL.iter().map(|r| json!({
            "slug": r.slug(),
            "status": r.status().as_u16(),
            "title": r.title(),
        })).collect::<Vec<_>>(),
    })
}
