//! The outage results as the `## Upstream outages (issue 12)` section of
//! docs/BENCHMARKS.md: how they were measured, a table per scenario (the
//! gateways side by side, medians of the repeats), issue 12's targets
//! checked for Levee, and what the load generator managed.
//!
//! Formatting only: the figures come from `scenarios.rs`.

use std::fmt::Write as _;

use super::figures::median;
use super::gateways::{Gateway, LEVEE_CHECK};
use super::scenarios::{Scenario, Timing, Unit};
use crate::markdown::Facts;

/// The section's heading; the section runs to the next `## ` heading.
pub(crate) const HEADING: &str = "## Upstream outages (issue 12)";

/// One leg's figures.
#[derive(Clone, Debug)]
pub(crate) struct Cell {
    pub(crate) scenario: Scenario,
    pub(crate) gateway: Gateway,
    /// In [`Scenario::columns`] order.
    pub(crate) figures: Vec<Option<f64>>,
    /// The generator's p99 lateness in the leg, in milliseconds.
    pub(crate) lag_p99_ms: f64,
    /// Requests the generator could not send for want of a connection.
    pub(crate) saturated: usize,
}

/// What the section says about how it was measured.
#[derive(Debug)]
pub(crate) struct Context {
    /// The machine names `nproc` and `uname -r`.
    pub(crate) facts: Facts,
    pub(crate) timing: Timing,
    pub(crate) workers: usize,
    pub(crate) service_ms: u64,
    pub(crate) service_jitter: f64,
    /// Requests per second offered, and as a multiple of one endpoint's capacity.
    pub(crate) rate: f64,
    pub(crate) level: f64,
    pub(crate) deadline_ms: u64,
    pub(crate) repeats: usize,
    /// What the levee binary is (e.g. a build of which commit).
    pub(crate) levee_name: String,
    /// The generator's CPU and the gateways' CPUs, when pinned.
    pub(crate) pinned: Option<(u32, String)>,
    pub(crate) notes: Vec<String>,
}

/// One figure, formatted for a table.
pub(crate) fn format(unit: Unit, value: Option<f64>) -> String {
    match (unit, value) {
        (Unit::Seconds, None) => "never".to_owned(),
        (_, None) => "-".to_owned(),
        (Unit::Seconds, Some(v)) => format!("{v:.2} s"),
        (Unit::Count | Unit::PerSecond, Some(v)) => format!("{v:.0}"),
        (Unit::Whole, Some(v)) => format!("{v:.0} s"),
        (Unit::Share, Some(v)) => format!("{:.1} %", 100.0 * v),
    }
}

/// The median of each figure of (`scenario`, `gateway`) over its repeats;
/// `None` if it did not run.
pub(crate) fn medians(
    cells: &[Cell],
    scenario: Scenario,
    gateway: Gateway,
) -> Option<Vec<Option<f64>>> {
    let runs: Vec<&Cell> = cells
        .iter()
        .filter(|c| c.scenario == scenario && c.gateway == gateway)
        .collect();
    if runs.is_empty() {
        return None;
    }
    let columns = scenario.columns().len();
    Some(
        (0..columns)
            .map(|i| {
                let values: Vec<Option<f64>> = runs
                    .iter()
                    .map(|c| c.figures.get(i).copied().flatten())
                    .collect();
                median(&values)
            })
            .collect(),
    )
}

/// The whole section.
pub(crate) fn section(cx: &Context, cells: &[Cell]) -> String {
    let t = &cx.timing;
    let mut m = String::new();
    let _ = writeln!(m, "{HEADING}\n");
    let _ = writeln!(
        m,
        "What does a client see when an upstream dies and comes back, through Levee and through \
         HAProxy and nginx configured as issue 12 says? {}\n",
        cx.facts.line()
    );
    m.push_str(&cx.facts.load());
    let _ = writeln!(
        m,
        "- Upstreams: levee-sim's sample upstream, one per endpoint, each {} workers × {} ms ± {:.0} % \
         ({:.0} req/s). Killing one closes its listener and drops its open connections, requests in \
         flight included (a crash: connects are refused at once); it restarts on the same port.",
        cx.workers,
        cx.service_ms,
        100.0 * cx.service_jitter,
        capacity(cx),
    );
    let _ = writeln!(
        m,
        "- Load: the overload benchmark's open-loop generator, Poisson arrivals of `GET /` at {:.0} req/s \
         ({}× one endpoint's capacity, so that one endpoint can carry it all), client deadline {} ms, \
         the same arrivals (seed) for every gateway. A fresh set of upstreams and a fresh gateway for \
         every leg.",
        cx.rate, cx.level, cx.deadline_ms
    );
    let _ = writeln!(
        m,
        "- Timelines: scenarios 1–3 kill the endpoint {:.0} s into the load, restart it {:.0}–{:.0} s later \
         and go on to {:.0} s after the kill; scenarios 4–5 keep it up {f:.0}–{:.0} s, then down {f:.0} s, \
         up {f:.0} s, {} times. The fraction of a second is drawn per repeat, the same for every gateway, \
         so that the gateways' checks (every second from about the start) meet the return at a different \
         phase each repeat. Windows count from when the kill was complete and the listener was back.",
        t.before.as_secs_f64(),
        t.outage.as_secs_f64(),
        (t.outage + super::scenarios::PHASE).as_secs_f64(),
        (t.outage + super::scenarios::PHASE + t.after).as_secs_f64(),
        (t.flap + super::scenarios::PHASE).as_secs_f64(),
        t.flaps,
        f = t.flap.as_secs_f64(),
    );
    let _ = writeln!(
        m,
        "- **Levee** ({}): its defaults, a pool per upstream group (`endpoints = [a]`, `[a, b]`, or pools \
         `primary` = [a] and `alternate` = [b] with the route's `fallback = [\"alternate\"]`), and \
         `{LEVEE_CHECK}` in every pool; scenario 1 also runs it without `health_check` (*levee, no \
         health_check*), where a returning endpoint is found by the built-in 1 s connect probe.",
        cx.levee_name
    );
    let _ = writeln!(
        m,
        "- **HAProxy**: `server a … check inter 1s fall 2 rise 1` (and `server b` the same in a pair, \
         `server b … backup` as the alternate), `balance roundrobin`, `retries 3`, `option redispatch`, \
         `timeout connect 1s`. **nginx**: `server a … max_fails=1 fail_timeout=10s` (and `server b` the \
         same in a pair, `server b backup` as the alternate), upstream `keepalive 64`, \
         `proxy_next_upstream error timeout`. nginx ignores `max_fails` when a group has one server, so \
         with a single endpoint it tries every request on it."
    );
    let _ = writeln!(
        m,
        "- Counted as issue 12 asks: *503 + Retry-After* is the right refusal during an outage; *other \
         answers* / *errors* are everything else but a 2xx (a 502, a 503 without `Retry-After`, a \
         connection error), client timeouts apart where a column says so. *never*: not within the leg \
         (the {:.0} s after the return). Shares of traffic per upstream \
         come from the upstreams' own counts in {} ms bins (health checks included: at most one a second \
         per endpoint).",
        t.after.as_secs_f64(),
        super::figures::BIN.as_millis()
    );
    match &cx.pinned {
        Some((generator, gateways)) => {
            let _ = writeln!(
                m,
                "- CPUs: the load generator and the upstreams (one process) on CPU {generator}, the gateway \
                 on CPU {gateways} (`taskset`), as in the overload benchmark."
            );
        }
        None => {
            let _ = writeln!(
                m,
                "- CPUs: not pinned; the generator, the upstreams and the gateway share every CPU."
            );
        }
    }
    let _ = writeln!(
        m,
        "- Figures are medians of {} repeat{} (a value that never happened counts as the largest); \
         every leg's figures are in `target/bench/outage/results.json`, its requests and the \
         gateway's output in `target/bench/outage/logs/`.",
        cx.repeats,
        if cx.repeats == 1 { "" } else { "s" }
    );
    for note in &cx.notes {
        let _ = writeln!(m, "- {note}");
    }
    m.push('\n');

    let scenarios: Vec<Scenario> = super::scenarios::ALL
        .into_iter()
        .filter(|s| cells.iter().any(|c| c.scenario == *s))
        .collect();
    for scenario in scenarios {
        let columns = scenario.columns();
        let _ = writeln!(m, "### {}\n", scenario.title(t));
        let headers: Vec<&str> = columns.iter().map(|c| c.header).collect();
        let _ = writeln!(m, "| gateway | {} |", headers.join(" | "));
        let _ = writeln!(m, "| --- |{}", " ---: |".repeat(columns.len()));
        for gateway in scenario.gateways() {
            let Some(values) = medians(cells, scenario, gateway) else {
                continue;
            };
            let shown: Vec<String> = columns
                .iter()
                .zip(&values)
                .map(|(c, v)| format(c.unit, *v))
                .collect();
            let _ = writeln!(m, "| {} | {} |", gateway.label(), shown.join(" | "));
        }
        m.push('\n');
        m.push_str(&super::reading::reading(cells, scenario));
        m.push('\n');
        let targets = targets(cells, scenario);
        if !targets.is_empty() {
            m.push_str(&targets);
            m.push('\n');
        }
    }
    m.push_str(&generator(cells));
    m
}

fn capacity(cx: &Context) -> f64 {
    cx.workers as f64 * 1000.0 / (cx.service_ms.max(1) as f64)
}

/// Issue 12's targets for the Levee rows of `scenario` (empty when it has
/// none: the flapping scenarios compare with the anchors only).
pub(crate) fn targets(cells: &[Cell], scenario: Scenario) -> String {
    // (column, target text, passes)
    type Check = (usize, &'static str, fn(Option<f64>) -> bool);
    let checks: &[Check] = match scenario {
        Scenario::Restart => &[
            (0, "first 2xx ≤ 1 s after the return (today ~30 s)", |v| {
                v.is_some_and(|v| v <= 1.0)
            }),
            (
                3,
                "0 answers during the outage that are not a 503 with Retry-After",
                |v| v == Some(0.0),
            ),
            (4, "0 client timeouts", |v| v == Some(0.0)),
        ],
        Scenario::OneOfTwo => &[(0, "0 client-visible errors for GETs", |v| v == Some(0.0))],
        Scenario::Alternate => &[(0, "100 % served by the alternate within 2 s", |v| {
            v.is_some_and(|v| v >= 1.0)
        })],
        Scenario::Flap | Scenario::FlapOneOfTwo => &[],
    };
    let columns = scenario.columns();
    let mut out = String::new();
    for gateway in scenario
        .gateways()
        .into_iter()
        .filter(|g| matches!(g, Gateway::Levee { .. }))
    {
        let Some(values) = medians(cells, scenario, gateway) else {
            continue;
        };
        for (i, what, passes) in checks {
            let value = values.get(*i).copied().flatten();
            let _ = writeln!(
                out,
                "- {}: {what}: {} — {}",
                gateway.label(),
                format(columns[*i].unit, value),
                if passes(value) { "met" } else { "**not met**" }
            );
        }
    }
    out
}

/// Whether the load generator kept up, over every leg.
fn generator(cells: &[Cell]) -> String {
    let lag = cells.iter().map(|c| c.lag_p99_ms).fold(0.0_f64, f64::max);
    let saturated: usize = cells.iter().map(|c| c.saturated).sum();
    let verdict = match (lag <= 5.0, saturated == 0) {
        (true, true) => {
            "so the generator was not the limit: every figure above is the gateways' (and the upstreams')"
        }
        (false, true) => {
            "so the generator was late at times (a busy machine): time figures can be off by that much, \
             counts are not affected"
        }
        _ => {
            "so the generator ran short of connections in some legs: those requests count as errors of no \
             gateway, and the legs' figures are partly its own"
        }
    };
    format!(
        "The load generator's p99 lateness was at most {lag:.1} ms in any leg and {saturated} requests \
         went unsent for want of a connection, {verdict}. It would be the limit if its p99 lateness \
         reached a good part of the time figures (tens of milliseconds) or if requests went unsent; at \
         this rate (half of one endpoint's capacity) it idles most of the time.\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn cell(scenario: Scenario, gateway: Gateway, figures: Vec<Option<f64>>) -> Cell {
        Cell {
            scenario,
            gateway,
            figures,
            lag_p99_ms: 0.4,
            saturated: 0,
        }
    }

    fn context() -> Context {
        Context {
            facts: Facts {
                command: "bench/outage/run.sh".into(),
                date: "2026-12-05".into(),
                machine: "2 cores (nproc 2, Linux 6.1)".into(),
                load: None,
            },
            timing: Timing {
                before: Duration::from_secs(3),
                outage: Duration::from_secs(10),
                after: Duration::from_secs(7),
                flap: Duration::from_secs(2),
                flaps: 4,
            },
            workers: 8,
            service_ms: 20,
            service_jitter: 0.05,
            rate: 200.0,
            level: 0.5,
            deadline_ms: 1000,
            repeats: 3,
            levee_name: "a release build of abc1234".into(),
            pinned: Some((0, "1".into())),
            notes: Vec::new(),
        }
    }

    #[test]
    fn figures_format_by_unit() {
        assert_eq!(format(Unit::Seconds, None), "never");
        assert_eq!(format(Unit::Seconds, Some(0.514)), "0.51 s");
        assert_eq!(format(Unit::Share, Some(1.0)), "100.0 %");
        assert_eq!(format(Unit::Count, Some(3.0)), "3");
        assert_eq!(format(Unit::Count, None), "-");
    }

    #[test]
    fn the_section_shows_medians_side_by_side_and_judges_levee() {
        let levee = Gateway::Levee { checks: true };
        let restart = |first: Option<f64>| {
            vec![
                first,
                Some(0.0),
                Some(2000.0),
                Some(0.0),
                Some(0.0),
                Some(2.0),
                Some(1.0),
                Some(5.0),
                Some(4.0),
            ]
        };
        let cells = vec![
            cell(Scenario::Restart, levee, restart(Some(0.4))),
            cell(Scenario::Restart, levee, restart(Some(0.9))),
            cell(Scenario::Restart, levee, restart(None)),
            cell(Scenario::Restart, Gateway::Nginx, restart(Some(0.01))),
        ];
        let text = section(&context(), &cells);
        assert!(text.starts_with(HEADING));
        assert!(
            text.contains("| levee | 0.90 s | 0.00 s | 2000 | 0 | 0 | 2 | 1 s | 5 s | 4 s |"),
            "{text}"
        );
        assert!(text.contains("| nginx | 0.01 s |"));
        assert!(
            !text.contains("| haproxy |"),
            "a gateway that did not run has no row"
        );
        assert!(
            text.contains("- levee: first 2xx ≤ 1 s after the return (today ~30 s): 0.90 s — met")
        );
        assert!(
            !text.contains("### 2."),
            "a scenario that did not run has no table"
        );
        assert!(text.contains("the generator was not the limit"));
    }

    #[test]
    fn a_missed_target_says_so() {
        let levee = Gateway::Levee { checks: true };
        let cells = vec![cell(
            Scenario::Alternate,
            levee,
            vec![
                Some(0.97),
                Some(2.5),
                Some(12.0),
                Some(12.0),
                None,
                Some(0.0),
            ],
        )];
        let t = targets(&cells, Scenario::Alternate);
        assert_eq!(
            t,
            "- levee: 100 % served by the alternate within 2 s: 97.0 % — **not met**\n"
        );
        assert!(targets(&cells, Scenario::Flap).is_empty());
    }
}
