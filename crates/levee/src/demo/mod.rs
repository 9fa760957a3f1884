//! `levee demo`: a normal day, then overload, with and without Levee, in
//! about a minute.
//!
//! It opens with a normal day (`normal_day.rs`): an everyday mix of fast and
//! slow requests, event streams and long-polls, sent through both routes of a
//! gateway (a plain pass-through and one with admission control) to a service
//! with room to spare, where admission must shed nothing. Then it starts a
//! sample upstream of known capacity (by default 8 workers × 20 ms ≈ 400
//! req/s) and drives the same open-loop surge (0.5× → 4× → 0.5× capacity, 1 s
//! client deadline) through each route in turn, each leg against a fresh
//! upstream and gateway so that one leg's backlog cannot spill into the next.
//! It shows live progress, prints a table per phase, writes `report.html` and
//! `summary.json` to `--out`, and prints the report's path last.
//!
//! Every phase's gateway serves its status page at the same address, whose
//! URL is printed first (`page_watch.rs`); the demo reads it once a second
//! and prints each change as it shows (a component leaving operational as
//! the surge is shed, an incident opening and resolving), then the whole
//! timeline (`timeline.rs`) in the terminal, the report and summary.json.
//! The gateways run with status page timings scaled to the surge
//! (`Settings::status_times`), and the demo says they are not the defaults.
//!
//! Glue only: the upstream, the load and the report are levee-sim's, the
//! gateway is `start_gateway`'s. It must not bind anything but loopback or
//! run unbounded: every leg ends by its schedule plus its client deadline,
//! plus a bounded wait for its status page to show the recovery.

mod args;
mod normal_day;
mod page_watch;
mod progress;
mod timeline;

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use levee_sim::load::{self, LoadPlan, LoadRun, Run, Schedule, Stream};
use levee_sim::report::{self, Report, Summary, Tally};
use levee_sim::upstream::Upstream;
use tokio::time::Instant;

use crate::demo_gateway::{DemoGateway, StatusTimes};
pub(crate) use args::DemoArgs;
use args::Settings;
use page_watch::PageWatch;
use progress::{Meter, Style};
use timeline::Timeline;

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

    /// The surge's phase on this route, as the status page timeline names it.
    fn surge(self) -> &'static str {
        match self {
            Self::PassThrough => "surge on pass-through",
            Self::Admission => "surge on admission",
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
    let origin = Instant::now();
    let settings = Settings::resolve(&args)?;
    let capacity = settings.capacity();
    let schedule = settings.schedule();
    println!(
        "levee demo: first a normal day ({}); then a sample upstream of {} workers × {} ms ≈ {capacity:.0} req/s \
         and an open-loop surge {} for {:.0} s per route, {:.1} s client deadline",
        normal_day::describe(settings.normal_day),
        settings.workers,
        settings.service_time.as_millis(),
        settings.shape(),
        schedule.duration().as_secs_f64(),
        settings.deadline.as_secs_f64(),
    );
    let style = Style::detect();
    let mut page = PageWatch::new(settings.status_times(), origin)?;
    let day = normal_day::run(settings.normal_day, style, &mut page).await?;
    let mut outcomes = Vec::new();
    for leg in LEGS {
        outcomes.push(run_leg(leg, &settings, &schedule, style, &mut page).await?);
    }

    let tallies: Vec<(&str, Tally)> = day
        .iter()
        .map(|o| (o.leg.label(), Tally::of(&o.run, &[normal_day::SHORT])))
        .collect();
    let rows: Vec<(&str, &Tally)> = tallies.iter().map(|(l, t)| (*l, t)).collect();
    println!(
        "\nA normal day ({}):",
        normal_day::describe(settings.normal_day)
    );
    print!("{}", report::tally_table(&rows));
    for (label, t) in tallies.iter().filter(|(l, _)| *l == Leg::Admission.label()) {
        if t.shed == 0 {
            println!(
                "{label}: shed 0 of {} requests: the service had room for every one",
                t.sent
            );
        } else {
            println!(
                "{label}: shed {} of {} requests the service had room for (false sheds, issue 19)",
                t.shed, t.sent
            );
        }
    }

    let summaries: Vec<(&str, Summary)> = outcomes
        .iter()
        .map(|o| (o.leg.label(), Summary::of(&o.run, SLO)))
        .collect();
    let rows: Vec<(&str, &Summary)> = summaries.iter().map(|(l, s)| (*l, s)).collect();
    println!("\nThe surge ({}):", settings.shape());
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

    print_page(page.timeline());

    let results = Results {
        day: &day,
        tallies: &tallies,
        surge: &outcomes,
        summaries: &summaries,
        page: page.timeline(),
    };
    let html = write_outputs(&settings, &results)?;
    println!("report: {}", html.display());
    Ok(ExitCode::SUCCESS)
}

/// The status page's timeline after the tables: each phase in a line, and
/// its changes under it.
fn print_page(page: &Timeline) {
    let Some(url) = page.phases.first().map(|p| p.url.as_str()) else {
        return;
    };
    println!("\nThe status page ({url}, read once a second; live only while the demo runs):");
    for phase in &page.phases {
        println!("{}", phase.summary());
        for change in page.changes.iter().filter(|c| c.phase == phase.name) {
            println!("  {}", change.text());
        }
    }
    let departures = page.departures().count();
    if departures == 0 {
        println!("no component left operational");
    }
    println!("{}", timeline::settings_words(&page.times));
}

/// How long a phase's gateway is kept after its load ended, for its status
/// page to show the recovery: the window must forget the surge, the better
/// status must hold for `clear_after`, and the page is read a second late
/// at most.
fn settle_for(times: &StatusTimes) -> Duration {
    times.window + times.clear_after + Duration::from_secs(2)
}

/// One leg: a fresh upstream and gateway, the surge through one route.
async fn run_leg(
    leg: Leg,
    settings: &Settings,
    schedule: &Schedule,
    style: Style,
    page: &mut PageWatch,
) -> anyhow::Result<Outcome> {
    let upstream = Upstream::builder()
        .workers(settings.workers)
        .service_time(settings.service_time)
        .start()
        .await
        .context("starting the sample upstream")?;
    let gateway = page
        .gateway(upstream.addr())
        .await
        .context("starting the demo gateway")?;
    let url = match leg {
        Leg::PassThrough => gateway.pass_through_url(),
        Leg::Admission => gateway.admission_url(),
    };
    let plan = plan_for(&url, settings, schedule)
        .with_context(|| format!("the {} route's URL {url}", leg.label()))?;
    let running = load::start(plan).context("starting the load")?;
    page.begin(leg.surge(), &gateway);
    let mut meter = Meter::new(style, leg.label(), settings.capacity(), schedule.clone());
    let watch = Watch {
        gateway: &gateway,
        style,
        bound: schedule.duration() + settings.deadline + Duration::from_secs(30),
        settle: settle_for(&page.times()),
        what: leg.label(),
    };
    let limit = follow(&watch, &mut meter, &[&running], page).await?;
    let run = running.wait().await.context("collecting the load run")?;
    gateway.shutdown().await;
    upstream.shutdown().await;
    Ok(Outcome { leg, run, limit })
}

/// How to follow load runs through the demo gateway.
struct Watch<'a> {
    gateway: &'a DemoGateway,
    style: Style,
    /// The runs end by themselves within their schedule and deadlines; past
    /// this, a bug is turned into an error instead of a hang.
    bound: Duration,
    /// How long to keep watching the status page after the runs ended,
    /// until it is back to normal.
    settle: Duration,
    /// What is running, for that error.
    what: &'a str,
}

/// Samples the admission route's limit every 100 ms, shows the last of
/// `runs` on `meter` and the status page's changes until every run has
/// ended, then waits (at most `settle`) for the page to be back to normal;
/// returns the limit samples (seconds, limit).
async fn follow(
    watch: &Watch<'_>,
    meter: &mut Meter,
    runs: &[&LoadRun],
    page: &mut PageWatch,
) -> anyhow::Result<Vec<(f64, f64)>> {
    let Some(shown) = runs.last() else {
        page.end();
        return Ok(Vec::new());
    };
    let started = Instant::now();
    let give_up = started + watch.bound;
    let mut limit = Vec::new();
    let mut sample = tokio::time::interval(Duration::from_millis(100));
    let mut next_line = started + watch.style.every();
    while !runs.iter().all(|r| r.is_finished()) {
        sample.tick().await;
        if let Some(value) = watch.gateway.limit_now() {
            limit.push((started.elapsed().as_secs_f64(), value as f64));
        }
        for line in page.poll() {
            meter.say(&line);
        }
        if Instant::now() >= next_line {
            meter.tick(shown);
            next_line += watch.style.every();
        }
        if Instant::now() > give_up {
            bail!("the {} did not end within its bound (a bug)", watch.what);
        }
    }
    meter.tick(shown);
    if !page.settled() {
        meter.say(&format!(
            "status page: the load has ended; waiting up to {:.0} s for the page to show the recovery",
            watch.settle.as_secs_f64()
        ));
        let until = Instant::now() + watch.settle;
        while !page.settled() && Instant::now() < until {
            sample.tick().await;
            for line in page.poll() {
                meter.say(&line);
            }
        }
        if !page.settled() {
            meter.say(&format!(
                "status page: not back to normal within {:.0} s; this phase's gateway stops now",
                watch.settle.as_secs_f64()
            ));
        }
    }
    for line in page.end() {
        meter.say(&line);
    }
    meter.finish();
    Ok(limit)
}

/// Where a route's URL points: the loopback address, the `Host` to send and
/// the path (the route's prefix).
fn aim(url: &str) -> anyhow::Result<(std::net::SocketAddr, String, String)> {
    let uri: http::Uri = url.parse().context("not a URL")?;
    let authority = uri.authority().context("no host:port")?;
    let addr = authority
        .as_str()
        .parse()
        .context("the host must be a loopback IP address with a port")?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    Ok((addr, authority.as_str().to_owned(), path.to_owned()))
}

/// The load plan for one route: its address, host and path from `url`.
fn plan_for(url: &str, settings: &Settings, schedule: &Schedule) -> anyhow::Result<LoadPlan> {
    let (addr, host, path) = aim(url)?;
    let peak = schedule.phases().iter().map(|p| p.rate).fold(0.0, f64::max);
    // One connection per request in flight, which is at most rate × deadline.
    let connections = (peak * settings.deadline.as_secs_f64() * 1.5) as usize + 256;
    Ok(LoadPlan::new(addr)
        .host(host)
        .deadline(settings.deadline)
        .max_connections(connections)
        .max_duration(schedule.duration())
        .seed(3)
        .stream(Stream::new(schedule.clone()).path(path)))
}

/// What the demo measured, for the report and summary.json.
struct Results<'a> {
    /// The normal day, by route.
    day: &'a [Outcome],
    /// The normal day's tallies, by route label.
    tallies: &'a [(&'a str, Tally)],
    /// The surge, by route.
    surge: &'a [Outcome],
    /// The surge's summaries, by route label.
    summaries: &'a [(&'a str, Summary)],
    /// What the status page showed.
    page: &'a Timeline,
}

/// Writes report.html and summary.json under `--out`; returns the report's path.
fn write_outputs(settings: &Settings, results: &Results<'_>) -> anyhow::Result<std::path::PathBuf> {
    let dir = std::path::absolute(&settings.out).context("resolving --out")?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let shed: Vec<String> = results
        .tallies
        .iter()
        .map(|(label, t)| format!("{label} shed {} of {}", t.shed, t.sent))
        .collect();
    let day = Report::new("A normal day: nothing to shed")
        .note(format!(
            "{}. Levee's admission control sheds only on evidence of congestion, and a service with room \
             to spare gives none: {}.",
            capitalised(&normal_day::describe(settings.normal_day)),
            shed.join(", ")
        ))
        .slo(normal_day::slo(settings.normal_day))
        .bucket(settings.bucket());
    let surge = Report::new("The surge: with and without admission control")
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
    let report =
        Report::new("Levee demo: a normal day, then a surge, with and without admission control")
            .section(with_runs(day, results.day))
            .section(with_runs(surge, results.surge));
    let html = dir.join("report.html");
    let page = with_section(&report.render(), &results.page.html());
    std::fs::write(&html, page).with_context(|| format!("writing {}", html.display()))?;
    write_json(&dir.join("summary.json"), settings, results)?;
    Ok(html)
}

/// `report` with each outcome's run, and the admission route's limit.
fn with_runs(mut report: Report, outcomes: &[Outcome]) -> Report {
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
    report
}

/// The report's page with `section` after its last section (before the
/// footer); levee-sim's report knows nothing of status pages.
fn with_section(page: &str, section: &str) -> String {
    let at = page
        .rfind("<footer>")
        .or_else(|| page.rfind("</main>"))
        .unwrap_or(page.len());
    let mut out = String::with_capacity(page.len() + section.len());
    out.push_str(&page[..at]);
    out.push_str(section);
    out.push_str(&page[at..]);
    out
}

/// `text` with its first letter in upper case.
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn write_json(path: &Path, settings: &Settings, results: &Results<'_>) -> anyhow::Result<()> {
    let runs: Vec<serde_json::Value> = results
        .summaries
        .iter()
        .zip(results.surge)
        .map(|((label, summary), o)| {
            serde_json::json!({ "label": label, "summary": summary, "limit": o.limit })
        })
        .collect();
    let day: Vec<serde_json::Value> = results
        .tallies
        .iter()
        .zip(results.day)
        .map(|((label, tally), o)| {
            let summary = Summary::of(&o.run, normal_day::slo(settings.normal_day));
            serde_json::json!({ "label": label, "tally": tally, "summary": summary, "limit": o.limit })
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
        "normal_day": {
            "duration_s": settings.normal_day.as_secs_f64(),
            "short": normal_day::SHORT,
            "runs": day,
        },
        "status_page": results.page.json(),
    });
    let text = serde_json::to_string_pretty(&json).context("encoding summary.json")?;
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
