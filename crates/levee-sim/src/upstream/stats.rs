//! What the sample upstream counts: the live counters and their snapshot.
//!
//! Counters are relaxed atomics: they are read for reports, never to decide.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::Serialize;

/// A snapshot of what a sample upstream has seen and served since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UpstreamStats {
    /// Connections accepted.
    pub connections: u64,
    /// Requests received (whatever became of them).
    pub received: u64,
    /// Requests answered `200` after holding a worker for the service time.
    pub served: u64,
    /// Requests answered `503` by [`crate::upstream::Fault::Unavailable`].
    pub unavailable: u64,
    /// Responses cut by [`crate::upstream::Fault::Reset`].
    pub reset: u64,
    /// Requests that held a worker whose client was gone when they finished.
    pub abandoned: u64,
    /// Requests holding a worker now (unlimited mode: waiting for their
    /// answer's time to come).
    pub in_flight: u64,
    /// The most requests ever in flight at once.
    pub peak_in_flight: u64,
    /// Requests waiting for a worker now.
    pub waiting: u64,
    /// The most requests ever waiting for a worker at once.
    pub peak_waiting: u64,
}

/// The live counters behind [`UpstreamStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) connections: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) served: AtomicU64,
    pub(crate) unavailable: AtomicU64,
    pub(crate) reset: AtomicU64,
    pub(crate) abandoned: AtomicU64,
    pub(crate) in_flight: AtomicU64,
    pub(crate) peak_in_flight: AtomicU64,
    pub(crate) waiting: AtomicU64,
    pub(crate) peak_waiting: AtomicU64,
}

impl Counters {
    /// Counts one more request waiting for a worker.
    pub(crate) fn start_waiting(&self) {
        let now = self.waiting.fetch_add(1, Relaxed) + 1;
        self.peak_waiting.fetch_max(now, Relaxed);
    }

    /// Moves one request from waiting to holding a worker.
    pub(crate) fn start_work(&self) {
        self.waiting.fetch_sub(1, Relaxed);
        self.count_in();
    }

    /// Counts one more request in flight until the guard is dropped
    /// (unlimited mode, where nothing waits for a worker).
    pub(crate) fn enter(&self) -> InFlight<'_> {
        self.count_in();
        InFlight(self)
    }

    fn count_in(&self) {
        let now = self.in_flight.fetch_add(1, Relaxed) + 1;
        self.peak_in_flight.fetch_max(now, Relaxed);
    }

    /// Reads every counter.
    pub(crate) fn snapshot(&self) -> UpstreamStats {
        UpstreamStats {
            connections: self.connections.load(Relaxed),
            received: self.received.load(Relaxed),
            served: self.served.load(Relaxed),
            unavailable: self.unavailable.load(Relaxed),
            reset: self.reset.load(Relaxed),
            abandoned: self.abandoned.load(Relaxed),
            in_flight: self.in_flight.load(Relaxed),
            peak_in_flight: self.peak_in_flight.load(Relaxed),
            waiting: self.waiting.load(Relaxed),
            peak_waiting: self.peak_waiting.load(Relaxed),
        }
    }
}

/// One request in flight; counted out on drop.
#[derive(Debug)]
pub(crate) struct InFlight<'a>(&'a Counters);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_waiting_remembers_the_high_water_mark() {
        let counters = Counters::default();
        counters.start_waiting();
        counters.start_waiting();
        counters.start_work();
        counters.start_work();
        counters.start_waiting();
        let stats = counters.snapshot();
        assert_eq!(
            (stats.waiting, stats.in_flight, stats.peak_waiting),
            (1, 2, 2)
        );
        let guard = counters.enter();
        assert_eq!(counters.snapshot().peak_in_flight, 3);
        drop(guard);
        assert_eq!(counters.snapshot().in_flight, 2);
    }
}
