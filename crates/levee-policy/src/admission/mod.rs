//! Admission control as a state machine: forward, queue or shed, with time
//! and randomness as arguments.
//!
//! One [`Core`] per route holds only numbers and the queue: the limiter, the
//! requests in flight, the waiters (each with an opaque payload `W` the
//! caller gets back with its verdict), the per-class latency baselines, the
//! tenants' loads, the completion rate and the CoDel state. It never reads
//! the clock, spawns, sleeps or sends: the gateway's shell (`levee-proxy`'s
//! `admission` module) keeps the channels, the timers and the metrics, and
//! calls
//!
//! - [`Core::arrive`] when a request wants a slot → admitted now, wait until
//!   a time, or shed (with a cause and a `Retry-After`);
//! - [`Core::complete`] when an admitted request's answer head arrives (or it
//!   failed) → the slot is free, the limiter learns, waiters are granted;
//! - [`Core::timeout`] when a waiter's time comes → granted, shed, or wait on.
//!
//! Everything the shell must deliver or report comes back in [`Effects`].
//!
//! # A 503 needs evidence
//!
//! With the default [`Adaptive`] limiter the limit only *binds* once there is
//! evidence that the upstream is congested (see [`crate::limit::Adaptive`]).
//! Until then, a request that finds every slot taken waits briefly — for a
//! slot to free or the limit to grow — and if neither happens within
//! [`Core::overflow_wait`] it is admitted anyway and the limit is raised to
//! meet it: the gateway does not guess. Nothing is shed without evidence
//! (except above the limiter's hard maximum, an operator's setting).
//!
//! Once there is evidence, the queue works as a bounded wait in front of a
//! binding limit: a request is queued only if the waiters ahead of it can be
//! served within the *wait bound* (half the route's typical latency, within
//! [5 ms, `max_queue_time` / 2]) at the measured completion rate, and is
//! otherwise shed at once, in microseconds; lanes per [`Priority`], tenants'
//! max-min fair shares, callers' deadlines, CoDel's standing-queue test and
//! adaptive LIFO decide who waits, who goes first and who makes room. On the
//! moment evidence appears, waiters beyond what can be served within the bound
//! are shed at once rather than after waiting for nothing.
//!
//! # What holds a slot
//!
//! A request counts against the limit from admission until its answer's
//! *head* arrives — not while its body streams: a server-sent event stream,
//! a download or a WebSocket is an answered request, and whether streaming
//! it loads the upstream shows in the latency of the next requests' heads.
//! A request still waiting for its head far beyond the route's typical
//! latency (8 × the median, at least 1 s) while requests sent after it have
//! been answered is *parked*: a long-poll, not a full upstream; it stops
//! counting, and its eventual latency is not a sample (see `inflight.rs`).
//!
//! # Compare like with like
//!
//! Each answer's latency is judged against its own request class's baseline
//! (`classes.rs`): the shell names the class (method and normalised path);
//! the core keeps a bounded table. Baselines learn only from answers that do
//! not themselves look congested and arrive while there is no evidence, so
//! sustained overload cannot teach them that slow is normal; when latency
//! rises at every concurrency alike (the upstream itself got slower), the
//! limiter says so and the baselines are scaled instead.
//!
//! # Observe mode
//!
//! With [`Mode::Observe`] the core computes the limit and the evidence as
//! usual, but admits every request at once; each one it would have shed is
//! reported as an [`Event::WouldShed`]. For introducing Levee in front of a
//! live service.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use levee_policy::admission::{Admit, AdmissionSpec, Arrival, Core, Effects, Outcome, Priority};
//!
//! # #[allow(clippy::disallowed_methods)] let t = Instant::now();
//! let mut core: Core<()> = Core::new(AdmissionSpec::default(), 7)?;
//! let class = core.class(1, || "GET /".to_owned());
//! let mut fx = Effects::default();
//! let arrival = Arrival { priority: Priority::Default, deadline: None, tenant: None, class };
//! let Admit::Now(ticket) = core.arrive(t, arrival, || (), &mut fx) else { unreachable!() };
//! let answered = t + Duration::from_millis(20);
//! core.complete(answered, ticket, Some(Outcome { rtt: Duration::from_millis(20), dropped: false }), &mut fx);
//! assert_eq!(core.in_flight(), 0);
//! # Ok::<(), levee_policy::ConfigError>(())
//! ```

mod classes;
mod fair;
mod inflight;
mod queue;

#[cfg(test)]
mod props;
#[cfg(test)]
mod sim;
#[cfg(test)]
mod tests;

use std::time::{Duration, Instant};

pub use classes::{ClassId, ClassView, OTHER};

use crate::ConfigError;
use crate::codel::{Codel, CodelConfig};
use crate::drain::{DrainConfig, DrainRate};
use crate::limit::{Adaptive, Evidence, Limiter, LimiterConfig, Observation, Sample, Signal};
use classes::Classes;
use fair::Tenants;
use inflight::{Entry, InFlight};
use queue::{Queue, Waiter};

/// A tenant, as an opaque hash of its key (the gateway hashes it).
pub type TenantKey = u64;

/// A queued request's name, for [`Core::timeout`] and [`Core::cancel`].
pub type WaiterId = u64;

/// A request's class; lower classes are shed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Priority {
    /// Shed only when nothing else is left (health checks, payments).
    Critical = 0,
    /// Everything not marked otherwise.
    #[default]
    Default = 1,
    /// Shed first (batch jobs, prefetches, analytics).
    Sheddable = 2,
}

impl Priority {
    /// Parses `critical`, `default` or `sheddable` (case-insensitive).
    pub fn parse(s: &str) -> Option<Priority> {
        match s.trim().to_ascii_lowercase().as_str() {
            "critical" => Some(Priority::Critical),
            "default" => Some(Priority::Default),
            "sheddable" => Some(Priority::Sheddable),
            _ => None,
        }
    }

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Critical => "critical",
            Priority::Default => "default",
            Priority::Sheddable => "sheddable",
        }
    }
}

/// Why a request was shed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShedCause {
    /// More were waiting than can be served within the wait bound at the
    /// measured completion rate (or `max_queue`, or a standing queue in the
    /// CoDel sense), and nothing queued would be served after it.
    QueueFull,
    /// It waited its maximum queue time.
    QueueTimeout,
    /// A request that goes before it (higher priority, or a tenant holding
    /// fewer slots) took its place in a full queue.
    Evicted,
    /// Its caller's deadline would pass before it could be served.
    Deadline,
    /// Under congestion, its tenant already held or awaited its fair share.
    FairShare,
}

impl ShedCause {
    /// The label used in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ShedCause::QueueFull => "queue_full",
            ShedCause::QueueTimeout => "queue_timeout",
            ShedCause::Evicted => "evicted",
            ShedCause::Deadline => "deadline",
            ShedCause::FairShare => "fair_share",
        }
    }
}

/// A request turned away; answered `503 overloaded`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shed {
    /// Why.
    pub cause: ShedCause,
    /// When to come back (whole seconds, jittered, within the configured bounds).
    pub retry_after: Duration,
}

/// Whether the core enforces its decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Queue and shed (the default).
    #[default]
    Enforce,
    /// Admit everything; report what would have been shed.
    Observe,
}

/// Admission settings of one route.
#[derive(Debug, Clone, PartialEq)]
pub struct AdmissionSpec {
    /// The limiter (default [`crate::limit::Adaptive`]).
    pub limiter: LimiterConfig,
    /// Enforce or only observe (default enforce).
    pub mode: Mode,
    /// Most requests waiting while the limit binds (default 256).
    pub max_queue: usize,
    /// Longest a request waits for a slot while the limit binds (default 50 ms).
    pub max_queue_time: Duration,
    /// Shortest `Retry-After` given to a shed request (default 1 s).
    pub retry_after_min: Duration,
    /// Longest `Retry-After` given to a shed request (default 30 s).
    pub retry_after_max: Duration,
    /// CoDel target sojourn (default 5 ms).
    pub codel_target: Duration,
    /// CoDel interval (default 100 ms).
    pub codel_interval: Duration,
    /// Request classes with their own latency baseline (default 32; the rest
    /// share "other").
    pub max_classes: usize,
}

impl Default for AdmissionSpec {
    fn default() -> AdmissionSpec {
        AdmissionSpec {
            limiter: LimiterConfig::default(),
            mode: Mode::Enforce,
            max_queue: 256,
            max_queue_time: Duration::from_millis(50),
            retry_after_min: Duration::from_secs(1),
            retry_after_max: Duration::from_secs(30),
            codel_target: Duration::from_millis(5),
            codel_interval: Duration::from_millis(100),
            max_classes: 32,
        }
    }
}

/// A request asking for a slot.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    /// Its priority.
    pub priority: Priority,
    /// When its caller gives up, if known.
    pub deadline: Option<Instant>,
    /// Whom it belongs to, on a route with tenants.
    pub tenant: Option<TenantKey>,
    /// Its request class (see [`Core::class`]).
    pub class: ClassId,
}

/// An admitted request's slot. Give it back with [`Core::complete`] exactly
/// once; it cannot be copied.
#[derive(Debug, PartialEq, Eq)]
pub struct Ticket {
    slot: u32,
    generation: u32,
    /// Requests counting against the limit when it was admitted, itself included.
    pub inflight: usize,
    /// The limit then.
    pub limit: usize,
    /// How long it waited in the queue.
    pub waited: Duration,
}

/// How an admitted request ended, for the limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Time from sending it (its body fully sent) to its answer's head.
    pub rtt: Duration,
    /// The upstream dropped it: a timeout, a connection error, its own 503.
    pub dropped: bool,
}

/// The answer to [`Core::arrive`].
#[derive(Debug)]
pub enum Admit {
    /// Go now.
    Now(Ticket),
    /// Queued: the verdict comes in [`Effects`] of a later call, or ask
    /// [`Core::timeout`] at `until`.
    Wait {
        /// Its name.
        id: WaiterId,
        /// When to ask [`Core::timeout`] if nothing came before.
        until: Instant,
    },
    /// Turned away.
    Shed(Shed),
}

/// The answer to [`Core::timeout`].
#[derive(Debug)]
pub enum Waited {
    /// Go now.
    Granted(Ticket),
    /// Turned away.
    Shed(Shed),
    /// Still queued: ask again at this time.
    Until(Instant),
    /// No longer queued: its verdict was (or is in this call's) [`Effects`].
    Gone,
}

/// Something worth logging or counting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event {
    /// Latency rose: requests beyond the limit wait for a verdict.
    Suspect {
        /// The median latency ratio that raised the suspicion.
        ratio: f64,
    },
    /// It stayed up: the limit was cut to see whether latency follows it.
    Probe {
        /// The median latency ratio before the cut.
        ratio: f64,
        /// The limit during the experiment.
        cut: usize,
    },
    /// Evidence of congestion: the limit binds from now on.
    Congested {
        /// What showed it.
        evidence: Evidence,
        /// The limit set on it.
        limit: usize,
        /// Requests counting against it.
        in_flight: usize,
    },
    /// The evidence ended: the limit no longer binds.
    Clear {
        /// The median latency ratio that ended it.
        ratio: f64,
        /// The limit.
        limit: usize,
    },
    /// Latency changed at every concurrency: the baselines were scaled.
    Rebased {
        /// By this factor.
        factor: f64,
    },
    /// In observe mode: a request that would have been shed was admitted.
    WouldShed {
        /// Why it would have been shed.
        cause: ShedCause,
        /// Its priority.
        priority: Priority,
    },
    /// A long-lived request stopped counting against the limit.
    Parked,
}

/// What a call produced that the caller must deliver or report.
#[derive(Debug)]
pub struct Effects<W> {
    /// Waiters granted a slot: send each its ticket (or, if it has gone,
    /// give the ticket back with [`Core::complete`] and no outcome).
    pub granted: Vec<(W, Ticket)>,
    /// Waiters shed.
    pub shed: Vec<(W, Shed, Priority)>,
    /// Transitions and counts.
    pub events: Vec<Event>,
}

impl<W> Default for Effects<W> {
    fn default() -> Self {
        Self {
            granted: Vec::new(),
            shed: Vec::new(),
            events: Vec::new(),
        }
    }
}

impl<W> Effects<W> {
    /// Whether there is nothing to deliver or report.
    pub fn is_empty(&self) -> bool {
        self.granted.is_empty() && self.shed.is_empty() && self.events.is_empty()
    }
}

/// The limiter. One per route, built once and never moved on the request
/// path, so the adaptive one stays inline rather than behind a pointer.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
enum Controller {
    Adaptive(Adaptive),
    Classic(Box<dyn Limiter>),
}

/// How far past the route's typical latency a request may wait for its head
/// before it is parked, and the least such wait.
const PARK_FACTOR: u32 = 8;
/// See `PARK_FACTOR`.
const PARK_MIN: Duration = Duration::from_secs(1);
/// See `PARK_FACTOR`.
const PARK_MAX: Duration = Duration::from_secs(60);
/// How long a request waits without evidence before it is let through, in
/// typical latencies, within bounds; before anything was answered, the default.
const OVERFLOW_FACTOR: u32 = 4;
/// See `OVERFLOW_FACTOR`.
const OVERFLOW_MIN: Duration = Duration::from_millis(20);
/// See `OVERFLOW_FACTOR`.
const OVERFLOW_MAX: Duration = Duration::from_millis(500);
/// See `OVERFLOW_FACTOR`.
const OVERFLOW_COLD: Duration = Duration::from_millis(100);

/// One route's admission state. See the [module docs](self).
#[derive(Debug)]
pub struct Core<W> {
    spec: AdmissionSpec,
    controller: Controller,
    inflight: InFlight,
    queue: Queue<W>,
    codel: Codel,
    drain: DrainRate,
    tenants: Tenants,
    classes: Classes,
    next_waiter: WaiterId,
    rng: u64,
    /// The latest admission time among requests answered (not dropped): a
    /// request admitted before it and still waiting is not waiting for a
    /// stalled upstream.
    progress: Option<Instant>,
}

impl<W> Core<W> {
    /// A core for one route; `seed` feeds the `Retry-After` jitter. Fails
    /// when a setting is out of range.
    pub fn new(spec: AdmissionSpec, seed: u64) -> Result<Self, ConfigError> {
        let controller = match spec.limiter {
            LimiterConfig::Adaptive(c) => Controller::Adaptive(Adaptive::new(c)?),
            other => Controller::Classic(other.build()?),
        };
        let codel = Codel::new(CodelConfig {
            target: spec.codel_target,
            interval: spec.codel_interval,
        })?;
        Ok(Self {
            classes: Classes::new(spec.max_classes),
            spec,
            controller,
            inflight: InFlight::default(),
            queue: Queue::default(),
            codel,
            drain: DrainRate::new(DrainConfig::default())?,
            tenants: Tenants::default(),
            next_waiter: 0,
            rng: seed | 1,
            progress: None,
        })
    }

    /// The settings.
    pub fn spec(&self) -> &AdmissionSpec {
        &self.spec
    }

    /// The current limit.
    pub fn limit(&self) -> usize {
        match &self.controller {
            Controller::Adaptive(a) => a.limit(),
            Controller::Classic(l) => l.limit(),
        }
    }

    /// Requests counting against the limit.
    pub fn in_flight(&self) -> usize {
        self.inflight.counted()
    }

    /// Requests waiting.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Whether the limit binds: there is evidence of congestion (always, for
    /// the classic limiters).
    pub fn binding(&self) -> bool {
        match &self.controller {
            Controller::Adaptive(a) => a.binding(),
            Controller::Classic(_) => true,
        }
    }

    /// The median latency ratio (latency ÷ class baseline) of recent answers.
    pub fn ratio(&self) -> Option<f64> {
        match &self.controller {
            Controller::Adaptive(a) => a.ratio(),
            Controller::Classic(_) => None,
        }
    }

    /// The route's typical latency to the answer head, if known.
    pub fn typical(&self) -> Option<Duration> {
        match &self.controller {
            Controller::Adaptive(a) => a.typical_rtt(),
            Controller::Classic(l) => l.no_load_rtt(),
        }
    }

    /// The class of requests with `key` (the gateway hashes method and
    /// normalised path), registered under `name()` when new.
    pub fn class(&mut self, key: u64, name: impl FnOnce() -> String) -> ClassId {
        self.classes.id(key, name)
    }

    /// The classes and their baselines, "other" first.
    pub fn classes(&self) -> impl Iterator<Item = ClassView> + '_ {
        self.classes.views()
    }

    /// How long a request waits for a slot without evidence of congestion
    /// before it is admitted anyway: 4 × the typical latency within
    /// [20 ms, 500 ms]; 100 ms before anything was answered.
    pub fn overflow_wait(&self) -> Duration {
        self.typical().map_or(OVERFLOW_COLD, |t| {
            t.saturating_mul(OVERFLOW_FACTOR)
                .clamp(OVERFLOW_MIN, OVERFLOW_MAX)
        })
    }

    /// Admits, queues or sheds a request arriving at `now`. `waiter` makes
    /// the payload kept while it waits (called only if it does).
    pub fn arrive(
        &mut self,
        now: Instant,
        a: Arrival,
        waiter: impl FnOnce() -> W,
        fx: &mut Effects<W>,
    ) -> Admit {
        let limit = self.limit();
        if self.inflight.counted() >= limit {
            self.park(now, fx);
        }
        if self.inflight.counted() < limit && self.queue.is_empty() {
            return Admit::Now(self.admit(now, &a, Duration::ZERO));
        }
        if self.spec.mode == Mode::Observe {
            if self.binding() {
                if let Some(cause) = self.would_shed(now, &a) {
                    fx.events.push(Event::WouldShed {
                        cause,
                        priority: a.priority,
                    });
                }
            } else {
                self.raise_to(self.inflight.counted() + 1);
            }
            return Admit::Now(self.admit(now, &a, Duration::ZERO));
        }
        let give_up = self.give_up_at(now, a.deadline);
        if !self.binds() {
            // No evidence: wait for a slot or a higher limit, briefly.
            if self.suspect() && self.queue.len() >= self.suspect_room(now) {
                // An experiment is deciding whether the upstream is full;
                // more waiters than it completes meanwhile would wait in
                // vain either way.
                return Admit::Shed(self.shed(now, ShedCause::QueueFull));
            }
            if self.queue.len() >= self.spec.max_queue {
                if self.suspect() {
                    // The limit cannot follow demand while an experiment runs.
                    return Admit::Shed(self.shed(now, ShedCause::QueueFull));
                }
                self.raise_to(self.inflight.counted() + 1);
                return Admit::Now(self.admit(now, &a, Duration::ZERO));
            }
            let overflow = now + self.overflow_wait();
            let until = match a.deadline {
                Some(d) => overflow.min(now + d.saturating_duration_since(now) / 2),
                None => overflow,
            };
            return self.enqueue(now, a, give_up, until, waiter);
        }
        if let Some(cause) = self.refusal(now, &a) {
            return Admit::Shed(self.shed(now, cause));
        }
        // A standing queue (CoDel) means demand exceeds capacity: another
        // waiter would only add latency, and under LIFO it would push the
        // older waiters past their time. So nobody new joins it until it has
        // drained, except in place of a waiter that would be served after the
        // newcomer anyway: a lower priority's, or (same priority) one of a
        // tenant holding more slots. The same when the queue is full.
        if self.codel.is_congested(now) || self.queue.len() >= self.spec.max_queue {
            let held = self.tenants.held(a.tenant);
            match self.queue.evict_for(a.priority, held, &self.tenants) {
                Some(victim) => self.shed_waiter(now, victim, ShedCause::Evicted, fx),
                None => return Admit::Shed(self.shed(now, ShedCause::QueueFull)),
            }
        }
        let until = give_up.0;
        self.enqueue(now, a, give_up, until, waiter)
    }

    /// Gives back an admitted request's slot at `now`, with its outcome if it
    /// reached the upstream; grants freed slots to waiters.
    pub fn complete(
        &mut self,
        now: Instant,
        ticket: Ticket,
        outcome: Option<Outcome>,
        fx: &mut Effects<W>,
    ) {
        let Some(entry) = self.inflight.remove(ticket.slot, ticket.generation) else {
            return;
        };
        self.drain.on_complete(now);
        if entry.counted {
            if let Some(t) = entry.tenant {
                self.tenants.released(t);
            }
            if let Some(o) = outcome {
                if !o.dropped {
                    self.progress = Some(self.progress.map_or(entry.sent, |p| p.max(entry.sent)));
                }
                self.learn(now, &entry, &ticket, o, fx);
            }
        }
        self.fill(now, fx);
    }

    /// A waiter's time came (the `until` it was given): grant it (no
    /// evidence: the limit follows it), shed it (its time is up), or tell it
    /// when to ask again.
    pub fn timeout(&mut self, now: Instant, id: WaiterId, fx: &mut Effects<W>) -> Waited {
        if self.queue.get(id).is_none() {
            return Waited::Gone;
        }
        self.park(now, fx);
        self.fill(now, fx);
        let Some(w) = self.queue.get(id) else {
            return Waited::Gone;
        };
        if !self.binds() {
            if self.suspect() {
                // The last window looked congested; the next one decides.
                // Letting waiters through now would feed the queue it
                // shows, and the limit cannot follow them meanwhile. One
                // that waited three overflow waits for a verdict that does
                // not come (nothing is being answered) is answered itself.
                if now < w.enqueued + self.overflow_wait().saturating_mul(3) {
                    return Waited::Until(now + self.overflow_wait() / 2);
                }
                self.dequeue(id);
                return Waited::Shed(self.shed(now, ShedCause::QueueTimeout));
            }
            let w = self.dequeue(id);
            self.raise_to(self.inflight.counted() + 1);
            return match w {
                Some(w) => {
                    let a = Arrival {
                        priority: w.priority,
                        deadline: None,
                        tenant: w.tenant,
                        class: w.class,
                    };
                    Waited::Granted(self.admit(now, &a, now.saturating_duration_since(w.enqueued)))
                }
                None => Waited::Gone,
            };
        }
        if now < w.give_up {
            return Waited::Until(w.give_up);
        }
        let cause = if w.deadline {
            ShedCause::Deadline
        } else {
            ShedCause::QueueTimeout
        };
        self.dequeue(id);
        Waited::Shed(self.shed(now, cause))
    }

    /// Removes a waiter whose caller went away; returns its payload.
    pub fn cancel(&mut self, id: WaiterId) -> Option<W> {
        self.dequeue(id).map(|w| w.payload)
    }

    fn dequeue(&mut self, id: WaiterId) -> Option<Waiter<W>> {
        let w = self.queue.remove(id)?;
        if let Some(t) = w.tenant {
            self.tenants.dequeued(t, false);
        }
        Some(w)
    }

    fn enqueue(
        &mut self,
        now: Instant,
        a: Arrival,
        give_up: (Instant, bool),
        until: Instant,
        waiter: impl FnOnce() -> W,
    ) -> Admit {
        let id = self.next_waiter;
        self.next_waiter += 1;
        self.queue.push(Waiter {
            id,
            payload: waiter(),
            enqueued: now,
            give_up: give_up.0,
            deadline: give_up.1,
            priority: a.priority,
            tenant: a.tenant,
            class: a.class,
        });
        if let Some(t) = a.tenant {
            self.tenants.queued(t);
        }
        Admit::Wait { id, until }
    }

    fn admit(&mut self, now: Instant, a: &Arrival, waited: Duration) -> Ticket {
        let limit = self.limit();
        let (slot, generation) = self.inflight.insert(Entry {
            sent: now,
            class: a.class,
            tenant: a.tenant,
            counted: true,
        });
        if let Some(t) = a.tenant {
            self.tenants.admitted(t);
        }
        Ticket {
            slot,
            generation,
            inflight: self.inflight.counted(),
            limit,
            waited,
        }
    }

    /// Whether the limit binds for a newcomer now: evidence, or the
    /// limiter's hard maximum reached.
    fn binds(&self) -> bool {
        match &self.controller {
            Controller::Adaptive(a) => {
                a.binding() || self.inflight.counted() >= a.config().bounds.max
            }
            Controller::Classic(_) => true,
        }
    }

    /// How many may wait while an experiment runs: what the upstream
    /// completes in half an overflow wait, about the experiment's length
    /// (at least 16).
    fn suspect_room(&self, now: Instant) -> usize {
        let rate = self.drain.rate(now);
        ((rate * self.overflow_wait().as_secs_f64() / 2.0) as usize).max(16)
    }

    /// Whether congestion is suspected and not yet decided: waiting requests
    /// are held, not let through.
    pub fn suspect(&self) -> bool {
        match &self.controller {
            Controller::Adaptive(a) => a.suspect(),
            Controller::Classic(_) => false,
        }
    }

    fn raise_to(&mut self, n: usize) {
        if let Controller::Adaptive(a) = &mut self.controller {
            a.raise_to(n);
        }
    }

    /// Why a newcomer would be shed at once while the limit binds, if it would.
    fn refusal(&self, now: Instant, a: &Arrival) -> Option<ShedCause> {
        // Congested: a tenant at its fair share gives way to the others.
        if let Some(t) = a.tenant
            && self.tenants.over_share(t, self.limit())
        {
            return Some(ShedCause::FairShare);
        }
        // Queue only what can be served within the bound: a request that
        // would time out in the queue is told so now, in microseconds,
        // instead of after waiting for nothing.
        let expected = self.expected_wait(now, a.priority, a.tenant);
        if expected > self.wait_bound() {
            return Some(ShedCause::QueueFull);
        }
        if let Some(d) = a.deadline
            && d.saturating_duration_since(now) <= expected
        {
            return Some(ShedCause::Deadline);
        }
        None
    }

    /// In observe mode (nothing is ever queued): what an enforcing core would
    /// have done with a newcomer finding the limit full, estimated from the
    /// requests in flight above the limit as if they were queued.
    fn would_shed(&self, now: Instant, a: &Arrival) -> Option<ShedCause> {
        if let Some(t) = a.tenant
            && self.tenants.over_share(t, self.limit())
        {
            return Some(ShedCause::FairShare);
        }
        let excess = self.inflight.counted() + 1 - self.limit().min(self.inflight.counted());
        let rate = self.drain.rate(now);
        let expected = if rate > 0.0 {
            Duration::try_from_secs_f64(excess as f64 / rate).unwrap_or(Duration::MAX)
        } else {
            Duration::MAX
        };
        if expected > self.wait_bound() {
            return Some(ShedCause::QueueFull);
        }
        match a.deadline {
            Some(d) if d.saturating_duration_since(now) <= expected => Some(ShedCause::Deadline),
            _ => None,
        }
    }

    /// Feeds one answer to the limiter and the class baselines.
    fn learn(
        &mut self,
        now: Instant,
        entry: &Entry,
        ticket: &Ticket,
        o: Outcome,
        fx: &mut Effects<W>,
    ) {
        match &mut self.controller {
            Controller::Adaptive(a) => {
                let judged = if o.dropped {
                    None
                } else {
                    self.classes.judge(entry.class, o.rtt)
                };
                let signal = a.on_sample(
                    now,
                    Observation {
                        rtt: o.rtt,
                        ratio: judged.map(|j| j.0),
                        rank: judged.map(|j| j.1),
                        inflight: ticket.inflight,
                        limit: ticket.limit,
                        dropped: o.dropped,
                    },
                );
                // Baselines learn from answers sent with at most half the
                // limit in flight (the gateway was not what filled the
                // upstream), and never during an experiment or under
                // evidence: overload must not teach them that slow is
                // normal. The choice is by concurrency, never by value:
                // "teach only what looks normal" would erode a baseline
                // (never taught its own upper tail, it shrinks until
                // everything looks slow) and make a mixed class one-sided.
                let young = self.classes.young(entry.class);
                let teach = !o.dropped
                    && !a.binding()
                    && !a.suspect()
                    && (young || ticket.inflight * 2 <= ticket.limit);
                self.classes.learn(entry.class, o.rtt, teach);
                let limit = a.limit();
                match signal {
                    Some(Signal::Congested(evidence)) => {
                        fx.events.push(Event::Congested {
                            evidence,
                            limit,
                            in_flight: self.inflight.counted(),
                        });
                        self.trim(now, fx);
                    }
                    Some(Signal::Suspect { ratio, .. }) => {
                        fx.events.push(Event::Suspect { ratio });
                        self.hold(now, fx);
                    }
                    Some(Signal::Probe { ratio, cut }) => {
                        fx.events.push(Event::Probe { ratio, cut })
                    }
                    Some(Signal::Clear { ratio }) => fx.events.push(Event::Clear { ratio, limit }),
                    Some(Signal::Rebase(factor)) => {
                        self.classes.scale(factor);
                        fx.events.push(Event::Rebased { factor });
                    }
                    None => {}
                }
            }
            Controller::Classic(l) => {
                l.on_sample(
                    now,
                    Sample {
                        rtt: o.rtt,
                        inflight: ticket.inflight,
                        limit: ticket.limit,
                        dropped: o.dropped,
                    },
                );
                self.classes.learn(entry.class, o.rtt, !o.dropped);
            }
        }
    }

    /// Grants free slots to waiters, highest lane and lightest tenant first;
    /// newest first while the queue stands (CoDel) or congestion is
    /// suspected: the freshest requests' clients are certainly still waiting,
    /// and the oldest would be answered late whatever happens.
    fn fill(&mut self, now: Instant, fx: &mut Effects<W>) {
        let lifo = self.codel.is_congested(now) || self.suspect();
        while self.inflight.counted() < self.limit() {
            let Some(w) = self.queue.pop_fair(lifo, &self.tenants) else {
                self.codel.on_empty(now);
                break;
            };
            let sojourn = now.saturating_duration_since(w.enqueued);
            if let Some(t) = w.tenant {
                self.tenants.dequeued(t, false);
            }
            let a = Arrival {
                priority: w.priority,
                deadline: None,
                tenant: w.tenant,
                class: w.class,
            };
            let ticket = self.admit(now, &a, sojourn);
            self.codel.on_dequeue(now, sojourn);
            fx.granted.push((w.payload, ticket));
        }
    }

    /// On the moment evidence appears: shed at once the waiters that waited
    /// past their give-up time while the experiment ran (answered now, they
    /// would be answered late) and those that cannot be served within the
    /// wait bound, newest and lowest first.
    fn trim(&mut self, now: Instant, fx: &mut Effects<W>) {
        let rate = self.drain.rate(now);
        let bound = self.wait_bound().as_secs_f64();
        let over = self.inflight.counted().saturating_sub(self.limit());
        let servable = if rate > 0.0 {
            ((rate * bound) as usize).saturating_sub(over)
        } else {
            0
        };
        for w in self.queue.drain_expired(now) {
            self.shed_waiter(now, w, ShedCause::QueueTimeout, fx);
        }
        while self.queue.len() > servable {
            let Some(w) = self.queue.pop_last() else {
                break;
            };
            self.shed_waiter(now, w, ShedCause::QueueFull, fx);
        }
    }

    /// On the moment congestion is suspected: keep only as many waiters as
    /// the upstream completes while the verdict is out (the newest; the
    /// oldest would be answered late whatever it is).
    fn hold(&mut self, now: Instant, fx: &mut Effects<W>) {
        let room = self.suspect_room(now);
        while self.queue.len() > room {
            let Some(w) = self.queue.pop_oldest() else {
                break;
            };
            let cause = if w.give_up <= now {
                ShedCause::QueueTimeout
            } else {
                ShedCause::QueueFull
            };
            self.shed_waiter(now, w, cause, fx);
        }
    }

    fn shed_waiter(&mut self, now: Instant, w: Waiter<W>, cause: ShedCause, fx: &mut Effects<W>) {
        if let Some(t) = w.tenant {
            self.tenants.dequeued(t, false);
        }
        let shed = self.shed(now, cause);
        fx.shed.push((w.payload, shed, w.priority));
    }

    /// Parks the long-lived: requests waiting for their head far beyond the
    /// route's typical latency while later ones were answered.
    fn park(&mut self, now: Instant, fx: &mut Effects<W>) {
        let (Controller::Adaptive(a), Some(progress)) = (&self.controller, self.progress) else {
            return;
        };
        let after = a.typical_rtt().map_or(PARK_MIN, |t| {
            t.saturating_mul(PARK_FACTOR).clamp(PARK_MIN, PARK_MAX)
        });
        while let Some(e) = self.inflight.oldest() {
            if e.sent >= progress || now.saturating_duration_since(e.sent) < after {
                break;
            }
            if let Some(parked) = self.inflight.park_oldest()
                && let Some(t) = parked.tenant
            {
                self.tenants.released(t);
            }
            fx.events.push(Event::Parked);
        }
    }

    /// The longest wait a newcomer may *expect* and still be queued while
    /// the limit binds: half the route's unloaded latency (queueing longer
    /// than the service itself takes only adds latency; the queue bridges
    /// gaps between arrivals, it does not hold a backlog), within [CoDel's
    /// target, `max_queue_time` / 2].
    fn wait_bound(&self) -> Duration {
        let most = self.spec.max_queue_time / 2;
        let least = self.spec.codel_target.min(most);
        let no_load = match &self.controller {
            Controller::Adaptive(a) => a.no_load_rtt().or_else(|| a.typical_rtt()),
            Controller::Classic(l) => l.no_load_rtt(),
        };
        no_load.map_or(most, |t| (t / 2).clamp(least, most))
    }

    /// When a request queued now is given up on while the limit binds, and
    /// whether that is its caller's deadline: twice the wait bound plus four
    /// gaps between completions at the measured rate, at most
    /// `max_queue_time`. Its expected wait was within the bound; the slack
    /// absorbs the randomness of completions, so a request the gateway chose
    /// to queue is served and a shed is (almost) always decided at arrival.
    fn give_up_at(&self, now: Instant, deadline: Option<Instant>) -> (Instant, bool) {
        let rate = self.drain.rate(now);
        let gaps = if rate > 0.0 {
            Duration::try_from_secs_f64(4.0 / rate).unwrap_or(self.spec.max_queue_time)
        } else {
            Duration::ZERO
        };
        let own = now
            + (self.wait_bound().saturating_mul(2))
                .saturating_add(gaps)
                .min(self.spec.max_queue_time);
        match deadline {
            Some(d) if d < own => (d, true),
            _ => (own, false),
        }
    }

    /// The wait a newcomer of `priority` (and `tenant`) can expect: the
    /// waiters that will be served before it at the current completion rate.
    /// Under fairness a tenant that holds few slots goes before waiters of
    /// tenants that hold more, so only those count. Before anything has
    /// completed there is no rate: a newcomer may then wait for one turn of
    /// the slots (fewer waiters ahead of it than the limit), no more.
    fn expected_wait(
        &self,
        now: Instant,
        priority: Priority,
        tenant: Option<TenantKey>,
    ) -> Duration {
        let held = self.tenants.held(tenant);
        let ahead = self.queue.ahead_of_fair(priority, held, &self.tenants);
        let rate = self.drain.rate(now);
        if rate > 0.0 {
            Duration::try_from_secs_f64((ahead + 1) as f64 / rate).unwrap_or(Duration::MAX)
        } else if ahead < self.limit() {
            Duration::ZERO
        } else {
            Duration::MAX
        }
    }

    fn shed(&mut self, now: Instant, cause: ShedCause) -> Shed {
        let (min, max) = (self.spec.retry_after_min, self.spec.retry_after_max);
        let jitter = self.jitter();
        // With no measured rate there is nothing to promise but the minimum:
        // never a long Retry-After for want of data.
        let retry_after = if self.drain.rate(now) > 0.0 {
            self.drain
                .retry_after(now, self.queue.len(), min, max, jitter)
        } else {
            self.drain.retry_after(now, 0, min, min, jitter)
        };
        Shed { cause, retry_after }
    }

    /// A uniform sample in [0, 1) from the core's own generator (xorshift).
    fn jitter(&mut self) -> f64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}
