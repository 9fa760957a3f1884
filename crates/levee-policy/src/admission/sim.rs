//! A discrete-event simulation of one route: clients, the admission [`Core`]
//! and an upstream model, in simulated time. Test-only.
//!
//! It answers the two questions issue 19 asks of the core, without sockets
//! or timing noise: does a healthy upstream ever see a request shed (it must
//! not), and does an overloaded one keep its goodput and latency (it must)?
//! Every run is deterministic for its seed.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

use super::*;

/// A small deterministic generator (xorshift64*).
#[derive(Debug, Clone)]
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Uniform in [0, 1).
    pub(super) fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    pub(super) fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.uniform()).ln()
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform().max(1e-12), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// A latency distribution (seconds).
#[derive(Debug, Clone, Copy)]
pub(super) enum Dist {
    /// Uniform within ± `jitter` × mean.
    Jitter(f64, f64),
    /// Log-normal with this mean and coefficient of variation.
    LogNormal(f64, f64),
    /// `p` of the time the first, else the second.
    Mix(f64, f64, f64),
}

impl Dist {
    pub(super) fn ms(ms: f64) -> Dist {
        Dist::Jitter(ms / 1000.0, 0.05)
    }

    fn sample(&self, rng: &mut Rng) -> f64 {
        match *self {
            Dist::Jitter(mean, j) => mean * (1.0 + j * (2.0 * rng.uniform() - 1.0)),
            Dist::LogNormal(mean, cv) => {
                let s2 = (1.0 + cv * cv).ln();
                let mu = mean.ln() - s2 / 2.0;
                (mu + s2.sqrt() * rng.normal()).exp()
            }
            Dist::Mix(p, a, b) => {
                if rng.uniform() < p {
                    a
                } else {
                    b
                }
            }
        }
    }
}

/// What serves the requests.
#[derive(Debug, Clone)]
pub(super) enum Upstream {
    /// Takes any number at once; each request takes its class's latency,
    /// times `slow` after `slow_at`.
    Parallel { slow: f64, slow_at: Duration },
    /// `workers` FIFO workers; after `change_at`, `later` workers and
    /// service times × `slow`.
    Workers {
        workers: usize,
        change_at: Duration,
        later: usize,
        slow: f64,
    },
}

impl Upstream {
    pub(super) fn parallel() -> Upstream {
        Upstream::Parallel {
            slow: 1.0,
            slow_at: Duration::MAX,
        }
    }

    pub(super) fn workers(n: usize) -> Upstream {
        Upstream::Workers {
            workers: n,
            change_at: Duration::MAX,
            later: n,
            slow: 1.0,
        }
    }
}

/// One kind of request: its class and its service-time distribution.
#[derive(Debug, Clone, Copy)]
pub(super) struct Kind {
    pub(super) class_key: u64,
    pub(super) service: Dist,
}

/// Who sends.
#[derive(Debug, Clone)]
pub(super) enum Load {
    /// Poisson arrivals at `rate`/s from `from` for `secs`; each picks a
    /// kind by the weights.
    Open {
        rate: f64,
        from: f64,
        secs: f64,
        kinds: Vec<(f64, Kind)>,
    },
    /// Evenly spaced arrivals (a constant-rate generator).
    Constant {
        rate: f64,
        from: f64,
        secs: f64,
        kind: Kind,
    },
    /// `clients` closed-loop clients from `from`, `each` requests each, back to back.
    Closed {
        clients: usize,
        each: usize,
        from: f64,
        kind: Kind,
    },
}

/// What happened, for assertions.
#[derive(Debug, Default, Clone)]
pub(super) struct Report {
    pub(super) sent: usize,
    pub(super) ok: usize,
    pub(super) shed: usize,
    pub(super) shed_late: usize,
    /// End-to-end latencies of answered requests (seconds), with arrival
    /// times and class keys.
    pub(super) latency: Vec<(f64, f64, u64)>,
    /// Longest queue wait of an admitted request.
    pub(super) max_wait: f64,
    pub(super) retry_after_max: Duration,
    pub(super) events: Vec<(f64, Event)>,
    pub(super) limit_at_end: usize,
    /// Greatest number in flight at the upstream.
    pub(super) peak: usize,
}

impl Report {
    /// The `q` quantile of answered latency among requests sent in [from, to) s.
    pub(super) fn quantile(&self, q: f64, from: f64, to: f64) -> f64 {
        self.quantile_of(None, q, from, to)
    }

    /// The same, among the requests of one class key (or all).
    pub(super) fn quantile_of(&self, key: Option<u64>, q: f64, from: f64, to: f64) -> f64 {
        let mut v: Vec<f64> = self
            .latency
            .iter()
            .filter(|(at, _, k)| (from..to).contains(at) && key.is_none_or(|key| key == *k))
            .map(|(_, l, _)| *l)
            .collect();
        if v.is_empty() {
            return 0.0;
        }
        v.sort_by(f64::total_cmp);
        v[((v.len() as f64 - 1.0) * q).round() as usize]
    }

    /// Answered requests sent in [from, to) s, per second.
    pub(super) fn goodput(&self, from: f64, to: f64) -> f64 {
        let n = self
            .latency
            .iter()
            .filter(|(at, _, _)| (from..to).contains(at))
            .count();
        n as f64 / (to - from)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    /// A client request arrives (request index).
    Arrive(usize),
    /// A waiter's timer.
    Timer(usize, WaiterId),
    /// The upstream answers (request index).
    Answer(usize),
    /// A worker frees (worker model only).
    Free,
}

struct Req {
    kind: Kind,
    sent_at: f64,
    queued_at: f64,
    client: Option<usize>,
    ticket: Option<Ticket>,
    done: bool,
}

/// Runs `loads` through a core with `spec` in front of `upstream`.
pub(super) fn run(spec: AdmissionSpec, upstream: Upstream, loads: &[Load], seed: u64) -> Report {
    Sim::new(spec, upstream, seed).run(loads)
}

struct Sim {
    core: Core<usize>,
    upstream: Upstream,
    rng: Rng,
    t0: Instant,
    heap: BinaryHeap<Reverse<(u64, u64, Ev)>>,
    seq: u64,
    reqs: Vec<Req>,
    /// Closed-loop clients: (requests left, kind).
    clients: Vec<(usize, Kind)>,
    /// Worker model: busy workers and FIFO backlog.
    busy: usize,
    backlog: std::collections::VecDeque<usize>,
    in_upstream: usize,
    classes: HashMap<u64, ClassId>,
    report: Report,
}

impl Sim {
    fn new(spec: AdmissionSpec, upstream: Upstream, seed: u64) -> Self {
        Self {
            core: Core::new(spec, seed).expect("valid spec"),
            upstream,
            rng: Rng::new(seed),
            t0: crate::testing::t0(),
            heap: BinaryHeap::new(),
            seq: 0,
            reqs: Vec::new(),
            clients: Vec::new(),
            busy: 0,
            backlog: Default::default(),
            in_upstream: 0,
            classes: HashMap::new(),
            report: Report::default(),
        }
    }

    fn at(&mut self, secs: f64, ev: Ev) {
        self.at_ns((secs.max(0.0) * 1e9).ceil() as u64, ev);
    }

    fn at_ns(&mut self, ns: u64, ev: Ev) {
        self.seq += 1;
        self.heap.push(Reverse((ns, self.seq, ev)));
    }

    /// Schedules a waiter's timer exactly at `until` (no rounding below it).
    fn at_instant(&mut self, until: Instant, ev: Ev) {
        let ns = until.saturating_duration_since(self.t0).as_nanos();
        self.at_ns(ns.min(u128::from(u64::MAX)) as u64, ev);
    }

    fn new_req(&mut self, kind: Kind, at: f64, client: Option<usize>) {
        let i = self.reqs.len();
        self.reqs.push(Req {
            kind,
            sent_at: at,
            queued_at: at,
            client,
            ticket: None,
            done: false,
        });
        self.at(at, Ev::Arrive(i));
    }

    fn run(mut self, loads: &[Load]) -> Report {
        for load in loads {
            match load {
                Load::Open {
                    rate,
                    from,
                    secs,
                    kinds,
                } => {
                    let total: f64 = kinds.iter().map(|k| k.0).sum();
                    let mut t = *from;
                    loop {
                        t += self.rng.exp(1.0 / rate);
                        if t >= from + secs {
                            break;
                        }
                        let mut pick = self.rng.uniform() * total;
                        let kind = kinds
                            .iter()
                            .find(|(w, _)| {
                                pick -= w;
                                pick < 0.0
                            })
                            .map_or(kinds[0].1, |k| k.1);
                        self.new_req(kind, t, None);
                    }
                }
                Load::Constant {
                    rate,
                    from,
                    secs,
                    kind,
                } => {
                    let n = (rate * secs) as usize;
                    for i in 0..n {
                        self.new_req(*kind, from + i as f64 / rate, None);
                    }
                }
                Load::Closed {
                    clients,
                    each,
                    from,
                    kind,
                } => {
                    for _ in 0..*clients {
                        let c = self.clients.len();
                        self.clients.push((each - 1, *kind));
                        self.new_req(*kind, *from, Some(c));
                    }
                }
            }
        }
        while let Some(Reverse((ns, _, ev))) = self.heap.pop() {
            let now = ns as f64 / 1e9;
            match ev {
                Ev::Arrive(i) => self.arrive(now, i),
                Ev::Timer(i, id) => self.timer(now, i, id),
                Ev::Answer(i) => self.answer(now, i),
                Ev::Free => self.free(now),
            }
        }
        self.report.limit_at_end = self.core.limit();
        self.report
    }

    fn instant(&self, now: f64) -> Instant {
        self.t0 + Duration::from_nanos((now * 1e9).round() as u64)
    }

    fn class(&mut self, key: u64) -> ClassId {
        if let Some(c) = self.classes.get(&key) {
            return *c;
        }
        let c = self.core.class(key, || format!("class {key}"));
        self.classes.insert(key, c);
        c
    }

    fn arrive(&mut self, now: f64, i: usize) {
        self.report.sent += 1;
        let class = self.class(self.reqs[i].kind.class_key);
        let a = Arrival {
            priority: Priority::Default,
            deadline: None,
            tenant: None,
            class,
        };
        let mut fx = Effects::default();
        let t = self.instant(now);
        match self.core.arrive(t, a, || i, &mut fx) {
            Admit::Now(ticket) => self.send(now, i, ticket),
            Admit::Wait { id, until } => self.at_instant(until, Ev::Timer(i, id)),
            Admit::Shed(shed) => self.shed(now, i, shed, false),
        }
        self.effects(now, fx);
    }

    fn timer(&mut self, now: f64, i: usize, id: WaiterId) {
        if self.reqs[i].done || self.reqs[i].ticket.is_some() {
            return;
        }
        let mut fx = Effects::default();
        let t = self.instant(now);
        match self.core.timeout(t, id, &mut fx) {
            Waited::Granted(ticket) => self.send(now, i, ticket),
            Waited::Shed(shed) => self.shed(now, i, shed, true),
            Waited::Until(until) => self.at_instant(until, Ev::Timer(i, id)),
            Waited::Gone => {}
        }
        self.effects(now, fx);
    }

    fn effects(&mut self, now: f64, fx: Effects<usize>) {
        for (i, ticket) in fx.granted {
            self.send(now, i, ticket);
        }
        for (i, shed, _) in fx.shed {
            self.shed(now, i, shed, true);
        }
        for e in fx.events {
            self.report.events.push((now, e));
        }
    }

    fn shed(&mut self, now: f64, i: usize, shed: Shed, late: bool) {
        self.report.shed += 1;
        self.report.shed_late += usize::from(late);
        self.report.retry_after_max = self.report.retry_after_max.max(shed.retry_after);
        self.reqs[i].done = true;
        self.next_of_client(now, i);
    }

    fn send(&mut self, now: f64, i: usize, ticket: Ticket) {
        let r = &mut self.reqs[i];
        self.report.max_wait = self.report.max_wait.max(now - r.queued_at);
        r.ticket = Some(ticket);
        r.sent_at = now;
        self.in_upstream += 1;
        self.report.peak = self.report.peak.max(self.in_upstream);
        match self.upstream.clone() {
            Upstream::Parallel { slow, slow_at } => {
                let f = if now >= slow_at.as_secs_f64() {
                    slow
                } else {
                    1.0
                };
                let d = r.kind.service.sample(&mut self.rng) * f;
                self.at(now + d, Ev::Answer(i));
            }
            Upstream::Workers { .. } => {
                self.backlog.push_back(i);
                self.start_work(now);
            }
        }
    }

    fn workers_now(&self, now: f64) -> (usize, f64) {
        match self.upstream {
            Upstream::Workers {
                workers,
                change_at,
                later,
                slow,
            } => {
                if now >= change_at.as_secs_f64() {
                    (later, slow)
                } else {
                    (workers, 1.0)
                }
            }
            Upstream::Parallel { .. } => (usize::MAX, 1.0),
        }
    }

    fn start_work(&mut self, now: f64) {
        let (workers, slow) = self.workers_now(now);
        while self.busy < workers {
            let Some(i) = self.backlog.pop_front() else {
                break;
            };
            self.busy += 1;
            let d = self.reqs[i].kind.service.sample(&mut self.rng) * slow;
            self.at(now + d, Ev::Answer(i));
        }
    }

    fn free(&mut self, now: f64) {
        self.start_work(now);
    }

    fn answer(&mut self, now: f64, i: usize) {
        self.in_upstream -= 1;
        if matches!(self.upstream, Upstream::Workers { .. }) {
            self.busy -= 1;
            self.at(now, Ev::Free);
        }
        let r = &mut self.reqs[i];
        r.done = true;
        let ticket = r.ticket.take().expect("sent");
        let rtt = Duration::from_secs_f64(now - r.sent_at);
        self.report.ok += 1;
        self.report
            .latency
            .push((r.queued_at, now - r.queued_at, r.kind.class_key));
        let mut fx = Effects::default();
        let t = self.instant(now);
        self.core.complete(
            t,
            ticket,
            Some(Outcome {
                rtt,
                dropped: false,
            }),
            &mut fx,
        );
        self.effects(now, fx);
        self.next_of_client(now, i);
    }

    fn next_of_client(&mut self, now: f64, i: usize) {
        let Some(c) = self.reqs[i].client else { return };
        let (left, kind) = self.clients[c];
        if left > 0 {
            self.clients[c].0 -= 1;
            self.new_req(kind, now, Some(c));
        }
    }
}
