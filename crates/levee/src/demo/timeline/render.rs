//! The timeline as a section of `report.html` (a link to the page, the
//! settings, each phase in a line, the changes in a table) and as the
//! `status_page` part of `summary.json`. It must not decide what changed.

use std::fmt::Write as _;

use super::words::settings_words;
use super::{Subject, Timeline};

impl Timeline {
    /// The timeline for summary.json.
    pub(in crate::demo) fn json(&self) -> serde_json::Value {
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
    pub(in crate::demo) fn html(&self) -> String {
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

/// `x` to one decimal, for JSON.
fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// `text` safe in HTML text and attribute values.
pub(super) use levee_http::html::escape;
