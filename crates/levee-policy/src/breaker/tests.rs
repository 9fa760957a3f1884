use super::*;
use crate::testing::{ms, t0};
use proptest::prelude::*;

fn breaker(config: BreakerConfig) -> Breaker {
    Breaker::new(config).expect("valid test config")
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn an_out_of_band_check_lets_the_next_request_probe_now() {
    let mut b = breaker(BreakerConfig {
        consecutive_failures: 1,
        min_requests: 0,
        ..Default::default()
    });
    let now = t0();
    assert!(!b.probe_now(now), "closed: nothing to do");
    b.on_failure(now);
    b.on_failure(now + secs(5));
    b.try_acquire(now + secs(5)).ok();
    b.on_failure(now + secs(5));
    let later = now + secs(6);
    assert!(
        b.try_acquire(later).is_err(),
        "open for 10 s after a second trip"
    );
    assert!(b.probe_now(later));
    assert!(b.try_acquire(later).is_ok(), "a probe may go now");
    assert_eq!(b.trips(), 2, "the trip count stays");
}

#[test]
fn trips_on_consecutive_failures_and_a_success_resets_the_count() {
    let mut b = breaker(BreakerConfig {
        consecutive_failures: 3,
        min_requests: 0,
        ..Default::default()
    });
    let now = t0();
    b.on_failure(now);
    b.on_failure(now);
    b.on_success(now);
    b.on_failure(now);
    b.on_failure(now);
    assert_eq!(b.state(), BreakerState::Closed);
    b.on_failure(now);
    assert_eq!(
        b.state(),
        BreakerState::Open {
            until: now + secs(5)
        }
    );
    assert_eq!(
        b.try_acquire(now + secs(2)),
        Err(BreakerOpen { retry_in: secs(3) })
    );
}

#[test]
fn trips_on_failure_ratio_only_after_min_requests() {
    let mut b = breaker(BreakerConfig {
        consecutive_failures: 0,
        failure_ratio: 0.5,
        min_requests: 10,
        ..Default::default()
    });
    let now = t0();
    for _ in 0..4 {
        b.on_failure(now);
        b.on_success(now);
    }
    b.on_failure(now); // 5 of 9: a majority, but below min_requests
    assert_eq!(b.state(), BreakerState::Closed);
    b.on_failure(now); // 6 of 10
    assert!(matches!(b.state(), BreakerState::Open { .. }));
}

#[test]
fn old_failures_leave_the_window() {
    let mut b = breaker(BreakerConfig {
        consecutive_failures: 0,
        min_requests: 4,
        ..Default::default()
    });
    let start = t0();
    for _ in 0..3 {
        b.on_failure(start);
    }
    b.on_failure(start + secs(11)); // the first three have expired: 1 of 1 < min_requests
    assert_eq!(b.state(), BreakerState::Closed);
}

#[test]
fn half_open_admits_probes_and_closes_when_all_succeed() {
    let mut b = breaker(BreakerConfig {
        consecutive_failures: 1,
        probes: 2,
        ..Default::default()
    });
    let now = t0();
    b.on_failure(now);
    let later = now + secs(5);
    assert!(b.try_acquire(later).is_ok());
    assert!(b.try_acquire(later).is_ok());
    assert_eq!(b.try_acquire(later), Err(BreakerOpen { retry_in: secs(5) }));
    b.on_success(later);
    assert_eq!(
        b.state(),
        BreakerState::HalfOpen {
            in_flight: 1,
            succeeded: 1,
            since: later
        }
    );
    assert!(
        b.try_acquire(later).is_err(),
        "a success does not free a probe slot"
    );
    b.on_success(later);
    assert_eq!(b.state(), BreakerState::Closed);
    assert_eq!(b.trips(), 0);
}

#[test]
fn open_duration_doubles_per_trip_up_to_max_and_resets_on_close() {
    let mut b = breaker(BreakerConfig {
        consecutive_failures: 1,
        probes: 1,
        open_base: secs(5),
        open_max: secs(30),
        ..Default::default()
    });
    let mut now = t0();
    b.on_failure(now);
    let mut opened_for = Vec::new();
    for _ in 0..5 {
        let BreakerState::Open { until } = b.state() else {
            panic!("expected open")
        };
        opened_for.push((until - now).as_secs());
        now = until;
        assert!(b.try_acquire(now).is_ok());
        b.on_failure(now); // the probe failed
    }
    assert_eq!(opened_for, [5, 10, 20, 30, 30]);
    let BreakerState::Open { until } = b.state() else {
        panic!("expected open")
    };
    assert!(b.try_acquire(until).is_ok());
    b.on_success(until);
    b.on_failure(until);
    assert_eq!(
        b.state(),
        BreakerState::Open {
            until: until + secs(5)
        },
        "trips reset on close"
    );
}

#[test]
fn late_answers_while_open_change_nothing() {
    let mut b = breaker(BreakerConfig {
        consecutive_failures: 1,
        ..Default::default()
    });
    let now = t0();
    b.on_failure(now);
    let open = b.state();
    b.on_success(now + ms(10));
    b.on_failure(now + ms(20));
    assert_eq!(b.state(), open);
}

#[test]
fn lost_probes_are_replaced_after_probe_timeout() {
    let mut b = breaker(BreakerConfig {
        consecutive_failures: 1,
        probes: 1,
        ..Default::default()
    });
    let now = t0();
    b.on_failure(now);
    let half = now + secs(5);
    assert!(b.try_acquire(half).is_ok()); // this probe never reports
    assert!(b.try_acquire(half + secs(29)).is_err());
    assert!(b.try_acquire(half + secs(30)).is_ok());
}

#[test]
fn hold_open_honours_the_upstreams_retry_after() {
    let mut b = breaker(BreakerConfig::default());
    let now = t0();
    b.hold_open_until(now + secs(30));
    assert_eq!(b.try_acquire(now), Err(BreakerOpen { retry_in: secs(30) }));
    b.hold_open_until(now + secs(10)); // never shortens
    assert_eq!(b.try_acquire(now), Err(BreakerOpen { retry_in: secs(30) }));
    assert_eq!(b.trips(), 0);
}

#[test]
fn rejects_out_of_range_config() {
    let ok = BreakerConfig::default();
    assert!(Breaker::new(ok).is_ok());
    for bad in [
        BreakerConfig {
            failure_ratio: 0.0,
            ..ok
        },
        BreakerConfig {
            failure_ratio: 1.5,
            ..ok
        },
        BreakerConfig { probes: 0, ..ok },
        BreakerConfig {
            window: Duration::ZERO,
            ..ok
        },
        BreakerConfig {
            open_max: secs(1),
            ..ok
        },
        BreakerConfig {
            open_max: secs(86_401),
            ..ok
        },
    ] {
        assert!(Breaker::new(bad).is_err(), "{bad:?}");
    }
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Acquire,
    Success,
    Failure,
    Neutral,
    Wait(u64),
}

fn any_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Acquire),
        1 => Just(Op::Neutral),
        2 => Just(Op::Success),
        2 => Just(Op::Failure),
        1 => (0u64..20_000).prop_map(Op::Wait),
    ]
}

proptest! {
    /// Whatever happens: closed admits everything; open rejects with a retry_in
    /// that is non-zero, at most open_max and lands exactly on `until`; half-open
    /// never has more than `probes` probes out; only an open breaker whose time
    /// has come moves to half-open.
    #[test]
    fn transitions_keep_their_invariants(
        ops in proptest::collection::vec(any_op(), 1..300),
        probes in 1u32..4,
        consecutive in 0u32..6,
    ) {
        let config = BreakerConfig { probes, consecutive_failures: consecutive, min_requests: 5, ..Default::default() };
        let mut b = breaker(config);
        let mut now = t0();
        for op in ops {
            let before = b.state();
            match op {
                Op::Wait(n) => now += ms(n),
                Op::Success => b.on_success(now),
                Op::Failure => b.on_failure(now),
                Op::Neutral => {
                    b.on_neutral();
                    if let (BreakerState::HalfOpen { in_flight, succeeded, .. }, BreakerState::HalfOpen { in_flight: after, succeeded: s_after, .. }) = (before, b.state()) {
                        prop_assert_eq!(after, in_flight.saturating_sub(1), "a probe given back");
                        prop_assert_eq!(s_after, succeeded, "and nothing counted");
                    } else {
                        prop_assert_eq!(b.state(), before, "nothing else changes");
                    }
                }
                Op::Acquire => {
                    // The read-only query agrees with the real thing and
                    // changes nothing.
                    let asked = b.retry_in(now);
                    prop_assert_eq!(b.state(), before, "retry_in takes no probe");
                    let got = b.clone().try_acquire(now);
                    prop_assert_eq!(asked.is_none(), got.is_ok());
                    if let (Some(a), Err(open)) = (asked, got) {
                        prop_assert_eq!(a, open.retry_in);
                    }
                    let got = b.try_acquire(now);
                    match before {
                        BreakerState::Closed => prop_assert!(got.is_ok()),
                        BreakerState::Open { until } if now < until => {
                            prop_assert_eq!(got, Err(BreakerOpen { retry_in: until - now }));
                        }
                        BreakerState::Open { .. } => {
                            prop_assert!(got.is_ok());
                            prop_assert!(
                                matches!(b.state(), BreakerState::HalfOpen { in_flight: 1, succeeded: 0, .. }),
                                "a due probe starts half-open"
                            );
                        }
                        BreakerState::HalfOpen { .. } => {}
                    }
                    if let Err(open) = got {
                        prop_assert!(!open.retry_in.is_zero() && open.retry_in <= config.open_max);
                    }
                }
            }
            match b.state() {
                BreakerState::HalfOpen { in_flight, succeeded, .. } => {
                    prop_assert!(in_flight + succeeded <= probes);
                    prop_assert!(succeeded < probes);
                }
                BreakerState::Open { until } => prop_assert!(until <= now + config.open_max),
                BreakerState::Closed => {}
            }
            if !matches!(op, Op::Acquire | Op::Wait(_)) && matches!(before, BreakerState::Closed) {
                prop_assert!(!matches!(b.state(), BreakerState::HalfOpen { .. }), "closed never jumps to half-open");
            }
        }
    }
}
