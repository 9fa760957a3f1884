//! Incident automation: when Levee opens, updates and resolves an incident
//! for a component by itself.
//!
//! This file owns the decision only. It does not write incidents, name them
//! or notify anyone; the control plane does what an [`Action`] says and tells
//! the tracker when an operator took an incident over.
//!
//! An incident opens once a component has been broken (degraded, partial or
//! major, per [`Level::is_incident`]) for [`Automation::open_after`], so a
//! short dip reported by the level's hysteresis still does not page the
//! world; maintenance is scheduled, not an incident. While the incident is
//! Levee's, each change of level updates it and a return to operational (or
//! to maintenance) resolves it. Once an operator resolves or writes to it,
//! it is theirs ([`IncidentTracker::released`]): Levee leaves it alone, and
//! only the next outage, after the component was fine again, opens a new one.

use std::time::Duration;

use super::{Change, Level};

/// The incident automation's setting, shared by every component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Automation {
    /// Open an incident once a component has been broken this long; `None`
    /// turns automation off (an incident Levee already opened is still
    /// updated and resolved). Default 60 s.
    pub open_after: Option<Duration>,
}

impl Default for Automation {
    fn default() -> Self {
        Self {
            open_after: Some(Duration::from_secs(60)),
        }
    }
}

/// What the control plane should do about a component's automatic incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open an incident: the component has been broken since `since` and is
    /// at `level` now.
    Open {
        /// The component's level now (the incident's impact follows from it).
        level: Level,
        /// When the component stopped being operational.
        since: Duration,
        /// The cause of the latest change, in words.
        cause: String,
    },
    /// Add an update to the open incident: the level changed.
    Update {
        /// The level the incident last said.
        from: Level,
        /// The level now.
        to: Level,
        /// The change's cause, in words.
        cause: String,
    },
    /// Resolve the open incident: the component is operational again, or in
    /// maintenance.
    Resolve {
        /// The change's cause, in words.
        cause: String,
    },
}

/// Where one component's automatic incident stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// Operational or in maintenance: nothing to do.
    Quiet,
    /// Broken since `since`, not yet for `open_after`: no incident yet.
    Pending {
        level: Level,
        since: Duration,
        cause: String,
    },
    /// Levee's incident is open and last said `level`.
    Open { level: Level },
    /// The incident was released to an operator while the component was
    /// still broken: nothing until the component is fine again.
    Released,
}

/// One component's incident automation state: feed it the component's
/// [`Change`]s and call [`IncidentTracker::tick`] once a second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentTracker {
    phase: Phase,
}

impl Default for IncidentTracker {
    fn default() -> Self {
        Self::new()
    }
}

impl IncidentTracker {
    /// A tracker for an operational component with no incident open.
    pub fn new() -> Self {
        Self {
            phase: Phase::Quiet,
        }
    }

    /// A tracker for a component whose automatic incident, last saying
    /// `level`, is open (read back from the store at start). The next change
    /// updates or resolves it.
    pub fn resume(level: Level) -> Self {
        Self {
            phase: Phase::Open { level },
        }
    }

    /// Whether Levee's incident for the component is open.
    pub fn is_open(&self) -> bool {
        matches!(self.phase, Phase::Open { .. })
    }

    /// Takes a change of the component's reported level; what to do, if
    /// anything. Opening is checked at the change's time too, so with
    /// `open_after` zero the incident opens with the change.
    pub fn on_change(&mut self, auto: &Automation, change: &Change) -> Option<Action> {
        let broken = change.to.is_incident();
        match (&mut self.phase, broken) {
            (Phase::Quiet, true) => {
                self.phase = Phase::Pending {
                    level: change.to,
                    since: change.at,
                    cause: change.cause.clone(),
                };
                self.tick(auto, change.at)
            }
            (Phase::Pending { level, cause, .. }, true) => {
                *level = change.to;
                cause.clone_from(&change.cause);
                self.tick(auto, change.at)
            }
            (Phase::Open { level }, true) => {
                let from = std::mem::replace(level, change.to);
                (from != change.to).then(|| Action::Update {
                    from,
                    to: change.to,
                    cause: change.cause.clone(),
                })
            }
            (Phase::Open { .. }, false) => {
                self.phase = Phase::Quiet;
                Some(Action::Resolve {
                    cause: change.cause.clone(),
                })
            }
            (Phase::Released, true) => None,
            (Phase::Quiet | Phase::Pending { .. } | Phase::Released, false) => {
                self.phase = Phase::Quiet;
                None
            }
        }
    }

    /// Opens the incident once the component has been broken for
    /// `open_after`; call it once a second so an incident opens on time
    /// without a new change.
    pub fn tick(&mut self, auto: &Automation, now: Duration) -> Option<Action> {
        let open_after = auto.open_after?;
        match &mut self.phase {
            Phase::Pending {
                level,
                since,
                cause,
            } if now.saturating_sub(*since) >= open_after => {
                let (level, since) = (*level, *since);
                let cause = std::mem::take(cause);
                self.phase = Phase::Open { level };
                Some(Action::Open {
                    level,
                    since,
                    cause,
                })
            }
            _ => None,
        }
    }

    /// The incident Levee opened was resolved or taken over by an operator:
    /// Levee no longer acts on it. The next outage, once the component is
    /// fine again, opens a new one.
    pub fn released(&mut self) {
        if self.is_open() {
            self.phase = Phase::Released;
        }
    }
}
