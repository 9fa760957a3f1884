//! The results as the `## Overload (issue 3)` section of docs/BENCHMARKS.md,
//! what every benchmark section opens with (command, machine, date, load
//! average), and the replacement of one section (only that one) in the file.
//!
//! Formatting only: the figures come from `scenarios.rs`.

use std::fmt::Write as _;

use levee_sim::report::{Summary, latency};

use crate::leg::Shift;
use crate::peers::Peer;
use crate::scenarios::{Change, LEVELS, Levels, Tenants};

/// The section's heading; the section runs to the next `## ` heading.
pub(crate) const HEADING: &str = "## Overload (issue 3)";

/// How, where and when a benchmark ran.
#[derive(Debug)]
pub(crate) struct Facts {
    pub(crate) command: String,
    pub(crate) date: String,
    pub(crate) machine: String,
    /// The machine's load average (1, 5, 15 min) when the run started and ended.
    pub(crate) load: Option<(String, String)>,
}

impl Facts {
    /// `Command: … Machine: … Date: …` on one line.
    pub(crate) fn line(&self) -> String {
        format!(
            "Command: `{}`. Machine: {}. Date: {}.",
            self.command, self.machine, self.date
        )
    }

    /// The load-average paragraph (empty when it could not be read).
    pub(crate) fn load(&self) -> String {
        match &self.load {
            Some((start, end)) => format!(
                "Load average (1, 5, 15 min) of the machine: {start} when the run started, {end} when it ended.\n\n"
            ),
            None => String::new(),
        }
    }
}

/// What the section says about how it was measured.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) facts: Facts,
    pub(crate) workers: usize,
    pub(crate) service_ms: u128,
    pub(crate) service_jitter: f64,
    pub(crate) capacity: f64,
    pub(crate) levels_s: f64,
    pub(crate) repeats: usize,
    pub(crate) notes: Vec<String>,
}

/// The median of `values` (upper median; `None` when empty).
pub(crate) fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied()
}

fn med(summaries: &[Summary], f: impl Fn(&Summary) -> Option<f64>) -> Option<f64> {
    median(summaries.iter().filter_map(f).collect())
}

/// The whole section.
pub(crate) fn section(
    cx: &Context,
    levels: &Levels,
    change: &[Change],
    tenants: &[Tenants],
) -> String {
    let mut m = String::new();
    let _ = writeln!(m, "{HEADING}\n");
    let _ = writeln!(
        m,
        "{}\n\nUpstream: levee-sim's sample upstream, {} workers × {} ms \
         (each service time varies uniformly within ±{:.0} %; {:.0} req/s), a FIFO backlog that keeps serving \
         requests whose client left. Load: open loop, Poisson arrivals, 1 s client deadline; goodput = 2xx \
         answered within 500 ms of the scheduled send. Scenario 1 figures are medians of {} runs of {:.0} s each.\n",
        cx.facts.line(),
        cx.workers,
        cx.service_ms,
        100.0 * cx.service_jitter,
        cx.capacity,
        cx.repeats,
        cx.levels_s
    );
    m.push_str(&cx.facts.load());
    for note in &cx.notes {
        let _ = writeln!(m, "- {note}");
    }
    if !cx.notes.is_empty() {
        m.push('\n');
    }

    let _ = writeln!(m, "### 1. Load levels\n");
    let _ = writeln!(
        m,
        "| load | peer | goodput/s | 2xx/s | p50 2xx | p99 2xx | 503s | p99 503 | p99 503 from send | timeouts | errors |"
    );
    let _ = writeln!(
        m,
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for level in LEVELS {
        for (peer, _, runs) in levels.cells.iter().filter(|c| c.1 == level) {
            let count =
                |f: fn(&Summary) -> usize| med(runs, |s| Some(f(s) as f64)).map_or(0.0, |v| v);
            let _ = writeln!(
                m,
                "| {level}× | {} | {:.0} | {:.0} | {} | {} | {:.0} | {} | {} | {:.0} | {:.0} |",
                peer.label(),
                med(runs, |s| Some(s.goodput_per_s)).unwrap_or(0.0),
                med(runs, |s| Some(s.success as f64 / s.duration_s.max(1e-9))).unwrap_or(0.0),
                latency(med(runs, |s| s.p50_success_ms)),
                latency(med(runs, |s| s.p99_success_ms)),
                count(|s| s.unavailable),
                latency(med(runs, |s| s.p99_unavailable_ms)),
                latency(med(runs, |s| s.p99_unavailable_sent_ms)),
                count(|s| s.timeouts),
                count(|s| s.failed + s.saturated + s.other_status),
            );
        }
    }
    m.push('\n');
    m.push_str(&generator(levels));
    m.push_str(&targets(levels, cx.capacity));

    if !change.is_empty() {
        let _ = writeln!(m, "\n### 2. Capacity halves halfway\n");
        let _ = writeln!(
            m,
            "Two ways: every request takes twice as long (the same workers), or half the workers go away \
             (the same service time). \"After\" starts 5 s after the change. Limit: median of \
             `levee_admission_limit` before and after; settled: seconds until it stayed within ±25 % of its \
             final value, not counting dips shorter than 1 s (Gradient2's no-load RTT probes, which pin \
             it low for a few hundred milliseconds now and then).\n"
        );
        let _ = writeln!(
            m,
            "| change | peer | goodput/s before | goodput/s after | p99 2xx before | p99 2xx after | 503s after | timeouts after | limit before → after | settled |"
        );
        let _ = writeln!(
            m,
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        for c in change {
            let end = c.result.run.duration.as_secs_f64();
            let settled = crate::limit::settling(&c.result.limit, end / 2.0, end);
            let (limit, settle) = match settled {
                Some(s) => (
                    format!("{:.0} → {:.0}", s.before, s.after),
                    format!("{:.1} s", s.settle_s),
                ),
                None => ("-".to_owned(), "-".to_owned()),
            };
            let what = match c.shift {
                Shift::ServiceTime(t) => {
                    format!("service time {} → {} ms", cx.service_ms, t.as_millis())
                }
                Shift::Workers(n) => format!("workers {} → {n}", cx.workers),
            };
            let _ = writeln!(
                m,
                "| {what} | {} | {:.0} | {:.0} | {} | {} | {} | {} | {limit} | {settle} |",
                c.peer.label(),
                c.before.goodput_per_s,
                c.after.goodput_per_s,
                latency(c.before.p99_success_ms),
                latency(c.after.p99_success_ms),
                c.after.unavailable,
                c.after.timeouts,
            );
        }
    }

    if !tenants.is_empty() {
        let _ = writeln!(
            m,
            "\n### 3. One tenant at 10× the rate of each of three others (`x-tenant`)\n"
        );
        let _ = writeln!(
            m,
            "| peer | quiet goodput/s alone | with the noisy tenant | ratio | noisy goodput/s | quiet p99 2xx |"
        );
        let _ = writeln!(m, "| --- | ---: | ---: | ---: | ---: | ---: |");
        for t in tenants {
            let _ = writeln!(
                m,
                "| {} | {:.0} | {:.0} | {:.0} % | {:.0} | {} |",
                t.peer.label(),
                t.alone,
                t.with_noisy,
                100.0 * t.with_noisy / t.alone.max(1e-9),
                t.noisy,
                latency(t.quiet_p99_ms)
            );
        }
    }
    m
}

/// Whether the load generator kept up, over every leg of scenario 1.
fn generator(levels: &Levels) -> String {
    let all = levels.cells.iter().flat_map(|c| c.2.iter());
    let (lag, saturated) = all.fold((0.0_f64, 0), |(l, n), s| {
        (l.max(s.lag_p99_ms), n + s.saturated)
    });
    format!(
        "goodput/s: 2xx within 500 ms per second; 2xx/s: all 2xx per second. Latencies count from the \
         scheduled send (so the generator's own lateness is in them); \"p99 503 from send\" counts from when \
         the request was actually sent. The load generator's p99 lateness was at most {lag:.1} ms in any leg, \
         and {saturated} requests went unsent for want of a connection. At exactly 1× the upstream's queue \
         random-walks (Poisson arrivals at full load), so the 1× rows vary from run to run.\n\n"
    )
}

/// Issue 3's targets for Levee, checked against scenario 1 and the
/// upstream's nominal `capacity` (workers ÷ service time).
fn targets(levels: &Levels, capacity: f64) -> String {
    let cell = |peer: Peer, level: f64| {
        levels
            .cells
            .iter()
            .find(|c| c.0 == peer && c.1 == level)
            .map(|c| &c.2)
    };
    let Some(levee_4) = cell(Peer::Levee, 4.0) else {
        return "Targets: not checked (the Levee leg did not run).\n".to_owned();
    };
    let Some(direct_half) = cell(Peer::Direct, 0.5) else {
        return "Targets: not checked (the direct leg, which gives the unloaded p99, did not run).\n"
            .to_owned();
    };
    let goodput = med(levee_4, |s| Some(s.goodput_per_s)).unwrap_or(0.0);
    let unloaded_p99 = med(direct_half, |s| s.p99_success_ms).unwrap_or(0.0);
    let p99 = med(levee_4, |s| s.p99_success_ms);
    let shed_p99 = med(levee_4, |s| s.p99_unavailable_ms);
    let shed_p99_sent = med(levee_4, |s| s.p99_unavailable_sent_ms);
    let timeouts = med(levee_4, |s| Some(s.timeouts as f64)).unwrap_or(0.0);
    let mark = |ok: bool| if ok { "met" } else { "**not met**" };
    let mut t = String::from("Targets for Levee with defaults, at 4×:\n\n");
    let _ = writeln!(
        t,
        "- goodput ≥ 95 % of capacity ({capacity:.0}/s): {goodput:.0}/s = {:.0} % — {}",
        100.0 * goodput / capacity.max(1e-9),
        mark(goodput >= 0.95 * capacity)
    );
    let _ = writeln!(
        t,
        "- p99 of 2xx ≤ 2 × unloaded p99 ({}): {} — {}",
        latency(Some(unloaded_p99)),
        latency(p99),
        mark(p99.is_some_and(|p| p <= 2.0 * unloaded_p99))
    );
    let runs: Vec<String> = levee_4
        .iter()
        .map(|s| latency(s.p99_unavailable_ms))
        .collect();
    let _ = writeln!(
        t,
        "- p99 of a 503 ≤ 1 ms: {} from the scheduled send ({} from the actual send; by run: {}) — {}",
        latency(shed_p99),
        latency(shed_p99_sent),
        runs.join(", "),
        mark(shed_p99.is_some_and(|p| p <= 1.0))
    );
    if let Some(floor) = cell(Peer::Floor, 4.0) {
        let _ = writeln!(
            t,
            "  - for reference, nginx answering every request with a static 503 on the same CPU, in the same runs: \
             {} from the scheduled send ({} from the actual send): the machine's floor for a 503 at this rate",
            latency(med(floor, |s| s.p99_unavailable_ms)),
            latency(med(floor, |s| s.p99_unavailable_sent_ms)),
        );
    }
    let _ = writeln!(
        t,
        "- no client timeouts: {timeouts:.0} — {}",
        mark(timeouts == 0.0)
    );
    t
}

/// `doc` with the section headed `heading` replaced by `section`, every
/// other section untouched. When it has none, `section` goes before the
/// section headed `anchor` if there is one, else at the end.
pub(crate) fn replace_section(
    doc: &str,
    heading: &str,
    section: &str,
    anchor: Option<&str>,
) -> String {
    let section = section.trim_end();
    let Some(start) = find_heading(doc, heading) else {
        if let Some(at) = anchor.and_then(|a| find_heading(doc, a)) {
            return format!("{}{section}\n\n{}", &doc[..at], &doc[at..]);
        }
        let sep = if doc.is_empty() || doc.ends_with("\n\n") {
            ""
        } else if doc.ends_with('\n') {
            "\n"
        } else {
            "\n\n"
        };
        return format!("{doc}{sep}{section}\n");
    };
    let after = start + heading.len();
    let end = doc[after..]
        .find("\n## ")
        .map_or(doc.len(), |i| after + i + 1);
    let rest = &doc[end..];
    let gap = if rest.is_empty() { "\n" } else { "\n\n" };
    format!("{}{section}{gap}{rest}", &doc[..start])
}

/// Where the line `heading` starts in `doc` (a whole line, not a mention).
fn find_heading(doc: &str, heading: &str) -> Option<usize> {
    let mut at = 0;
    for line in doc.split_inclusive('\n') {
        if line.trim_end() == heading {
            return Some(at);
        }
        at += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacing_the_section_leaves_the_others_alone() {
        let doc = "# Benchmarks\n\n## Proxy\n\nfast\n\n## Overload (issue 3)\n\nold\n\n## Client\n\nretries\n";
        let new = replace_section(doc, HEADING, "## Overload (issue 3)\n\nnew\n", None);
        assert_eq!(
            new,
            "# Benchmarks\n\n## Proxy\n\nfast\n\n## Overload (issue 3)\n\nnew\n\n## Client\n\nretries\n"
        );
        let appended = replace_section(
            "# Benchmarks\n",
            HEADING,
            "## Overload (issue 3)\n\nnew\n",
            None,
        );
        assert_eq!(appended, "# Benchmarks\n\n## Overload (issue 3)\n\nnew\n");
        let last = replace_section(
            "## Overload (issue 3)\n\nold\n",
            HEADING,
            "## Overload (issue 3)\n\nnew",
            None,
        );
        assert_eq!(last, "## Overload (issue 3)\n\nnew\n");
        let before = replace_section(
            "# B\n\nSee ## Overload (issue 3).\n\n## Overload (issue 3)\n\nold\n",
            "## False sheds",
            "## False sheds\n\nnone",
            Some(HEADING),
        );
        assert_eq!(
            before,
            "# B\n\nSee ## Overload (issue 3).\n\n## False sheds\n\nnone\n\n## Overload (issue 3)\n\nold\n"
        );
    }

    #[test]
    fn median_is_the_middle_value() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![]), None);
    }
}
