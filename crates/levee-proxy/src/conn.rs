//! A client connection's facts, shared by the listener that serves it and
//! the handler that answers its requests: who is on the other end
//! ([`Peer`]), and the bookkeeping the listener's deadlines and drain need
//! ([`ConnState`]: requests in flight, last activity, protocol).
//!
//! This module must not accept connections or look at requests; it only
//! counts.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use http::Version;
use tokio::time::Instant;

/// Who a connection is with.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    /// The client's address.
    pub client: SocketAddr,
    /// The gateway's address the client connected to.
    pub local: SocketAddr,
    /// Whether the client used TLS.
    pub tls: bool,
}

/// Per-connection bookkeeping: requests in flight, last activity, protocol.
#[derive(Debug)]
pub struct ConnState {
    epoch: Instant,
    last_active_ms: AtomicU64,
    in_flight: AtomicUsize,
    h2: AtomicBool,
    started: AtomicBool,
}

impl Default for ConnState {
    fn default() -> ConnState {
        ConnState::new()
    }
}

impl ConnState {
    /// A connection that just opened.
    pub fn new() -> ConnState {
        ConnState {
            epoch: Instant::now(),
            last_active_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            h2: AtomicBool::new(false),
            started: AtomicBool::new(false),
        }
    }

    /// A request head arrived.
    pub fn request_started(&self, version: Version) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.started.store(true, Ordering::Relaxed);
        if version == Version::HTTP_2 {
            self.h2.store(true, Ordering::Relaxed);
        }
        self.touch();
    }

    /// A response body ended or was dropped.
    pub fn request_finished(&self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.touch();
    }

    fn touch(&self) {
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_active_ms.store(ms, Ordering::Relaxed);
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    pub(crate) fn is_h2(&self) -> bool {
        self.h2.load(Ordering::Relaxed)
    }

    /// Whether a request head has arrived on this connection yet.
    pub(crate) fn has_started(&self) -> bool {
        self.started.load(Ordering::Relaxed)
    }

    pub(crate) fn idle_deadline(&self, idle: Duration) -> Instant {
        self.epoch + Duration::from_millis(self.last_active_ms.load(Ordering::Relaxed)) + idle
    }
}
