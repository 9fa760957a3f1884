//! A run below capacity, counted the way it is judged: how many requests
//! were served, shed or failed, how fast the short ones were, and what
//! `Retry-After` any shed said. Behind a service with room to spare, every
//! shed is a false one (issue 19).
//!
//! Pure computation over a [`Run`], as [`Summary`] is; the benchmark and the
//! demo format it.

use std::collections::BTreeMap;

use serde::Serialize;

use super::summary::{Summary, millis, percentile};
use crate::load::{Outcome, Run};

/// The tally of a run. Latencies in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Tally {
    /// Requests sent.
    pub sent: usize,
    /// 2xx responses.
    pub served: usize,
    /// 503 and 429 responses.
    pub shed: usize,
    /// Everything else: other statuses, client timeouts, failures, requests
    /// the generator could not send.
    pub other: usize,
    /// Median latency of the short requests' 2xx.
    pub short_p50_ms: Option<f64>,
    /// 99th percentile latency of the short requests' 2xx.
    pub short_p99_ms: Option<f64>,
    /// Each `Retry-After` (seconds) seen on a shed, with how many sheds
    /// carried it, smallest first.
    pub retry_after: Vec<(u64, usize)>,
    /// Sheds without a valid `Retry-After`.
    pub shed_without_retry_after: usize,
}

impl Tally {
    /// Counts `run`; the short requests are those of the streams labelled
    /// as in `short` (every stream when `short` is empty).
    pub fn of(run: &Run, short: &[&str]) -> Self {
        let all = Summary::of(run, run.deadline);
        let is_short = |stream: u16| {
            short.is_empty()
                || run
                    .labels
                    .get(usize::from(stream))
                    .is_some_and(|l| short.contains(&l.as_str()))
        };
        let mut fast = Vec::new();
        let mut retry_after = BTreeMap::new();
        let mut without = 0;
        for r in &run.records {
            if r.outcome == Outcome::Success && is_short(r.stream) {
                fast.push(r.latency);
            }
            if r.outcome.is_shed() {
                match r.retry_after {
                    Some(secs) => *retry_after.entry(secs).or_insert(0) += 1,
                    None => without += 1,
                }
            }
        }
        Tally {
            sent: all.requests,
            served: all.success,
            shed: all.shed(),
            other: all.requests - all.success - all.shed(),
            short_p50_ms: percentile(&mut fast, 0.50).map(millis),
            short_p99_ms: percentile(&mut fast, 0.99).map(millis),
            retry_after: retry_after.into_iter().collect(),
            shed_without_retry_after: without,
        }
    }

    /// Sheds as a fraction of the requests sent (0 when none were).
    pub fn shed_fraction(&self) -> f64 {
        if self.sent == 0 {
            0.0
        } else {
            self.shed as f64 / self.sent as f64
        }
    }

    /// The `Retry-After` values seen, for a table cell: `-` when nothing was
    /// shed; the values in seconds (`1, 2 s`), or their range when there are
    /// more than four (`1–30 s`); `none` for sheds without one.
    pub fn retry_after_text(&self) -> String {
        let values: Vec<u64> = self.retry_after.iter().map(|(v, _)| *v).collect();
        let mut parts = Vec::new();
        match (values.first(), values.last()) {
            (Some(lo), Some(hi)) if values.len() > 4 => parts.push(format!("{lo}–{hi} s")),
            (Some(_), Some(_)) => {
                let list: Vec<String> = values.iter().map(u64::to_string).collect();
                parts.push(format!("{} s", list.join(", ")));
            }
            _ => {}
        }
        if self.shed_without_retry_after > 0 {
            parts.push(format!("none ×{}", self.shed_without_retry_after));
        }
        if parts.is_empty() {
            "-".to_owned()
        } else {
            parts.join("; ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{Failure, RequestRecord};
    use std::time::Duration;

    fn record(stream: u16, outcome: Outcome, ms: u64, retry_after: Option<u64>) -> RequestRecord {
        RequestRecord {
            at: Duration::ZERO,
            lag: Duration::ZERO,
            stream,
            outcome,
            latency: Duration::from_millis(ms),
            retry_after,
        }
    }

    #[test]
    fn a_tally_counts_each_request_once_and_times_only_the_short_ones() {
        let run = Run {
            records: vec![
                record(0, Outcome::Success, 5, None),
                record(0, Outcome::Success, 7, None),
                record(1, Outcome::Success, 10_000, None),
                record(0, Outcome::Unavailable, 1, Some(2)),
                record(0, Outcome::Unavailable, 1, Some(2)),
                record(0, Outcome::TooMany, 1, Some(30)),
                record(0, Outcome::Unavailable, 1, None),
                record(1, Outcome::Timeout, 30_000, None),
                record(0, Outcome::Failed(Failure::Saturated), 0, None),
            ],
            labels: vec!["fast".into(), "long-poll".into()],
            duration: Duration::from_secs(10),
            deadline: Duration::from_secs(1),
            elapsed: Duration::from_secs(11),
        };
        let t = Tally::of(&run, &["fast"]);
        assert_eq!((t.sent, t.served, t.shed, t.other), (9, 3, 4, 2));
        assert_eq!((t.short_p50_ms, t.short_p99_ms), (Some(5.0), Some(7.0)));
        assert_eq!(t.retry_after, [(2, 2), (30, 1)]);
        assert_eq!(t.retry_after_text(), "2, 30 s; none ×1");
        assert!((t.shed_fraction() - 4.0 / 9.0).abs() < 1e-12);
        let everything = Tally::of(&run, &[]);
        assert_eq!(everything.short_p99_ms, Some(10_000.0));
        assert_eq!(Tally::default().retry_after_text(), "-");
        let many = Tally {
            retry_after: (1..=6).map(|v| (v, 1)).collect(),
            ..Tally::default()
        };
        assert_eq!(many.retry_after_text(), "1–6 s");
    }
}
