//! What the client tells an observer while it works: the narration.
//!
//! A person waiting on a retrying request deserves to know why it is slow.
//! The client reports each decision as an [`Event`]; its `Display` is the
//! one-line narration `levee fetch` prints, e.g.
//!
//! ```text
//! 503 Service Unavailable — server asks to retry in 10 s (request id req_1) — waiting, attempt 2/5
//! ```
//!
//! This module owns the events and their wording. It must not print or
//! sleep; the observer decides where lines go (stderr, logs, a countdown).

use std::fmt;
use std::time::Duration;

use http::Method;

use crate::error::{AttemptOutcome, AttemptRecord};

/// Why the client waits before the next attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitReason {
    /// The server asked, with `Retry-After`, for at least this long.
    ServerAsked(Duration),
    /// Exponential backoff with jitter.
    Backoff,
    /// The next attempt goes to another endpoint, at once.
    Failover,
}

/// One thing the client did or decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An attempt is about to be sent.
    Sending {
        /// 1-based attempt number.
        attempt: u32,
        /// The maximum number of attempts.
        max_attempts: u32,
        /// The request method.
        method: Method,
        /// The URL this attempt goes to.
        url: String,
    },
    /// An attempt failed; another follows after `wait`.
    Retrying {
        /// The attempt that failed.
        failed: AttemptRecord,
        /// The maximum number of attempts.
        max_attempts: u32,
        /// How long the client will sleep before the next attempt.
        wait: Duration,
        /// Why it waits that long.
        why: WaitReason,
        /// The endpoint of the next attempt.
        next_endpoint: String,
    },
}

/// Receives [`Event`]s. Implemented for any `Fn(&Event) + Send + Sync`.
pub trait Observer: Send + Sync {
    /// Called synchronously on the request's task; must not block.
    fn on_event(&self, event: &Event);
}

impl<F: Fn(&Event) + Send + Sync> Observer for F {
    fn on_event(&self, event: &Event) {
        self(event)
    }
}

/// A human duration: `250 ms`, `1.3 s`, `10 s`, `2 min 5 s`.
pub(crate) fn secs(d: Duration) -> String {
    let millis = d.as_millis();
    if millis < 1000 {
        format!("{millis} ms")
    } else if millis < 10_000 && !millis.is_multiple_of(1000) {
        format!("{:.1} s", d.as_secs_f64())
    } else if d.as_secs() < 120 {
        format!("{} s", d.as_secs())
    } else {
        let s = d.as_secs();
        match s % 60 {
            0 => format!("{} min", s / 60),
            r => format!("{} min {r} s", s / 60),
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Sending {
                attempt,
                max_attempts,
                method,
                url,
            } => write!(f, "{method} {url} — attempt {attempt}/{max_attempts}"),
            Event::Retrying {
                failed,
                max_attempts,
                wait,
                why,
                next_endpoint,
            } => {
                let next = failed.number + 1;
                let id = failed
                    .request_id
                    .as_ref()
                    .map(|id| format!(" (request id {id})"))
                    .unwrap_or_default();
                match why {
                    WaitReason::ServerAsked(asked) => write!(
                        f,
                        "{} — server asks to retry in {}{id} — waiting, attempt {next}/{max_attempts}",
                        failed.outcome,
                        secs(*asked),
                    ),
                    WaitReason::Backoff => write!(
                        f,
                        "{}{id} — retrying in {}, attempt {next}/{max_attempts}",
                        failed.outcome,
                        secs(*wait),
                    ),
                    WaitReason::Failover => {
                        let preposition = match failed.outcome {
                            AttemptOutcome::Status(_) | AttemptOutcome::Grpc(_) => "from",
                            AttemptOutcome::Transport(_) => "to",
                        };
                        write!(
                            f,
                            "{} {preposition} {}{id} — failing over to {next_endpoint}, attempt {next}/{max_attempts}",
                            failed.outcome, failed.endpoint,
                        )
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::TransportErrorKind;
    use http::StatusCode;

    fn failed(outcome: AttemptOutcome, id: Option<&str>) -> AttemptRecord {
        AttemptRecord {
            number: 1,
            endpoint: "http://eu.example".into(),
            outcome,
            request_id: id.map(str::to_owned),
            retry_after: None,
        }
    }

    #[test]
    fn narration_lines() {
        let asked = Event::Retrying {
            failed: failed(
                AttemptOutcome::Status(StatusCode::SERVICE_UNAVAILABLE),
                Some("req_1"),
            ),
            max_attempts: 5,
            wait: Duration::from_millis(10_400),
            why: WaitReason::ServerAsked(Duration::from_secs(10)),
            next_endpoint: "http://eu.example".into(),
        };
        assert_eq!(
            asked.to_string(),
            "503 Service Unavailable — server asks to retry in 10 s (request id req_1) — waiting, attempt 2/5"
        );
        let backoff = Event::Retrying {
            failed: failed(AttemptOutcome::Status(StatusCode::BAD_GATEWAY), None),
            max_attempts: 5,
            wait: Duration::from_millis(1340),
            why: WaitReason::Backoff,
            next_endpoint: "http://eu.example".into(),
        };
        assert_eq!(
            backoff.to_string(),
            "502 Bad Gateway — retrying in 1.3 s, attempt 2/5"
        );
        let failover = Event::Retrying {
            failed: failed(AttemptOutcome::Transport(TransportErrorKind::Connect), None),
            max_attempts: 3,
            wait: Duration::ZERO,
            why: WaitReason::Failover,
            next_endpoint: "http://us.example".into(),
        };
        assert_eq!(
            failover.to_string(),
            "could not connect to http://eu.example — failing over to http://us.example, attempt 2/3"
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(secs(Duration::from_millis(250)), "250 ms");
        assert_eq!(secs(Duration::from_millis(1340)), "1.3 s");
        assert_eq!(secs(Duration::from_secs(10)), "10 s");
        assert_eq!(secs(Duration::from_secs(125)), "2 min 5 s");
        assert_eq!(secs(Duration::from_secs(3600)), "60 min");
    }
}
