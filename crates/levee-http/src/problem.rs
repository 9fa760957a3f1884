//! RFC 9457 problem details, and the renderings a gateway error is sent in.
//!
//! A [`Problem`] is the body of every error Levee makes. It serializes to
//! `application/problem+json` with the standard members (`type`, `title`,
//! `status`, `detail`, `instance`) and Levee's extension members
//! (`request_id`, `reason`, `blame`, `retryable`, `retry_after`, and any
//! reason-specific ones such as a maintenance window's `ends_at`). The same
//! value renders as the opt-in envelope form, an HTML page, or plain text;
//! [`crate::negotiate`] picks which.
//!
//! Clients deserialize it too: every field but `status` is optional there,
//! because other servers' problems are less complete than ours.
//!
//! This module must not build HTTP responses or headers: the data path does,
//! with the body this module renders.

use serde::{Deserialize, Serialize};

use crate::html::escape;
use crate::negotiate::Format;
use crate::reason::Reason;

/// An RFC 9457 problem details object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// A URI reference that identifies the problem type (RFC 9457 §3.1.1).
    #[serde(rename = "type", default = "about_blank")]
    pub type_uri: String,
    /// A short summary of the problem type.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// The HTTP status code of this occurrence.
    pub status: u16,
    /// An explanation specific to this occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// A URI reference identifying this occurrence (the request's path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The request id to quote to support.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The reason slug, e.g. `overloaded` (see [`Reason`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Whose side the problem is on: `client`, `upstream` or `gateway`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blame: Option<String>,
    /// Whether the same request can succeed if sent again later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
    /// The delay, in seconds, also sent as `Retry-After`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// Further extension members (e.g. `message`, `ends_at`, `status_page`).
    #[serde(flatten)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

fn about_blank() -> String {
    "about:blank".to_owned()
}

impl Problem {
    /// A problem of the given reason, with its catalogue title and status.
    ///
    /// `type_base` is the URI the problem-type pages are served under, without
    /// a trailing slash, e.g. `https://api.example.com/_levee/problems`.
    pub fn new(reason: Reason, type_base: &str) -> Problem {
        Problem {
            type_uri: format!("{type_base}/{}", reason.slug()),
            title: reason.title().to_owned(),
            status: reason.status().as_u16(),
            detail: None,
            instance: None,
            request_id: None,
            reason: Some(reason.slug().to_owned()),
            blame: Some(reason.blame().as_str().to_owned()),
            retryable: Some(reason.retryable()),
            retry_after: None,
            extensions: serde_json::Map::new(),
        }
    }

    /// Sets `detail`.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Problem {
        self.detail = Some(detail.into());
        self
    }

    /// Sets `instance`.
    pub fn with_instance(mut self, instance: impl Into<String>) -> Problem {
        self.instance = Some(instance.into());
        self
    }

    /// Sets `request_id`.
    pub fn with_request_id(mut self, id: impl Into<String>) -> Problem {
        self.request_id = Some(id.into());
        self
    }

    /// Sets `retry_after` (whole seconds).
    pub fn with_retry_after(mut self, secs: u64) -> Problem {
        self.retry_after = Some(secs);
        self
    }

    /// Adds an extension member.
    pub fn with_extension(mut self, key: &str, value: impl Into<serde_json::Value>) -> Problem {
        self.extensions.insert(key.to_owned(), value.into());
        self
    }

    /// The catalogue reason, when `reason` names one.
    pub fn known_reason(&self) -> Option<Reason> {
        self.reason.as_deref().and_then(Reason::from_slug)
    }

    /// Renders the body for `format`; returns the `Content-Type` and the bytes.
    pub fn render(&self, format: Format) -> (&'static str, Vec<u8>) {
        match format {
            Format::ProblemJson => ("application/problem+json", self.to_json()),
            Format::Envelope => ("application/json", self.to_envelope()),
            Format::Html => ("text/html; charset=utf-8", self.to_html().into_bytes()),
            Format::Text => ("text/plain; charset=utf-8", self.to_text().into_bytes()),
        }
    }

    /// `application/problem+json`.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a Problem is plain data and always serializes")
    }

    /// The envelope form `{"meta":{"requestId"},"error":{type,title,status,detail}}`.
    pub fn to_envelope(&self) -> Vec<u8> {
        let mut error = serde_json::json!({
            "type": self.type_uri,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        });
        if let Some(reason) = &self.reason {
            error["reason"] = reason.clone().into();
        }
        if let Some(secs) = self.retry_after {
            error["retryAfter"] = secs.into();
        }
        let body = serde_json::json!({
            "meta": { "requestId": self.request_id },
            "error": error,
        });
        serde_json::to_vec(&body).expect("a JSON value always serializes")
    }

    /// Plain text: a status line, the detail, and the facts a person quotes.
    pub fn to_text(&self) -> String {
        let mut s = format!("{} {}\n", self.status, self.title);
        if let Some(d) = &self.detail {
            s.push_str(d);
            s.push('\n');
        }
        if let Some(secs) = self.retry_after {
            s.push_str(&format!("Retry after: {secs} s\n"));
        }
        if let Some(id) = &self.request_id {
            s.push_str(&format!("Request id: {id}\n"));
        }
        s.push_str(&format!("More: {}\n", self.type_uri));
        s
    }

    /// A small, self-contained HTML page for browsers.
    pub fn to_html(&self) -> String {
        let summary = self.known_reason().map(Reason::summary).unwrap_or("");
        let visitor = self.known_reason().map(Reason::visitor_fix).unwrap_or("");
        let mut facts = String::new();
        if let Some(secs) = self.retry_after {
            facts.push_str(&format!(
                "<dt>Try again in</dt><dd>{secs} second{}</dd>",
                if secs == 1 { "" } else { "s" }
            ));
        }
        if let Some(id) = &self.request_id {
            facts.push_str(&format!(
                "<dt>Request id</dt><dd><code>{}</code></dd>",
                escape(id)
            ));
        }
        crate::html::page(
            &format!("{} {}", self.status, self.title),
            &format!(
                "<p class=\"status\">{status}</p><h1>{title}</h1>\
                 <p class=\"lead\">{detail}</p><p>{summary}</p><p>{visitor}</p>\
                 <dl>{facts}</dl>\
                 <p class=\"more\"><a href=\"{href}\">What does this mean?</a></p>",
                status = self.status,
                title = escape(&self.title),
                detail = escape(self.detail.as_deref().unwrap_or("")),
                summary = escape(summary),
                visitor = escape(visitor),
                href = escape(&self.type_uri),
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Problem {
        Problem::new(Reason::Overloaded, "http://gw/_levee/problems")
            .with_detail("shed <now>")
            .with_request_id("req_1")
            .with_instance("/x")
            .with_retry_after(3)
    }

    #[test]
    fn json_has_standard_and_extension_members() {
        let v: serde_json::Value = serde_json::from_slice(&sample().to_json()).expect("json");
        assert_eq!(v["type"], "http://gw/_levee/problems/overloaded");
        assert_eq!(v["title"], "Service overloaded");
        assert_eq!(v["status"], 503);
        assert_eq!(v["detail"], "shed <now>");
        assert_eq!(v["instance"], "/x");
        assert_eq!(v["request_id"], "req_1");
        assert_eq!(v["reason"], "overloaded");
        assert_eq!(v["retry_after"], 3);
        assert_eq!(v["retryable"], true);
    }

    #[test]
    fn envelope_has_meta_and_error() {
        let v: serde_json::Value = serde_json::from_slice(&sample().to_envelope()).expect("json");
        assert_eq!(v["meta"]["requestId"], "req_1");
        assert_eq!(v["error"]["status"], 503);
        assert_eq!(v["error"]["type"], "http://gw/_levee/problems/overloaded");
        assert_eq!(v["error"]["title"], "Service overloaded");
        assert_eq!(v["error"]["detail"], "shed <now>");
    }

    #[test]
    fn html_escapes_detail() {
        let html = sample().to_html();
        assert!(html.contains("shed &lt;now&gt;"));
        assert!(!html.contains("<now>"));
        assert!(html.contains("req_1"));
    }

    #[test]
    fn foreign_problem_deserializes_with_defaults() {
        let p: Problem = serde_json::from_str(r#"{"status":503,"x":1}"#).expect("parse");
        assert_eq!(p.type_uri, "about:blank");
        assert_eq!(p.extensions["x"], 1);
        assert_eq!(p.known_reason(), None);
    }
}
