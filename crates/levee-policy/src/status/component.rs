//! [`Component`]: one component's reported level, from its raw level with
//! hysteresis, maintenance windows and an operator's pin.
//!
//! This file owns when the reported level changes; what the signals mean is
//! `signals.rs`'s. It keeps no history but one run start per level, so a
//! component costs the same whatever its periods.

use std::time::Duration;

use super::signals::Signals;
use super::words::period;
use super::{Change, Level, Sample, Thresholds};

/// One component's evaluator: feed it a [`Sample`] a second with
/// [`Component::observe`]; it says when the reported level changes, and why.
///
/// - **Rising** to a worse level waits until the raw level has been at least
///   that bad for [`Thresholds::raise_after`]; it rises to the least bad raw
///   level seen over that time.
/// - **Falling** to a better level waits until the raw level has been at
///   least that good for [`Thresholds::clear_after`]; it falls to the worst
///   raw level seen over that time.
/// - **Each change restarts both clocks**: what the raw level did before the
///   last change does not count towards the next. So the level holds for at
///   least [`Thresholds::min_hold`], whatever the samples.
/// - **Maintenance** ([`Sample::maintenance`]) changes the level at once,
///   both ways. Leaving it starts afresh: the level is operational, the
///   samples from before are forgotten, and a worse raw level is reported
///   after `raise_after` like any other (so health checks that take a few
///   seconds to see restarted endpoints do not flash an outage).
/// - **A pin** ([`Component::pin`]) is reported while it lasts; the live
///   level is still evaluated underneath, so removing the pin reports it at
///   once.
#[derive(Debug, Clone)]
pub struct Component {
    signals: Signals,
    /// The latest raw level (never `UnderMaintenance`).
    raw: Level,
    /// For each level (by [`Level::index`]): since when the raw level has
    /// been at least that bad, continuously (`None`: it is better now).
    worse_since: [Option<Duration>; 5],
    /// For each level: since when the raw level has been at least that
    /// good, continuously.
    better_since: [Option<Duration>; 5],
    /// The level evaluated from the signals, and since when.
    live: Level,
    live_since: Duration,
    /// The operator's pin, if any.
    pin: Option<Level>,
    /// The level reported (the pin, else `live`), and since when.
    reported: Level,
    reported_since: Duration,
    /// The latest `now` seen: time never goes backwards here.
    last_now: Duration,
}

impl Component {
    /// A component first seen at `now`: operational until its signals say
    /// otherwise for `raise_after`.
    pub fn new(now: Duration) -> Self {
        Self {
            signals: Signals::default(),
            raw: Level::Operational,
            worse_since: [None; 5],
            better_since: [None; 5],
            live: Level::Operational,
            live_since: now,
            pin: None,
            reported: Level::Operational,
            reported_since: now,
            last_now: now,
        }
    }

    /// The level reported now.
    pub fn level(&self) -> Level {
        self.reported
    }

    /// When the reported level began.
    pub fn since(&self) -> Duration {
        self.reported_since
    }

    /// The level evaluated from the signals, pin or not.
    pub fn live_level(&self) -> Level {
        self.live
    }

    /// The operator's pin, if one is in force.
    pub fn pinned(&self) -> Option<Level> {
        self.pin
    }

    /// The raw level of the latest window (what the level would be without
    /// hysteresis; `UnderMaintenance` in a maintenance window).
    pub fn raw_level(&self) -> Level {
        if self.signals.maintenance() {
            Level::UnderMaintenance
        } else {
            self.raw
        }
    }

    /// Takes the sample of the second that ended at `now`; returns the
    /// change of the reported level it caused, if any.
    pub fn observe(&mut self, now: Duration, sample: Sample, th: &Thresholds) -> Option<Change> {
        let now = self.advance(now);
        let maintenance = sample.maintenance;
        let leaving = !maintenance && self.live == Level::UnderMaintenance;
        if leaving {
            self.signals.clear();
        }
        self.signals.push(now, sample, th.window);

        if maintenance {
            self.forget_runs();
            if self.live != Level::UnderMaintenance {
                return self.set_live(now, Level::UnderMaintenance, || {
                    "maintenance window in force".to_owned()
                });
            }
            return None;
        }
        if leaving {
            self.forget_runs();
            self.track(now, th);
            return self.set_live(now, Level::Operational, || {
                "maintenance window ended".to_owned()
            });
        }
        self.track(now, th);
        let (to, rising) = self.target(now, th)?;
        if rising {
            let cause = self.signals.explain(to, th);
            self.set_live(now, to, || cause)
        } else {
            let held = period(th.clear_after);
            let cause = if to == Level::Operational {
                format!("recovered: {} for {held}", self.signals.now(th))
            } else {
                format!("improved for {held}: now {}", self.signals.now(th))
            };
            self.set_live(now, to, || cause)
        }
    }

    /// Pins the reported level to `pin` at `now` (`None` removes the pin);
    /// returns the change of the reported level, if it changed. The live
    /// level goes on being evaluated underneath.
    pub fn pin(&mut self, now: Duration, pin: Option<Level>) -> Option<Change> {
        let now = self.advance(now);
        self.pin = pin;
        let cause = if pin.is_some() {
            "pinned by an operator"
        } else {
            "pin removed"
        };
        self.report(now, || cause.to_owned())
    }

    fn advance(&mut self, now: Duration) -> Duration {
        self.last_now = self.last_now.max(now);
        self.last_now
    }

    fn forget_runs(&mut self) {
        self.worse_since = [None; 5];
        self.better_since = [None; 5];
    }

    /// Updates the raw level and the runs with the window as it is at `now`.
    fn track(&mut self, now: Duration, th: &Thresholds) {
        self.raw = self.signals.raw(th);
        for level in Level::ALL {
            let i = level.index();
            self.worse_since[i] = (self.raw >= level).then(|| self.worse_since[i].unwrap_or(now));
            self.better_since[i] = (self.raw <= level).then(|| self.better_since[i].unwrap_or(now));
        }
    }

    /// The level the live level should move to now, and whether it is a rise.
    fn target(&self, now: Duration, th: &Thresholds) -> Option<(Level, bool)> {
        // A run counts only from the last change: each change restarts the
        // clocks, so the level holds for at least min(raise, clear).
        let held =
            |since: Option<Duration>| since.map(|s| now.saturating_sub(s.max(self.live_since)));
        let candidates = |l: &Level| *l != Level::UnderMaintenance;
        // The worst level the raw level has stayed at or above for raise_after.
        let rise = Level::ALL
            .into_iter()
            .rev()
            .filter(candidates)
            .filter(|&l| l > self.live)
            .find(|&l| held(self.worse_since[l.index()]).is_some_and(|d| d >= th.raise_after));
        if let Some(to) = rise {
            return Some((to, true));
        }
        // The best level the raw level has stayed at or below for clear_after.
        Level::ALL
            .into_iter()
            .filter(candidates)
            .filter(|&l| l < self.live)
            .find(|&l| held(self.better_since[l.index()]).is_some_and(|d| d >= th.clear_after))
            .map(|to| (to, false))
    }

    fn set_live(
        &mut self,
        now: Duration,
        to: Level,
        cause: impl FnOnce() -> String,
    ) -> Option<Change> {
        self.live = to;
        self.live_since = now;
        self.report(now, cause)
    }

    /// Recomputes the reported level; the change, if it changed.
    fn report(&mut self, now: Duration, cause: impl FnOnce() -> String) -> Option<Change> {
        let to = self.pin.unwrap_or(self.live);
        if to == self.reported {
            return None;
        }
        let from = std::mem::replace(&mut self.reported, to);
        self.reported_since = now;
        Some(Change {
            from,
            to,
            at: now,
            cause: cause(),
        })
    }
}
