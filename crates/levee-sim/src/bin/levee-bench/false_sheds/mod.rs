//! `levee-bench false-sheds`: issue 19's benchmark, run by
//! `bench/false-sheds/run.sh`.
//!
//! Does a fresh gateway with its defaults turn away work a healthy service
//! has room for? Each workload (`workloads.rs`) runs direct, through Levee
//! and through the previous release (`--before`), each leg against a fresh
//! upstream and a fresh gateway started as a new user would
//! (`levee serve --listen … --upstream URL --admin … --data-dir TMP`). It
//! writes the raw results and Levee's `/metrics` per leg to `--out`, and the
//! `## False sheds (issue 19)` section (`section.rs`), also into
//! docs/BENCHMARKS.md with `--docs`.
//!
//! Glue only: legs are `leg.rs`'s, processes `peers.rs`'s, the load and the
//! tallies levee-sim's.

mod section;
mod workloads;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use levee_sim::report::{Summary, Tally};
use levee_sim::upstream::UpstreamStats;
use serde::Serialize;

use crate::leg::{self, LegResult, Through};
use crate::machine::{existing, load_average, pin, today};
use crate::markdown::{self, Facts};
use crate::peers::{self, Peer, Programs};
use workloads::Workload;

/// Flags of `levee-bench false-sheds`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The levee binary (default: target/release/levee if it exists).
    #[arg(long)]
    levee: Option<PathBuf>,
    /// What the levee binary is, for the notes (e.g. a build of which commit).
    #[arg(long, default_value = "target/release/levee")]
    levee_name: String,
    /// The previous release's levee binary, for the "before" column; skipped
    /// (with a note) when absent.
    #[arg(long)]
    before: Option<PathBuf>,
    /// What to call the previous release in the notes (e.g. its commit).
    #[arg(long, default_value = "the previous release")]
    before_name: String,
    /// Multiplies every duration, idle time and request count (e.g. 0.2 for
    /// a quick look); results with a scale below 1 are not written to --docs.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Only the workloads whose name contains one of these (comma-separated).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Leave every process free to run on any CPU (by default this process,
    /// the load generator and the upstream, keeps to one CPU and the gateway
    /// to the others, as in `levee-bench overload`).
    #[arg(long)]
    no_pin: bool,
    /// Where to write false-sheds.md, results.json and Levee's metrics.
    #[arg(long, default_value = "target/bench/false-sheds")]
    out: PathBuf,
    /// Replace the `## False sheds (issue 19)` section of this file with the results.
    #[arg(long)]
    docs: Option<PathBuf>,
    /// The command line to cite in the results.
    #[arg(long, default_value = "bench/false-sheds/run.sh")]
    cite_command: String,
    /// The date to cite in the results (default: today, UTC).
    #[arg(long)]
    date: Option<String>,
    /// The machine to cite in the results.
    #[arg(long, default_value = "2 cores, shared and noisy")]
    machine: String,
}

/// The peers of every workload, in table order.
const PEERS: [Peer; 3] = [Peer::Direct, Peer::Levee, Peer::Before];

/// How often Levee's limit is read during a leg (for results.json).
const LIMIT_EVERY: Duration = Duration::from_millis(500);

/// One (workload, peer) leg, as measured.
#[derive(Debug, Serialize)]
pub(crate) struct Cell {
    pub(crate) workload: String,
    pub(crate) peer: &'static str,
    pub(crate) tally: Tally,
    /// The whole run (every stream).
    pub(crate) summary: Summary,
    pub(crate) upstream: UpstreamStats,
    /// The highest admission limit read from the gateway's `/metrics`.
    pub(crate) limit_max: Option<f64>,
}

/// Runs the benchmark; see the module docs.
pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let docs = match &args.docs {
        Some(docs) if args.scale < 1.0 => {
            eprintln!(
                "levee-bench: --scale below 1 is a quick look: {} is left alone",
                docs.display()
            );
            None
        }
        docs => docs.clone(),
    };
    let load_at_start = load_average();
    let cpus = if args.no_pin { None } else { pin() };
    let programs = Programs {
        levee: args
            .levee
            .clone()
            .or_else(|| existing("target/release/levee")),
        before: args.before.clone().filter(|p| p.is_file()),
        cpus: cpus.as_ref().map(|c| c.peers.clone()),
        ..Programs::default()
    };
    let mut notes = Vec::new();
    for peer in PEERS.iter().filter(|p| !programs.has(**p)) {
        let note = match peer {
            Peer::Before => format!(
                "{} was not given or not found (`--before BIN`), so its column was skipped.",
                args.before_name
            ),
            _ => format!("{} was not found, so its legs were skipped.", peer.label()),
        };
        eprintln!("levee-bench: {note}");
        notes.push(note);
    }
    let peers: Vec<Peer> = PEERS.into_iter().filter(|p| programs.has(*p)).collect();
    let wanted = |w: &Workload| {
        args.only.is_empty() || args.only.iter().any(|o| w.name.contains(o.as_str()))
    };
    let workloads: Vec<Workload> = workloads::all(args.scale)
        .into_iter()
        .filter(wanted)
        .collect();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;

    let mut cells = Vec::new();
    for (i, workload) in workloads.iter().enumerate() {
        for &peer in &peers {
            let result = measure(workload, peer, &programs, i as u64 + 1).await?;
            let short: Vec<&str> = workload.short.iter().map(String::as_str).collect();
            let cell = Cell {
                workload: workload.name.clone(),
                peer: peer.label(),
                tally: Tally::of(&result.run, &short),
                summary: Summary::of(&result.run, workloads::DEADLINE),
                upstream: result.upstream,
                limit_max: result.limit.iter().map(|p| p.1).reduce(f64::max),
            };
            println!(
                "false-sheds  {:<13} {}: {}",
                peer.label(),
                workload.name,
                brief(&cell)
            );
            if let Some(metrics) = &result.metrics {
                let name = format!(
                    "{}-metrics-{:02}.txt",
                    peer.label().replace(' ', "-"),
                    i + 1
                );
                let path = args.out.join(name);
                std::fs::write(&path, metrics)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            cells.push(cell);
        }
    }

    let json = serde_json::to_string_pretty(&cells).context("encoding results.json")?;
    let raw = args.out.join("results.json");
    std::fs::write(&raw, json).with_context(|| format!("writing {}", raw.display()))?;
    let facts = Facts {
        command: args.cite_command.clone(),
        date: args.date.clone().unwrap_or_else(today),
        machine: args.machine.clone(),
        load: load_at_start.zip(load_average()),
    };
    let cx = section::Context {
        facts,
        levee_name: args.levee_name.clone(),
        before_name: args.before_name.clone(),
        pinned: cpus.map(|c| (c.generator, c.peers)),
        scale: args.scale,
        notes,
    };
    let text = section::section(&cx, &workloads, &cells);
    let md = args.out.join("false-sheds.md");
    std::fs::write(&md, &text).with_context(|| format!("writing {}", md.display()))?;
    if let Some(docs) = &docs {
        let doc = std::fs::read_to_string(docs).unwrap_or_else(|_| "# Benchmarks\n".to_owned());
        let updated =
            markdown::replace_section(&doc, section::HEADING, &text, Some(markdown::HEADING));
        std::fs::write(docs, updated).with_context(|| format!("writing {}", docs.display()))?;
    }
    println!("\n{text}");
    println!("results: {} and {}", md.display(), raw.display());
    Ok(())
}

/// One leg: a fresh upstream and a fresh `peer` in front of it, `workload`'s
/// streams through it.
async fn measure(
    workload: &Workload,
    peer: Peer,
    programs: &Programs,
    seed: u64,
) -> anyhow::Result<LegResult> {
    let upstream = workload.service.start().await?;
    let running = peers::serve(peer, programs, upstream.addr()).await?;
    let load = leg::load_plan(
        running.addr,
        workloads::DEADLINE,
        seed,
        workload.streams.clone(),
    );
    let through = Through {
        load,
        change: None,
        limit_every: LIMIT_EVERY,
    };
    leg::drive(upstream, running, through)
        .await
        .with_context(|| format!("{} through {}", workload.name, peer.label()))
}

/// One line of figures for progress output.
fn brief(cell: &Cell) -> String {
    let t = &cell.tally;
    let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}"));
    format!(
        "sent {} served {} shed {} other {}, short p50 {} p99 {} ms, Retry-After {}, lag p99 {:.1} ms, unsent {}, upstream peak in flight {}",
        t.sent,
        t.served,
        t.shed,
        t.other,
        ms(t.short_p50_ms),
        ms(t.short_p99_ms),
        t.retry_after_text(),
        cell.summary.lag_p99_ms,
        cell.summary.saturated,
        cell.upstream.peak_in_flight
    )
}
