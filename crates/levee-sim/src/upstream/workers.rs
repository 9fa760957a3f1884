//! The worker slots of the sample upstream: a FIFO semaphore that can grow or
//! shrink while requests hold it.
//!
//! Each slot also keeps its own clock, so that N workers × S really serve
//! N / S requests a second. A timer wakes late (tokio's by up to a
//! millisecond, its tick); a worker that started its next request only when
//! it woke would lose that lateness on every request (8 × 20 ms would serve
//! ~380 a second, not 400). So a request that was waiting when its slot freed
//! starts its service at the moment the slot was due to free, not when the
//! previous holder's timer fired: its answer is as late as its own timer,
//! but the lateness does not accumulate into lost capacity.
//!
//! This file only counts slots; it knows nothing of HTTP.

use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// N worker slots. A request holds one for its whole service time; the rest
/// wait in arrival order (tokio's semaphore is fair), like connections in a
/// thread-pool server's backlog.
#[derive(Debug)]
pub(crate) struct Workers {
    slots: Arc<Semaphore>,
    /// The number of slots wanted; changes are applied to `slots`.
    target: Mutex<usize>,
    /// When released slots were due to free, most recent last.
    free_at: Mutex<Vec<Instant>>,
}

/// One held worker slot.
#[derive(Debug)]
pub(crate) struct Slot {
    permit: OwnedSemaphorePermit,
    /// When this request's service starts, by the slot's clock.
    pub(crate) start: Instant,
}

impl Workers {
    /// `n` slots, all free.
    pub(crate) fn new(n: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(n)),
            target: Mutex::new(n),
            free_at: Mutex::new(Vec::with_capacity(n)),
        }
    }

    /// Waits for a free slot, in arrival order. `None` once closed. The
    /// service starts when the slot was due to free, or when this request
    /// arrived if the slot was already free then.
    pub(crate) async fn acquire(&self) -> Option<Slot> {
        let arrived = Instant::now();
        let permit = Arc::clone(&self.slots).acquire_owned().await.ok()?;
        let due = self.clocks().pop();
        let start = due
            .map_or(arrived, |due| due.max(arrived))
            .min(Instant::now());
        Some(Slot { permit, start })
    }

    /// Frees `slot`, which was due to free at `finish`.
    pub(crate) fn release(&self, slot: Slot, finish: Instant) {
        {
            let mut clocks = self.clocks();
            clocks.push(finish);
            // Slots retired by a shrink leave their clocks behind: keep the newest.
            let excess = clocks.len().saturating_sub(self.count());
            clocks.drain(..excess);
        }
        drop(slot.permit);
    }

    fn clocks(&self) -> std::sync::MutexGuard<'_, Vec<Instant>> {
        // Pushes and pops cannot leave the list half-updated.
        self.free_at.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The number of slots wanted now.
    pub(crate) fn count(&self) -> usize {
        *self
            .target
            .lock()
            .expect("workers lock is never poisoned: no panics under it")
    }

    /// Changes the number of slots to `n` (at least 1). Growing frees slots at
    /// once; shrinking takes slots away as their holders release them.
    pub(crate) fn resize(&self, n: usize) {
        let n = n.max(1);
        let mut target = self
            .target
            .lock()
            .expect("workers lock is never poisoned: no panics under it");
        if n > *target {
            self.slots.add_permits(n - *target);
        } else if n < *target {
            let remove = u32::try_from(*target - n).expect("worker counts fit in u32");
            let slots = Arc::clone(&self.slots);
            // Waits behind the queue like any request would, then retires the slots.
            tokio::spawn(async move {
                if let Ok(permits) = slots.acquire_many_owned(remove).await {
                    permits.forget();
                }
            });
        }
        *target = n;
    }

    /// Fails every waiting and future `acquire`: the server is going away.
    pub(crate) fn close(&self) {
        self.slots.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shrinking_waits_for_holders_then_retires_slots() {
        let workers = Workers::new(2);
        let a = workers.acquire().await.expect("open");
        let b = workers.acquire().await.expect("open");
        workers.resize(1);
        assert_eq!(workers.count(), 1);
        drop(a);
        drop(b);
        tokio::task::yield_now().await;
        let c = workers.acquire().await.expect("open");
        assert_eq!(
            workers.slots.available_permits(),
            0,
            "one slot left, held by c"
        );
        drop(c);
    }

    #[tokio::test]
    async fn growing_frees_slots_at_once() {
        let workers = Workers::new(1);
        let _a = workers.acquire().await.expect("open");
        workers.resize(3);
        let _b = workers.acquire().await.expect("open");
        let _c = workers.acquire().await.expect("open");
        assert_eq!(workers.count(), 3);
    }

    /// Back-to-back requests on one slot start exactly one service time apart,
    /// however late each timer fires: the slot's clock, not the wake-up, sets
    /// the pace, so the capacity is exactly workers ÷ service time.
    #[tokio::test]
    async fn a_busy_slot_serves_back_to_back_by_its_own_clock() {
        let workers = Arc::new(Workers::new(1));
        let service = std::time::Duration::from_millis(3);
        let tasks: Vec<_> = (0..5)
            .map(|_| {
                let workers = Arc::clone(&workers);
                tokio::spawn(async move {
                    let slot = workers.acquire().await.expect("open");
                    let (start, finish) = (slot.start, slot.start + service);
                    tokio::time::sleep_until(finish).await;
                    workers.release(slot, finish);
                    start
                })
            })
            .collect();
        let mut starts = Vec::new();
        for t in tasks {
            starts.push(t.await.expect("task"));
        }
        starts.sort();
        for pair in starts.windows(2) {
            assert_eq!(pair[1] - pair[0], service, "{starts:?}");
        }
    }

    #[tokio::test]
    async fn close_fails_acquire() {
        let workers = Workers::new(1);
        workers.close();
        assert!(workers.acquire().await.is_none());
    }
}
