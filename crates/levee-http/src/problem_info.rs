//! Reading what a server said about its error.
//!
//! Servers explain errors in a few shapes; this module reads the two that
//! carry structure — RFC 9457 `application/problem+json` and the envelope
//! `{"meta":{"requestId"},"error":{type,title,status,detail}}` — plus the
//! request id from the usual response headers. It is lenient on purpose:
//! other servers' problems are less complete than Levee's, and a body that
//! does not parse is simply "no problem", never an error of ours.
//!
//! Both halves read it: the client (`levee-client`'s errors and give-up
//! report) and `levee explain` (through [`crate::recognise`]).
//!
//! This module must not decide anything (retry, blame, advice); it only
//! extracts what the server said.

use http::HeaderMap;
use serde::Serialize;
use serde_json::{Map, Value};

/// Response headers that carry a request id, most specific first.
const REQUEST_ID_HEADERS: &[&str] = &[
    "x-request-id",
    "request-id",
    "x-amzn-requestid",
    "x-correlation-id",
];

/// Which shape the server's error body had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemForm {
    /// RFC 9457 problem details.
    Rfc9457,
    /// The `{"meta":{…},"error":{…}}` envelope.
    Envelope,
}

/// A server's structured explanation of an error, as far as it gave one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProblemInfo {
    /// Which body shape it was read from.
    pub form: ProblemForm,
    /// The problem `type` URI; `about:blank` means "see the status code".
    pub type_uri: Option<String>,
    /// The short summary of the problem type.
    pub title: Option<String>,
    /// The status the body claims (advisory; the response's status wins).
    pub status: Option<u16>,
    /// What went wrong in this occurrence.
    pub detail: Option<String>,
    /// The request id to quote to support.
    pub request_id: Option<String>,
    /// A machine-readable reason such as Levee's `overloaded` or `maintenance`.
    pub reason: Option<String>,
    /// Whose side the server says the problem is on (`client`, `upstream`, `gateway`).
    pub blame: Option<String>,
    /// Whether the server says the same request can succeed later.
    pub retryable: Option<bool>,
    /// A link to the service's status page, if the problem names one.
    pub status_page: Option<String>,
}

impl ProblemInfo {
    /// Parses an error body. Returns `None` unless it is a JSON object with at
    /// least one problem member (or the envelope's `error` object).
    pub fn parse(body: &[u8]) -> Option<ProblemInfo> {
        let value: Value = serde_json::from_slice(body).ok()?;
        let object = value.as_object()?;
        if let Some(error) = object.get("error").and_then(Value::as_object) {
            let meta = object.get("meta").and_then(Value::as_object);
            let mut info = from_members(ProblemForm::Envelope, error);
            info.request_id = meta
                .and_then(|m| string(m, &["requestId", "request_id"]))
                .or(info.request_id);
            return Some(info);
        }
        let info = from_members(ProblemForm::Rfc9457, object);
        let has_any = info.type_uri.is_some()
            || info.title.is_some()
            || info.detail.is_some()
            || info.status.is_some();
        has_any.then_some(info)
    }

    /// The reason slug, or the last segment of a non-blank `type` URI.
    pub fn reason_slug(&self) -> Option<&str> {
        if let Some(reason) = self.reason.as_deref() {
            return Some(reason);
        }
        let uri = self.type_uri.as_deref()?;
        if uri == "about:blank" {
            return None;
        }
        uri.trim_end_matches('/')
            .rsplit('/')
            .next()
            .filter(|s| !s.is_empty())
    }
}

fn from_members(form: ProblemForm, m: &Map<String, Value>) -> ProblemInfo {
    ProblemInfo {
        form,
        type_uri: string(m, &["type"]),
        title: string(m, &["title"]),
        status: m
            .get("status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok()),
        detail: string(m, &["detail", "message"]),
        request_id: string(m, &["request_id", "requestId", "request-id"]),
        reason: string(m, &["reason"]),
        blame: string(m, &["blame"]),
        retryable: m.get("retryable").and_then(Value::as_bool),
        status_page: string(m, &["status_page", "statusPage", "status_url"]),
    }
}

fn string(m: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| m.get(*k).and_then(Value::as_str))
        .map(str::to_owned)
        .filter(|s| !s.is_empty())
}

/// The request id from response headers, if any carries one.
pub fn request_id_from_headers(headers: &HeaderMap) -> Option<String> {
    REQUEST_ID_HEADERS.iter().find_map(|name| {
        headers
            .get(*name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_levee_problem() {
        let body =
            br#"{"type":"http://gw/_levee/problems/maintenance","title":"Down for maintenance",
            "status":503,"detail":"back at 10:00","request_id":"req_7","reason":"maintenance",
            "blame":"gateway","retryable":true,"retry_after":30,"status_page":"http://status"}"#;
        let p = ProblemInfo::parse(body).expect("problem");
        assert_eq!(p.form, ProblemForm::Rfc9457);
        assert_eq!(p.status, Some(503));
        assert_eq!(p.request_id.as_deref(), Some("req_7"));
        assert_eq!(p.reason_slug(), Some("maintenance"));
        assert_eq!(p.status_page.as_deref(), Some("http://status"));
        assert_eq!(p.retryable, Some(true));
    }

    #[test]
    fn reads_the_envelope() {
        let body =
            br#"{"meta":{"requestId":"req_9"},"error":{"type":"https://x/problems/overloaded",
            "title":"Overloaded","status":503,"detail":null}}"#;
        let p = ProblemInfo::parse(body).expect("envelope");
        assert_eq!(p.form, ProblemForm::Envelope);
        assert_eq!(p.request_id.as_deref(), Some("req_9"));
        assert_eq!(p.detail, None);
        assert_eq!(p.reason_slug(), Some("overloaded"));
    }

    #[test]
    fn ignores_what_is_not_a_problem() {
        assert_eq!(ProblemInfo::parse(b"<html>503</html>"), None);
        assert_eq!(ProblemInfo::parse(b"[1,2]"), None);
        assert_eq!(ProblemInfo::parse(br#"{"items":[]}"#), None);
        assert_eq!(ProblemInfo::parse(b""), None);
        let blank = ProblemInfo::parse(br#"{"type":"about:blank","status":404}"#).expect("p");
        assert_eq!(blank.reason_slug(), None);
    }

    #[test]
    fn request_id_from_the_first_header_that_has_one() {
        let mut h = HeaderMap::new();
        h.insert("x-correlation-id", "corr".parse().expect("value"));
        assert_eq!(request_id_from_headers(&h).as_deref(), Some("corr"));
        h.insert("x-request-id", "req_1".parse().expect("value"));
        assert_eq!(request_id_from_headers(&h).as_deref(), Some("req_1"));
    }
}
