//! The 90-day uptime bar: one bar per [`DayUptime`], coloured by the
//! share of requests answered without a 5xx (no data grey, ≥ 99.9 % green,
//! ≥ 99 % yellow-green, ≥ 95 % orange, below red, maintenance and nothing
//! else blue and striped), each with a title saying the figures, and the
//! component's availability over the period in words beneath.
//!
//! Percentages are rounded down, in integers: a day is never shown as
//! 100 % unless every request was answered, and no count can overflow.

use std::fmt::Write as _;

use crate::html::escape;

use super::super::model::{ComponentView, DayUptime};
use super::super::when;

/// `ok` of `requests` as a percentage rounded down to two decimals (so a
/// day is never shown as 100 % unless every request was answered).
pub(super) fn percent(ok: u64, requests: u64) -> String {
    let ok = u128::from(ok.min(requests));
    let basis = ok * 10_000 / u128::from(requests.max(1));
    if basis == 10_000 {
        "100".into()
    } else {
        format!("{}.{:02}", basis / 100, basis % 100)
    }
}

/// `n` with thousands separators, e.g. `12,345`: how the page writes
/// counts, for whatever quotes them (the demo's timeline).
pub fn thousands(n: u64) -> String {
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

/// At least `num`/`den` of requests answered.
fn at_least(d: &DayUptime, num: u128, den: u128) -> bool {
    u128::from(d.ok.min(d.requests)) * den >= u128::from(d.requests) * num
}

/// The bar's class: `u0` no data, `u1` ≥ 99.9 %, `u2` ≥ 99 %, `u3` ≥ 95 %,
/// `u4` below (or nothing served during an outage), `u5` maintenance and
/// nothing else.
pub(super) fn day_class(d: &DayUptime) -> &'static str {
    if d.requests == 0 {
        return match (d.outage_minutes, d.maintenance_minutes) {
            (1.., _) => "u4",
            (0, 1..) => "u5",
            _ => "u0",
        };
    }
    if at_least(d, 999, 1000) {
        if d.maintenance_minutes > 0 && d.outage_minutes == 0 {
            "u5"
        } else {
            "u1"
        }
    } else if at_least(d, 99, 100) {
        "u2"
    } else if at_least(d, 95, 100) {
        "u3"
    } else {
        "u4"
    }
}

/// The bar's title, e.g. `2026-12-04: 99.95 % of 12,345 requests answered,
/// 0 min maintenance`.
pub(super) fn day_title(d: &DayUptime) -> String {
    let date = when::date(d.day_start_ms);
    let mut s = if d.requests == 0 {
        format!("{date}: no requests recorded")
    } else {
        format!(
            "{date}: {} % of {} requests answered",
            percent(d.ok, d.requests),
            thousands(d.requests)
        )
    };
    let _ = write!(s, ", {} min maintenance", d.maintenance_minutes);
    if d.outage_minutes > 0 {
        let _ = write!(s, ", {} min outage", d.outage_minutes);
    }
    s
}

/// A component's bars, one per day, and its availability over the period
/// in words.
pub(super) fn bars(c: &ComponentView, out: &mut String) {
    let days = c.uptime.len();
    let (ok, requests) = c.uptime.iter().fold((0u64, 0u64), |(o, r), d| {
        (
            o.saturating_add(d.ok.min(d.requests)),
            r.saturating_add(d.requests),
        )
    });
    let figure = if requests == 0 {
        "No requests recorded yet".to_owned()
    } else {
        format!(
            "{} % of requests answered over {days} days",
            percent(ok, requests)
        )
    };
    if days > 0 {
        let _ = write!(
            out,
            "<ol class=\"bars\" aria-label=\"Daily availability of {}, last {days} days\">",
            escape(&c.name)
        );
        for d in &c.uptime {
            let _ = write!(
                out,
                "<li class={} title=\"{}\">",
                day_class(d),
                day_title(d)
            );
        }
        out.push_str("</ol>");
    }
    let _ = write!(
        out,
        "<p class=\"range\"><span>{ago}</span><span>{figure}</span><span>{today}</span></p>",
        ago = if days > 0 {
            format!("{days} days ago")
        } else {
            String::new()
        },
        today = if days > 0 { "Today" } else { "" },
    );
}
