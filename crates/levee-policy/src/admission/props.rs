//! Properties of the core under random sequences of arrivals, answers and
//! timer firings, checked against a model kept outside it:
//!
//! - a request is admitted only while fewer than the limit count against it;
//! - every queued request ends exactly once: granted, or shed (evicted,
//!   timed out, trimmed) — never both, never lost;
//! - a `critical` newcomer that would be served within the bound is never
//!   refused for room while a `sheddable` request waits;
//! - a tenant is shed for fairness only when it holds or awaits at least an
//!   equal split of the limit among the tenants present;
//! - the counts the core reports agree with the model's.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::limit::AdaptiveConfig;

#[derive(Debug, Clone)]
enum Op {
    Arrive {
        priority: u8,
        tenant: Option<u8>,
    },
    Answer {
        pick: usize,
        rtt_ms: u64,
        dropped: bool,
    },
    Fire {
        pick: usize,
    },
    Advance {
        ms: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..3, proptest::option::of(0u8..4))
            .prop_map(|(priority, tenant)| Op::Arrive { priority, tenant }),
        3 => (any::<usize>(), 1u64..80, proptest::bool::weighted(0.1))
            .prop_map(|(pick, rtt_ms, dropped)| Op::Answer { pick, rtt_ms, dropped }),
        2 => any::<usize>().prop_map(|pick| Op::Fire { pick }),
        1 => (1u64..200).prop_map(|ms| Op::Advance { ms }),
    ]
}

fn priority(p: u8) -> Priority {
    match p {
        0 => Priority::Critical,
        1 => Priority::Default,
        _ => Priority::Sheddable,
    }
}

#[derive(Default)]
struct Model {
    /// Admitted, not yet answered: (ticket, tenant).
    flying: Vec<(Ticket, Option<TenantKey>)>,
    /// Waiting: payload → (id, until, priority, tenant).
    waiting: HashMap<u32, (WaiterId, Instant, Priority, Option<TenantKey>)>,
    /// Payloads that ended, and how.
    ended: HashSet<u32>,
}

impl Model {
    fn end(&mut self, payload: u32) {
        assert!(
            self.waiting.remove(&payload).is_some(),
            "{payload} ended but was not waiting"
        );
        assert!(self.ended.insert(payload), "{payload} ended twice");
    }

    fn deliver(&mut self, fx: Effects<u32>) {
        for (payload, ticket) in fx.granted {
            assert!(
                ticket.inflight <= ticket.limit,
                "granted over the limit: {ticket:?}"
            );
            let tenant = self.waiting.get(&payload).and_then(|w| w.3);
            self.end(payload);
            self.flying.push((ticket, tenant));
        }
        for (payload, _, _) in fx.shed {
            self.end(payload);
        }
    }
}

fn check(spec: AdmissionSpec, ops: Vec<Op>) {
    let mut core: Core<u32> = Core::new(spec.clone(), 3).expect("valid");
    let class = core.class(1, || "GET /".to_owned());
    let mut now = crate::testing::t0();
    let mut m = Model::default();
    let mut next = 0u32;
    for op in ops {
        let mut fx = Effects::default();
        match op {
            Op::Arrive {
                priority: p,
                tenant,
            } => {
                let payload = next;
                next += 1;
                let priority = priority(p);
                let tenant = tenant.map(TenantKey::from);
                let sheddable_waits = m.waiting.values().any(|w| w.2 == Priority::Sheddable);
                // Refused for room, not for the wait: the core's own
                // estimate says it would be served within the bound.
                let in_time =
                    core.expected_wait(now, Priority::Critical, tenant) <= core.wait_bound();
                let full = core.queued() >= spec.max_queue;
                let a = Arrival {
                    priority,
                    deadline: None,
                    tenant,
                    class,
                };
                match core.arrive(now, a, || payload, &mut fx) {
                    Admit::Now(ticket) => {
                        assert!(ticket.inflight <= ticket.limit, "{ticket:?}");
                        m.flying.push((ticket, tenant));
                    }
                    Admit::Wait { id, until } => {
                        m.waiting.insert(payload, (id, until, priority, tenant));
                    }
                    Admit::Shed(shed) => {
                        if priority == Priority::Critical
                            && shed.cause == ShedCause::QueueFull
                            && full
                            && in_time
                        {
                            assert!(
                                !sheddable_waits,
                                "a critical refused while a sheddable waits"
                            );
                        }
                        if shed.cause == ShedCause::FairShare {
                            let t = tenant.expect("only tenants are shed for fairness");
                            let mut claims: HashMap<TenantKey, usize> = HashMap::new();
                            for (_, tt) in &m.flying {
                                if let Some(tt) = tt {
                                    *claims.entry(*tt).or_default() += 1;
                                }
                            }
                            for w in m.waiting.values() {
                                if let Some(tt) = w.3 {
                                    *claims.entry(tt).or_default() += 1;
                                }
                            }
                            let active = claims.len() + usize::from(!claims.contains_key(&t));
                            let equal = core.limit().div_ceil(active.max(1));
                            let claim = claims.get(&t).copied().unwrap_or(0);
                            assert!(
                                claim >= equal,
                                "tenant {t} shed for fairness with {claim} of an equal split of {equal}"
                            );
                        }
                    }
                }
            }
            Op::Answer {
                pick,
                rtt_ms,
                dropped,
            } => {
                if !m.flying.is_empty() {
                    let (ticket, _) = m.flying.swap_remove(pick % m.flying.len());
                    let outcome = Outcome {
                        rtt: Duration::from_millis(rtt_ms),
                        dropped,
                    };
                    core.complete(now, ticket, Some(outcome), &mut fx);
                }
            }
            Op::Fire { pick } => {
                let mut keys: Vec<u32> = m.waiting.keys().copied().collect();
                keys.sort_unstable();
                if !keys.is_empty() {
                    let payload = keys[pick % keys.len()];
                    let (id, until, ..) = m.waiting[&payload];
                    now = now.max(until);
                    match core.timeout(now, id, &mut fx) {
                        Waited::Granted(ticket) => {
                            assert!(ticket.inflight <= ticket.limit, "{ticket:?}");
                            let tenant = m.waiting[&payload].3;
                            m.end(payload);
                            m.flying.push((ticket, tenant));
                        }
                        Waited::Shed(_) => m.end(payload),
                        Waited::Until(t) => {
                            assert!(t > now, "asked to come back at once");
                            if let Some(w) = m.waiting.get_mut(&payload) {
                                w.1 = t;
                            }
                        }
                        Waited::Gone => {}
                    }
                }
            }
            Op::Advance { ms } => now += Duration::from_millis(ms),
        }
        m.deliver(fx);
        assert_eq!(core.queued(), m.waiting.len(), "queue length");
        assert!(core.in_flight() <= m.flying.len(), "counted in flight");
    }
}

fn fixed(limit: usize, max_queue: usize) -> AdmissionSpec {
    AdmissionSpec {
        limiter: LimiterConfig::Fixed(limit),
        max_queue,
        ..AdmissionSpec::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn a_fixed_limit_keeps_every_invariant(
        limit in 1usize..5,
        max_queue in 1usize..6,
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        check(fixed(limit, max_queue), ops);
    }

    #[test]
    fn the_adaptive_limiter_keeps_every_invariant(
        initial in 4usize..20,
        ops in proptest::collection::vec(op(), 1..200),
    ) {
        let spec = AdmissionSpec {
            limiter: LimiterConfig::Adaptive(AdaptiveConfig {
                bounds: crate::limit::Bounds { initial, min: 4, max: 10_000 },
                ..AdaptiveConfig::default()
            }),
            max_queue: 8,
            ..AdmissionSpec::default()
        };
        check(spec, ops);
    }
}
