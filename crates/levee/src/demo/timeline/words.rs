//! The timeline in words: a change as a line, a phase in a line, the
//! gateway's answers over the window, the demo's settings; and the numbers
//! in them (`1,204`, `7.3 %`). It must not decide what changed.

use std::fmt::Write as _;

use super::{Change, Phase, Subject};
use crate::demo_gateway::{Answers, StatusTimes};

impl Change {
    /// The line the terminal shows as it happens.
    pub(in crate::demo) fn line(&self) -> String {
        format!("status page: {}", self.text())
    }

    /// The change in words: what, from, to, when and why.
    pub(in crate::demo) fn text(&self) -> String {
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
}

impl Phase {
    /// The phase in one line: the statuses each component went through.
    pub(in crate::demo) fn summary(&self) -> String {
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
    pub(super) fn answers_words(&self, route: &str, at: f64, window: f64) -> String {
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

/// The demo's status page settings in words, with the defaults.
pub(in crate::demo) fn settings_words(t: &StatusTimes) -> String {
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

/// `part / whole` as a percentage: one decimal below 10 %, never 0 % or
/// 100 % when it is not exactly that.
pub(super) fn percent(part: u64, whole: u64) -> String {
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

/// `n` with thousands separators, as the status page's causes write it.
pub(super) fn count(n: u64) -> String {
    levee_http::status_site::html::thousands(n)
}
