//! The maintenance page browsers get during a window, and the time formats
//! a window is described in.
//!
//! The page is a template: the built-in [`DEFAULT_TEMPLATE`] or a file the
//! operator supplies (`[maintenance] page`). [`render`] replaces the
//! placeholders `{{title}}`, `{{message}}`, `{{ends_at}}`, `{{ends_at_iso}}`,
//! `{{retry_after}}`, `{{request_id}}` and `{{status_page}}` (the status
//! page's URL, empty when there is none) with HTML-escaped values, and
//! `{{status_page_link}}` with a sentence linking to it (or nothing);
//! anything else in the template is left as the operator wrote it.
//!
//! This module must not read files or the clock: the template text and the
//! times are arguments.

use std::time::SystemTime;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::html::escape;

/// The built-in maintenance page.
pub const DEFAULT_TEMPLATE: &str = include_str!("maintenance.html");

/// The placeholders a template may use.
pub const PLACEHOLDERS: &[&str] = &[
    "title",
    "message",
    "ends_at",
    "ends_at_iso",
    "retry_after",
    "request_id",
    "status_page",
    "status_page_link",
];

/// What the page says.
#[derive(Debug, Clone, Copy)]
pub struct PageFields<'a> {
    /// The page's heading, e.g. "Down for maintenance".
    pub title: &'a str,
    /// The operator's message (may be empty).
    pub message: &'a str,
    /// When the window ends; `None` when open-ended.
    pub ends_at: Option<SystemTime>,
    /// The `Retry-After` delay in seconds.
    pub retry_after: u64,
    /// The request id.
    pub request_id: &'a str,
    /// The status page's URL, if there is one.
    pub status_page: Option<&'a str>,
}

/// Fills `template` with `fields`, every value HTML-escaped.
pub fn render(template: &str, fields: &PageFields<'_>) -> String {
    let ends_at = fields
        .ends_at
        .map_or_else(|| "as soon as we can".to_owned(), human_utc);
    let ends_at_iso = fields.ends_at.map(rfc3339).unwrap_or_default();
    let retry_after = fields.retry_after.to_string();
    let value = |name: &str| -> Option<&str> {
        Some(match name {
            "title" => fields.title,
            "message" => fields.message,
            "ends_at" => &ends_at,
            "ends_at_iso" => &ends_at_iso,
            "retry_after" => &retry_after,
            "request_id" => fields.request_id,
            "status_page" => fields.status_page.unwrap_or_default(),
            _ => return None,
        })
    };
    // The one placeholder that is markup: built here, its URL escaped.
    let status_link = fields
        .status_page
        .map(|u| {
            format!(
                " The <a href=\"{}\">status page</a> says what is going on.",
                escape(u)
            )
        })
        .unwrap_or_default();
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        match after.find("}}") {
            Some(close) if after[..close].trim() == "status_page_link" => {
                out.push_str(&status_link);
                rest = &after[close + 2..];
            }
            Some(close) => match value(after[..close].trim()) {
                Some(v) => {
                    out.push_str(&escape(v));
                    rest = &after[close + 2..];
                }
                None => {
                    out.push_str("{{");
                    rest = after;
                }
            },
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The latest time shown: 9999-12-31T23:59:59Z, the end of four-digit
/// years (RFC 3339 and HTTP-dates have no more). A later time, which only
/// repeated extensions can make, is shown as this one instead of panicking.
pub fn latest() -> SystemTime {
    SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(253_402_300_799)
}

/// The earliest time shown or accepted: 0000-01-01T00:00:00Z, the start of
/// four-digit years.
pub fn earliest() -> SystemTime {
    SystemTime::UNIX_EPOCH - std::time::Duration::from_secs(62_167_219_200)
}

/// `t`, within [`earliest`] and [`latest`].
fn shown(t: SystemTime) -> OffsetDateTime {
    OffsetDateTime::from(t.clamp(earliest(), latest()))
}

/// RFC 3339 in UTC with whole seconds, e.g. `2026-12-01T02:00:00Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let t = shown(t);
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339)
        .unwrap_or_else(|_| httpdate::fmt_http_date(t.into()))
}

/// Parses an RFC 3339 time (any offset). A time before year 0 in UTC (which
/// `0000-01-01T00:00:00+00:01` is) has no RFC 3339 form to show it in, so it
/// is refused rather than accepted and shown as another time.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .map(SystemTime::from)
        .filter(|t| *t >= earliest())
}

/// A readable UTC time, e.g. `Tuesday 1 December 2026, 03:00 UTC`.
pub fn human_utc(t: SystemTime) -> String {
    let t = shown(t);
    format!(
        "{} {} {} {}, {:02}:{:02} UTC",
        t.weekday(),
        t.day(),
        t.month(),
        t.year(),
        t.hour(),
        t.minute()
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn fields(ends_at: Option<SystemTime>) -> PageFields<'static> {
        PageFields {
            title: "Down for maintenance",
            message: "Database <upgrade> & more",
            ends_at,
            retry_after: 600,
            request_id: "req_1",
            status_page: Some("https://status.example/?a=1&b=\"2\""),
        }
    }

    #[test]
    fn placeholders_are_filled_and_escaped() {
        let end = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_090_400);
        let out = render(
            "<h1>{{title}}</h1><p>{{ message }}</p><time datetime=\"{{ends_at_iso}}\">{{ends_at}}</time>{{retry_after}} {{request_id}} {{unknown}} {{",
            &fields(Some(end)),
        );
        assert_eq!(
            out,
            "<h1>Down for maintenance</h1><p>Database &lt;upgrade&gt; &amp; more</p>\
             <time datetime=\"2026-12-01T02:00:00Z\">Tuesday 1 December 2026, 02:00 UTC</time>\
             600 req_1 {{unknown}} {{"
        );
    }

    #[test]
    fn the_status_page_link_is_markup_with_an_escaped_url() {
        let out = render("{{status_page}}|{{status_page_link}}", &fields(None));
        assert_eq!(
            out,
            "https://status.example/?a=1&amp;b=&quot;2&quot;| The <a href=\"https://status.example/?a=1&amp;b=&quot;2&quot;\">status page</a> says what is going on."
        );
        let none = PageFields {
            status_page: None,
            ..fields(None)
        };
        assert_eq!(
            render("[{{status_page}}|{{status_page_link}}]", &none),
            "[|]"
        );
    }

    #[test]
    fn open_ended_windows_say_so() {
        let out = render("{{ends_at}}|{{ends_at_iso}}", &fields(None));
        assert_eq!(out, "as soon as we can|");
    }

    #[test]
    fn the_default_template_uses_the_placeholders() {
        let out = render(DEFAULT_TEMPLATE, &fields(None));
        assert!(out.contains("Database &lt;upgrade&gt; &amp; more"));
        assert!(out.contains("req_1"));
        assert!(!out.contains("{{message}}"));
    }

    #[test]
    fn times_before_year_0_are_refused_and_never_panic() {
        assert_eq!(parse_rfc3339("0000-01-01T00:00:00+00:01"), None);
        assert_eq!(
            parse_rfc3339("0000-01-01T00:00:00Z"),
            Some(earliest()),
            "year 0 itself is fine"
        );
        let before = earliest() - Duration::from_secs(86_400);
        assert_eq!(rfc3339(before), "0000-01-01T00:00:00Z");
        assert!(human_utc(before).contains(" 0,"), "{}", human_utc(before));
    }

    #[test]
    fn times_past_year_9999_are_shown_as_its_end() {
        let far = latest() + Duration::from_secs(86_400 * 366 * 100);
        assert_eq!(rfc3339(far), "9999-12-31T23:59:59Z");
        assert!(human_utc(far).contains("9999"));
    }

    #[test]
    fn rfc3339_round_trips_whole_seconds_and_accepts_offsets() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_090_400);
        assert_eq!(rfc3339(t), "2026-12-01T02:00:00Z");
        assert_eq!(parse_rfc3339("2026-12-01T02:00:00Z"), Some(t));
        assert_eq!(parse_rfc3339("2026-12-01T03:00:00+01:00"), Some(t));
        assert_eq!(parse_rfc3339("2026-12-01 02:00"), None);
        assert_eq!(parse_rfc3339("tomorrow"), None);
    }
}
