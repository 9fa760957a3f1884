//! Durations as operators type them (`10m`, `1h30m`, `90s`, `2d`) and as
//! the tables print them (`9m 59s`, `1h 30m`, `2d 3h`).
//!
//! This module owns both grammars. It must not read the clock: the caller
//! subtracts times and hands a number of seconds in.

/// The units a duration may use, largest first, with their length in seconds.
const UNITS: [(char, u64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];

/// Parses a positive duration into whole seconds, in Levee's one grammar
/// (`10m`, `1h30m`, `90s`, `2d`; see
/// [`levee_control::config::units::parse_duration`]).
pub(crate) fn parse_seconds(text: &str) -> Result<u64, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("a duration is needed (e.g. 10m, 1h30m, 90s, 2d)".to_owned());
    }
    let d = levee_control::config::units::parse_duration(s)?;
    if d.subsec_nanos() != 0 {
        return Err(format!("{s:?}: whole seconds only (e.g. 90s, 1h30m)"));
    }
    if d.as_secs() == 0 {
        return Err(format!("{s:?} must be at least 1s"));
    }
    Ok(d.as_secs())
}

/// Parses a duration that may be negative (`-15m` shortens): whole seconds.
pub(crate) fn parse_signed_seconds(text: &str) -> Result<i64, String> {
    let s = text.trim();
    let (sign, magnitude) = match s.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, s.strip_prefix('+').unwrap_or(s)),
    };
    let secs = parse_seconds(magnitude)?;
    i64::try_from(secs)
        .map(|n| sign * n)
        .map_err(|_| format!("{s:?} is too long"))
}

/// Formats whole seconds with the two largest non-zero units: `9m 59s`,
/// `1h 30m`, `2d 3h`, `45s`, `0s`.
pub(crate) fn human(seconds: u64) -> String {
    let mut parts = Vec::with_capacity(2);
    let mut rest = seconds;
    for (unit, len) in UNITS {
        let n = rest / len;
        rest %= len;
        if n > 0 || !parts.is_empty() {
            parts.push(format!("{n}{unit}"));
        }
        if parts.len() == 2 {
            break;
        }
    }
    if parts.is_empty() {
        return "0s".to_owned();
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_single_and_compound_durations() {
        assert_eq!(parse_seconds("10m"), Ok(600));
        assert_eq!(parse_seconds("1h30m"), Ok(5_400));
        assert_eq!(parse_seconds("90s"), Ok(90));
        assert_eq!(parse_seconds("2d"), Ok(172_800));
        assert_eq!(parse_seconds(" 1d2h3m4s "), Ok(93_784));
    }

    #[test]
    fn refuses_what_it_cannot_read_and_says_why() {
        let no_unit = parse_seconds("10").expect_err("no unit");
        assert!(no_unit.contains("10s"), "{no_unit}");
        assert!(parse_seconds("").is_err());
        assert!(parse_seconds("m").is_err());
        assert!(
            parse_seconds("10x")
                .expect_err("unit")
                .contains("unknown unit")
        );
        assert!(parse_seconds("500ms").is_err(), "whole seconds only");
        assert_eq!(
            parse_seconds("1.5h"),
            Ok(5_400),
            "the file's grammar: decimals"
        );
        assert!(parse_seconds("30m1h").is_err(), "largest unit first");
        assert!(parse_seconds("1m1m").is_err(), "each unit once");
        assert!(parse_seconds("0s").expect_err("zero").contains("at least"));
        assert!(parse_seconds("-5m").is_err(), "negative only where allowed");
        assert!(parse_seconds("99999999999999999999d").is_err());
        assert!(parse_seconds("999999999999999d").is_err(), "overflow");
    }

    #[test]
    fn signed_durations_shorten() {
        assert_eq!(parse_signed_seconds("-15m"), Ok(-900));
        assert_eq!(parse_signed_seconds("+1h"), Ok(3_600));
        assert_eq!(parse_signed_seconds("1h"), Ok(3_600));
        assert!(parse_signed_seconds("--1h").is_err());
    }

    #[test]
    fn human_keeps_the_two_largest_units() {
        assert_eq!(human(0), "0s");
        assert_eq!(human(45), "45s");
        assert_eq!(human(599), "9m 59s");
        assert_eq!(human(600), "10m 0s");
        assert_eq!(human(5_400), "1h 30m");
        assert_eq!(human(3_601), "1h 0m");
        assert_eq!(human(183_600), "2d 3h");
    }
}
