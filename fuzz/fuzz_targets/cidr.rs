//! Client networks as the operator writes them (`levee_proxy::cidr::Cidr`).
//! Input: a network, then optionally a line with an address.
//!
//! Checks: what `Display` writes parses back to the same network; the
//! address written is in its own network; a /0 holds every address of its
//! family and a full-length prefix only its own address.

#![no_main]

use std::net::IpAddr;

use levee_fuzz::first_line;
use levee_proxy::cidr::Cidr;
use libfuzzer_sys::fuzz_target;

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fuzz_target!(|data: &[u8]| {
    let (net, addr) = first_line(data);
    let Ok(net) = std::str::from_utf8(net) else {
        return;
    };
    let Ok(cidr) = Cidr::parse(net) else {
        return;
    };
    let shown = cidr.to_string();
    assert_eq!(Cidr::parse(&shown), Ok(cidr), "{net:?} shown as {shown:?}");
    let (base, prefix) = shown.split_once('/').expect("ip/prefix");
    let base: IpAddr = base.parse().expect("an address");
    let prefix: u8 = prefix.parse().expect("a prefix");
    // An IPv4-mapped network is compared as IPv6, so only a plain address
    // of the network's own family is sure to be in it.
    if canonical(base) == base {
        assert!(cidr.contains(base), "{shown} does not hold its own address");
    }
    let Some(ip) = std::str::from_utf8(addr)
        .ok()
        .and_then(|a| a.trim().parse::<IpAddr>().ok())
    else {
        return;
    };
    let inside = cidr.contains(ip);
    let same_family = canonical(ip).is_ipv4() == base.is_ipv4() && canonical(base) == base;
    if prefix == 0 && same_family {
        assert!(inside, "{shown} does not hold {ip}");
    }
    if u32::from(prefix) == if base.is_ipv4() { 32 } else { 128 } && canonical(base) == base {
        assert_eq!(inside, canonical(ip) == base, "{shown} and {ip}");
    }
});
