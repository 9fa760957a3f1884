//! The `Host` field as routing reads it (`levee_http::headers::parse_host`).
//! Input: the field value.
//!
//! Checks: an accepted host is lowercase, has no trailing dot, no userinfo,
//! no port and no bracket outside an IP literal; reading it again gives
//! itself (so routing on it is stable), and so does reading it with a port.

#![no_main]

use levee_http::headers::parse_host;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(host) = parse_host(data) else {
        return;
    };
    assert!(!host.bytes().any(|b| b.is_ascii_uppercase()), "{host:?}");
    assert!(!host.ends_with('.'), "{host:?}");
    assert!(!host.contains('@'), "{host:?}");
    // RFC 3986 §3.2.2: brackets only around an IP literal.
    let literal = host.starts_with('[') && host.ends_with(']');
    assert!(
        literal || !host.contains(['[', ']']),
        "{:?} read as the host {host:?}, which is not a uri-host",
        String::from_utf8_lossy(data)
    );
    if host.is_empty() {
        return;
    }
    assert_eq!(
        parse_host(host.as_bytes()).as_deref(),
        Some(host.as_str()),
        "the host read from {:?} does not read as itself",
        String::from_utf8_lossy(data)
    );
    assert_eq!(
        parse_host(format!("{host}:8080").as_bytes()).as_deref(),
        Some(host.as_str())
    );
});
