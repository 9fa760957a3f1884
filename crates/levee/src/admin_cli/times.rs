//! Times as the admin API writes them (RFC 3339) and as the CLI shows them:
//! UTC to the second, and relative to now (`in 9m 59s`, `5m 0s ago`).
//!
//! This module owns the only clock read of the admin CLI ([`now`]); every
//! other function takes `now` as an argument so it can be tested.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::duration::human;

/// The current time, UTC.
pub(crate) fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// Parses an RFC 3339 time (`2026-12-01T02:00:00Z`, any offset), for flags.
pub(crate) fn parse(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text.trim(), &Rfc3339)
        .map_err(|e| format!("{text:?} is not an RFC 3339 time like 2026-12-01T02:00:00Z ({e})"))
}

/// `t` in UTC to the second: `2026-12-01T02:00:00Z`.
pub(crate) fn format(t: OffsetDateTime) -> String {
    let utc = t.to_offset(time::UtcOffset::UTC);
    let whole = utc.replace_nanosecond(0).unwrap_or(utc);
    whole
        .format(&Rfc3339)
        .unwrap_or_else(|_| whole.unix_timestamp().to_string())
}

/// An API time, shown to the second in UTC; the text as it is when it is
/// not RFC 3339 (the CLI does not hide what the API said).
pub(crate) fn show(api: &str) -> String {
    OffsetDateTime::parse(api, &Rfc3339).map_or_else(|_| api.to_owned(), format)
}

/// `in 9m 59s`, `5m 0s ago` or `just now` (within the second): an API time
/// relative to `now`; `None` when the text is not RFC 3339.
pub(crate) fn relative(api: &str, now: OffsetDateTime) -> Option<String> {
    let t = OffsetDateTime::parse(api, &Rfc3339).ok()?;
    let secs = (t - now).whole_seconds();
    Some(if secs == 0 {
        "just now".to_owned()
    } else if secs > 0 {
        format!("in {}", human(secs.unsigned_abs()))
    } else {
        format!("{} ago", human(secs.unsigned_abs()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> OffsetDateTime {
        parse(s).expect("test time")
    }

    #[test]
    fn parses_any_offset_and_shows_utc_to_the_second() {
        assert_eq!(
            format(at("2026-12-01T03:00:00+01:00")),
            "2026-12-01T02:00:00Z"
        );
        assert_eq!(show("2026-12-01T02:00:00.734Z"), "2026-12-01T02:00:00Z");
        assert_eq!(show("not a time"), "not a time");
        let e = parse("tomorrow").expect_err("not RFC 3339");
        assert!(e.contains("RFC 3339"), "{e}");
        assert!(parse("2026-12-01 02:00").is_err());
    }

    #[test]
    fn relative_times_floor_to_the_second() {
        let now = at("2026-12-01T02:00:00.200Z");
        assert_eq!(
            relative("2026-12-01T02:10:00Z", now).as_deref(),
            Some("in 9m 59s")
        );
        assert_eq!(
            relative("2026-12-01T01:55:00.200Z", now).as_deref(),
            Some("5m 0s ago")
        );
        assert_eq!(
            relative("2026-12-03T05:00:00.200Z", now).as_deref(),
            Some("in 2d 3h")
        );
        assert_eq!(
            relative("2026-12-01T02:00:00Z", now).as_deref(),
            Some("just now")
        );
        assert_eq!(relative("never", now), None);
    }
}
