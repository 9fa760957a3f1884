//! The worker slots of the sample upstream: a FIFO semaphore that can grow or
//! shrink while requests hold it.
//!
//! This file only counts slots; it knows nothing of HTTP.

use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// N worker slots. A request holds one for its whole service time; the rest
/// wait in arrival order (tokio's semaphore is fair), like connections in a
/// thread-pool server's backlog.
#[derive(Debug)]
pub(crate) struct Workers {
    slots: Arc<Semaphore>,
    /// The number of slots wanted; changes are applied to `slots`.
    target: Mutex<usize>,
}

impl Workers {
    /// `n` slots, all free.
    pub(crate) fn new(n: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(n)),
            target: Mutex::new(n),
        }
    }

    /// Waits for a free slot, in arrival order. `None` once closed.
    pub(crate) async fn acquire(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.slots).acquire_owned().await.ok()
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

    #[tokio::test]
    async fn close_fails_acquire() {
        let workers = Workers::new(1);
        workers.close();
        assert!(workers.acquire().await.is_none());
    }
}
