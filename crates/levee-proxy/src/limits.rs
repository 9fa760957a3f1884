//! Connection limits: the gateway's cap on client connections, so that file
//! descriptors never run out, and the caps one client address has on
//! connections and concurrent requests, so that no single client can take
//! what everyone shares.
//!
//! The gateway-wide cap is backpressure, as HAProxy's `maxconn`: at the cap
//! the listeners stop accepting and new connections wait in the kernel's
//! backlog until one closes. Its default follows the process's open-file
//! limit ([`default_max_connections`]), which [`raise_nofile_limit`] lifts to
//! the hard limit at start. A client over its own cap is refused: a surplus
//! connection is closed at once, a surplus request is answered `429
//! client-limit`.
//!
//! A client is its address; an IPv6 client is its /64, the block one host or
//! one customer is usually given. Clients in `trusted_networks` (a load
//! balancer or proxy in front, by default loopback) are not counted: many
//! users arrive through them.
//!
//! This module must not know about HTTP or sockets; it counts.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Descriptors kept out of the connection budget: listeners, the state
/// store, logs, the admin listener and its clients, DNS.
const RESERVED_FDS: u64 = 256;

/// Shards of the per-client table, so that connections from different
/// clients rarely contend for one lock.
const SHARDS: usize = 16;

/// The gateway's connection budget and the per-client counts; cheap to clone.
#[derive(Debug, Clone)]
pub struct Limits {
    connections: Arc<Semaphore>,
    max_connections: usize,
    clients: Arc<[Mutex<HashMap<ClientKey, Counts>>; SHARDS]>,
}

/// The caps that apply to one client, from the current settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientCaps {
    /// Most connections one client address may hold open.
    pub connections: usize,
    /// Most requests one client address may have in flight.
    pub requests: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ClientKey {
    V4(u32),
    /// The /64 prefix.
    V6(u64),
}

impl ClientKey {
    fn of(ip: IpAddr) -> ClientKey {
        match ip {
            IpAddr::V4(v4) => ClientKey::V4(u32::from(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey::V4(u32::from(v4)),
                None => ClientKey::V6((u128::from(v6) >> 64) as u64),
            },
        }
    }

    fn shard(self) -> usize {
        let h = match self {
            ClientKey::V4(a) => u64::from(a),
            ClientKey::V6(p) => p,
        };
        // Fibonacci hashing: neighbouring addresses land in different shards.
        (h.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60) as usize % SHARDS
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    connections: usize,
    requests: usize,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Connection,
    Request,
}

impl Counts {
    fn get(&mut self, kind: Kind) -> &mut usize {
        match kind {
            Kind::Connection => &mut self.connections,
            Kind::Request => &mut self.requests,
        }
    }
}

impl Limits {
    /// A budget of `max_connections` client connections (at least 1).
    pub fn new(max_connections: usize) -> Limits {
        let max_connections = max_connections.clamp(1, Semaphore::MAX_PERMITS);
        Limits {
            connections: Arc::new(Semaphore::new(max_connections)),
            max_connections,
            clients: Arc::new(std::array::from_fn(|_| Mutex::default())),
        }
    }

    /// The gateway-wide cap.
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// Client connections the budget has room for now.
    pub fn connections_available(&self) -> usize {
        self.connections.available_permits()
    }

    /// A place in the connection budget, without waiting; `None` at the cap.
    pub fn try_connection(&self) -> Option<OwnedSemaphorePermit> {
        self.connections.clone().try_acquire_owned().ok()
    }

    /// Waits for a place in the connection budget: the accept loop's
    /// backpressure. (`None` only if the budget were closed, which nothing
    /// does.)
    pub async fn connection(&self) -> Option<OwnedSemaphorePermit> {
        self.connections.clone().acquire_owned().await.ok()
    }

    /// Counts a connection from `ip` in, or `None` when the client already
    /// holds `caps.connections`.
    pub fn client_connection(&self, ip: IpAddr, caps: ClientCaps) -> Option<ClientGuard> {
        self.take(ip, Kind::Connection, caps.connections)
    }

    /// Counts a request from `ip` in, or `None` when the client already has
    /// `caps.requests` in flight.
    pub fn client_request(&self, ip: IpAddr, caps: ClientCaps) -> Option<ClientGuard> {
        self.take(ip, Kind::Request, caps.requests)
    }

    /// Clients with anything counted (for tests and metrics).
    pub fn clients(&self) -> usize {
        self.clients
            .iter()
            .map(|s| s.lock().map_or(0, |m| m.len()))
            .sum()
    }

    fn take(&self, ip: IpAddr, kind: Kind, cap: usize) -> Option<ClientGuard> {
        let key = ClientKey::of(ip);
        let shard = &self.clients[key.shard()];
        let mut map = shard.lock().unwrap_or_else(|p| p.into_inner());
        let counts = map.entry(key).or_default();
        let n = counts.get(kind);
        if *n >= cap {
            if counts.connections == 0 && counts.requests == 0 {
                map.remove(&key);
            }
            return None;
        }
        *n += 1;
        Some(ClientGuard {
            limits: self.clone(),
            key,
            kind,
        })
    }

    fn release(&self, key: ClientKey, kind: Kind) {
        let shard = &self.clients[key.shard()];
        let mut map = shard.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(counts) = map.get_mut(&key) {
            let n = counts.get(kind);
            *n = n.saturating_sub(1);
            if counts.connections == 0 && counts.requests == 0 {
                map.remove(&key);
            }
        }
    }
}

/// One connection or request counted for its client; dropping it counts it
/// out.
#[derive(Debug)]
pub struct ClientGuard {
    limits: Limits,
    key: ClientKey,
    kind: Kind,
}

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.limits.release(self.key, self.kind);
    }
}

/// Raises the soft open-file limit to the hard one, as nginx's
/// `worker_rlimit_nofile` and HAProxy do, and returns the limit in force.
/// `None` when it cannot be read.
pub fn raise_nofile_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut lim = getrlimit(Resource::Nofile);
    if let (Some(cur), Some(max)) = (lim.current, lim.maximum)
        && cur < max
    {
        let raised = rustix::process::Rlimit {
            current: Some(max),
            maximum: Some(max),
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            lim.current = Some(max);
        }
    }
    // `None` means unlimited: budget as if it were a generous fixed limit.
    Some(lim.current.unwrap_or(1 << 20))
}

/// The default connection cap for an open-file limit of `nofile`: half of
/// what is left after [`RESERVED_FDS`], since each client connection may
/// need one to its upstream too (HAProxy's rule for a proxy); at least 64.
pub fn default_max_connections(nofile: u64) -> usize {
    let budget = nofile.saturating_sub(RESERVED_FDS) / 2;
    usize::try_from(budget).unwrap_or(usize::MAX).max(64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPS: ClientCaps = ClientCaps {
        connections: 2,
        requests: 3,
    };

    #[test]
    fn a_client_is_capped_and_counted_out() {
        let l = Limits::new(10);
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        let c1 = l.client_connection(a, CAPS).expect("first");
        let _c2 = l.client_connection(a, CAPS).expect("second");
        assert!(l.client_connection(a, CAPS).is_none(), "third refused");
        assert!(l.client_connection(b, CAPS).is_some(), "others unaffected");
        drop(c1);
        assert!(l.client_connection(a, CAPS).is_some(), "room again");
        let reqs: Vec<_> = (0..3).filter_map(|_| l.client_request(a, CAPS)).collect();
        assert_eq!(reqs.len(), 3);
        assert!(l.client_request(a, CAPS).is_none());
    }

    #[test]
    fn the_table_forgets_clients_with_nothing_open() {
        let l = Limits::new(10);
        for i in 0..100u8 {
            let ip = IpAddr::from([198, 51, 100, i]);
            drop(l.client_connection(ip, CAPS));
            drop(l.client_request(ip, CAPS));
        }
        assert_eq!(l.clients(), 0);
        let zero = ClientCaps {
            connections: 0,
            requests: 0,
        };
        assert!(
            l.client_connection(IpAddr::from([10, 0, 0, 1]), zero)
                .is_none()
        );
        assert_eq!(l.clients(), 0, "a refusal leaves nothing behind");
    }

    #[test]
    fn an_ipv6_client_is_its_slash_64() {
        let l = Limits::new(10);
        let one: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let same: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        let other: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        let _a = l.client_connection(one, CAPS).expect("one");
        let _b = l.client_connection(same, CAPS).expect("two");
        assert!(l.client_connection(same, CAPS).is_none());
        assert!(l.client_connection(other, CAPS).is_some());
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("ip");
        let v4: IpAddr = "192.0.2.7".parse().expect("ip");
        let _m = l.client_connection(mapped, CAPS).expect("mapped");
        let _v = l.client_connection(v4, CAPS).expect("v4");
        assert!(l.client_connection(v4, CAPS).is_none(), "one client");
    }

    #[tokio::test]
    async fn the_budget_is_backpressure() {
        let l = Limits::new(2);
        let a = l.connection().await.expect("open");
        let _b = l.connection().await.expect("open");
        assert!(l.try_connection().is_none());
        let waiting = tokio::spawn({
            let l = l.clone();
            async move { l.connection().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(a);
        let _c = waiting.await.expect("a place once one closed");
    }

    #[test]
    fn default_cap_follows_the_descriptor_limit() {
        assert_eq!(default_max_connections(20_000), 9_872);
        assert_eq!(default_max_connections(1024), 384);
        assert_eq!(default_max_connections(100), 64);
        assert!(raise_nofile_limit().is_some_and(|n| n >= 64));
    }
}
