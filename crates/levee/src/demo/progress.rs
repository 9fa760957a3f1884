//! Live progress of one demo leg in the terminal: a line rewritten in place
//! when stdout is a terminal, plain lines (one a second) when it is not.
//!
//! It only prints what the load generator's counters say; it must not decide
//! anything about the run.

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
    capacity: f64,
    schedule: Schedule,
    last: Progress,
}

impl Meter {
    /// A meter for the leg `label` driving `schedule` at an upstream of `capacity` req/s.
    pub(super) fn new(style: Style, label: &str, capacity: f64, schedule: Schedule) -> Self {
        Self {
            style,
            label: label.to_owned(),
            capacity,
            schedule,
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

    /// Ends the live line.
    pub(super) fn finish(&self) {
        if self.style == Style::Live {
            println!();
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
        let load = self.schedule.rate_at(middle) / self.capacity.max(1e-9);
        let phase = if middle >= self.schedule.duration() {
            "draining".to_owned()
        } else {
            format!("{load:.1}× capacity")
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
    }
}
