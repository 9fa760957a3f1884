//! `Retry-After` (RFC 9110 §10.2.3) in both of its grammars.
//!
//! ```text
//! Retry-After = HTTP-date / delay-seconds
//! delay-seconds = 1*DIGIT
//! ```
//!
//! This module owns parsing a received value (every HTTP-date form a
//! recipient must accept: IMF-fixdate, and the obsolete RFC 850 and asctime
//! forms of RFC 9110 §5.6.7), turning it into a wait with clock-skew
//! correction, and formatting the value Levee sends.
//!
//! It must not read the clock or do I/O: `now` and the response's `Date` are
//! arguments, so the gateway, the client and the tests all agree on one
//! piece of arithmetic.
//!
//! # Clock skew
//!
//! An HTTP-date is written on the *server's* clock. If the response also
//! carries a `Date` header (it should: RFC 9110 §6.6.1), the honest wait is
//! `retry_date - server_date`, whatever our own clock says. Only without a
//! `Date` header do we fall back to `retry_date - now`.
//!
//! ```
//! use std::time::{Duration, SystemTime, UNIX_EPOCH};
//! use levee_http::retry_after::RetryAfter;
//!
//! let asked: RetryAfter = "Sun, 06 Nov 1994 08:49:37 GMT".parse()?;
//! let server_date = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:07 GMT")?;
//! // Our clock is an hour fast; the server's `Date` header keeps the wait honest.
//! let now = server_date + Duration::from_secs(3600);
//! assert_eq!(asked.delay_from(now, Some(server_date)), Duration::from_secs(30));
//! assert_eq!(asked.delay_from(now, None), Duration::ZERO);
//!
//! assert_eq!(RetryAfter::Delay(Duration::from_millis(1500)).to_string(), "2");
//! # let _ = UNIX_EPOCH;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderValue;

/// The largest delay-seconds value accepted: one year.
///
/// RFC 9110 puts no bound on `1*DIGIT`, but a server asking for more than a
/// year is broken or hostile; a typed error lets the caller give up clearly
/// instead of overflowing or sleeping forever.
pub const MAX_DELAY_SECS: u64 = 366 * 24 * 60 * 60;

/// The last instant an IMF-fixdate can spell (9999-12-31T23:59:59Z).
const MAX_HTTP_DATE_SECS: u64 = 253_402_300_799;

/// A parsed or to-be-sent `Retry-After` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryAfter {
    /// `delay-seconds`: wait this long after the response was received.
    ///
    /// Formatted as whole seconds rounded up, and never below 1, so a sender
    /// never tells a client to come back "now".
    Delay(Duration),
    /// `HTTP-date`: retry no sooner than this instant, on the server's clock.
    ///
    /// Formatted as an IMF-fixdate; sub-second precision is dropped and
    /// instants outside 1970..=9999 are clamped to that range.
    Date(SystemTime),
}

/// Why a `Retry-After` value was rejected. Each variant carries the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetryAfterError {
    /// The value was empty or only whitespace.
    #[error("empty Retry-After value")]
    Empty,
    /// The value contained bytes that are not visible ASCII.
    #[error("Retry-After value {value:?} is not visible ASCII")]
    NotAscii {
        /// The raw value, lossily decoded.
        value: String,
    },
    /// The value was a negative number; delay-seconds has no sign.
    #[error("Retry-After value {value:?} is negative")]
    Negative {
        /// The value as received.
        value: String,
    },
    /// The value was a delay larger than [`MAX_DELAY_SECS`].
    #[error("Retry-After value {value:?} exceeds the maximum of {max} seconds")]
    TooLarge {
        /// The value as received.
        value: String,
        /// The largest accepted delay, in seconds.
        max: u64,
    },
    /// The value was neither delay-seconds nor any HTTP-date form.
    #[error("Retry-After value {value:?} is neither delay-seconds nor an HTTP-date")]
    Invalid {
        /// The value as received.
        value: String,
    },
}

impl RetryAfter {
    /// Parses a `Retry-After` field value (surrounding whitespace allowed).
    pub fn parse(value: &str) -> Result<Self, RetryAfterError> {
        let trimmed = value.trim_matches([' ', '\t']);
        if trimmed.is_empty() {
            return Err(RetryAfterError::Empty);
        }
        if !trimmed
            .bytes()
            .all(|b| b.is_ascii_graphic() || b == b' ' || b == b'\t')
        {
            return Err(RetryAfterError::NotAscii {
                value: value.to_owned(),
            });
        }
        if trimmed.bytes().all(|b| b.is_ascii_digit()) {
            return parse_delay_seconds(trimmed, value);
        }
        if let Some(rest) = trimmed.strip_prefix('-')
            && !rest.is_empty()
            && rest.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        {
            return Err(RetryAfterError::Negative {
                value: value.to_owned(),
            });
        }
        httpdate::parse_http_date(trimmed)
            .map(RetryAfter::Date)
            .map_err(|_| RetryAfterError::Invalid {
                value: value.to_owned(),
            })
    }

    /// Parses a received header value.
    pub fn from_header_value(value: &HeaderValue) -> Result<Self, RetryAfterError> {
        match value.to_str() {
            Ok(text) => Self::parse(text),
            Err(_) => Err(RetryAfterError::NotAscii {
                value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
            }),
        }
    }

    /// How long to wait, measured from `now` (our clock).
    ///
    /// For [`RetryAfter::Date`], `server_date` (the response's `Date` header)
    /// corrects for clock skew: the wait is the distance between the two
    /// server-clock instants. Dates in the past mean no wait.
    pub fn delay_from(&self, now: SystemTime, server_date: Option<SystemTime>) -> Duration {
        match *self {
            RetryAfter::Delay(delay) => delay,
            RetryAfter::Date(date) => {
                let reference = server_date.unwrap_or(now);
                date.duration_since(reference).unwrap_or(Duration::ZERO)
            }
        }
    }

    /// The value as a header, formatted as [`Display`](fmt::Display) does.
    pub fn to_header_value(&self) -> HeaderValue {
        HeaderValue::try_from(self.to_string())
            .expect("delay-seconds and IMF-fixdate are always visible ASCII")
    }
}

fn parse_delay_seconds(digits: &str, original: &str) -> Result<RetryAfter, RetryAfterError> {
    let too_large = || RetryAfterError::TooLarge {
        value: original.to_owned(),
        max: MAX_DELAY_SECS,
    };
    // `u64::from_str` fails only on overflow here: the input is all digits.
    let secs = digits.parse::<u64>().map_err(|_| too_large())?;
    if secs > MAX_DELAY_SECS {
        return Err(too_large());
    }
    Ok(RetryAfter::Delay(Duration::from_secs(secs)))
}

impl FromStr for RetryAfter {
    type Err = RetryAfterError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&HeaderValue> for RetryAfter {
    type Error = RetryAfterError;

    fn try_from(value: &HeaderValue) -> Result<Self, Self::Error> {
        Self::from_header_value(value)
    }
}

impl fmt::Display for RetryAfter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RetryAfter::Delay(delay) => {
                // Round up: telling a client 0 when we meant 0.4 s invites a
                // retry before we are ready.
                let whole = delay.as_secs() + u64::from(delay.subsec_nanos() > 0);
                write!(f, "{}", whole.max(1))
            }
            RetryAfter::Date(date) => {
                // httpdate panics outside 1970..=9999; clamp instead.
                let secs = date
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs())
                    .min(MAX_HTTP_DATE_SECS);
                let whole = UNIX_EPOCH + Duration::from_secs(secs);
                f.write_str(&httpdate::fmt_http_date(whole))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    /// 1994-11-06T08:49:37Z, the RFC's example instant.
    const EXAMPLE: u64 = 784_111_777;

    #[test]
    fn parses_delay_seconds() {
        assert_eq!(
            RetryAfter::parse("120"),
            Ok(RetryAfter::Delay(Duration::from_secs(120)))
        );
        assert_eq!(
            RetryAfter::parse(" 0\t"),
            Ok(RetryAfter::Delay(Duration::ZERO))
        );
        assert_eq!(
            RetryAfter::parse("007"),
            Ok(RetryAfter::Delay(Duration::from_secs(7)))
        );
    }

    #[test]
    fn parses_every_date_form() {
        for form in [
            "Sun, 06 Nov 1994 08:49:37 GMT",  // IMF-fixdate
            "Sunday, 06-Nov-94 08:49:37 GMT", // obsolete RFC 850
            "Sun Nov  6 08:49:37 1994",       // obsolete asctime
        ] {
            assert_eq!(
                RetryAfter::parse(form),
                Ok(RetryAfter::Date(at(EXAMPLE))),
                "{form}"
            );
        }
    }

    #[test]
    fn rejects_garbage_with_typed_errors() {
        assert_eq!(RetryAfter::parse(""), Err(RetryAfterError::Empty));
        assert_eq!(RetryAfter::parse("  "), Err(RetryAfterError::Empty));
        assert!(matches!(
            RetryAfter::parse("-5"),
            Err(RetryAfterError::Negative { value }) if value == "-5"
        ));
        assert!(matches!(
            RetryAfter::parse("99999999999999999999999"),
            Err(RetryAfterError::TooLarge { .. })
        ));
        assert!(matches!(
            RetryAfter::parse(&(MAX_DELAY_SECS + 1).to_string()),
            Err(RetryAfterError::TooLarge { .. })
        ));
        assert_eq!(
            RetryAfter::parse(&MAX_DELAY_SECS.to_string()),
            Ok(RetryAfter::Delay(Duration::from_secs(MAX_DELAY_SECS)))
        );
        for bad in ["1.5", "+3", "soon", "10s", "Sun, 06 Nov 1994", "1 2"] {
            assert!(
                matches!(RetryAfter::parse(bad), Err(RetryAfterError::Invalid { .. })),
                "{bad}"
            );
        }
        let latin1 = HeaderValue::from_bytes(b"\xe91").expect("obs-text is a valid header value");
        assert!(matches!(
            RetryAfter::from_header_value(&latin1),
            Err(RetryAfterError::NotAscii { .. })
        ));
    }

    #[test]
    fn date_uses_server_clock_when_known() {
        let ra = RetryAfter::Date(at(EXAMPLE + 30));
        let server = at(EXAMPLE);
        // Our clock runs five minutes slow: without correction we'd wait 5m30s.
        let now = at(EXAMPLE - 300);
        assert_eq!(ra.delay_from(now, Some(server)), Duration::from_secs(30));
        assert_eq!(ra.delay_from(now, None), Duration::from_secs(330));
        // A date in the past means "now".
        assert_eq!(ra.delay_from(at(EXAMPLE + 60), None), Duration::ZERO);
    }

    #[test]
    fn displays_contract_values() {
        assert_eq!(RetryAfter::Delay(Duration::ZERO).to_string(), "1");
        assert_eq!(RetryAfter::Delay(Duration::from_millis(1)).to_string(), "1");
        assert_eq!(RetryAfter::Delay(Duration::from_secs(10)).to_string(), "10");
        assert_eq!(
            RetryAfter::Delay(Duration::from_millis(10_001)).to_string(),
            "11"
        );
        assert_eq!(
            RetryAfter::Date(at(EXAMPLE) + Duration::from_millis(999)).to_string(),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(
            RetryAfter::Date(UNIX_EPOCH - Duration::from_secs(1)).to_string(),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
        assert_eq!(
            RetryAfter::Date(at(u64::from(u32::MAX) * 1000)).to_string(),
            "Fri, 31 Dec 9999 23:59:59 GMT"
        );
        assert_eq!(
            RetryAfter::Delay(Duration::from_secs(5)).to_header_value(),
            "5"
        );
    }

    proptest! {
        #[test]
        fn never_panics_on_any_input(s in "\\PC*") {
            let _ = RetryAfter::parse(&s);
        }

        #[test]
        fn never_panics_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(value) = HeaderValue::from_bytes(&bytes) {
                let _ = RetryAfter::from_header_value(&value);
            }
        }

        #[test]
        fn delay_seconds_roundtrip(secs in 1..=MAX_DELAY_SECS) {
            let ra = RetryAfter::Delay(Duration::from_secs(secs));
            prop_assert_eq!(RetryAfter::parse(&ra.to_string()), Ok(ra));
        }

        #[test]
        fn any_digits_parse_or_are_too_large(digits in "[0-9]{1,40}") {
            match RetryAfter::parse(&digits) {
                Ok(RetryAfter::Delay(d)) => prop_assert!(d.as_secs() <= MAX_DELAY_SECS),
                Err(RetryAfterError::TooLarge { value, .. }) => prop_assert_eq!(value, digits),
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }

        #[test]
        fn negatives_are_rejected(n in 1u64..u64::MAX) {
            let value = format!("-{n}");
            prop_assert_eq!(
                RetryAfter::parse(&value),
                Err(RetryAfterError::Negative { value: value.clone() })
            );
        }

        #[test]
        fn formatted_delay_is_at_least_one_and_never_early(millis in 0u64..10_000_000) {
            let delay = Duration::from_millis(millis);
            let shown: u64 = RetryAfter::Delay(delay).to_string().parse().expect("digits");
            prop_assert!(shown >= 1);
            prop_assert!(Duration::from_secs(shown) >= delay);
            prop_assert!(Duration::from_secs(shown) < delay + Duration::from_secs(1) || millis < 1000);
        }

        #[test]
        fn every_date_form_roundtrips(secs in 0u64..MAX_HTTP_DATE_SECS) {
            let date = at(secs);
            let imf = RetryAfter::Date(date).to_string();
            prop_assert_eq!(RetryAfter::parse(&imf), Ok(RetryAfter::Date(date)));

            // Rebuild the obsolete forms from the IMF-fixdate's fields.
            // "Sun, 06 Nov 1994 08:49:37 GMT"
            let (wkday, rest) = imf.split_once(", ").expect("IMF-fixdate has a comma");
            let parts: Vec<&str> = rest.split(' ').collect();
            let (day, month, year, time) = (parts[0], parts[1], parts[2], parts[3]);
            let asctime = format!("{wkday} {month} {:>2} {time} {year}", day.trim_start_matches('0'));
            prop_assert_eq!(RetryAfter::parse(&asctime), Ok(RetryAfter::Date(date)), "{}", asctime);

            // RFC 850 has a two-digit year; httpdate reads 70..=99 as 19xx and
            // 00..=69 as 20xx, so only that century window roundtrips.
            let year_num: u32 = year.parse().expect("four digits");
            if (1970..2070).contains(&year_num) {
                let weekday = match wkday {
                    "Mon" => "Monday", "Tue" => "Tuesday", "Wed" => "Wednesday",
                    "Thu" => "Thursday", "Fri" => "Friday", "Sat" => "Saturday",
                    _ => "Sunday",
                };
                let rfc850 = format!("{weekday}, {day}-{month}-{} {time} GMT", &year[2..]);
                prop_assert_eq!(RetryAfter::parse(&rfc850), Ok(RetryAfter::Date(date)), "{}", rfc850);
            }
        }

        #[test]
        fn skew_correction_ignores_our_clock(
            server in 0u64..4_000_000_000,
            ahead in 0u64..100_000,
            skew in -100_000i64..100_000,
        ) {
            let ra = RetryAfter::Date(at(server + ahead));
            let now = at(server.saturating_add_signed(skew));
            prop_assert_eq!(ra.delay_from(now, Some(at(server))), Duration::from_secs(ahead));
        }
    }
}
