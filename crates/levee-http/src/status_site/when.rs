//! Times as the status site shows them: Statuspage's RFC 3339 with
//! milliseconds, calendar dates, and a readable UTC form.
//!
//! Every function takes Unix milliseconds from the view and clamps them to
//! years 0000–9999 (the four-digit years RFC 3339 has), so no input can
//! panic or produce a time no reader parses. This module formats; it must
//! not read the clock.

use time::OffsetDateTime;

/// 0000-01-01T00:00:00.000Z in Unix milliseconds.
const EARLIEST_MS: i64 = -62_167_219_200_000;
/// 9999-12-31T23:59:59.999Z in Unix milliseconds.
const LATEST_MS: i64 = 253_402_300_799_999;
/// One day.
pub(crate) const DAY_MS: i64 = 86_400_000;

/// `ms` within years 0000–9999.
fn clamped(ms: i64) -> OffsetDateTime {
    let ms = ms.clamp(EARLIEST_MS, LATEST_MS);
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Statuspage's form, e.g. `2026-12-05T09:00:00.000Z`.
pub(crate) fn rfc3339(ms: i64) -> String {
    let t = clamped(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// The calendar date, e.g. `2026-12-05`.
pub(crate) fn date(ms: i64) -> String {
    let t = clamped(ms);
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

/// A readable date, e.g. `5 December 2026`.
pub(crate) fn human_date(ms: i64) -> String {
    let t = clamped(ms);
    format!("{} {} {:04}", t.day(), t.month(), t.year())
}

/// A readable time, e.g. `5 Dec 2026, 09:00 UTC`.
pub(crate) fn human(ms: i64) -> String {
    let t = clamped(ms);
    let month = t.month().to_string();
    format!(
        "{} {} {:04}, {:02}:{:02} UTC",
        t.day(),
        month.get(..3).unwrap_or(&month),
        t.year(),
        t.hour(),
        t.minute()
    )
}

/// The day `ms` falls in, counted from 1970-01-01 (negative before).
pub(crate) fn day(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuspage_form_has_milliseconds_and_z() {
        assert_eq!(rfc3339(1_796_461_200_000), "2026-12-05T09:00:00.000Z");
        assert_eq!(rfc3339(1_796_461_200_123), "2026-12-05T09:00:00.123Z");
        assert_eq!(date(1_796_461_200_000), "2026-12-05");
        assert_eq!(human(1_796_461_200_000), "5 Dec 2026, 09:00 UTC");
        assert_eq!(human_date(1_796_461_200_000), "5 December 2026");
    }

    #[test]
    fn extremes_are_clamped_not_panics() {
        assert_eq!(rfc3339(i64::MAX), "9999-12-31T23:59:59.999Z");
        assert_eq!(rfc3339(i64::MIN), "0000-01-01T00:00:00.000Z");
        assert_eq!(date(i64::MIN), "0000-01-01");
        assert_eq!(human(i64::MAX), "31 Dec 9999, 23:59 UTC");
        assert_eq!(day(-1), -1);
        assert_eq!(day(i64::MIN), i64::MIN.div_euclid(DAY_MS));
    }
}
