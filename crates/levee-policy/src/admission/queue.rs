//! The admission wait queue: one lane per priority.
//!
//! This module must not decide *when* to queue or shed, only keep order. A
//! waiter carries an opaque payload `W` (the gateway's channel to the waiting
//! request) that the queue only moves.

use std::collections::VecDeque;
use std::time::Instant;

use super::fair::{Tenants, least_loaded};
use super::{ClassId, Priority, TenantKey, WaiterId};

/// A request waiting for a slot.
#[derive(Debug)]
pub(super) struct Waiter<W> {
    /// Its name, for timeouts and cancellation.
    pub(super) id: WaiterId,
    /// What the caller gave, handed back with the verdict.
    pub(super) payload: W,
    /// When it joined the queue.
    pub(super) enqueued: Instant,
    /// When it is given up on while the limit binds: its caller's deadline,
    /// or the queue's own bound.
    pub(super) give_up: Instant,
    /// Whether `give_up` is its caller's deadline.
    pub(super) deadline: bool,
    /// Its class.
    pub(super) priority: Priority,
    /// Its tenant, on a route that has tenants.
    pub(super) tenant: Option<TenantKey>,
    /// Its request class, for its latency sample.
    pub(super) class: ClassId,
}

/// Three lanes: critical, default, sheddable.
#[derive(Debug)]
pub(super) struct Queue<W> {
    lanes: [VecDeque<Waiter<W>>; 3],
    len: usize,
}

impl<W> Default for Queue<W> {
    fn default() -> Self {
        Self {
            lanes: Default::default(),
            len: 0,
        }
    }
}

impl<W> Queue<W> {
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

    pub(super) fn push(&mut self, w: Waiter<W>) {
        self.lanes[w.priority as usize].push_back(w);
        self.len += 1;
    }

    /// The next waiter: highest lane first; oldest first, or newest first
    /// when `lifo` (the queue is congested).
    #[cfg(test)]
    pub(super) fn pop(&mut self, lifo: bool) -> Option<Waiter<W>> {
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
    pub(super) fn pop_fair(&mut self, lifo: bool, tenants: &Tenants) -> Option<Waiter<W>> {
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
    pub(super) fn evict_below(&mut self, priority: Priority) -> Option<Waiter<W>> {
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
    ) -> Option<Waiter<W>> {
        if let Some(w) = self.evict_below(priority) {
            return Some(w);
        }
        let lane = &mut self.lanes[priority as usize];
        let load = |w: &Waiter<W>| tenants.held(w.tenant);
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

    /// Removes the waiter `id`, if it is still queued.
    pub(super) fn remove(&mut self, id: WaiterId) -> Option<Waiter<W>> {
        for lane in &mut self.lanes {
            if let Some(i) = lane.iter().position(|w| w.id == id) {
                self.len -= 1;
                return lane.remove(i);
            }
        }
        None
    }

    /// The waiter `id`, if it is still queued.
    pub(super) fn get(&self, id: WaiterId) -> Option<&Waiter<W>> {
        self.lanes
            .iter()
            .flat_map(|l| l.iter())
            .find(|w| w.id == id)
    }

    /// Removes the oldest waiter of the lowest non-empty lane.
    pub(super) fn pop_oldest(&mut self) -> Option<Waiter<W>> {
        let lane = self.lanes.iter_mut().rev().find(|l| !l.is_empty())?;
        let w = lane.pop_front();
        self.len -= usize::from(w.is_some());
        w
    }

    /// Removes every waiter whose give-up time has come by `now`.
    pub(super) fn drain_expired(&mut self, now: Instant) -> Vec<Waiter<W>> {
        let mut out = Vec::new();
        for lane in &mut self.lanes {
            let mut i = 0;
            while i < lane.len() {
                if lane[i].give_up <= now {
                    out.extend(lane.remove(i));
                } else {
                    i += 1;
                }
            }
        }
        self.len -= out.len();
        out
    }

    /// Removes the newest waiter of the lowest non-empty lane: the one that
    /// would be served last.
    pub(super) fn pop_last(&mut self) -> Option<Waiter<W>> {
        let lane = self.lanes.iter_mut().rev().find(|l| !l.is_empty())?;
        let w = lane.pop_back();
        self.len -= usize::from(w.is_some());
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A waiter whose payload is a flag that tells whether it was dropped.
    fn waiter(p: Priority) -> (Waiter<std::rc::Rc<()>>, std::rc::Weak<()>) {
        let now = crate::testing::t0();
        let flag = std::rc::Rc::new(());
        let weak = std::rc::Rc::downgrade(&flag);
        let w = Waiter {
            id: 0,
            payload: flag,
            enqueued: now,
            give_up: now,
            deadline: false,
            priority: p,
            tenant: None,
            class: 0,
        };
        (w, weak)
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
        drop(victim);
        assert!(keep[2].upgrade().is_none(), "the third waiter was removed");
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
    fn a_waiter_is_removed_by_id_and_the_last_one_goes_first() {
        let mut q = Queue::default();
        for (id, p) in [
            (1, Priority::Default),
            (2, Priority::Sheddable),
            (3, Priority::Default),
        ] {
            let (mut w, _) = waiter(p);
            w.id = id;
            q.push(w);
        }
        assert_eq!(q.remove(1).map(|w| w.id), Some(1));
        assert!(q.remove(1).is_none() && q.get(3).is_some());
        assert_eq!(
            q.pop_last().map(|w| w.id),
            Some(2),
            "the lowest lane's newest"
        );
        assert_eq!(q.pop_last().map(|w| w.id), Some(3));
        assert!(q.is_empty());
    }
}
