//! A run over time: fixed-width buckets (one second by default) of what was
//! offered and how it ended, with rates normalised to per second.
//!
//! A request counts as offered in the bucket of its scheduled time, and in
//! every other field in the bucket of the moment it ended (scheduled time +
//! latency): goodput over time is then the rate at which good answers came
//! back, which cannot exceed what the upstream can do, and a timeout shows
//! when the client gave up. The buckets cover the schedule plus one deadline.

use std::time::Duration;

use serde::Serialize;

use super::summary::{millis, percentile};
use crate::load::{Outcome, Run};

/// One bucket. Rates are per second whatever the bucket width.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Bucket {
    /// The start of the bucket, in seconds from the start of the run.
    pub t: f64,
    /// Requests scheduled per second (by send time).
    pub offered: f64,
    /// 2xx per second, whatever their latency.
    pub success: f64,
    /// 2xx within the SLO per second.
    pub goodput: f64,
    /// 503 and 429 per second.
    pub shed: f64,
    /// Client timeouts per second.
    pub timeouts: f64,
    /// Other statuses and failures per second.
    pub errors: f64,
    /// Median latency of the bucket's 2xx, in milliseconds.
    pub p50_ms: Option<f64>,
    /// 99th percentile latency of the bucket's 2xx, in milliseconds.
    pub p99_ms: Option<f64>,
}

/// The buckets of a run, covering its scheduled duration.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Series {
    /// Bucket width in seconds.
    pub width_s: f64,
    /// The buckets, in time order.
    pub buckets: Vec<Bucket>,
}

impl Series {
    /// One-second buckets, goodput within `slo`.
    pub fn per_second(run: &Run, slo: Duration) -> Self {
        Self::new(run, slo, Duration::from_secs(1))
    }

    /// Buckets of `width` (at least 1 ms), goodput within `slo`.
    pub fn new(run: &Run, slo: Duration, width: Duration) -> Self {
        let width = width.max(Duration::from_millis(1));
        let w = width.as_secs_f64();
        let span = run.duration + run.deadline;
        let n = (span.as_secs_f64() / w).ceil() as usize;
        let mut buckets: Vec<Bucket> = (0..n)
            .map(|i| Bucket {
                t: i as f64 * w,
                ..Bucket::default()
            })
            .collect();
        let mut latencies: Vec<Vec<Duration>> = vec![Vec::new(); n];
        for r in &run.records {
            if let Some(b) = buckets.get_mut((r.at.as_secs_f64() / w) as usize) {
                b.offered += 1.0;
            }
            let i = ((r.at + r.latency).as_secs_f64() / w) as usize;
            let Some(b) = buckets.get_mut(i) else {
                continue;
            };
            match r.outcome {
                Outcome::Success => {
                    b.success += 1.0;
                    if r.latency <= slo {
                        b.goodput += 1.0;
                    }
                    latencies[i].push(r.latency);
                }
                o if o.is_shed() => b.shed += 1.0,
                Outcome::Timeout => b.timeouts += 1.0,
                _ => b.errors += 1.0,
            }
        }
        for (b, l) in buckets.iter_mut().zip(&mut latencies) {
            for rate in [
                &mut b.offered,
                &mut b.success,
                &mut b.goodput,
                &mut b.shed,
                &mut b.timeouts,
                &mut b.errors,
            ] {
                *rate /= w;
            }
            b.p50_ms = percentile(l, 0.50).map(millis);
            b.p99_ms = percentile(l, 0.99).map(millis);
        }
        Series {
            width_s: w,
            buckets,
        }
    }

    /// (bucket middle, value) points of one field, for charts.
    pub fn points(&self, field: impl Fn(&Bucket) -> Option<f64>) -> Vec<(f64, Option<f64>)> {
        let half = self.width_s / 2.0;
        self.buckets
            .iter()
            .map(|b| (b.t + half, field(b)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{Failure, RequestRecord};

    fn record(at_ms: u64, outcome: Outcome, latency_ms: u64) -> RequestRecord {
        RequestRecord {
            at: Duration::from_millis(at_ms),
            lag: Duration::ZERO,
            stream: 0,
            outcome,
            latency: Duration::from_millis(latency_ms),
            retry_after: None,
        }
    }

    #[test]
    fn offered_counts_by_send_time_and_the_rest_by_end_time() {
        let run = Run {
            records: vec![
                record(100, Outcome::Success, 20),
                record(200, Outcome::Success, 700),
                record(300, Outcome::Unavailable, 1),
                record(400, Outcome::Success, 30),
                record(600, Outcome::Timeout, 1000),
                record(700, Outcome::Failed(Failure::Io), 5),
                record(1900, Outcome::Success, 30),
            ],
            labels: vec!["all".into()],
            duration: Duration::from_secs(2),
            deadline: Duration::from_secs(1),
            elapsed: Duration::from_secs(3),
        };
        let s = Series::new(&run, Duration::from_millis(500), Duration::from_millis(500));
        assert_eq!(s.buckets.len(), 6, "schedule plus one deadline");
        let first = &s.buckets[0];
        assert_eq!(
            (first.offered, first.success, first.goodput, first.shed),
            (8.0, 4.0, 4.0, 2.0)
        );
        assert_eq!(first.p99_ms, Some(30.0));
        assert_eq!((s.buckets[1].offered, s.buckets[1].errors), (4.0, 2.0));
        assert_eq!(
            (s.buckets[1].success, s.buckets[1].goodput),
            (2.0, 0.0),
            "700 ms is past the SLO"
        );
        assert_eq!(s.buckets[3].timeouts, 2.0, "the client gave up at 1.6 s");
        assert_eq!(s.buckets[3].offered, 2.0);
        assert_eq!(s.buckets[3].success, 2.0, "sent at 1.9 s, ended at 1.93 s");
        let per_second = Series::per_second(&run, Duration::from_millis(500));
        let total: f64 = per_second.buckets.iter().map(|b| b.offered).sum();
        assert_eq!(total, 7.0);
        assert_eq!(per_second.points(|b| b.p50_ms)[0], (0.5, Some(30.0)));
    }
}
