//! Properties every limiter keeps, and closed-loop convergence (see `sim.rs`).

use std::time::Duration;

use proptest::prelude::*;

use super::sim::{self, Change, Upstream};
use super::*;
use crate::testing::{ms, t0};

fn all(bounds: Bounds) -> Vec<Box<dyn Limiter>> {
    [
        LimiterConfig::Aimd(AimdConfig {
            bounds,
            ..Default::default()
        }),
        LimiterConfig::Gradient2(Gradient2Config {
            bounds,
            ..Default::default()
        }),
        LimiterConfig::Vegas(VegasConfig {
            bounds,
            ..Default::default()
        }),
    ]
    .iter()
    .map(|c| c.build().expect("valid test config"))
    .collect()
}

fn any_sample() -> impl Strategy<Value = (u64, Sample)> {
    (
        0u64..2_000,
        0u64..5_000_000,
        0usize..3_000,
        0usize..3_000,
        proptest::bool::weighted(0.1),
    )
        .prop_map(|(gap_ms, rtt_us, inflight, limit, dropped)| {
            (
                gap_ms,
                Sample {
                    rtt: Duration::from_micros(rtt_us),
                    inflight,
                    limit,
                    dropped,
                },
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Whatever samples arrive, in whatever order, the limit stays within bounds.
    #[test]
    fn limits_stay_within_bounds(
        min in 1usize..20,
        extra in 0usize..200,
        samples in proptest::collection::vec(any_sample(), 1..400),
    ) {
        let bounds = Bounds { min, initial: min + extra / 2, max: min + extra };
        for mut limiter in all(bounds) {
            let mut now = t0();
            for (gap, sample) in &samples {
                now += ms(*gap);
                limiter.on_sample(now, *sample);
                let limit = limiter.limit();
                prop_assert!((min..=min + extra).contains(&limit), "{limiter:?}: {limit}");
            }
        }
    }
}

#[test]
fn bounds_and_configs_are_validated() {
    let bad = Bounds {
        initial: 5,
        min: 10,
        max: 20,
    };
    assert!(bad.validate().is_err());
    assert!(
        Bounds {
            initial: 1,
            min: 0,
            max: 20
        }
        .validate()
        .is_err()
    );
    assert!(
        Bounds {
            initial: 10,
            min: 10,
            max: 5
        }
        .validate()
        .is_err()
    );
    assert!(LimiterConfig::Fixed(0).build().is_err());
    assert!(
        LimiterConfig::Vegas(VegasConfig {
            beta: 3.0,
            ..Default::default()
        })
        .validate()
        .is_err()
    );
    assert!(LimiterConfig::default().validate().is_ok());
}

const C: usize = 100;

fn upstream(cv: f64) -> Upstream {
    Upstream {
        workers: C,
        service: ms(50),
        cv,
        queue_cap: None,
    }
}

fn gradient2() -> Box<dyn Limiter> {
    LimiterConfig::Gradient2(Gradient2Config::default())
        .build()
        .expect("default config is valid")
}

fn vegas() -> Box<dyn Limiter> {
    LimiterConfig::Vegas(VegasConfig::default())
        .build()
        .expect("default config is valid")
}

/// The central claim: at unlimited demand, the limit settles just above capacity,
/// so goodput is at capacity and admitted requests keep near-unloaded latency.
#[test]
fn gradient2_settles_near_capacity() {
    let s = sim::run(gradient2().as_mut(), upstream(0.3), &[], 30, 1);
    let m = sim::mean(&s, 10, 30);
    assert!(m.goodput > 0.97, "{m:?}");
    assert!((0.97..1.4).contains(&m.limit), "{m:?}");
    assert!(m.latency < 1.4, "{m:?}");
}

#[test]
fn vegas_settles_near_capacity() {
    let s = sim::run(vegas().as_mut(), upstream(0.3), &[], 30, 2);
    let m = sim::mean(&s, 10, 30);
    assert!(m.goodput > 0.97, "{m:?}");
    assert!((0.97..1.4).contains(&m.limit), "{m:?}");
    assert!(m.latency < 1.4, "{m:?}");
}

/// AIMD reads no latency: it needs an upstream that sheds when its queue is full,
/// and then settles just below that point.
#[test]
fn aimd_settles_below_where_the_upstream_sheds() {
    let mut aimd = LimiterConfig::Aimd(AimdConfig::default())
        .build()
        .expect("valid");
    let up = Upstream {
        queue_cap: Some(C / 10),
        ..upstream(0.3)
    };
    let s = sim::run(aimd.as_mut(), up, &[], 30, 3);
    let m = sim::mean(&s, 10, 30);
    assert!(m.goodput > 0.95, "{m:?}");
    assert!((0.9..1.2).contains(&m.limit), "{m:?}");
}

/// Netflix's Gradient2 learns its baseline from every sample, so under sustained
/// overload the baseline absorbs the queueing and the limit drifts up until
/// requests time out. Three minutes of overload must not move ours.
#[test]
fn gradient2_does_not_drift_under_sustained_overload() {
    let s = sim::run(gradient2().as_mut(), upstream(0.3), &[], 180, 4);
    let early = sim::mean(&s, 10, 30);
    let late = sim::mean(&s, 150, 180);
    assert!(late.limit < early.limit * 1.15, "{early:?} -> {late:?}");
    assert!(late.latency < 1.4, "{late:?}");
    assert!(late.goodput > 0.97, "{late:?}");
}

/// Capacity halves at 30 s and comes back at 60 s: the limit follows both ways
/// within seconds, without retuning.
#[test]
fn limiters_follow_capacity_changes() {
    let changes = [
        Change {
            at: Duration::from_secs(30),
            workers: C / 2,
            service: ms(50),
        },
        Change {
            at: Duration::from_secs(60),
            workers: C,
            service: ms(50),
        },
    ];
    for (name, mut limiter) in [("gradient2", gradient2()), ("vegas", vegas())] {
        let s = sim::run(limiter.as_mut(), upstream(0.3), &changes, 90, 5);
        let halved = sim::mean(&s, 35, 60);
        assert!(halved.goodput > 0.95, "{name} halved: {halved:?}");
        assert!(halved.limit < 1.8, "{name} halved: {halved:?}");
        let restored = sim::mean(&s, 65, 90);
        assert!(restored.goodput > 0.95, "{name} restored: {restored:?}");
        assert!(restored.limit < 1.5, "{name} restored: {restored:?}");
    }
}

/// Service time doubles (a slow deploy), then drops to a quarter: the no-load RTT
/// must follow, or the limit collapses (first case) or balloons (second).
#[test]
fn gradient2_follows_service_time_changes() {
    let changes = [
        Change {
            at: Duration::from_secs(20),
            workers: C,
            service: ms(100),
        },
        Change {
            at: Duration::from_secs(80),
            workers: C,
            service: ms(25),
        },
    ];
    let s = sim::run(gradient2().as_mut(), upstream(0.3), &changes, 140, 6);
    let slower = sim::mean(&s, 60, 80);
    assert!(slower.goodput > 0.95, "{slower:?}");
    let faster = sim::mean(&s, 120, 140);
    assert!(faster.goodput > 0.95, "{faster:?}");
    assert!(faster.latency < 2.0, "{faster:?}");
}

/// Heavy-tailed latency (coefficient of variation 0.8) must not starve the upstream.
#[test]
fn gradient2_keeps_capacity_with_noisy_latency() {
    let s = sim::run(gradient2().as_mut(), upstream(0.8), &[], 40, 7);
    let m = sim::mean(&s, 10, 40);
    assert!(m.goodput > 0.95, "{m:?}");
    assert!(m.latency < 1.6, "{m:?}");
}

/// Large and small upstreams: the same defaults work at 1000 and at 8 workers.
#[test]
fn gradient2_scales_from_small_to_large_upstreams() {
    let large = Upstream {
        workers: 1000,
        service: ms(20),
        cv: 0.3,
        queue_cap: None,
    };
    let large_limiter = || {
        let bounds = Bounds {
            max: 5000,
            ..Bounds::default()
        };
        LimiterConfig::Gradient2(Gradient2Config {
            bounds,
            ..Default::default()
        })
        .build()
        .expect("valid")
    };
    let s = sim::run(large_limiter().as_mut(), large, &[], 15, 8);
    let m = sim::mean(&s, 8, 15);
    assert!(m.goodput > 0.95 && m.limit < 1.4, "large: {m:?}");
    // The case Vegas fails (it keeps ~65% of capacity): large, with noisy latency.
    let noisy = Upstream { cv: 0.8, ..large };
    let s = sim::run(large_limiter().as_mut(), noisy, &[], 15, 10);
    let m = sim::mean(&s, 8, 15);
    assert!(m.goodput > 0.95 && m.limit < 2.0, "large and noisy: {m:?}");

    let small = Upstream {
        workers: 8,
        service: ms(100),
        cv: 0.3,
        queue_cap: None,
    };
    let s = sim::run(gradient2().as_mut(), small, &[], 60, 9);
    let m = sim::mean(&s, 20, 60);
    assert!(m.goodput > 0.95 && m.limit < 1.5, "small: {m:?}");
}

/// The overload benchmark's upstream, 8 workers × 20 ms with steady latency, and an
/// initial limit at, or well above, its capacity. A first probe at 20 measures the
/// upstream's queue (2.5 × the service time); trusting it, the limit settled at
/// 3.3 × the capacity, every admitted request waiting in the upstream's queue.
#[test]
fn a_small_upstream_gets_a_limit_near_its_capacity_whatever_the_initial_limit() {
    let up = Upstream {
        workers: 8,
        service: ms(20),
        cv: 0.05,
        queue_cap: None,
    };
    for initial in [4, 20, 50] {
        let config = Gradient2Config {
            bounds: Bounds {
                initial,
                ..Bounds::default()
            },
            ..Default::default()
        };
        let mut limiter = LimiterConfig::Gradient2(config).build().expect("valid");
        let s = sim::run(limiter.as_mut(), up, &[], 20, 12);
        let m = sim::mean(&s, 5, 20);
        assert!(m.goodput > 0.97, "initial {initial}: {m:?}");
        assert!((1.0..1.5).contains(&m.limit), "initial {initial}: {m:?}");
        let no_load = limiter.no_load_rtt().expect("measured").as_secs_f64();
        assert!(
            (0.019..0.021).contains(&no_load),
            "initial {initial}: {no_load}"
        );
    }
}

/// From the initial limit of 4, slow start reaches a large upstream's capacity in
/// about a second of 20 ms round trips, and a small one's at once.
#[test]
fn cold_start_reaches_capacity_within_seconds() {
    for workers in [8, 100, 1000] {
        let up = Upstream {
            workers,
            service: ms(20),
            cv: 0.3,
            queue_cap: None,
        };
        let mut limiter = LimiterConfig::Gradient2(Gradient2Config {
            bounds: Bounds {
                max: 5000,
                ..Bounds::default()
            },
            ..Default::default()
        })
        .build()
        .expect("valid");
        let s = sim::run(limiter.as_mut(), up, &[], 5, 13);
        let m = sim::mean(&s, 2, 5);
        assert!(m.goodput > 0.95, "{workers} workers: {m:?}");
        assert!(m.latency < 1.5, "{workers} workers: {m:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Convergence on a simulated upstream of known capacity: whatever its size,
    /// speed and noise, and whatever the initial limit (up to three times the
    /// capacity), the default Gradient2 keeps goodput at capacity with latency
    /// near the service time, and the limit within bounds near the capacity.
    #[test]
    fn gradient2_converges_on_any_upstream_from_any_initial_limit(
        workers in 4usize..=64,
        service_ms in 5u64..=100,
        cv in 0.0f64..0.5,
        initial_per_worker in 0.0f64..3.0,
        seed in 0u64..1000,
    ) {
        let initial = ((workers as f64 * initial_per_worker) as usize).clamp(4, 1000);
        let config = Gradient2Config {
            bounds: Bounds { initial, ..Bounds::default() },
            ..Default::default()
        };
        let mut limiter = LimiterConfig::Gradient2(config).build().expect("valid");
        let up = Upstream { workers, service: ms(service_ms), cv, queue_cap: None };
        let s = sim::run(limiter.as_mut(), up, &[], 40, seed);
        let m = sim::mean(&s, 20, 40);
        prop_assert!(m.goodput > 0.95, "{m:?}");
        prop_assert!(m.limit > 0.95 && m.limit < 1.8, "{m:?}");
        prop_assert!(m.latency < 1.8, "{m:?}");
    }
}
