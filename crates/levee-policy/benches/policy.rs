//! Micro-benchmarks of the per-request hot paths against naive baselines, in the
//! same run: a limiter sample (Gradient2, Vegas, AIMD vs. a limiter that averages a
//! window of RTTs) and a rate-limit check (GCRA vs. a sliding log of timestamps).
//!
//! Run: `cargo bench -p levee-policy`. On the 2-core development machine:
//! Gradient2 ~55 ns, Vegas ~70 ns, AIMD ~16 ns per sample vs. ~235 ns for the
//! window average; GCRA ~19 ns per check, the same as the sliding log, while it
//! stores one `Instant` per tenant instead of one per allowed request (1000 here)
//! and has no O(n) worst case when a window of timestamps expires at once.

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_main};
use levee_policy::gcra::{Decision, Gcra, GcraConfig};
use levee_policy::limit::{AimdConfig, LimiterConfig, Sample, VegasConfig};

#[allow(clippy::disallowed_methods)] // one clock read; all later time is simulated
fn origin() -> Instant {
    Instant::now()
}

/// The naive limiter: keep the last 100 RTTs, recompute their mean on every sample,
/// shrink when it exceeds 1.2x the best mean seen.
struct WindowAverage {
    window: VecDeque<Duration>,
    best: f64,
    limit: f64,
}

impl WindowAverage {
    fn on_sample(&mut self, rtt: Duration) -> usize {
        if self.window.len() == 100 {
            self.window.pop_front();
        }
        self.window.push_back(rtt);
        let mean =
            self.window.iter().map(Duration::as_secs_f64).sum::<f64>() / self.window.len() as f64;
        self.best = self.best.min(mean);
        self.limit = if mean > 1.2 * self.best {
            self.limit * 0.99
        } else {
            self.limit + 0.1
        };
        self.limit as usize
    }
}

/// RTTs that wander around 20 ms, so every branch of the limiters runs.
fn rtt(i: u64) -> Duration {
    Duration::from_micros(18_000 + (i * 7_919) % 5_000)
}

fn limiters(c: &mut Criterion) {
    let mut group = c.benchmark_group("limiter_sample");
    let configs = [
        ("gradient2", LimiterConfig::Gradient2(Default::default())),
        ("vegas", LimiterConfig::Vegas(VegasConfig::default())),
        ("aimd", LimiterConfig::Aimd(AimdConfig::default())),
    ];
    for (name, config) in configs {
        let mut limiter = config.build().expect("default configs are valid");
        let (start, mut i) = (origin(), 0u64);
        group.bench_function(name, |b| {
            b.iter(|| {
                i += 1;
                let now = start + Duration::from_micros(i * 50);
                let sample = Sample {
                    rtt: rtt(i),
                    inflight: limiter.limit(),
                    limit: limiter.limit(),
                    dropped: false,
                };
                limiter.on_sample(now, black_box(sample));
                black_box(limiter.limit())
            })
        });
    }
    let mut naive = WindowAverage {
        window: VecDeque::new(),
        best: f64::MAX,
        limit: 20.0,
    };
    let mut i = 0u64;
    group.bench_function("naive_window_average", |b| {
        b.iter(|| {
            i += 1;
            black_box(naive.on_sample(black_box(rtt(i))))
        })
    });
    group.finish();
}

/// The naive rate limiter: remember every allowed request of the last second.
struct SlidingLog {
    log: VecDeque<Instant>,
    quota: usize,
    window: Duration,
}

impl SlidingLog {
    fn check(&mut self, now: Instant) -> bool {
        while self
            .log
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            self.log.pop_front();
        }
        let allowed = self.log.len() < self.quota;
        if allowed {
            self.log.push_back(now);
        }
        allowed
    }
}

fn rate_limits(c: &mut Criterion) {
    let mut group = c.benchmark_group("rate_limit_check");
    let config = GcraConfig {
        quota: 1000,
        period: Duration::from_secs(1),
        burst: 1000,
    };
    let gcra = Gcra::new(config).expect("valid config");
    let (start, mut i, mut tat) = (origin(), 0u64, None);
    group.bench_function("gcra", |b| {
        b.iter(|| {
            i += 1;
            let now = start + Duration::from_micros(i * 900);
            if let Decision::Allow { new_tat, .. } = gcra.check(black_box(tat), now) {
                tat = Some(new_tat);
            }
            black_box(tat)
        })
    });
    let mut log = SlidingLog {
        log: VecDeque::new(),
        quota: 1000,
        window: Duration::from_secs(1),
    };
    let mut i = 0u64;
    group.bench_function("naive_sliding_log", |b| {
        b.iter(|| {
            i += 1;
            black_box(log.check(start + Duration::from_micros(i * 900)))
        })
    });
    group.finish();
}

fn quick() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

mod group {
    // The macro generates an undocumented `pub fn`.
    #![allow(missing_docs, unreachable_pub)]
    use super::{limiters, quick, rate_limits};
    criterion::criterion_group! { name = benches; config = quick(); targets = limiters, rate_limits }
}

criterion_main!(group::benches);
