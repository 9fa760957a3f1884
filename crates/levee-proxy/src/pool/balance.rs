//! Load balancing: in what order a request asks a pool's endpoints.
//!
//! Three policies, each weighted by the endpoints' `weight`:
//!
//! - **least request** (the default, as Envoy's and linkerd's): two
//!   endpoints drawn at random, weighted, and the one with fewer requests
//!   waiting for their response head per unit of weight goes first — the
//!   power of two choices, which keeps a slow or overloaded endpoint from
//!   piling up requests without the herding of "always the least loaded";
//! - **round robin**: each endpoint in turn, `weight` turns each;
//! - **hash**: rendezvous (highest random weight) hashing of a header, a
//!   cookie or the client's address, so the same key keeps reaching the same
//!   endpoint while it can take requests, and when it cannot only its keys
//!   move (to their next-highest endpoint). The hash is FNV-1a, fixed across
//!   processes and versions, so every gateway of a fleet agrees.
//!
//! This module decides only the order among the endpoints the pool says may
//! take the request; it must not look at health, drains or breakers.

use std::net::IpAddr;

use http::HeaderMap;
use http::header::{COOKIE, HeaderName};

/// How a pool spreads requests over its endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Balance {
    /// Power of two choices on requests in flight per weight (default).
    #[default]
    LeastRequest,
    /// Weighted round robin.
    RoundRobin,
    /// Rendezvous hashing on a key of the request.
    Hash(HashOn),
}

/// What a hashing pool hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashOn {
    /// A request header's value (all of its lines, in order).
    Header(HeaderName),
    /// A cookie's value.
    Cookie(String),
    /// The client's address (the connection's peer).
    ClientIp,
}

impl HashOn {
    /// The request's key, or `None` when it has none (no such header or
    /// cookie): such a request is balanced by least request instead.
    pub fn key(&self, headers: &HeaderMap, client: IpAddr) -> Option<u64> {
        match self {
            HashOn::Header(name) => {
                let mut values = headers.get_all(name).iter().peekable();
                values.peek()?;
                let mut h = Fnv::new();
                for v in values {
                    h.write(v.as_bytes());
                    h.write(b"\n");
                }
                Some(h.finish())
            }
            HashOn::Cookie(name) => {
                let value = headers
                    .get_all(COOKIE)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .flat_map(|v| v.split(';'))
                    .filter_map(|pair| pair.trim().split_once('='))
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v)?;
                Some(fnv(value.as_bytes()))
            }
            HashOn::ClientIp => Some(match client {
                IpAddr::V4(a) => fnv(&a.octets()),
                IpAddr::V6(a) => fnv(&a.octets()),
            }),
        }
    }
}

/// One endpoint that may take the request.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Candidate {
    /// Its index in the pool.
    pub(crate) index: usize,
    /// Its weight (≥ 1).
    pub(crate) weight: u32,
    /// Requests sent to it that have no response head yet.
    pub(crate) in_flight: usize,
    /// A hash of its address, for rendezvous hashing.
    pub(crate) id: u64,
}

impl Balance {
    /// Puts `candidates` in the order to ask them. `turn` is the pool's
    /// request counter (round robin), `affinity` the request's hash key
    /// (hashing; without one, least request) and `random` two fresh random
    /// numbers (least request).
    pub(crate) fn order(
        &self,
        candidates: &mut [Candidate],
        turn: usize,
        affinity: Option<u64>,
        random: [u64; 2],
    ) {
        if candidates.len() < 2 {
            return;
        }
        match (self, affinity) {
            (Balance::RoundRobin, _) => {
                let total: u64 = candidates.iter().map(|c| u64::from(c.weight)).sum();
                let mut t = turn as u64 % total.max(1);
                let first = candidates
                    .iter()
                    .position(|c| {
                        let w = u64::from(c.weight);
                        if t < w {
                            true
                        } else {
                            t -= w;
                            false
                        }
                    })
                    .unwrap_or(0);
                candidates.rotate_left(first);
            }
            (Balance::Hash(_), Some(key)) => {
                // Highest score first; a weight w wins w times as often.
                candidates.sort_by(|a, b| {
                    rendezvous(key, b)
                        .partial_cmp(&rendezvous(key, a))
                        .unwrap_or(std::cmp::Ordering::Equal)
                });
            }
            (Balance::LeastRequest | Balance::Hash(_), _) => {
                let a = weighted_draw(candidates, random[0]);
                let mut b = weighted_draw(candidates, random[1]);
                if b == a {
                    b = (a + 1 + (random[1] as usize) % (candidates.len() - 1)) % candidates.len();
                }
                let load = |c: &Candidate| (c.in_flight as f64 + 1.0) / f64::from(c.weight);
                let best = if load(&candidates[b]) < load(&candidates[a]) {
                    b
                } else {
                    a
                };
                candidates.swap(0, best);
            }
        }
    }
}

/// An index drawn with probability proportional to weight.
fn weighted_draw(candidates: &[Candidate], random: u64) -> usize {
    let total: u64 = candidates.iter().map(|c| u64::from(c.weight)).sum();
    let mut t = random % total.max(1);
    for (i, c) in candidates.iter().enumerate() {
        let w = u64::from(c.weight);
        if t < w {
            return i;
        }
        t -= w;
    }
    0
}

/// The weighted rendezvous score of `c` for `key`: `weight / -ln(u)`,
/// `u` uniform in (0, 1) from the pair's hash (Schindelhauer and Schomaker).
fn rendezvous(key: u64, c: &Candidate) -> f64 {
    let h = mix(key ^ c.id);
    let u = ((h >> 11) as f64 + 1.0) / ((1u64 << 53) as f64 + 2.0);
    f64::from(c.weight) / -u.ln()
}

/// The 64-bit FNV-1a hash of `bytes`.
pub(crate) fn fnv(bytes: &[u8]) -> u64 {
    let mut h = Fnv::new();
    h.write(bytes);
    h.finish()
}

struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// SplitMix64's finalizer: spreads the bits of `x`.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cands(weights: &[u32]) -> Vec<Candidate> {
        weights
            .iter()
            .enumerate()
            .map(|(index, &weight)| Candidate {
                index,
                weight,
                in_flight: 0,
                id: fnv(format!("10.0.0.{index}:80").as_bytes()),
            })
            .collect()
    }

    fn first(
        balance: &Balance,
        c: &[Candidate],
        turn: usize,
        key: Option<u64>,
        r: [u64; 2],
    ) -> usize {
        let mut c = c.to_vec();
        balance.order(&mut c, turn, key, r);
        c[0].index
    }

    #[test]
    fn round_robin_gives_each_its_weight_in_turns() {
        let c = cands(&[1, 3]);
        let firsts: Vec<usize> = (0..8)
            .map(|t| first(&Balance::RoundRobin, &c, t, None, [0, 0]))
            .collect();
        assert_eq!(firsts, [0, 1, 1, 1, 0, 1, 1, 1]);
    }

    #[test]
    fn least_request_prefers_the_idler_of_two() {
        let mut c = cands(&[1, 1]);
        c[0].in_flight = 5;
        for r in 0..20u64 {
            assert_eq!(
                first(&Balance::LeastRequest, &c, 0, None, [r, r * 7 + 1]),
                1
            );
        }
        // Per unit of weight: 5 in flight on weight 10 beats 1 on weight 1.
        let mut c = cands(&[10, 1]);
        c[0].in_flight = 5;
        c[1].in_flight = 1;
        assert_eq!(first(&Balance::LeastRequest, &c, 0, None, [0, 10]), 0);
    }

    #[test]
    fn least_request_spreads_by_weight_when_idle() {
        let c = cands(&[1, 1, 2]);
        let mut counts = [0usize; 3];
        let mut x = 1u64;
        for _ in 0..4000 {
            x = mix(x);
            let y = mix(x ^ 0x55);
            counts[first(&Balance::LeastRequest, &c, 0, None, [x, y])] += 1;
        }
        // Idle, the heavier endpoint wins whenever it is drawn (its load per
        // weight is lower): about 3/4 of the first picks, the others 1/8 each.
        assert!(counts.iter().all(|&n| n > 250), "{counts:?}");
        assert!(counts[2] > counts[0] && counts[2] > counts[1], "{counts:?}");
    }

    #[test]
    fn hashing_is_sticky_and_moves_only_the_lost_endpoints_keys() {
        let hash = Balance::Hash(HashOn::ClientIp);
        let all = cands(&[1, 1, 1, 1]);
        let keys: Vec<u64> = (0..400u64).map(|k| mix(k + 1)).collect();
        let before: Vec<usize> = keys
            .iter()
            .map(|&k| first(&hash, &all, 0, Some(k), [0, 0]))
            .collect();
        let again: Vec<usize> = keys
            .iter()
            .map(|&k| first(&hash, &all, 9, Some(k), [7, 7]))
            .collect();
        assert_eq!(before, again, "the same key reaches the same endpoint");
        let mut counts = [0usize; 4];
        for &i in &before {
            counts[i] += 1;
        }
        assert!(counts.iter().all(|&n| n > 60), "spread: {counts:?}");
        // Endpoint 2 goes: only its keys move.
        let without: Vec<Candidate> = all.iter().copied().filter(|c| c.index != 2).collect();
        for (k, &was) in keys.iter().zip(&before) {
            let now = first(&hash, &without, 0, Some(*k), [0, 0]);
            if was != 2 {
                assert_eq!(now, was);
            }
        }
    }

    #[test]
    fn keys_from_headers_cookies_and_addresses() {
        let mut h = HeaderMap::new();
        h.insert("x-user", "alice".parse().expect("value"));
        h.insert(COOKIE, "a=1; sid=xyz; b=2".parse().expect("value"));
        let ip: IpAddr = "192.0.2.7".parse().expect("ip");
        let user = HashOn::Header(HeaderName::from_static("x-user"));
        assert_eq!(
            user.key(&h, ip),
            user.key(&h, "10.0.0.1".parse().expect("ip"))
        );
        assert!(
            HashOn::Header(HeaderName::from_static("x-none"))
                .key(&h, ip)
                .is_none()
        );
        assert_eq!(HashOn::Cookie("sid".into()).key(&h, ip), Some(fnv(b"xyz")));
        assert!(HashOn::Cookie("nope".into()).key(&h, ip).is_none());
        assert_ne!(
            HashOn::ClientIp.key(&h, ip),
            HashOn::ClientIp.key(&h, "192.0.2.8".parse().expect("ip"))
        );
    }
}
