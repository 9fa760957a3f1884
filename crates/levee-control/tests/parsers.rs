//! Properties of what an operator feeds the control plane (issue 11), on the
//! stable toolchain: the configuration file, the admin API's window bodies
//! and the admin token file — the parsers of the `config`, `admin_json` and
//! `token_file` cargo-fuzz targets in `fuzz/` — with round trips that can
//! fail, and "an answer, never a panic" on arbitrary input.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use levee_control::admin::auth::{AdminTokens, TokenError, Verdict};
use levee_control::admin::input::{window_draft, window_patch};
use levee_control::admin::json::window_json;
use levee_control::config::units::{parse_duration, parse_size};
use levee_control::config::{Overrides, load};
use levee_control::control::{End, Source, WindowRecord, from_ms, to_ms};
use levee_proxy::cidr::Cidr;
use levee_proxy::control::{Bypass, Scope, Window};
use proptest::prelude::*;
use serde_json::{Value, json};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 128,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------- token file

/// A token file's lines: (name, token) pairs, named uniquely.
fn token_pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::btree_map("[a-zA-Z0-9][a-zA-Z0-9._@-]{0,11}", "[!-~]{14,40}", 1..6)
        .prop_map(|m| {
            m.into_iter()
                .enumerate()
                // Two digits of index keep every token distinct.
                .map(|(i, (name, token))| (name, format!("{i:02}{token}")))
                .collect()
        })
}

fn token_file(pairs: &[(String, String)], pad: &str, crlf: bool) -> String {
    let eol = if crlf { "\r\n" } else { "\n" };
    let mut text = format!("# admin tokens{eol}{eol}");
    for (name, token) in pairs {
        text.push_str(&format!("{pad}{name}{pad}:{pad}{token}{pad}{eol}"));
        text.push_str(&format!("# {name}'s{eol}"));
    }
    text
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_token_in_the_file_is_allowed_under_its_name(
        pairs in token_pairs(),
        pad in "[ \t]{0,2}",
        crlf in any::<bool>(),
    ) {
        let tokens = AdminTokens::parse(&token_file(&pairs, &pad, crlf), "tokens").expect("valid");
        prop_assert_eq!(tokens.len(), pairs.len());
        for (name, token) in &pairs {
            prop_assert_eq!(
                tokens.verify(Some(format!("Bearer {token}").as_bytes())),
                Verdict::Allowed(name.clone())
            );
            prop_assert_eq!(
                tokens.verify(Some(format!("bearer   {token} ").as_bytes())),
                Verdict::Allowed(name.clone())
            );
            prop_assert_eq!(tokens.verify(Some(format!("Bearer {token}x").as_bytes())), Verdict::Invalid);
            prop_assert!(!format!("{tokens:?}").contains(token.as_str()), "Debug shows a secret");
        }
    }

    #[test]
    fn a_bad_line_is_reported_at_its_line(
        pairs in token_pairs(),
        at in any::<prop::sample::Index>(),
        short in "[a-z]{1,15}",
    ) {
        let mut lines: Vec<String> = pairs.iter().map(|(n, t)| format!("{n}:{t}")).collect();
        let i = at.index(lines.len() + 1);
        lines.insert(i, format!("bad:{short}"));
        match AdminTokens::parse(&lines.join("\n"), "tokens") {
            Err(TokenError::Invalid { line, .. }) => prop_assert_eq!(line, i + 1),
            other => prop_assert!(false, "{:?}", other.map(|t| t.len())),
        }
    }

    #[test]
    fn any_token_file_is_tokens_or_an_error(text in "\\PC{0,120}", auth in proptest::collection::vec(any::<u8>(), 0..40)) {
        match AdminTokens::parse(&text, "tokens") {
            Ok(tokens) => {
                prop_assert!(!tokens.is_empty());
                let _ = tokens.verify(Some(&auth));
            }
            Err(e) => prop_assert!(e.to_string().starts_with("tokens:"), "{e}"),
        }
    }
}

// ---------------------------------------------------------------- admin API bodies

/// 2026-12-05T00:00:00Z.
const NOW: u64 = 1_796_428_800;
/// 9999-12-31T23:59:59Z, the last time RFC 3339 spells with four digits.
const LATEST: u64 = 253_402_300_799;

fn rfc3339(secs: u64) -> String {
    levee_http::maintenance::rfc3339(UNIX_EPOCH + Duration::from_secs(secs))
}

fn network() -> impl Strategy<Value = String> {
    prop_oneof![
        (any::<u32>(), 0u8..=32).prop_map(|(a, p)| format!("{}/{p}", Ipv4Addr::from(a))),
        (any::<u128>(), 0u8..=128).prop_map(|(a, p)| format!("{}/{p}", Ipv6Addr::from(a))),
    ]
}

fn window_body() -> impl Strategy<Value = Value> {
    let scope = prop_oneof![
        Just(None),
        Just(Some(json!({"kind": "all"}))),
        "[a-z][a-z0-9-]{0,10}".prop_map(|n| Some(json!({"kind": "route", "name": n}))),
        "[a-z][a-z0-9-]{0,10}".prop_map(|n| Some(json!({"kind": "pool", "name": n}))),
    ];
    let end = prop_oneof![
        Just(None),
        (1i64..=10 * 366 * 24 * 3600).prop_map(|d| Some(("duration_seconds", json!(d)))),
        (NOW + 1..LATEST).prop_map(|t| Some(("ends_at", json!(rfc3339(t))))),
    ];
    (
        scope,
        prop::option::of(0..NOW * 2),
        end,
        prop::option::of("\\PC{0,60}"),
        prop::option::of("[a-z][a-z0-9-]{0,12}"),
        proptest::collection::vec(network(), 0..3),
    )
        .prop_map(|(scope, start, end, message, header, networks)| {
            let mut body = serde_json::Map::new();
            if let Some(s) = scope {
                body.insert("scope".into(), s);
            }
            if let Some(s) = start {
                body.insert("starts_at".into(), json!(rfc3339(s)));
            }
            if let Some((k, v)) = end {
                body.insert(k.into(), v);
            }
            if let Some(m) = message {
                body.insert("message".into(), json!(m));
            }
            let mut bypass = serde_json::Map::new();
            if let Some(h) = header {
                bypass.insert("header".into(), json!(h));
            }
            bypass.insert("networks".into(), json!(networks));
            body.insert("bypass".into(), Value::Object(bypass));
            Value::Object(body)
        })
}

/// The window `create_window` stores for a draft, or `None` when it refuses
/// the times.
fn stored(body: &Value) -> Option<WindowRecord> {
    let draft = window_draft(body).expect("a valid body");
    let now = UNIX_EPOCH + Duration::from_secs(NOW);
    let whole = |t: SystemTime| from_ms(to_ms(t).div_euclid(1000) * 1000);
    let starts_at = draft.starts_at.unwrap_or(now);
    let ends_at = match draft.end {
        End::Open => None,
        End::At(t) => Some(t),
        End::After(d) => Some(starts_at + d),
    };
    if ends_at.is_some_and(|e| e <= starts_at || e <= now) {
        return None;
    }
    Some(WindowRecord {
        window: Arc::new(Window {
            id: "w_test".into(),
            scope: draft.scope,
            starts_at: whole(starts_at),
            ends_at: ends_at.map(whole),
            message: draft.message.into(),
            bypass: Bypass {
                header: draft.bypass.header,
                token_sha256: draft.bypass.token_sha256,
                networks: draft.bypass.networks,
            },
        }),
        source: Source::Api,
        created_at: whole(now),
        created_by: "test".into(),
        updated_at: whole(now),
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_apis_own_window_json_is_accepted_back_as_the_same_window(body in window_body()) {
        let Some(record) = stored(&body) else {
            return Ok(());
        };
        let w = &record.window;
        prop_assume!(w.ends_at.is_none_or(|e| e <= UNIX_EPOCH + Duration::from_secs(LATEST)));
        let shown = window_json(&record, UNIX_EPOCH + Duration::from_secs(NOW));
        let mut again = json!({
            "scope": shown["scope"],
            "starts_at": shown["starts_at"],
            "message": shown["message"],
            "bypass": {
                "header": shown["bypass"]["header"],
                "networks": shown["bypass"]["networks"],
            },
        });
        if !shown["ends_at"].is_null() {
            again["ends_at"] = shown["ends_at"].clone();
        }
        let redraft = window_draft(&again).expect("the API's own rendering is valid input");
        prop_assert_eq!(&redraft.scope, &w.scope);
        prop_assert_eq!(redraft.starts_at, Some(w.starts_at));
        match (redraft.end, w.ends_at) {
            (End::At(a), Some(b)) => prop_assert_eq!(a, b),
            (End::Open, None) => {}
            (end, want) => prop_assert!(false, "end {:?}, want {:?}", end, want),
        }
        prop_assert_eq!(redraft.message.as_str(), &*w.message);
        prop_assert_eq!(&redraft.bypass.header, &w.bypass.header);
        prop_assert_eq!(&redraft.bypass.networks, &w.bypass.networks);
        let nets: Vec<Cidr> = body["bypass"]["networks"]
            .as_array()
            .expect("array")
            .iter()
            .map(|n| Cidr::parse(n.as_str().expect("text")).expect("cidr"))
            .collect();
        prop_assert_eq!(&w.bypass.networks, &nets);
        if let Some(Value::Object(s)) = body.get("scope") {
            let want = match s["kind"].as_str() {
                Some("route") => Scope::Route(s["name"].as_str().expect("name").into()),
                Some("pool") => Scope::Pool(s["name"].as_str().expect("name").into()),
                _ => Scope::All,
            };
            prop_assert_eq!(&w.scope, &want);
        }
    }

    #[test]
    fn an_unknown_field_is_named(body in window_body(), key in "[a-z_]{1,12}") {
        let known = ["scope", "starts_at", "ends_at", "duration_seconds", "message", "bypass"];
        prop_assume!(!known.contains(&key.as_str()));
        let mut body = body;
        body[key.as_str()] = json!(1);
        let errors = window_draft(&body).expect_err("an unknown field");
        prop_assert!(errors.iter().any(|e| e.field == key), "{:?}", errors);
    }

    #[test]
    fn any_json_is_a_draft_or_field_errors(body in json_value()) {
        if let Err(errors) = window_draft(&body) {
            prop_assert!(!errors.is_empty());
        }
        if let Err(errors) = window_patch(&body) {
            prop_assert!(!errors.is_empty());
        }
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
        Just(json!("2026-12-01T02:00:00Z")),
        Just(json!("10.0.0.0/8")),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        let key = prop::sample::select(vec![
            "scope",
            "kind",
            "name",
            "starts_at",
            "ends_at",
            "duration_seconds",
            "extend_seconds",
            "message",
            "bypass",
            "header",
            "token",
            "networks",
            "other",
        ]);
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map(key, inner, 0..5).prop_map(|m| {
                Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

// ---------------------------------------------------------------- config file

fn load_text(
    text: &str,
) -> Result<levee_control::config::Config, levee_control::config::ConfigError> {
    load(
        text,
        Path::new("/nonexistent/levee.toml"),
        &Overrides::default(),
    )
}

const BASE: &str = "[[listeners]]\nlisten = \"127.0.0.1:8000\"\n\n[[pools]]\nname = \"default\"\nendpoints = [\"http://127.0.0.1:8080\"]\n\n[[routes]]\nname = \"default\"\npool = \"default\"\n";

proptest! {
    #![proptest_config(config())]

    #[test]
    fn generated_files_load_with_what_they_declare(pools in 1usize..4, routes in proptest::collection::vec((0usize..4, "[a-z]{1,6}"), 1..5)) {
        let mut text = String::from("[[listeners]]\nlisten = \"127.0.0.1:8000\"\n\n");
        for p in 0..pools {
            text.push_str(&format!("[[pools]]\nname = \"p{p}\"\nendpoints = [\"127.0.0.1:{}\"]\n\n", 8080 + p));
        }
        for (i, (pool, prefix)) in routes.iter().enumerate() {
            text.push_str(&format!(
                "[[routes]]\nname = \"r{i}\"\npath_prefix = \"/{prefix}{i}/\"\npool = \"p{}\"\n\n",
                pool % pools
            ));
        }
        let config = load_text(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(config.pools.len(), pools);
        prop_assert_eq!(config.routes.len(), routes.len());
    }

    #[test]
    fn any_number_in_server_is_taken_or_refused_at_its_line(
        key in prop::sample::select(vec![
            "max_headers", "max_connections", "max_connections_per_client", "max_requests_per_client",
        ]),
        value in prop_oneof![
            (0u64..20_000).prop_map(|v| v.to_string()),
            any::<i64>().prop_map(|v| v.to_string()),
            any::<u64>().prop_map(|v| v.to_string()),
        ],
    ) {
        let text = format!("[server]\n{key} = {value}\n\n{BASE}");
        if let Err(e) = load_text(&text) {
            prop_assert!(e.diagnostics.iter().all(|d| d.line == Some(2)), "{e}");
        }
    }

    #[test]
    fn any_duration_or_size_in_server_is_taken_or_refused_at_its_line(
        key in prop::sample::select(vec![
            "header_read_timeout", "idle_timeout", "drain_timeout", "drain_delay", "drain_retry_after",
        ]),
        n in prop_oneof![0u64..100, any::<u64>()],
        unit in prop::sample::select(vec!["ms", "s", "m", "h", "d", "", "x"]),
        size in prop_oneof![0u64..2048, any::<u64>()],
        size_unit in prop::sample::select(vec!["", "B", "KiB", "MiB", "GiB", "TiB", "KB", "GB", "XB"]),
    ) {
        let text = format!("[server]\n{key} = \"{n}{unit}\"\n\n{BASE}");
        if let Err(e) = load_text(&text) {
            prop_assert!(e.diagnostics.iter().all(|d| d.line == Some(2)), "{e}");
        }
        let text = format!("[server]\nmax_header_bytes = \"{size}{size_unit}\"\n\n{BASE}");
        if let Err(e) = load_text(&text) {
            prop_assert!(e.diagnostics.iter().all(|d| d.line == Some(2)), "{e}");
        }
    }

    #[test]
    fn durations_read_as_written(ms in 0u64..10 * 86_400_000, h in 0u64..240, m in 0u64..60, s in 0u64..60) {
        // Exact to the millisecond up to 10 days; past about two months a
        // millisecond count is read 1 ns off (f64 arithmetic), e.g.
        // `15001020344ms` as 15001020.344000001s.
        prop_assert_eq!(parse_duration(&format!("{ms}ms")), Ok(Duration::from_millis(ms)));
        let compound = format!("{h}h{m}m{s}s");
        prop_assert_eq!(parse_duration(&compound), Ok(Duration::from_secs(h * 3600 + m * 60 + s)));
        prop_assert!(parse_duration(&format!("{s}s{h}h")).is_err(), "units out of order");
        prop_assert!(parse_duration(&ms.to_string()).is_err(), "a bare number");
    }

    #[test]
    fn sizes_read_as_written_or_overflow_is_refused(n in any::<u64>(), unit in prop::sample::select(vec![
        ("", 1u64), ("B", 1), ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40),
        ("KB", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000),
    ])) {
        let got = parse_size(&format!("{n}{}", unit.0));
        match n.checked_mul(unit.1) {
            Some(bytes) => prop_assert_eq!(got, Ok(bytes)),
            None => prop_assert!(got.is_err()),
        }
    }

    #[test]
    fn any_text_is_a_config_or_diagnostics_at_its_lines(text in "\\PC{0,200}", extra in "[a-z_]{1,10} = [\\PC]{0,20}") {
        for text in [text.clone(), format!("{BASE}\n{extra}\n"), format!("[server]\n{extra}\n\n{BASE}")] {
            if let Err(e) = load_text(&text) {
                prop_assert!(!e.diagnostics.is_empty());
                let lines = text.split('\n').count();
                for d in &e.diagnostics {
                    prop_assert!(d.line.is_none_or(|l| (1..=lines).contains(&l)), "{:?} of {}", d, lines);
                }
            }
        }
    }
}

/// Found by the `admin_json` fuzz target: a window that starts in year 0
/// (UTC: year -1, with a positive offset) was accepted, and rendering it as
/// the admin API does panicked inside `levee_http::maintenance::rfc3339`
/// (its fallback, `httpdate::fmt_http_date`, panics before 1970). Such a
/// time has no RFC 3339 form, so the API refuses it with a field error.
/// Reproducer: fuzz/regressions/admin_json/.
#[test]
fn a_window_starting_before_year_0_utc_is_refused() {
    let body = json!({"starts_at": "0000-01-01T00:00:00+00:01", "ends_at": "2099-01-01T00:00:00Z"});
    let errors = window_draft(&body).expect_err("a time before year 0 UTC");
    assert!(
        errors
            .iter()
            .any(|e| format!("{e:?}").contains("starts_at")),
        "{errors:?}"
    );
    let year_0 = json!({"starts_at": "0000-01-01T00:00:00Z", "ends_at": "2099-01-01T00:00:00Z"});
    let record = stored(&year_0).expect("year 0 itself is a time");
    assert_eq!(
        window_json(&record, UNIX_EPOCH + Duration::from_secs(NOW))["starts_at"],
        "0000-01-01T00:00:00Z"
    );
}

/// A pool's `health_check` mistakes are reported at their lines, and a good
/// one reads as the check it says.
#[test]
fn health_check_mistakes_point_at_their_lines() {
    let pool = "[[listeners]]\nlisten = \"127.0.0.1:8000\"\n\n[[pools]]\nname = \"default\"\nendpoints = [\"http://127.0.0.1:8080\"]\n";
    let route = "\n[[routes]]\nname = \"default\"\npool = \"default\"\n";
    for (check, line, want) in [
        (
            "health_check = { kind = \"tcp\", path = \"/x\" }",
            7,
            "a TCP check only connects",
        ),
        (
            "health_check = { path = \"healthz\" }",
            7,
            "invalid health_check.path",
        ),
        (
            "health_check = { method = \"POST\" }",
            7,
            "expected \"GET\" or \"HEAD\"",
        ),
        (
            "health_check = { interval = \"0s\" }",
            7,
            "expected a duration from \"10ms\"",
        ),
        (
            "health_check = { unhealthy_threshold = 0 }",
            7,
            "a whole number from 1 to 100",
        ),
        ("panic_threshold = 1.5", 7, "a share from 0 to 1"),
        (
            "health_check = { kind = \"grpc\", service = \"app\" }",
            7,
            "a gRPC health check needs HTTP/2",
        ),
        (
            "health_check = { service = \"app\" }",
            7,
            "health_check.service is for kind = \"grpc\"",
        ),
    ] {
        let text = format!("{pool}{check}\n{route}");
        let e = load_text(&text).expect_err(check);
        let shown = e.to_string();
        assert!(shown.contains(want), "{check}: {shown}");
        assert!(
            e.diagnostics.iter().any(|d| d.line == Some(line)),
            "{check}: {shown}"
        );
    }
    let text = format!(
        "{pool}health_check = {{ path = \"/healthz\", expect = [204, \"300-302\"], interval = \"2s\", unhealthy_threshold = 3 }}\n{route}"
    );
    let config = load_text(&text).expect("a good check");
    let shown = format!("{:?}", config.pools);
    for part in [
        "/healthz",
        "(204, 204)",
        "(300, 302)",
        "2s",
        "unhealthy_threshold: 3",
    ] {
        assert!(shown.contains(part), "{part} in {shown}");
    }
}

/// `balance` and endpoint weights: mistakes at their lines, good ones read
/// as written.
#[test]
fn balance_mistakes_point_at_their_lines() {
    let head = "[[listeners]]\nlisten = \"127.0.0.1:8000\"\n\n[[pools]]\nname = \"default\"\n";
    let route = "\n[[routes]]\nname = \"default\"\npool = \"default\"\n";
    let one = "endpoints = [\"127.0.0.1:8080\"]\n";
    for (lines, line, want) in [
        (
            format!("{one}balance = \"random\""),
            7,
            "invalid balance `random`",
        ),
        (
            format!("{one}balance = {{ hash = \"header\" }}"),
            7,
            "needs a name",
        ),
        (
            format!("{one}balance = {{ hash = \"header\", name = \"bad name\" }}"),
            7,
            "not a header name",
        ),
        (
            format!("{one}balance = {{ hash = \"url\" }}"),
            7,
            "expected \"header\", \"cookie\" or \"client_ip\"",
        ),
        (
            "endpoints = [{ address = \"127.0.0.1:8080\", weight = 0 }]".to_owned(),
            6,
            "from 1 to 1000",
        ),
        (
            "endpoints = [{ address = \"nope:x\", weight = 2 }]".to_owned(),
            6,
            "invalid endpoint `nope:x`: the port must be a number",
        ),
    ] {
        let text = format!("{head}{lines}\n{route}");
        let e = load_text(&text).expect_err(&lines);
        let shown = e.to_string();
        assert!(shown.contains(want), "{lines}: {shown}");
        assert!(
            e.diagnostics.iter().any(|d| d.line == Some(line)),
            "{lines}: {shown}"
        );
    }
    let text = format!(
        "{head}endpoints = [{{ address = \"127.0.0.1:8080\", weight = 5 }}, \"127.0.0.1:8081\"]\nbalance = {{ hash = \"cookie\", name = \"sid\" }}\n{route}"
    );
    let config = load_text(&text).expect("a good pool");
    let pool = &config.pools[0];
    assert_eq!(pool.weights, [5, 1]);
    assert_eq!(
        pool.balance,
        levee_proxy::pool::Balance::Hash(levee_proxy::pool::HashOn::Cookie("sid".into()))
    );
}
