//! `Retry-After` as a client receives it (levee-http `retry_after`), both
//! grammars. Input: the field value, then optionally a line with the
//! response's `Date`.
//!
//! Checks: the two entry points agree; every accepted value renders to a
//! value that parses back to the same instruction (delay-seconds never
//! below 1); a delay is whole seconds within `MAX_DELAY_SECS`; the wait
//! computed with or without a `Date` never panics and is the delay itself
//! for delay-seconds.

#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use http::HeaderValue;
use levee_fuzz::first_line;
use levee_http::retry_after::{MAX_DELAY_SECS, RetryAfter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (value, date) = first_line(data);
    let Ok(header) = HeaderValue::from_bytes(value) else {
        return;
    };
    let parsed = RetryAfter::from_header_value(&header);
    if let Ok(text) = std::str::from_utf8(value) {
        assert_eq!(
            RetryAfter::parse(text).ok(),
            parsed.clone().ok(),
            "parse and from_header_value disagree on {text:?}"
        );
    }
    let Ok(ra) = parsed else {
        return;
    };
    let shown = ra.to_string();
    let back = RetryAfter::parse(&shown).expect("what Levee renders parses");
    assert_eq!(back.to_header_value(), shown.as_str());
    match ra {
        RetryAfter::Delay(d) => {
            assert_eq!(d.subsec_nanos(), 0);
            assert!(d.as_secs() <= MAX_DELAY_SECS);
            assert_eq!(back, RetryAfter::Delay(d.max(Duration::from_secs(1))));
        }
        RetryAfter::Date(_) => assert_eq!(back, ra, "{shown}"),
    }

    let server_date = std::str::from_utf8(date)
        .ok()
        .and_then(|d| httpdate::parse_http_date(d.trim()).ok());
    for now in [
        UNIX_EPOCH,
        UNIX_EPOCH + Duration::from_secs(1_796_090_400),
        UNIX_EPOCH + Duration::from_secs(253_402_300_799),
    ] {
        let wait = ra.delay_from(now, server_date);
        match ra {
            RetryAfter::Delay(d) => assert_eq!(wait, d),
            RetryAfter::Date(at) => {
                let from = server_date.unwrap_or(now);
                assert_eq!(wait, at.duration_since(from).unwrap_or(Duration::ZERO));
            }
        }
    }
});
