//! Is the gateway's wait queue congested? CoDel's answer, for adaptive LIFO.
//!
//! This module owns one decision: whether the queue in front of an upstream holds a
//! *standing* queue (bad: everyone waits, nobody benefits) rather than a *burst*
//! (good: the queue absorbs it and empties). It does not hold the queue, time out
//! requests or choose FIFO/LIFO itself; the gateway does, and tells it when it takes
//! a request off the queue and when the queue runs empty.
//!
//! # The idea
//!
//! Kathleen Nichols and Van Jacobson's CoDel judges a queue by the *minimum* time
//! its items waited (their sojourn time) over an interval: a burst leaves the queue
//! within an interval, so some item waits little; a standing queue never does.
//! Facebook's "Fail at Scale" (Ben Maurer, 2015) applies it to request queues:
//!
//! - while congested, serve the queue **LIFO**: the newest requests, whose clients
//!   are still waiting, go first; the oldest, probably abandoned, wait and time out;
//! - bound the wait by [`Codel::queue_timeout`]: `target` when congested (a standing
//!   queue only adds latency), `interval` otherwise (let a burst drain).
//!
//! Congested here means: every request dequeued since some moment at least
//! `interval` ago waited `target` or more, and the queue has not been empty since.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use levee_policy::codel::{Codel, CodelConfig};
//!
//! # #[allow(clippy::disallowed_methods)] let t = Instant::now();
//! let ms = Duration::from_millis;
//! let mut codel = Codel::new(CodelConfig::default())?; // 5 ms target, 100 ms interval
//! codel.on_dequeue(t, ms(8));
//! assert!(!codel.is_congested(t + ms(50))); // above target, but not for an interval yet
//! codel.on_dequeue(t + ms(100), ms(9));
//! assert!(codel.is_congested(t + ms(100))); // a standing queue: switch to LIFO
//! codel.on_dequeue(t + ms(120), ms(1));
//! assert!(!codel.is_congested(t + ms(120))); // someone barely waited: it drained
//! # Ok::<(), levee_policy::ConfigError>(())
//! ```

use std::time::{Duration, Instant};

use crate::ConfigError;
use crate::error::check_nonzero;

/// CoDel's two parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodelConfig {
    /// Waiting this long or more is "above target". Default 5 ms (CoDel's and
    /// Facebook's): a wait a user cannot notice.
    pub target: Duration,
    /// How long waits must stay above target to be a standing queue. Greater than
    /// `target`. Default 100 ms (CoDel's and Facebook's): longer than a burst takes
    /// to drain, shorter than a person's patience.
    pub interval: Duration,
}

impl Default for CodelConfig {
    fn default() -> Self {
        Self {
            target: Duration::from_millis(5),
            interval: Duration::from_millis(100),
        }
    }
}

impl CodelConfig {
    /// Checks `0 < target < interval`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_nonzero("target", self.target)?;
        if self.interval <= self.target {
            return Err(ConfigError::new(
                "interval",
                self.interval,
                "must be greater than target",
            ));
        }
        Ok(())
    }
}

/// The congestion detector for one queue. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Codel {
    config: CodelConfig,
    /// When the current run of above-target waits began; `None` if the last dequeue
    /// was below target or the queue has been empty since.
    above_since: Option<Instant>,
}

impl Codel {
    /// A detector for an empty, uncongested queue.
    pub fn new(config: CodelConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            config,
            above_since: None,
        })
    }

    /// Records that a request left the queue at `now` after waiting `sojourn`.
    pub fn on_dequeue(&mut self, now: Instant, sojourn: Duration) {
        if sojourn < self.config.target {
            self.above_since = None;
        } else if self.above_since.is_none() {
            self.above_since = Some(now);
        }
    }

    /// Records that the queue is empty at `now`: whatever was queued has drained.
    pub fn on_empty(&mut self, _now: Instant) {
        self.above_since = None;
    }

    /// Whether the queue holds a standing queue at `now`: serve LIFO.
    pub fn is_congested(&self, now: Instant) -> bool {
        self.above_since
            .is_some_and(|since| now.saturating_duration_since(since) >= self.config.interval)
    }

    /// The longest a request should wait in the queue if it is enqueued at `now`:
    /// `target` while congested, `interval` otherwise.
    pub fn queue_timeout(&self, now: Instant) -> Duration {
        if self.is_congested(now) {
            self.config.target
        } else {
            self.config.interval
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ms, t0};
    use proptest::prelude::*;

    fn codel() -> Codel {
        Codel::new(CodelConfig::default()).expect("valid")
    }

    #[test]
    fn a_burst_that_drains_within_the_interval_is_not_congestion() {
        let mut c = codel();
        let t = t0();
        for i in 0..9 {
            c.on_dequeue(t + ms(i * 10), ms(50 - i * 5));
        }
        c.on_dequeue(t + ms(90), ms(2));
        assert!(!c.is_congested(t + ms(150)));
        assert_eq!(c.queue_timeout(t + ms(150)), ms(100));
    }

    #[test]
    fn a_standing_queue_is_congestion_until_it_empties() {
        let mut c = codel();
        let t = t0();
        c.on_dequeue(t, ms(20));
        c.on_dequeue(t + ms(60), ms(20));
        assert!(!c.is_congested(t + ms(99)));
        assert!(
            c.is_congested(t + ms(100)),
            "no dequeue needed: time alone tells"
        );
        assert_eq!(c.queue_timeout(t + ms(100)), ms(5));
        c.on_empty(t + ms(130));
        assert!(!c.is_congested(t + ms(130)));
    }

    #[test]
    fn exactly_target_counts_as_above() {
        let mut c = codel();
        let t = t0();
        c.on_dequeue(t, ms(5));
        assert!(c.is_congested(t + ms(100)));
    }

    #[test]
    fn rejects_interval_not_above_target() {
        let bad = CodelConfig {
            target: ms(100),
            interval: ms(100),
        };
        assert!(Codel::new(bad).is_err());
        assert!(
            Codel::new(CodelConfig {
                target: ms(0),
                interval: ms(100)
            })
            .is_err()
        );
    }

    #[derive(Debug, Clone, Copy)]
    enum Event {
        Dequeue { gap_ms: u64, sojourn_ms: u64 },
        Empty { gap_ms: u64 },
    }

    fn any_event() -> impl Strategy<Value = Event> {
        prop_oneof![
            8 => (0u64..60, 0u64..15).prop_map(|(gap_ms, sojourn_ms)| Event::Dequeue { gap_ms, sojourn_ms }),
            1 => (0u64..60).prop_map(|gap_ms| Event::Empty { gap_ms }),
        ]
    }

    proptest! {
        /// Against a naive model that keeps the whole history: congested at `now`
        /// exactly when some dequeue at least an interval ago starts a run of
        /// above-target dequeues, uninterrupted by an empty queue, up to now.
        #[test]
        fn matches_the_definition(events in proptest::collection::vec(any_event(), 1..200), probe in 0u64..200) {
            let mut c = codel();
            let start = t0();
            let mut at = 0u64;
            // (time, above target?) per dequeue; an empty queue is a "below" mark.
            let mut history: Vec<(u64, bool)> = Vec::new();
            for e in events {
                match e {
                    Event::Dequeue { gap_ms, sojourn_ms } => {
                        at += gap_ms;
                        c.on_dequeue(start + ms(at), ms(sojourn_ms));
                        history.push((at, sojourn_ms >= 5));
                    }
                    Event::Empty { gap_ms } => {
                        at += gap_ms;
                        c.on_empty(start + ms(at));
                        history.push((at, false));
                    }
                }
                let now = at + probe;
                let run_start = history.iter().rev().take_while(|(_, above)| *above).last().map(|(t, _)| *t);
                let expected = run_start.is_some_and(|t| now - t >= 100);
                prop_assert_eq!(c.is_congested(start + ms(now)), expected);
            }
        }
    }
}
