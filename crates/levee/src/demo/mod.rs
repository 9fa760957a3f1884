//! `levee demo`: overload, with and without Levee, in under a minute.
//!
//! It starts a sample upstream of known capacity (by default 8 workers ×
//! 20 ms ≈ 400 req/s) and a gateway in front of it with two routes, a plain
//! pass-through and one with admission control, then drives the same
//! open-loop surge (0.5× → 4× → 0.5× capacity, 1 s client deadline) through
//! each route in turn, each leg against a fresh upstream so that one leg's
//! backlog cannot spill into the next. It shows live progress, prints a
//! side-by-side table, writes `report.html` and `summary.json` to `--out`, and
//! prints the report's path last.
//!
//! Glue only: the upstream, the load and the report are levee-sim's, the
//! gateway is `start_gateway`'s. It must not bind anything but loopback or
//! run unbounded: every leg ends by its schedule plus its client deadline.

mod args;

mod progress;

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use levee_sim::load::{self, LoadPlan, Run, Schedule, Stream};
use levee_sim::report::{self, Report, Summary};
use levee_sim::upstream::Upstream;
use tokio::time::Instant;

use crate::demo_gateway::start_gateway;
pub(crate) use args::DemoArgs;
use args::Settings;
use progress::{Meter, Style};

/// The goodput objective: a 2xx counts only if it arrives within this.
const SLO: Duration = Duration::from_millis(500);

/// The two legs of the demo, in the order they run.
const LEGS: [Leg; 2] = [Leg::PassThrough, Leg::Admission];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Leg {
    PassThrough,
    Admission,
}

impl Leg {
    fn label(self) -> &'static str {
        match self {
            Self::PassThrough => "pass-through",
            Self::Admission => "admission",
        }
    }
}

/// What one leg produced: its run and the limit samples (seconds, limit).
struct Outcome {
    leg: Leg,
    run: Run,
    limit: Vec<(f64, f64)>,
}

/// Runs the demo; see the module docs.
///
/// # Errors
/// Bad arguments, a failure to start the upstream or the gateway, or to
/// write the report.
pub(crate) async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let settings = Settings::resolve(&args)?;
    let capacity = settings.capacity();
    let schedule = settings.schedule();
    println!(
        "levee demo: a sample upstream of {} workers × {} ms ≈ {capacity:.0} req/s, an open-loop surge \
         {} for {:.0} s per route, {:.1} s client deadline",
        settings.workers,
        settings.service_time.as_millis(),
        settings.shape(),
        schedule.duration().as_secs_f64(),
        settings.deadline.as_secs_f64(),
    );
    let style = Style::detect();
    let mut outcomes = Vec::new();
    for leg in LEGS {
        outcomes.push(run_leg(leg, &settings, &schedule, style).await?);
    }

    let summaries: Vec<(&str, Summary)> = outcomes
        .iter()
        .map(|o| (o.leg.label(), Summary::of(&o.run, SLO)))
        .collect();
    let rows: Vec<(&str, &Summary)> = summaries.iter().map(|(l, s)| (*l, s)).collect();
    println!();
    print!("{}", report::table(&rows));
    for (label, s) in &summaries {
        if s.saturated > 0 || s.lag_p99_ms > 20.0 {
            println!(
                "note: on {label} the load generator fell behind (p99 lag {:.0} ms, {} not sent): \
                 this machine is short of CPU, so the numbers understate the gateway",
                s.lag_p99_ms, s.saturated
            );
        }
    }

    let html = write_outputs(&settings, &outcomes, &summaries)?;
    println!("report: {}", html.display());
    Ok(ExitCode::SUCCESS)
}

/// One leg: a fresh upstream and gateway, the surge through one route.
async fn run_leg(
    leg: Leg,
    settings: &Settings,
    schedule: &Schedule,
    style: Style,
) -> anyhow::Result<Outcome> {
    let upstream = Upstream::builder()
        .workers(settings.workers)
        .service_time(settings.service_time)
        .start()
        .await
        .context("starting the sample upstream")?;
    let gateway = start_gateway(upstream.addr())
        .await
        .context("starting the demo gateway")?;
    let url = match leg {
        Leg::PassThrough => gateway.pass_through_url(),
        Leg::Admission => gateway.admission_url(),
    };
    let plan = plan_for(&url, settings, schedule)
        .with_context(|| format!("the {} route's URL {url}", leg.label()))?;
    let running = load::start(plan).context("starting the load")?;

    let mut meter = Meter::new(style, leg.label(), settings.capacity(), schedule.clone());
    let started = Instant::now();
    // Bounded twice: the run ends by itself one deadline after its schedule;
    // this guard only turns a bug into an error instead of a hang.
    let give_up = started + schedule.duration() + settings.deadline + Duration::from_secs(30);
    let mut limit = Vec::new();
    let mut sample = tokio::time::interval(Duration::from_millis(100));
    let mut next_line = started + style.every();
    while !running.is_finished() {
        sample.tick().await;
        if let Some(value) = gateway.limit_now() {
            limit.push((started.elapsed().as_secs_f64(), value as f64));
        }
        if Instant::now() >= next_line {
            meter.tick(&running);
            next_line += style.every();
        }
        if Instant::now() > give_up {
            bail!(
                "the {} leg did not end within its bound (a bug)",
                leg.label()
            );
        }
    }
    meter.tick(&running);
    meter.finish();
    let run = running.wait().await.context("collecting the load run")?;
    gateway.shutdown().await;
    upstream.shutdown().await;
    Ok(Outcome { leg, run, limit })
}

/// The load plan for one route: its address, host and path from `url`.
fn plan_for(url: &str, settings: &Settings, schedule: &Schedule) -> anyhow::Result<LoadPlan> {
    let uri: http::Uri = url.parse().context("not a URL")?;
    let authority = uri.authority().context("no host:port")?;
    let addr = authority
        .as_str()
        .parse()
        .context("the host must be a loopback IP address with a port")?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let peak = schedule.phases().iter().map(|p| p.rate).fold(0.0, f64::max);
    // One connection per request in flight, which is at most rate × deadline.
    let connections = (peak * settings.deadline.as_secs_f64() * 1.5) as usize + 256;
    Ok(LoadPlan::new(addr)
        .host(authority.as_str())
        .deadline(settings.deadline)
        .max_connections(connections)
        .max_duration(schedule.duration())
        .seed(3)
        .stream(Stream::new(schedule.clone()).path(path)))
}

/// Writes report.html and summary.json under `--out`; returns the report's path.
fn write_outputs(
    settings: &Settings,
    outcomes: &[Outcome],
    summaries: &[(&str, Summary)],
) -> anyhow::Result<std::path::PathBuf> {
    let dir = std::path::absolute(&settings.out).context("resolving --out")?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut report = Report::new("Levee demo: a surge with and without admission control")
        .note(format!(
            "Sample upstream: {} workers × {} ms ≈ {:.0} req/s. Surge {} over {:.0} s, Poisson arrivals, \
             {:.1} s client deadline; the same arrivals on each route, each against a fresh upstream.",
            settings.workers,
            settings.service_time.as_millis(),
            settings.capacity(),
            settings.shape(),
            settings.schedule().duration().as_secs_f64(),
            settings.deadline.as_secs_f64(),
        ))
        .slo(SLO)
        .bucket(settings.bucket())
        .capacity(settings.capacity());
    for o in outcomes {
        report = report.run(o.leg.label(), o.run.clone());
        if !o.limit.is_empty() {
            report = report.extra(
                "Admission: concurrency limit",
                o.leg.label(),
                o.limit.clone(),
            );
        }
    }
    let html = dir.join("report.html");
    report
        .write(&html)
        .with_context(|| format!("writing {}", html.display()))?;
    write_json(&dir.join("summary.json"), settings, outcomes, summaries)?;
    Ok(html)
}

fn write_json(
    path: &Path,
    settings: &Settings,
    outcomes: &[Outcome],
    summaries: &[(&str, Summary)],
) -> anyhow::Result<()> {
    let runs: Vec<serde_json::Value> = summaries
        .iter()
        .zip(outcomes)
        .map(|((label, summary), o)| {
            serde_json::json!({ "label": label, "summary": summary, "limit": o.limit })
        })
        .collect();
    let json = serde_json::json!({
        "workers": settings.workers,
        "service_time_ms": settings.service_time.as_secs_f64() * 1000.0,
        "capacity_per_s": settings.capacity(),
        "duration_s": settings.schedule().duration().as_secs_f64(),
        "deadline_ms": settings.deadline.as_secs_f64() * 1000.0,
        "slo_ms": SLO.as_secs_f64() * 1000.0,
        "runs": runs,
    });
    let text = serde_json::to_string_pretty(&json).context("encoding summary.json")?;
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
