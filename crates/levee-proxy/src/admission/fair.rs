//! Per-tenant load inside one route's admission state: who holds how many
//! slots, who waits, and what a fair share of the limit is.
//!
//! A tenant's entry exists only while it has requests in flight or queued;
//! it is removed at zero, so the map is as small as the set of tenants
//! competing right now. This module must not decide to shed or admit; it
//! only counts and compares (see the module doc of [`super`]).

use std::collections::HashMap;

use crate::tenant::TenantKey;

#[derive(Debug, Default, Clone, Copy)]
struct Load {
    in_flight: usize,
    queued: usize,
}

/// The load of each active tenant.
#[derive(Debug, Default)]
pub(super) struct Tenants {
    loads: HashMap<TenantKey, Load>,
}

impl Tenants {
    fn update(&mut self, t: TenantKey, f: impl FnOnce(&mut Load)) {
        let load = self.loads.entry(t).or_default();
        f(load);
        if load.in_flight == 0 && load.queued == 0 {
            self.loads.remove(&t);
        }
    }

    /// `t` got a slot without waiting.
    pub(super) fn admitted(&mut self, t: TenantKey) {
        self.update(t, |l| l.in_flight += 1);
    }

    /// `t` joined the queue.
    pub(super) fn queued(&mut self, t: TenantKey) {
        self.update(t, |l| l.queued += 1);
    }

    /// `t` left the queue, with a slot (`granted`) or without.
    pub(super) fn dequeued(&mut self, t: TenantKey, granted: bool) {
        self.update(t, |l| {
            l.queued = l.queued.saturating_sub(1);
            l.in_flight += usize::from(granted);
        });
    }

    /// `t` released a slot.
    pub(super) fn released(&mut self, t: TenantKey) {
        self.update(t, |l| l.in_flight = l.in_flight.saturating_sub(1));
    }

    /// Requests `t` has in flight.
    pub(super) fn in_flight(&self, t: TenantKey) -> usize {
        self.loads.get(&t).map_or(0, |l| l.in_flight)
    }

    /// Whether a newcomer of `t` would take more than its fair share of
    /// `limit`: the share is `⌈limit / active tenants⌉` (the newcomer's
    /// tenant counted), and a tenant's claim is what it holds plus what it
    /// has waiting. A tenant alone is never over its share: fairness is
    /// between tenants, and the limit already bounds the route.
    pub(super) fn over_share(&self, t: TenantKey, limit: usize) -> bool {
        let mine = self.loads.get(&t).copied().unwrap_or_default();
        let active = self.loads.len() + usize::from(!self.loads.contains_key(&t));
        if active <= 1 {
            return false;
        }
        let share = limit.div_ceil(active).max(1);
        mine.in_flight + mine.queued >= share
    }

    /// Tenants with requests in flight or queued.
    #[cfg(test)]
    pub(super) fn active(&self) -> usize {
        self.loads.len()
    }
}

/// Among candidates in service order, the index of the one whose tenant has
/// the fewest requests in flight; the earliest wins a tie, so with a single
/// tenant (or none) the order is unchanged.
pub(super) fn least_loaded<I>(candidates: I, tenants: &Tenants) -> Option<usize>
where
    I: IntoIterator<Item = Option<TenantKey>>,
{
    let mut best: Option<(usize, usize)> = None;
    for (i, t) in candidates.into_iter().enumerate() {
        let load = t.map_or(0, |t| tenants.in_flight(t));
        if best.is_none_or(|(_, b)| load < b) {
            best = Some((i, load));
            if load == 0 {
                break; // nobody has fewer than nothing
            }
        }
    }
    best.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn entries_exist_only_while_active() {
        let mut t = Tenants::default();
        t.admitted(1);
        t.queued(1);
        t.dequeued(1, true);
        assert_eq!((t.in_flight(1), t.active()), (2, 1));
        t.released(1);
        t.released(1);
        assert_eq!(t.active(), 0);
        t.queued(2);
        t.dequeued(2, false);
        assert_eq!(t.active(), 0);
    }

    #[test]
    fn the_share_is_the_limit_over_the_active_tenants() {
        let mut t = Tenants::default();
        for _ in 0..4 {
            t.admitted(1);
        }
        // Alone, a tenant may take the whole limit.
        assert!(!t.over_share(1, 4));
        // A second tenant waits: each is owed 2, and 1 holds 4.
        t.queued(2);
        assert!(t.over_share(1, 4));
        assert!(!t.over_share(2, 4));
        t.queued(2);
        assert!(
            t.over_share(2, 4),
            "queued requests count against the share"
        );
        // Limit 3 among 2 tenants: ⌈3/2⌉ = 2 each, so the limit is usable.
        let mut t = Tenants::default();
        t.admitted(1);
        t.admitted(2);
        assert!(!t.over_share(1, 3));
    }

    #[test]
    fn the_least_loaded_tenant_is_served_first() {
        let mut t = Tenants::default();
        for _ in 0..3 {
            t.admitted(1);
        }
        t.admitted(2);
        assert_eq!(least_loaded([Some(1), Some(2), Some(1)], &t), Some(1));
        assert_eq!(least_loaded([Some(1), Some(3), Some(2)], &t), Some(1));
        assert_eq!(least_loaded([None, None], &t), Some(0));
        assert_eq!(least_loaded(std::iter::empty(), &t), None);
    }

    proptest! {
        /// No tenant holds more in flight than the least loaded queued one
        /// would after the grant: the chosen one has the minimum load.
        #[test]
        fn the_choice_has_the_minimum_load(
            loads in proptest::collection::vec(0usize..6, 1..8),
            queue in proptest::collection::vec(0u64..8, 1..16),
        ) {
            let mut t = Tenants::default();
            for (k, n) in loads.iter().enumerate() {
                for _ in 0..*n { t.admitted(k as u64); }
            }
            let cands: Vec<Option<u64>> = queue.iter().map(|k| Some(*k)).collect();
            let i = least_loaded(cands.clone(), &t).expect("non-empty");
            let min = queue.iter().map(|k| t.in_flight(*k)).min().expect("non-empty");
            prop_assert_eq!(t.in_flight(queue[i]), min);
            // The earliest of the minimum-load candidates.
            prop_assert!(queue[..i].iter().all(|k| t.in_flight(*k) > min));
        }

        /// The shares of all active tenants cover the limit (no capacity
        /// is left unusable) and a tenant alone is never over its share.
        #[test]
        fn shares_cover_the_limit(limit in 1usize..200, tenants in 1usize..50) {
            let mut t = Tenants::default();
            for k in 0..tenants { t.admitted(k as u64); }
            let share = limit.div_ceil(tenants).max(1);
            prop_assert!(share * tenants >= limit);
            let mut alone = Tenants::default();
            for _ in 0..limit { alone.admitted(0); }
            prop_assert!(!alone.over_share(0, limit));
        }
    }
}
