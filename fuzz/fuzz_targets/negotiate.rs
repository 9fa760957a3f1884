//! Accept negotiation for the gateway's own errors (levee-http
//! `negotiate`). Input: one `Accept` field value per line.
//!
//! Checks: the JSON style only swaps problem+json for the envelope; the
//! order of the fields does not matter; several fields mean the same as one
//! field joined with commas (RFC 9110 §5.3).

#![no_main]

use levee_fuzz::lines;
use levee_http::negotiate::{Format, JsonStyle, negotiate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let values: Vec<&[u8]> = lines(data).collect();
    let problem = negotiate(values.iter().copied(), JsonStyle::Problem);
    let envelope = negotiate(values.iter().copied(), JsonStyle::Envelope);
    match problem {
        Format::ProblemJson => assert_eq!(envelope, Format::Envelope),
        Format::Envelope => panic!("the problem style never answers the envelope"),
        other => assert_eq!(envelope, other),
    }
    assert_eq!(
        negotiate(values.iter().rev().copied(), JsonStyle::Problem),
        problem,
        "field order changed the answer"
    );
    let joined = values
        .iter()
        .filter_map(|v| std::str::from_utf8(v).ok())
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(
        negotiate([joined.as_bytes()], JsonStyle::Problem),
        problem,
        "one joined field answered differently from {values:?}"
    );
});
