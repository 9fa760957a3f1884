//! The status page as one self-contained HTML5 document: inline CSS, no
//! script, no external assets, no web fonts, light and dark, readable on a
//! phone, usable with a keyboard and a screen reader.
//!
//! It shows, top to bottom: the overall status (indicator and words), open
//! incidents with their updates newest first, maintenance in progress and
//! upcoming, the components (groups with their members) each with its
//! status and a 90-day uptime bar, and the history of the last 90 days
//! (resolved incidents and completed maintenance, by day).
//!
//! Colour is never the only signal: every status colour sits beside its
//! word, every uptime bar has a text title, and each component states its
//! availability over the period in words. Links are relative (`history.atom`,
//! `api/v2/summary.json`) because the page is served both at `/` of a
//! dedicated listener and at `/_levee/status/` of the traffic listeners.
//! Everything from the view is escaped with [`crate::html::escape`].
//!
//! This module renders; it must not decide what the page says.

use std::fmt::Write as _;

use crate::html::escape;

use super::layout::{self, Entry};
use super::model::{
    ComponentStatus, ComponentView, Impact, IncidentStatus, IncidentView, MaintenanceStatus,
    MaintenanceView, PageView, UpdateView,
};
use super::when::{self, DAY_MS};

/// How far back the history and the uptime bars reach.
pub const HISTORY_DAYS: i64 = 90;

/// The stylesheet, inlined: light and dark, phone-width rules, the status
/// and uptime-bar colours.
const STYLE: &str = include_str!("html/style.css");

/// The status page.
pub fn page_html(view: &PageView) -> String {
    let mut out = String::with_capacity(16 * 1024 + 100 * 90 * view.components.len());
    let name = escape(&view.name);
    let description = view.description();
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{name}</title><meta name=\"description\" content=\"{name}: {description}\">\
         <link rel=\"alternate\" type=\"application/atom+xml\" title=\"{name}: incident history\" href=\"history.atom\">\
         <link rel=\"alternate\" type=\"application/json\" title=\"Statuspage v2 API\" href=\"api/v2/summary.json\">\
         <style>{STYLE}</style></head><body><a class=\"skip\" href=\"#main\">Skip to content</a>\
         <header><div class=\"wrap\"><h1>{name}</h1><nav aria-label=\"Feeds\">\
         <a href=\"history.atom\">Subscribe (Atom)</a><a href=\"api/v2/summary.json\">JSON API</a></nav></div></header>\
         <main id=\"main\" class=\"wrap\">"
    );
    banner(view, &mut out);
    open_incidents(view, &mut out);
    maintenance(view, &mut out);
    components(view, &mut out);
    history(view, &mut out);
    let _ = write!(
        out,
        "</main><footer class=\"wrap\"><p>Updated <time datetime=\"{iso}\">{human}</time> · \
         times in UTC · <a href=\"history.atom\">Atom feed</a> · \
         <a href=\"api/v2/summary.json\">Statuspage v2 API</a> · served by Levee</p></footer></body></html>",
        iso = when::rfc3339(view.updated_at_ms),
        human = when::human(view.updated_at_ms),
    );
    out
}

/// The decorative glyph beside a component status word.
fn glyph(status: ComponentStatus) -> &'static str {
    match status {
        ComponentStatus::Operational => "✓",
        ComponentStatus::UnderMaintenance => "i",
        ComponentStatus::DegradedPerformance | ComponentStatus::PartialOutage => "!",
        ComponentStatus::MajorOutage => "×",
    }
}

/// A status word with its coloured glyph.
fn status_badge(status: ComponentStatus) -> String {
    format!(
        "<span class=\"st s-{}\"><span class=\"ic\" aria-hidden=\"true\">{}</span>{}</span>",
        status.as_str(),
        glyph(status),
        status.label()
    )
}

fn time(ms: i64) -> String {
    format!(
        "<time datetime=\"{}\">{}</time>",
        when::rfc3339(ms),
        when::human(ms)
    )
}

fn banner(view: &PageView, out: &mut String) {
    let indicator = view.indicator_name();
    let glyph = match indicator {
        "none" => "✓",
        "maintenance" => "i",
        "critical" => "×",
        _ => "!",
    };
    let _ = write!(
        out,
        "<section class=\"banner i-{indicator}\" aria-label=\"Overall status\">\
         <span class=\"ic\" aria-hidden=\"true\">{glyph}</span><p><strong>{}</strong></p></section>",
        view.description()
    );
}

/// The names of the components `ids` name, joined (unknown ids skipped).
fn affected_names(view: &PageView, ids: &[String]) -> String {
    let names: Vec<String> = ids
        .iter()
        .filter_map(|id| view.components.iter().find(|c| &c.id == id))
        .map(|c| escape(&c.name))
        .collect();
    names.join(", ")
}

fn updates(list: &[UpdateView], out: &mut String) {
    let mut list: Vec<&UpdateView> = list.iter().collect();
    list.sort_by_key(|u| std::cmp::Reverse(u.created_at_ms));
    if list.is_empty() {
        return;
    }
    out.push_str("<ol class=\"updates\" reversed>");
    for u in list {
        let _ = write!(
            out,
            "<li><p><strong>{}</strong> — <span class=\"body\">{}</span></p><p class=\"meta\">{}</p></li>",
            u.status.label(),
            escape(&u.body),
            time(u.created_at_ms)
        );
    }
    out.push_str("</ol>");
}

fn incident(view: &PageView, i: &IncidentView, heading: &str, out: &mut String) {
    let affects = affected_names(view, &i.components);
    let affects = if affects.is_empty() {
        String::new()
    } else {
        format!(" · Affects: {affects}")
    };
    let impact = match i.impact {
        Impact::None => String::new(),
        other => format!(" · {} impact", other.label()),
    };
    let when = match (i.status, i.resolved_at_ms) {
        (IncidentStatus::Resolved, Some(r)) => format!(
            "{} – {}",
            time(i.started_at_ms.min(i.created_at_ms)),
            time(r)
        ),
        _ => format!("Since {}", time(i.started_at_ms.min(i.created_at_ms))),
    };
    let _ = write!(
        out,
        "<article id=\"{id}\"><div class=\"row\"><{heading}>{name}</{heading}><span>{status}</span></div>\
         <p class=\"meta\">{when}{impact}{affects}</p>",
        id = escape(&i.id),
        name = escape(&i.name),
        status = i.status.label(),
    );
    updates(&i.updates, out);
    out.push_str("</article>");
}

fn open_incidents(view: &PageView, out: &mut String) {
    let mut open: Vec<&IncidentView> = view
        .incidents
        .iter()
        .filter(|i| i.status != IncidentStatus::Resolved)
        .collect();
    if open.is_empty() {
        return;
    }
    open.sort_by_key(|i| std::cmp::Reverse(i.created_at_ms));
    out.push_str("<section aria-labelledby=\"open-h\"><h2 id=\"open-h\">Open incidents</h2>");
    for i in open {
        incident(view, i, "h3", out);
    }
    out.push_str("</section>");
}

fn window(m: &MaintenanceView) -> String {
    match m.scheduled_until_ms {
        Some(until) => format!("{} – {}", time(m.scheduled_for_ms), time(until)),
        None => format!("From {}, until further notice", time(m.scheduled_for_ms)),
    }
}

fn maintenance_article(view: &PageView, m: &MaintenanceView, heading: &str, out: &mut String) {
    let affects = affected_names(view, &m.components);
    let affects = if affects.is_empty() {
        String::new()
    } else {
        format!(" · Affects: {affects}")
    };
    let _ = write!(
        out,
        "<article id=\"{id}\"><div class=\"row\"><{heading}>{name}</{heading}>\
         <span class=\"st s-under_maintenance\"><span class=\"ic\" aria-hidden=\"true\">i</span>{status}</span></div>\
         <p class=\"meta\">{window}{affects}</p>",
        id = escape(&m.id),
        name = escape(&m.name),
        status = m.status.label(),
        window = window(m),
    );
    if !m.body.is_empty() {
        let _ = write!(out, "<p class=\"body\">{}</p>", escape(&m.body));
    }
    out.push_str("</article>");
}

fn maintenance(view: &PageView, out: &mut String) {
    let mut list: Vec<&MaintenanceView> = view
        .maintenances
        .iter()
        .filter(|m| m.status != MaintenanceStatus::Completed)
        .collect();
    if list.is_empty() {
        return;
    }
    // In progress first, then upcoming; each soonest first.
    list.sort_by_key(|m| {
        (
            m.status != MaintenanceStatus::InProgress,
            m.scheduled_for_ms,
        )
    });
    out.push_str("<section aria-labelledby=\"maint-h\"><h2 id=\"maint-h\">Maintenance</h2>");
    for m in list {
        maintenance_article(view, m, "h3", out);
    }
    out.push_str("</section>");
}

fn component(c: &ComponentView, heading: &str, out: &mut String) {
    let _ = write!(
        out,
        "<div class=\"row\"><{heading}>{name}</{heading}>{badge}</div>",
        name = escape(&c.name),
        badge = status_badge(c.status)
    );
    if !c.description.is_empty() {
        let _ = write!(out, "<p class=\"desc\">{}</p>", escape(&c.description));
    }
    uptime::bars(c, out);
}

fn components(view: &PageView, out: &mut String) {
    if view.components.is_empty() {
        return;
    }
    out.push_str(
        "<section aria-labelledby=\"comp-h\"><h2 id=\"comp-h\">Components</h2><ul class=\"comps\">",
    );
    for (n, e) in layout::entries(view).iter().enumerate() {
        match e {
            Entry::Single(c) => {
                out.push_str("<li>");
                component(c, "h3", out);
                out.push_str("</li>");
            }
            Entry::Group(g) => {
                let _ = write!(
                    out,
                    "<li><section class=\"group-in\" aria-labelledby=\"g{n}\"><div class=\"row\">\
                     <h3 id=\"g{n}\">{name}</h3>{badge}</div><ul class=\"members\">",
                    name = escape(g.name),
                    badge = status_badge(g.status())
                );
                for c in &g.members {
                    out.push_str("<li>");
                    component(c, "h4", out);
                    out.push_str("</li>");
                }
                out.push_str("</ul></section></li>");
            }
        }
    }
    out.push_str(
        "</ul><ul class=\"legend\" aria-label=\"Uptime bar colours\">\
         <li><i class=\"u1\"></i>99.9 % or more</li><li><i class=\"u2\"></i>99 % or more</li>\
         <li><i class=\"u3\"></i>95 % or more</li><li><i class=\"u4\"></i>below 95 %</li>\
         <li><i class=\"u5\"></i>maintenance</li><li><i class=\"u0\"></i>no data</li></ul></section>",
    );
}

/// One entry of the history.
enum Past<'a> {
    Incident(&'a IncidentView),
    Maintenance(&'a MaintenanceView),
}

impl Past<'_> {
    fn at(&self) -> i64 {
        match self {
            Past::Incident(i) => i.created_at_ms,
            Past::Maintenance(m) => m.scheduled_for_ms,
        }
    }
}

fn history(view: &PageView, out: &mut String) {
    let since = view.now_ms.saturating_sub(HISTORY_DAYS * DAY_MS);
    let mut past: Vec<Past<'_>> = view
        .incidents
        .iter()
        .filter(|i| i.status == IncidentStatus::Resolved && i.created_at_ms > since)
        .map(Past::Incident)
        .chain(
            view.maintenances
                .iter()
                .filter(|m| m.status == MaintenanceStatus::Completed && m.scheduled_for_ms > since)
                .map(Past::Maintenance),
        )
        .collect();
    past.sort_by_key(|p| std::cmp::Reverse(p.at()));
    out.push_str(
        "<section aria-labelledby=\"hist-h\"><h2 id=\"hist-h\">Past incidents and maintenance</h2>",
    );
    if past.is_empty() {
        let _ = write!(
            out,
            "<p>No incidents or maintenance in the last {HISTORY_DAYS} days.</p>"
        );
    }
    let mut day = None;
    for p in &past {
        let d = when::day(p.at());
        if day != Some(d) {
            day = Some(d);
            let _ = write!(
                out,
                "<h3><time datetime=\"{}\">{}</time></h3>",
                when::date(p.at()),
                when::human_date(p.at())
            );
        }
        match p {
            Past::Incident(i) => incident(view, i, "h4", out),
            Past::Maintenance(m) => maintenance_article(view, m, "h4", out),
        }
    }
    out.push_str("</section>");
}

mod uptime;

pub use uptime::thousands;

#[cfg(test)]
mod tests;
