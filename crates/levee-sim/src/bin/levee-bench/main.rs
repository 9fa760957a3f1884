//! `levee-bench`: Levee's macro-benchmarks on loopback.
//!
//! - `levee-bench false-sheds` (issue 19, `bench/false-sheds/run.sh`):
//!   everyday workloads below capacity, direct, through Levee and through the
//!   previous release; see `false_sheds/`.
//! - `levee-bench outage` (issue 12, `bench/outage/run.sh`): upstreams that
//!   crash and come back, through Levee, HAProxy and nginx; see `outage/`.
//! - `levee-bench status-page` (issue 13, `bench/status-page/run.sh`): status
//!   page reads through Levee with no API traffic and at 4× the upstream's
//!   capacity, and from nginx serving the same bytes; see `status_page/`.
//! - `levee-bench overload` (issue 3, `bench/overload/run.sh`), below.
//!
//! `overload` starts levee-sim's sample upstream (8 workers × 20 ms by default) in
//! process and, leg by leg, nginx, HAProxy and Levee in front of it (each on
//! free loopback ports, configured in a temp dir, stopped by pid), drives
//! bounded open-loop load through each, and writes the results: a Markdown
//! section (also into docs/BENCHMARKS.md with `--docs`), and HTML reports.
//!
//! Glue only: the upstream, the load and the reports are levee-sim's.

mod false_sheds;
mod leg;
mod limit;
mod machine;
mod markdown;
mod outage;
mod peers;
mod scenarios;
mod status_page;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use levee_sim::report::Report;

use leg::{LegResult, Setup, Shift};
use machine::{existing, find, load_average, pin, today};
use peers::{Peer, Programs};

#[derive(Debug, Parser)]
#[command(name = "levee-bench", about = "Levee's macro-benchmarks on loopback.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Issue 3: direct, nginx, HAProxy and Levee under 0.5×–4× load, a capacity change, a noisy tenant.
    Overload(Args),
    /// Issue 19: everyday workloads below capacity, direct, through Levee and through the previous release.
    FalseSheds(false_sheds::Args),
    /// Issue 12: upstreams that crash and come back, through Levee, HAProxy and nginx.
    Outage(outage::Args),
    /// Issue 13: status page reads through Levee idle and at 4× overload, and from nginx as static files.
    StatusPage(status_page::Args),
}

#[derive(Debug, clap::Args)]
struct Args {
    /// The levee binary (default: target/release/levee if it exists; else the leg is skipped).
    #[arg(long)]
    levee: Option<PathBuf>,
    /// Skip the Levee legs (e.g. when levee does not build).
    #[arg(long, conflicts_with = "levee")]
    without_levee: bool,
    /// The nginx binary (default: found on PATH or in /usr/sbin; else skipped).
    #[arg(long)]
    nginx: Option<PathBuf>,
    /// The haproxy binary (default: found on PATH or in /usr/sbin; else skipped).
    #[arg(long)]
    haproxy: Option<PathBuf>,
    /// Workers of the sample upstream.
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Service time of the sample upstream, in milliseconds.
    #[arg(long, default_value_t = 20)]
    service_ms: u64,
    /// How much each service time varies, uniformly, as a fraction of it (the
    /// mean, and so the capacity, stay the same).
    #[arg(long, default_value_t = 0.05)]
    service_jitter: f64,
    /// Levee's limiter (`gradient2`, `vegas`, `aimd`), to compare limiters end
    /// to end; Levee's default when absent. Results with it are not the
    /// defaults': do not write them into the docs.
    #[arg(long)]
    levee_limiter: Option<String>,
    /// HAProxy's `timeout queue`, in milliseconds.
    #[arg(long, default_value_t = 500)]
    haproxy_queue_ms: u64,
    /// How often Levee's limit is read from its admin `/metrics` during a leg
    /// (for the limit plots and the settling figure), in milliseconds.
    #[arg(long, default_value_t = 100)]
    limit_sample_ms: u64,
    /// Seconds per leg in scenario 1.
    #[arg(long, default_value_t = 10)]
    levels_seconds: u64,
    /// Repeats of scenario 1 (figures are medians).
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Seconds of scenario 2 (the service time doubles at half time).
    #[arg(long, default_value_t = 30)]
    change_seconds: u64,
    /// Scenario 2's load, as a multiple of the initial capacity.
    #[arg(long, default_value_t = 1.5)]
    change_level: f64,
    /// Seconds per leg of scenario 3.
    #[arg(long, default_value_t = 10)]
    tenants_seconds: u64,
    /// Scenario 3's total load, as a multiple of capacity.
    #[arg(long, default_value_t = 2.0)]
    tenants_level: f64,
    /// Leave every process free to run on any CPU. By default, with two CPUs
    /// or more, this process (the load generator and the sample upstream)
    /// keeps to the first CPU it may use and the proxy under test to the
    /// others, as if they ran on separate machines.
    #[arg(long)]
    no_pin: bool,
    /// Only scenario 1 (for a quick look).
    #[arg(long)]
    levels_only: bool,
    /// Only these peers (comma-separated: direct, nginx, haproxy, levee,
    /// floor), for a quick look; all that are found by default.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Where to write overload.md and the HTML reports.
    #[arg(long, default_value = "target/bench/overload")]
    out: PathBuf,
    /// Replace the `## Overload (issue 3)` section of this file with the results.
    #[arg(long)]
    docs: Option<PathBuf>,
    /// The command line to cite in the results.
    #[arg(long, default_value = "bench/overload/run.sh")]
    cite_command: String,
    /// The date to cite in the results (default: today, UTC).
    #[arg(long)]
    date: Option<String>,
    /// The machine to cite in the results.
    #[arg(long, default_value = "2 cores, shared and noisy")]
    machine: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let done = match Cli::parse().command {
        Command::Overload(args) => overload(args).await,
        Command::FalseSheds(args) => false_sheds::run(args).await,
        Command::Outage(args) => outage::run(args).await,
        Command::StatusPage(args) => status_page::run(args).await,
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("levee-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn overload(args: Args) -> anyhow::Result<()> {
    if args.levee_limiter.is_some() && args.docs.is_some() {
        anyhow::bail!("--levee-limiter measures a non-default Levee: not for --docs");
    }
    let load_at_start = load_average();
    let cpus = if args.no_pin { None } else { pin() };
    let programs = Programs {
        nginx: args.nginx.clone().or_else(|| find("nginx")),
        haproxy: args.haproxy.clone().or_else(|| find("haproxy")),
        levee: args
            .levee
            .clone()
            .or_else(|| existing("target/release/levee")),
        before: None,
        haproxy_queue: Duration::from_millis(args.haproxy_queue_ms),
        levee_limiter: args.levee_limiter.clone(),
        cpus: cpus.as_ref().map(|c| c.peers.clone()),
    };
    let mut notes = Vec::new();
    let all = [
        Peer::Direct,
        Peer::Nginx,
        Peer::Haproxy,
        Peer::Levee,
        Peer::Floor,
    ];
    let wanted = |p: &Peer| {
        args.only.is_empty()
            || args
                .only
                .iter()
                .any(|o| o == p.label() || (*p == Peer::Floor && o == "floor"))
    };
    let peers: Vec<Peer> = all
        .into_iter()
        .filter(|p| programs.has(*p) && wanted(p))
        .collect();
    for peer in all.iter().filter(|p| !programs.has(**p)) {
        let note = format!("{} was not found, so its legs were skipped.", peer.label());
        eprintln!("levee-bench: {note}");
        notes.push(note);
    }
    notes.push(format!(
        "HAProxy: `maxconn {}` on the server, `timeout queue {} ms`. nginx: plain `proxy_pass` with upstream keepalive. \
         Levee: `levee serve` with default settings; its route names `x-tenant` as the tenant header.",
        args.workers, args.haproxy_queue_ms
    ));
    notes.push(match &cpus {
        Some(c) => format!(
            "CPUs: the load generator and the sample upstream (one process) on CPU {}, the proxy under test \
             on CPU {} (`taskset`), as if on separate machines; without that, on 2 cores, each one's work \
             shows up in the other's latency. `--no-pin` runs them unpinned.",
            c.generator, c.peers
        ),
        None => "CPUs: not pinned; the load generator, the upstream and the proxy under test share every CPU."
            .to_owned(),
    });
    if let Some(limiter) = &args.levee_limiter {
        notes.push(format!(
            "**Not the defaults:** Levee's route sets `limiter = \"{limiter}\"`."
        ));
    }
    let setup = Setup {
        programs,
        workers: args.workers,
        service_time: Duration::from_millis(args.service_ms),
        service_jitter: args.service_jitter,
        deadline: Duration::from_secs(1),
        limit_every: Duration::from_millis(args.limit_sample_ms.max(10)),
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;

    let levels_for = Duration::from_secs(args.levels_seconds);
    let levels = scenarios::levels(&setup, &peers, levels_for, args.repeats.max(1)).await?;
    let mut peak = Report::new("Overload benchmark: 4× capacity").capacity(setup.capacity());
    for (peer, result) in &levels.at_peak {
        peak = with_leg(peak, *peer, result);
    }
    write_report(&peak, &args.out.join("levels-4x.html"))?;
    for (level, metrics) in &levels.metrics {
        let path = args.out.join(format!("levee-metrics-{level}x.txt"));
        std::fs::write(&path, metrics).with_context(|| format!("writing {}", path.display()))?;
    }

    let (mut change, mut tenants) = (Vec::new(), Vec::new());
    if !args.levels_only {
        let second = [Peer::Direct, Peer::Haproxy, Peer::Levee];
        let second: Vec<Peer> = second.into_iter().filter(|p| peers.contains(p)).collect();
        let span = Duration::from_secs(args.change_seconds);
        let shifts = [
            (
                Shift::ServiceTime(setup.service_time * 2),
                format!(
                    "service time {} → {} ms",
                    args.service_ms,
                    args.service_ms * 2
                ),
                "capacity-change.html",
            ),
            (
                Shift::Workers((args.workers / 2).max(1)),
                format!("workers {} → {}", args.workers, (args.workers / 2).max(1)),
                "workers-change.html",
            ),
        ];
        for (shift, what, file) in shifts {
            let runs =
                scenarios::capacity_change(&setup, &second, span, args.change_level, shift).await?;
            let mut report = Report::new(format!(
                "Capacity halves halfway: {what} at {} s, load {}× the initial capacity",
                args.change_seconds / 2,
                args.change_level
            ));
            for c in &runs {
                report = with_leg(report, c.peer, &c.result);
            }
            write_report(&report, &args.out.join(file))?;
            change.extend(runs);
        }
        let span = Duration::from_secs(args.tenants_seconds);
        tenants = scenarios::noisy_tenant(&setup, &second, span, args.tenants_level).await?;
        for metrics in tenants.iter().filter_map(|t| t.metrics.as_ref()) {
            let path = args.out.join("levee-metrics-tenants.txt");
            std::fs::write(&path, metrics)
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }

    let cx = markdown::Context {
        facts: markdown::Facts {
            command: args.cite_command.clone(),
            date: args.date.clone().unwrap_or_else(today),
            machine: args.machine.clone(),
            load: load_at_start.zip(load_average()),
        },
        workers: args.workers,
        service_ms: u128::from(args.service_ms),
        service_jitter: args.service_jitter,
        capacity: setup.capacity(),
        levels_s: levels_for.as_secs_f64(),
        repeats: args.repeats.max(1),
        notes,
    };
    let section = markdown::section(&cx, &levels, &change, &tenants);
    let md = args.out.join("overload.md");
    std::fs::write(&md, &section).with_context(|| format!("writing {}", md.display()))?;
    if let Some(docs) = &args.docs {
        let doc = std::fs::read_to_string(docs).unwrap_or_else(|_| "# Benchmarks\n".to_owned());
        std::fs::write(
            docs,
            markdown::replace_section(&doc, markdown::HEADING, &section, None),
        )
        .with_context(|| format!("writing {}", docs.display()))?;
    }
    println!("\n{section}");
    println!("results: {}", md.display());
    Ok(())
}

/// `report` with one leg's run, and Levee's limit over time when it was sampled.
fn with_leg(report: Report, peer: Peer, result: &LegResult) -> Report {
    let report = report.run(peer.label(), result.run.clone());
    if result.limit.is_empty() {
        report
    } else {
        report.extra(
            "Levee: concurrency limit",
            peer.label(),
            result.limit.clone(),
        )
    }
}

fn write_report(report: &Report, path: &Path) -> anyhow::Result<()> {
    report
        .write(path)
        .with_context(|| format!("writing {}", path.display()))?;
    println!("report: {}", path.display());
    Ok(())
}
