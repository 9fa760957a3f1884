//! Durations and byte sizes as written in the configuration file.
//!
//! Durations are strings of a number and a unit — `250ms`, `10s`, `2m`,
//! `1h` — or compound (`1m30s`); byte sizes are a number with an optional
//! unit — `512`, `64KiB`, `10MiB`, `1GiB` (also `KB`/`MB`/`GB` = powers of
//! 1000). A bare number of seconds is refused: `timeout = 30` is ambiguous
//! to a reader, and the error says what to write instead.
//!
//! This module must not know which option a value belongs to.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A duration from the configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConfigDuration(pub Duration);

/// A size in bytes from the configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

/// The units of a duration, largest first, with their length in seconds.
const UNITS: [(&str, f64); 5] = [
    ("d", 86_400.0),
    ("h", 3_600.0),
    ("m", 60.0),
    ("s", 1.0),
    ("ms", 0.001),
];

/// Parses `10s`, `250ms`, `1m30s`, `1.5h`, `2d`: the one duration grammar of
/// Levee, for the configuration file and the command line alike. One or
/// more parts of a number and a unit (`d`, `h`, `m`, `s`, `ms`), largest
/// unit first, each unit once. A bare number is refused: `30` could be
/// seconds or milliseconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let text = s.trim();
    let example = "such as \"250ms\", \"10s\", \"2m\" or \"1h30m\"";
    if text.is_empty() {
        return Err(format!(
            "a duration is needed: a number and a unit, {example}"
        ));
    }
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(format!(
            "a bare number ({text}) is ambiguous: write a duration with its unit, such as \"{text}s\" or \"{text}ms\""
        ));
    }
    let mut total = 0f64;
    let mut rest = text;
    let mut last: Option<usize> = None;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let Ok(number) = rest[..digits].parse::<f64>() else {
            return Err(format!(
                "invalid duration `{text}`: expected a number at `{rest}`, {example}"
            ));
        };
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = rest[..unit_len].trim();
        rest = rest[unit_len..].trim_start();
        let Some(index) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(format!(
                "unknown unit `{unit}` in `{text}`: use ms, s, m, h or d, {example}"
            ));
        };
        if last.is_some_and(|l| index <= l) {
            return Err(format!(
                "invalid duration `{text}`: give each unit once, largest first (e.g. \"1h30m\")"
            ));
        }
        last = Some(index);
        total += number * UNITS[index].1;
    }
    Duration::try_from_secs_f64(total).map_err(|_| format!("the duration `{text}` is too long"))
}

/// Parses `512`, `64KiB`, `10MiB`, `1GB`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let expected = || {
        format!(
            "invalid size `{s}`: expected a number of bytes, optionally with a unit, such as \"64KiB\", \"10MiB\" or \"1GiB\""
        )
    };
    let s = s.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: u64 = s[..digits].parse().map_err(|_| expected())?;
    let mult: u64 = match s[digits..].trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return Err(expected()),
    };
    n.checked_mul(mult).ok_or_else(expected)
}

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ConfigDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string such as \"10s\" or \"250ms\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ConfigDuration, E> {
                parse_duration(v).map(ConfigDuration).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ConfigDuration, E> {
                Err(E::custom(format!(
                    "a bare number ({v}) is ambiguous: write a duration with its unit, such as \"{v}s\" or \"{v}ms\""
                )))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as 1048576 or \"10MiB\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                parse_size(v).map(ByteSize).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v).map(ByteSize).map_err(|_| {
                    E::custom(format!(
                        "invalid size {v}: expected a non-negative number of bytes"
                    ))
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// Deserializes an optional whole number within `MIN..=MAX` (serde
/// `deserialize_with`): a value outside is refused where it is written, with
/// the range it must be in.
pub fn count<'de, const MIN: u64, const MAX: u64, T, D>(d: D) -> Result<Option<T>, D::Error>
where
    T: TryFrom<u64>,
    D: Deserializer<'de>,
{
    let v = i128::deserialize(d)?;
    let out_of_range = || {
        de::Error::custom(format!(
            "{v} is out of range: expected a whole number from {MIN} to {MAX}"
        ))
    };
    let n = u64::try_from(v).map_err(|_| out_of_range())?;
    if !(MIN..=MAX).contains(&n) {
        return Err(out_of_range());
    }
    T::try_from(n).map(Some).map_err(|_| out_of_range())
}

/// Deserializes an optional duration within `MIN_MS..=MAX_MS` milliseconds.
pub fn duration<'de, const MIN_MS: u64, const MAX_MS: u64, D>(
    d: D,
) -> Result<Option<ConfigDuration>, D::Error>
where
    D: Deserializer<'de>,
{
    let v = ConfigDuration::deserialize(d)?;
    let (min, max) = (Duration::from_millis(MIN_MS), Duration::from_millis(MAX_MS));
    if v.0 < min || v.0 > max {
        return Err(de::Error::custom(format!(
            "{} is out of range: expected a duration from {} to {}",
            show_duration(v.0),
            show_duration(min),
            show_duration(max)
        )));
    }
    Ok(Some(v))
}

/// Deserializes an optional size within `MIN..=MAX` bytes.
pub fn size<'de, const MIN: u64, const MAX: u64, D>(d: D) -> Result<Option<ByteSize>, D::Error>
where
    D: Deserializer<'de>,
{
    let v = ByteSize::deserialize(d)?;
    if !(MIN..=MAX).contains(&v.0) {
        return Err(de::Error::custom(format!(
            "{} bytes is out of range: expected a size from {} to {}",
            v.0,
            show_size(MIN),
            show_size(MAX)
        )));
    }
    Ok(Some(v))
}

/// Deserializes an optional fraction in `(0, 1]`.
pub fn fraction<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v = f64::deserialize(d)?;
    if !(v > 0.0 && v <= 1.0) {
        return Err(de::Error::custom(format!(
            "{v} is out of range: expected a fraction above 0 and at most 1, such as 0.5"
        )));
    }
    Ok(Some(v))
}

/// Deserializes an optional share in `[0, 1]`.
pub fn share<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v = f64::deserialize(d)?;
    if !(0.0..=1.0).contains(&v) {
        return Err(de::Error::custom(format!(
            "{v} is out of range: expected a share from 0 to 1, such as 0.5"
        )));
    }
    Ok(Some(v))
}

/// `d` in the configuration's own grammar, largest unit that divides it.
fn show_duration(d: Duration) -> String {
    let ms = d.as_millis();
    for (unit, len) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if ms >= len && ms.is_multiple_of(len) {
            return format!("\"{}{unit}\"", ms / len);
        }
    }
    format!("\"{ms}ms\"")
}

/// `n` bytes as the configuration would write it.
fn show_size(n: u64) -> String {
    for (unit, len) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if n >= len && n.is_multiple_of(len) {
            return format!("\"{}{unit}\"", n / len);
        }
    }
    n.to_string()
}

impl Serialize for ConfigDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}ms", self.0.as_millis()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(
            parse_duration("1d2h3m4s5ms"),
            Ok(Duration::from_millis(93_784_005))
        );
        for bad in [
            "",
            "10",
            "s",
            "10 parsecs",
            "-1s",
            "1e999s",
            "30m1h",
            "1m1m",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        let bare = parse_duration("30").expect_err("bare");
        assert!(
            bare.contains("ambiguous") && bare.contains("\"30s\""),
            "{bare}"
        );
        assert!(
            parse_duration("10x")
                .expect_err("unit")
                .contains("unknown unit `x`")
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("10MiB"), Ok(10 << 20));
        assert_eq!(parse_size("1GB"), Ok(1_000_000_000));
        for bad in ["", "ten", "1 parsec", "99999999999999999999TiB"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
