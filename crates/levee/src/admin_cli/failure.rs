//! Why an admin command failed, its exit code, and how it is told.
//!
//! | exit | failure |
//! | --- | --- |
//! | 1 | the API refused (its problem's detail, and the fields of a 422), or answered something this CLI cannot read |
//! | 2 | usage: a bad flag value, an unreadable token file |
//! | 3 | the admin API could not be reached |
//!
//! This module owns the wording of every failure. It must not retry or
//! reinterpret a refusal: the API's detail is printed as the API wrote it.

use std::io::Write;

use bytes::Bytes;
use http::StatusCode;

/// Exit code: the API refused, or answered what we cannot read.
pub(crate) const EXIT_REFUSED: u8 = 1;
/// Exit code: bad usage or a local error.
pub(crate) const EXIT_USAGE: u8 = 2;
/// Exit code: the admin API could not be reached.
pub(crate) const EXIT_UNREACHABLE: u8 = 3;

/// One failed admin command.
#[derive(Debug, Clone)]
pub(crate) enum Failure {
    /// A flag value or a local file is wrong (exit 2).
    Usage(String),
    /// The API answered with an error status (exit 1).
    Refused(Refusal),
    /// The API answered 2xx with something this CLI cannot read (exit 1).
    Unexpected(String),
    /// No answer: connection refused, a timeout, a broken connection (exit 3).
    Unreachable {
        /// The admin address as the user gave it.
        addr: String,
        /// What went wrong.
        cause: String,
    },
}

/// An error answer of the API.
#[derive(Debug, Clone)]
pub(crate) struct Refusal {
    /// Its status.
    pub(crate) status: StatusCode,
    /// Its body (an RFC 9457 problem from a Levee gateway).
    pub(crate) body: Bytes,
    /// Whether the request carried a token (for the hint on a 401).
    pub(crate) token_sent: bool,
}

impl Failure {
    /// The exit code that goes with this failure.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => EXIT_USAGE,
            Failure::Refused(_) | Failure::Unexpected(_) => EXIT_REFUSED,
            Failure::Unreachable { .. } => EXIT_UNREACHABLE,
        }
    }

    /// Tells the user, on stderr; with `--json`, a refusal's problem body is
    /// also printed on stdout, as the API sent it.
    pub(crate) fn report(&self, json: bool) {
        if let (true, Failure::Refused(r)) = (json, self)
            && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&r.body)
        {
            super::print_json(&v);
        }
        // A closed stderr is no reason to panic: the exit code still tells.
        let _ = std::io::stderr().write_all(self.message().as_bytes());
    }

    /// The text printed on stderr, every line ending `\n`.
    pub(crate) fn message(&self) -> String {
        match self {
            Failure::Usage(text) | Failure::Unexpected(text) => format!("levee: {text}\n"),
            Failure::Unreachable { addr, cause } => format!(
                "levee: cannot reach the admin API at {addr}: {cause}\n  \
                 is `levee serve` running with its admin listener there? \
                 Point --admin (or LEVEE_ADMIN) at its `[admin] listen` address.\n"
            ),
            Failure::Refused(r) => r.message(),
        }
    }
}

impl Refusal {
    /// `levee: STATUS REASON: DETAIL`, then the fields of a 422, a hint for
    /// a 401, and the request id to quote.
    fn message(&self) -> String {
        let code = self.status.as_u16();
        let Ok(problem) = serde_json::from_slice::<serde_json::Value>(&self.body) else {
            let snippet = super::table::truncate(&String::from_utf8_lossy(&self.body), 200);
            return format!(
                "levee: the admin API answered {code} {} without a problem body{}\n",
                self.status.canonical_reason().unwrap_or(""),
                if snippet.is_empty() {
                    String::new()
                } else {
                    format!(": {snippet}")
                }
            );
        };
        let text = |k: &str| problem[k].as_str().filter(|s| !s.is_empty());
        let reason = text("reason")
            .or_else(|| text("type").and_then(|t| t.rsplit('/').next()))
            .unwrap_or("");
        let detail = text("detail")
            .or_else(|| text("title"))
            .unwrap_or("(the problem has no detail)");
        let mut out = format!("levee: {code} {reason}: {detail}\n");
        for e in problem["errors"].as_array().into_iter().flatten() {
            let field = e["field"].as_str().unwrap_or("?");
            let what = e["detail"].as_str().unwrap_or("");
            let line = format!("{field}: {what}");
            if line != detail {
                out.push_str(&format!("  {line}\n"));
            }
        }
        if code == 401 && self.token_sent {
            out.push_str(
                "  check the token in --token-file (or LEVEE_ADMIN_TOKEN) against the \
                 gateway's --admin-token-file\n",
            );
        } else if code == 401 {
            out.push_str(
                "  no token was sent: give --token-file FILE or set LEVEE_ADMIN_TOKEN \
                 (a token `levee serve` accepts, from its --admin-token-file)\n",
            );
        }
        if let Some(id) = text("request_id") {
            out.push_str(&format!("  request id {id}\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(status: u16, body: &str, token_sent: bool) -> Failure {
        Failure::Refused(Refusal {
            status: StatusCode::from_u16(status).expect("status"),
            body: Bytes::from(body.to_owned()),
            token_sent,
        })
    }

    #[test]
    fn a_422_names_every_field() {
        let f = refused(
            422,
            r#"{"type":"http://x/_levee/problems/invalid-input","title":"t","status":422,
               "detail":"ends_at: must be later than starts_at",
               "errors":[{"field":"ends_at","detail":"must be later than starts_at"},
                         {"field":"message","detail":"at most 1000 characters"}],
               "request_id":"req_1"}"#,
            true,
        );
        assert_eq!(f.exit_code(), 1);
        assert_eq!(
            f.message(),
            "levee: 422 invalid-input: ends_at: must be later than starts_at\n  \
             message: at most 1000 characters\n  request id req_1\n"
        );
    }

    #[test]
    fn a_401_without_a_token_says_how_to_give_one() {
        let body = r#"{"reason":"unauthorized","detail":"no bearer token","status":401}"#;
        let without = refused(401, body, false).message();
        assert!(
            without.starts_with("levee: 401 unauthorized: no bearer token\n"),
            "{without}"
        );
        assert!(without.contains("--token-file"), "{without}");
        let with = refused(401, body, true).message();
        assert!(!with.contains("no token was sent"), "{with}");
        assert!(with.contains("check the token"), "{with}");
    }

    #[test]
    fn a_body_that_is_not_a_problem_is_still_told() {
        let f = refused(502, "<html>bad gateway</html>", true);
        assert_eq!(
            f.message(),
            "levee: the admin API answered 502 Bad Gateway without a problem body: <html>bad gateway</html>\n"
        );
    }

    #[test]
    fn exit_codes() {
        assert_eq!(Failure::Usage("x".into()).exit_code(), 2);
        assert_eq!(Failure::Unexpected("x".into()).exit_code(), 1);
        let unreachable = Failure::Unreachable {
            addr: "127.0.0.1:9901".into(),
            cause: "Connection refused (os error 111)".into(),
        };
        assert_eq!(unreachable.exit_code(), 3);
        assert!(unreachable.message().contains("127.0.0.1:9901"));
    }
}
