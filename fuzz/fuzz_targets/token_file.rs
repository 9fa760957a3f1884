//! The admin token file (`levee_control::admin::auth::AdminTokens::parse`):
//! `name:token` per line, a line without `:` is named `default`, blank
//! lines and `#` comments skipped. Input: the file's text; its last line is
//! also tried as an `Authorization` value.
//!
//! Checks: a file that parses holds one token per token line, and each of
//! them, presented as `Bearer <token>`, is allowed under its name (the last
//! line's name when two lines share a token); `Debug` names no secret; any
//! `Authorization` value gets a verdict without panicking.

#![no_main]

use levee_control::admin::auth::{AdminTokens, Verdict};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let tokens = match AdminTokens::parse(text, "tokens") {
        Ok(tokens) => tokens,
        Err(err) => {
            let _ = err.to_string();
            return;
        }
    };
    let pairs: Vec<(&str, &str)> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once(':') {
            Some((n, t)) => (n.trim(), t.trim()),
            None => ("default", l),
        })
        .collect();
    assert_eq!(tokens.len(), pairs.len());
    assert!(!tokens.is_empty());
    let shown = format!("{tokens:?}");
    for (_, token) in &pairs {
        let owner = pairs
            .iter()
            .rev()
            .find(|(_, t)| t == token)
            .map(|(n, _)| (*n).to_owned())
            .expect("the token itself");
        let header = format!("Bearer {token}");
        assert_eq!(
            tokens.verify(Some(header.as_bytes())),
            Verdict::Allowed(owner),
            "{token:?}"
        );
    }
    // Debug shows the names and nothing else: no secret. (Checking that no
    // token is a substring of it gave false alarms when a token happened
    // to read like part of the list's own rendering, `["name…`.)
    let names: Vec<&str> = pairs.iter().map(|(n, _)| *n).collect();
    assert_eq!(shown, format!("{names:?}"), "Debug shows only the names");
    let last = text.lines().last().unwrap_or_default();
    let _ = tokens.verify(Some(last.as_bytes()));
});
