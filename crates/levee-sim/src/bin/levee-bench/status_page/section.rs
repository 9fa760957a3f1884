//! The results as the `## Status page under overload (issue 13)` section of
//! docs/BENCHMARKS.md: the status reads, the API traffic that made the
//! gateway shed, the gateway's CPU time, the targets and a reading.
//!
//! Formatting only: the figures come from `mod.rs`. Counts and latencies
//! are medians over the repeats; errors and timeouts are totals, so that
//! one bad run shows.

use std::fmt::Write as _;

use levee_sim::report::{Summary, latency};

use super::{Cell, Reads};
use crate::markdown::{Facts, median};

/// The section's heading; the section runs to the next `## ` heading.
pub(crate) const HEADING: &str = "## Status page under overload (issue 13)";
/// The section it goes before when the file has none yet.
pub(crate) const BEFORE: &str = "## Fuzzing (issue 11)";

/// What the section says about how it was measured.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) facts: Facts,
    pub(crate) workers: usize,
    pub(crate) service_ms: u128,
    pub(crate) capacity: f64,
    /// The loaded legs' API traffic, as a multiple of capacity.
    pub(crate) level: f64,
    pub(crate) read_rate: f64,
    pub(crate) seconds: f64,
    pub(crate) repeats: usize,
    pub(crate) deadline_ms: u128,
    pub(crate) notes: Vec<String>,
}

/// Every run of one (gateway, level).
struct Row<'a> {
    gateway: &'static str,
    level: f64,
    runs: Vec<&'a Cell>,
}

impl Row<'_> {
    fn reads(&self, label: &str) -> Vec<&Reads> {
        self.runs
            .iter()
            .filter_map(|c| c.reads.iter().find(|r| r.label == label))
            .collect()
    }

    fn api(&self) -> Vec<&Summary> {
        self.runs.iter().filter_map(|c| c.api.as_ref()).collect()
    }
}

fn rows(cells: &[Cell]) -> Vec<Row<'_>> {
    let mut rows: Vec<Row<'_>> = Vec::new();
    for cell in cells {
        match rows
            .iter_mut()
            .find(|r| r.gateway == cell.gateway && r.level == cell.level)
        {
            Some(row) => row.runs.push(cell),
            None => rows.push(Row {
                gateway: cell.gateway,
                level: cell.level,
                runs: vec![cell],
            }),
        }
    }
    rows
}

fn med<T>(items: &[T], f: impl Fn(&T) -> Option<f64>) -> Option<f64> {
    median(items.iter().filter_map(f).collect())
}

fn count<T>(items: &[T], f: impl Fn(&T) -> usize) -> String {
    med(items, |i| Some(f(i) as f64)).map_or("-".to_owned(), |v| format!("{v:.0}"))
}

fn total<T>(items: &[T], f: impl Fn(&T) -> usize) -> usize {
    items.iter().map(f).sum()
}

fn bytes(b: Option<f64>) -> String {
    match b {
        None => "-".to_owned(),
        Some(b) if b >= 1e6 => format!("{:.1} MB", b / 1e6),
        Some(b) if b >= 1e3 => format!("{:.0} kB", b / 1e3),
        Some(b) => format!("{b:.0} B"),
    }
}

/// What a stream is, in the table.
fn what(label: &str) -> &'static str {
    match label {
        "html" => "`GET /_levee/status/` (HTML)",
        "json" => "`GET …/api/v2/summary.json`",
        _ => "`GET /_levee/status/` + `If-None-Match`",
    }
}

/// The API load of a row, in words.
fn load(level: f64) -> String {
    if level == 0.0 {
        "none".to_owned()
    } else {
        format!("{level}×")
    }
}

/// The whole section.
pub(crate) fn section(cx: &Context, cells: &[Cell]) -> String {
    let rows = rows(cells);
    let mut m = String::new();
    let _ = writeln!(m, "{HEADING}\n");
    let _ = writeln!(
        m,
        "{}\n\nThe status page has to stay up and cheap while everything else fails. Three open-loop streams \
         of status reads, {:.0} req/s each (Poisson, {} ms client deadline, latency from the scheduled send): \
         the full HTML page without validators, the Statuspage v2 summary, and revalidations of the page \
         (`If-None-Match` with the `ETag` fetched first: a 304). They go to Levee in front of levee-sim's \
         sample upstream ({} workers × {} ms = {:.0} req/s) with no API traffic, and with API traffic \
         (`GET /`, Poisson) at {}× the upstream's capacity, so that Levee sheds most of it; and to nginx \
         serving the same bytes as static files (no upstream, no API traffic): the floor. Each leg starts \
         its gateway afresh and sends for {:.0} s; figures are medians of {} runs, except errors and \
         timeouts, which are totals over the runs.\n",
        cx.facts.line(),
        cx.read_rate,
        cx.deadline_ms,
        cx.workers,
        cx.service_ms,
        cx.capacity,
        cx.level,
        cx.seconds,
        cx.repeats
    );
    m.push_str(&cx.facts.load());
    for note in &cx.notes {
        let _ = writeln!(m, "- {note}");
    }
    if let Some(sizes) = cells.iter().find(|c| c.gateway == "levee").map(|c| c.sizes) {
        let _ = writeln!(
            m,
            "- Answers on the wire (status line, headers, body), from Levee: the page {} bytes, the summary {} \
             bytes, a 304 {} bytes; \"bytes\" below counts each 200 and 304 at these sizes.",
            sizes.html, sizes.json, sizes.not_modified
        );
    }
    m.push('\n');

    let _ = writeln!(m, "### Status reads\n");
    let _ = writeln!(
        m,
        "| gateway | API load | stream | sent | 200 | 304 | errors | timeouts | p50 | p99 | p99.9 | p99 from send | bytes |"
    );
    let _ = writeln!(
        m,
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for row in &rows {
        for label in super::leg::READS {
            let r = row.reads(label);
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                row.gateway,
                load(row.level),
                what(label),
                count(&r, |r| r.sent),
                count(&r, |r| r.ok),
                count(&r, |r| r.not_modified),
                total(&r, |r| r.errors),
                total(&r, |r| r.timeouts),
                latency(med(&r, |r| r.p50_ms)),
                latency(med(&r, |r| r.p99_ms)),
                latency(med(&r, |r| r.p999_ms)),
                latency(med(&r, |r| r.p99_sent_ms)),
                bytes(med(&r, |r| Some(r.bytes as f64))),
            );
        }
    }
    m.push('\n');

    let loaded: Vec<&Row<'_>> = rows.iter().filter(|r| !r.api().is_empty()).collect();
    if !loaded.is_empty() {
        let _ = writeln!(m, "### The API traffic beside them\n");
        let _ = writeln!(
            m,
            "| gateway | API load | offered/s | goodput/s | 2xx/s | 503s | p99 2xx | p99 503 | timeouts | errors |"
        );
        let _ = writeln!(
            m,
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        for row in &loaded {
            let a = row.api();
            let _ = writeln!(
                m,
                "| {} | {} | {:.0} | {:.0} | {:.0} | {} | {} | {} | {} | {} |",
                row.gateway,
                load(row.level),
                med(&a, |s| Some(s.offered_per_s)).unwrap_or(0.0),
                med(&a, |s| Some(s.goodput_per_s)).unwrap_or(0.0),
                med(&a, |s| Some(s.success as f64 / s.duration_s.max(1e-9))).unwrap_or(0.0),
                count(&a, |s| s.unavailable),
                latency(med(&a, |s| s.p99_success_ms)),
                latency(med(&a, |s| s.p99_unavailable_ms)),
                total(&a, |s| s.timeouts),
                total(&a, |s| s.failed + s.saturated + s.other_status),
            );
        }
        let _ = writeln!(
            m,
            "\ngoodput/s: 2xx within 500 ms of the scheduled send, per second; capacity is {:.0}/s.\n",
            cx.capacity
        );
    }

    let _ = writeln!(
        m,
        "### The gateway's CPU time, and the generator's lateness\n"
    );
    let _ = writeln!(
        m,
        "From `/proc/<pid>/stat` (utime + stime, nginx's worker included; 10 ms ticks), over each load run \
         (from its first send to its last answer), and over {} before it with nothing sent (\"idle\"). \
         Per status read: the run's CPU time less the idle rate over the run, divided by the status reads \
         sent, in the legs with status reads only. Generator lateness: the p99 of how late the load \
         generator sent each request of the leg (every stream), which the latencies above include.\n",
        idle_span(cells)
    );
    let _ = writeln!(
        m,
        "| gateway | API load | CPU busy (% of its one CPU) | idle CPU | CPU per status read | generator p99 lateness |"
    );
    let _ = writeln!(m, "| --- | --- | ---: | ---: | ---: | ---: |");
    for row in &rows {
        let cpu: Vec<&super::Cpu> = row.runs.iter().filter_map(|c| c.cpu.as_ref()).collect();
        let busy = med(&cpu, |c| Some(100.0 * c.load / c.wall_s.max(1e-9)));
        let idle = med(&cpu, |c| Some(1000.0 * c.idle / c.idle_s.max(1e-9)));
        let per_read = (row.level == 0.0).then(|| per_read_us(row)).flatten();
        let lag = med(&row.runs, |c| Some(c.lag_p99_ms));
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} | {} |",
            row.gateway,
            load(row.level),
            busy.map_or("-".to_owned(), |b| format!("{b:.0} %")),
            idle.map_or("-".to_owned(), |i| format!("{i:.1} ms/s")),
            per_read.map_or("-".to_owned(), |us| format!("{us:.0} µs")),
            latency(lag),
        );
    }
    m.push('\n');

    m.push_str(&generator(cells));
    m.push_str(&changed(cells));
    m.push_str(&targets(&rows, cx.level));
    m.push_str(&reading(&rows, cx));
    m
}

/// The median CPU time per status read of a row, net of its idle rate, in µs.
fn per_read_us(row: &Row<'_>) -> Option<f64> {
    let values: Vec<f64> = row
        .runs
        .iter()
        .filter_map(|c| {
            let cpu = c.cpu?;
            let idle_rate = cpu.idle / cpu.idle_s.max(1e-9);
            let net = (cpu.load - idle_rate * cpu.wall_s).max(0.0);
            let reads = c.status_reads();
            (reads > 0).then(|| 1e6 * net / reads as f64)
        })
        .collect();
    median(values)
}

fn idle_span(cells: &[Cell]) -> String {
    cells
        .iter()
        .find_map(|c| c.cpu)
        .map_or("a moment".to_owned(), |c| format!("{:.0} s", c.idle_s))
}

/// Whether the load generator kept up.
fn generator(cells: &[Cell]) -> String {
    let lag = cells.iter().map(|c| c.lag_p99_ms).fold(0.0, f64::max);
    let worst = cells.iter().map(|c| c.lag_max_ms).fold(0.0, f64::max);
    let saturated: usize = cells.iter().map(|c| c.saturated).sum();
    format!(
        "The load generator's p99 lateness was at most {lag:.2} ms in any leg (its worst single send: \
         {worst:.1} ms late), and {saturated} requests went unsent for want of a connection. \"p99 from \
         send\" leaves its lateness out.\n\n"
    )
}

/// Legs during which the documents changed.
fn changed(cells: &[Cell]) -> String {
    let legs: Vec<String> = cells
        .iter()
        .filter(|c| !c.changed.is_empty())
        .map(|c| {
            format!(
                "{} at {} #{} ({})",
                c.gateway,
                load(c.level),
                c.repeat,
                c.changed.join(", ")
            )
        })
        .collect();
    if legs.is_empty() {
        "The documents did not change during any leg (same `ETag` before and after), so every \
         revalidation could be a 304.\n\n"
            .to_owned()
    } else {
        let only_page = cells.iter().all(|c| c.changed.iter().all(|d| *d == "html"));
        let why = if only_page {
            "only the page, whose availability bar and figure for the day change as the gateway stores \
             each minute's counts of the API requests"
        } else {
            "the control plane re-rendered them with other content"
        };
        format!(
            "The documents changed during {} (a new `ETag` after the leg: {why}), so revalidations after \
             the change got a 200 with the new page.\n\n",
            legs.join("; ")
        )
    }
}

/// Issue 13's targets, per stream: at the loaded level, no errors or
/// timeouts, and a p99 within 2× of the p99 with no API traffic.
fn targets(rows: &[Row<'_>], level: f64) -> String {
    let levee = |l: f64| rows.iter().find(|r| r.gateway == "levee" && r.level == l);
    let (Some(idle), Some(loaded)) = (levee(0.0), levee(level)) else {
        return "Targets: not checked (a Levee leg did not run).\n\n".to_owned();
    };
    let mark = |ok: bool| if ok { "met" } else { "**not met**" };
    let mut t = format!("Targets for Levee's status reads at {level}× API load:\n\n");
    for label in super::leg::READS {
        let (a, b) = (idle.reads(label), loaded.reads(label));
        let bad = total(&b, |r| r.errors + r.timeouts);
        let sent = total(&b, |r| r.sent);
        let (p0, p4) = (med(&a, |r| r.p99_ms), med(&b, |r| r.p99_ms));
        let within = matches!((p0, p4), (Some(p0), Some(p4)) if p4 <= 2.0 * p0);
        let (s0, s4) = (med(&a, |r| r.p99_sent_ms), med(&b, |r| r.p99_sent_ms));
        let _ = writeln!(
            t,
            "- {label}: errors and timeouts {bad} of {sent} — {}; p99 {} vs {} with no API traffic ({}) — {} \
             (from the actual send: {} vs {}, {})",
            mark(bad == 0 && sent > 0),
            latency(p4),
            latency(p0),
            ratio(p4, p0),
            mark(within),
            latency(s4),
            latency(s0),
            ratio(s4, s0),
        );
    }
    t.push('\n');
    t
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.1}×", a / b),
        _ => "-".to_owned(),
    }
}

/// A few lines that say what the tables mean.
fn reading(rows: &[Row<'_>], cx: &Context) -> String {
    let level = cx.level;
    let find = |g: &str, l: f64| rows.iter().find(|r| r.gateway == g && r.level == l);
    let (Some(idle), Some(loaded)) = (find("levee", 0.0), find("levee", level)) else {
        return String::new();
    };
    let nginx = find("nginx static", 0.0);
    let p99s = |row: &Row<'_>| -> Vec<Option<f64>> {
        super::leg::READS
            .iter()
            .map(|l| med(&row.reads(l), |r| r.p99_ms))
            .collect()
    };
    let p50 = |row: &Row<'_>| {
        let all: Vec<&Reads> = super::leg::READS
            .iter()
            .flat_map(|l| row.reads(l))
            .collect();
        med(&all, |r| r.p50_ms)
    };
    let list = |v: &[Option<f64>]| {
        v.iter()
            .map(|p| latency(*p))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    let (p0, p4) = (p99s(idle), p99s(loaded));
    let (s0, s4) = (spread(idle), spread(loaded));
    let api = loaded.api();
    let shed = med(&api, |s| {
        Some(s.unavailable as f64 / s.duration_s.max(1e-9))
    })
    .unwrap_or(0.0);
    let shed_p99 = med(&api, |s| s.p99_unavailable_ms);
    let goodput = med(&api, |s| Some(s.goodput_per_s)).unwrap_or(0.0);
    let mut r = String::from("Reading:\n\n");
    let noise = match (s0, s4) {
        (Some((lo0, hi0)), Some((lo4, hi4))) if lo4 <= hi0 && lo0 <= hi4 => {
            "so the difference is within this machine's run-to-run noise"
        }
        (Some((_, hi0)), Some((lo4, _))) if lo4 > hi0 => {
            "so the status reads were slower under overload, beyond the run-to-run noise"
        }
        _ => "so the status reads were, if anything, faster under overload",
    };
    let _ = writeln!(
        r,
        "- At {level}× Levee was really shedding: {shed:.0} 503s per second (p99 {}), goodput {goodput:.0}/s \
         of {:.0}. Beside that, the p99 of a status read (page / summary / 304) was {} against {} with no \
         API traffic; single runs' p99s ranged over {} at {level}× and {} with none, {noise}.",
        latency(shed_p99),
        cx.capacity,
        list(&p4),
        list(&p0),
        range(s4),
        range(s0),
    );
    if let Some(n) = nginx {
        let pn = p99s(n);
        let worst = p4
            .iter()
            .zip(&pn)
            .filter_map(|(a, b)| Some(a.as_ref()? / b.filter(|b| *b > 0.0)?))
            .fold(0.0, f64::max);
        let verdict = if worst <= 1.5 {
            "Levee under overload serves its status page as fast as a static file server does on this \
             machine: these p99s are this machine's floor for any small HTTP answer (scheduling on a shared VM), not Levee's work"
        } else {
            "Levee under overload is above the floor a static file server sets on this machine"
        };
        let _ = writeln!(
            r,
            "- nginx serving the same bytes as static files, on the same CPU: p99 {} (single runs {}), p50 {} \
             (Levee: {} with no API traffic, {} at {level}×). Levee's p99 is {} of nginx's with no API \
             traffic and {} at {level}×: {verdict}.",
            list(&pn),
            range(spread(n)),
            latency(p50(n)),
            latency(p50(idle)),
            latency(p50(loaded)),
            ratios(&p0, &pn),
            ratios(&p4, &pn),
        );
    }
    let bad: usize = total(&loaded.runs, |c| {
        c.reads.iter().map(|r| r.errors + r.timeouts).sum()
    });
    let sent: usize = total(&loaded.runs, |c| c.status_reads());
    let _ = writeln!(
        r,
        "- The page stayed up: {bad} errors or timeouts among {sent} status reads in the {level}× runs."
    );
    let busy = med(
        &loaded.runs.iter().filter_map(|c| c.cpu).collect::<Vec<_>>(),
        |c| Some(100.0 * c.load / c.wall_s.max(1e-9)),
    );
    let cost = per_read_us(idle);
    let floor = nginx.and_then(per_read_us);
    // The generator's p99 lateness: the median over the runs, in the row
    // where it was worst.
    let lag = rows
        .iter()
        .filter_map(|row| med(&row.runs, |c| Some(c.lag_p99_ms)))
        .fold(0.0, f64::max);
    let saturated: usize = rows
        .iter()
        .map(|row| total(&row.runs, |c| c.saturated))
        .sum();
    let fastest = p4.iter().flatten().copied().fold(f64::MAX, f64::min);
    let _ = writeln!(
        r,
        "- Cheap: {} of CPU per status read in Levee ({} in nginx; both with the kernel's TCP work), and \
         Levee's CPU was {} busy at {level}× with everything. The generator was {}: its p99 lateness was at \
         most {} (median over the runs), and {saturated} requests went unsent.",
        cost.map_or("-".to_owned(), |us| format!("{us:.0} µs")),
        floor.map_or("-".to_owned(), |us| format!("{us:.0} µs")),
        busy.map_or("-".to_owned(), |b| format!("{b:.0} %")),
        if saturated == 0 && lag * 2.0 < fastest {
            "not the limit"
        } else {
            "part of the limit: its lateness (this machine's noise on its CPU) is in the p99s above"
        },
        latency(Some(lag)),
    );
    r
}

/// The smallest and largest p99 of any status stream in any run of `row`.
fn spread(row: &Row<'_>) -> Option<(f64, f64)> {
    let all = row
        .runs
        .iter()
        .flat_map(|c| c.reads.iter().filter_map(|r| r.p99_ms));
    all.fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((f64::min(lo, v), f64::max(hi, v))),
    })
}

fn range(r: Option<(f64, f64)>) -> String {
    match r {
        Some((lo, hi)) => format!("{}–{}", latency(Some(lo)), latency(Some(hi))),
        None => "-".to_owned(),
    }
}

/// The ratios of `a` to `b`, element by element, as `N× / N× / N×`.
fn ratios(a: &[Option<f64>], b: &[Option<f64>]) -> String {
    a.iter()
        .zip(b)
        .map(|(a, b)| ratio(*a, *b))
        .collect::<Vec<_>>()
        .join(" / ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status_page::leg::{Cpu, READS, Sizes};

    fn cell(gateway: &'static str, level: f64, p99_ms: f64, timeouts: usize) -> Cell {
        let reads = READS
            .iter()
            .map(|&label| Reads {
                label,
                sent: 2000,
                ok: if label == "revalidate" {
                    0
                } else {
                    2000 - timeouts
                },
                not_modified: if label == "revalidate" {
                    2000 - timeouts
                } else {
                    0
                },
                errors: 0,
                timeouts,
                p50_ms: Some(0.2),
                p99_ms: Some(p99_ms),
                p999_ms: Some(2.0 * p99_ms),
                p99_sent_ms: Some(p99_ms),
                bytes: 1000,
            })
            .collect();
        Cell {
            gateway,
            level,
            repeat: 1,
            reads,
            api: None,
            cpu: Some(Cpu {
                idle: 0.0,
                idle_s: 2.0,
                load: 0.6,
                wall_s: 11.0,
            }),
            sizes: Sizes::default(),
            lag_p99_ms: 0.2,
            lag_max_ms: 1.0,
            saturated: 0,
            changed: Vec::new(),
        }
    }

    fn cx() -> Context {
        Context {
            facts: Facts {
                command: "bench/status-page/run.sh".into(),
                date: "2026-01-01".into(),
                machine: "2 cores".into(),
                load: None,
            },
            workers: 8,
            service_ms: 20,
            capacity: 400.0,
            level: 4.0,
            read_rate: 200.0,
            seconds: 10.0,
            repeats: 1,
            deadline_ms: 1000,
            notes: Vec::new(),
        }
    }

    #[test]
    fn targets_compare_the_loaded_p99_with_the_idle_one_and_count_every_failure() {
        let good = [cell("levee", 0.0, 1.0, 0), cell("levee", 4.0, 1.5, 0)];
        let text = section(&cx(), &good);
        assert!(text.starts_with(HEADING));
        assert!(!text.contains("not met"), "{text}");
        assert!(text.contains("| levee | 4× | `GET …/api/v2/summary.json` | 2000 |"));
        // 100 µs per read: 0.6 s of CPU over 6 000 reads.
        assert!(
            text.contains("| levee | none | 5 % | 0.0 ms/s | 100 µs |"),
            "{text}"
        );
        let mut changed = cell("levee", 4.0, 1.5, 0);
        changed.changed = vec!["html"];
        let text = section(&cx(), &[cell("levee", 0.0, 1.0, 0), changed]);
        assert!(text.contains(
            "The documents changed during levee at 4× #1 (html) (a new `ETag` after the leg: only the page, \
             whose availability bar and figure for the day change as the gateway stores each minute's counts \
             of the API requests), so revalidations after the change got a 200 with the new page."
        ), "{text}");
        let slow = [cell("levee", 0.0, 1.0, 0), cell("levee", 4.0, 2.5, 1)];
        let text = section(&cx(), &slow);
        assert_eq!(text.matches("**not met**").count(), 6, "{text}");
    }
}
