//! What a load run records: one [`RequestRecord`] per request, and the
//! [`Run`] that holds them.
//!
//! Plain data: computing statistics from it is the job of `crate::report`.

use std::time::Duration;

use http::StatusCode;

/// Why a request got no HTTP response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Failure {
    /// Connecting failed (refused, unreachable).
    Connect,
    /// The connection broke before the whole response arrived (reset,
    /// closed, malformed).
    Io,
    /// No connection was free and `max_connections` were open: the generator
    /// was the bottleneck, not the target.
    Saturated,
}

/// How one request ended, as the client saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A 2xx response, read completely.
    Success,
    /// A 503.
    Unavailable,
    /// A 429.
    TooMany,
    /// Any other status.
    Status(u16),
    /// The client deadline passed first; the client gave up and closed the
    /// connection.
    Timeout,
    /// No response: see [`Failure`].
    Failed(Failure),
}

impl Outcome {
    /// Classifies a status code.
    pub fn of_status(status: StatusCode) -> Self {
        match status.as_u16() {
            200..=299 => Self::Success,
            503 => Self::Unavailable,
            429 => Self::TooMany,
            other => Self::Status(other),
        }
    }

    /// True for a 503 or a 429: the answer "not now".
    pub fn is_shed(self) -> bool {
        matches!(self, Self::Unavailable | Self::TooMany)
    }
}

/// One request: when it was due, how it ended, how long it took.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RequestRecord {
    /// When it was scheduled, from the start of the run. Latency counts from
    /// here, not from when it was actually sent, so a lagging generator
    /// cannot hide queueing (no coordinated omission).
    pub at: Duration,
    /// How late it was actually sent (generator lag).
    pub lag: Duration,
    /// The index of its stream in [`Run::labels`].
    pub stream: u16,
    /// How it ended.
    pub outcome: Outcome,
    /// From `at` to the end of the response body, the failure, or the deadline.
    pub latency: Duration,
    /// The `Retry-After` of the response, in seconds from its arrival (either
    /// grammar), if any and valid.
    pub retry_after: Option<u64>,
}

/// The result of a load run.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    /// Every request, ordered by `at`.
    pub records: Vec<RequestRecord>,
    /// The stream labels, by stream index.
    pub labels: Vec<String>,
    /// How long arrivals were scheduled for.
    pub duration: Duration,
    /// The client deadline.
    pub deadline: Duration,
    /// How long the run took, from the first arrival to the last answer.
    pub elapsed: Duration,
}

impl Run {
    /// The part of the run that belongs to the stream labelled `label` (an
    /// empty run if there is none).
    pub fn only(&self, label: &str) -> Run {
        let index = self.labels.iter().position(|l| l == label);
        let records = self
            .records
            .iter()
            .filter(|r| Some(usize::from(r.stream)) == index)
            .copied()
            .collect();
        Run {
            records,
            ..self.clone()
        }
    }

    /// How many requests ended with `outcome`.
    pub fn count(&self, outcome: Outcome) -> usize {
        self.records.iter().filter(|r| r.outcome == outcome).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(stream: u16, outcome: Outcome) -> RequestRecord {
        RequestRecord {
            at: Duration::ZERO,
            lag: Duration::ZERO,
            stream,
            outcome,
            latency: Duration::from_millis(20),
            retry_after: None,
        }
    }

    #[test]
    fn statuses_classify_as_the_rfc_says() {
        assert_eq!(Outcome::of_status(StatusCode::NO_CONTENT), Outcome::Success);
        assert_eq!(
            Outcome::of_status(StatusCode::SERVICE_UNAVAILABLE),
            Outcome::Unavailable
        );
        assert_eq!(
            Outcome::of_status(StatusCode::TOO_MANY_REQUESTS),
            Outcome::TooMany
        );
        assert_eq!(
            Outcome::of_status(StatusCode::BAD_GATEWAY),
            Outcome::Status(502)
        );
        assert!(Outcome::TooMany.is_shed() && !Outcome::Timeout.is_shed());
    }

    #[test]
    fn only_keeps_one_stream() {
        let run = Run {
            records: vec![record(0, Outcome::Success), record(1, Outcome::Timeout)],
            labels: vec!["a".into(), "b".into()],
            duration: Duration::from_secs(1),
            deadline: Duration::from_secs(1),
            elapsed: Duration::from_secs(1),
        };
        assert_eq!(run.only("b").count(Outcome::Timeout), 1);
        assert_eq!(run.only("b").records.len(), 1);
        assert!(run.only("zzz").records.is_empty());
    }
}
