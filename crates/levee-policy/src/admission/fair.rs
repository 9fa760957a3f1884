//! Per-tenant load inside one route's admission state: who holds how many
//! slots, who waits, and what a fair share of the limit is.
//!
//! A tenant's entry exists only while it has requests in flight or queued;
//! it is removed at zero, so the map is as small as the set of tenants
//! competing right now. This module must not decide to shed or admit; it
//! only counts and compares (see the module doc of [`super`]).

use std::collections::HashMap;

use super::TenantKey;

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

    /// Requests in flight of a request's tenant; none for a request without one.
    pub(super) fn held(&self, t: Option<TenantKey>) -> usize {
        t.map_or(0, |t| self.in_flight(t))
    }

    /// Whether a newcomer of `t` would take more than its fair share of
    /// `limit`. A tenant's claim is what it holds plus what it has waiting;
    /// its share is its max-min fair share (see [`Tenants::share`]). A
    /// tenant alone is never over its share: fairness is between tenants,
    /// and the limit already bounds the route.
    pub(super) fn over_share(&self, t: TenantKey, limit: usize) -> bool {
        self.active_with(t) > 1 && self.claim(t) >= self.share(t, limit)
    }

    /// Active tenants, `t` counted.
    fn active_with(&self, t: TenantKey) -> usize {
        self.loads.len() + usize::from(!self.loads.contains_key(&t))
    }

    fn claim(&self, t: TenantKey) -> usize {
        self.loads.get(&t).map_or(0, |l| l.in_flight + l.queued)
    }

    /// `t`'s max-min fair share of `limit` (at least 1) when it claims at
    /// least an equal split; the equal split, a lower bound, when it claims
    /// less (all that [`Tenants::over_share`] needs). The share is the water
    /// level `x` of max-min fairness: the other tenants keep `min(claim, x)`
    /// each, `t` gets `x`, and `x` is the lowest level (not below the equal
    /// split) at which that reaches the limit. So it is at least `⌈limit /
    /// active tenants⌉`, and more when some tenants need less than that:
    /// three quiet tenants that each need one slot now and then leave the
    /// rest of the limit to share, and a quiet one that happens to burst
    /// above the equal split is not shed for it, while a noisy one is held to
    /// what the others leave. Found by bisection without allocating: O(active
    /// tenants · log limit) when `t` claims more than the equal split; O(1)
    /// otherwise.
    pub(super) fn share(&self, t: TenantKey, limit: usize) -> usize {
        let active = self.active_with(t);
        if active <= 1 {
            return limit.max(1);
        }
        let equal = limit.div_ceil(active).max(1);
        if self.claim(t) < equal {
            return equal; // within the equal split: no need to look further
        }
        // What the tenants take at level `x`; it grows with `x`, and reaches
        // the limit by `x = limit` at the latest.
        let taken = |x: usize| -> usize {
            self.loads
                .iter()
                .filter(|(k, _)| **k != t)
                .map(|(_, l)| (l.in_flight + l.queued).min(x))
                .sum::<usize>()
                + x
        };
        let (mut lo, mut hi) = (equal, limit.max(equal));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if taken(mid) >= limit {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        lo
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
        let load = tenants.held(t);
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

    /// Max-min: what the quiet tenants do not use is shared by the others, so
    /// a quiet tenant's burst above the equal split is not shed while the
    /// noisy tenant is still held to what the others leave.
    #[test]
    fn what_light_tenants_leave_is_shared_by_the_rest() {
        let mut t = Tenants::default();
        for _ in 0..9 {
            t.admitted(9); // the noisy tenant
        }
        t.admitted(1);
        t.admitted(2);
        for _ in 0..3 {
            t.admitted(3);
        }
        // Limit 12, four tenants: an equal split is 3. Tenants 1 and 2 need one
        // each, so 10 are left for 3 and 9: 5 each.
        assert_eq!(t.share(3, 12), 5);
        assert!(!t.over_share(3, 12), "a quiet tenant's burst of 4");
        assert_eq!(t.share(9, 12), 7, "12 less the 1 + 1 + 3 the others claim");
        assert!(t.over_share(9, 12));
        // Within the equal split, the answer needs no sorting.
        assert_eq!(t.share(1, 12), 3);
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

        /// Max-min shares: never less than the equal split; exactly the equal
        /// split when every other tenant claims at least that much; and when
        /// every tenant claims up to its share, the claims fit in the limit
        /// (up to the rounding of the split).
        #[test]
        fn max_min_shares(
            limit in 1usize..200,
            claims in proptest::collection::vec(0usize..60, 2..20),
        ) {
            let mut t = Tenants::default();
            for (k, n) in claims.iter().enumerate() {
                for _ in 0..*n { t.admitted(k as u64); }
            }
            let active = claims.iter().filter(|c| **c > 0).count();
            for (k, claim) in claims.iter().enumerate() {
                let k = k as u64;
                let n = active + usize::from(*claim == 0);
                let equal = limit.div_ceil(n).max(1);
                let share = t.share(k, limit);
                if n <= 1 {
                    prop_assert_eq!(share, limit.max(1));
                    continue;
                }
                prop_assert!(share >= equal);
                let others_heavy = claims
                    .iter()
                    .enumerate()
                    .all(|(j, c)| j as u64 == k || *c == 0 || *c >= equal);
                if others_heavy {
                    prop_assert_eq!(share, equal);
                }
                // The share is the water level x of max-min fairness, rounded up:
                // the others take min(claim, x) each, this tenant x, and together
                // they reach the limit at x but not at x - 1.
                let taken = |x: usize| -> usize {
                    claims
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j as u64 != k)
                        .map(|(_, c)| (*c).min(x))
                        .sum::<usize>()
                        + x
                };
                // (Below the equal split the answer is the equal split, a lower
                // bound that is all `over_share` needs.)
                if *claim >= equal {
                    prop_assert!(taken(share) >= limit);
                    prop_assert!(share == equal || taken(share - 1) < limit);
                }
            }
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
