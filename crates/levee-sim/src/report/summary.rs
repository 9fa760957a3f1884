//! One run in numbers: the figures the benchmarks and the demo report.
//!
//! Pure computation over a [`Run`]; rendering lives in `table.rs` and `html.rs`.

use std::time::Duration;

use serde::Serialize;

use crate::load::{Failure, Outcome, Run};

/// The summary of a run. Latencies in milliseconds; `None` when there was
/// nothing to measure.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Requests sent.
    pub requests: usize,
    /// The scheduled duration, in seconds.
    pub duration_s: f64,
    /// Requests sent per second.
    pub offered_per_s: f64,
    /// The latency objective that defines goodput, in milliseconds.
    pub slo_ms: f64,
    /// 2xx responses.
    pub success: usize,
    /// 2xx responses within the SLO.
    pub goodput: usize,
    /// `goodput` per second of schedule.
    pub goodput_per_s: f64,
    /// Median latency of 2xx responses.
    pub p50_success_ms: Option<f64>,
    /// 99th percentile latency of 2xx responses.
    pub p99_success_ms: Option<f64>,
    /// 503 responses.
    pub unavailable: usize,
    /// Median latency of 503 responses.
    pub p50_unavailable_ms: Option<f64>,
    /// 99th percentile latency of 503 responses.
    pub p99_unavailable_ms: Option<f64>,
    /// 99th percentile of 503 responses' latency from when the request was
    /// actually sent: without the generator's own lateness, so what the
    /// target (and loopback) took to answer. `p99_unavailable_ms` counts from
    /// the schedule.
    pub p99_unavailable_sent_ms: Option<f64>,
    /// 429 responses.
    pub too_many: usize,
    /// 503 and 429 responses that carried a valid `Retry-After`.
    pub with_retry_after: usize,
    /// The smallest `Retry-After` seen, in seconds.
    pub retry_after_min_s: Option<u64>,
    /// The largest `Retry-After` seen, in seconds.
    pub retry_after_max_s: Option<u64>,
    /// Other statuses (4xx, 5xx but 503 and 429).
    pub other_status: usize,
    /// Requests whose client deadline passed.
    pub timeouts: usize,
    /// Requests without a response: connect and I/O failures.
    pub failed: usize,
    /// Requests the generator could not send: no connection free (its bottleneck).
    pub saturated: usize,
    /// The 99th percentile of the generator's own lateness, in milliseconds.
    pub lag_p99_ms: f64,
}

impl Summary {
    /// Summarises `run`, counting 2xx within `slo` as goodput.
    pub fn of(run: &Run, slo: Duration) -> Self {
        let mut s = Summary {
            requests: run.records.len(),
            duration_s: run.duration.as_secs_f64(),
            slo_ms: millis(slo),
            ..Summary::default()
        };
        let mut success = Vec::new();
        let mut unavailable = Vec::new();
        let mut unavailable_sent = Vec::new();
        let mut lag = Vec::with_capacity(run.records.len());
        for r in &run.records {
            lag.push(r.lag);
            match r.outcome {
                Outcome::Success => {
                    success.push(r.latency);
                    s.goodput += usize::from(r.latency <= slo);
                }
                Outcome::Unavailable => {
                    unavailable.push(r.latency);
                    unavailable_sent.push(r.latency.saturating_sub(r.lag));
                }
                Outcome::TooMany => s.too_many += 1,
                Outcome::Status(_) => s.other_status += 1,
                Outcome::Timeout => s.timeouts += 1,
                Outcome::Failed(Failure::Saturated) => s.saturated += 1,
                Outcome::Failed(_) => s.failed += 1,
            }
            if r.outcome.is_shed()
                && let Some(secs) = r.retry_after
            {
                s.with_retry_after += 1;
                s.retry_after_min_s = Some(s.retry_after_min_s.map_or(secs, |m| m.min(secs)));
                s.retry_after_max_s = Some(s.retry_after_max_s.map_or(secs, |m| m.max(secs)));
            }
        }
        s.success = success.len();
        s.unavailable = unavailable.len();
        s.p50_success_ms = percentile(&mut success, 0.50).map(millis);
        s.p99_success_ms = percentile(&mut success, 0.99).map(millis);
        s.p50_unavailable_ms = percentile(&mut unavailable, 0.50).map(millis);
        s.p99_unavailable_ms = percentile(&mut unavailable, 0.99).map(millis);
        s.p99_unavailable_sent_ms = percentile(&mut unavailable_sent, 0.99).map(millis);
        s.lag_p99_ms = percentile(&mut lag, 0.99).map_or(0.0, millis);
        if s.duration_s > 0.0 {
            s.offered_per_s = s.requests as f64 / s.duration_s;
            s.goodput_per_s = s.goodput as f64 / s.duration_s;
        }
        s
    }

    /// 503 and 429 responses: the requests answered "not now".
    pub fn shed(&self) -> usize {
        self.unavailable + self.too_many
    }
}

/// The nearest-rank `q` quantile (0 < q ≤ 1) of `values`, which it sorts.
pub fn percentile(values: &mut [Duration], q: f64) -> Option<Duration> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = (q * values.len() as f64).ceil() as usize;
    Some(values[rank.clamp(1, values.len()) - 1])
}

/// A duration in (fractional) milliseconds.
pub(crate) fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::RequestRecord;

    fn record(outcome: Outcome, latency_ms: u64, retry_after: Option<u64>) -> RequestRecord {
        RequestRecord {
            at: Duration::ZERO,
            lag: Duration::from_millis(1),
            stream: 0,
            outcome,
            latency: Duration::from_millis(latency_ms),
            retry_after,
        }
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let mut v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&mut v, 0.5), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&mut v, 0.99), Some(Duration::from_millis(99)));
        assert_eq!(percentile(&mut v, 1.0), Some(Duration::from_millis(100)));
        assert_eq!(percentile(&mut [], 0.5), None);
    }

    #[test]
    fn summary_counts_every_outcome_once() {
        let run = Run {
            records: vec![
                record(Outcome::Success, 20, None),
                record(Outcome::Success, 600, None),
                record(Outcome::Unavailable, 1, Some(2)),
                record(Outcome::Unavailable, 1, Some(5)),
                record(Outcome::TooMany, 1, None),
                record(Outcome::Status(502), 3, None),
                record(Outcome::Timeout, 1000, None),
                record(Outcome::Failed(Failure::Connect), 1, None),
                record(Outcome::Failed(Failure::Saturated), 0, None),
            ],
            labels: vec!["all".into()],
            duration: Duration::from_secs(2),
            deadline: Duration::from_secs(1),
            elapsed: Duration::from_secs(3),
        };
        let s = Summary::of(&run, Duration::from_millis(500));
        assert_eq!((s.requests, s.success, s.goodput, s.shed()), (9, 2, 1, 3));
        assert_eq!(
            (s.other_status, s.timeouts, s.failed, s.saturated),
            (1, 1, 1, 1)
        );
        let counted = s.success + s.shed() + s.other_status + s.timeouts + s.failed + s.saturated;
        assert_eq!(counted, s.requests);
        assert_eq!((s.offered_per_s, s.goodput_per_s), (4.5, 0.5));
        assert_eq!(
            (s.with_retry_after, s.retry_after_min_s, s.retry_after_max_s),
            (2, Some(2), Some(5))
        );
        assert_eq!(s.p99_success_ms, Some(600.0));
        assert_eq!(s.p99_unavailable_ms, Some(1.0));
        assert_eq!(s.p99_unavailable_sent_ms, Some(0.0), "1 ms, sent 1 ms late");
    }
}
