//! Graceful shutdown: readiness, the drain signal, and the counts of
//! requests and client connections open.
//!
//! When the gateway is asked to stop it first turns **not ready**
//! ([`Drain::unready`]: `/readyz` answers 503) and keeps serving normally for
//! the drain delay, so that load balancers take it out of rotation while
//! nothing is refused (Envoy's drain time, HAProxy's `grace`). Then it
//! *drains* ([`Drain::start`]): listeners stop accepting, HTTP/2 connections
//! get GOAWAY, every HTTP/1 response carries `Connection: close`, requests
//! already in flight run to completion, a new request on a kept-alive HTTP/1
//! connection is answered `503 draining` with `Connection: close`, and an idle
//! one is closed after a short linger. The process exits when every client
//! connection has closed or the drain deadline passes, whichever comes first.
//!
//! This module must not know about sockets; it only carries the signals and
//! the counts.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Notify, watch};

/// The drain signal and in-flight count, shared by listeners and requests.
#[derive(Debug, Clone)]
pub struct Drain {
    tx: Arc<watch::Sender<bool>>,
    inflight: Arc<InFlight>,
    connections: Arc<InFlight>,
    ready: Arc<std::sync::atomic::AtomicBool>,
}

#[derive(Debug, Default)]
struct InFlight {
    count: AtomicUsize,
    idle: Notify,
}

impl Default for Drain {
    fn default() -> Drain {
        Drain::new()
    }
}

impl Drain {
    /// A signal that has not fired.
    pub fn new() -> Drain {
        Drain {
            tx: Arc::new(watch::Sender::new(false)),
            inflight: Arc::default(),
            connections: Arc::default(),
            ready: Arc::new(std::sync::atomic::AtomicBool::new(true)),
        }
    }

    /// Turns the gateway not ready (`/readyz` 503) while it still serves.
    pub fn unready(&self) {
        self.ready.store(false, Ordering::Release);
    }

    /// Whether the gateway wants new traffic: neither unready nor draining.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire) && !self.is_draining()
    }

    /// Counts a client connection in; the guard counts it out when dropped.
    pub fn connection(&self) -> InFlightGuard {
        self.connections.count.fetch_add(1, Ordering::AcqRel);
        InFlightGuard(self.connections.clone())
    }

    /// Client connections open.
    pub fn connections(&self) -> usize {
        self.connections.count.load(Ordering::Acquire)
    }

    /// Resolves when no client connection is open.
    pub async fn closed(&self) {
        idle_of(&self.connections).await;
    }

    /// Starts draining (idempotent).
    pub fn start(&self) {
        self.tx.send_replace(true);
    }

    /// Whether draining has started.
    pub fn is_draining(&self) -> bool {
        *self.tx.borrow()
    }

    /// A receiver that observes the start of draining.
    pub fn watch(&self) -> watch::Receiver<bool> {
        self.tx.subscribe()
    }

    /// Resolves once draining has started.
    pub async fn started(&self) {
        let mut rx = self.tx.subscribe();
        // An error means the sender is gone, which cannot happen while `self` lives.
        let _ = rx.wait_for(|d| *d).await;
    }

    /// Counts a request in; the returned guard counts it out when dropped.
    pub fn request(&self) -> InFlightGuard {
        self.inflight.count.fetch_add(1, Ordering::AcqRel);
        InFlightGuard(self.inflight.clone())
    }

    /// Requests currently in flight.
    pub fn in_flight(&self) -> usize {
        self.inflight.count.load(Ordering::Acquire)
    }

    /// Resolves when no request is in flight.
    pub async fn idle(&self) {
        idle_of(&self.inflight).await;
    }
}

async fn idle_of(count: &InFlight) {
    loop {
        let notified = count.idle.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if count.count.load(Ordering::Acquire) == 0 {
            return;
        }
        notified.await;
    }
}

/// One request (or connection) open; dropping it counts it out.
#[derive(Debug)]
pub struct InFlightGuard(Arc<InFlight>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn idle_waits_for_the_last_request() {
        let d = Drain::new();
        let a = d.request();
        let b = d.request();
        assert_eq!(d.in_flight(), 2);
        let waiter = tokio::spawn({
            let d = d.clone();
            async move { d.idle().await }
        });
        drop(a);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(b);
        waiter.await.expect("idle resolves");
        assert!(!d.is_draining());
        d.start();
        d.started().await;
        assert!(d.is_draining());
    }
}
