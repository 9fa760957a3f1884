//! Request-path normalization before routing (`levee_http::path::normalize`).
//! Input: the path, tried with and without merging slashes.
//!
//! Checks: normalizing the output again gives the same text (idempotence,
//! so a path cannot be walked past a rule in two steps); the output of an
//! absolute path is absolute and has no `.` or `..` segment, no `//` when
//! slashes are merged, and no escape of an unreserved character; an
//! invalid escape is the only error; anything not starting with `/` is
//! left alone.

#![no_main]

use levee_http::path::normalize;
use libfuzzer_sys::fuzz_target;

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    for merge in [true, false] {
        let out = match normalize(path, merge) {
            Ok(out) => out,
            Err(_) => {
                assert!(path.starts_with('/') && path.contains('%'), "{path:?}");
                continue;
            }
        };
        let again = normalize(&out, merge)
            .unwrap_or_else(|e| panic!("{path:?} -> {out:?} does not normalize again: {e}"));
        assert_eq!(again, out, "not idempotent on {path:?} (merge {merge})");
        if !path.starts_with('/') {
            assert_eq!(out, path);
            continue;
        }
        assert!(out.starts_with('/'), "{path:?} -> {out:?}");
        assert!(
            !out.split('/').any(|s| s == "." || s == ".."),
            "{path:?} -> {out:?} has a dot segment"
        );
        if merge {
            assert!(!out.contains("//"), "{path:?} -> {out:?}");
        }
        for (i, _) in out.match_indices('%') {
            let hex = &out[i + 1..i + 3];
            assert!(
                hex.bytes()
                    .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)),
                "{path:?} -> {out:?}"
            );
            let byte = u8::from_str_radix(hex, 16).expect("hex");
            assert!(!is_unreserved(byte), "{path:?} -> {out:?} keeps %{hex}");
        }
    }
});
