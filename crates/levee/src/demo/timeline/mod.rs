//! What the demo saw on its gateways' status page: one [`Snapshot`] a
//! second per phase, and the changes between them ([`Change`]): a
//! component's status, the page's indicator, an incident opened or moved
//! on. It says them in words for the terminal, and as a section of
//! `report.html` and a part of `summary.json`.
//!
//! The words are the page's own (its JSON's statuses, indicator
//! description and incident updates), with one addition: beside a
//! component's change, the share of answers the gateway shed over the
//! status page's window, from the same counts the page is decided from.
//!
//! Pure: it is fed observations and never fetches, sleeps or prints; it
//! must not decide anything about the gateway's status itself. This file
//! owns what is recorded and what counts as a change; `words.rs` says it,
//! `render.rs` writes it for the report and summary.json.

mod render;
#[cfg(test)]
mod tests;
mod words;

pub(super) use words::settings_words;

use std::collections::VecDeque;

use crate::demo_gateway::{Answers, StatusTimes};

/// The status of a component nothing has happened to, as Statuspage names it.
const OPERATIONAL: &str = "operational";
/// The page's indicator when all is well.
const NONE: &str = "none";
/// An incident's final state.
const RESOLVED: &str = "resolved";

/// What the status page said in one sample.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Snapshot {
    /// Each component (not group): its name and status, in page order.
    pub(super) components: Vec<(String, String)>,
    /// `status.indicator`: none, minor, major or critical.
    pub(super) indicator: String,
    /// `status.description`: "All Systems Operational", ….
    pub(super) description: String,
    /// The incidents, newest first.
    pub(super) incidents: Vec<Incident>,
}

/// One incident as the page shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Incident {
    /// Its id.
    pub(super) id: String,
    /// Its title.
    pub(super) name: String,
    /// investigating, identified, monitoring or resolved.
    pub(super) status: String,
    /// none, minor, major or critical.
    pub(super) impact: String,
    /// The words of its newest update.
    pub(super) latest: String,
}

/// One sample: when, what the page said (or why it could not be read),
/// and the gateway's counts at that moment.
#[derive(Clone, Debug)]
pub(super) struct Observation {
    /// Seconds into the phase's run.
    pub(super) at: f64,
    /// Seconds into the demo.
    pub(super) demo_at: f64,
    /// The page, or why it could not be read.
    pub(super) page: Result<Snapshot, String>,
    /// Each route's answers so far.
    pub(super) answers: Vec<(String, Answers)>,
}

/// What changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Subject {
    /// A component's status.
    Component(String),
    /// The page's indicator.
    Indicator,
    /// An incident's state (`from` is empty when it opened).
    Incident(String),
}

/// One change seen on the page.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Change {
    /// The phase it happened in.
    pub(super) phase: String,
    /// Seconds into the phase's run.
    pub(super) at: f64,
    /// Seconds into the demo.
    pub(super) demo_at: f64,
    /// What changed.
    pub(super) subject: Subject,
    /// The state before (empty for an incident that opened).
    pub(super) from: String,
    /// The state after.
    pub(super) to: String,
    /// Why, in words: the gateway's counts, the page's description or the
    /// incident's newest update.
    pub(super) words: String,
}

impl Change {
    /// Whether it is a component leaving `operational`.
    pub(super) fn is_departure(&self) -> bool {
        matches!(self.subject, Subject::Component(_))
            && self.from == OPERATIONAL
            && self.to != OPERATIONAL
    }
}

/// What one phase's gateway showed.
#[derive(Clone, Debug, Default)]
pub(super) struct Phase {
    /// Its name: "normal day", or the surge's route.
    pub(super) name: String,
    /// Its status page's URL.
    pub(super) url: String,
    /// Samples read.
    pub(super) samples: u32,
    /// Samples that could not be read, and the last reason.
    pub(super) failed: u32,
    last_error: Option<String>,
    /// Each component's statuses, in the order first seen.
    pub(super) seen: Vec<(String, Vec<String>)>,
    /// The indicators, in the order first seen.
    pub(super) indicators: Vec<String>,
    /// The incidents opened, by title.
    pub(super) incidents: Vec<String>,
    last: Option<Snapshot>,
    /// (seconds into the phase, answers by route), over the window and a bit.
    readings: VecDeque<(f64, Vec<(String, Answers)>)>,
}

impl Phase {
    /// Whether every component stayed operational and no incident opened.
    pub(super) fn stayed_operational(&self) -> bool {
        self.samples > 0
            && self.incidents.is_empty()
            && self
                .seen
                .iter()
                .all(|(_, statuses)| statuses.iter().all(|s| s == OPERATIONAL))
    }
}

/// Every phase's samples and the changes seen.
#[derive(Clone, Debug)]
pub(super) struct Timeline {
    /// The status page's timings the gateways ran with.
    pub(super) times: StatusTimes,
    /// The phases, in order.
    pub(super) phases: Vec<Phase>,
    /// The changes, in order.
    pub(super) changes: Vec<Change>,
}

impl Timeline {
    /// An empty timeline for gateways running with `times`.
    pub(super) fn new(times: StatusTimes) -> Self {
        Self {
            times,
            phases: Vec::new(),
            changes: Vec::new(),
        }
    }

    /// Starts the phase `name`, whose fresh gateway serves its page at `url`.
    pub(super) fn begin(&mut self, name: &str, url: String) {
        self.phases.push(Phase {
            name: name.to_owned(),
            url,
            ..Phase::default()
        });
    }

    /// Whether the current phase's page, as last read, is back to normal:
    /// every component operational, no incident open (true when nothing was
    /// read: there is nothing to wait for).
    pub(super) fn settled(&self) -> bool {
        let Some(page) = self.phases.last().and_then(|p| p.last.as_ref()) else {
            return true;
        };
        page.components.iter().all(|(_, s)| s == OPERATIONAL)
            && page.indicator == NONE
            && page.incidents.iter().all(|i| i.status == RESOLVED)
    }

    /// Takes one sample of the current phase; returns the changes it shows.
    pub(super) fn observe(&mut self, obs: Observation) -> &[Change] {
        let first_new = self.changes.len();
        let window = self.times.window.as_secs_f64();
        let Some(phase) = self.phases.last_mut() else {
            return &[];
        };
        phase.readings.push_back((obs.at, obs.answers));
        while phase
            .readings
            .get(1)
            .is_some_and(|r| r.0 <= obs.at - window - 1.0)
        {
            phase.readings.pop_front();
        }
        let page = match obs.page {
            Ok(page) => page,
            Err(e) => {
                phase.failed += 1;
                phase.last_error = Some(e);
                return &[];
            }
        };
        phase.samples += 1;
        let change = |subject, from: &str, to: &str, words: String| Change {
            phase: phase.name.clone(),
            at: obs.at,
            demo_at: obs.demo_at,
            subject,
            from: from.to_owned(),
            to: to.to_owned(),
            words,
        };
        let mut changes = Vec::new();
        // A fresh gateway's page starts with every component operational,
        // the indicator at none and no incident.
        let before = phase.last.take().unwrap_or_default();
        for (name, status) in &page.components {
            let was = before
                .components
                .iter()
                .find(|(n, _)| n == name)
                .map_or(OPERATIONAL, |(_, s)| s.as_str());
            if was != status {
                // A component is named after its route (one per route).
                let words = phase.answers_words(name, obs.at, window);
                changes.push(change(Subject::Component(name.clone()), was, status, words));
            }
            match phase.seen.iter_mut().find(|(n, _)| n == name) {
                Some((_, seen)) if seen.last() != Some(status) => seen.push(status.clone()),
                Some(_) => {}
                None => phase.seen.push((name.clone(), vec![status.clone()])),
            }
        }
        let was = if before.indicator.is_empty() {
            NONE
        } else {
            before.indicator.as_str()
        };
        if was != page.indicator {
            let words = format!("“{}”", page.description);
            changes.push(change(Subject::Indicator, was, &page.indicator, words));
        }
        if !phase.indicators.contains(&page.indicator) {
            phase.indicators.push(page.indicator.clone());
        }
        // Oldest first, so that an incident opens before it resolves.
        for incident in page.incidents.iter().rev() {
            let was = before.incidents.iter().find(|i| i.id == incident.id);
            let subject = Subject::Incident(incident.name.clone());
            let words = format!("“{}”", incident.latest);
            match was {
                None => {
                    phase.incidents.push(incident.name.clone());
                    let opened = format!("{}, {}", incident.impact, incident.status);
                    changes.push(change(subject.clone(), "", &opened, words.clone()));
                    if incident.status == RESOLVED {
                        // Opened and resolved between two samples.
                        changes.push(change(subject, "", RESOLVED, words));
                    }
                }
                Some(w) if w.status != incident.status => {
                    changes.push(change(subject, &w.status, &incident.status, words));
                }
                Some(_) => {}
            }
        }
        phase.last = Some(page);
        self.changes.extend(changes);
        &self.changes[first_new..]
    }

    /// The changes of a component away from operational.
    pub(super) fn departures(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.is_departure())
    }
}
