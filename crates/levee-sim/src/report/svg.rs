//! Line charts as inline SVG: axes with round ticks, lines broken where data
//! is missing, a marker with a tooltip on every data point, a legend.
//!
//! Colours come from CSS classes (`c0`…`c5`, `muted`) that the HTML page
//! defines for light and dark schemes; this file writes no colour itself and
//! must not reference anything outside the document.

use std::fmt::Write;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 280.0;
const LEFT: f64 = 58.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 34.0;

/// One line of a chart.
#[derive(Clone, Debug)]
pub(crate) struct Line {
    pub(crate) name: String,
    /// A CSS class: `c0`…`c5` or `muted`.
    pub(crate) class: String,
    pub(crate) dashed: bool,
    /// (x, y) with y `None` where there is no data.
    pub(crate) points: Vec<(f64, Option<f64>)>,
}

/// A chart: lines over a shared x axis in seconds.
#[derive(Clone, Debug, Default)]
pub(crate) struct Chart {
    pub(crate) title: String,
    /// The y axis unit, e.g. `req/s`, `ms`.
    pub(crate) unit: String,
    pub(crate) x_max: f64,
    pub(crate) lines: Vec<Line>,
    /// Horizontal reference lines: (y, label).
    pub(crate) rules: Vec<(f64, String)>,
}

impl Chart {
    /// The chart as an `<svg>` element.
    pub(crate) fn render(&self) -> String {
        let values = self
            .lines
            .iter()
            .flat_map(|l| l.points.iter().filter_map(|p| p.1));
        let y_top = values
            .chain(self.rules.iter().map(|r| r.0))
            .fold(0.0_f64, f64::max);
        let (y_step, y_max) = ticks(y_top.max(1e-9) * 1.08);
        let (x_step, x_max) = ticks(self.x_max.max(1e-9));
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let x = |v: f64| LEFT + v / x_max * plot_w;
        let y = |v: f64| TOP + plot_h - v.clamp(0.0, y_max) / y_max * plot_h;
        let mut s = String::new();
        let title = escape(&self.title);
        let _ = write!(
            s,
            r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{title}" xmlns="http://www.w3.org/2000/svg">"#
        );
        let _ = write!(s, r#"<text class="title" x="{LEFT}" y="18">{title}</text>"#);
        for i in 0..=((y_max / y_step).round() as usize) {
            let v = i as f64 * y_step;
            let _ = write!(
                s,
                r#"<line class="grid" x1="{LEFT}" x2="{:.1}" y1="{yy:.1}" y2="{yy:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                WIDTH - RIGHT,
                LEFT - 6.0,
                y(v) + 4.0,
                number(v),
                yy = y(v),
            );
        }
        for i in 0..=((x_max / x_step).round() as usize) {
            let v = i as f64 * x_step;
            let _ = write!(
                s,
                r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="middle">{}s</text>"#,
                x(v),
                HEIGHT - BOTTOM + 16.0,
                number(v)
            );
        }
        let _ = write!(
            s,
            r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            WIDTH - RIGHT,
            HEIGHT - 4.0,
            escape(&self.unit)
        );
        for (v, label) in &self.rules {
            let _ = write!(
                s,
                r#"<line class="rule" x1="{LEFT}" x2="{:.1}" y1="{yy:.1}" y2="{yy:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                WIDTH - RIGHT,
                WIDTH - RIGHT - 4.0,
                y(*v) - 4.0,
                escape(label),
                yy = y(*v),
            );
        }
        for line in &self.lines {
            let dashed = if line.dashed { " dashed" } else { "" };
            let class = escape(&line.class);
            let _ = write!(
                s,
                r#"<g class="series {class}{dashed}" data-name="{}">"#,
                escape(&line.name)
            );
            for run in line
                .points
                .split(|p| p.1.is_none())
                .filter(|r| !r.is_empty())
            {
                let coords: Vec<String> = run
                    .iter()
                    .filter_map(|(px, py)| py.map(|py| format!("{:.1},{:.1}", x(*px), y(py))))
                    .collect();
                let _ = write!(s, r#"<polyline points="{}"/>"#, coords.join(" "));
            }
            for (px, py) in &line.points {
                let Some(py) = py else { continue };
                let _ = write!(
                    s,
                    r#"<circle class="pt" cx="{:.1}" cy="{:.1}" r="2.2"><title>{} at {:.1}s: {}</title></circle>"#,
                    x(*px),
                    y(*py),
                    escape(&line.name),
                    px,
                    number(*py)
                );
            }
            s.push_str("</g>");
        }
        // The legend: a row under the title, wrapping when it runs out of width.
        let (mut lx, mut ly) = (LEFT, 36.0);
        for line in &self.lines {
            let width = 30.0 + 6.2 * line.name.chars().count() as f64;
            if lx + width > WIDTH - RIGHT && lx > LEFT {
                (lx, ly) = (LEFT, ly + 14.0);
            }
            let dashed = if line.dashed { " dashed" } else { "" };
            let _ = write!(
                s,
                r#"<g class="legend {}{dashed}"><line x1="{lx:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}"/><text x="{:.1}" y="{ly:.1}">{}</text></g>"#,
                escape(&line.class),
                lx + 18.0,
                ly - 4.0,
                ly - 4.0,
                lx + 22.0,
                escape(&line.name)
            );
            lx += width;
        }
        s.push_str("</svg>");
        s
    }
}

/// A round tick step (1, 2 or 5 × 10ⁿ) giving about five ticks up to `max`,
/// and the axis end: the first multiple of the step at or above `max`.
pub(crate) fn ticks(max: f64) -> (f64, f64) {
    let raw = max / 5.0;
    let magnitude = 10_f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    (step, (max / step).ceil().max(1.0) * step)
}

/// A number without needless decimals.
pub(crate) fn number(v: f64) -> String {
    let text = if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    match text.contains('.') {
        true => text.trim_end_matches('0').trim_end_matches('.').to_owned(),
        false => text,
    }
}

/// Escapes text for HTML and SVG content and attributes.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_drop_needless_decimals() {
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(2.0), "2");
        assert_eq!(number(12.34), "12.3");
        assert_eq!(number(1600.4), "1600");
        assert_eq!(number(0.0), "0");
    }

    #[test]
    fn ticks_are_round_and_cover_the_maximum() {
        assert_eq!(ticks(430.0), (100.0, 500.0));
        assert_eq!(ticks(9.0), (2.0, 10.0));
        assert_eq!(ticks(0.7), (0.2, 0.8));
        for max in [0.013, 1.0, 37.0, 1600.0, 123_456.0] {
            let (step, end) = ticks(max);
            assert!(end >= max && end / step <= 10.0, "{max}: {step} {end}");
        }
    }

    #[test]
    fn a_chart_draws_every_point_and_breaks_on_gaps() {
        let chart = Chart {
            title: "Goodput <req/s>".into(),
            unit: "req/s".into(),
            x_max: 3.0,
            lines: vec![Line {
                name: "admission".into(),
                class: "c0".into(),
                dashed: false,
                points: vec![
                    (0.5, Some(10.0)),
                    (1.5, None),
                    (2.5, Some(30.0)),
                    (3.0, Some(20.0)),
                ],
            }],
            rules: vec![(40.0, "capacity".into())],
        };
        let svg = chart.render();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<circle").count(), 3);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("Goodput &lt;req/s&gt;") && svg.contains("capacity"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }

    #[test]
    fn empty_charts_still_render() {
        let svg = Chart::default().render();
        assert!(svg.contains("</svg>") && !svg.contains("NaN"));
    }
}
