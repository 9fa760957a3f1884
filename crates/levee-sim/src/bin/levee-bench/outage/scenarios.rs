//! The five scenarios of issue 12's outage benchmark, and the figures each
//! reports:
//!
//! 1. `restart`: a single endpoint killed for 10 s and restarted: time from
//!    its return to the first 2xx, answers during the outage that are not a
//!    `503` with `Retry-After`, client timeouts.
//! 2. `one-of-two`: two endpoints, one killed for 10 s: client-visible
//!    errors, goodput kept.
//! 3. `alternate`: the primary pool down for 10 s, the alternate up: the
//!    share served (by the alternate) from 2 s after the kill, and how soon
//!    traffic is back on the primary after it returns.
//! 4. `flap`: a single endpoint up 2 s / down 2 s: errors and goodput.
//! 5. `flap-one-of-two`: one of two endpoints flapping so: errors and goodput.
//!
//! Each scenario is a timeline (which upstream goes down and comes back
//! when) and a list of [`Column`]s computed from a leg's [`Trace`]. Nothing
//! here formats tables or starts processes.

use std::time::Duration;

use super::figures::{
    Action, Counts, Trace, all_success_after, first_success_after, share_holds_after, up_windows,
};
use super::gateways::{Gateway, Layout};
use super::leg::Plan;

/// How long the phases of a leg last.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    /// Load before the first kill.
    pub(crate) before: Duration,
    /// How long a killed upstream stays down (scenarios 1–3).
    pub(crate) outage: Duration,
    /// Load after it returns.
    pub(crate) after: Duration,
    /// Each up and each down period of a flapping endpoint.
    pub(crate) flap: Duration,
    /// How many times it goes down.
    pub(crate) flaps: u32,
}

/// A scenario of the benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scenario {
    Restart,
    OneOfTwo,
    Alternate,
    Flap,
    FlapOneOfTwo,
}

/// Every scenario, in the order they run and are reported.
pub(crate) const ALL: [Scenario; 5] = [
    Scenario::Restart,
    Scenario::OneOfTwo,
    Scenario::Alternate,
    Scenario::Flap,
    Scenario::FlapOneOfTwo,
];

/// The largest shift of a leg's timeline (see [`Scenario::plan`]): the
/// gateways' check interval.
pub(crate) const PHASE: Duration = Duration::from_secs(1);

/// A shift in [0, [`PHASE`]) drawn from `seed` (SplitMix64): the same for
/// every gateway of a repeat, different from one repeat to the next.
pub(crate) fn phase(seed: u64) -> Duration {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    PHASE.mul_f64((z >> 11) as f64 / (1_u64 << 53) as f64)
}

/// How a figure is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unit {
    /// Seconds; a missing value means it never happened in the leg.
    Seconds,
    /// A count of requests.
    Count,
    /// A share, 0 to 1, shown as a percentage.
    Share,
    /// Per second.
    PerSecond,
    /// Whole seconds (a `Retry-After`); a missing value means none was seen.
    Whole,
}

/// One figure of a scenario.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Column {
    pub(crate) header: &'static str,
    pub(crate) unit: Unit,
}

const fn col(header: &'static str, unit: Unit) -> Column {
    Column { header, unit }
}

impl Scenario {
    /// The name on the command line and in file names.
    pub(crate) fn slug(self) -> &'static str {
        match self {
            Self::Restart => "restart",
            Self::OneOfTwo => "one-of-two",
            Self::Alternate => "alternate",
            Self::Flap => "flap",
            Self::FlapOneOfTwo => "flap-one-of-two",
        }
    }

    /// The heading of its table.
    pub(crate) fn title(self, t: &Timing) -> String {
        let (outage, flap) = (t.outage.as_secs_f64(), t.flap.as_secs_f64());
        match self {
            Self::Restart => format!("1. A single endpoint killed for {outage:.0} s and restarted"),
            Self::OneOfTwo => format!("2. Two endpoints, one killed for {outage:.0} s"),
            Self::Alternate => format!("3. Primary pool down for {outage:.0} s, alternate pool up"),
            Self::Flap => {
                format!("4. A single endpoint flapping (up {flap:.0} s / down {flap:.0} s)")
            }
            Self::FlapOneOfTwo => {
                format!("5. Two endpoints, one flapping (up {flap:.0} s / down {flap:.0} s)")
            }
        }
    }

    /// The upstreams behind the gateway.
    pub(crate) fn layout(self) -> Layout {
        match self {
            Self::Restart | Self::Flap => Layout::Single,
            Self::OneOfTwo | Self::FlapOneOfTwo => Layout::Pair,
            Self::Alternate => Layout::Alternate,
        }
    }

    /// The gateways it compares. Levee without `health_check` only in
    /// scenario 1, where its recovery comes from the built-in connect probe.
    pub(crate) fn gateways(self) -> Vec<Gateway> {
        let mut all = vec![
            Gateway::Levee { checks: true },
            Gateway::Haproxy,
            Gateway::Nginx,
        ];
        if self == Self::Restart {
            all.insert(0, Gateway::Levee { checks: false });
        }
        all
    }

    /// The upstream that goes down: the only one, `b` of a pair, the primary.
    fn victim(self) -> usize {
        match self {
            Self::OneOfTwo | Self::FlapOneOfTwo => 1,
            Self::Restart | Self::Flap | Self::Alternate => 0,
        }
    }

    /// The leg's plan: how long, and who goes down and comes back when.
    ///
    /// The return (and a flapping endpoint's whole timeline) is shifted by
    /// a fraction of a second drawn from `seed` ([`phase`]): the gateways
    /// check every second from about the start of the load, so with whole
    /// seconds every repeat would meet their checks at the same phase, and
    /// the time to the first 2xx would be one sample of a 0–1 s spread,
    /// not its median. The span leaves room for the largest shift.
    pub(crate) fn plan(self, t: &Timing, seed: u64) -> Plan {
        let victim = self.victim();
        let shift = phase(seed);
        let (span, timeline) = match self {
            Self::Restart | Self::OneOfTwo | Self::Alternate => (
                t.before + t.outage + PHASE + t.after,
                vec![
                    (t.before, victim, Action::Kill),
                    (t.before + t.outage + shift, victim, Action::Restart),
                ],
            ),
            Self::Flap | Self::FlapOneOfTwo => {
                let mut timeline = Vec::new();
                for k in 0..t.flaps {
                    timeline.push((shift + t.flap * (2 * k + 1), victim, Action::Kill));
                    timeline.push((shift + t.flap * (2 * k + 2), victim, Action::Restart));
                }
                (t.flap * (2 * t.flaps + 1) + PHASE, timeline)
            }
        };
        Plan {
            layout: self.layout(),
            span,
            timeline,
            seed,
        }
    }

    /// Its figures, in table order.
    pub(crate) fn columns(self) -> Vec<Column> {
        use Unit::*;
        match self {
            Self::Restart => vec![
                col("first 2xx after the return", Seconds),
                col("every request 2xx from (after the return)", Seconds),
                col("outage: 503 + Retry-After", Count),
                col("outage: other answers", Count),
                col("client timeouts", Count),
                col("errors outside the outage", Count),
                col("Retry-After min", Whole),
                col("Retry-After max", Whole),
                col("Retry-After in the outage's last second", Whole),
            ],
            Self::OneOfTwo => vec![
                col("client-visible errors", Count),
                col("of them, in flight at the kill", Count),
                col("of them, during the outage", Count),
                col("goodput kept during the outage", Share),
                col("returned endpoint back to ≥ 25 % after", Seconds),
                col("client timeouts", Count),
            ],
            Self::Alternate => vec![
                col("served from 2 s after the kill", Share),
                col("every request 2xx from (after the kill)", Seconds),
                col("client-visible errors", Count),
                col("of them, in flight at the kill", Count),
                col("back on the primary (≥ 90 %) after the return", Seconds),
                col("client timeouts", Count),
            ],
            Self::Flap => vec![
                col("2xx/s", PerSecond),
                col("2xx of requests sent while up", Share),
                col("503 + Retry-After", Count),
                col("other errors", Count),
                col("client timeouts", Count),
            ],
            Self::FlapOneOfTwo => vec![
                col("2xx/s", PerSecond),
                col("client-visible errors", Count),
                col("of them, in flight at a kill", Count),
                col("client timeouts", Count),
            ],
        }
    }

    /// The figures of one leg, in [`Scenario::columns`] order.
    pub(crate) fn figures(self, trace: &Trace) -> Vec<Option<f64>> {
        let run = &trace.run;
        let end = run.duration;
        let victim = self.victim();
        let when = |action: Action| {
            trace
                .events
                .iter()
                .find(|e| e.1 == victim && e.2 == action)
                .map(|e| e.0)
        };
        let secs = |d: Option<Duration>| d.map(|d| d.as_secs_f64());
        let n = |v: usize| Some(v as f64);
        let all = Counts::of(run, Duration::ZERO, end);
        match self {
            Self::Restart | Self::OneOfTwo | Self::Alternate => {
                let (Some(kill), Some(back)) = (when(Action::Kill), when(Action::Restart)) else {
                    return vec![None; self.columns().len()];
                };
                let outage = Counts::of(run, kill, back);
                match self {
                    Self::Restart => vec![
                        secs(first_success_after(run, back)),
                        secs(all_success_after(run, back, end)),
                        n(outage.refused_well),
                        n(outage.other),
                        n(all.timeouts),
                        n(all.errors() - outage.errors()),
                        outage.retry_after.map(|r| r.0 as f64),
                        outage.retry_after.map(|r| r.1 as f64),
                        Counts::of(run, back.saturating_sub(Duration::from_secs(1)), back)
                            .retry_after
                            .map(|r| r.1 as f64),
                    ],
                    Self::OneOfTwo => vec![
                        n(all.errors()),
                        n(Counts::in_flight_at(run, kill)),
                        n(outage.errors()),
                        outage.success_share(),
                        secs(share_holds_after(&trace.samples, victim, 0.25, back, end)),
                        n(all.timeouts),
                    ],
                    _ => {
                        let settled = kill + Duration::from_secs(2);
                        vec![
                            Counts::of(run, settled, back).success_share(),
                            secs(all_success_after(run, kill, back)),
                            n(all.errors()),
                            n(Counts::in_flight_at(run, kill)),
                            secs(share_holds_after(&trace.samples, victim, 0.9, back, end)),
                            n(all.timeouts),
                        ]
                    }
                }
            }
            Self::Flap => {
                let up = up_windows(&trace.events, victim, end);
                let (sent, served) = up.iter().fold((0, 0), |(s, ok), (from, to)| {
                    let c = Counts::of(run, *from, *to);
                    (s + c.requests, ok + c.success)
                });
                vec![
                    Some(all.success as f64 / end.as_secs_f64().max(1e-9)),
                    (sent > 0).then(|| served as f64 / sent as f64),
                    n(all.refused_well),
                    n(all.other),
                    n(all.timeouts),
                ]
            }
            Self::FlapOneOfTwo => {
                let cut = trace
                    .events
                    .iter()
                    .filter(|e| e.1 == victim && e.2 == Action::Kill)
                    .map(|e| Counts::in_flight_at(run, e.0))
                    .sum();
                vec![
                    Some(all.success as f64 / end.as_secs_f64().max(1e-9)),
                    n(all.errors()),
                    n(cut),
                    n(all.timeouts),
                ]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use levee_sim::load::{Outcome, RequestRecord, Run};

    fn timing() -> Timing {
        Timing {
            before: Duration::from_secs(3),
            outage: Duration::from_secs(10),
            after: Duration::from_secs(7),
            flap: Duration::from_secs(2),
            flaps: 4,
        }
    }

    #[test]
    fn plans_are_bounded_and_end_with_every_upstream_up() {
        for scenario in ALL {
            let plan = scenario.plan(&timing(), 1);
            assert!(plan.span <= Duration::from_secs(21), "{scenario:?}");
            assert!(plan.timeline.windows(2).all(|w| w[0].0 < w[1].0));
            assert!(plan.timeline.iter().all(|e| e.0 < plan.span));
            assert_eq!(plan.timeline.last().map(|e| e.2), Some(Action::Restart));
            let empty = Trace {
                run: Run {
                    records: Vec::new(),
                    labels: Vec::new(),
                    duration: plan.span,
                    deadline: Duration::from_secs(1),
                    elapsed: plan.span,
                },
                samples: Vec::new(),
                events: Vec::new(),
            };
            assert_eq!(scenario.columns().len(), scenario.figures(&empty).len());
        }
        assert_eq!(Scenario::Flap.plan(&timing(), 1).timeline.len(), 8);
    }

    #[test]
    fn the_phase_differs_by_seed_and_stays_within_a_second() {
        let phases: Vec<Duration> = (100..110).map(phase).collect();
        assert!(phases.iter().all(|p| *p < PHASE));
        assert!(phases.windows(2).all(|w| w[0] != w[1]));
        assert_eq!(phase(7), phase(7));
        let plan = Scenario::Restart.plan(&timing(), 7);
        assert_eq!(plan.timeline[1].0, Duration::from_secs(13) + phase(7));
        assert_eq!(plan.span, Duration::from_secs(21));
    }

    #[test]
    fn restart_figures_read_the_outage_window() {
        let ms = Duration::from_millis;
        let record = |at: u64, outcome, retry_after| RequestRecord {
            at: ms(at),
            lag: Duration::ZERO,
            stream: 0,
            outcome,
            latency: ms(10),
            retry_after,
        };
        let trace = Trace {
            run: Run {
                records: vec![
                    record(1_000, Outcome::Success, None),
                    record(2_990, Outcome::Status(502), None),
                    record(4_000, Outcome::Unavailable, Some(1)),
                    record(5_000, Outcome::Unavailable, None),
                    record(13_500, Outcome::Success, None),
                    record(14_000, Outcome::Success, None),
                ],
                labels: vec!["all".into()],
                duration: ms(20_000),
                deadline: ms(1_000),
                elapsed: ms(20_000),
            },
            samples: Vec::new(),
            events: vec![
                (ms(3_000), 0, Action::Kill),
                (ms(13_000), 0, Action::Restart),
            ],
        };
        assert_eq!(
            Scenario::Restart.figures(&trace),
            vec![
                Some(0.51),
                Some(0.0),
                Some(1.0),
                Some(1.0),
                Some(0.0),
                Some(1.0),
                Some(1.0),
                Some(1.0),
                None
            ]
        );
    }
}
