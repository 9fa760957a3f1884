//! The false-shed results as the `## False sheds (issue 19)` section of
//! docs/BENCHMARKS.md: how they were measured, the table (workload × peer),
//! the target checked for Levee, and what the load generator managed.
//!
//! Formatting only: the figures come from `mod.rs`.

use std::fmt::Write as _;

use levee_sim::report::latency;

use super::workloads::{DEADLINE, LONG_DEADLINE, Service, Workload};
use super::{Cell, PEERS};
use crate::markdown::Facts;
use crate::peers::Peer;

/// The section's heading; the section runs to the next `## ` heading.
pub(crate) const HEADING: &str = "## False sheds (issue 19)";

/// The most sheds, as a fraction of the requests sent, that still count as
/// noise: the target is 0, and ≤ 0.1 % counting noise.
const NOISE: f64 = 0.001;

/// What the section says about how it was measured.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) facts: Facts,
    /// What the levee binary is (e.g. a build of which commit).
    pub(crate) levee_name: String,
    /// What the previous release is (e.g. its commit).
    pub(crate) before_name: String,
    /// The generator's CPU and the gateways' CPUs, when pinned.
    pub(crate) pinned: Option<(u32, String)>,
    pub(crate) scale: f64,
    pub(crate) notes: Vec<String>,
}

/// The whole section.
pub(crate) fn section(cx: &Context, workloads: &[Workload], cells: &[Cell]) -> String {
    let mut m = String::new();
    let _ = writeln!(m, "{HEADING}\n");
    let _ = writeln!(
        m,
        "Does a fresh gateway with its defaults turn away work a healthy service has room for? {}\n",
        cx.facts.line()
    );
    m.push_str(&cx.facts.load());
    let _ = writeln!(
        m,
        "- Each workload runs **direct** (client → upstream), through **levee** ({}) with its defaults \
         (`levee serve --listen … --upstream URL --admin … --data-dir TMP`) and through **levee before** \
         ({}, started the same way): a fresh upstream and a fresh gateway process for every (workload, peer), \
         all on 127.0.0.1.",
        cx.levee_name, cx.before_name
    );
    let _ = writeln!(
        m,
        "- Upstream: levee-sim's unlimited upstream, which takes any number of requests at once \
         (`GET /…/ms/N` answers `200` after N ms, `GET /…/sse/N` streams N events one a second), so **every \
         503 is a false shed**; the 8-worker row uses the worker-limited sample upstream instead \
         (8 workers × 20 ms ± 5 %, 400 req/s)."
    );
    let _ = writeln!(
        m,
        "- Load: Poisson arrivals on a schedule (open loop) or closed-loop clients (each sends its next \
         request when the last one ended); client deadline {} s ({} s for long-polls and event streams), \
         so a request the gateway held too long counts under *other*.",
        DEADLINE.as_secs(),
        LONG_DEADLINE.as_secs()
    );
    let _ = writeln!(
        m,
        "- Columns: *served* = 2xx, *shed* = 503 (or 429), *other* = anything else (other statuses, \
         timeouts, connection errors); p50/p99 = latency of the short requests' 2xx (the named stream when \
         a workload mixes short and long ones: `/users`, the 3 ms items, the 10 ms requests beside long-polls \
         and streams, the endpoints of ≤ 10 ms), from the scheduled send (open loop) or the send (closed \
         loop); Retry-After = the values seen on the 503s."
    );
    match &cx.pinned {
        Some((generator, peers)) => {
            let _ = writeln!(
                m,
                "- CPUs: the load generator and the upstream (one process) on CPU {generator}, the gateway on \
                 CPU {peers} (`taskset`), as in the overload benchmark."
            );
        }
        None => {
            let _ = writeln!(m, "- CPUs: not pinned.");
        }
    }
    if cx.scale < 1.0 {
        let _ = writeln!(
            m,
            "- **A quick look** (`--scale {}`): durations, idle times and request counts are shortened.",
            cx.scale
        );
    }
    for note in &cx.notes {
        let _ = writeln!(m, "- {note}");
    }
    m.push('\n');

    let _ = writeln!(
        m,
        "| workload | peer | sent | served | shed | other | p50 short | p99 short | Retry-After |"
    );
    let _ = writeln!(
        m,
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    );
    for w in workloads {
        for cell in cells.iter().filter(|c| c.workload == w.name) {
            let t = &cell.tally;
            let shed = if t.shed > 0 && cell.peer != Peer::Direct.label() {
                format!("**{}**", t.shed)
            } else {
                t.shed.to_string()
            };
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} | {shed} | {} | {} | {} | {} |",
                w.name,
                cell.peer,
                t.sent,
                t.served,
                t.other,
                latency(t.short_p50_ms),
                latency(t.short_p99_ms),
                t.retry_after_text(),
            );
        }
    }
    m.push('\n');
    m.push_str(&target(workloads, cells));
    m.push_str(&generator(workloads, cells));
    m
}

/// The target for Levee, workload by workload, and each peer's total.
fn target(workloads: &[Workload], cells: &[Cell]) -> String {
    let mut t = String::new();
    let levee: Vec<&Cell> = cells
        .iter()
        .filter(|c| c.peer == Peer::Levee.label())
        .collect();
    if levee.is_empty() {
        return "Target: not checked (the Levee legs did not run).\n\n".to_owned();
    }
    let missed: Vec<String> = levee
        .iter()
        .filter(|c| c.tally.shed_fraction() > NOISE)
        .map(|c| format!("{} ({} shed)", c.workload, c.tally.shed))
        .collect();
    let noise = levee
        .iter()
        .filter(|c| c.tally.shed > 0 && c.tally.shed_fraction() <= NOISE)
        .count();
    let verdict = if missed.is_empty() && noise == 0 {
        "**met**: no shed in any workload".to_owned()
    } else if missed.is_empty() {
        format!("met within noise: sheds in {noise} workload(s), none above 0.1 %")
    } else {
        format!(
            "**not met** in {} of {}: {}",
            missed.len(),
            levee.len(),
            missed.join("; ")
        )
    };
    let _ = writeln!(
        t,
        "Target for Levee with defaults: 0 sheds (≤ 0.1 % counting noise) in every workload ({}) — {verdict}.\n",
        workloads.len()
    );
    for peer in PEERS {
        let mine: Vec<&Cell> = cells.iter().filter(|c| c.peer == peer.label()).collect();
        if mine.is_empty() {
            continue;
        }
        let sent: usize = mine.iter().map(|c| c.tally.sent).sum();
        let shed: usize = mine.iter().map(|c| c.tally.shed).sum();
        let other: usize = mine.iter().map(|c| c.tally.other).sum();
        let with_sheds = mine.iter().filter(|c| c.tally.shed > 0).count();
        let _ = writeln!(
            t,
            "- {}: {shed} of {sent} requests shed ({:.2} %), in {with_sheds} of {} workloads; {other} other.",
            peer.label(),
            100.0 * shed as f64 / sent.max(1) as f64,
            mine.len()
        );
    }
    t.push('\n');
    t
}

/// Whether the load generator kept up, and what the upstream saw: the
/// direct legs say what the workload really was.
fn generator(workloads: &[Workload], cells: &[Cell]) -> String {
    let (lag, unsent) = cells.iter().fold((0.0_f64, 0), |(l, n), c| {
        (l.max(c.summary.lag_p99_ms), n + c.summary.saturated)
    });
    let mut g = format!(
        "The load generator's p99 lateness was at most {lag:.1} ms in any leg, and {unsent} requests went \
         unsent for want of a connection."
    );
    let busiest = workloads
        .iter()
        .filter(|w| w.service == Service::Unlimited)
        .filter_map(|w| {
            let direct = cells
                .iter()
                .find(|c| c.workload == w.name && c.peer == Peer::Direct.label())?;
            Some((w, direct))
        })
        .max_by_key(|(_, c)| c.upstream.peak_in_flight);
    if let Some((w, direct)) = busiest {
        let lags: Vec<String> = cells
            .iter()
            .filter(|c| c.workload == w.name)
            .map(|c| format!("{} {:.1} ms", c.peer, c.summary.lag_p99_ms))
            .collect();
        let _ = write!(
            g,
            " The busiest workload, \"{}\", reached {} requests in flight at the upstream when sent direct \
             (generator p99 lateness by peer: {}).",
            w.name,
            direct.upstream.peak_in_flight,
            lags.join(", ")
        );
    }
    g.push_str("\n\n");
    g
}

#[cfg(test)]
mod tests {
    use super::*;
    use levee_sim::report::{Summary, Tally};

    fn cell(workload: &str, peer: Peer, sent: usize, shed: usize) -> Cell {
        Cell {
            workload: workload.to_owned(),
            peer: peer.label(),
            tally: Tally {
                sent,
                served: sent - shed,
                shed,
                retry_after: if shed > 0 { vec![(1, shed)] } else { vec![] },
                ..Tally::default()
            },
            summary: Summary::default(),
            upstream: Default::default(),
            limit_max: None,
        }
    }

    #[test]
    fn the_section_names_every_row_and_judges_levee_only() {
        let workloads = super::super::workloads::all(1.0);
        let (a, b) = (&workloads[0].name, &workloads[1].name);
        let cells = vec![
            cell(a, Peer::Direct, 240, 0),
            cell(a, Peer::Levee, 240, 0),
            cell(a, Peer::Before, 240, 62),
            cell(b, Peer::Direct, 1280, 0),
            cell(b, Peer::Levee, 1280, 1),
        ];
        let cx = Context {
            facts: Facts {
                command: "bench/false-sheds/run.sh".into(),
                date: "2026-12-05".into(),
                machine: "2 cores".into(),
                load: Some(("0.1, 0.2, 0.3".into(), "1.0, 0.5, 0.4".into())),
            },
            levee_name: "a build of abc1234".into(),
            before_name: "65e7cd8".into(),
            pinned: Some((0, "1".into())),
            scale: 1.0,
            notes: vec![],
        };
        let text = section(&cx, &workloads[..2], &cells);
        assert!(text.starts_with(HEADING));
        assert!(text.contains("0.1, 0.2, 0.3 when the run started"));
        assert!(text.contains("**levee** (a build of abc1234)"));
        assert!(text.contains(&format!("| {a} | levee before | 240 | 178 | **62** | 0 |")));
        assert!(
            text.contains("met within noise"),
            "1 of 1 280 is under 0.1 %"
        );
        assert!(text.contains("- levee before: 62 of 240 requests shed (25.83 %)"));
        let worse = vec![cell(a, Peer::Levee, 240, 1)];
        assert!(section(&cx, &workloads[..1], &worse).contains("**not met** in 1 of 1"));
    }
}
