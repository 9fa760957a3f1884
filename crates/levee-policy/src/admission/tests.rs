//! The core against simulated upstreams and clients (see `sim.rs`): no false
//! sheds in any everyday workload, the overload properties kept; and exact
//! unit tests of its transitions.

use std::time::Duration;

use super::sim::{Dist, Kind, Load, Report, Upstream, run};
use super::*;
use crate::testing::{ms, t0};

fn kind(key: u64, service: Dist) -> Kind {
    Kind {
        class_key: key,
        service,
    }
}

fn short(ms_: f64) -> Kind {
    kind(1, Dist::ms(ms_))
}

fn defaults() -> AdmissionSpec {
    AdmissionSpec::default()
}

/// Asserts zero sheds over several seeds; returns the first report.
fn no_sheds(name: &str, upstream: Upstream, loads: &[Load]) -> Report {
    let mut first = None;
    for seed in 1..=5 {
        let r = run(defaults(), upstream.clone(), loads, seed);
        assert_eq!(
            r.shed,
            0,
            "{name} (seed {seed}): {} of {} shed; events {:?}",
            r.shed,
            r.sent,
            &r.events[..r.events.len().min(6)]
        );
        assert_eq!(r.ok, r.sent, "{name}: every request answered");
        first.get_or_insert(r);
    }
    first.expect("ran")
}

#[test]
fn a_few_clients_in_a_loop() {
    let r = no_sheds(
        "8 clients x 30 x 50 ms",
        Upstream::parallel(),
        &[Load::Closed {
            clients: 8,
            each: 30,
            from: 0.0,
            kind: short(50.0),
        }],
    );
    assert!(
        r.max_wait < 1e-6,
        "8 fit under the initial limit: {}",
        r.max_wait
    );
}

#[test]
fn a_cold_burst_of_64_clients_waits_briefly_and_is_never_shed() {
    let r = no_sheds(
        "64 clients at once x 20 x 50 ms",
        Upstream::parallel(),
        &[Load::Closed {
            clients: 64,
            each: 20,
            from: 0.0,
            kind: short(50.0),
        }],
    );
    assert!(
        r.max_wait <= 0.11,
        "waited at most ~2 round trips: {}",
        r.max_wait
    );
    assert!(
        r.limit_at_end >= 64,
        "the limit followed demand: {}",
        r.limit_at_end
    );
}

#[test]
fn many_in_flight() {
    // ~600/s of 100 ms: ~60 in flight; and 2,000/s of 200 ms: ~400.
    no_sheds(
        "600/s of 100 ms",
        Upstream::parallel(),
        &[Load::Open {
            rate: 600.0,
            from: 0.0,
            secs: 10.0,
            kinds: vec![(1.0, short(100.0))],
        }],
    );
    let r = no_sheds(
        "2000/s of 200 ms",
        Upstream::parallel(),
        &[Load::Open {
            rate: 2000.0,
            from: 0.0,
            secs: 5.0,
            kinds: vec![(1.0, short(200.0))],
        }],
    );
    assert!(r.peak >= 350, "hundreds in flight: {}", r.peak);
    assert!(r.max_wait < 0.5, "{}", r.max_wait);
}

#[test]
fn mixed_latencies_on_one_route() {
    // A slow report endpoint: its own class.
    no_sheds(
        "90% 5 ms, 10% 800 ms (two classes), 60/s",
        Upstream::parallel(),
        &[Load::Open {
            rate: 60.0,
            from: 0.0,
            secs: 20.0,
            kinds: vec![
                (0.9, kind(1, Dist::ms(5.0))),
                (0.1, kind(2, Dist::ms(800.0))),
            ],
        }],
    );
    // The same, inside one class (numeric path segments collapsed).
    no_sheds(
        "95% 3 ms, 5% 500 ms (one class), 50/s",
        Upstream::parallel(),
        &[Load::Open {
            rate: 50.0,
            from: 0.0,
            secs: 20.0,
            kinds: vec![(1.0, kind(1, Dist::Mix(0.95, 0.003, 0.5)))],
        }],
    );
    // Half hits, half misses, in one class: the median flips, the rank does not.
    no_sheds(
        "50% 2 ms, 50% 60 ms (one class), 200/s",
        Upstream::parallel(),
        &[Load::Open {
            rate: 200.0,
            from: 0.0,
            secs: 20.0,
            kinds: vec![(1.0, kind(1, Dist::Mix(0.5, 0.002, 0.06)))],
        }],
    );
    // Heavy-tailed, naturally varying latency.
    no_sheds(
        "log-normal 40 ms, cv 1.5, 300/s",
        Upstream::parallel(),
        &[Load::Open {
            rate: 300.0,
            from: 0.0,
            secs: 20.0,
            kinds: vec![(1.0, kind(1, Dist::LogNormal(0.04, 1.5)))],
        }],
    );
}

#[test]
fn long_polls_do_not_starve_short_requests() {
    for same_class in [false, true] {
        let poll = kind(if same_class { 1 } else { 2 }, Dist::ms(20_000.0));
        let r = no_sheds(
            "30 long-polls of 20 s + 40/s of 10 ms",
            Upstream::parallel(),
            &[
                Load::Closed {
                    clients: 30,
                    each: 2,
                    from: 0.0,
                    kind: poll,
                },
                Load::Open {
                    rate: 40.0,
                    from: 0.3,
                    secs: 30.0,
                    kinds: vec![(1.0, kind(1, Dist::ms(10.0)))],
                },
            ],
        );
        assert!(
            r.max_wait < 0.11,
            "short requests barely wait: {}",
            r.max_wait
        );
        let short_p99 = r.quantile_of(Some(1), 0.99, 2.0, 30.0);
        if !same_class {
            assert!(
                short_p99 < 0.02,
                "short requests keep their latency: {short_p99}"
            );
        }
    }
}

#[test]
fn a_burst_after_an_idle_spell() {
    let r = no_sheds(
        "warm 8 s, idle 30 s, 32 clients at once",
        Upstream::parallel(),
        &[
            Load::Open {
                rate: 20.0,
                from: 0.0,
                secs: 8.0,
                kinds: vec![(1.0, short(30.0))],
            },
            Load::Closed {
                clients: 32,
                each: 8,
                from: 38.0,
                kind: short(30.0),
            },
        ],
    );
    assert!(r.max_wait < 0.15, "{}", r.max_wait);
}

#[test]
fn a_worker_limited_upstream_below_capacity() {
    no_sheds(
        "8 workers x 20 ms at half capacity, Poisson",
        Upstream::workers(8),
        &[Load::Open {
            rate: 200.0,
            from: 0.0,
            secs: 20.0,
            kinds: vec![(1.0, short(20.0))],
        }],
    );
}

#[test]
fn latency_that_drifts_up_slowly_is_not_congestion() {
    // The upstream gets 60% slower over a minute, whatever the load.
    no_sheds(
        "slow drift",
        Upstream::Parallel {
            slow: 1.6,
            slow_at: Duration::from_secs(30),
        },
        &[Load::Open {
            rate: 200.0,
            from: 0.0,
            secs: 60.0,
            kinds: vec![(1.0, kind(1, Dist::LogNormal(0.03, 0.3)))],
        }],
    );
}

/// At 4× the capacity of 8 workers × 20 ms, from a cold start: goodput at
/// capacity, admitted latency no worse than the previous default limiter's
/// (classic Gradient2, which the overload benchmark measured within 2× the
/// unloaded p99) in the same simulation, sheds decided at arrival.
#[test]
fn overload_keeps_goodput_and_latency() {
    let load = [Load::Constant {
        rate: 1600.0,
        from: 0.0,
        secs: 10.0,
        kind: short(20.0),
    }];
    let mut classic = defaults();
    classic.limiter = LimiterConfig::Gradient2(crate::limit::Gradient2Config::default());
    for seed in 1..=3 {
        let r = run(defaults(), Upstream::workers(8), &load, seed);
        let before = run(classic.clone(), Upstream::workers(8), &load, seed);
        let goodput = r.goodput(0.0, 10.0);
        let p99 = r.quantile(0.99, 0.0, 10.0);
        let before_p99 = before.quantile(0.99, 0.0, 10.0);
        assert!(goodput >= 380.0, "seed {seed}: goodput {goodput}/s of 400");
        assert!(
            p99 <= 1.1 * before_p99,
            "seed {seed}: p99 {p99:.4} vs classic {before_p99:.4}"
        );
        assert!(
            (r.shed_late as f64) < 0.01 * r.shed as f64,
            "seed {seed}: {} of {} sheds after a wait",
            r.shed_late,
            r.shed
        );
        assert!(r.retry_after_max <= Duration::from_secs(30));
    }
}

/// Halfway, every request takes twice as long (the same 8 workers): the
/// limit must not collapse; goodput goes to the new capacity.
#[test]
fn overload_follows_a_slower_upstream() {
    let r = run(
        defaults(),
        Upstream::Workers {
            workers: 8,
            change_at: Duration::from_secs(10),
            later: 8,
            slow: 2.0,
        },
        &[Load::Constant {
            rate: 600.0,
            from: 0.0,
            secs: 20.0,
            kind: short(20.0),
        }],
        1,
    );
    let before = r.goodput(2.0, 10.0);
    let after = r.goodput(13.0, 20.0);
    assert!(before >= 380.0, "before: {before}");
    assert!(after >= 180.0, "after: {after} of 200; {:?}", r.events);
}

/// Halfway, half the workers go away: goodput follows, latency of admitted
/// requests stays near its level.
#[test]
fn overload_follows_fewer_workers() {
    let r = run(
        defaults(),
        Upstream::Workers {
            workers: 8,
            change_at: Duration::from_secs(10),
            later: 4,
            slow: 1.0,
        },
        &[Load::Constant {
            rate: 600.0,
            from: 0.0,
            secs: 20.0,
            kind: short(20.0),
        }],
        1,
    );
    let after = r.goodput(12.0, 20.0);
    assert!(after >= 185.0, "after: {after} of 200");
    let p99 = r.quantile(0.99, 12.0, 20.0);
    assert!(p99 < 0.06, "admitted p99 after: {p99}");
}

// Exact unit tests of the state machine.

fn arrival(class: ClassId) -> Arrival {
    Arrival {
        priority: Priority::Default,
        deadline: None,
        tenant: None,
        class,
    }
}

fn ok(rtt: Duration) -> Option<Outcome> {
    Some(Outcome {
        rtt,
        dropped: false,
    })
}

#[test]
fn without_evidence_a_waiter_is_let_through_and_the_limit_raised() {
    let mut core: Core<u32> = Core::new(defaults(), 1).expect("valid");
    let c = core.class(1, || "GET /".into());
    let t = t0();
    let mut fx = Effects::default();
    let mut tickets = Vec::new();
    for _ in 0..16 {
        match core.arrive(t, arrival(c), || 0, &mut fx) {
            Admit::Now(ticket) => tickets.push(ticket),
            other => panic!("{other:?}"),
        }
    }
    let Admit::Wait { id, until } = core.arrive(t, arrival(c), || 17, &mut fx) else {
        panic!("the 17th waits");
    };
    assert_eq!(until, t + core.overflow_wait());
    assert_eq!(core.overflow_wait(), ms(100), "nothing answered yet");
    match core.timeout(until, id, &mut fx) {
        Waited::Granted(ticket) => assert_eq!(ticket.waited, ms(100)),
        other => panic!("{other:?}"),
    }
    assert_eq!((core.limit(), core.in_flight()), (17, 17));
    assert!(fx.is_empty());
}

#[test]
fn a_slot_freed_goes_to_the_oldest_waiter_and_stale_tickets_do_nothing() {
    let mut spec = defaults();
    spec.limiter = LimiterConfig::Fixed(2);
    let mut core: Core<u32> = Core::new(spec, 1).expect("valid");
    let t = t0();
    let mut fx = Effects::default();
    let mut admitted = Vec::new();
    for payload in 0..4 {
        match core.arrive(t, arrival(OTHER), || payload, &mut fx) {
            Admit::Now(ticket) => admitted.push(ticket),
            Admit::Wait { .. } => {}
            Admit::Shed(s) => panic!("{s:?}"),
        }
    }
    assert_eq!((core.in_flight(), core.queued()), (2, 2));
    let first = admitted.remove(0);
    core.complete(t + ms(10), first, ok(ms(10)), &mut fx);
    assert_eq!(fx.granted.len(), 1);
    assert_eq!(fx.granted[0].0, 2, "FIFO: the first waiter");
    assert_eq!(fx.granted[0].1.waited, ms(10));
    assert_eq!((core.in_flight(), core.queued()), (2, 1));
    // A ticket given back twice does nothing the second time.
    let (_, granted) = fx.granted.pop().expect("one");
    core.complete(t + ms(20), granted, ok(ms(10)), &mut fx);
    assert_eq!((core.in_flight(), core.queued()), (2, 0));
    let forged = Ticket {
        slot: 1,
        generation: 99,
        inflight: 0,
        limit: 0,
        waited: Duration::ZERO,
    };
    core.complete(t + ms(20), forged, None, &mut fx);
    assert_eq!(core.in_flight(), 2, "a stale ticket releases nothing");
}

#[test]
fn a_long_poll_is_parked_once_later_requests_are_answered() {
    let mut spec = defaults();
    spec.limiter = LimiterConfig::Adaptive(crate::limit::AdaptiveConfig {
        bounds: crate::limit::Bounds {
            initial: 4,
            min: 4,
            max: 10_000,
        },
        ..Default::default()
    });
    let mut core: Core<u32> = Core::new(spec, 1).expect("valid");
    let c = core.class(1, || "GET /".into());
    let t = t0();
    let mut fx = Effects::default();
    // Three long-polls hold slots (their tickets are kept, not given back).
    let mut polls = Vec::new();
    for _ in 0..3 {
        let Admit::Now(ticket) = core.arrive(t, arrival(c), || 0, &mut fx) else {
            panic!()
        };
        polls.push(ticket);
    }
    // Short requests come and go.
    for i in 0..20u64 {
        let now = t + ms(10 + i * 20);
        let Admit::Now(ticket) = core.arrive(now, arrival(c), || 0, &mut fx) else {
            panic!("slot {i}")
        };
        core.complete(now + ms(10), ticket, ok(ms(10)), &mut fx);
    }
    assert_eq!(core.in_flight(), 3);
    // Well past a second, newcomers fill the limit; the next one finds it
    // taken and parks the long-polls instead of waiting behind them.
    let later = t + ms(1_500);
    let mut hold = Vec::new();
    while core.in_flight() < core.limit() {
        let Admit::Now(ticket) = core.arrive(later, arrival(c), || 0, &mut fx) else {
            panic!("below the limit")
        };
        hold.push(ticket);
    }
    let full = core.in_flight();
    let Admit::Now(ticket) = core.arrive(later, arrival(c), || 0, &mut fx) else {
        panic!("the long-polls were parked")
    };
    hold.push(ticket);
    let parked = fx.events.iter().filter(|e| **e == Event::Parked).count();
    assert_eq!(parked, 3);
    assert_eq!(core.in_flight(), full - 3 + 1);
}

#[test]
fn with_evidence_a_full_queue_sheds_at_once_with_a_short_retry_after() {
    let mut spec = defaults();
    spec.limiter = LimiterConfig::Fixed(1);
    spec.max_queue = 1;
    let mut core: Core<u32> = Core::new(spec, 1).expect("valid");
    let t = t0();
    let mut fx = Effects::default();
    let Admit::Now(_first) = core.arrive(t, arrival(OTHER), || 0, &mut fx) else {
        panic!()
    };
    let Admit::Wait { .. } = core.arrive(t, arrival(OTHER), || 1, &mut fx) else {
        panic!()
    };
    match core.arrive(t, arrival(OTHER), || 2, &mut fx) {
        Admit::Shed(shed) => {
            assert_eq!(shed.cause, ShedCause::QueueFull);
            assert_eq!(
                shed.retry_after,
                Duration::from_secs(1),
                "no rate: the minimum"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn observe_mode_admits_everything_and_reports_what_it_would_shed() {
    let mut spec = defaults();
    spec.limiter = LimiterConfig::Fixed(2);
    spec.mode = Mode::Observe;
    let mut core: Core<u32> = Core::new(spec, 1).expect("valid");
    let t = t0();
    let mut fx = Effects::default();
    let mut held = Vec::new();
    for _ in 0..10 {
        match core.arrive(t, arrival(OTHER), || 0, &mut fx) {
            Admit::Now(ticket) => held.push(ticket),
            other => panic!("observe admits: {other:?}"),
        }
    }
    assert_eq!(core.in_flight(), 10);
    let would = fx
        .events
        .iter()
        .filter(|e| matches!(e, Event::WouldShed { .. }))
        .count();
    assert_eq!(
        would, 8,
        "everything above the limit with no rate to drain it"
    );
}
