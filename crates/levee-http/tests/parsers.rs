//! Properties of the parsers a client or an operator feeds (issue 11), on the
//! stable toolchain: the same parsers as the cargo-fuzz targets in `fuzz/`
//! (`retry_after`, `negotiate`, `host`, `request_id`, `hop_by_hop`, `path`,
//! and the problem bodies `client_response` reads), each with a property
//! that can fail: a round trip, idempotence, or agreement with a model.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue, header};
use levee_http::headers::{HOP_BY_HOP, allowed_upgrade, parse_host, remove_hop_by_hop};
use levee_http::negotiate::{Format, JsonStyle, negotiate};
use levee_http::path::normalize;
use levee_http::problem_info::{ProblemForm, ProblemInfo};
use levee_http::request_id::{MAX_LEN, RequestId};
use levee_http::retry_after::{MAX_DELAY_SECS, RetryAfter};
use levee_http::{Problem, Reason};
use proptest::prelude::*;

/// 9999-12-31T23:59:59Z, the last instant an IMF-fixdate spells.
const LAST_HTTP_DATE: u64 = 253_402_300_799;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------- Retry-After

proptest! {
    #![proptest_config(config())]

    #[test]
    fn delay_seconds_read_and_render_back(secs in 0..=MAX_DELAY_SECS, pad in "[ \t]{0,2}") {
        let ra = RetryAfter::parse(&format!("{pad}{secs}{pad}")).expect("delay-seconds");
        prop_assert_eq!(ra, RetryAfter::Delay(Duration::from_secs(secs)));
        // Never "come back now": 0 is sent as 1.
        let again = RetryAfter::parse(&ra.to_string()).expect("rendered");
        prop_assert_eq!(again, RetryAfter::Delay(Duration::from_secs(secs.max(1))));
    }

    #[test]
    fn a_delay_past_the_maximum_is_refused(secs in (MAX_DELAY_SECS + 1)..u64::MAX) {
        prop_assert!(RetryAfter::parse(&secs.to_string()).is_err());
    }

    #[test]
    fn http_dates_read_and_render_back(secs in 0..=LAST_HTTP_DATE) {
        let at = UNIX_EPOCH + Duration::from_secs(secs);
        let shown = RetryAfter::Date(at).to_string();
        prop_assert_eq!(RetryAfter::parse(&shown), Ok(RetryAfter::Date(at)));
        let value = RetryAfter::Date(at).to_header_value();
        prop_assert_eq!(RetryAfter::from_header_value(&value), Ok(RetryAfter::Date(at)));
    }

    #[test]
    fn a_date_waits_the_distance_on_the_servers_clock(
        date in 0..=LAST_HTTP_DATE / 2,
        ahead in 0u64..100_000,
        skew in 0u64..100_000,
    ) {
        let server_date = UNIX_EPOCH + Duration::from_secs(date);
        let ra = RetryAfter::Date(server_date + Duration::from_secs(ahead));
        let our_clock = server_date + Duration::from_secs(skew);
        prop_assert_eq!(ra.delay_from(our_clock, Some(server_date)), Duration::from_secs(ahead));
    }

    #[test]
    fn any_value_is_an_answer_and_accepted_ones_render_back(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
        if let Ok(value) = HeaderValue::from_bytes(&bytes)
            && let Ok(ra) = RetryAfter::from_header_value(&value)
        {
            prop_assert!(RetryAfter::parse(&ra.to_string()).is_ok());
        }
    }
}

// ---------------------------------------------------------------- Accept

fn media_range() -> impl Strategy<Value = String> {
    let media = prop::sample::select(vec![
        "text/html",
        "application/xhtml+xml",
        "application/json",
        "application/problem+json",
        "application/vnd.api+json",
        "text/plain",
        "text/*",
        "application/*",
        "*/*",
        "image/png",
        "TEXT/HTML",
    ]);
    let q = prop::option::of(0u16..=1000);
    (media, q).prop_map(|(m, q)| match q {
        Some(q) => format!("{m};q={}.{:03}", q / 1000, q % 1000),
        None => m.to_owned(),
    })
}

fn accept_fields() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(
        proptest::collection::vec(media_range(), 1..4).prop_map(|r| r.join(", ")),
        0..4,
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn negotiation_ignores_field_order_and_splitting(fields in accept_fields()) {
        let pick = |values: &[&[u8]]| negotiate(values.iter().copied(), JsonStyle::Problem);
        let values: Vec<&[u8]> = fields.iter().map(|f| f.as_bytes()).collect();
        let answer = pick(&values);
        let reversed: Vec<&[u8]> = values.iter().rev().copied().collect();
        prop_assert_eq!(pick(&reversed), answer);
        let joined = fields.join(",");
        prop_assert_eq!(pick(&[joined.as_bytes()]), answer);
        let envelope = negotiate(values.iter().copied(), JsonStyle::Envelope);
        prop_assert_eq!(
            envelope,
            if answer == Format::ProblemJson { Format::Envelope } else { answer }
        );
    }

    #[test]
    fn html_only_when_a_browser_type_weighs_more_than_json(fields in accept_fields()) {
        let values: Vec<&[u8]> = fields.iter().map(|f| f.as_bytes()).collect();
        if negotiate(values.iter().copied(), JsonStyle::Problem) == Format::Html {
            let all = fields.join(",").to_ascii_lowercase();
            prop_assert!(
                all.split(',').any(|r| {
                    let r = r.trim();
                    (r.starts_with("text/html") || r.starts_with("application/xhtml+xml"))
                        && !r.ends_with("q=0.000")
                }),
                "{all}"
            );
        }
    }
}

// ---------------------------------------------------------------- Host

fn reg_name() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec("[a-zA-Z0-9]([a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?", 1..4),
        any::<bool>(),
    )
        .prop_map(|(labels, dot)| format!("{}{}", labels.join("."), if dot { "." } else { "" }))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_host_is_read_lowercase_without_port_or_trailing_dot(
        name in reg_name(),
        port in prop::option::of(any::<u16>()),
    ) {
        let value = match port {
            Some(p) => format!("{name}:{p}"),
            None => name.clone(),
        };
        let want = name.trim_end_matches('.').to_ascii_lowercase();
        prop_assert_eq!(parse_host(value.as_bytes()), Some(want.clone()));
        prop_assert_eq!(parse_host(want.as_bytes()), Some(want));
    }

    #[test]
    fn ip_hosts_are_read_as_written(v4 in any::<u32>(), v6 in any::<u128>(), port in any::<u16>()) {
        let v4 = Ipv4Addr::from(v4).to_string();
        prop_assert_eq!(parse_host(format!("{v4}:{port}").as_bytes()), Some(v4));
        let v6 = format!("[{}]", Ipv6Addr::from(v6));
        prop_assert_eq!(parse_host(format!("{v6}:{port}").as_bytes()), Some(v6));
    }

    #[test]
    fn userinfo_is_never_a_host(user in "[a-z]{1,8}", name in reg_name()) {
        prop_assert_eq!(parse_host(format!("{user}@{name}").as_bytes()), None);
    }

    #[test]
    fn any_host_value_reads_as_a_lowercase_name_or_nothing(bytes in proptest::collection::vec(any::<u8>(), 0..24)) {
        if let Some(host) = parse_host(&bytes) {
            prop_assert!(!host.bytes().any(|b| b.is_ascii_uppercase()));
            prop_assert!(!host.ends_with('.') && !host.contains('@'));
        }
    }
}

/// Found by the `host` fuzz target: a bracket outside an IP literal is not
/// a `uri-host` (RFC 3986 §3.2.2), but `http`'s authority parser lets
/// `a[:]` through as the host `a[`. Reproducer: fuzz/regressions/host/.
#[test]
fn brackets_outside_an_ip_literal_are_not_a_host() {
    for value in ["a[:]", "a[]", ")[]", "x[y]:80"] {
        assert_eq!(parse_host(value.as_bytes()), None, "{value}");
    }
}

// ---------------------------------------------------------------- request ids

proptest! {
    #![proptest_config(config())]

    #[test]
    fn well_formed_ids_are_kept_as_sent(id in "[A-Za-z0-9._:+=/@~-]{1,128}") {
        let value = HeaderValue::from_str(&id).expect("visible ASCII");
        let kept = RequestId::accept(&value).expect("well-formed");
        prop_assert_eq!(kept.as_str(), id.as_str());
        prop_assert_eq!(RequestId::accept(kept.header_value()), Some(kept.clone()));
    }

    #[test]
    fn ids_with_anything_else_are_replaced(
        head in "[A-Za-z0-9-]{0,10}",
        bad in "[ \"<>'\\\\;,{}\t]",
        tail in "[A-Za-z0-9-]{0,10}",
    ) {
        let value = HeaderValue::from_str(&format!("{head}{bad}{tail}")).expect("a header value");
        prop_assert_eq!(RequestId::accept(&value), None);
    }

    #[test]
    fn ids_longer_than_the_maximum_are_replaced(id in "[a-z0-9]{129,200}") {
        prop_assert!(id.len() > MAX_LEN);
        prop_assert_eq!(RequestId::accept(&HeaderValue::from_str(&id).expect("value")), None);
    }

    #[test]
    fn generated_ids_would_be_accepted_from_a_client(bits in any::<u128>()) {
        let id = RequestId::from_ulid(ulid::Ulid(bits));
        prop_assert_eq!(id.as_str().len(), 30);
        prop_assert!(id.as_str().starts_with("req_"));
        prop_assert_eq!(RequestId::accept(id.header_value()), Some(id));
    }
}

// ---------------------------------------------------------------- hop-by-hop

const FIELD_NAMES: &[&str] = &[
    "host",
    "content-length",
    "connection",
    "upgrade",
    "te",
    "transfer-encoding",
    "keep-alive",
    "proxy-connection",
    "http2-settings",
    "x-a",
    "x-b",
    "accept",
];

fn request_headers() -> impl Strategy<Value = HeaderMap> {
    let field = prop_oneof![
        (prop::sample::select(FIELD_NAMES), "[a-z0-9=;]{1,8}").prop_map(|(n, v)| (n.to_owned(), v)),
        prop::sample::subsequence(FIELD_NAMES, 0..5).prop_map(|names| (
            "connection".to_owned(),
            names.join(", ").to_ascii_uppercase()
        )),
        prop::sample::subsequence(&["websocket", "WebSocket/13", "h2c", "foo/1"][..], 1..4)
            .prop_map(|p| ("upgrade".to_owned(), p.join(", "))),
    ];
    proptest::collection::vec(field, 0..10).prop_map(|fields| {
        let mut h = HeaderMap::new();
        for (n, v) in fields {
            h.append(
                HeaderName::from_bytes(n.as_bytes()).expect("name"),
                HeaderValue::from_str(&v).expect("value"),
            );
        }
        h
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn hop_by_hop_fields_go_and_the_rest_stay(before in request_headers()) {
        let named: Vec<HeaderName> = before
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
            .collect();
        let mut after = before.clone();
        remove_hop_by_hop(&mut after);
        for name in before.keys() {
            let end_to_end = name == header::HOST || name == header::CONTENT_LENGTH;
            if HOP_BY_HOP.contains(name) || (named.contains(name) && !end_to_end) {
                prop_assert!(!after.contains_key(name), "{} kept", name);
            } else {
                prop_assert!(before.get_all(name).iter().eq(after.get_all(name).iter()), "{} changed", name);
            }
        }
        let mut again = after.clone();
        remove_hop_by_hop(&mut again);
        prop_assert_eq!(again, after);
    }

    #[test]
    fn only_allowed_upgrades_are_forwarded(
        before in request_headers(),
        allowed in prop::sample::subsequence(&["websocket", "h2c", "foo"][..], 0..3),
    ) {
        let offered: Vec<String> = before
            .get_all(header::UPGRADE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|p| p.trim().to_owned())
            .collect();
        let name = |p: &str| p.split('/').next().unwrap_or_default().trim().to_ascii_lowercase();
        let want: Vec<&String> = offered.iter().filter(|p| allowed.contains(&name(p).as_str())).collect();
        match allowed_upgrade(&before, &allowed) {
            None => prop_assert!(want.is_empty(), "{:?} dropped", want),
            Some(v) => {
                let got: Vec<&str> = v.to_str().expect("text").split(", ").collect();
                prop_assert_eq!(got, want.iter().map(|s| s.as_str()).collect::<Vec<_>>());
            }
        }
    }
}

// ---------------------------------------------------------------- paths

fn segment() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "a",
        "b",
        "limited",
        "..",
        ".",
        "",
        "%2e",
        "%2E%2e",
        "%41",
        "%2f",
        "%2F",
        "caf%c3%a9",
        "~x",
        "a..b",
        ".c",
        "%7E",
        "%25",
        "%252e",
    ])
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn normalizing_twice_changes_nothing(
        segments in proptest::collection::vec(segment(), 0..10),
        merge in any::<bool>(),
    ) {
        let path = format!("/{}", segments.join("/"));
        let out = normalize(&path, merge).expect("every escape is valid");
        prop_assert_eq!(normalize(&out, merge).expect("again"), out.clone(), "{}", path);
        prop_assert!(out.starts_with('/'));
        prop_assert!(!out.split('/').any(|s| s == "." || s == ".."), "{} -> {}", path, out);
        if merge {
            prop_assert!(!out.contains("//"), "{} -> {}", path, out);
        }
        let lower = out.to_ascii_lowercase();
        prop_assert!(!lower.contains("%2e") && !lower.contains("%41") && !lower.contains("%7e"), "{}", out);
    }

    #[test]
    fn dot_segments_resolve_like_a_stack(segments in proptest::collection::vec(prop::sample::select(vec!["a", "b", "c", ".", ".."]), 0..10)) {
        let path = format!("/{}", segments.join("/"));
        let mut stack: Vec<&str> = Vec::new();
        for s in &segments {
            match *s {
                "." => {}
                ".." => { stack.pop(); }
                s => stack.push(s),
            }
        }
        let trailing = matches!(segments.last(), Some(&".") | Some(&"..")) && !stack.is_empty();
        let want = format!("/{}{}", stack.join("/"), if trailing { "/" } else { "" });
        prop_assert_eq!(normalize(&path, true).expect("valid").into_owned(), want);
    }

    #[test]
    fn any_path_normalizes_idempotently_or_is_refused(path in "/[a-z%./0-9A-F]{0,24}") {
        if let Ok(out) = normalize(&path, true) {
            prop_assert_eq!(normalize(&out, true).expect("again"), out.clone(), "{}", path);
        } else {
            prop_assert!(path.contains('%'));
        }
    }
}

// ---------------------------------------------------------------- problems

fn problem() -> impl Strategy<Value = Problem> {
    (
        prop::sample::select(Reason::ALL),
        prop::option::of("\\PC{0,40}"),
        prop::option::of("[A-Za-z0-9_-]{1,30}"),
        prop::option::of(0u64..1_000_000),
        prop::option::of("\\PC{0,20}"),
    )
        .prop_map(|(reason, detail, id, retry, instance)| {
            let mut p = Problem::new(reason, "https://api.example.com/_levee/problems");
            if let Some(d) = detail {
                p = p.with_detail(d);
            }
            if let Some(id) = id {
                p = p.with_request_id(id);
            }
            if let Some(secs) = retry {
                p = p.with_retry_after(secs);
            }
            if let Some(i) = instance {
                p = p.with_instance(i);
            }
            p
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_client_reads_the_problem_levee_sent(p in problem()) {
        let info = ProblemInfo::parse(&p.to_json()).expect("a problem");
        prop_assert_eq!(info.form, ProblemForm::Rfc9457);
        prop_assert_eq!(info.type_uri.as_deref(), Some(p.type_uri.as_str()));
        prop_assert_eq!(info.title.as_deref(), Some(p.title.as_str()));
        prop_assert_eq!(info.status, Some(p.status));
        prop_assert_eq!(info.reason_slug(), p.reason.as_deref());
        prop_assert_eq!(info.detail, p.detail.clone().filter(|d| !d.is_empty()));
        prop_assert_eq!(info.request_id, p.request_id.clone());
        prop_assert_eq!(info.reason.as_deref(), p.reason.as_deref());
        prop_assert_eq!(info.blame, p.blame.clone());
        prop_assert_eq!(info.retryable, p.retryable);
    }

    #[test]
    fn a_client_reads_the_envelope_levee_sent(p in problem()) {
        let info = ProblemInfo::parse(&p.to_envelope()).expect("an envelope");
        prop_assert_eq!(info.form, ProblemForm::Envelope);
        prop_assert_eq!(info.title.as_deref(), Some(p.title.as_str()));
        prop_assert_eq!(info.status, Some(p.status));
        prop_assert_eq!(info.detail, p.detail.clone().filter(|d| !d.is_empty()));
        prop_assert_eq!(info.request_id, p.request_id.clone());
        prop_assert_eq!(info.reason.as_deref(), p.reason.as_deref());
    }

    #[test]
    fn any_body_is_a_problem_or_none(bytes in proptest::collection::vec(any::<u8>(), 0..64), text in "\\PC{0,64}") {
        let _ = ProblemInfo::parse(&bytes).map(|p| p.reason_slug().map(str::len));
        let _ = ProblemInfo::parse(text.as_bytes());
        let wrapped = format!("{{\"title\":{text:?},\"type\":{text:?}}}");
        if let Some(info) = ProblemInfo::parse(wrapped.as_bytes()) {
            prop_assert_eq!(info.form, ProblemForm::Rfc9457);
        }
    }
}
