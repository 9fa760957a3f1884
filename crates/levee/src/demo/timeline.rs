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
//! must not decide anything about the gateway's status itself.

use std::collections::VecDeque;
use std::fmt::Write as _;

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
    /// The line the terminal shows as it happens.
    pub(super) fn line(&self) -> String {
        format!("status page: {}", self.text())
    }

    /// The change in words: what, from, to, when and why.
    pub(super) fn text(&self) -> String {
        let words = if self.words.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.words)
        };
        let at = self.at;
        match &self.subject {
            Subject::Component(name) => {
                format!("{name} {} → {} at {at:.1} s{words}", self.from, self.to)
            }
            Subject::Indicator => {
                format!("indicator {} → {} at {at:.1} s{words}", self.from, self.to)
            }
            Subject::Incident(name) if self.from.is_empty() => {
                format!("incident “{name}” opened, {}, at {at:.1} s{words}", self.to)
            }
            Subject::Incident(name) => format!(
                "incident “{name}” {} → {} at {at:.1} s{words}",
                self.from, self.to
            ),
        }
    }

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

    /// The phase in one line: the statuses each component went through.
    pub(super) fn summary(&self) -> String {
        let components: Vec<String> = self
            .seen
            .iter()
            .map(|(name, statuses)| format!("{name} {}", statuses.join(" → ")))
            .collect();
        let mut text = format!("{}: {}", self.name, components.join(", "));
        if self.stayed_operational() {
            text.push_str(" throughout");
        }
        match self.incidents.len() {
            0 => {}
            1 => text.push_str("; 1 incident"),
            n => {
                let _ = write!(text, "; {n} incidents");
            }
        }
        let _ = write!(text, " ({} samples", self.samples);
        if self.failed > 0 {
            let _ = write!(
                text,
                ", {} unread: {}",
                self.failed,
                self.last_error.as_deref().unwrap_or("?")
            );
        }
        text.push(')');
        text
    }

    /// What the gateway answered on `route` over the last `window` seconds
    /// before `at`, in words.
    fn answers_words(&self, route: &str, at: f64, window: f64) -> String {
        let read = |r: &(f64, Vec<(String, Answers)>)| {
            r.1.iter()
                .find(|(name, _)| name == route)
                .map(|(_, a)| *a)
                .unwrap_or_default()
        };
        let Some(now) = self.readings.back().map(read) else {
            return String::new();
        };
        // The latest reading at least a window old, else the oldest kept.
        let then = self
            .readings
            .iter()
            .rev()
            .find(|r| r.0 <= at - window)
            .or(self.readings.front())
            .map(read)
            .unwrap_or_default();
        let requests = now.requests.saturating_sub(then.requests);
        let shed = now.shed.saturating_sub(then.shed);
        let errors = now
            .server_errors
            .saturating_sub(then.server_errors)
            .saturating_sub(shed);
        let span = format!("{window:.0} s");
        if requests == 0 {
            return format!("no answers in the last {span}");
        }
        let share = if shed == 0 {
            "none".to_owned()
        } else {
            percent(shed, requests)
        };
        let mut text = format!(
            "the gateway shed {share} of {} answers in the last {span}",
            count(requests)
        );
        if errors > 0 {
            let _ = write!(text, ", {} other 5xx", percent(errors, requests));
        }
        text
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

    /// The timeline for summary.json.
    pub(super) fn json(&self) -> serde_json::Value {
        let secs = |d: std::time::Duration| d.as_secs_f64();
        let phases: Vec<serde_json::Value> = self
            .phases
            .iter()
            .map(|p| {
                let seen: serde_json::Map<String, serde_json::Value> = p
                    .seen
                    .iter()
                    .map(|(name, statuses)| (name.clone(), serde_json::json!(statuses)))
                    .collect();
                serde_json::json!({
                    "phase": p.name,
                    "url": p.url,
                    "samples": p.samples,
                    "failed": p.failed,
                    "components": seen,
                    "indicators": p.indicators,
                    "incidents": p.incidents,
                })
            })
            .collect();
        let changes: Vec<serde_json::Value> = self
            .changes
            .iter()
            .map(|c| {
                let (kind, name) = match &c.subject {
                    Subject::Component(n) => ("component", n.as_str()),
                    Subject::Indicator => ("indicator", ""),
                    Subject::Incident(n) => ("incident", n.as_str()),
                };
                serde_json::json!({
                    "phase": c.phase,
                    "at_s": round1(c.at),
                    "demo_at_s": round1(c.demo_at),
                    "kind": kind,
                    "name": name,
                    "from": c.from,
                    "to": c.to,
                    "words": c.words,
                })
            })
            .collect();
        serde_json::json!({
            "url": self.phases.first().map(|p| p.url.as_str()),
            "settings": {
                "raise_after_s": secs(self.times.raise_after),
                "clear_after_s": secs(self.times.clear_after),
                "window_s": secs(self.times.window),
                "incident_after_s": secs(self.times.incident_after),
            },
            "phases": phases,
            "changes": changes,
        })
    }

    /// The section of report.html: a link to the page, the settings, each
    /// phase in a line and the changes in a table.
    pub(super) fn html(&self) -> String {
        let mut h = String::from("<section><h2>The status page</h2>");
        if let Some(first) = self.phases.first() {
            let url = escape(&first.url);
            let _ = write!(
                h,
                "<p class=\"note\">Each phase's gateway served its status page at \
                 <a href=\"{url}\">{url}</a> (live only while the demo runs; its JSON at \
                 <code>api/v2/summary.json</code>), read once a second.</p>"
            );
        }
        let _ = write!(
            h,
            "<p class=\"note\">{}</p>",
            escape(&settings_words(&self.times))
        );
        for p in &self.phases {
            let _ = write!(h, "<p class=\"note\">{}</p>", escape(&p.summary()));
        }
        if self.changes.is_empty() {
            h.push_str("<p class=\"note\">No change was seen.</p></section>");
            return h;
        }
        let left = "style=\"text-align:left;white-space:normal\"";
        let _ = write!(
            h,
            "<table><thead><tr><th>phase</th><th>at</th><th {left}>what</th><th {left}>change</th>\
             <th {left}>why</th></tr></thead><tbody>"
        );
        for c in &self.changes {
            let what = match &c.subject {
                Subject::Component(n) => format!("component {n}"),
                Subject::Indicator => "indicator".to_owned(),
                Subject::Incident(n) => format!("incident “{n}”"),
            };
            let change = if c.from.is_empty() {
                format!("opened: {}", c.to)
            } else {
                format!("{} → {}", c.from, c.to)
            };
            let _ = write!(
                h,
                "<tr><td style=\"text-align:left\">{}</td><td>{:.1} s</td><td {left}>{}</td>\
                 <td {left}>{}</td><td {left}>{}</td></tr>",
                escape(&c.phase),
                c.at,
                escape(&what),
                escape(&change),
                escape(&c.words),
            );
        }
        h.push_str(
            "</tbody></table><p class=\"note\">Times are seconds into each phase's run, as on \
             the charts above.</p></section>",
        );
        h
    }
}

/// The demo's status page settings in words, with the defaults.
pub(super) fn settings_words(t: &StatusTimes) -> String {
    let s = |d: std::time::Duration| format!("{}s", d.as_secs());
    format!(
        "The demo's [status] settings, not the defaults: raise_after = \"{}\" (default 10s), \
         clear_after = \"{}\" (60s), window = \"{}\" (60s), incident_after = \"{}\" (2m).",
        s(t.raise_after),
        s(t.clear_after),
        s(t.window),
        s(t.incident_after),
    )
}

/// `x` to one decimal, for JSON.
fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// `part / whole` as a percentage: one decimal below 10 %, never 0 % or
/// 100 % when it is not exactly that.
fn percent(part: u64, whole: u64) -> String {
    if whole == 0 || part == 0 {
        return "0 %".to_owned();
    }
    if part >= whole {
        return "100 %".to_owned();
    }
    let p = part as f64 * 100.0 / whole as f64;
    if p < 0.1 {
        "< 0.1 %".to_owned()
    } else if p < 10.0 {
        format!("{p:.1} %")
    } else {
        // Rounded, but 99.9 % of answers is not all of them.
        format!("{:.0} %", p.round().min(99.0))
    }
}

/// `n` with thousands separators.
fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `text` safe in HTML text and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn times() -> StatusTimes {
        StatusTimes {
            raise_after: Duration::from_secs(2),
            clear_after: Duration::from_secs(3),
            window: Duration::from_secs(3),
            incident_after: Duration::from_secs(4),
        }
    }

    fn page(status: &str, indicator: &str, incidents: Vec<Incident>) -> Snapshot {
        Snapshot {
            components: vec![
                ("pass-through".into(), OPERATIONAL.into()),
                ("admission".into(), status.into()),
            ],
            indicator: indicator.into(),
            description: format!("{indicator} words"),
            incidents,
        }
    }

    fn seen(at: f64, page: Snapshot, requests: u64, shed: u64) -> Observation {
        Observation {
            at,
            demo_at: at + 30.0,
            page: Ok(page),
            answers: vec![(
                "admission".into(),
                Answers {
                    requests,
                    shed,
                    server_errors: shed,
                },
            )],
        }
    }

    fn incident(status: &str) -> Incident {
        Incident {
            id: "inc_1".into(),
            name: "admission: degraded performance".into(),
            status: status.into(),
            impact: "minor".into(),
            latest: format!("it is {status}"),
        }
    }

    #[test]
    fn a_surge_reads_as_departure_incident_and_recovery() {
        let mut t = Timeline::new(times());
        t.begin("normal day", "http://127.0.0.1:1/_levee/status/".into());
        assert!(
            t.observe(seen(1.0, page(OPERATIONAL, NONE, vec![]), 100, 0))
                .is_empty()
        );
        assert!(t.settled() && t.phases[0].stayed_operational());

        t.begin("admission", "http://127.0.0.1:1/_levee/status/".into());
        assert!(
            t.observe(seen(1.0, page(OPERATIONAL, NONE, vec![]), 200, 0))
                .is_empty()
        );
        for (i, at) in [2.0, 3.0, 4.0].into_iter().enumerate() {
            let n = 200 + 1000 * (i as u64 + 1);
            assert!(
                t.observe(seen(
                    at,
                    page(OPERATIONAL, NONE, vec![]),
                    n,
                    700 * (i as u64 + 1)
                ))
                .is_empty()
            );
        }
        let lines: Vec<String> = t
            .observe(seen(
                5.0,
                page("degraded_performance", "minor", vec![]),
                4200,
                2800,
            ))
            .iter()
            .map(Change::line)
            .collect();
        assert_eq!(
            lines,
            [
                "status page: admission operational → degraded_performance at 5.0 s \
                 (the gateway shed 70 % of 3,000 answers in the last 3 s)",
                "status page: indicator none → minor at 5.0 s (“minor words”)",
            ]
        );
        assert!(!t.settled());
        let opened = t.observe(seen(
            6.0,
            page(
                "degraded_performance",
                "minor",
                vec![incident("investigating")],
            ),
            5200,
            3500,
        ));
        assert_eq!(
            opened[0].line(),
            "status page: incident “admission: degraded performance” opened, minor, investigating, \
             at 6.0 s (“it is investigating”)"
        );
        let back = t.observe(seen(
            9.0,
            page(OPERATIONAL, NONE, vec![incident(RESOLVED)]),
            5800,
            3500,
        ));
        assert_eq!(back.len(), 3, "{back:?}");
        assert_eq!(
            back[2].line(),
            "status page: incident “admission: degraded performance” investigating → resolved at 9.0 s \
             (“it is resolved”)"
        );
        assert!(t.settled());
        assert_eq!(t.departures().count(), 1);
        let p = &t.phases[1];
        assert_eq!(
            p.summary(),
            "admission: pass-through operational, admission operational → degraded_performance → operational; \
             1 incident (7 samples)"
        );

        let html = t.html();
        assert!(html.contains("<a href=\"http://127.0.0.1:1/_levee/status/\">"));
        assert!(html.contains("operational → degraded_performance"));
        assert!(html.contains("not the defaults"));
        let json = t.json();
        assert_eq!(json["changes"][0]["to"], "degraded_performance");
        assert_eq!(json["phases"][0]["components"]["admission"][0], OPERATIONAL);
    }

    #[test]
    fn unread_samples_are_counted_not_guessed() {
        let mut t = Timeline::new(times());
        t.begin("pass-through", "u".into());
        let failed = Observation {
            at: 1.0,
            demo_at: 1.0,
            page: Err("connection refused".into()),
            answers: Vec::new(),
        };
        assert!(t.observe(failed).is_empty());
        assert!(t.settled(), "nothing read: nothing to wait for");
        assert!(!t.phases[0].stayed_operational());
        assert!(
            t.phases[0]
                .summary()
                .contains("1 unread: connection refused")
        );
    }

    #[test]
    fn numbers_read_naturally() {
        assert_eq!(percent(0, 10), "0 %");
        assert_eq!(percent(1, 2000), "< 0.1 %");
        assert_eq!(percent(73, 1000), "7.3 %");
        assert_eq!(percent(70, 100), "70 %");
        assert_eq!(percent(999, 1000), "99 %");
        assert_eq!(percent(5, 5), "100 %");
        assert_eq!(count(1_204), "1,204");
        assert_eq!(escape("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
    }
}
