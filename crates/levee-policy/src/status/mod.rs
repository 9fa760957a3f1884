//! What the status page says about a component, and when an incident opens
//! for it: levels with hysteresis, and incident automation, as pure state.
//!
//! This module owns two decisions the control plane makes once a second per
//! component (a route or a pool, as the status page lists them):
//!
//! - **the component's level** ([`Component`]): from the second-by-second
//!   signals the gateway saw ([`Sample`]), the *raw* level of the last
//!   [`Thresholds::window`], and from that, with hysteresis, the level the
//!   page reports, and every change of it with its cause in words;
//! - **incident automation** ([`IncidentTracker`]): when to open an automatic
//!   incident for a component, update it and resolve it.
//!
//! It must not read the clock, do I/O, spawn or format for a particular
//! page: it takes `now` and says what changed; the control plane stores the
//! change, writes the incident and renders the page.
//!
//! # Time
//!
//! Time here is a [`Duration`] since an origin the caller picks and keeps
//! (not an `Instant`): pass the time since the Unix epoch and every `at` and
//! `since` this module returns can be stored and shown as it is. Time that
//! goes backwards is taken as the latest time seen, never a panic.
//!
//! # Why hysteresis
//!
//! A status page is read by people deciding whether to page someone, tweet or
//! wait. A level that flaps every few seconds says nothing; one that lags a
//! real outage by minutes is a lie. So the reported level rises only once the
//! raw level has been at least as bad for [`Thresholds::raise_after`] (10 s:
//! fast), and falls only once it has been at least as good for
//! [`Thresholds::clear_after`] (60 s: recoveries are confirmed, not guessed);
//! and each change restarts both clocks, so the level holds for at least the
//! shorter of the two whatever the signals do. A maintenance window's start
//! and end are facts, not noisy signals: they change the level at once. An
//! operator's pin overrides the level while it lasts.
//!
//! ```
//! use std::time::Duration;
//! use levee_policy::status::{Component, Level, Sample, Thresholds};
//!
//! let thresholds = Thresholds::default();
//! let mut api = Component::new(Duration::ZERO);
//! let pool_down = Sample { endpoints: 2, pools: 1, pools_down: 1,
//!     down_pools: vec!["api".into()], ..Sample::default() };
//! let mut changes = Vec::new();
//! for s in 1..=11 {
//!     changes.extend(api.observe(Duration::from_secs(s), pool_down.clone(), &thresholds));
//! }
//! // Seen first at 1 s, reported 10 s later.
//! assert_eq!(changes.len(), 1);
//! assert_eq!(changes[0].to, Level::MajorOutage);
//! assert_eq!(changes[0].at, Duration::from_secs(11));
//! assert_eq!(changes[0].cause, "2 of 2 endpoints down in pool `api`");
//! ```

mod automation;
mod component;
mod signals;
mod thresholds;
mod words;

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;

use std::fmt;
use std::time::Duration;

pub use automation::{Action, Automation, IncidentTracker};
pub use component::Component;
pub use signals::Sample;
pub use thresholds::Thresholds;

/// A component's status, as Statuspage names it, in order of severity.
///
/// The order (`Ord`) is the rollup order: the worst of several components is
/// their maximum. [`Level::UnderMaintenance`] sits just above operational: it
/// is planned, so it outranks nothing that is actually broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Everything the gateway sees is fine.
    Operational,
    /// A maintenance window is in force for the component.
    UnderMaintenance,
    /// Answers come, but too many are slow or shed for overload.
    DegradedPerformance,
    /// Some pools or endpoints are down, or too many answers are 5xx.
    PartialOutage,
    /// Nothing can answer, or nearly every answer is 5xx.
    MajorOutage,
}

impl Level {
    /// Every level, least severe first.
    pub const ALL: [Level; 5] = [
        Level::Operational,
        Level::UnderMaintenance,
        Level::DegradedPerformance,
        Level::PartialOutage,
        Level::MajorOutage,
    ];

    /// Statuspage's name for the level (`major_outage`), as stored and served.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Operational => "operational",
            Level::UnderMaintenance => "under_maintenance",
            Level::DegradedPerformance => "degraded_performance",
            Level::PartialOutage => "partial_outage",
            Level::MajorOutage => "major_outage",
        }
    }

    /// The level named `name` by [`Level::as_str`], if any.
    pub fn parse(name: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == name)
    }

    /// Whether something is broken: degraded, partial or major. Maintenance
    /// is planned, so it is not an incident.
    pub fn is_incident(self) -> bool {
        self >= Level::DegradedPerformance
    }

    /// The level's position in [`Level::ALL`].
    fn index(self) -> usize {
        self as usize
    }
}

/// The level in words for people: `major outage`.
impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Operational => "operational",
            Level::UnderMaintenance => "under maintenance",
            Level::DegradedPerformance => "degraded performance",
            Level::PartialOutage => "partial outage",
            Level::MajorOutage => "major outage",
        })
    }
}

/// A change of a component's reported level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The level before.
    pub from: Level,
    /// The level now.
    pub to: Level,
    /// When it changed (the `now` of the call that changed it).
    pub at: Duration,
    /// What caused it, in words with numbers, for people: `7.3 % of 1,204
    /// requests answered 5xx in the last 60 s`.
    pub cause: String,
}
