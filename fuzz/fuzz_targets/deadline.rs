//! The caller's deadline (levee-proxy `deadline`): `grpc-timeout` and the
//! millisecond header. Input: a `grpc-timeout` value, a line with the ms
//! header's value, a line with the budget left (nanoseconds) to pass on.
//!
//! Checks: a parsed `grpc-timeout` reads the same when written back with
//! another unit; the budget is the shorter of the two headers; after
//! `pass_on`, the headers say exactly the budget passed on (whole ms,
//! capped at 8 digits), and only the headers the request carried are set.

#![no_main]

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use levee_fuzz::first_line;
use levee_proxy::deadline::{GRPC_TIMEOUT, budget, parse_grpc_timeout, pass_on};
use libfuzzer_sys::fuzz_target;

fn grpc(text: &str) -> Option<Duration> {
    parse_grpc_timeout(&HeaderValue::from_str(text).ok()?)
}

fuzz_target!(|data: &[u8]| {
    let ms_name = HeaderName::from_static("x-request-timeout-ms");
    let (grpc_value, rest) = first_line(data);
    let (ms_value, rest) = first_line(rest);
    let (left, _) = first_line(rest);

    let mut headers = HeaderMap::new();
    let mut from_grpc = None;
    if let Ok(v) = HeaderValue::from_bytes(grpc_value) {
        from_grpc = parse_grpc_timeout(&v);
        if let Some(d) = from_grpc {
            assert!(grpc_value.len() <= 9, "1 to 8 digits and a unit");
            let nanos = d.as_nanos();
            if nanos <= 99_999_999 {
                assert_eq!(grpc(&format!("{nanos}n")), Some(d));
            }
            if d.subsec_nanos() == 0 && d.as_secs() <= 99_999_999 {
                assert_eq!(grpc(&format!("{}S", d.as_secs())), Some(d));
            }
        }
        headers.insert(GRPC_TIMEOUT, v);
    }
    let mut from_ms = None;
    if let Ok(v) = HeaderValue::from_bytes(ms_value) {
        from_ms = budget(
            &HeaderMap::from_iter([(ms_name.clone(), v.clone())]),
            &ms_name,
        );
        headers.insert(ms_name.clone(), v);
    }
    let expected = match (from_grpc, from_ms) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    assert_eq!(budget(&headers, &ms_name), expected);

    let Some(left) = std::str::from_utf8(left)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
    else {
        return;
    };
    let left = Duration::from_nanos(left);
    let carried = (
        headers.contains_key(GRPC_TIMEOUT),
        headers.contains_key(&ms_name),
    );
    pass_on(&mut headers, &ms_name, left);
    assert_eq!(
        (
            headers.contains_key(GRPC_TIMEOUT),
            headers.contains_key(&ms_name)
        ),
        carried,
        "pass_on sets only the headers the request carried"
    );
    let passed = Duration::from_millis(
        u64::try_from(left.as_millis())
            .unwrap_or(u64::MAX)
            .min(99_999_999),
    );
    let want = (carried.0 || carried.1).then_some(passed);
    assert_eq!(budget(&headers, &ms_name), want);
});
