//! The outage benchmark's figures, computed from one leg's [`Trace`]: how
//! requests in a window of the schedule ended, how soon 2xx came back after
//! an upstream returned, and which upstream served how much, when.
//!
//! Pure computation: no clock, no I/O. The scenarios choose the windows;
//! `section.rs` formats.

use std::fmt::Write as _;
use std::time::Duration;

use levee_sim::load::{Failure, Outcome, RequestRecord, Run};

/// One leg as measured: the requests, the upstreams' served counts over
/// time, and when each upstream actually went down or came back.
#[derive(Clone, Debug)]
pub(crate) struct Trace {
    pub(crate) run: Run,
    /// (time from the start of the load, requests served so far by each
    /// upstream), in time order.
    pub(crate) samples: Vec<(Duration, Vec<u64>)>,
    /// (time from the start of the load, upstream index, what happened), in
    /// time order: when a crash was complete or the listener was back.
    pub(crate) events: Vec<(Duration, usize, Action)>,
}

/// What happens to an upstream during a leg.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// It crashes: listener closed, open connections dropped.
    Kill,
    /// It listens again on the same port.
    Restart,
}

/// How the requests scheduled in a window ended, counted the way issue 12
/// judges them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Requests scheduled in the window.
    pub(crate) requests: usize,
    /// 2xx answers.
    pub(crate) success: usize,
    /// `503` answers carrying a valid `Retry-After`: the right refusal.
    pub(crate) refused_well: usize,
    /// Every other answer or failure but a client timeout: a `503` without
    /// `Retry-After`, a `502`, a connection error.
    pub(crate) other: usize,
    /// Client deadlines that passed.
    pub(crate) timeouts: usize,
    /// The smallest and the largest `Retry-After` of the good refusals, in seconds.
    pub(crate) retry_after: Option<(u64, u64)>,
}

impl Counts {
    /// The requests of `run` scheduled in [from, to).
    pub(crate) fn of(run: &Run, from: Duration, to: Duration) -> Self {
        let mut c = Counts::default();
        for r in in_window(run, from, to) {
            c.requests += 1;
            match r.outcome {
                Outcome::Success => c.success += 1,
                Outcome::Unavailable if r.retry_after.is_some() => {
                    let secs = r.retry_after.unwrap_or_default();
                    c.refused_well += 1;
                    c.retry_after = Some(match c.retry_after {
                        None => (secs, secs),
                        Some((lo, hi)) => (lo.min(secs), hi.max(secs)),
                    });
                }
                Outcome::Timeout => c.timeouts += 1,
                _ => c.other += 1,
            }
        }
        c
    }

    /// The errors among requests sent in the client deadline before `kill`:
    /// those in flight when an upstream crashed (and earlier failures of
    /// that second).
    pub(crate) fn in_flight_at(run: &Run, kill: Duration) -> usize {
        Self::of(run, kill.saturating_sub(run.deadline), kill).errors()
    }

    /// Everything but a 2xx: what a client sees as an error.
    pub(crate) fn errors(&self) -> usize {
        self.requests - self.success
    }

    /// The share of the requests answered 2xx (`None` without requests).
    pub(crate) fn success_share(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.success as f64 / self.requests as f64)
    }
}

fn in_window(run: &Run, from: Duration, to: Duration) -> impl Iterator<Item = &RequestRecord> {
    run.records
        .iter()
        .filter(move |r| r.at >= from && r.at < to)
}

/// How long after `t` the first 2xx answer arrived (counting answers that
/// arrived at or after `t`, whenever they were sent); `None` if none did.
pub(crate) fn first_success_after(run: &Run, t: Duration) -> Option<Duration> {
    run.records
        .iter()
        .filter(|r| r.outcome == Outcome::Success)
        .map(|r| r.at + r.latency)
        .filter(|done| *done >= t)
        .min()
        .map(|done| done - t)
}

/// From when, counted from `from`, every request scheduled in [from, to)
/// was answered 2xx: the scheduled time of the first request after the last
/// one that was not (zero if all were). `None` if the window ends on a
/// request that was not: it never settled.
pub(crate) fn all_success_after(run: &Run, from: Duration, to: Duration) -> Option<Duration> {
    let window: Vec<&RequestRecord> = in_window(run, from, to).collect();
    match window.iter().rposition(|r| r.outcome != Outcome::Success) {
        None => Some(Duration::ZERO),
        Some(last) => window.get(last + 1).map(|r| r.at - from),
    }
}

/// Requests served by upstream `index` by time `t`, read from the last
/// sample at or before `t` (zero before the first).
fn served_by(samples: &[(Duration, Vec<u64>)], index: usize, t: Duration) -> u64 {
    samples
        .iter()
        .take_while(|(at, _)| *at <= t)
        .last()
        .and_then(|(_, served)| served.get(index).copied())
        .unwrap_or(0)
}

/// The width of the bins in which an upstream's share of the served
/// requests is judged: at 200 req/s, ~50 requests, against at most one
/// health check per upstream.
pub(crate) const BIN: Duration = Duration::from_millis(250);

/// How long after `from` upstream `index` began to serve at least `share`
/// of all requests served, and kept doing so until `to`: the start of the
/// first [`BIN`] from which on every whole bin before `to` met the share (a
/// bin where nothing was served does not). `None` if the last bin did not.
pub(crate) fn share_holds_after(
    samples: &[(Duration, Vec<u64>)],
    index: usize,
    share: f64,
    from: Duration,
    to: Duration,
) -> Option<Duration> {
    let upstreams = samples.last().map_or(0, |(_, s)| s.len());
    let total = |t: Duration| -> u64 { (0..upstreams).map(|i| served_by(samples, i, t)).sum() };
    let mut holds_since = None;
    let mut start = from;
    while start + BIN <= to {
        let end = start + BIN;
        let mine = served_by(samples, index, end) - served_by(samples, index, start);
        let all = total(end) - total(start);
        let met = all > 0 && mine as f64 >= share * all as f64;
        holds_since = match (met, holds_since) {
            (true, None) => Some(start - from),
            (true, kept) => kept,
            (false, _) => None,
        };
        start = end;
    }
    holds_since
}

/// The windows in which upstream `index` was up during [0, `end`): it is up
/// at the start, down from each `Kill`, up again from each `Restart`.
pub(crate) fn up_windows(
    events: &[(Duration, usize, Action)],
    index: usize,
    end: Duration,
) -> Vec<(Duration, Duration)> {
    let mut windows = Vec::new();
    let mut up_since = Some(Duration::ZERO);
    for &(at, _, action) in events.iter().filter(|e| e.1 == index) {
        match (action, up_since) {
            (Action::Kill, Some(since)) => {
                windows.push((since, at.min(end)));
                up_since = None;
            }
            (Action::Restart, None) => up_since = Some(at),
            _ => {}
        }
    }
    if let Some(since) = up_since
        && since < end
    {
        windows.push((since, end));
    }
    windows
}

/// The requests of `run` as CSV, one line each: when it was scheduled and
/// how long it took (ms), how it ended, its `Retry-After` (s), if any, and
/// how late the generator sent it (ms).
pub(crate) fn records_csv(run: &Run) -> String {
    let mut csv = String::from("at_ms,outcome,latency_ms,retry_after_s,lag_ms\n");
    for r in &run.records {
        let outcome = match r.outcome {
            Outcome::Success => "2xx".to_owned(),
            Outcome::Unavailable => "503".to_owned(),
            Outcome::TooMany => "429".to_owned(),
            Outcome::Status(code) => code.to_string(),
            Outcome::Timeout => "timeout".to_owned(),
            Outcome::Failed(Failure::Connect) => "connect-error".to_owned(),
            Outcome::Failed(Failure::Io) => "io-error".to_owned(),
            Outcome::Failed(Failure::Saturated) => "unsent".to_owned(),
        };
        let retry_after = r.retry_after.map(|s| s.to_string()).unwrap_or_default();
        let _ = writeln!(
            csv,
            "{:.3},{outcome},{:.3},{retry_after},{:.3}",
            r.at.as_secs_f64() * 1000.0,
            r.latency.as_secs_f64() * 1000.0,
            r.lag.as_secs_f64() * 1000.0
        );
    }
    csv
}

/// The median of `values`, a missing value counting as larger than any
/// (a recovery that never came); `None` when empty or when the median is
/// missing.
pub(crate) fn median(values: &[Option<f64>]) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().map(|v| v.unwrap_or(f64::INFINITY)).collect();
    sorted.sort_by(f64::total_cmp);
    sorted
        .get(sorted.len() / 2)
        .copied()
        .filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn record(
        at_ms: u64,
        outcome: Outcome,
        latency_ms: u64,
        retry_after: Option<u64>,
    ) -> RequestRecord {
        RequestRecord {
            at: ms(at_ms),
            lag: Duration::ZERO,
            stream: 0,
            outcome,
            latency: ms(latency_ms),
            retry_after,
        }
    }

    fn run(records: Vec<RequestRecord>) -> Run {
        Run {
            records,
            labels: vec!["all".into()],
            duration: ms(10_000),
            deadline: ms(1_000),
            elapsed: ms(10_000),
        }
    }

    #[test]
    fn counts_tell_a_good_refusal_from_other_answers() {
        let r = run(vec![
            record(100, Outcome::Success, 20, None),
            record(1_000, Outcome::Unavailable, 1, Some(1)),
            record(1_100, Outcome::Unavailable, 1, None),
            record(1_200, Outcome::Status(502), 1, None),
            record(1_300, Outcome::Failed(Failure::Io), 1, None),
            record(1_400, Outcome::Timeout, 1_000, None),
            record(2_000, Outcome::Success, 20, None),
        ]);
        let c = Counts::of(&r, ms(1_000), ms(2_000));
        assert_eq!(
            c,
            Counts {
                requests: 5,
                success: 0,
                refused_well: 1,
                other: 3,
                timeouts: 1,
                retry_after: Some((1, 1)),
            }
        );
        assert_eq!(c.errors(), 5);
        assert_eq!(Counts::in_flight_at(&r, ms(1_250)), 3);
        assert_eq!(
            Counts::of(&r, ms(0), ms(10_000)).success_share(),
            Some(2.0 / 7.0)
        );
        assert_eq!(Counts::of(&r, ms(5_000), ms(6_000)).success_share(), None);
        let csv = records_csv(&r);
        assert!(csv.starts_with(
            "at_ms,outcome,latency_ms,retry_after_s,lag_ms\n100.000,2xx,20.000,,0.000\n"
        ));
        assert!(
            csv.contains("\n1000.000,503,1.000,1,0.000\n1100.000,503,1.000,,0.000\n1200.000,502,")
        );
        assert!(csv.contains("\n1300.000,io-error,") && csv.contains("\n1400.000,timeout,"));
    }

    #[test]
    fn recovery_counts_from_the_answer_and_from_the_schedule() {
        let r = run(vec![
            record(900, Outcome::Success, 20, None),
            // Sent before the return, answered after it: counts for the first 2xx.
            record(1_950, Outcome::Success, 100, None),
            record(2_100, Outcome::Status(502), 1, None),
            record(2_400, Outcome::Success, 20, None),
            record(2_600, Outcome::Success, 20, None),
        ]);
        assert_eq!(first_success_after(&r, ms(2_000)), Some(ms(50)));
        assert_eq!(first_success_after(&r, ms(3_000)), None);
        assert_eq!(all_success_after(&r, ms(2_000), ms(3_000)), Some(ms(400)));
        assert_eq!(all_success_after(&r, ms(2_300), ms(3_000)), Some(ms(0)));
        assert_eq!(all_success_after(&r, ms(2_000), ms(2_200)), None);
    }

    #[test]
    fn a_share_must_hold_to_the_end() {
        // Upstream 1 serves nothing, then half, then nearly all, every 250 ms.
        let per_bin = [(50, 0), (25, 25), (2, 48), (10, 40), (1, 49)];
        let mut samples = vec![(ms(0), vec![0, 0])];
        let (mut a, mut b) = (0, 0);
        for (i, (da, db)) in per_bin.iter().enumerate() {
            a += da;
            b += db;
            samples.push((ms(250 * (i as u64 + 1)), vec![a, b]));
        }
        assert_eq!(
            share_holds_after(&samples, 1, 0.9, ms(0), ms(1_250)),
            Some(ms(1_000))
        );
        assert_eq!(
            share_holds_after(&samples, 1, 0.75, ms(0), ms(1_250)),
            Some(ms(500))
        );
        assert_eq!(
            share_holds_after(&samples, 1, 0.4, ms(250), ms(1_250)),
            Some(ms(0))
        );
        assert_eq!(share_holds_after(&samples, 1, 0.99, ms(0), ms(1_250)), None);
        // Nothing served at all is not a share met.
        let idle = vec![(ms(0), vec![5, 5]), (ms(1_000), vec![5, 5])];
        assert_eq!(share_holds_after(&idle, 0, 0.1, ms(0), ms(1_000)), None);
    }

    #[test]
    fn up_windows_follow_kills_and_restarts() {
        let events = vec![
            (ms(2_000), 1, Action::Kill),
            (ms(3_000), 0, Action::Kill),
            (ms(4_000), 1, Action::Restart),
            (ms(6_000), 1, Action::Kill),
        ];
        assert_eq!(
            up_windows(&events, 1, ms(8_000)),
            vec![(ms(0), ms(2_000)), (ms(4_000), ms(6_000))]
        );
        assert_eq!(up_windows(&events, 0, ms(8_000)), vec![(ms(0), ms(3_000))]);
        assert_eq!(up_windows(&[], 0, ms(8_000)), vec![(ms(0), ms(8_000))]);
    }

    #[test]
    fn a_missing_value_is_the_largest() {
        assert_eq!(median(&[Some(3.0), None, Some(1.0)]), Some(3.0));
        assert_eq!(median(&[None, None, Some(1.0)]), None);
        assert_eq!(median(&[]), None);
    }
}
