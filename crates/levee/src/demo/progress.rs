//! Live progress of one demo leg in the terminal: a line rewritten in place
//! when stdout is a terminal, plain lines (one a second) when it is not.
//!
//! It only prints what the load generator's counters say, and the lines it
//! is handed (the status page's changes) above the live line; it must not
//! decide anything about the run.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use levee_sim::load::{LoadRun, Progress, Schedule};

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Style {
    /// Rewrite one line in place, twice a second.
    Live,
    /// One plain line a second (logs, CI, pipes).
    Plain,
}

impl Style {
    /// `Live` when stdout is a terminal.
    pub(super) fn detect() -> Self {
        if std::io::stdout().is_terminal() {
            Self::Live
        } else {
            Self::Plain
        }
    }

    /// How often a line is printed.
    pub(super) fn every(self) -> Duration {
        match self {
            Self::Live => Duration::from_millis(500),
            Self::Plain => Duration::from_secs(1),
        }
    }
}

/// Prints progress lines for one leg.
#[derive(Debug)]
pub(super) struct Meter {
    style: Style,
    label: String,
    phase: Phase,
    last: Progress,
}

/// What a line says the phase is.
#[derive(Debug)]
enum Phase {
    /// The load in force, as a multiple of the upstream's capacity.
    Load { capacity: f64, schedule: Schedule },
    /// A name, until `until`.
    Named { name: String, until: Duration },
}

impl Meter {
    /// A meter for the leg `label` driving `schedule` at an upstream of `capacity` req/s.
    pub(super) fn new(style: Style, label: &str, capacity: f64, schedule: Schedule) -> Self {
        Self::with(style, label, Phase::Load { capacity, schedule })
    }

    /// A meter for the leg `label` in the phase called `name`, which sends
    /// for `until`.
    pub(super) fn named(style: Style, label: &str, name: &str, until: Duration) -> Self {
        let name = name.to_owned();
        Self::with(style, label, Phase::Named { name, until })
    }

    fn with(style: Style, label: &str, phase: Phase) -> Self {
        Self {
            style,
            label: label.to_owned(),
            phase,
            last: Progress::default(),
        }
    }

    /// Prints the rates since the previous call.
    pub(super) fn tick(&mut self, run: &LoadRun) {
        let now = run.progress();
        let line = self.line(&now);
        self.last = now;
        let mut out = std::io::stdout().lock();
        // A closed stdout must not stop the demo: the report is still written.
        let _ = match self.style {
            Style::Live => write!(out, "\r\x1b[2K{line}"),
            Style::Plain => writeln!(out, "{line}"),
        };
        let _ = out.flush();
    }

    /// Prints `line` on a line of its own, above the live line (which the
    /// next [`Meter::tick`] writes again).
    pub(super) fn say(&self, line: &str) {
        let mut out = std::io::stdout().lock();
        let _ = match self.style {
            Style::Live => writeln!(out, "\r\x1b[2K{line}"),
            Style::Plain => writeln!(out, "{line}"),
        };
        let _ = out.flush();
    }

    /// Ends the live line.
    pub(super) fn finish(&self) {
        if self.style == Style::Live {
            println!();
        }
    }

    /// How long the leg sends for: after that it is draining.
    fn sends_for(&self) -> Duration {
        match &self.phase {
            Phase::Load { schedule, .. } => schedule.duration(),
            Phase::Named { until, .. } => *until,
        }
    }

    /// The text of one progress line.
    pub(super) fn line(&self, now: &Progress) -> String {
        let dt = now
            .elapsed
            .saturating_sub(self.last.elapsed)
            .as_secs_f64()
            .max(1e-3);
        let rate = |now: u64, then: u64| now.saturating_sub(then) as f64 / dt;
        let middle = (self.last.elapsed + now.elapsed) / 2;
        let phase = match &self.phase {
            _ if middle >= self.sends_for() => "draining".to_owned(),
            Phase::Load { capacity, schedule } => {
                let load = schedule.rate_at(middle) / capacity.max(1e-9);
                format!("{load:.1}× capacity")
            }
            Phase::Named { name, .. } => name.clone(),
        };
        format!(
            "{:<12} {:>5.1}s  {:<13} sent {:>5.0}/s  2xx {:>5.0}/s  shed {:>5.0}/s  timeouts {:>5.0}/s  conns {:>5}",
            self.label,
            now.elapsed.as_secs_f64(),
            phase,
            rate(now.sent, self.last.sent),
            rate(now.success, self.last.success),
            rate(now.shed, self.last.shed),
            rate(now.timeouts, self.last.timeouts),
            now.connections,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_shows_the_phase_and_the_rates_since_the_last_one() {
        let schedule =
            Schedule::constant(200.0, Duration::from_secs(1)).then(1600.0, Duration::from_secs(2));
        let meter = Meter::new(Style::Plain, "admission", 400.0, schedule);
        let now = Progress {
            elapsed: Duration::from_secs(3),
            sent: 900,
            success: 600,
            shed: 150,
            timeouts: 0,
            ..Progress::default()
        };
        let line = meter.line(&now);
        assert!(line.starts_with("admission"), "{line}");
        assert!(line.contains("4.0× capacity"), "{line}");
        assert!(
            line.contains("sent   300/s") && line.contains("2xx   200/s"),
            "{line}"
        );
        let done = Progress {
            elapsed: Duration::from_secs(8),
            ..now
        };
        assert!(meter.line(&done).contains("draining"));
        let day = Meter::named(
            Style::Plain,
            "admission",
            "normal day",
            Duration::from_secs(8),
        );
        assert!(day.line(&now).contains("normal day"), "{}", day.line(&now));
        let after = Progress {
            elapsed: Duration::from_secs(20),
            ..now
        };
        assert!(
            day.line(&after).contains("draining"),
            "{}",
            day.line(&after)
        );
    }
}
