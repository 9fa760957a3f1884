//! The admission wait queue: one lane per priority.
//!
//! This module must not decide *when* to queue or shed, only keep order.

use std::collections::VecDeque;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::fair::{Tenants, least_loaded};
use super::{Admitted, Priority};
use crate::tenant::TenantKey;

/// A request waiting for a slot.
#[derive(Debug)]
pub(super) struct Waiter {
    /// Fires when a slot is granted, with the in-flight count it makes and
    /// the limit; dropped to evict.
    pub(super) tx: oneshot::Sender<Admitted>,
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

    /// Waiters that will be served before a newcomer of `priority` whose
    /// tenant holds `held` slots, as [`Queue::pop_fair`] chooses: every
    /// waiter of a higher lane, and those of its own lane whose tenant holds
    /// no more than `held` (a tenant holding more waits behind it). Without
    /// tenants, the whole of its lane. O(lane length).
    pub(super) fn ahead_of_fair(
        &self,
        priority: Priority,
        held: usize,
        tenants: &Tenants,
    ) -> usize {
        let lane = priority as usize;
        let higher: usize = self.lanes[..lane].iter().map(VecDeque::len).sum();
        let own = self.lanes[lane]
            .iter()
            .filter(|w| tenants.held(w.tenant) <= held)
            .count();
        higher + own
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

    /// Makes room for a newcomer of `priority` whose tenant holds `held`
    /// slots: removes the newest waiter of the lowest lane strictly below
    /// `priority`; failing that, in its own lane, the newest waiter of the
    /// tenant that holds the most slots, if that is more than `held` (so a
    /// quiet tenant's request takes the place of a noisy one's, never the
    /// other way round). `None` if every waiter goes before the newcomer anyway.
    pub(super) fn evict_for(
        &mut self,
        priority: Priority,
        held: usize,
        tenants: &Tenants,
    ) -> Option<Waiter> {
        if let Some(w) = self.evict_below(priority) {
            return Some(w);
        }
        let lane = &mut self.lanes[priority as usize];
        let load = |w: &Waiter| tenants.held(w.tenant);
        let (i, most) = lane
            .iter()
            .enumerate()
            .rev()
            .map(|(i, w)| (i, load(w)))
            .fold(None, |best: Option<(usize, usize)>, (i, l)| match best {
                Some((_, b)) if b >= l => best,
                _ => Some((i, l)),
            })?;
        if most <= held {
            return None;
        }
        let w = lane.remove(i);
        self.len -= usize::from(w.is_some());
        w
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

    fn waiter(p: Priority) -> (Waiter, oneshot::Receiver<Admitted>) {
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
        // Without tenants, every waiter of the same or a higher lane is ahead.
        let none = Tenants::default();
        assert_eq!(q.ahead_of_fair(Priority::Critical, 0, &none), 1);
        assert_eq!(q.ahead_of_fair(Priority::Default, 0, &none), 3);
        assert_eq!(q.ahead_of_fair(Priority::Sheddable, 0, &none), 4);
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
    fn a_lighter_tenant_takes_the_place_of_the_heaviest_ones_newest_waiter() {
        let mut q = Queue::default();
        let mut keep = Vec::new();
        for t in [1, 2, 1, 3] {
            let (mut w, rx) = waiter(Priority::Default);
            w.tenant = Some(t);
            keep.push(rx);
            q.push(w);
        }
        let mut tenants = Tenants::default();
        for _ in 0..3 {
            tenants.admitted(1);
        }
        tenants.admitted(2);
        // Tenant 1 holds the most: its newest waiter (third) goes.
        let victim = q
            .evict_for(Priority::Default, 0, &tenants)
            .expect("room made");
        assert_eq!(victim.tenant, Some(1));
        assert_eq!(q.len(), 3);
        assert!(keep[2].try_recv().is_err(), "the third waiter was dropped");
        // A tenant holding as much as the heaviest does not displace anyone.
        assert!(q.evict_for(Priority::Default, 3, &tenants).is_none());
        // A lower lane goes first, whatever the loads.
        let (w, _rx) = waiter(Priority::Sheddable);
        q.push(w);
        let victim = q.evict_for(Priority::Default, 5, &tenants).expect("room");
        assert_eq!(victim.priority, Priority::Sheddable);
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
        // A newcomer of a tenant holding nothing goes before tenant 1's two
        // waiters (which hold one), after tenant 2's (which also holds none).
        assert_eq!(q.ahead_of_fair(Priority::Default, 0, &tenants), 1);
        assert_eq!(q.ahead_of_fair(Priority::Default, 1, &tenants), 3);
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
