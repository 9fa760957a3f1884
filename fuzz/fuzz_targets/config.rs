//! The configuration file (`levee_control::config::load`), as `levee config
//! check`, `levee serve` and every reload read it. Input: the file's text.
//!
//! Checks: `load` answers `Ok` or `Err`, never panics; an error renders,
//! and each diagnostic's line is one of the file's lines (an operator is
//! sent to a place that exists); every maintenance window the file declares
//! can be listed as the admin API lists it (`GET /v1/windows`).

#![no_main]

use std::path::Path;

use std::time::{Duration, UNIX_EPOCH};

use levee_control::admin::json::window_json;
use levee_control::config::{Overrides, load};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // A directory that does not exist: a relative `page` cannot be read.
    let path = Path::new("/nonexistent/levee-fuzz/levee.toml");
    match load(text, path, &Overrides::default()) {
        Ok(config) => {
            let _ = format!("{config:?}");
            let now = UNIX_EPOCH + Duration::from_secs(1_796_428_800);
            for w in &config.windows {
                let _ = window_json(w, now);
            }
        }
        Err(err) => {
            assert!(!err.diagnostics.is_empty(), "an error without a diagnostic");
            let lines = text.split('\n').count();
            for d in &err.diagnostics {
                if let Some(line) = d.line {
                    assert!((1..=lines).contains(&line), "line {line} of {lines}: {d:?}");
                    assert!(d.column.is_some_and(|c| c >= 1), "{d:?}");
                }
            }
            let _ = err.to_string();
        }
    }
});
