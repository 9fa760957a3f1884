//! `levee-bench outage`: issue 12's upstream-outage benchmark, run by
//! `bench/outage/run.sh`.
//!
//! What does a client see when an upstream dies and comes back? Each
//! scenario (`scenarios.rs`) runs through Levee, HAProxy and nginx
//! (`gateways.rs`), each leg against fresh sample upstreams that crash and
//! restart on a timeline (`leg.rs`) under the overload benchmark's open-loop
//! load at half of one endpoint's capacity. It writes every leg's figures to
//! `results.json`, each gateway's output and every request (CSV) per leg to
//! `logs/`, and the
//! `## Upstream outages (issue 12)` section (`section.rs`) to `outage.md`,
//! also into docs/BENCHMARKS.md with `--docs`.
//!
//! Glue only: processes are `peers.rs`'s, the upstreams and the load
//! levee-sim's, the figures `figures.rs`'s.

mod figures;
mod gateways;
mod leg;
mod reading;
mod scenarios;
mod section;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use levee_sim::report::Summary;
use serde::Serialize;

use crate::machine::{existing, find, load_average, pin, today};
use crate::markdown::{self, Facts};
use gateways::{Gateway, Programs};
use scenarios::{Scenario, Timing};
use section::Cell;

/// Flags of `levee-bench outage`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The levee binary (default: target/release/levee if it exists; else its legs are skipped).
    #[arg(long)]
    levee: Option<PathBuf>,
    /// What the levee binary is, for the notes (e.g. a build of which commit).
    #[arg(long, default_value = "target/release/levee")]
    levee_name: String,
    /// Skip the Levee legs (e.g. when levee does not build).
    #[arg(long, conflicts_with = "levee")]
    without_levee: bool,
    /// The nginx binary (default: found on PATH or in /usr/sbin; else skipped).
    #[arg(long)]
    nginx: Option<PathBuf>,
    /// The haproxy binary (default: found on PATH or in /usr/sbin; else skipped).
    #[arg(long)]
    haproxy: Option<PathBuf>,
    /// Workers of each sample upstream.
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Service time of each sample upstream, in milliseconds.
    #[arg(long, default_value_t = 20)]
    service_ms: u64,
    /// How much each service time varies, uniformly, as a fraction of it.
    #[arg(long, default_value_t = 0.05)]
    service_jitter: f64,
    /// The load, as a multiple of one endpoint's capacity (workers ÷ service time).
    #[arg(long, default_value_t = 0.5)]
    level: f64,
    /// The client deadline, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    deadline_ms: u64,
    /// Seconds of load before the kill (scenarios 1–3).
    #[arg(long, default_value_t = 3)]
    before_s: u64,
    /// Seconds the killed endpoint stays down (scenarios 1–3).
    #[arg(long, default_value_t = 10)]
    outage_s: u64,
    /// Seconds of load after it returns (scenarios 1–3).
    #[arg(long, default_value_t = 7)]
    after_s: u64,
    /// Seconds of each up and each down period of a flapping endpoint.
    #[arg(long, default_value_t = 2)]
    flap_s: u64,
    /// How many times a flapping endpoint goes down.
    #[arg(long, default_value_t = 4)]
    flaps: u32,
    /// Repeats of every leg (figures are medians).
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Only these scenarios (comma-separated: restart, one-of-two, alternate,
    /// flap, flap-one-of-two).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Only these gateways (comma-separated: levee, levee-no-check, haproxy, nginx).
    #[arg(long, value_delimiter = ',')]
    gateways: Vec<String>,
    /// Leave every process free to run on any CPU (by default this process,
    /// the load generator and the upstreams, keeps to one CPU and the
    /// gateway to the others, as in `levee-bench overload`).
    #[arg(long)]
    no_pin: bool,
    /// Where to write outage.md, results.json and the gateways' logs.
    #[arg(long, default_value = "target/bench/outage")]
    out: PathBuf,
    /// Replace the `## Upstream outages (issue 12)` section of this file with the results.
    #[arg(long)]
    docs: Option<PathBuf>,
    /// The command line to cite in the results.
    #[arg(long, default_value = "bench/outage/run.sh")]
    cite_command: String,
    /// The date to cite in the results (default: today, UTC).
    #[arg(long)]
    date: Option<String>,
    /// The machine to cite in the results.
    #[arg(long, default_value = "2 cores, shared and noisy")]
    machine: String,
}

/// One leg's figures, as written to results.json.
#[derive(Debug, Serialize)]
struct LegFigures<'a> {
    scenario: &'static str,
    gateway: &'static str,
    repeat: usize,
    /// (column header, value); seconds, counts, shares 0–1, per second.
    figures: Vec<(&'static str, Option<f64>)>,
    /// When each upstream went down or came back, seconds from the start.
    events: Vec<(f64, usize, &'a str)>,
    summary: Summary,
}

/// Runs the benchmark; see the module docs.
pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let load_at_start = load_average();
    // Read before pinning, which narrows what this process may use.
    let system = system();
    let cpus = if args.no_pin { None } else { pin() };
    let programs = Programs {
        levee: if args.without_levee {
            None
        } else {
            args.levee
                .clone()
                .or_else(|| existing("target/release/levee"))
        },
        haproxy: args.haproxy.clone().or_else(|| find("haproxy")),
        nginx: args.nginx.clone().or_else(|| find("nginx")),
        cpus: cpus.as_ref().map(|c| c.peers.clone()),
    };
    let timing = Timing {
        before: Duration::from_secs(args.before_s),
        outage: Duration::from_secs(args.outage_s),
        after: Duration::from_secs(args.after_s),
        flap: Duration::from_secs(args.flap_s.max(1)),
        flaps: args.flaps.max(1),
    };
    let capacity =
        args.workers.max(1) as f64 / Duration::from_millis(args.service_ms.max(1)).as_secs_f64();
    let setup = leg::Setup {
        programs: programs.clone(),
        workers: args.workers.max(1),
        service_time: Duration::from_millis(args.service_ms),
        service_jitter: args.service_jitter,
        rate: args.level * capacity,
        deadline: Duration::from_millis(args.deadline_ms),
    };
    let mut notes = Vec::new();
    for gateway in [
        Gateway::Levee { checks: true },
        Gateway::Haproxy,
        Gateway::Nginx,
    ] {
        if !programs.has(gateway) {
            let note = format!(
                "{} was not found, so its legs were skipped.",
                gateway.label()
            );
            eprintln!("levee-bench: {note}");
            notes.push(note);
        }
    }
    let scenarios: Vec<Scenario> = scenarios::ALL
        .into_iter()
        .filter(|s| args.only.is_empty() || args.only.iter().any(|o| o == s.slug()))
        .collect();
    let wanted = |g: &Gateway| {
        programs.has(*g)
            && (args.gateways.is_empty() || args.gateways.iter().any(|o| o == g.slug()))
    };
    let logs = args.out.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;

    let repeats = args.repeats.max(1);
    let mut cells = Vec::new();
    let mut raw = Vec::new();
    for repeat in 1..=repeats {
        for (i, &scenario) in scenarios.iter().enumerate() {
            let plan = scenario.plan(&timing, (repeat * 100 + i) as u64);
            for gateway in scenario.gateways().into_iter().filter(wanted) {
                // A leg that cannot run (a gateway that does not start) is
                // noted and skipped: the other legs still count.
                let leg = match leg::run(&setup, gateway, &plan).await {
                    Ok(leg) => leg,
                    Err(e) => {
                        let note = format!(
                            "The {} leg of scenario `{}`, repeat {repeat}, failed and is missing: {e:#}.",
                            gateway.label(),
                            scenario.slug()
                        );
                        eprintln!("levee-bench: {note}");
                        notes.push(note);
                        continue;
                    }
                };
                let figures = scenario.figures(&leg.trace);
                let summary = Summary::of(&leg.trace.run, setup.deadline);
                let columns = scenario.columns();
                let shown: Vec<String> = columns
                    .iter()
                    .zip(&figures)
                    .map(|(c, v)| format!("{}: {}", c.header, section::format(c.unit, *v)))
                    .collect();
                println!(
                    "outage  {:<16} {:<23} #{repeat}: {}",
                    scenario.slug(),
                    gateway.label(),
                    shown.join("; ")
                );
                let name = format!("{}-{}-{repeat}", scenario.slug(), gateway.slug());
                let log = logs.join(format!("{name}.log"));
                std::fs::write(&log, &leg.output)
                    .with_context(|| format!("writing {}", log.display()))?;
                let csv = logs.join(format!("{name}.csv"));
                std::fs::write(&csv, figures::records_csv(&leg.trace.run))
                    .with_context(|| format!("writing {}", csv.display()))?;
                raw.push(serde_json::to_value(LegFigures {
                    scenario: scenario.slug(),
                    gateway: gateway.label(),
                    repeat,
                    figures: columns
                        .iter()
                        .map(|c| c.header)
                        .zip(figures.iter().copied())
                        .collect(),
                    events: leg
                        .trace
                        .events
                        .iter()
                        .map(|(at, i, a)| {
                            let what = match a {
                                figures::Action::Kill => "kill",
                                figures::Action::Restart => "restart",
                            };
                            (at.as_secs_f64(), *i, what)
                        })
                        .collect(),
                    summary: summary.clone(),
                })?);
                cells.push(Cell {
                    scenario,
                    gateway,
                    figures,
                    lag_p99_ms: summary.lag_p99_ms,
                    saturated: summary.saturated,
                });
            }
        }
    }

    let json = serde_json::to_string_pretty(&raw).context("encoding results.json")?;
    let path = args.out.join("results.json");
    std::fs::write(&path, json).with_context(|| format!("writing {}", path.display()))?;
    let cx = section::Context {
        facts: Facts {
            command: args.cite_command.clone(),
            date: args.date.clone().unwrap_or_else(today),
            machine: format!("{} ({system})", args.machine),
            load: load_at_start.zip(load_average()),
        },
        timing,
        workers: setup.workers,
        service_ms: args.service_ms,
        service_jitter: args.service_jitter,
        rate: setup.rate,
        level: args.level,
        deadline_ms: args.deadline_ms,
        repeats,
        levee_name: args.levee_name.clone(),
        pinned: cpus.map(|c| (c.generator, c.peers)),
        notes,
    };
    let text = section::section(&cx, &cells);
    let md = args.out.join("outage.md");
    std::fs::write(&md, &text).with_context(|| format!("writing {}", md.display()))?;
    if let Some(docs) = &args.docs {
        let doc = std::fs::read_to_string(docs).unwrap_or_else(|_| "# Benchmarks\n".to_owned());
        let updated = markdown::replace_section(&doc, section::HEADING, &text, None);
        std::fs::write(docs, updated).with_context(|| format!("writing {}", docs.display()))?;
    }
    println!("\n{text}");
    println!("results: {}", md.display());
    Ok(())
}

/// `nproc N, Linux <release>`, as far as they can be read.
fn system() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("nproc {cpus}, Linux {}", release.trim())
}
