//! Samples Levee's concurrency limit from its admin listener's Prometheus
//! `/metrics` (`levee_admission_limit`, a gauge by route) every 100 ms, and
//! says how fast it settled after a change.
//!
//! Read-only: it never changes the gateway.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::sync::watch;
use tokio::time::Instant;

/// The gauge Levee exposes its admission limit as.
const GAUGE: &str = "levee_admission_limit";

/// Samples the limit every `every` until `stop` fires; returns (seconds since
/// `start`, limit).
pub(crate) async fn sample(
    admin: SocketAddr,
    start: Instant,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) -> Vec<(f64, f64)> {
    let mut points = Vec::new();
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = stop.changed() => return points,
            _ = tick.tick() => {}
        }
        let fetch = tokio::time::timeout(Duration::from_millis(500), metrics(admin));
        if let Ok(Some(text)) = fetch.await
            && let Some(limit) = parse(&text)
        {
            points.push((start.elapsed().as_secs_f64(), limit));
        }
    }
}

/// The admin listener's Prometheus page, if it answers.
pub(crate) async fn metrics(admin: SocketAddr) -> Option<String> {
    let stream = tokio::net::TcpStream::connect(admin).await.ok()?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(conn);
    let request = Request::get("/metrics")
        .header(http::header::HOST, admin.to_string())
        .body(Empty::<Bytes>::new())
        .ok()?;
    let response = sender.send_request(request).await.ok()?;
    let body = response.into_body().collect().await.ok()?.to_bytes();
    String::from_utf8(body.to_vec()).ok()
}

/// The largest `levee_admission_limit` sample in a Prometheus text page
/// (the benchmark has one route; the largest is the one carrying traffic).
pub(crate) fn parse(text: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(GAUGE)
                .is_some_and(|rest| rest.starts_with(['{', ' ']))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .reduce(f64::max)
}

/// How the limit moved around a change at `switch` seconds.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Settling {
    /// The median limit over the second quarter of the first half.
    pub(crate) before: f64,
    /// The median limit over the last quarter of the run.
    pub(crate) after: f64,
    /// Seconds after the switch until the limit stayed within ±25 % of
    /// `after` (its first sample back in that band), not counting excursions
    /// shorter than [`PROBE_S`].
    pub(crate) settle_s: f64,
}

/// Excursions of the limit shorter than this are not "unsettled": they are
/// Gradient2's no-load RTT probes, which pin the limit low for a few hundred
/// milliseconds every so often by design.
pub(crate) const PROBE_S: f64 = 1.0;

/// Settling of `points` (sorted by time) around `switch`, over a run of `end` seconds.
pub(crate) fn settling(points: &[(f64, f64)], switch: f64, end: f64) -> Option<Settling> {
    let median = |from: f64, to: f64| {
        let mut v: Vec<f64> = points
            .iter()
            .filter(|(t, _)| *t >= from && *t < to)
            .map(|p| p.1)
            .collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied()
    };
    let before = median(switch / 2.0, switch)?;
    let after = median(end - (end - switch) / 4.0, end)?;
    let near = |v: f64| (v - after).abs() <= 0.25 * after.abs().max(1.0);
    // When the limit came back from the last excursion away from `after` that
    // counts (the first sample near it again): the first excursion after the
    // switch (the limit moving), and any later one that lasted at least
    // PROBE_S. Still away at the end: the end.
    let mut settled_at: Option<f64> = None;
    let mut excursion: Option<(f64, f64)> = None; // (first, last) far sample
    let mut first = true;
    for &(t, v) in points.iter().filter(|(t, _)| *t >= switch) {
        if near(v) {
            if let Some((from, to)) = excursion.take()
                && (first || to - from >= PROBE_S)
            {
                settled_at = Some(t);
            }
            first = false;
        } else {
            excursion = Some(excursion.map_or((t, t), |(from, _)| (from, t)));
        }
    }
    if excursion.is_some() {
        settled_at = Some(end);
    }
    let settle_s = settled_at.map_or(0.0, |t| (t - switch).max(0.0));
    Some(Settling {
        before,
        after,
        settle_s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_reads_the_gauge_by_route() {
        let page = "# HELP levee_admission_limit x\n# TYPE levee_admission_limit gauge\n\
                    levee_admission_limit{route=\"a\"} 12\nlevee_admission_limit{route=\"b\"} 3.5\n\
                    levee_admission_limit_max 99\nother 7\n";
        assert_eq!(parse(page), Some(12.0));
        assert_eq!(parse("levee_admission_limit 4\n"), Some(4.0));
        assert_eq!(parse("nothing 1\n"), None);
    }

    #[test]
    fn settling_is_the_last_time_the_limit_was_far_from_its_end_value() {
        let mut points: Vec<(f64, f64)> = (0..100).map(|i| (i as f64 * 0.1, 20.0)).collect();
        points.extend((100..130).map(|i| (i as f64 * 0.1, 14.0)));
        points.extend((130..200).map(|i| (i as f64 * 0.1, 10.0)));
        let s = settling(&points, 10.0, 20.0).expect("samples");
        assert_eq!((s.before, s.after), (20.0, 10.0));
        assert!((s.settle_s - 3.0).abs() < 0.05, "{s:?}");
    }

    #[test]
    fn a_short_probe_after_settling_does_not_unsettle_but_a_long_excursion_does() {
        let mut points: Vec<(f64, f64)> = (0..100).map(|i| (i as f64 * 0.1, 11.0)).collect();
        points.extend((100..120).map(|i| (i as f64 * 0.1, 8.0))); // moving: 2 s
        points.extend((120..200).map(|i| (i as f64 * 0.1, 6.0)));
        let with = |from: usize, to: usize| {
            let mut p = points.clone();
            for point in &mut p[from..to] {
                point.1 = 4.0;
            }
            settling(&p, 10.0, 20.0).expect("samples").settle_s
        };
        let settled = settling(&points, 10.0, 20.0).expect("samples").settle_s;
        assert!((settled - 2.0).abs() < 0.05, "{settled}");
        assert!((with(150, 153) - 2.0).abs() < 0.05, "a 0.3 s probe");
        assert!((with(150, 165) - 6.5).abs() < 0.05, "a 1.5 s excursion");
    }
}
