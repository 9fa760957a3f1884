//! The give-up report: what an [`Error`] means to a person.
//!
//! When the client stops, the person running it needs four answers before
//! anything else: what the status means, whose side the fault is on, what
//! probably caused it, and what to do now — plus the request id to quote to
//! support and the status page, if the server named one. A [`Diagnosis`]
//! holds those answers; its `Display` is the report `levee fetch` prints.
//!
//! What a status means comes from `levee_http::status`, the knowledge
//! `levee explain` and the gateway's status pages share; this module owns
//! the wording of the report around it. It must not print, and it must not
//! guess beyond what the status, the transport error and the server's
//! problem say.

use std::fmt;

use http::StatusCode;
use levee_http::status::{self, Class, Fault, Standing};

use crate::error::{Error, Failure, GiveUp, TransportErrorKind};
use crate::event::secs;

/// Whose side a failure is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The request is wrong; sending it again unchanged fails again.
    Client,
    /// The server (or the service behind its gateway) cannot serve it now.
    Server,
    /// The network between us, or a server that is not running at all.
    Network,
}

impl Side {
    fn describe(self) -> &'static str {
        match self {
            Side::Client => {
                "yours — the request itself was refused; sending it again unchanged will not help"
            }
            Side::Server => "the server's — nothing is wrong with your request",
            Side::Network => "the network or the server's host — no HTTP answer came back",
        }
    }
}

/// What a failure means, whose fault it is, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    /// One line: the request, the outcome, the attempts and why we stopped.
    pub headline: String,
    /// What the status or error means.
    pub meaning: String,
    /// Whose side the fault is on.
    pub side: Side,
    /// Likely causes, most likely first.
    pub causes: Vec<String>,
    /// What to do now, most useful first.
    pub advice: Vec<String>,
    /// The request id to quote to support.
    pub request_id: Option<String>,
    /// The status page the server named.
    pub status_page: Option<String>,
}

impl Diagnosis {
    /// Diagnoses a client error.
    pub fn of(error: &Error) -> Diagnosis {
        let (method, url) = (&error.summary.method, &error.summary.url);
        let n = error.attempts();
        let mut headline = format!(
            "gave up on {method} {url} after {n} attempt{}",
            if n == 1 { "" } else { "s" }
        );
        if !error.summary.waited.is_zero() {
            headline.push_str(&format!(" ({} waiting)", secs(error.summary.waited)));
        }
        if error.gave_up != GiveUp::NotRetryable {
            headline.push_str(&format!(": {}", error.gave_up));
        }

        let mut d = match &error.failure {
            Failure::Status {
                status, problem, ..
            } => {
                let mut d = for_status(*status);
                if let Some(p) = problem {
                    if let Some(reason) = p.reason_slug() {
                        refine_by_reason(&mut d, reason);
                    }
                    if let Some(detail) = &p.detail {
                        d.meaning
                            .push_str(&format!(" The server says: \"{detail}\"."));
                    }
                    match p.blame.as_deref() {
                        Some("client") => d.side = Side::Client,
                        Some("upstream" | "gateway") => d.side = Side::Server,
                        _ => {}
                    }
                    d.status_page = p.status_page.clone();
                }
                d
            }
            Failure::Transport(e) => for_transport(e.kind, &e.message),
            Failure::NotAttempted => Diagnosis::new(
                "No request was sent: the client's circuit breaker for every endpoint is open after repeated failures.",
                Side::Server,
                &["The service failed every recent request this client sent to it."],
                &[],
            ),
        };
        d.advice.splice(0..0, advice_for_give_up(&error.gave_up));
        d.headline = headline;
        d.request_id = error.request_id.clone();
        d
    }

    fn new(meaning: &str, side: Side, causes: &[&str], advice: &[&str]) -> Diagnosis {
        Diagnosis {
            headline: String::new(),
            meaning: meaning.to_owned(),
            side,
            causes: causes.iter().map(|s| (*s).to_owned()).collect(),
            advice: advice.iter().map(|s| (*s).to_owned()).collect(),
            request_id: None,
            status_page: None,
        }
    }
}

/// What the status says, from the status knowledge `levee explain` and the
/// gateway's `/_levee/codes/` pages share (`levee_http::status`). A code
/// nobody registered or uses is read as its class's x00 (RFC 9110 §15).
fn for_status(status: StatusCode) -> Diagnosis {
    let code = status.as_u16();
    let (label, info) = match status::lookup(code) {
        Some(info) => {
            let label = match &info.standing {
                Standing::Unofficial { origin } => {
                    format!("{} (unofficial, {origin})", info.label())
                }
                _ => info.label(),
            };
            (label, Some(info))
        }
        None => {
            let as_if = Class::of(code).and_then(|c| status::lookup(c.first()));
            let label = match as_if {
                Some(x00) => format!("{code} (unknown; read as {})", x00.label()),
                None => format!("{code} (not an HTTP status code)"),
            };
            (label, as_if)
        }
    };
    let Some(info) = info else {
        return Diagnosis::new(&format!("{label}."), Side::Server, &[], &[]);
    };
    let (side, advice): (Side, Vec<&str>) = match info.fault {
        Fault::Client => (
            Side::Client,
            info.developer_fix.iter().map(String::as_str).collect(),
        ),
        Fault::Server | Fault::Neither => (
            Side::Server,
            vec![info.visitor_fix.as_str(), info.retry_note.as_str()],
        ),
    };
    let causes: Vec<&str> = info.causes.iter().map(String::as_str).collect();
    Diagnosis::new(
        &format!("{label}: {}", info.meaning),
        side,
        &causes,
        &advice,
    )
}

/// Levee's reasons (and any server using the same slugs) are more precise
/// than the status code: `maintenance` and `overloaded` are both 503s.
fn refine_by_reason(d: &mut Diagnosis, reason: &str) {
    let (causes, advice): (&[&str], &[&str]) = match reason {
        "overloaded" => (
            &[
                "The service has more requests than it can serve; the gateway shed this one to protect it.",
            ],
            &["Try again after the Retry-After delay; spread out or batch your requests."],
        ),
        "maintenance" => (
            &["A scheduled or emergency maintenance window covers this request."],
            &["Wait for the window to end (Retry-After says when) and check the status page."],
        ),
        "upstream-unavailable" => (
            &[
                "The service behind the gateway is down or unreachable, or its circuit breaker is open.",
            ],
            &["Try again after the Retry-After delay; check the status page."],
        ),
        "draining" => (
            &["The gateway instance is shutting down (a deploy or restart)."],
            &["Try again at once: another instance will answer."],
        ),
        "rate-limited" => (
            &["Your tenant exceeded its own rate limit."],
            &["Slow down to your plan's rate; honour Retry-After."],
        ),
        _ => return,
    };
    d.causes = causes.iter().map(|s| (*s).to_owned()).collect();
    d.advice = advice.iter().map(|s| (*s).to_owned()).collect();
}

fn for_transport(kind: TransportErrorKind, message: &str) -> Diagnosis {
    let (meaning, causes, advice): (&str, &[&str], &[&str]) = match kind {
        TransportErrorKind::Connect => (
            "could not connect: nothing accepted the connection, so the server never saw the request.",
            &[
                "The server is down or restarting.",
                "A wrong host or port in the URL.",
                "DNS, a firewall or a VPN in the way.",
            ],
            &[
                "Check the URL.",
                "Check the service's status page, then try again later.",
            ],
        ),
        TransportErrorKind::Timeout => (
            "no response arrived within the per-attempt timeout.",
            &["The server is overloaded or stuck.", "A slow network path."],
            &["Try again later, or allow a longer per-attempt timeout."],
        ),
        TransportErrorKind::Reset => (
            "the connection broke before a complete response arrived; the server may or may not have acted on the request.",
            &[
                "The server crashed or restarted.",
                "A proxy or load balancer closed the connection.",
                "The server is overloaded.",
            ],
            &[
                "Check whether the request took effect before sending a non-idempotent one again.",
                "Try again later.",
            ],
        ),
        TransportErrorKind::Other => (
            "the request failed before any HTTP answer (TLS, protocol or URL error).",
            &[
                "A certificate the client does not trust.",
                "A server that does not speak HTTP on this port.",
                "A malformed URL.",
            ],
            &["Read the error detail above; retrying will not help until it is fixed."],
        ),
    };
    let mut d = Diagnosis::new(meaning, Side::Network, causes, advice);
    d.meaning = format!("{} ({message})", d.meaning);
    d
}

fn advice_for_give_up(gave_up: &GiveUp) -> Vec<String> {
    match gave_up {
        GiveUp::NotRetryable | GiveUp::AttemptsExhausted { .. } => vec![],
        GiveUp::OutOfTime { .. } => {
            vec!["Allow a longer total time if you can wait for the server.".into()]
        }
        GiveUp::RetryAfterTooLong { asked, .. } => vec![match asked {
            Some(asked) => format!("The server asked for {} — come back then, or allow a longer maximum wait.", secs(*asked)),
            None => "The server asked for an unreasonably long wait; come back much later.".into(),
        }],
        GiveUp::BudgetExhausted => vec![
            "This client stopped retrying because most of its recent requests failed: retrying harder would only add load to a struggling service. Try again later.".into(),
        ],
        GiveUp::NotIdempotent { method } => vec![format!(
            "{method} was not retried because it may not be safe to repeat; send an Idempotency-Key header (or use automatic keys) if the API supports it."
        )],
        GiveUp::BreakerOpen { retry_in, .. } => vec![format!(
            "The client will probe the service again in {}.",
            secs(*retry_in)
        )],
    }
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.headline)?;
        writeln!(f, "  what it means: {}", self.meaning)?;
        writeln!(f, "  whose side:    {}", self.side.describe())?;
        if !self.causes.is_empty() {
            writeln!(f, "  likely causes:")?;
            for c in &self.causes {
                writeln!(f, "    - {c}")?;
            }
        }
        if !self.advice.is_empty() {
            writeln!(f, "  what to do:")?;
            for a in &self.advice {
                writeln!(f, "    - {a}")?;
            }
        }
        match &self.request_id {
            Some(id) => writeln!(
                f,
                "  request id:    {id} (quote it to the service's support)"
            )?,
            None => writeln!(f, "  request id:    none given by the server")?,
        }
        if let Some(page) = &self.status_page {
            writeln!(f, "  status page:   {page}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> StatusCode {
        StatusCode::from_u16(code).expect("a valid status code")
    }

    #[test]
    fn any_status_reads_the_shared_knowledge() {
        let d = for_status(status(451));
        assert!(
            d.meaning.starts_with("451 Unavailable For Legal Reasons: "),
            "{}",
            d.meaning
        );
        assert_eq!(d.side, Side::Client);
        let d = for_status(status(522));
        assert!(
            d.meaning.contains("(unofficial, Cloudflare)"),
            "{}",
            d.meaning
        );
        assert_eq!(d.side, Side::Server);
        assert!(!d.causes.is_empty() && !d.advice.is_empty());
        let d = for_status(status(555));
        assert!(
            d.meaning
                .starts_with("555 (unknown; read as 500 Internal Server Error): "),
            "{}",
            d.meaning
        );
    }
}
