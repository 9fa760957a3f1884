//! The admission wait queue: one lane per priority.
//!
//! This module must not decide *when* to queue or shed, only keep order.

use std::collections::VecDeque;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::Priority;
use super::fair::{Tenants, least_loaded};
use crate::tenant::TenantKey;

/// A request waiting for a slot.
#[derive(Debug)]
pub(super) struct Waiter {
    /// Fires when a slot is granted, with the in-flight count it makes;
    /// dropped to evict.
    pub(super) tx: oneshot::Sender<usize>,
    /// When it joined the queue.
    pub(super) enqueued: Instant,
    /// Its class.
    pub(super) priority: Priority,
    /// Its tenant, on a route that has tenants.
    pub(super) tenant: Option<TenantKey>,
}

/// Three lanes: critical, default, sheddable.
#[derive(Debug, Default)]
pub(super) struct Queue {
    lanes: [VecDeque<Waiter>; 3],
    len: usize,
}

impl Queue {
    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Waiters that will be served before a newcomer of `priority`.
    pub(super) fn ahead_of(&self, priority: Priority) -> usize {
        self.lanes[..=priority as usize]
            .iter()
            .map(VecDeque::len)
            .sum()
    }

    pub(super) fn push(&mut self, w: Waiter) {
        self.lanes[w.priority as usize].push_back(w);
        self.len += 1;
    }

    /// The next waiter: highest lane first; oldest first, or newest first
    /// when `lifo` (the queue is congested).
    #[cfg(test)]
    pub(super) fn pop(&mut self, lifo: bool) -> Option<Waiter> {
        let lane = self.lanes.iter_mut().find(|l| !l.is_empty())?;
        let w = if lifo {
            lane.pop_back()
        } else {
            lane.pop_front()
        };
        self.len -= usize::from(w.is_some());
        w
    }

    /// The next waiter under fairness: highest lane first; within it, the
    /// waiter whose tenant holds the fewest slots, ties broken in the
    /// lane's order (oldest first, or newest first when `lifo`). Without
    /// tenants this is the plain lane order. O(lane length), bounded by `max_queue`.
    pub(super) fn pop_fair(&mut self, lifo: bool, tenants: &Tenants) -> Option<Waiter> {
        let lane = self.lanes.iter_mut().find(|l| !l.is_empty())?;
        let n = lane.len();
        let i = if lifo {
            let i = least_loaded(lane.iter().rev().map(|w| w.tenant), tenants)?;
            n - 1 - i
        } else {
            least_loaded(lane.iter().map(|w| w.tenant), tenants)?
        };
        let w = lane.remove(i);
        self.len -= usize::from(w.is_some());
        w
    }

    /// Removes the newest waiter of the lowest lane strictly below `priority`.
    pub(super) fn evict_below(&mut self, priority: Priority) -> Option<Waiter> {
        for lane in (priority as usize + 1..3).rev() {
            if let Some(w) = self.lanes[lane].pop_back() {
                self.len -= 1;
                return Some(w);
            }
        }
        None
    }

    /// Drops waiters whose requester is gone (timed out or disconnected).
    /// Calls `gone` with each removed waiter's tenant.
    pub(super) fn remove_closed(&mut self, mut gone: impl FnMut(Option<TenantKey>)) {
        for lane in &mut self.lanes {
            lane.retain(|w| {
                let open = !w.tx.is_closed();
                if !open {
                    gone(w.tenant);
                }
                open
            });
        }
        self.len = self.lanes.iter().map(VecDeque::len).sum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiter(p: Priority) -> (Waiter, oneshot::Receiver<usize>) {
        let (tx, rx) = oneshot::channel();
        (
            Waiter {
                tx,
                enqueued: Instant::now(),
                priority: p,
                tenant: None,
            },
            rx,
        )
    }

    #[test]
    fn higher_lanes_first_fifo_or_lifo() {
        let mut q = Queue::default();
        let mut keep = Vec::new();
        for p in [
            Priority::Sheddable,
            Priority::Default,
            Priority::Default,
            Priority::Critical,
        ] {
            let (w, rx) = waiter(p);
            keep.push(rx);
            q.push(w);
        }
        assert_eq!(q.len(), 4);
        assert_eq!(q.ahead_of(Priority::Critical), 1);
        assert_eq!(q.ahead_of(Priority::Default), 3);
        assert_eq!(q.ahead_of(Priority::Sheddable), 4);
        assert_eq!(q.pop(false).map(|w| w.priority), Some(Priority::Critical));
        let first = q.pop(false).expect("default");
        assert_eq!(first.priority, Priority::Default);
        assert_eq!(q.pop(true).map(|w| w.priority), Some(Priority::Default));
        assert_eq!(q.pop(false).map(|w| w.priority), Some(Priority::Sheddable));
        assert!(q.pop(false).is_none() && q.is_empty());
    }

    #[test]
    fn eviction_takes_only_lower_lanes() {
        let mut q = Queue::default();
        let (w, _rx1) = waiter(Priority::Default);
        q.push(w);
        assert!(q.evict_below(Priority::Default).is_none());
        let (w, _rx2) = waiter(Priority::Sheddable);
        q.push(w);
        assert_eq!(
            q.evict_below(Priority::Critical).map(|w| w.priority),
            Some(Priority::Sheddable)
        );
        assert_eq!(
            q.evict_below(Priority::Critical).map(|w| w.priority),
            Some(Priority::Default)
        );
        assert!(q.is_empty());
    }

    #[test]
    fn the_least_loaded_tenant_goes_first_within_a_lane() {
        let mut q = Queue::default();
        let mut keep = Vec::new();
        for t in [1, 1, 2] {
            let (mut w, rx) = waiter(Priority::Default);
            w.tenant = Some(t);
            keep.push(rx);
            q.push(w);
        }
        let mut tenants = Tenants::default();
        tenants.admitted(1);
        assert_eq!(q.pop_fair(false, &tenants).and_then(|w| w.tenant), Some(2));
        tenants.admitted(2);
        tenants.admitted(2);
        assert_eq!(q.pop_fair(true, &tenants).and_then(|w| w.tenant), Some(1));
        assert_eq!(q.len(), 1);
    }

    #[test]
    fn closed_waiters_are_removed() {
        let mut q = Queue::default();
        let (w, rx) = waiter(Priority::Default);
        q.push(w);
        let (w, _keep) = waiter(Priority::Default);
        q.push(w);
        drop(rx);
        q.remove_closed(|_| {});
        assert_eq!(q.len(), 1);
    }
}
