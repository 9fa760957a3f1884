//! `levee demo`'s flags and the checked settings resolved from them.
//!
//! Parse, then resolve: [`DemoArgs`] mirrors the command line; [`Settings`]
//! holds values known to be within the bounds that keep the demo short and
//! the machine responsive. Nothing here starts anything.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::ensure;
use levee_sim::load::Schedule;

use crate::demo_gateway::StatusTimes;

/// Flags of `levee demo`.
#[derive(clap::Args, Clone, Debug)]
pub(crate) struct DemoArgs {
    /// Workers of the sample upstream; each serves one request at a time.
    #[arg(long, default_value_t = 8)]
    pub(crate) workers: usize,
    /// How long each request holds a worker (e.g. 20ms, 0.05s).
    #[arg(long, default_value = "20ms", value_parser = parse_duration)]
    pub(crate) service_time: Duration,
    /// How long the surge lasts on each route: a quarter at 0.5×, half at the peak, a quarter at 0.5×.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    pub(crate) duration: Duration,
    /// A few seconds per route, and a shorter normal day, instead (for CI); overrides --duration.
    #[arg(long)]
    pub(crate) short: bool,
    /// The peak load, as a multiple of the upstream's capacity.
    #[arg(long, default_value_t = 4.0)]
    pub(crate) peak: f64,
    /// How long a client waits before it gives up.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub(crate) deadline: Duration,
    /// Where to write report.html and summary.json.
    #[arg(long, default_value = "target/levee-demo")]
    pub(crate) out: PathBuf,
}

/// The duration of each route's surge in `--short` mode.
const SHORT: Duration = Duration::from_secs(4);
/// How long the normal day lasts before the surge.
const NORMAL_DAY: Duration = Duration::from_secs(8);
/// How long the normal day lasts in `--short` mode.
const SHORT_NORMAL_DAY: Duration = Duration::from_secs(3);
/// The most requests per second the demo will offer: beyond, a small machine
/// measures itself rather than the gateway.
const MAX_RATE: f64 = 5000.0;

/// Checked settings.
#[derive(Clone, Debug)]
pub(super) struct Settings {
    pub(super) workers: usize,
    pub(super) service_time: Duration,
    pub(super) duration: Duration,
    pub(super) peak: f64,
    pub(super) deadline: Duration,
    pub(super) out: PathBuf,
    /// How long the normal day lasts.
    pub(super) normal_day: Duration,
}

impl Settings {
    /// Checks the flags.
    pub(super) fn resolve(args: &DemoArgs) -> anyhow::Result<Self> {
        let duration = if args.short { SHORT } else { args.duration };
        ensure!(
            (1..=1024).contains(&args.workers),
            "--workers must be within 1..=1024"
        );
        let ms = Duration::from_millis;
        ensure!(
            (ms(1)..=ms(1000)).contains(&args.service_time),
            "--service-time must be within 1ms..=1s"
        );
        ensure!(
            (ms(1000)..=ms(120_000)).contains(&duration),
            "--duration must be within 1s..=120s"
        );
        ensure!(
            args.peak > 0.0 && args.peak <= 10.0,
            "--peak must be within (0, 10]"
        );
        ensure!(
            (ms(10)..=ms(30_000)).contains(&args.deadline),
            "--deadline must be within 10ms..=30s"
        );
        let settings = Self {
            workers: args.workers,
            service_time: args.service_time,
            duration,
            peak: args.peak,
            deadline: args.deadline,
            out: args.out.clone(),
            normal_day: if args.short {
                SHORT_NORMAL_DAY
            } else {
                NORMAL_DAY
            },
        };
        let top = settings.capacity() * settings.peak.max(0.5);
        ensure!(
            top <= MAX_RATE,
            "the peak would offer {top:.0} req/s; keep workers ÷ service time × peak under {MAX_RATE:.0}"
        );
        Ok(settings)
    }

    /// Requests per second the upstream can serve.
    pub(super) fn capacity(&self) -> f64 {
        self.workers as f64 / self.service_time.as_secs_f64()
    }

    /// 0.5× for a quarter, the peak for half, 0.5× for a quarter.
    pub(super) fn schedule(&self) -> Schedule {
        let quarter = self.duration / 4;
        let half = self.duration - 2 * quarter;
        let c = self.capacity();
        Schedule::new()
            .then(0.5 * c, quarter)
            .then(self.peak * c, half)
            .then(0.5 * c, quarter)
    }

    /// The status page's timings for the demo's gateways, scaled to the
    /// surge so that its peak (half of it) shows as a change and, with a
    /// 20 s surge, opens an incident that resolves before the route's
    /// gateway stops: `raise_after` a tenth of the surge, `window` and
    /// `clear_after` three twentieths, `incident_after` a fifth, in whole
    /// seconds (the page decides once a second) within bounds.
    pub(super) fn status_times(&self) -> StatusTimes {
        let part = |share: f64, low: u64, high: u64| {
            let secs = (self.duration.as_secs_f64() * share).round();
            // Within 0..=120 s by the --duration bounds: no truncation.
            Duration::from_secs((secs as u64).clamp(low, high))
        };
        let window = part(0.15, 2, 60);
        StatusTimes {
            raise_after: part(0.1, 1, 10),
            clear_after: window,
            window,
            incident_after: part(0.2, 1, 120),
        }
    }

    /// The surge's shape in words.
    pub(super) fn shape(&self) -> String {
        format!("0.5× → {}× → 0.5× capacity", self.peak)
    }

    /// Chart bucket width: enough points for short runs, smooth long ones.
    pub(super) fn bucket(&self) -> Duration {
        if self.duration <= Duration::from_secs(8) {
            Duration::from_millis(250)
        } else {
            Duration::from_millis(500)
        }
    }
}

/// Parses `250ms`, `1.5s`, `2m` or `500us`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 20ms or 1.5s"))?;
    let secs = match unit.trim() {
        "us" | "µs" => value / 1e6,
        "ms" => value / 1e3,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("{text:?}: the unit must be us, ms, s or m")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{text:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        demo: DemoArgs,
    }

    fn settings(args: &[&str]) -> anyhow::Result<Settings> {
        let cli = Cli::try_parse_from(std::iter::once("demo").chain(args.iter().copied()))?;
        Settings::resolve(&cli.demo)
    }

    #[test]
    fn defaults_make_a_400_per_second_upstream_and_a_20_second_surge() {
        let s = settings(&[]).expect("defaults are valid");
        assert_eq!(s.capacity(), 400.0);
        let schedule = s.schedule();
        assert_eq!(schedule.duration(), Duration::from_secs(20));
        assert_eq!(schedule.rate_at(Duration::from_secs(1)), 200.0);
        assert_eq!(schedule.rate_at(Duration::from_secs(10)), 1600.0);
        assert_eq!(schedule.rate_at(Duration::from_secs(19)), 200.0);
    }

    #[test]
    fn the_status_page_timings_fit_the_surge() {
        let s = |secs: u64| Duration::from_secs(secs);
        let times = settings(&[]).expect("defaults are valid").status_times();
        assert_eq!(
            times,
            StatusTimes {
                raise_after: s(2),
                clear_after: s(3),
                window: s(3),
                incident_after: s(4),
            }
        );
        // Degraded within the peak's first half; the incident opens within
        // the peak; the window forgets the peak a quarter after it.
        let surge = s(20);
        assert!(times.raise_after + times.incident_after < surge / 2);
        assert!(times.window + times.clear_after <= surge / 4 + s(1));
        let short = settings(&["--short"]).expect("valid").status_times();
        assert_eq!((short.raise_after, short.window), (s(1), s(2)));
        let long = settings(&["--duration", "120s"])
            .expect("valid")
            .status_times();
        assert_eq!(long.raise_after, s(10));
    }

    #[test]
    fn short_mode_takes_a_few_seconds() {
        let s = settings(&["--short", "--duration", "60s"]).expect("valid");
        assert_eq!(s.schedule().duration(), SHORT);
        assert_eq!(s.normal_day, SHORT_NORMAL_DAY);
        assert_eq!(settings(&[]).expect("valid").normal_day, NORMAL_DAY);
    }

    #[test]
    fn out_of_bounds_flags_are_refused() {
        assert!(settings(&["--workers", "0"]).is_err());
        assert!(settings(&["--service-time", "5s"]).is_err());
        assert!(settings(&["--workers", "1000", "--service-time", "1ms"]).is_err());
        assert!(settings(&["--peak", "0"]).is_err());
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("20ms"), Ok(Duration::from_millis(20)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500us"), Ok(Duration::from_micros(500)));
        assert!(parse_duration("20").is_err() && parse_duration("fast").is_err());
    }
}
