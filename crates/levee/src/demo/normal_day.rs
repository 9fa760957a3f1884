//! The demo's opening phase: a normal day. A service with room to spare
//! (levee-sim's unlimited upstream, which takes any number of requests at
//! once) gets an everyday mix through both routes at once: fast and slow
//! endpoints, a few event streams and long-polls. Admission control must
//! turn none of it away: a 503 needs evidence of congestion, and there is
//! none (issue 19), and the gateway's status page shows every component
//! operational throughout. The surge that follows shows the other half.
//!
//! Glue only: the mix is data, the upstream and the load are levee-sim's,
//! the gateway is `start_gateway`'s. Bounded like the surge: every request
//! ends by its deadline.

use std::time::Duration;

use anyhow::Context;
use levee_sim::load::{self, LoadPlan, Schedule, Stream};
use levee_sim::upstream::Upstream;

use super::page_watch::PageWatch;
use super::progress::{Meter, Style};
use super::{LEGS, Leg, Outcome, Watch, aim, follow, settle_for};

/// The requests of the mix that arrive on a schedule, per route: (label,
/// requests per second, path after the route's prefix).
const MIX: [(&str, f64, &str); 3] = [
    ("api", 80.0, "users/ms/5"),
    ("search", 15.0, "search/ms/60"),
    ("reports", 5.0, "reports/ms/800"),
];

/// The stream whose latency the table shows: the short requests.
pub(super) const SHORT: &str = "api";

/// Event streams and long-polls open from the start, per route.
const LONG: usize = 4;

/// How long an ordinary request of the mix may take before its client gives
/// up (the slow reports take 800 ms).
pub(super) const DEADLINE: Duration = Duration::from_secs(2);

/// How long the event streams and long-polls last: the day minus two
/// seconds, at least one.
fn long_for(span: Duration) -> Duration {
    span.saturating_sub(Duration::from_secs(2))
        .max(Duration::from_secs(1))
}

/// The normal day's goodput objective: every answer counts, the event
/// streams and long-polls included (they last most of the day by design).
pub(super) fn slo(span: Duration) -> Duration {
    long_for(span) + DEADLINE
}

/// The mix in words.
pub(super) fn describe(span: Duration) -> String {
    let rates: Vec<String> = MIX
        .iter()
        .map(|(_, rate, path)| {
            let ms = path.rsplit('/').next().unwrap_or("?");
            format!("{rate:.0}/s of {ms} ms")
        })
        .collect();
    format!(
        "{:.0} s of {}, {LONG} event streams and {LONG} long-polls of {:.0} s, through both routes at once, \
         to a service with room to spare",
        span.as_secs_f64(),
        rates.join(", "),
        long_for(span).as_secs_f64()
    )
}

/// The normal day's load for the route at `url`, lasting `span`.
fn plan(url: &str, span: Duration) -> anyhow::Result<LoadPlan> {
    let (addr, host, prefix) = aim(url)?;
    let long = long_for(span);
    let mut plan = LoadPlan::new(addr)
        .host(host)
        .deadline(DEADLINE)
        .max_duration(span)
        .seed(5);
    for (label, rate, path) in MIX {
        let schedule = Schedule::constant(rate, span);
        plan = plan.stream(
            Stream::new(schedule)
                .path(format!("{prefix}{path}"))
                .label(label),
        );
    }
    let long_stream = |path: String, label: &str| {
        Stream::clients(LONG, 1)
            .path(path)
            .label(label)
            .deadline(long + DEADLINE)
    };
    Ok(plan
        .stream(long_stream(
            format!("{prefix}events/sse/{}", long.as_secs()),
            "events",
        ))
        .stream(long_stream(
            format!("{prefix}poll/ms/{}", long.as_millis()),
            "long-poll",
        )))
}

/// The normal day's phase, as the status page timeline names it.
pub(super) const PHASE: &str = "normal day";

/// Runs the normal day through both routes of one fresh gateway (started
/// by `page`, which reads its status page), in front of a fresh unlimited
/// upstream; the progress shown is the admission route's.
pub(super) async fn run(
    span: Duration,
    style: Style,
    page: &mut PageWatch,
) -> anyhow::Result<Vec<Outcome>> {
    let upstream = Upstream::builder()
        .unlimited()
        .start()
        .await
        .context("starting the unlimited upstream")?;
    let gateway = page
        .gateway(upstream.addr())
        .await
        .context("starting the demo gateway")?;
    let mut runs = Vec::new();
    for leg in LEGS {
        let url = match leg {
            Leg::PassThrough => gateway.pass_through_url(),
            Leg::Admission => gateway.admission_url(),
        };
        let plan =
            plan(&url, span).with_context(|| format!("the {} route's URL {url}", leg.label()))?;
        runs.push((leg, load::start(plan).context("starting the load")?));
    }
    page.begin(PHASE, &gateway);
    let mut meter = Meter::named(style, Leg::Admission.label(), PHASE, span);
    let watch = Watch {
        gateway: &gateway,
        style,
        bound: span + long_for(span) + DEADLINE + Duration::from_secs(30),
        settle: settle_for(&page.times()),
        what: PHASE,
    };
    let shown: Vec<&load::LoadRun> = runs.iter().map(|(_, r)| r).collect();
    let limit = follow(&watch, &mut meter, &shown, page).await?;
    let mut outcomes = Vec::new();
    for (leg, running) in runs {
        let run = running.wait().await.context("collecting the load run")?;
        let limit = if leg == Leg::Admission {
            limit.clone()
        } else {
            Vec::new()
        };
        outcomes.push(Outcome { leg, run, limit });
    }
    gateway.shutdown().await;
    upstream.shutdown().await;
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_is_below_capacity_and_bounded() {
        let plan = plan("http://127.0.0.1:9/admission/", Duration::from_secs(8)).expect("a plan");
        assert_eq!(
            plan.labels(),
            ["api", "search", "reports", "events", "long-poll"]
        );
        assert_eq!(plan.duration(), Duration::from_secs(8));
        let text = describe(Duration::from_secs(8));
        assert!(
            text.starts_with("8 s of 80/s of 5 ms, 15/s of 60 ms, 5/s of 800 ms, 4 event streams"),
            "{text}"
        );
        assert_eq!(long_for(Duration::from_secs(3)), Duration::from_secs(1));
    }
}
