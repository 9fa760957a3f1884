use super::*;

/// The registry as of its 2025-09-15 update, written out independently of
/// the data file, so that a slip in either shows.
const REGISTERED: &[u16] = &[
    100, 101, 102, 103, 104, //
    200, 201, 202, 203, 204, 205, 206, 207, 208, 226, //
    300, 301, 302, 303, 304, 305, 306, 307, 308, //
    400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418,
    421, 422, 423, 424, 425, 426, 428, 429, 431, 451, //
    500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
];

#[test]
fn the_bundled_data_loads() {
    let loaded = file::load(file::BUNDLED_REGISTRY, file::BUNDLED_CODES);
    assert!(loaded.is_ok(), "{loaded:?}");
}

#[test]
fn every_registered_code_has_an_official_entry_and_nothing_else_is_official() {
    for code in REGISTERED {
        let info = lookup(*code).unwrap_or_else(|| panic!("no entry for {code}"));
        assert!(info.is_official(), "{code}");
        assert!(info.reference.is_some(), "{code}");
    }
    for info in all() {
        assert_eq!(
            info.is_official(),
            REGISTERED.contains(&info.code),
            "{} is marked {:?}",
            info.code,
            info.standing
        );
    }
    assert_eq!(
        all().iter().filter(|s| s.is_official()).count(),
        REGISTERED.len()
    );
}

#[test]
fn unassigned_codes_have_no_entry_but_well_known_unofficial_ones_do() {
    for code in [
        105,
        199,
        209,
        299,
        309,
        419 + 100,
        427,
        430,
        452,
        509 + 3,
        600,
    ] {
        if let Some(info) = lookup(code) {
            assert!(!info.is_official(), "{code} is unassigned in the registry");
        }
    }
    assert!(lookup(299).is_none());
    assert!(lookup(600).is_none());
    for code in [
        444, 460, 463, 494, 495, 496, 497, 499, 520, 521, 522, 523, 524, 525, 526, 527, 561, 598,
        599,
    ] {
        let info = lookup(code).unwrap_or_else(|| panic!("no entry for {code}"));
        assert!(
            matches!(info.standing, Standing::Unofficial { .. }),
            "{code}"
        );
    }
}

#[test]
fn rfc_9110_sections_and_unused_codes() {
    let reference = |code| {
        lookup(code)
            .and_then(|s| s.reference.clone())
            .map(|r| r.to_string())
    };
    assert_eq!(reference(503).as_deref(), Some("RFC 9110 §15.6.4"));
    assert_eq!(reference(429).as_deref(), Some("RFC 6585 §4"));
    assert_eq!(reference(418).as_deref(), Some("RFC 9110 §15.5.19"));
    assert_eq!(reference(306).as_deref(), Some("RFC 9110 §15.4.7"));
    for code in [306, 418] {
        let info = lookup(code).expect("registered");
        assert_eq!(info.name, "(Unused)");
        assert!(info.avoid && info.meaning.starts_with("Unused"), "{code}");
    }
    let url = lookup(422)
        .and_then(|s| s.reference.clone())
        .expect("422")
        .url;
    assert_eq!(
        url,
        "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.21"
    );
    assert!(matches!(
        lookup(104).expect("104").standing,
        Standing::Temporary { .. }
    ));
}

#[test]
fn class_defaults_fill_what_an_entry_leaves_out() {
    let ok = lookup(200).expect("200");
    assert_eq!((ok.fault, ok.retry), (Fault::Neither, Retry::NotAnError));
    let not_found = lookup(404).expect("404");
    assert_eq!(
        (not_found.fault, not_found.retry),
        (Fault::Client, Retry::No)
    );
    let bad_gateway = lookup(502).expect("502");
    assert_eq!(
        (bad_gateway.fault, bad_gateway.retry),
        (Fault::Server, Retry::IdempotentOnly)
    );
    assert_eq!(lookup(429).expect("429").retry, Retry::Later);
}

#[test]
fn the_contract_headers_are_there_with_examples() {
    for (code, header) in [
        (503, "Retry-After"),
        (429, "Retry-After"),
        (401, "WWW-Authenticate"),
        (405, "Allow"),
        (301, "Location"),
    ] {
        let info = lookup(code).expect("registered");
        let h = info.headers.iter().find(|h| h.name == header);
        assert!(h.is_some(), "{code} lacks {header}");
        if info.is_error() {
            assert!(
                h.and_then(|h| h.example.as_ref()).is_some(),
                "{code} {header} needs an example value"
            );
        }
    }
}

#[test]
fn data_errors_name_the_code() {
    let registry =
        "codes = [{ code = 100, description = \"Continue\", rfc = 9110, section = \"15.2.1\" }]";
    let defaults = "[defaults.1xx]\nfault = \"neither\"\nretry = \"n/a\"\nretry_note = \"x\"\n";
    let missing = file::load(registry, &format!("code = []\n{defaults}"));
    assert_eq!(missing, Err(DataError::Missing { code: 100 }));
    let unofficial_without_origin = format!(
        "{defaults}[[code]]\ncode = 150\nname = \"X\"\nmeaning = \"m\"\ncauses = [\"c\"]\nvisitor = \"v\"\ndeveloper = [\"d\"]\n"
    );
    let err = file::load("codes = []", &unofficial_without_origin).expect_err("no origin");
    assert!(err.to_string().contains("code 150"), "{err}");
    let bad = file::load("codes = [{ code = 100 }]", defaults).expect_err("parse");
    assert!(
        matches!(
            bad,
            DataError::Parse {
                file: "iana-status-codes.toml",
                ..
            }
        ),
        "{bad}"
    );
}

#[test]
fn names_and_slugs() {
    assert_eq!(
        lookup_name("service-unavailable").map(|s| s.code),
        Some(503)
    );
    assert_eq!(lookup_name("Too Many Requests").map(|s| s.code), Some(429));
    assert_eq!(lookup_name(""), None);
    assert_eq!(
        lookup(505).expect("505").slug(),
        "http-version-not-supported"
    );
    assert_eq!(lookup(418).expect("418").slug(), "unused");
    assert_eq!(lookup(503).expect("503").levee_reasons().len(), 4);
}
