//! [`Sample`]: one second of what the gateway saw for a component; and the
//! window of samples that gives the component's *raw* level and the words
//! that explain it.
//!
//! This file owns the rules that map signals to a level. It keeps no
//! hysteresis (`component.rs` does) and knows nothing of maintenance beyond
//! the flag.

use std::collections::VecDeque;
use std::time::Duration;

use super::Level;
use super::thresholds::Thresholds;
use super::words::{count, names, percent, period};

/// One second of one component's signals: counts over that second and
/// gauges at its end. Cheap to build: `down_pools` is empty (no allocation)
/// unless a pool is down.
///
/// The counts are of requests answered outside maintenance (the caller
/// leaves out what a maintenance window answered); each of `server_errors`,
/// `shed` and `slow` is a part of `requests`, and `server_errors` and `shed`
/// do not overlap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sample {
    /// Requests answered, whatever the answer.
    pub requests: u64,
    /// Answers with a 5xx status, the gateway's own 502, 503 and 504
    /// included, except a maintenance window's 503s and the overload
    /// refusals counted in `shed`.
    pub server_errors: u64,
    /// Requests the gateway refused for overload (`503` overloaded). A `429`
    /// for a tenant over its rate is not counted: the service is fine.
    pub shed: u64,
    /// Requests slower than their route's slow threshold.
    pub slow: u64,
    /// The component's endpoints, not counting the ones an operator drained
    /// (out on purpose: neither up nor down).
    pub endpoints: u32,
    /// Of `endpoints`, the ones healthy and not ejected.
    pub endpoints_up: u32,
    /// The component's pools.
    pub pools: u32,
    /// Of `pools`, the ones with no endpoint able to take a request.
    pub pools_down: u32,
    /// Whether a maintenance window in force covers the component.
    pub maintenance: bool,
    /// The names of the pools down, for the words of a change's cause; may
    /// be left empty (the cause then gives only the numbers).
    pub down_pools: Vec<String>,
}

/// The counts of one sample, kept for the window.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    requests: u64,
    server_errors: u64,
    shed: u64,
    slow: u64,
}

/// The counts' sums over the window. `u128`: no sum of `u64`s can overflow
/// it, so removing a sample subtracts exactly what adding it added.
#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    requests: u128,
    server_errors: u128,
    shed: u128,
    slow: u128,
}

/// The samples of the last window, and the gauges of the latest one.
#[derive(Debug, Clone, Default)]
pub(super) struct Signals {
    samples: VecDeque<(Duration, Counts)>,
    totals: Totals,
    latest: Sample,
}

impl Signals {
    /// Adds the sample seen at `now` and forgets those older than the window.
    /// The latest sample's counts are not kept twice: `latest` keeps its
    /// gauges and names.
    pub(super) fn push(&mut self, now: Duration, sample: Sample, window: Duration) {
        let c = Counts {
            requests: sample.requests,
            server_errors: sample.server_errors,
            shed: sample.shed,
            slow: sample.slow,
        };
        self.samples.push_back((now, c));
        self.totals.requests += u128::from(c.requests);
        self.totals.server_errors += u128::from(c.server_errors);
        self.totals.shed += u128::from(c.shed);
        self.totals.slow += u128::from(c.slow);
        while let Some(&(at, old)) = self.samples.front() {
            if at.saturating_add(window) > now {
                break;
            }
            self.samples.pop_front();
            self.totals.requests -= u128::from(old.requests);
            self.totals.server_errors -= u128::from(old.server_errors);
            self.totals.shed -= u128::from(old.shed);
            self.totals.slow -= u128::from(old.slow);
        }
        self.latest = sample;
    }

    /// Forgets every sample (the end of a maintenance window: what came
    /// before it says nothing about now).
    pub(super) fn clear(&mut self) {
        self.samples.clear();
        self.totals = Totals::default();
    }

    /// Whether the latest sample says a maintenance window is in force.
    pub(super) fn maintenance(&self) -> bool {
        self.latest.maintenance
    }

    /// The raw level of the window, maintenance aside: the worst level one
    /// of whose rules holds.
    pub(super) fn raw(&self, th: &Thresholds) -> Level {
        [
            Level::MajorOutage,
            Level::PartialOutage,
            Level::DegradedPerformance,
        ]
        .into_iter()
        .find(|&level| self.why(level, th).is_some())
        .unwrap_or(Level::Operational)
    }

    /// The words of the first rule of `level` that holds (`None`: none does).
    /// Only the three broken levels have rules.
    fn why(&self, level: Level, th: &Thresholds) -> Option<String> {
        let g = &self.latest;
        let t = &self.totals;
        let enough = t.requests >= u128::from(th.min_requests);
        let errors = share(t.server_errors, t.requests);
        match level {
            Level::MajorOutage => {
                if g.pools > 0 && g.pools_down >= g.pools {
                    Some(self.pools_down())
                } else if enough && errors >= th.major_share {
                    Some(self.errors_phrase(th))
                } else if enough && t.server_errors + t.shed >= t.requests {
                    Some(format!(
                        "none of {} requests in the last {} answered without a 5xx ({} 5xx, {} shed for overload)",
                        count(t.requests),
                        period(th.window),
                        count(t.server_errors),
                        count(t.shed),
                    ))
                } else {
                    None
                }
            }
            Level::PartialOutage => {
                if g.pools_down > 0 {
                    Some(self.pools_down())
                } else if g.endpoints > 0 && g.endpoints_up * 2 <= g.endpoints {
                    // Half or more of the endpoints down: the capacity is
                    // halved. One endpoint of many out is what failover is
                    // for, and users do not see it.
                    Some(format!(
                        "{} of {} endpoints down",
                        g.endpoints - g.endpoints_up,
                        g.endpoints
                    ))
                } else if enough && errors >= th.partial_share {
                    Some(self.errors_phrase(th))
                } else {
                    None
                }
            }
            Level::DegradedPerformance => {
                let bad = share(t.shed + t.slow, t.requests);
                (enough && bad >= th.degraded_share).then(|| {
                    format!(
                        "{} of {} requests shed or slow in the last {} ({} shed, {} slow)",
                        percent(bad),
                        count(t.requests),
                        period(th.window),
                        count(t.shed),
                        count(t.slow),
                    )
                })
            }
            Level::Operational | Level::UnderMaintenance => None,
        }
    }

    /// Why the raw level is at least `level`: the first rule that holds of
    /// `level` or of a worse one. (A rise to partial while every pool is
    /// down says the pools are down.)
    pub(super) fn explain(&self, level: Level, th: &Thresholds) -> String {
        Level::ALL
            .into_iter()
            .filter(|&l| l >= level)
            .find_map(|l| self.why(l, th))
            .unwrap_or_else(|| self.healthy())
    }

    /// What the window looks like now, in words: why it is broken, or that
    /// it is not.
    pub(super) fn now(&self, th: &Thresholds) -> String {
        self.explain(self.raw(th), th)
    }

    /// A healthy window in words: `0 % 5xx, 0 % shed or slow and all 4
    /// endpoints up`.
    fn healthy(&self) -> String {
        let t = &self.totals;
        let g = &self.latest;
        let mut parts = Vec::with_capacity(3);
        if t.requests > 0 {
            parts.push(format!(
                "{} 5xx",
                percent(share(t.server_errors, t.requests))
            ));
            parts.push(format!(
                "{} shed or slow",
                percent(share(t.shed + t.slow, t.requests))
            ));
        } else {
            parts.push("no requests".to_owned());
        }
        if g.endpoints == 1 && g.endpoints_up >= 1 {
            parts.push("its endpoint up".to_owned());
        } else if g.endpoints > 0 && g.endpoints_up >= g.endpoints {
            parts.push(format!("all {} endpoints up", g.endpoints));
        }
        match parts.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => parts.join(""),
        }
    }

    fn errors_phrase(&self, th: &Thresholds) -> String {
        let t = &self.totals;
        format!(
            "{} of {} requests answered 5xx in the last {}",
            percent(share(t.server_errors, t.requests)),
            count(t.requests),
            period(th.window)
        )
    }

    fn pools_down(&self) -> String {
        let g = &self.latest;
        let listed = if g.down_pools.is_empty() {
            String::new()
        } else {
            format!(": {}", names(&g.down_pools))
        };
        let endpoints_down = g.endpoints.saturating_sub(g.endpoints_up);
        if g.pools_down < g.pools {
            format!("{} of {} pools down{listed}", g.pools_down, g.pools)
        } else if g.pools == 1 {
            let pool = g
                .down_pools
                .first()
                .map_or_else(|| "its only pool".to_owned(), |n| format!("pool `{n}`"));
            if g.endpoints == 0 {
                format!("{pool} has no endpoints")
            } else {
                format!(
                    "{endpoints_down} of {} endpoints down in {pool}",
                    g.endpoints
                )
            }
        } else {
            format!(
                "all {} pools down{listed} ({endpoints_down} of {} endpoints down)",
                g.pools, g.endpoints
            )
        }
    }
}

/// `part / whole`, at most 1 (a caller's miscount must not read as 120 %);
/// 0 when `whole` is 0.
fn share(part: u128, whole: u128) -> f64 {
    if whole == 0 {
        0.0
    } else {
        // Precision loss past 2^53 requests a window is irrelevant here.
        #[allow(clippy::cast_precision_loss)]
        let s = part as f64 / whole as f64;
        s.min(1.0)
    }
}
