//! Hop-by-hop fields and `Connection` (levee-http `headers`): what a proxy
//! removes before forwarding, and which `Upgrade` it lets through. Input: a
//! line with the allowed upgrade protocols (comma-separated), then the
//! request's `name: value` lines.
//!
//! Checks: after `remove_hop_by_hop` no hop-by-hop field and no field that
//! `Connection` names is left, except `Host` and `Content-Length`, which
//! are kept untouched, as is every other field; removing again changes
//! nothing. `allowed_upgrade` forwards only listed protocols, and only from
//! the request's own `Upgrade` field; an upgrade request has one.

#![no_main]

use std::collections::HashSet;

use http::header::{self, HeaderName};
use levee_fuzz::{first_line, header_map};
use levee_http::headers::{HOP_BY_HOP, allowed_upgrade, is_upgrade_request, remove_hop_by_hop};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (allowed, fields) = first_line(data);
    let allowed: Vec<String> = String::from_utf8_lossy(allowed)
        .split(',')
        .map(|a| a.trim().to_owned())
        .collect();
    let before = header_map(fields);

    if is_upgrade_request(&before) {
        assert!(before.contains_key(header::UPGRADE));
    }
    match allowed_upgrade(&before, &allowed) {
        None => {}
        Some(v) => {
            assert!(before.contains_key(header::UPGRADE));
            let v = v.to_str().expect("built from visible text");
            for protocol in v.split(',') {
                let name = protocol.split('/').next().unwrap_or_default().trim();
                assert!(
                    allowed.iter().any(|a| a.eq_ignore_ascii_case(name)),
                    "{name:?} forwarded but not in {allowed:?}"
                );
            }
        }
    }

    let named: HashSet<HeaderName> = before
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    let mut after = before.clone();
    remove_hop_by_hop(&mut after);
    for name in &HOP_BY_HOP {
        assert!(!after.contains_key(name), "{name} kept");
    }
    for name in before.keys() {
        let end_to_end = name == header::HOST || name == header::CONTENT_LENGTH;
        let hop = HOP_BY_HOP.contains(name) || (named.contains(name) && !end_to_end);
        if hop {
            assert!(!after.contains_key(name), "{name} kept");
        } else {
            assert!(
                before.get_all(name).iter().eq(after.get_all(name).iter()),
                "{name} changed"
            );
        }
    }
    assert!(after.keys().all(|k| before.contains_key(k)));
    let mut again = after.clone();
    remove_hop_by_hop(&mut again);
    assert_eq!(again, after, "removing twice removed more");
});
