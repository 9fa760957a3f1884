//! The caller's deadline: read from the request, passed on upstream.
//!
//! A caller may say how long it will wait: gRPC's `grpc-timeout` (digits
//! and a unit, `H M S m u n`, per the gRPC over HTTP/2 spec) or a header
//! holding milliseconds (`x-request-timeout-ms` by default, configurable).
//! The gateway sheds at once work it cannot start before the caller gives
//! up, caps its wait for the upstream at what remains, and rewrites both
//! headers upstream with the budget that remains when the request leaves,
//! so the next hop can do the same.
//!
//! This module must not decide what to do with a deadline; it parses and
//! formats.

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};

/// `grpc-timeout`.
pub const GRPC_TIMEOUT: HeaderName = HeaderName::from_static("grpc-timeout");

/// The shortest budget of the two headers, if either is present and valid.
pub fn budget(headers: &HeaderMap, ms_header: &HeaderName) -> Option<Duration> {
    let grpc = headers.get(GRPC_TIMEOUT).and_then(parse_grpc_timeout);
    let ms = headers
        .get(ms_header)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(Duration::from_millis);
    match (grpc, ms) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Parses `grpc-timeout`: 1 to 8 digits and a unit.
pub fn parse_grpc_timeout(v: &HeaderValue) -> Option<Duration> {
    let b = v.as_bytes();
    let (digits, unit) = b.split_at(b.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(match unit {
        b"H" => Duration::from_secs(n.checked_mul(3600)?),
        b"M" => Duration::from_secs(n.checked_mul(60)?),
        b"S" => Duration::from_secs(n),
        b"m" => Duration::from_millis(n),
        b"u" => Duration::from_micros(n),
        b"n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// Rewrites the headers the request carried with the budget that remains.
pub fn pass_on(headers: &mut HeaderMap, ms_header: &HeaderName, remaining: Duration) {
    let ms = u64::try_from(remaining.as_millis())
        .unwrap_or(u64::MAX)
        .min(99_999_999);
    if headers.contains_key(GRPC_TIMEOUT) {
        headers.insert(
            GRPC_TIMEOUT,
            HeaderValue::from_str(&format!("{ms}m")).expect("digits and m are a valid value"),
        );
    }
    if headers.contains_key(ms_header) {
        headers.insert(ms_header.clone(), HeaderValue::from(ms));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts() {
        let p = |s: &'static str| parse_grpc_timeout(&HeaderValue::from_static(s));
        assert_eq!(p("1S"), Some(Duration::from_secs(1)));
        assert_eq!(p("250m"), Some(Duration::from_millis(250)));
        assert_eq!(p("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(p("99999999n"), Some(Duration::from_nanos(99_999_999)));
        for bad in ["", "S", "123456789S", "1s", "-1S", "1.5S"] {
            assert_eq!(p(bad), None, "{bad}");
        }
    }

    #[test]
    fn shortest_budget_wins_and_is_passed_on() {
        let name = HeaderName::from_static("x-request-timeout-ms");
        let mut h = HeaderMap::new();
        h.insert(GRPC_TIMEOUT, HeaderValue::from_static("2S"));
        h.insert(name.clone(), HeaderValue::from_static("1500"));
        assert_eq!(budget(&h, &name), Some(Duration::from_millis(1500)));
        pass_on(&mut h, &name, Duration::from_millis(1234));
        assert_eq!(h[GRPC_TIMEOUT], "1234m");
        assert_eq!(h[&name], "1234");
        assert_eq!(budget(&HeaderMap::new(), &name), None);
    }
}
