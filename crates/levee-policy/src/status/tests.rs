//! Component levels and incident automation in simulated time: one sample a
//! second, `t` seconds since the component was created.

use std::time::Duration;

use super::*;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Two endpoints in pool `api`, both up, `requests` a second, all fine.
fn healthy(requests: u64) -> Sample {
    Sample {
        requests,
        endpoints: 2,
        endpoints_up: 2,
        pools: 1,
        ..Sample::default()
    }
}

/// Pool `api` down: every request answered 503 by the gateway.
fn pool_down(requests: u64) -> Sample {
    Sample {
        requests,
        server_errors: requests,
        endpoints: 2,
        endpoints_up: 0,
        pools: 1,
        pools_down: 1,
        down_pools: vec!["api".to_owned()],
        ..Sample::default()
    }
}

fn failing(requests: u64, server_errors: u64) -> Sample {
    Sample {
        server_errors,
        ..healthy(requests)
    }
}

fn maintenance() -> Sample {
    Sample {
        maintenance: true,
        ..healthy(0)
    }
}

/// A component fed one sample a second.
struct Sim {
    component: Component,
    thresholds: Thresholds,
    t: u64,
    changes: Vec<Change>,
}

impl Sim {
    fn new() -> Self {
        Self::with(Thresholds::default())
    }

    fn with(thresholds: Thresholds) -> Self {
        Self {
            component: Component::new(Duration::ZERO),
            thresholds,
            t: 0,
            changes: Vec::new(),
        }
    }

    /// Feeds `sample` for the next `n` seconds; the changes it caused.
    fn run(&mut self, n: u64, sample: &Sample) -> Vec<Change> {
        let before = self.changes.len();
        for _ in 0..n {
            self.t += 1;
            let change = self
                .component
                .observe(secs(self.t), sample.clone(), &self.thresholds);
            self.changes.extend(change);
        }
        self.changes[before..].to_vec()
    }

    fn level(&self) -> Level {
        self.component.level()
    }
}

#[test]
fn a_pool_down_is_a_major_outage_after_raise_after_not_before() {
    let mut sim = Sim::new();
    assert!(sim.run(30, &healthy(10)).is_empty());
    // First seen at t = 31; ten seconds later is t = 41.
    assert!(sim.run(10, &pool_down(10)).is_empty(), "not before 10 s");
    assert_eq!(sim.level(), Level::Operational);
    assert_eq!(sim.component.raw_level(), Level::MajorOutage);
    let changes = sim.run(1, &pool_down(10));
    assert_eq!(
        changes,
        [Change {
            from: Level::Operational,
            to: Level::MajorOutage,
            at: secs(41),
            cause: "2 of 2 endpoints down in pool `api`".to_owned(),
        }]
    );
    assert_eq!(sim.component.since(), secs(41));
}

#[test]
fn a_one_second_blip_never_changes_the_level() {
    let mut sim = Sim::new();
    sim.run(60, &healthy(100));
    // Every request of one second fails: 100 of 6,000 in the window.
    sim.run(1, &failing(100, 100));
    // A health check's one-second miss.
    sim.run(30, &healthy(100));
    sim.run(1, &pool_down(100));
    sim.run(120, &healthy(100));
    assert!(sim.changes.is_empty(), "{:?}", sim.changes);
}

#[test]
fn recovery_takes_clear_after() {
    let mut sim = Sim::new();
    // No traffic: only the gauges speak, so the raw level is good at once.
    sim.run(11, &pool_down(0));
    assert_eq!(sim.level(), Level::MajorOutage);
    // Good from t = 12; 60 s later is t = 72.
    assert!(sim.run(60, &healthy(0)).is_empty(), "not before 60 s");
    let changes = sim.run(1, &healthy(0));
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].to, Level::Operational);
    assert_eq!(changes[0].at, secs(72));
    assert_eq!(
        changes[0].cause,
        "recovered: no requests and all 2 endpoints up for 60 s"
    );
}

#[test]
fn recovery_from_failing_requests_waits_for_the_window_to_clear_too() {
    let mut sim = Sim::new();
    sim.run(30, &pool_down(100));
    assert_eq!(sim.level(), Level::MajorOutage);
    let changes = sim.run(200, &healthy(100));
    // The 5xx share of the last 60 s stays high after the pool is back (at
    // t = 31): below 90 % from t = 34 (partial), below 5 % from t = 88. The
    // fall to partial at 34 + 60 restarts the clock: operational 60 s later.
    let to: Vec<_> = changes.iter().map(|c| (c.to, c.at)).collect();
    assert_eq!(
        to,
        [
            (Level::PartialOutage, secs(94)),
            (Level::Operational, secs(154))
        ]
    );
    assert_eq!(
        changes[0].cause,
        "improved for 60 s: now 0 % 5xx, 0 % shed or slow and all 2 endpoints up"
    );
    assert_eq!(
        changes[1].cause,
        "recovered: 0 % 5xx, 0 % shed or slow and all 2 endpoints up for 60 s"
    );
}

#[test]
fn flapping_signals_do_not_flap_the_level() {
    let mut sim = Sim::new();
    for _ in 0..30 {
        sim.run(2, &pool_down(0));
        sim.run(2, &healthy(0));
    }
    assert!(sim.changes.is_empty(), "{:?}", sim.changes);

    sim.run(11, &pool_down(0));
    assert_eq!(sim.level(), Level::MajorOutage);
    let before = sim.changes.len();
    for _ in 0..60 {
        sim.run(2, &healthy(0));
        sim.run(2, &pool_down(0));
    }
    assert_eq!(sim.changes.len(), before, "{:?}", &sim.changes[before..]);
}

#[test]
fn maintenance_changes_the_level_at_once_both_ways() {
    let mut sim = Sim::new();
    sim.run(20, &pool_down(0));
    assert_eq!(sim.level(), Level::MajorOutage);

    let changes = sim.run(1, &maintenance());
    assert_eq!(changes.len(), 1);
    assert_eq!(
        (changes[0].from, changes[0].to, changes[0].at),
        (Level::MajorOutage, Level::UnderMaintenance, secs(21))
    );
    assert_eq!(changes[0].cause, "maintenance window in force");
    assert!(sim.run(600, &maintenance()).is_empty());

    // It ends while the pool is still down: operational at once, then the
    // outage is reported after raise_after like a fresh one.
    let changes = sim.run(1, &pool_down(0));
    assert_eq!(
        (changes[0].from, changes[0].to, changes[0].at),
        (Level::UnderMaintenance, Level::Operational, secs(622))
    );
    assert_eq!(changes[0].cause, "maintenance window ended");
    assert!(sim.run(9, &pool_down(0)).is_empty());
    let changes = sim.run(1, &pool_down(0));
    assert_eq!(changes[0].to, Level::MajorOutage);
    assert_eq!(changes[0].at, secs(632));
}

#[test]
fn the_requests_before_a_maintenance_window_are_forgotten_when_it_ends() {
    let mut sim = Sim::new();
    sim.run(5, &failing(100, 100));
    sim.run(5, &maintenance());
    sim.run(120, &healthy(1));
    let to: Vec<_> = sim.changes.iter().map(|c| c.to).collect();
    assert_eq!(to, [Level::UnderMaintenance, Level::Operational]);
}

#[test]
fn min_requests_keeps_one_failure_on_an_idle_component_from_being_an_outage() {
    let mut sim = Sim::new();
    sim.run(1, &failing(1, 1));
    sim.run(59, &healthy(0));
    assert!(sim.changes.is_empty(), "{:?}", sim.changes);
    assert_eq!(sim.component.raw_level(), Level::Operational);

    // Twenty requests, all failing, is an outage.
    sim.run(20, &healthy(0));
    // Two a second: the window holds 20 from t = 90, major from t = 100.
    assert!(sim.run(19, &failing(2, 2)).is_empty());
    let changes = sim.run(1, &failing(2, 2));
    assert_eq!(changes[0].to, Level::MajorOutage);
    assert_eq!(changes[0].at, secs(100));
}

#[test]
fn causes_give_the_signal_in_words_with_numbers() {
    let mut sim = Sim::new();
    sim.run(1, &failing(1_204, 88));
    let changes = sim.run(10, &healthy(0));
    assert_eq!(
        changes[0].cause,
        "7.3 % of 1,204 requests answered 5xx in the last 60 s"
    );
    assert_eq!(changes[0].to, Level::PartialOutage);

    let mut sim = Sim::new();
    let overloaded = Sample {
        shed: 70,
        slow: 50,
        ..healthy(1_000)
    };
    sim.run(1, &overloaded);
    let changes = sim.run(10, &healthy(0));
    assert_eq!(changes[0].to, Level::DegradedPerformance);
    assert_eq!(
        changes[0].cause,
        "12 % of 1,000 requests shed or slow in the last 60 s (70 shed, 50 slow)"
    );

    let mut sim = Sim::new();
    let nothing_through = Sample {
        server_errors: 10,
        shed: 20,
        ..healthy(30)
    };
    let changes = sim.run(11, &nothing_through);
    assert_eq!(changes[0].to, Level::MajorOutage);
    assert_eq!(
        changes[0].cause,
        "none of 330 requests in the last 60 s answered without a 5xx (110 5xx, 220 shed for overload)"
    );

    let mut sim = Sim::new();
    let one_endpoint_out = Sample {
        endpoints_up: 1,
        ..healthy(0)
    };
    let changes = sim.run(11, &one_endpoint_out);
    assert_eq!(changes[0].to, Level::PartialOutage);
    assert_eq!(changes[0].cause, "1 of 2 endpoints down");

    // One endpoint of four out, requests answered: failover at work, not an
    // outage users see.
    let mut sim = Sim::new();
    let one_of_four_out = Sample {
        endpoints: 4,
        endpoints_up: 3,
        ..healthy(50)
    };
    assert!(sim.run(120, &one_of_four_out).is_empty());
    let two_of_four_out = Sample {
        endpoints_up: 2,
        ..one_of_four_out
    };
    let changes = sim.run(11, &two_of_four_out);
    assert_eq!(changes[0].cause, "2 of 4 endpoints down");

    let mut sim = Sim::new();
    let two_pools_down = Sample {
        endpoints: 4,
        pools: 3,
        pools_down: 2,
        down_pools: vec!["api".to_owned(), "web".to_owned()],
        ..healthy(0)
    };
    let changes = sim.run(11, &two_pools_down);
    assert_eq!(changes[0].cause, "2 of 3 pools down: `api`, `web`");
    let all_down = Sample {
        endpoints_up: 0,
        pools_down: 3,
        down_pools: vec!["api".to_owned(), "web".to_owned(), "img".to_owned()],
        ..two_pools_down
    };
    let changes = sim.run(11, &all_down);
    assert_eq!(changes[0].to, Level::MajorOutage);
    assert_eq!(
        changes[0].cause,
        "all 3 pools down: `api`, `web`, `img` (4 of 4 endpoints down)"
    );
}

#[test]
fn a_rise_goes_to_the_least_bad_level_seen_and_restarts_the_clock() {
    let mut sim = Sim::new();
    // Partial for 3 s, then major: over the first 10 s, partial is the least bad.
    let one_endpoint_out = Sample {
        endpoints_up: 1,
        ..healthy(0)
    };
    sim.run(3, &one_endpoint_out);
    sim.run(20, &pool_down(0));
    let to: Vec<_> = sim.changes.iter().map(|c| (c.to, c.at)).collect();
    assert_eq!(
        to,
        [
            (Level::PartialOutage, secs(11)),
            (Level::MajorOutage, secs(21))
        ],
        "major waits raise_after from the last change"
    );
    assert_eq!(sim.changes[0].cause, "2 of 2 endpoints down in pool `api`");
}

#[test]
fn a_pin_is_reported_while_the_live_level_goes_on_underneath() {
    let mut sim = Sim::new();
    sim.run(5, &healthy(10));
    let t = secs(sim.t);
    let change = sim.component.pin(t, Some(Level::PartialOutage));
    assert_eq!(
        change,
        Some(Change {
            from: Level::Operational,
            to: Level::PartialOutage,
            at: t,
            cause: "pinned by an operator".to_owned(),
        })
    );
    assert_eq!(sim.component.pinned(), Some(Level::PartialOutage));
    assert!(sim.run(30, &pool_down(10)).is_empty(), "pinned");
    assert_eq!(sim.level(), Level::PartialOutage);
    assert_eq!(sim.component.live_level(), Level::MajorOutage);

    let t = secs(sim.t);
    let change = sim.component.pin(t, None).expect("back to the live level");
    assert_eq!(
        (change.from, change.to, change.cause.as_str()),
        (Level::PartialOutage, Level::MajorOutage, "pin removed")
    );
    assert_eq!(sim.component.since(), t);

    // A pin to the level already reported changes nothing.
    assert_eq!(sim.component.pin(t, Some(Level::MajorOutage)), None);
    assert_eq!(sim.component.pin(t, None), None);
}

#[test]
fn levels_are_ordered_and_named_as_statuspage_names_them() {
    let mut sorted = Level::ALL;
    sorted.sort();
    assert_eq!(sorted, Level::ALL);
    for level in Level::ALL {
        assert_eq!(Level::parse(level.as_str()), Some(level));
    }
    assert_eq!(Level::MajorOutage.as_str(), "major_outage");
    assert_eq!(
        Level::DegradedPerformance.to_string(),
        "degraded performance"
    );
    assert_eq!(Level::parse("down"), None);
    assert!(!Level::UnderMaintenance.is_incident());
    assert!(Level::DegradedPerformance.is_incident());
}

#[test]
fn thresholds_are_validated() {
    assert_eq!(Thresholds::default().validate(), Ok(()));
    let bad = [
        Thresholds {
            window: Duration::from_millis(500),
            ..Thresholds::default()
        },
        Thresholds {
            min_requests: 0,
            ..Thresholds::default()
        },
        Thresholds {
            degraded_share: 0.0,
            ..Thresholds::default()
        },
        Thresholds {
            major_share: 1.5,
            ..Thresholds::default()
        },
        Thresholds {
            partial_share: f64::NAN,
            ..Thresholds::default()
        },
        Thresholds {
            partial_share: 0.95,
            ..Thresholds::default()
        },
        Thresholds {
            raise_after: Duration::ZERO,
            ..Thresholds::default()
        },
        Thresholds {
            clear_after: secs(86_401),
            ..Thresholds::default()
        },
    ];
    let fields: Vec<_> = bad
        .iter()
        .map(|t| t.validate().map_err(|e| e.field))
        .collect();
    assert_eq!(
        fields,
        [
            Err("window"),
            Err("min_requests"),
            Err("degraded_share"),
            Err("major_share"),
            Err("partial_share"),
            Err("partial_share"),
            Err("raise_after"),
            Err("clear_after"),
        ]
    );
}

mod automation {
    use super::*;

    fn change(from: Level, to: Level, at: u64) -> Change {
        Change {
            from,
            to,
            at: secs(at),
            cause: format!("to {to}"),
        }
    }

    /// Ticks every second from `from` to `to` inclusive; the actions.
    fn ticks(tracker: &mut IncidentTracker, auto: &Automation, from: u64, to: u64) -> Vec<Action> {
        (from..=to)
            .filter_map(|t| tracker.tick(auto, secs(t)))
            .collect()
    }

    #[test]
    fn opens_after_open_after_updates_and_resolves() {
        let auto = Automation::default();
        let mut tracker = IncidentTracker::new();
        let down = change(Level::Operational, Level::PartialOutage, 100);
        assert_eq!(tracker.on_change(&auto, &down), None);
        assert!(
            ticks(&mut tracker, &auto, 101, 159).is_empty(),
            "not before 60 s"
        );
        assert_eq!(
            ticks(&mut tracker, &auto, 160, 200),
            [Action::Open {
                level: Level::PartialOutage,
                since: secs(100),
                cause: "to partial outage".to_owned(),
            }],
            "once, on time, without a new change"
        );
        assert!(tracker.is_open());

        let worse = change(Level::PartialOutage, Level::MajorOutage, 210);
        assert_eq!(
            tracker.on_change(&auto, &worse),
            Some(Action::Update {
                from: Level::PartialOutage,
                to: Level::MajorOutage,
                cause: "to major outage".to_owned(),
            })
        );
        let fine = change(Level::MajorOutage, Level::Operational, 300);
        assert_eq!(
            tracker.on_change(&auto, &fine),
            Some(Action::Resolve {
                cause: "to operational".to_owned()
            })
        );
        assert!(!tracker.is_open());
        assert!(ticks(&mut tracker, &auto, 301, 500).is_empty());
    }

    #[test]
    fn the_level_at_opening_is_the_latest_and_since_the_first() {
        let auto = Automation::default();
        let mut tracker = IncidentTracker::new();
        tracker.on_change(
            &auto,
            &change(Level::Operational, Level::DegradedPerformance, 10),
        );
        tracker.on_change(
            &auto,
            &change(Level::DegradedPerformance, Level::MajorOutage, 40),
        );
        assert_eq!(
            tracker.on_change(&auto, &change(Level::MajorOutage, Level::PartialOutage, 70)),
            Some(Action::Open {
                level: Level::PartialOutage,
                since: secs(10),
                cause: "to partial outage".to_owned(),
            }),
            "a change after open_after opens at once"
        );
    }

    #[test]
    fn a_short_outage_and_maintenance_open_nothing() {
        let auto = Automation::default();
        let mut tracker = IncidentTracker::new();
        tracker.on_change(&auto, &change(Level::Operational, Level::MajorOutage, 10));
        tracker.on_change(&auto, &change(Level::MajorOutage, Level::Operational, 69));
        assert!(ticks(&mut tracker, &auto, 69, 300).is_empty());

        tracker.on_change(
            &auto,
            &change(Level::Operational, Level::UnderMaintenance, 400),
        );
        assert!(ticks(&mut tracker, &auto, 400, 4000).is_empty());
    }

    #[test]
    fn maintenance_resolves_an_open_incident() {
        let auto = Automation::default();
        let mut tracker = IncidentTracker::resume(Level::MajorOutage);
        assert!(matches!(
            tracker.on_change(
                &auto,
                &change(Level::MajorOutage, Level::UnderMaintenance, 5)
            ),
            Some(Action::Resolve { .. })
        ));
    }

    #[test]
    fn a_released_incident_is_left_alone_until_a_fresh_outage() {
        let auto = Automation::default();
        let mut tracker = IncidentTracker::new();
        tracker.on_change(&auto, &change(Level::Operational, Level::MajorOutage, 0));
        assert_eq!(ticks(&mut tracker, &auto, 1, 60).len(), 1);
        tracker.released();
        assert!(!tracker.is_open());

        // Still broken, changing: nothing, however long.
        assert_eq!(
            tracker.on_change(
                &auto,
                &change(Level::MajorOutage, Level::PartialOutage, 100)
            ),
            None
        );
        assert!(ticks(&mut tracker, &auto, 100, 1000).is_empty());
        assert_eq!(
            tracker.on_change(
                &auto,
                &change(Level::PartialOutage, Level::Operational, 1000)
            ),
            None,
            "the operator resolves their incident"
        );

        // A fresh outage opens a new one.
        tracker.on_change(
            &auto,
            &change(Level::Operational, Level::PartialOutage, 2000),
        );
        assert!(matches!(
            ticks(&mut tracker, &auto, 2000, 2060)[..],
            [Action::Open { since, .. }] if since == secs(2000)
        ));
    }

    #[test]
    fn off_opens_nothing_but_still_closes_what_it_opened() {
        let off = Automation { open_after: None };
        let mut tracker = IncidentTracker::new();
        tracker.on_change(&off, &change(Level::Operational, Level::MajorOutage, 0));
        assert!(ticks(&mut tracker, &off, 0, 10_000).is_empty());

        let mut tracker = IncidentTracker::resume(Level::MajorOutage);
        assert!(matches!(
            tracker.on_change(&off, &change(Level::MajorOutage, Level::Operational, 5)),
            Some(Action::Resolve { .. })
        ));
    }

    #[test]
    fn zero_open_after_opens_with_the_change() {
        let now = Automation {
            open_after: Some(Duration::ZERO),
        };
        let mut tracker = IncidentTracker::new();
        assert!(matches!(
            tracker.on_change(
                &now,
                &change(Level::Operational, Level::DegradedPerformance, 7)
            ),
            Some(Action::Open { .. })
        ));
    }

    #[test]
    fn a_component_drives_the_tracker_end_to_end() {
        let auto = Automation::default();
        let mut tracker = IncidentTracker::new();
        let mut sim = Sim::new();
        let mut actions = Vec::new();
        let mut step = |sim: &mut Sim, n: u64, sample: &Sample| {
            for change in sim.run(n, sample) {
                actions.extend(tracker.on_change(&auto, &change));
            }
            actions.extend(tracker.tick(&auto, secs(sim.t)));
        };
        for _ in 0..100 {
            step(&mut sim, 1, &pool_down(0));
        }
        for _ in 0..100 {
            step(&mut sim, 1, &healthy(0));
        }
        let kinds: Vec<_> = actions
            .iter()
            .map(|a| match a {
                Action::Open { since, .. } => format!("open since {}", since.as_secs()),
                Action::Update { to, .. } => format!("update {to}"),
                Action::Resolve { .. } => "resolve".to_owned(),
            })
            .collect();
        // Major at 11 s, open at 71 s; good from 101 s, operational at 161 s.
        assert_eq!(kinds, ["open since 11", "resolve"]);
        assert_eq!(sim.changes[1].at, secs(161));
    }
}
