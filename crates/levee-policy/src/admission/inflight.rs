//! The requests in flight: who holds a slot, since when, and which ones stopped
//! counting.
//!
//! Each admitted request has an entry until its answer's head arrives (or it
//! fails). An entry *counts* against the limit until it is **parked**: a
//! request that has waited for its head far longer than the route's typical
//! answer while requests sent after it have already been answered is
//! long-lived by nature (a long-poll, a slow report), not a sign that the
//! upstream is full, and holding its slot would starve the short requests
//! behind it. A parked request is still in flight; it just no longer counts.
//!
//! Entries live in a slab addressed by `(slot, generation)`, so a stale
//! ticket never releases someone else's slot; counted entries are also kept
//! in admission order so the oldest can be found in O(1).
//!
//! This module must not decide when to park; it only finds the candidates.

use std::collections::VecDeque;
use std::time::Instant;

use super::{ClassId, TenantKey};

/// One request in flight.
#[derive(Debug, Clone, Copy)]
pub(super) struct Entry {
    /// When it was admitted.
    pub(super) sent: Instant,
    /// Its request class.
    pub(super) class: ClassId,
    /// Its tenant, if the route has tenants.
    pub(super) tenant: Option<TenantKey>,
    /// Whether it still counts against the limit.
    pub(super) counted: bool,
}

#[derive(Debug)]
enum Slot {
    Free { generation: u32 },
    Used { generation: u32, entry: Entry },
}

/// The slab of requests in flight.
#[derive(Debug, Default)]
pub(super) struct InFlight {
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Counted entries, oldest first; stale positions are skipped lazily.
    order: VecDeque<(u32, u32)>,
    counted: usize,
}

impl InFlight {
    /// Requests that count against the limit.
    pub(super) fn counted(&self) -> usize {
        self.counted
    }

    /// Adds a counted entry; returns its `(slot, generation)`.
    pub(super) fn insert(&mut self, entry: Entry) -> (u32, u32) {
        let (slot, generation) = match self.free.pop() {
            Some(i) => {
                let generation = match self.slots[i as usize] {
                    Slot::Free { generation } => generation.wrapping_add(1),
                    Slot::Used { generation, .. } => generation.wrapping_add(1),
                };
                self.slots[i as usize] = Slot::Used { generation, entry };
                (i, generation)
            }
            None => {
                self.slots.push(Slot::Used {
                    generation: 0,
                    entry,
                });
                ((self.slots.len() - 1) as u32, 0)
            }
        };
        if entry.counted {
            self.counted += 1;
            self.order.push_back((slot, generation));
        }
        (slot, generation)
    }

    /// Removes an entry; `None` for a stale or unknown ticket.
    pub(super) fn remove(&mut self, slot: u32, generation: u32) -> Option<Entry> {
        let s = self.slots.get_mut(slot as usize)?;
        match *s {
            Slot::Used {
                generation: g,
                entry,
            } if g == generation => {
                *s = Slot::Free { generation: g };
                self.free.push(slot);
                if entry.counted {
                    self.counted -= 1;
                }
                // Keep the order list from growing without bound behind a
                // long-lived head.
                if self.order.len() > 2 * self.counted + 64 {
                    let slots = &self.slots;
                    self.order.retain(|&(i, g)| live(slots, i, g));
                }
                Some(entry)
            }
            _ => None,
        }
    }

    /// The oldest counted entry, if any.
    pub(super) fn oldest(&mut self) -> Option<Entry> {
        while let Some(&(i, g)) = self.order.front() {
            match self.slots.get(i as usize) {
                Some(Slot::Used { generation, entry }) if *generation == g && entry.counted => {
                    return Some(*entry);
                }
                _ => {
                    self.order.pop_front();
                }
            }
        }
        None
    }

    /// Stops counting the oldest counted entry; returns it.
    pub(super) fn park_oldest(&mut self) -> Option<Entry> {
        self.oldest()?;
        let (i, _) = self.order.pop_front()?;
        match self.slots.get_mut(i as usize) {
            Some(Slot::Used { entry, .. }) => {
                entry.counted = false;
                self.counted -= 1;
                Some(*entry)
            }
            _ => None,
        }
    }
}

fn live(slots: &[Slot], i: u32, g: u32) -> bool {
    matches!(
        slots.get(i as usize),
        Some(Slot::Used { generation, entry }) if *generation == g && entry.counted
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ms, t0};

    fn entry(at: Instant) -> Entry {
        Entry {
            sent: at,
            class: 0,
            tenant: None,
            counted: true,
        }
    }

    #[test]
    fn stale_tickets_release_nothing_and_the_oldest_is_found() {
        let t = t0();
        let mut f = InFlight::default();
        let a = f.insert(entry(t));
        let b = f.insert(entry(t + ms(1)));
        assert_eq!(f.counted(), 2);
        assert!(f.remove(a.0, a.1).is_some());
        assert!(f.remove(a.0, a.1).is_none(), "already released");
        let c = f.insert(entry(t + ms(2)));
        assert_eq!(c.0, a.0, "the slot is reused");
        assert!(f.remove(a.0, a.1).is_none(), "a stale generation");
        assert_eq!(f.oldest().map(|e| e.sent), Some(t + ms(1)));
        let parked = f.park_oldest().expect("one");
        assert_eq!(parked.sent, t + ms(1));
        assert_eq!(f.counted(), 1);
        // A parked entry no longer counts when it is released.
        assert!(f.remove(b.0, b.1).is_some_and(|e| !e.counted));
        assert_eq!(f.counted(), 1);
    }

    #[test]
    fn the_order_list_stays_bounded_behind_a_long_lived_head() {
        let t = t0();
        let mut f = InFlight::default();
        let _head = f.insert(entry(t));
        for i in 0..10_000 {
            let k = f.insert(entry(t + ms(i)));
            f.remove(k.0, k.1);
        }
        assert!(f.order.len() < 200, "{}", f.order.len());
        assert_eq!(f.counted(), 1);
    }
}
