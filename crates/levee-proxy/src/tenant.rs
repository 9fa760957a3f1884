//! Tenants: who a request belongs to, the unit of fairness and of rate limits.
//!
//! A route may name where its tenant comes from: a request header (an API
//! key, say) or the client's address. The key is reduced at once to a `u64`
//! with a keyed SipHash whose key is random per process, so the raw value
//! (a secret, for an API key) is never stored, logged or put in a metric,
//! and a client cannot pick values that collide on purpose. A request
//! without the header belongs to one shared "anonymous" tenant.
//!
//! This module must not decide anything about a tenant; see
//! [`crate::admission`] (fair share) and [`crate::ratelimit`] (its rate).

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::OnceLock;

use http::{HeaderMap, HeaderName};

/// A tenant, as an opaque hash of its key.
pub type TenantKey = u64;

/// Where a route's tenant key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantSource {
    /// The value of this request header (e.g. `x-api-key`); hashed.
    Header(HeaderName),
    /// The client's IP address (the peer of the connection).
    ClientIp,
}

/// The process-wide hash key: stable across reloads, so rate-limit state kept
/// over a reload still finds its tenants.
fn hasher() -> &'static RandomState {
    static STATE: OnceLock<RandomState> = OnceLock::new();
    STATE.get_or_init(RandomState::new)
}

/// Hashes a header value; only the hash leaves this function.
pub fn hash_value(value: &[u8]) -> TenantKey {
    // The tag keeps a header value from hashing like an address.
    hasher().hash_one((0u8, value))
}

/// Hashes a client address.
pub fn hash_ip(ip: IpAddr) -> TenantKey {
    // An IPv4-mapped IPv6 address is the same client as its IPv4 form.
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    hasher().hash_one((1u8, ip))
}

impl TenantSource {
    /// The tenant of a request from `client` with `headers`. Without the
    /// header (or with several, of which the first counts) the request
    /// belongs to the anonymous tenant, the hash of an empty value.
    pub fn key(&self, headers: &HeaderMap, client: IpAddr) -> TenantKey {
        match self {
            TenantSource::Header(name) => {
                hash_value(headers.get(name).map_or(&b""[..], |v| v.as_bytes()))
            }
            TenantSource::ClientIp => hash_ip(client),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_hash_stably_and_distinctly() {
        let src = TenantSource::Header(HeaderName::from_static("x-api-key"));
        let ip: IpAddr = "127.0.0.1".parse().expect("literal");
        let mut h = HeaderMap::new();
        h.insert("x-api-key", "secret-a".parse().expect("literal"));
        let a = src.key(&h, ip);
        assert_eq!(a, src.key(&h, "10.0.0.9".parse().expect("literal")));
        h.insert("x-api-key", "secret-b".parse().expect("literal"));
        assert_ne!(a, src.key(&h, ip));
        let anon = src.key(&HeaderMap::new(), ip);
        assert_eq!(anon, hash_value(b""));
        assert_ne!(anon, a);
    }

    #[test]
    fn client_addresses_hash_by_ip_and_mapped_v4_is_v4() {
        let src = TenantSource::ClientIp;
        let h = HeaderMap::new();
        let v4: IpAddr = "192.0.2.1".parse().expect("literal");
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().expect("literal");
        let other: IpAddr = "192.0.2.2".parse().expect("literal");
        assert_eq!(src.key(&h, v4), src.key(&h, mapped));
        assert_ne!(src.key(&h, v4), src.key(&h, other));
        // A header value spelled like an address is a different tenant.
        assert_ne!(hash_value(b"192.0.2.1"), hash_ip(v4));
    }
}
