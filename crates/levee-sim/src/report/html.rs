//! The HTML report: several runs side by side, as a summary table and SVG
//! charts (goodput, latency, shed and timeouts, and any extra series the
//! caller supplies, such as a gateway's concurrency limit over time); and
//! sections, each a report of its own on the same page (a demo's phases).
//!
//! One self-contained file: inline CSS and SVG, no script, no external
//! asset, readable in light and dark schemes. It must not compute statistics
//! itself: those come from [`Summary`] and [`Series`].

use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

use super::series::Series;
use super::summary::Summary;
use super::svg::{Chart, Line, escape};
use super::table::{COLUMNS, cells};
use crate::load::Run;

/// Builds an HTML report; see [`Report::render`].
#[derive(Clone, Debug)]
pub struct Report {
    title: String,
    notes: Vec<String>,
    slo: Duration,
    bucket: Duration,
    capacity: Option<f64>,
    runs: Vec<(String, Run)>,
    extras: Vec<Extra>,
    sections: Vec<Report>,
}

/// A caller-supplied series, drawn on the chart named `chart`.
#[derive(Clone, Debug)]
struct Extra {
    chart: String,
    name: String,
    points: Vec<(f64, f64)>,
}

const CSS: &str = include_str!("report.css");

impl Report {
    /// An empty report: 500 ms SLO, one-second buckets.
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            notes: Vec::new(),
            slo: Duration::from_millis(500),
            bucket: Duration::from_secs(1),
            capacity: None,
            runs: Vec::new(),
            extras: Vec::new(),
            sections: Vec::new(),
        }
    }

    /// A line of text under the title (setup, command, machine).
    pub fn note(mut self, text: impl Into<String>) -> Self {
        self.notes.push(text.into());
        self
    }

    /// The latency objective that defines goodput (default 500 ms).
    pub fn slo(mut self, slo: Duration) -> Self {
        self.slo = slo;
        self
    }

    /// The chart bucket width (default one second; rates stay per second).
    pub fn bucket(mut self, width: Duration) -> Self {
        self.bucket = width;
        self
    }

    /// The upstream's capacity in req/s, drawn as a rule on the goodput chart.
    pub fn capacity(mut self, req_per_s: f64) -> Self {
        self.capacity = Some(req_per_s);
        self
    }

    /// Adds a run under `label`.
    pub fn run(mut self, label: impl Into<String>, run: Run) -> Self {
        self.runs.push((label.into(), run));
        self
    }

    /// Adds a series of (seconds, value) points named `name` to the chart
    /// titled `chart` (created on first use), e.g. ("Concurrency limit",
    /// "admission", samples).
    pub fn extra(
        mut self,
        chart: impl Into<String>,
        name: impl Into<String>,
        points: Vec<(f64, f64)>,
    ) -> Self {
        self.extras.push(Extra {
            chart: chart.into(),
            name: name.into(),
            points,
        });
        self
    }

    /// Adds `part` as a section after this report's own runs: its title as
    /// a heading, then its notes, table and charts, with its own objective
    /// and buckets (its sections are ignored).
    pub fn section(mut self, part: Report) -> Self {
        self.sections.push(part);
        self
    }

    /// The summaries of the runs, in order, as in the report's table.
    pub fn summaries(&self) -> Vec<(String, Summary)> {
        self.runs
            .iter()
            .map(|(l, r)| (l.clone(), Summary::of(r, self.slo)))
            .collect()
    }

    /// Writes [`Report::render`] to `path`, creating its directory.
    ///
    /// # Errors
    /// Creating the directory or writing the file failed.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, self.render())
    }

    /// The whole page.
    pub fn render(&self) -> String {
        let mut h = String::new();
        let title = escape(&self.title);
        let _ = write!(
            h,
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <meta name=\"color-scheme\" content=\"light dark\"><title>{title}</title>\
             <style>{CSS}</style></head><body><main><h1>{title}</h1>"
        );
        self.body(&mut h);
        for part in &self.sections {
            let _ = write!(h, "<section><h2>{}</h2>", escape(&part.title));
            part.body(&mut h);
            h.push_str("</section>");
        }
        h.push_str(
            "<footer>Latency counts from the scheduled send (open loop), or from the send for \
             closed-loop clients. Made by levee-sim.</footer></main></body></html>\n",
        );
        h
    }

    /// The notes, and the table and charts when there are runs.
    fn body(&self, h: &mut String) {
        for note in &self.notes {
            let _ = write!(h, "<p class=\"note\">{}</p>", escape(note));
        }
        if self.runs.is_empty() {
            return;
        }
        h.push_str(&self.summary_table());
        for chart in self.charts() {
            let _ = write!(h, "<figure>{}</figure>", chart.render());
        }
        let _ = write!(
            h,
            "<p class=\"note\">Goodput: 2xx answered within {} of the scheduled send. Buckets of {} s: \
             offered by scheduled send time, everything else by when it ended.</p>",
            objective(self.slo),
            self.bucket.as_secs_f64()
        );
    }

    fn summary_table(&self) -> String {
        let mut h = String::from("<table><thead><tr>");
        for c in COLUMNS {
            let _ = write!(h, "<th>{}</th>", escape(c));
        }
        h.push_str("</tr></thead><tbody>");
        for (i, (label, summary)) in self.summaries().iter().enumerate() {
            let _ = write!(h, "<tr class=\"c{}\">", i % 6);
            for (j, cell) in cells(label, summary).iter().enumerate() {
                let tag = if j == 0 { "th" } else { "td" };
                let _ = write!(h, "<{tag}>{}</{tag}>", escape(cell));
            }
            h.push_str("</tr>");
        }
        h.push_str("</tbody></table>");
        h
    }

    fn charts(&self) -> Vec<Chart> {
        // Answers come back up to one deadline after the last send.
        let span = |r: &Run| (r.duration + r.deadline).as_secs_f64();
        let x_max = self.runs.iter().map(|(_, r)| span(r)).fold(0.0, f64::max);
        let series: Vec<(String, Series)> = self
            .runs
            .iter()
            .map(|(l, r)| (l.clone(), Series::new(r, self.slo, self.bucket)))
            .collect();
        let chart = |title: &str, unit: &str| Chart {
            title: title.into(),
            unit: unit.into(),
            x_max,
            ..Chart::default()
        };
        let line = |name: String, class: String, dashed: bool, points| Line {
            name,
            class,
            dashed,
            points,
        };

        let mut goodput = chart(
            &format!("Goodput: 2xx within {}", objective(self.slo)),
            "req/s",
        );
        if let Some((_, first)) = series.first() {
            goodput.lines.push(line(
                "offered".into(),
                "muted".into(),
                true,
                first.points(|b| Some(b.offered)),
            ));
        }
        goodput
            .rules
            .extend(self.capacity.map(|c| (c, "capacity".to_owned())));
        let mut latency = chart("Latency of 2xx: p99 (solid), p50 (dashed)", "ms");
        let mut shed = chart("Shed 503/429 (solid) and client timeouts (dashed)", "req/s");
        for (i, (label, s)) in series.iter().enumerate() {
            let class = format!("c{}", i % 6);
            goodput.lines.push(line(
                label.clone(),
                class.clone(),
                false,
                s.points(|b| Some(b.goodput)),
            ));
            latency.lines.push(line(
                format!("{label} p99"),
                class.clone(),
                false,
                s.points(|b| b.p99_ms),
            ));
            latency.lines.push(line(
                format!("{label} p50"),
                class.clone(),
                true,
                s.points(|b| b.p50_ms),
            ));
            shed.lines.push(line(
                format!("{label} shed"),
                class.clone(),
                false,
                s.points(|b| Some(b.shed)),
            ));
            shed.lines.push(line(
                format!("{label} timeouts"),
                class,
                true,
                s.points(|b| Some(b.timeouts)),
            ));
        }
        let mut charts = vec![goodput, latency, shed];
        for extra in &self.extras {
            let index = match charts.iter().position(|c| c.title == extra.chart) {
                Some(i) => i,
                None => {
                    charts.push(chart(&extra.chart, ""));
                    charts.len() - 1
                }
            };
            let target = &mut charts[index];
            let class = format!(
                "c{}",
                self.runs
                    .iter()
                    .position(|(l, _)| *l == extra.name)
                    .unwrap_or(target.lines.len())
                    % 6
            );
            let points = extra.points.iter().map(|(t, v)| (*t, Some(*v))).collect();
            target
                .lines
                .push(line(extra.name.clone(), class, false, points));
        }
        charts
    }
}

/// A latency objective in words: `500 ms`, `10 s`.
fn objective(slo: Duration) -> String {
    let ms = slo.as_millis();
    if ms >= 1000 && ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{ms} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{Outcome, RequestRecord};

    fn run(outcome: Outcome) -> Run {
        let records = (0..20)
            .map(|i| RequestRecord {
                at: Duration::from_millis(i * 100),
                lag: Duration::ZERO,
                stream: 0,
                outcome,
                latency: Duration::from_millis(20 + i),
                retry_after: Some(1),
            })
            .collect();
        Run {
            records,
            labels: vec!["all".into()],
            duration: Duration::from_secs(2),
            deadline: Duration::from_secs(1),
            elapsed: Duration::from_secs(2),
        }
    }

    #[test]
    fn the_page_holds_the_table_the_charts_and_the_extras() {
        let html = Report::new("Levee <demo>")
            .note("8 workers × 20 ms")
            .capacity(400.0)
            .bucket(Duration::from_millis(500))
            .run("pass-through", run(Outcome::Timeout))
            .run("admission", run(Outcome::Success))
            .extra(
                "Concurrency limit",
                "admission",
                vec![(0.0, 8.0), (1.0, 9.0), (2.0, 8.0)],
            )
            .render();
        assert!(html.starts_with("<!doctype html>") && html.contains("Levee &lt;demo&gt;"));
        assert_eq!(html.matches("<svg").count(), 4);
        assert!(html.contains("Concurrency limit") && html.contains("capacity"));
        assert!(html.contains("<th>pass-through</th>") && html.contains("<th>admission</th>"));
        assert!(html.contains("prefers-color-scheme: dark"));
        assert!(!html.contains("https://") && !html.contains("href=") && !html.contains("src="));
        assert!(html.matches("<circle").count() > 30);
        assert!(html.contains("Goodput: 2xx within 500 ms"));
    }

    #[test]
    fn sections_are_reports_of_their_own_on_the_same_page() {
        let calm = Report::new("A normal day")
            .note("mixed latencies")
            .slo(Duration::from_secs(10))
            .run("admission", run(Outcome::Success));
        let html = Report::new("Levee demo")
            .note("two phases")
            .section(calm)
            .section(Report::new("The surge").run("pass-through", run(Outcome::Timeout)))
            .render();
        assert_eq!(html.matches("<section><h2>").count(), 2);
        assert_eq!(
            html.matches("<table>").count(),
            2,
            "no table for the empty top"
        );
        assert!(html.find("A normal day") < html.find("The surge"));
        assert!(html.contains("Goodput: 2xx within 10 s") && html.contains("2xx within 500 ms"));
        assert!(html.trim_end().ends_with("</html>"));
    }
}
