//! Properties of the data path's parsers of client and operator input
//! (issue 11), on the stable toolchain: the same parsers as the `deadline`
//! and `cidr` cargo-fuzz targets in `fuzz/`, with round trips and a model.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use levee_proxy::cidr::Cidr;
use levee_proxy::deadline::{GRPC_TIMEOUT, budget, parse_grpc_timeout, pass_on};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    }
}

fn grpc(text: &str) -> Option<Duration> {
    parse_grpc_timeout(&HeaderValue::from_str(text).ok()?)
}

fn ms_header() -> HeaderName {
    HeaderName::from_static("x-request-timeout-ms")
}

// ---------------------------------------------------------------- deadlines

proptest! {
    #![proptest_config(config())]

    #[test]
    fn grpc_timeouts_read_in_every_unit(n in 0u64..=99_999_999, unit in prop::sample::select(vec!['H', 'M', 'S', 'm', 'u', 'n'])) {
        let want = match unit {
            'H' => Duration::from_secs(n * 3600),
            'M' => Duration::from_secs(n * 60),
            'S' => Duration::from_secs(n),
            'm' => Duration::from_millis(n),
            'u' => Duration::from_micros(n),
            _ => Duration::from_nanos(n),
        };
        prop_assert_eq!(grpc(&format!("{n}{unit}")), Some(want));
        // The same budget in nanoseconds, when 8 digits can say it.
        if want.as_nanos() <= 99_999_999 {
            prop_assert_eq!(grpc(&format!("{}n", want.as_nanos())), Some(want));
        }
    }

    #[test]
    fn grpc_timeouts_of_nine_digits_or_other_units_are_refused(
        n in 100_000_000u64..u64::MAX,
        unit in "[^HMSmun]",
        small in 0u64..1000,
    ) {
        prop_assert_eq!(grpc(&format!("{n}S")), None);
        prop_assert_eq!(grpc(&format!("{small}{unit}")), None);
        prop_assert_eq!(grpc(&format!("-{small}S")), None);
    }

    #[test]
    fn the_budget_is_the_shorter_header_and_is_passed_on_as_it_remains(
        grpc_ms in prop::option::of(0u64..=99_999_999),
        ms in prop::option::of(any::<u64>()),
        left_ns in any::<u64>(),
    ) {
        let name = ms_header();
        let mut h = HeaderMap::new();
        if let Some(g) = grpc_ms {
            h.insert(GRPC_TIMEOUT, HeaderValue::from_str(&format!("{g}m")).expect("value"));
        }
        if let Some(m) = ms {
            h.insert(name.clone(), HeaderValue::from(m));
        }
        let want = match (grpc_ms, ms) {
            (Some(a), Some(b)) => Some(Duration::from_millis(a.min(b))),
            (a, b) => a.or(b).map(Duration::from_millis),
        };
        prop_assert_eq!(budget(&h, &name), want);

        let left = Duration::from_nanos(left_ns);
        pass_on(&mut h, &name, left);
        prop_assert_eq!(h.contains_key(GRPC_TIMEOUT), grpc_ms.is_some());
        prop_assert_eq!(h.contains_key(&name), ms.is_some());
        let passed = Duration::from_millis(u64::try_from(left.as_millis()).unwrap_or(u64::MAX).min(99_999_999));
        prop_assert_eq!(budget(&h, &name), want.map(|_| passed));
    }

    #[test]
    fn any_deadline_header_is_a_budget_or_none(a in proptest::collection::vec(any::<u8>(), 0..12), b in "\\PC{0,12}") {
        let name = ms_header();
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_bytes(&a) {
            let _ = parse_grpc_timeout(&v);
            h.insert(GRPC_TIMEOUT, v);
        }
        if let Ok(v) = HeaderValue::from_str(&b) {
            h.insert(name.clone(), v);
        }
        let _ = budget(&h, &name);
    }
}

// ---------------------------------------------------------------- networks

fn v4_in(net: u32, prefix: u8, ip: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    net & mask == ip & mask
}

fn v6_in(net: u128, prefix: u8, ip: u128) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
    net & mask == ip & mask
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn ipv4_networks_read_back_and_hold_what_the_mask_says(
        net in any::<u32>(),
        prefix in 0u8..=32,
        ip in any::<u32>(),
        pad in "[ ]{0,1}",
    ) {
        let text = format!("{pad}{}/{prefix}{pad}", Ipv4Addr::from(net));
        let cidr = Cidr::parse(&text).expect("valid");
        prop_assert_eq!(Cidr::parse(&cidr.to_string()), Ok(cidr));
        prop_assert_eq!(cidr.to_string(), format!("{}/{prefix}", Ipv4Addr::from(net)));
        prop_assert!(cidr.contains(IpAddr::V4(Ipv4Addr::from(net))));
        let want = v4_in(net, prefix, ip);
        prop_assert_eq!(cidr.contains(IpAddr::V4(Ipv4Addr::from(ip))), want);
        // The same client over an IPv6 socket (IPv4-mapped) is the same client.
        prop_assert_eq!(cidr.contains(IpAddr::V6(Ipv4Addr::from(ip).to_ipv6_mapped())), want);
        // An IPv6 client is never in an IPv4 network.
        prop_assert!(!cidr.contains(IpAddr::V6(Ipv6Addr::from(u128::from(ip) << 64 | 1))));
    }

    #[test]
    fn ipv6_networks_read_back_and_hold_what_the_mask_says(
        net in any::<u128>(),
        prefix in 0u8..=128,
        ip in any::<u128>(),
    ) {
        // Keep clear of IPv4-mapped addresses, which are compared as IPv4.
        prop_assume!(Ipv6Addr::from(ip).to_ipv4_mapped().is_none());
        prop_assume!(Ipv6Addr::from(net).to_ipv4_mapped().is_none());
        let cidr = Cidr::parse(&format!("{}/{prefix}", Ipv6Addr::from(net))).expect("valid");
        prop_assert_eq!(Cidr::parse(&cidr.to_string()), Ok(cidr));
        prop_assert!(cidr.contains(IpAddr::V6(Ipv6Addr::from(net))));
        prop_assert_eq!(cidr.contains(IpAddr::V6(Ipv6Addr::from(ip))), v6_in(net, prefix, ip));
    }

    #[test]
    fn a_bare_address_is_that_address_alone(ip in any::<u32>(), other in any::<u32>()) {
        let cidr = Cidr::parse(&Ipv4Addr::from(ip).to_string()).expect("valid");
        prop_assert_eq!(cidr.to_string(), format!("{}/32", Ipv4Addr::from(ip)));
        prop_assert_eq!(cidr.contains(IpAddr::V4(Ipv4Addr::from(other))), ip == other);
    }

    #[test]
    fn prefixes_past_the_family_length_are_refused(v4 in any::<u32>(), p4 in 33u16..1000, v6 in any::<u128>(), p6 in 129u16..1000) {
        let v4_text = format!("{}/{p4}", Ipv4Addr::from(v4));
        prop_assert!(Cidr::parse(&v4_text).is_err());
        let v6_text = format!("{}/{p6}", Ipv6Addr::from(v6));
        prop_assert!(Cidr::parse(&v6_text).is_err());
    }

    #[test]
    fn any_text_is_a_network_or_an_error_that_quotes_it(text in "\\PC{0,24}") {
        match Cidr::parse(&text) {
            Ok(cidr) => prop_assert_eq!(Cidr::parse(&cidr.to_string()), Ok(cidr)),
            Err(e) => prop_assert!(e.contains(&text), "{e}"),
        }
    }
}
