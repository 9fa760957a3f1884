//! `levee-bench status-page`: issue 13's benchmark, run by
//! `bench/status-page/run.sh`.
//!
//! Does the status page stay up and cheap while the gateway sheds? Three
//! open-loop streams of status reads (the full HTML page, the Statuspage v2
//! summary, and revalidations of the page with its `ETag`) go to Levee with
//! its defaults in front of the overload benchmark's sample upstream, with
//! no API traffic and with API traffic at 4× the upstream's capacity; and,
//! as the floor, to nginx serving the same bytes as static files. Each leg
//! (`leg.rs`) starts its gateway afresh, on the peers' CPU, and reads its
//! CPU time from /proc. It writes every leg's figures to `results.json`
//! and the `## Status page under overload (issue 13)` section
//! (`section.rs`) to `status-page.md`, also into docs/BENCHMARKS.md with
//! `--docs`.
//!
//! Glue only: processes are `peers.rs`'s, the upstream and the load
//! levee-sim's.

mod leg;
mod section;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use levee_sim::load::{Failure, Outcome, Run};
use levee_sim::report::{Summary, percentile};
use serde::Serialize;

use crate::machine::{existing, find, load_average, pin, today};
use crate::markdown::{self, Facts};
use crate::peers::Programs;
use leg::{Cpu, Gateway, Sizes};

/// Flags of `levee-bench status-page`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The levee binary (default: target/release/levee).
    #[arg(long)]
    levee: Option<PathBuf>,
    /// What the levee binary is, for the notes (e.g. a build of which commit).
    #[arg(long, default_value = "target/release/levee")]
    levee_name: String,
    /// The nginx binary (default: found on PATH or in /usr/sbin; else its legs are skipped).
    #[arg(long)]
    nginx: Option<PathBuf>,
    /// Workers of the sample upstream.
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Service time of the sample upstream, in milliseconds.
    #[arg(long, default_value_t = 20)]
    service_ms: u64,
    /// How much each service time varies, uniformly, as a fraction of it.
    #[arg(long, default_value_t = 0.05)]
    service_jitter: f64,
    /// The API traffic of the loaded legs, as a multiple of the upstream's capacity.
    #[arg(long, default_value_t = 4.0)]
    level: f64,
    /// Requests per second of each of the three status streams.
    #[arg(long, default_value_t = 200.0)]
    read_rate: f64,
    /// Seconds each leg sends for.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Seconds the gateway's idle CPU time is read for, before each leg's load.
    #[arg(long, default_value_t = 2)]
    idle_seconds: u64,
    /// Repeats of every leg (figures are medians): five, since the figures
    /// are fractions of a millisecond and the machine's noise moves a single
    /// run's p99 by more than that.
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// The client deadline, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    deadline_ms: u64,
    /// Only these legs (comma-separated: idle, loaded, nginx), for a quick
    /// look; all by default.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Leave every process free to run on any CPU (by default this process,
    /// the load generator and the upstream, keeps to one CPU and the gateway
    /// to the others, as in `levee-bench overload`).
    #[arg(long)]
    no_pin: bool,
    /// Where to write status-page.md, results.json and the gateways' output.
    #[arg(long, default_value = "target/bench/status-page")]
    out: PathBuf,
    /// Replace the `## Status page under overload (issue 13)` section of this
    /// file with the results (or add it before `## Fuzzing (issue 11)`).
    #[arg(long)]
    docs: Option<PathBuf>,
    /// The command line to cite in the results.
    #[arg(long, default_value = "bench/status-page/run.sh")]
    cite_command: String,
    /// The date to cite in the results (default: today, UTC).
    #[arg(long)]
    date: Option<String>,
    /// The machine to cite in the results.
    #[arg(long, default_value = "2 cores, shared and noisy")]
    machine: String,
}

/// One status stream's figures in one leg.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Reads {
    pub(crate) label: &'static str,
    pub(crate) sent: usize,
    /// 200 answers.
    pub(crate) ok: usize,
    /// 304 answers.
    pub(crate) not_modified: usize,
    /// Any other status, or no answer (the deadline aside).
    pub(crate) errors: usize,
    /// The client deadline passed first.
    pub(crate) timeouts: usize,
    /// Latency of every request from its scheduled send (a timeout counts
    /// as the deadline), in milliseconds.
    pub(crate) p50_ms: Option<f64>,
    pub(crate) p99_ms: Option<f64>,
    pub(crate) p999_ms: Option<f64>,
    /// The p99 from the actual send (without the generator's lateness).
    pub(crate) p99_sent_ms: Option<f64>,
    /// Bytes on the wire of the answers (200s and 304s by their measured sizes).
    pub(crate) bytes: u64,
}

/// One leg's figures.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Cell {
    pub(crate) gateway: &'static str,
    /// The API traffic, as a multiple of capacity (0: none).
    pub(crate) level: f64,
    pub(crate) repeat: usize,
    pub(crate) reads: Vec<Reads>,
    /// The API traffic, when there was some.
    pub(crate) api: Option<Summary>,
    pub(crate) cpu: Option<Cpu>,
    pub(crate) sizes: Sizes,
    /// The generator's p99 and largest lateness over every request of the leg, in ms.
    pub(crate) lag_p99_ms: f64,
    pub(crate) lag_max_ms: f64,
    /// Requests the generator could not send for want of a connection.
    pub(crate) saturated: usize,
    /// Documents re-rendered with other content during the leg.
    pub(crate) changed: Vec<&'static str>,
}

impl Cell {
    /// Status reads sent in the leg, every stream.
    pub(crate) fn status_reads(&self) -> usize {
        self.reads.iter().map(|r| r.sent).sum()
    }
}

/// Runs the benchmark; see the module docs.
pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let load_at_start = load_average();
    let cpus = if args.no_pin { None } else { pin() };
    let levee = args
        .levee
        .clone()
        .or_else(|| existing("target/release/levee"))
        .context("no levee binary: build it (cargo build --release -p levee) or pass --levee")?;
    let programs = Programs {
        nginx: args.nginx.clone().or_else(|| find("nginx")),
        levee: Some(levee),
        cpus: cpus.as_ref().map(|c| c.peers.clone()),
        ..Programs::default()
    };
    let setup = leg::Setup {
        programs: programs.clone(),
        workers: args.workers.max(1),
        service_time: Duration::from_millis(args.service_ms.max(1)),
        service_jitter: args.service_jitter,
        deadline: Duration::from_millis(args.deadline_ms),
        duration: Duration::from_secs(args.seconds.max(1)),
        read_rate: args.read_rate,
        idle: Duration::from_secs(args.idle_seconds),
    };
    let mut notes = vec![format!(
        "Levee: {}, `levee serve` with default settings, started as `levee-bench overload` starts it; \
         the status page is on by default, served from memory before routing and admission.",
        args.levee_name
    )];
    notes.push(match &cpus {
        Some(c) => format!(
            "CPUs: the load generator and the sample upstream (one process) on CPU {}, the gateway under \
             test on CPU {} (`taskset`), as in the overload benchmark.",
            c.generator, c.peers
        ),
        None => "CPUs: not pinned; the load generator, the upstream and the gateway share every CPU."
            .to_owned(),
    });
    let logs = args.out.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;

    // nginx serves what a fresh Levee serves, byte for byte.
    let site = tempfile::tempdir().context("creating the static site's dir")?;
    let mut legs = vec![(Gateway::Levee, 0.0), (Gateway::Levee, args.level)];
    match (&programs.nginx, leg::snapshot(&setup, site.path()).await) {
        (Some(nginx), Ok(sizes)) => {
            // nginx's workers run as an unprivileged user when it starts as root.
            open_to_all(site.path())?;
            legs.push((Gateway::Nginx, 0.0));
            notes.push(format!(
                "nginx ({}): the same HTML ({} bytes) and JSON ({} bytes) Levee served, fetched from it once, \
                 as static files; one worker on the gateway's CPU, `sendfile`, `open_file_cache`, ETags, \
                 the same `Cache-Control`, access log off, no upstream: the floor for \"a static document \
                 from memory\" on this machine.",
                nginx.display(),
                sizes.html_body,
                sizes.json_body
            ));
        }
        (None, _) => {
            let note = "nginx was not found, so the reference legs were skipped.".to_owned();
            eprintln!("levee-bench: {note}");
            notes.push(note);
        }
        (Some(_), Err(e)) => {
            let note = format!(
                "The documents could not be fetched from Levee for nginx ({e:#}): its legs were skipped."
            );
            eprintln!("levee-bench: {note}");
            notes.push(note);
        }
    }

    let slug = |gateway: Gateway, level: f64| match gateway {
        Gateway::Nginx => "nginx",
        Gateway::Levee if level == 0.0 => "idle",
        Gateway::Levee => "loaded",
    };
    legs.retain(|&(g, l)| args.only.is_empty() || args.only.iter().any(|o| o == slug(g, l)));
    let capacity = setup.capacity();
    let repeats = args.repeats.max(1);
    let mut cells = Vec::new();
    for repeat in 1..=repeats {
        for (i, &(gateway, level)) in legs.iter().enumerate() {
            let seed = (repeat * 10 + i) as u64;
            let leg = match leg::run(&setup, gateway, level * capacity, seed, Some(site.path()))
                .await
            {
                Ok(leg) => leg,
                Err(e) => {
                    let note = format!(
                        "The {} leg at {level}×, repeat {repeat}, failed and is missing: {e:#}.",
                        gateway.label()
                    );
                    eprintln!("levee-bench: {note}");
                    notes.push(note);
                    continue;
                }
            };
            let name = format!("{}-{level}x-{repeat}", gateway.label().replace(' ', "-"));
            let log = logs.join(format!("{name}.log"));
            std::fs::write(&log, &leg.output)
                .with_context(|| format!("writing {}", log.display()))?;
            let cell = figures(gateway, level, repeat, &leg);
            println!(
                "status-page {:<12} {level:>3}× #{repeat}: {}",
                gateway.label(),
                brief(&cell)
            );
            cells.push(cell);
        }
    }

    let results = args.out.join("results.json");
    let json = serde_json::to_string_pretty(&cells).context("serialising the results")?;
    std::fs::write(&results, json).with_context(|| format!("writing {}", results.display()))?;

    let cx = section::Context {
        facts: Facts {
            command: args.cite_command.clone(),
            date: args.date.clone().unwrap_or_else(today),
            machine: args.machine.clone(),
            load: load_at_start.zip(load_average()),
        },
        workers: setup.workers,
        service_ms: setup.service_time.as_millis(),
        capacity,
        level: args.level,
        read_rate: args.read_rate,
        seconds: setup.duration.as_secs_f64(),
        repeats,
        deadline_ms: setup.deadline.as_millis(),
        notes,
    };
    let text = section::section(&cx, &cells);
    let md = args.out.join("status-page.md");
    std::fs::write(&md, &text).with_context(|| format!("writing {}", md.display()))?;
    if let Some(docs) = &args.docs {
        let doc = std::fs::read_to_string(docs).unwrap_or_else(|_| "# Benchmarks\n".to_owned());
        let new = markdown::replace_section(&doc, section::HEADING, &text, Some(section::BEFORE));
        std::fs::write(docs, new).with_context(|| format!("writing {}", docs.display()))?;
    }
    println!("\n{text}");
    println!("results: {}", md.display());
    Ok(())
}

/// Lets every user read (and walk) `root`, which a temp dir is not.
fn open_to_all(root: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("opening {} to nginx's workers", root.display()))
}

/// One leg's figures from its run.
fn figures(gateway: Gateway, level: f64, repeat: usize, leg: &leg::Leg) -> Cell {
    let run = &leg.run;
    let reads = leg::READS
        .iter()
        .map(|&label| reads(label, &run.only(label), &leg.sizes))
        .collect();
    let api = (level > 0.0).then(|| Summary::of(&run.only(leg::API), crate::scenarios::SLO));
    let mut lag: Vec<Duration> = run.records.iter().map(|r| r.lag).collect();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let lag_max_ms = lag.iter().max().copied().map_or(0.0, ms);
    let lag_p99_ms = percentile(&mut lag, 0.99).map_or(0.0, ms);
    let saturated = run.count(Outcome::Failed(Failure::Saturated));
    Cell {
        gateway: gateway.label(),
        level,
        repeat,
        reads,
        api,
        cpu: leg.cpu,
        sizes: leg.sizes,
        lag_p99_ms,
        lag_max_ms,
        saturated,
        changed: leg.changed.clone(),
    }
}

/// One status stream's figures.
fn reads(label: &'static str, run: &Run, sizes: &Sizes) -> Reads {
    let mut all = Vec::with_capacity(run.records.len());
    let mut from_send = Vec::with_capacity(run.records.len());
    let (mut ok, mut not_modified, mut errors, mut timeouts) = (0, 0, 0, 0);
    for r in &run.records {
        all.push(r.latency);
        from_send.push(r.latency.saturating_sub(r.lag));
        match r.outcome {
            Outcome::Success => ok += 1,
            Outcome::Status(304) => not_modified += 1,
            Outcome::Timeout => timeouts += 1,
            _ => errors += 1,
        }
    }
    let full = if label == "json" {
        sizes.json
    } else {
        sizes.html
    };
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    Reads {
        label,
        sent: run.records.len(),
        ok,
        not_modified,
        errors,
        timeouts,
        p50_ms: percentile(&mut all, 0.50).map(ms),
        p99_ms: percentile(&mut all, 0.99).map(ms),
        p999_ms: percentile(&mut all, 0.999).map(ms),
        p99_sent_ms: percentile(&mut from_send, 0.99).map(ms),
        bytes: (ok * full + not_modified * sizes.not_modified) as u64,
    }
}

/// One line of figures for progress output.
fn brief(c: &Cell) -> String {
    let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2}"));
    let mut parts: Vec<String> = c
        .reads
        .iter()
        .map(|r| {
            format!(
                "{} {}/{}+{} err {} to {} p99 {} ms",
                r.label,
                r.sent,
                r.ok,
                r.not_modified,
                r.errors,
                r.timeouts,
                ms(r.p99_ms)
            )
        })
        .collect();
    if let Some(api) = &c.api {
        parts.push(format!("api: {}", crate::scenarios::brief(api)));
    }
    if let Some(cpu) = &c.cpu {
        parts.push(format!(
            "cpu {:.0} % ({:.2} s)",
            100.0 * cpu.load / cpu.wall_s.max(1e-9),
            cpu.load
        ));
    }
    parts.push(format!("lag p99 {:.2} ms", c.lag_p99_ms));
    if !c.changed.is_empty() {
        parts.push(format!("changed: {}", c.changed.join(",")));
    }
    parts.join("; ")
}
