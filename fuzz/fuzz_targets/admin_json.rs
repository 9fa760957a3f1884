//! Admin API JSON input (levee-control `admin::input`): the bodies of
//! `POST /v1/windows` and `PATCH /v1/windows/{id}`. Input: the body.
//!
//! A draft that validates is made into the window the control plane would
//! store (as `create_window` does: start defaults to now, `duration_seconds`
//! counts from the start, times kept in whole seconds), and rendered as the
//! API answers it (`admin::json::window_json`).
//!
//! Checks: validation answers a draft or at least one field error,
//! never panics; rendering a stored window never panics; and the API's own
//! rendering, sent back as a draft, is accepted and means the same window
//! (scope, times, message, bypass header and networks).

#![no_main]

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use levee_control::admin::input::{window_draft, window_patch};
use levee_control::admin::json::window_json;
use levee_control::control::{End, Source, WindowDraft, WindowRecord, from_ms, to_ms};
use levee_proxy::control::{Bypass, Window};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

/// 2026-12-05T00:00:00Z: "now" for every input, so runs repeat.
const NOW: u64 = 1_796_428_800;

fn whole_seconds(t: SystemTime) -> SystemTime {
    from_ms(to_ms(t).div_euclid(1000) * 1000)
}

fn stored(draft: &WindowDraft, now: SystemTime) -> Option<WindowRecord> {
    let starts_at = draft.starts_at.unwrap_or(now);
    let ends_at = match draft.end {
        End::Open => None,
        End::At(t) => Some(t),
        End::After(d) => Some(starts_at + d),
    };
    // create_window refuses these (check_times).
    if ends_at.is_some_and(|end| end <= starts_at || end <= now) {
        return None;
    }
    Some(WindowRecord {
        window: Arc::new(Window {
            id: "w_fuzz".into(),
            scope: draft.scope.clone(),
            starts_at: whole_seconds(starts_at),
            ends_at: ends_at.map(whole_seconds),
            message: draft.message.as_str().into(),
            bypass: Bypass {
                header: draft.bypass.header.clone(),
                token_sha256: draft.bypass.token_sha256,
                networks: draft.bypass.networks.clone(),
            },
        }),
        source: Source::Api,
        created_at: whole_seconds(now),
        created_by: "fuzz".to_owned(),
        updated_at: whole_seconds(now),
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let now = UNIX_EPOCH + Duration::from_secs(NOW);
    if let Err(errors) = window_patch(&body) {
        assert!(!errors.is_empty(), "refused without a reason");
    }
    let draft = match window_draft(&body) {
        Ok(draft) => draft,
        Err(errors) => {
            assert!(!errors.is_empty(), "refused without a reason");
            return;
        }
    };
    let Some(record) = stored(&draft, now) else {
        return;
    };
    let shown = window_json(&record, now);

    // The rendering, sent back as a new window's body.
    let w = &record.window;
    let latest = levee_http::maintenance::latest();
    if w.starts_at > latest || w.ends_at.is_some_and(|e| e > latest) {
        return; // shown as 9999-12-31T23:59:59Z, on purpose
    }
    let mut again = Map::new();
    for key in ["scope", "starts_at", "ends_at", "message"] {
        if !shown[key].is_null() {
            again.insert(key.to_owned(), shown[key].clone());
        }
    }
    let mut bypass = Map::new();
    bypass.insert("header".into(), shown["bypass"]["header"].clone());
    bypass.insert("networks".into(), shown["bypass"]["networks"].clone());
    again.insert("bypass".into(), Value::Object(bypass));
    let redraft = window_draft(&Value::Object(again))
        .unwrap_or_else(|e| panic!("the API's own {shown} is refused: {e:?}"));
    assert_eq!(redraft.scope, w.scope);
    assert_eq!(redraft.starts_at, Some(w.starts_at), "{shown}");
    match (redraft.end, w.ends_at) {
        (End::At(a), Some(b)) => assert_eq!(a, b, "{shown}"),
        (End::Open, None) => {}
        (end, want) => panic!("{shown}: end {end:?}, want {want:?}"),
    }
    assert_eq!(redraft.message, &*w.message);
    assert_eq!(redraft.bypass.header, w.bypass.header);
    assert_eq!(redraft.bypass.networks, w.bypass.networks);
});
