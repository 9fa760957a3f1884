//! The errors a retrying client returns, and the record of what it tried.
//!
//! Every failure the caller sees is an [`Error`]: it says why the client
//! stopped ([`GiveUp`]), what the last attempt got (a status with the
//! server's [`ProblemInfo`], or a [`TransportError`]), the request id to quote,
//! and the [`RetrySummary`] of every attempt and the time spent waiting.
//!
//! This module must not decide or print anything; [`crate::diagnosis`] turns
//! an [`Error`] into advice for a person.

use std::fmt;
use std::time::Duration;

use http::{Method, StatusCode};

use crate::problem::ProblemInfo;

/// A boxed error from an inner service or library.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What kind of network failure an attempt hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportErrorKind {
    /// No connection was made (refused, unreachable, DNS): the server never
    /// saw the request, so any method may be sent again.
    Connect,
    /// The attempt took longer than the per-try timeout.
    Timeout,
    /// The connection broke after the request was (maybe) sent, before a
    /// complete response head arrived.
    Reset,
    /// Anything else (TLS, protocol, a malformed URL): retrying will not help.
    Other,
}

impl TransportErrorKind {
    /// A short lowercase description, e.g. `connection refused`.
    pub fn describe(self) -> &'static str {
        match self {
            TransportErrorKind::Connect => "could not connect",
            TransportErrorKind::Timeout => "timed out",
            TransportErrorKind::Reset => "connection reset before a response",
            TransportErrorKind::Other => "transport error",
        }
    }
}

/// A failure to get a response at all.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", kind.describe())]
pub struct TransportError {
    /// What kind of failure it was.
    pub kind: TransportErrorKind,
    /// The underlying error's message chain.
    pub message: String,
    /// The underlying error, when there is one.
    #[source]
    pub source: Option<BoxError>,
}

impl TransportError {
    /// A transport error of `kind` without an underlying cause.
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> TransportError {
        TransportError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Classifies any error by walking its cause chain for I/O and hyper
    /// errors that say whether a connection was ever made.
    pub fn classify(error: BoxError) -> TransportError {
        let kind = classify_chain(&*error);
        TransportError {
            kind,
            message: chain_message(&*error),
            source: Some(error),
        }
    }
}

fn classify_chain(error: &(dyn std::error::Error + 'static)) -> TransportErrorKind {
    use std::io::ErrorKind as Io;
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut kind = TransportErrorKind::Other;
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                Io::ConnectionRefused | Io::AddrNotAvailable | Io::NotFound => {
                    TransportErrorKind::Connect
                }
                Io::TimedOut => TransportErrorKind::Timeout,
                Io::ConnectionReset
                | Io::ConnectionAborted
                | Io::BrokenPipe
                | Io::UnexpectedEof => TransportErrorKind::Reset,
                _ => kind,
            };
        }
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            if h.is_timeout() {
                kind = TransportErrorKind::Timeout;
            } else if h.is_incomplete_message() || h.is_closed() || h.is_canceled() {
                kind = TransportErrorKind::Reset;
            }
        }
        if e.is::<tokio::time::error::Elapsed>() {
            return TransportErrorKind::Timeout;
        }
        current = e.source();
    }
    kind
}

fn chain_message(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut current = error.source();
    while let Some(e) = current {
        let next = e.to_string();
        if !message.contains(&next) {
            message.push_str(": ");
            message.push_str(&next);
        }
        current = e.source();
    }
    message
}

/// Why the client stopped trying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GiveUp {
    /// The last outcome is not one that retrying fixes (a 4xx other than
    /// 408/429, a 500, a TLS error…).
    NotRetryable,
    /// Every allowed attempt was made.
    AttemptsExhausted {
        /// The configured maximum.
        max_attempts: u32,
    },
    /// The next wait would end past the total time allowed.
    OutOfTime {
        /// The configured maximum total time.
        max_time: Duration,
        /// The wait that did not fit.
        next_wait: Duration,
    },
    /// The server asked for a wait longer than the client may sleep.
    RetryAfterTooLong {
        /// What the server asked for (`None`: a value too large to represent).
        asked: Option<Duration>,
        /// The configured maximum wait.
        max_wait: Duration,
    },
    /// The client-wide retry budget is spent: most recent requests failed,
    /// so this client stops adding load.
    BudgetExhausted,
    /// The request may not be sent twice: its method is not idempotent and
    /// it has no `Idempotency-Key`.
    NotIdempotent {
        /// The request's method.
        method: Method,
    },
    /// Every endpoint's circuit breaker is open.
    BreakerOpen {
        /// The endpoint that will be probed soonest.
        endpoint: String,
        /// When it will be probed.
        retry_in: Duration,
    },
}

impl fmt::Display for GiveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GiveUp::NotRetryable => f.write_str("not retryable"),
            GiveUp::AttemptsExhausted { max_attempts } => {
                write!(f, "all {max_attempts} attempts used")
            }
            GiveUp::OutOfTime {
                max_time,
                next_wait,
            } => write!(
                f,
                "waiting {} more would pass the {} time limit",
                crate::event::secs(*next_wait),
                crate::event::secs(*max_time)
            ),
            GiveUp::RetryAfterTooLong { asked, max_wait } => match asked {
                Some(asked) => write!(
                    f,
                    "server asks to wait {}, longer than the {} allowed",
                    crate::event::secs(*asked),
                    crate::event::secs(*max_wait)
                ),
                None => write!(
                    f,
                    "server asks to wait longer than the {} allowed",
                    crate::event::secs(*max_wait)
                ),
            },
            GiveUp::BudgetExhausted => f.write_str("retry budget exhausted"),
            GiveUp::NotIdempotent { method } => {
                write!(f, "{method} is not idempotent and has no Idempotency-Key")
            }
            GiveUp::BreakerOpen { endpoint, retry_in } => write!(
                f,
                "circuit open for {endpoint} (next probe in {})",
                crate::event::secs(*retry_in)
            ),
        }
    }
}

/// What one attempt got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// A response with this status.
    Status(StatusCode),
    /// A gRPC refusal: HTTP 200 with this `grpc-status` in its head.
    Grpc(u32),
    /// No response.
    Transport(TransportErrorKind),
}

impl fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttemptOutcome::Status(s) => {
                write!(f, "{} {}", s.as_u16(), s.canonical_reason().unwrap_or(""))
            }
            AttemptOutcome::Grpc(code) => match *code {
                crate::grpc::UNAVAILABLE => f.write_str("gRPC UNAVAILABLE (14)"),
                crate::grpc::RESOURCE_EXHAUSTED => f.write_str("gRPC RESOURCE_EXHAUSTED (8)"),
                other => write!(f, "gRPC status {other}"),
            },
            AttemptOutcome::Transport(k) => f.write_str(k.describe()),
        }
    }
}

/// The record of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    /// 1-based attempt number.
    pub number: u32,
    /// The endpoint (scheme and authority, plus base path) it went to.
    pub endpoint: String,
    /// What it got.
    pub outcome: AttemptOutcome,
    /// The request id the response carried.
    pub request_id: Option<String>,
    /// The wait the server asked for with `Retry-After`, skew-corrected.
    pub retry_after: Option<Duration>,
}

/// Everything a request went through, attached to the final response (as an
/// extension) and to every [`Error`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetrySummary {
    /// Every attempt, in order.
    pub attempts: Vec<AttemptRecord>,
    /// Total time spent sleeping between attempts.
    pub waited: Duration,
    /// Time from the first attempt to the end.
    pub elapsed: Duration,
    /// Why the client stopped, if it stopped on a failure.
    pub gave_up: Option<GiveUp>,
    /// The request's method.
    pub method: Method,
    /// The URL of the first attempt.
    pub url: String,
}

impl RetrySummary {
    /// How many attempts were made.
    pub fn attempt_count(&self) -> u32 {
        u32::try_from(self.attempts.len()).unwrap_or(u32::MAX)
    }

    /// The most recent request id any response carried.
    pub fn last_request_id(&self) -> Option<&str> {
        self.attempts
            .iter()
            .rev()
            .find_map(|a| a.request_id.as_deref())
    }
}

/// What the last attempt ended with.
#[derive(Debug)]
pub enum Failure {
    /// An error status.
    Status {
        /// The status.
        status: StatusCode,
        /// What the body said, if it was a problem or envelope.
        problem: Option<ProblemInfo>,
        /// The first bytes of the body, for a person to read.
        body_snippet: String,
    },
    /// No response.
    Transport(TransportError),
    /// No attempt was made (e.g. every breaker was open).
    NotAttempted,
}

/// A request that did not succeed.
#[derive(Debug)]
pub struct Error {
    /// What the last attempt ended with.
    pub failure: Failure,
    /// Why the client stopped.
    pub gave_up: GiveUp,
    /// The request id to quote to support (header, problem or envelope).
    pub request_id: Option<String>,
    /// The request, every attempt and the time waited.
    pub summary: RetrySummary,
}

impl Error {
    /// The final status, if the last attempt got a response.
    pub fn status(&self) -> Option<StatusCode> {
        match &self.failure {
            Failure::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The server's problem details, if it sent any.
    pub fn problem(&self) -> Option<&ProblemInfo> {
        match &self.failure {
            Failure::Status { problem, .. } => problem.as_ref(),
            _ => None,
        }
    }

    /// The transport error, if the last attempt got no response.
    pub fn transport(&self) -> Option<&TransportError> {
        match &self.failure {
            Failure::Transport(e) => Some(e),
            _ => None,
        }
    }

    /// How many attempts were made.
    pub fn attempts(&self) -> u32 {
        self.summary.attempt_count()
    }

    /// Total time spent waiting between attempts.
    pub fn waited(&self) -> Duration {
        self.summary.waited
    }

    /// Whether no HTTP response was obtained (a network failure).
    pub fn is_network(&self) -> bool {
        !matches!(self.failure, Failure::Status { .. })
    }

    /// Builds the error for a final error response from its status, headers
    /// and (the first bytes of) its body.
    pub fn from_response(
        status: StatusCode,
        headers: &http::HeaderMap,
        body: &[u8],
        mut summary: RetrySummary,
    ) -> Error {
        let problem = ProblemInfo::parse(body);
        let request_id = crate::problem::request_id_from_headers(headers)
            .or_else(|| problem.as_ref().and_then(|p| p.request_id.clone()))
            .or_else(|| summary.last_request_id().map(str::to_owned));
        if let (Some(last), Some(id)) = (summary.attempts.last_mut(), &request_id)
            && last.request_id.is_none()
        {
            last.request_id = Some(id.clone());
        }
        let gave_up = summary.gave_up.clone().unwrap_or(GiveUp::NotRetryable);
        let snippet = String::from_utf8_lossy(&body[..body.len().min(SNIPPET_CHARS)]).into_owned();
        Error {
            failure: Failure::Status {
                status,
                problem,
                body_snippet: snippet,
            },
            gave_up,
            request_id,
            summary,
        }
    }
}

/// How much of an error body an [`Error`] keeps for people to read.
const SNIPPET_CHARS: usize = 2048;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (method, url) = (&self.summary.method, &self.summary.url);
        match &self.failure {
            Failure::Status { status, .. } => write!(
                f,
                "{method} {url}: {} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            )?,
            Failure::Transport(e) => write!(f, "{method} {url}: {e}")?,
            Failure::NotAttempted => write!(f, "{method} {url}: not sent")?,
        }
        let n = self.attempts();
        write!(
            f,
            " (gave up after {n} attempt{}: {})",
            if n == 1 { "" } else { "s" },
            self.gave_up
        )?;
        if let Some(id) = &self.request_id {
            write!(f, ", request id {id}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.failure {
            Failure::Transport(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_refused_and_reset_through_wrappers() {
        #[derive(Debug, thiserror::Error)]
        #[error("client error")]
        struct Wrapper(#[source] std::io::Error);

        let refused = Wrapper(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(
            TransportError::classify(Box::new(refused)).kind,
            TransportErrorKind::Connect
        );
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        let e = TransportError::classify(Box::new(reset));
        assert_eq!(e.kind, TransportErrorKind::Reset);
        assert!(
            e.to_string()
                .starts_with("connection reset before a response: ")
        );
        let other = TransportError::classify("bad certificate".into());
        assert_eq!(other.kind, TransportErrorKind::Other);
    }
}
