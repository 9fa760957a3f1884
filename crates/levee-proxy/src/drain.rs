//! Graceful shutdown: the drain signal and the count of requests in flight.
//!
//! When the gateway is asked to stop it first *drains*: listeners stop
//! accepting, HTTP/2 connections get GOAWAY, requests already in flight run to
//! completion, and any new request on a kept-alive HTTP/1 connection is
//! answered `503 draining` with `Connection: close`. The process exits when
//! nothing is in flight or the drain deadline passes, whichever comes first.
//!
//! This module must not know about sockets; it only carries the signal and
//! the count.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Notify, watch};

/// The drain signal and in-flight count, shared by listeners and requests.
#[derive(Debug, Clone)]
pub struct Drain {
    tx: Arc<watch::Sender<bool>>,
    inflight: Arc<InFlight>,
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
        }
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
        loop {
            let notified = self.inflight.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.in_flight() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// One request in flight; dropping it counts the request out.
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
