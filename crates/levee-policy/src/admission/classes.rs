//! Request classes and their latency baselines: compare like with like.
//!
//! A route serves many kinds of request: a 3 ms lookup and an 800 ms report,
//! a long-poll and a health check. Judged against one baseline, the slow ones
//! look like congestion and the fast ones hide it. So each answer is judged
//! against the recent latencies of its own *class* (the gateway's choice of
//! key: method and normalised path), as two numbers:
//!
//! - the **ratio** of its latency to the class's median, and
//! - its **rank** among the class's recent latencies, from 0 (faster than
//!   all) to 1 (slower than all).
//!
//! The rank is robust where the ratio is not: a class that is a mix (cache
//! hits at 2 ms and misses at 50 ms) gives ranks spread evenly over [0, 1]
//! while nothing changes, and ranks near 1 when every request got slower.
//!
//! A baseline is the last [`RING`] latencies the caller chose to teach it
//! (answers not taken under congestion, see the module doc of [`super`]); it
//! says nothing until it holds [`MIN_BASELINE`]. The number of classes is
//! bounded; the rest share the class "other".
//!
//! This module must not decide anything; it only remembers and compares.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::limit::median_of;

/// A request class within one route.
pub type ClassId = u16;

/// The class of every request beyond the table's bound.
pub const OTHER: ClassId = 0;

/// Latencies kept per class.
pub(super) const RING: usize = 32;

/// Latencies a class needs before its answers are judged.
pub(super) const MIN_BASELINE: usize = 4;

#[derive(Debug, Clone)]
struct Class {
    name: Arc<str>,
    ring: [f32; RING],
    len: usize,
    pos: usize,
    median: f32,
    answers: u64,
}

impl Class {
    fn new(name: Arc<str>) -> Self {
        Self {
            name,
            ring: [0.0; RING],
            len: 0,
            pos: 0,
            median: 0.0,
            answers: 0,
        }
    }
}

/// What the class table shows of one class (admin API, metrics).
#[derive(Debug, Clone, PartialEq)]
pub struct ClassView {
    /// The class's name, e.g. `GET /users/{id}`.
    pub name: Arc<str>,
    /// Its typical latency (to the response head), once known.
    pub baseline: Option<Duration>,
    /// Answers seen of this class.
    pub answers: u64,
}

/// The classes of one route.
#[derive(Debug, Clone)]
pub(super) struct Classes {
    by_key: HashMap<u64, ClassId>,
    classes: Vec<Class>,
    max: usize,
}

impl Classes {
    /// A table of at most `max` named classes plus "other".
    pub(super) fn new(max: usize) -> Self {
        Self {
            by_key: HashMap::new(),
            classes: vec![Class::new(Arc::from("other"))],
            max: max.min(usize::from(ClassId::MAX)),
        }
    }

    /// The class of `key`, registered under `name()` if it is new and the
    /// table has room; [`OTHER`] otherwise.
    pub(super) fn id(&mut self, key: u64, name: impl FnOnce() -> String) -> ClassId {
        if let Some(id) = self.by_key.get(&key) {
            return *id;
        }
        if self.classes.len() > self.max {
            return OTHER;
        }
        let id = self.classes.len() as ClassId;
        self.classes.push(Class::new(Arc::from(name())));
        self.by_key.insert(key, id);
        id
    }

    /// `rtt` judged against its class: `(ratio to the median, rank)`, or
    /// `None` while the class has fewer than [`MIN_BASELINE`] latencies.
    pub(super) fn judge(&self, class: ClassId, rtt: Duration) -> Option<(f64, f64)> {
        let c = self.classes.get(usize::from(class))?;
        if c.len < MIN_BASELINE || c.median <= 0.0 {
            return None;
        }
        let x = rtt.as_secs_f32();
        let (mut below, mut equal) = (0u32, 0u32);
        for &v in &c.ring[..c.len] {
            below += u32::from(v < x);
            equal += u32::from(v == x);
        }
        let rank = (f64::from(below) + f64::from(equal) / 2.0) / c.len as f64;
        Some((f64::from(x / c.median), rank))
    }

    /// Whether `class` has too few latencies to judge by.
    pub(super) fn young(&self, class: ClassId) -> bool {
        self.classes
            .get(usize::from(class))
            .is_none_or(|c| c.len < MIN_BASELINE)
    }

    /// Counts an answer of `class`; with `teach`, its latency joins the baseline.
    pub(super) fn learn(&mut self, class: ClassId, rtt: Duration, teach: bool) {
        let Some(c) = self.classes.get_mut(usize::from(class)) else {
            return;
        };
        c.answers += 1;
        if !teach {
            return;
        }
        c.ring[c.pos] = rtt.as_secs_f32();
        c.pos = (c.pos + 1) % RING;
        c.len = (c.len + 1).min(RING);
        let mut v = c.ring;
        c.median = median_of(&mut v[..c.len]);
    }

    /// Multiplies every baseline by `factor`: latency changed at every
    /// concurrency (see `Signal::Rebase`).
    pub(super) fn scale(&mut self, factor: f64) {
        let f = factor as f32;
        if !(f.is_finite() && f > 0.0) {
            return;
        }
        for c in &mut self.classes {
            for v in &mut c.ring[..c.len] {
                *v *= f;
            }
            c.median *= f;
        }
    }

    /// The classes seen, "other" first.
    pub(super) fn views(&self) -> impl Iterator<Item = ClassView> + '_ {
        self.classes.iter().map(|c| ClassView {
            name: c.name.clone(),
            baseline: (c.len >= MIN_BASELINE)
                .then(|| Duration::try_from_secs_f32(c.median).ok())
                .flatten(),
            answers: c.answers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::ms;

    fn teach(t: &mut Classes, c: ClassId, rtts: &[u64]) {
        for r in rtts {
            t.learn(c, ms(*r), true);
        }
    }

    #[test]
    fn each_class_is_judged_against_its_own_latencies() {
        let mut t = Classes::new(8);
        let fast = t.id(1, || "GET /a".into());
        let slow = t.id(2, || "GET /report".into());
        assert_eq!(t.id(1, || unreachable!("known")), fast);
        teach(&mut t, fast, &[3, 3, 4, 3]);
        teach(&mut t, slow, &[800, 790, 810, 805]);
        let (ratio, rank) = t.judge(slow, ms(800)).expect("warm");
        assert!((ratio - 1.0).abs() < 0.02 && (0.2..0.8).contains(&rank));
        let (ratio, rank) = t.judge(fast, ms(30)).expect("warm");
        assert!(ratio > 9.0 && rank == 1.0, "{ratio} {rank}");
    }

    #[test]
    fn a_class_says_nothing_until_it_has_a_baseline() {
        let mut t = Classes::new(8);
        let c = t.id(7, || "GET /x".into());
        teach(&mut t, c, &[5, 5, 5]);
        assert_eq!(t.judge(c, ms(5)), None);
        teach(&mut t, c, &[5]);
        assert!(t.judge(c, ms(5)).is_some());
    }

    #[test]
    fn a_mixed_class_ranks_evenly_and_a_shift_ranks_high() {
        let mut t = Classes::new(8);
        let c = t.id(1, || "GET /cache".into());
        let mix: Vec<u64> = (0..32).map(|i| if i % 2 == 0 { 2 } else { 50 }).collect();
        teach(&mut t, c, &mix);
        let ranks: Vec<f64> = [2u64, 50, 2, 50]
            .iter()
            .map(|r| t.judge(c, ms(*r)).expect("warm").1)
            .collect();
        let mean = ranks.iter().sum::<f64>() / 4.0;
        assert!((mean - 0.5).abs() < 0.01, "{ranks:?}");
        assert_eq!(t.judge(c, ms(60)).expect("warm").1, 1.0);
    }

    #[test]
    fn the_table_is_bounded_and_scales() {
        let mut t = Classes::new(2);
        assert_ne!(t.id(1, || "a".into()), OTHER);
        assert_ne!(t.id(2, || "b".into()), OTHER);
        assert_eq!(t.id(3, || "c".into()), OTHER);
        assert_eq!(t.views().count(), 3);
        teach(&mut t, 1, &[10, 10, 10, 10]);
        t.scale(2.0);
        let (ratio, _) = t.judge(1, ms(20)).expect("warm");
        assert!((ratio - 1.0).abs() < 1e-3);
    }
}
