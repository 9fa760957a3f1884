//! The give-up report: what an [`Error`] means to a person.
//!
//! When the client stops, the person running it needs four answers before
//! anything else: what the status means, whose side the fault is on, what
//! probably caused it, and what to do now — plus the request id to quote to
//! support and the status page, if the server named one. A [`Diagnosis`]
//! holds those answers; its `Display` is the report `levee fetch` prints.
//!
//! This module owns the wording. It must not print, and it must not guess
//! beyond what the status, the transport error and the server's problem say.

use std::fmt;

use http::StatusCode;

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

fn for_status(status: StatusCode) -> Diagnosis {
    let code = status.as_u16();
    let label = format!(
        "{code} {}",
        status.canonical_reason().unwrap_or("(unknown status)")
    );
    let (meaning, side, causes, advice): (&str, Side, &[&str], &[&str]) = match code {
        400 | 422 => (
            "the server could not accept the request as sent.",
            Side::Client,
            &[
                "A malformed or missing parameter, header or body field.",
                "A body that does not match the API's schema.",
            ],
            &[
                "Read the server's detail above and the API documentation, fix the request, then send it again.",
            ],
        ),
        401 => (
            "the request lacks valid credentials.",
            Side::Client,
            &["A missing, expired or mistyped API key or token."],
            &["Check the Authorization header or the credentials you passed."],
        ),
        403 => (
            "the server understood the request and refuses it.",
            Side::Client,
            &[
                "The credentials are valid but not allowed to do this.",
                "An IP or region restriction.",
            ],
            &["Check the permissions of the account or key you use."],
        ),
        404 | 410 => (
            "the server has nothing at this URL.",
            Side::Client,
            &[
                "A typo in the path, or a wrong base URL or API version.",
                "The resource was deleted.",
            ],
            &["Check the URL against the API documentation."],
        ),
        405 => (
            "the URL exists but not for this method.",
            Side::Client,
            &["Using GET where POST is expected, or the reverse."],
            &["Check the method against the API documentation."],
        ),
        408 => (
            "the server gave up waiting for the request to arrive.",
            Side::Network,
            &[
                "A slow or stalled upload.",
                "An overloaded server or proxy with short timeouts.",
            ],
            &["Try again; if it persists, check your network."],
        ),
        409 => (
            "the request conflicts with the current state of the resource.",
            Side::Client,
            &["A concurrent change, or a duplicate create."],
            &["Fetch the current state and decide again."],
        ),
        413 => (
            "the request body is larger than the server accepts.",
            Side::Client,
            &["An upload above the API's size limit."],
            &["Send a smaller body, or split it."],
        ),
        415 => (
            "the server does not accept this body's media type.",
            Side::Client,
            &["A missing or wrong Content-Type header."],
            &["Set the Content-Type the API expects."],
        ),
        429 => (
            "you sent more requests than the server allows for your account or address.",
            Side::Client,
            &[
                "Requests above your rate limit or quota.",
                "Other programs sharing the same API key.",
            ],
            &[
                "Slow down, and honour Retry-After.",
                "Ask the provider for a higher limit if you need one.",
            ],
        ),
        500 => (
            "the server failed while handling the request: a bug or an unhandled condition on its side.",
            Side::Server,
            &[
                "A bug triggered by this request.",
                "A failing dependency the server does not handle.",
            ],
            &[
                "Report it to the service's support with the request id.",
                "Retrying the same request rarely helps.",
            ],
        ),
        501 => (
            "the server does not support this functionality.",
            Side::Server,
            &["A method or feature the server has not implemented."],
            &["Check the API documentation for a supported alternative."],
        ),
        502 => (
            "a gateway or proxy got an invalid answer from the service behind it.",
            Side::Server,
            &[
                "The service crashed or restarted mid-request.",
                "A deploy in progress.",
                "A misconfigured proxy.",
            ],
            &[
                "Try again in a few minutes.",
                "If it persists, report it with the request id.",
            ],
        ),
        503 => (
            "the server is temporarily unable to handle the request.",
            Side::Server,
            &[
                "It is overloaded and shedding requests.",
                "It is down for maintenance.",
                "A service it depends on is down.",
            ],
            &[
                "Try again later; the server's Retry-After says when.",
                "Check the service's status page.",
            ],
        ),
        504 => (
            "a gateway or proxy timed out waiting for the service behind it.",
            Side::Server,
            &[
                "The service is overloaded or stuck.",
                "A slow dependency or a very heavy request.",
            ],
            &[
                "Try again later.",
                "If one request is always slow, ask whether it can be made cheaper.",
            ],
        ),
        400..=499 => (
            "the server refused the request as sent.",
            Side::Client,
            &["Something in the request the server does not accept."],
            &["Read the server's detail and the API documentation."],
        ),
        _ => (
            "the server failed to handle the request.",
            Side::Server,
            &["A problem on the server's side."],
            &["Try again later, and report it with the request id if it persists."],
        ),
    };
    Diagnosis::new(&format!("{label}: {meaning}"), side, causes, advice)
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
