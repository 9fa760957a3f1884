//! Admission control: forward, queue, or shed — decided in microseconds.
//!
//! Each route with admission has one [`Admission`]: a concurrency limit set by
//! an adaptive limiter (from `levee-policy`), a short wait queue in front of
//! it, and the shedding rule. A request either gets a [`Permit`] at once
//! (fewer than `limit` in flight and nobody waiting), waits in the queue for a
//! bounded time, or is shed with a `Retry-After` computed from how fast the
//! queue actually drains (queued work ÷ recent completion rate).
//!
//! # Shedding at arrival
//!
//! A request is queued only if the waiters that will be served before it can
//! be served within the *wait bound* (half the upstream's no-load latency) at
//! the measured completion rate; otherwise it is shed at once. Once queued,
//! it is given up on only after twice the bound plus a few completion gaps,
//! so that what the gateway chose to queue is served: a `503` is decided on
//! arrival, in microseconds, and almost never after a wait for nothing. (A
//! queued request is still shed when its caller's deadline passes, when the
//! upstream slowed down so much that it waited past that, or when a request
//! that goes before it takes its place in a full queue.)
//!
//! The queue has one lane per [`Priority`]; a released slot goes to the
//! highest non-empty lane. When the queue is full, a newcomer takes the place
//! of the newest waiter of a *lower* lane (or, on a route with tenants, of the
//! newest waiter of the tenant holding the most slots, if that is more than
//! the newcomer's), so `sheddable` goes first and `critical` only when nothing
//! else is left. Within a lane the order is FIFO, switched to LIFO while the
//! queue is congested in the CoDel sense (every request dequeued over an
//! interval waited more than a target): the freshest requests, whose clients
//! are certainly still waiting, are served first. A standing queue means
//! demand exceeds capacity, so while it lasts nobody new joins it (except in a
//! lower waiter's place, as when it is full): a new waiter would only add
//! latency, and under LIFO it would push the older ones past their time,
//! turning immediate sheds into late ones.
//!
//! The [`Permit`] releases its slot on drop. It rides inside the response
//! body (see `body.rs`), so a streaming response still counts against the
//! limit; its latency sample (time to response head, and whether the answer
//! was a drop: an error, a timeout or an upstream 503) feeds the limiter.
//!
//! # Tenant fairness
//!
//! On a route with a tenant key (see [`crate::tenant`]), each request
//! carries its tenant, and the state counts, per tenant, the slots it holds
//! and the requests it has waiting (a small map; an entry is removed when
//! both reach zero, so it only ever holds the tenants competing right now).
//! Fairness applies under congestion only — while a slot is free and nobody
//! waits, anyone is admitted, so one tenant alone may use the whole limit:
//!
//! - **On arrival**, a tenant whose held + waiting requests already reach its
//!   fair share is shed at once ([`ShedCause::FairShare`]) instead of
//!   queueing. The share is max-min fair: at least `⌈limit / active
//!   tenants⌉` (itself counted), and what tenants needing less than that
//!   leave is split among the others. So a noisy tenant's excess never fills
//!   the queue in front of the others, it absorbs the shedding its own load
//!   causes, and a quiet tenant's occasional burst above an equal split is
//!   not shed while the other quiet tenants leave room. Its expected wait
//!   counts only the waiters that go before it (below).
//! - **On release**, the freed slot goes to the highest non-empty lane as
//!   before, and within that lane to the waiter whose tenant holds the fewest
//!   slots (ties in the lane's FIFO/LIFO order). A quiet tenant's request
//!   therefore jumps a noisy tenant's queue, and holdings converge on equal
//!   shares. Priority still comes first: fairness never serves a
//!   `sheddable` request before a `default` one.
//!
//! Weights are left out: every tenant's share is equal. The choice scans one
//! lane (at most `max_queue` entries) under the route's mutex; without
//! tenants the first candidate wins at once, so routes without a tenant key
//! pay nothing. Per-tenant *rates* are a separate check that runs before
//! admission (see [`crate::ratelimit`]).
//!
//! Locking: one short mutex per route, never held across an await and never
//! global. This module must not know about HTTP beyond the priority and an
//! opaque tenant key.

mod fair;
pub(crate) mod metrics;
mod queue;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

pub use metrics::AdmissionMetrics;
use queue::{Queue, Waiter};

use levee_policy::codel::{Codel, CodelConfig};
use levee_policy::drain::{DrainConfig, DrainRate};
use levee_policy::limit::{Limiter, LimiterConfig, Sample};

use crate::tenant::TenantKey;

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
    /// The queue was full (`max_queue`, more waiting than can be served
    /// within the wait bound at the measured completion rate, or a standing
    /// queue in the CoDel sense) and held nothing that would be served after
    /// the newcomer.
    QueueFull,
    /// It waited its maximum queue time.
    QueueTimeout,
    /// A request that goes before it (higher priority, or a tenant holding
    /// fewer slots) took its place in a full queue.
    Evicted,
    /// Its caller's deadline would pass before it could be served.
    Deadline,
    /// Under congestion, its tenant already held or awaited its fair share
    /// of the limit.
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
#[derive(Debug, Clone, Copy)]
pub struct Shed {
    /// Why.
    pub cause: ShedCause,
    /// When to come back (whole seconds, jittered, within the configured bounds).
    pub retry_after: Duration,
}

/// Admission settings of one route.
#[derive(Debug, Clone, PartialEq)]
pub struct AdmissionSpec {
    /// The route's limiter and its settings (validated by the control plane).
    pub limiter: LimiterConfig,
    /// Most requests waiting (default 256).
    pub max_queue: usize,
    /// Longest a request waits for a slot (default 50 ms).
    pub max_queue_time: Duration,
    /// Shortest `Retry-After` given to a shed request (default 1 s).
    pub retry_after_min: Duration,
    /// Longest `Retry-After` given to a shed request (default 30 s).
    pub retry_after_max: Duration,
    /// CoDel target sojourn (default 5 ms).
    pub codel_target: Duration,
    /// CoDel interval (default 100 ms).
    pub codel_interval: Duration,
}

impl Default for AdmissionSpec {
    fn default() -> AdmissionSpec {
        AdmissionSpec {
            limiter: LimiterConfig::default(),
            max_queue: 256,
            max_queue_time: Duration::from_millis(50),
            retry_after_min: Duration::from_secs(1),
            retry_after_max: Duration::from_secs(30),
            codel_target: Duration::from_millis(5),
            codel_interval: Duration::from_millis(100),
        }
    }
}

struct State {
    limiter: Box<dyn Limiter>,
    in_flight: usize,
    queue: Queue,
    codel: Codel,
    drain: DrainRate,
    tenants: fair::Tenants,
}

/// One route's admission controller.
pub struct Admission {
    state: Mutex<State>,
    spec: AdmissionSpec,
    metrics: AdmissionMetrics,
}

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admission")
            .field("limit", &self.limit())
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

impl Admission {
    /// A controller for one route; fails when the limiter's settings are out of range.
    pub fn new(
        spec: AdmissionSpec,
        metrics: AdmissionMetrics,
    ) -> Result<Admission, levee_policy::ConfigError> {
        let limiter = spec.limiter.build()?;
        metrics.limit.set(limiter.limit() as i64);
        let state = State {
            limiter,
            in_flight: 0,
            queue: Queue::default(),
            codel: Codel::new(CodelConfig {
                target: spec.codel_target,
                interval: spec.codel_interval,
            })?,
            drain: DrainRate::new(DrainConfig::default())?,
            tenants: fair::Tenants::default(),
        };
        Ok(Admission {
            state: Mutex::new(state),
            spec,
            metrics,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // State stays consistent under a panic elsewhere: every update is a
        // few integer operations that cannot unwind halfway.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The settings this controller was built with.
    pub fn spec(&self) -> &AdmissionSpec {
        &self.spec
    }

    /// The current concurrency limit.
    pub fn limit(&self) -> usize {
        self.lock().limiter.limit()
    }

    /// Requests holding a permit.
    pub fn in_flight(&self) -> usize {
        self.lock().in_flight
    }

    /// Admits, queues or sheds. `deadline` is when the caller gives up, if
    /// known; `tenant` is whom the request belongs to, on a route with
    /// tenants (see the module doc on fairness).
    pub async fn acquire(
        self: &Arc<Self>,
        priority: Priority,
        deadline: Option<Instant>,
        tenant: Option<TenantKey>,
    ) -> Result<Permit, Shed> {
        let now = Instant::now();
        let rx = {
            let mut s = self.lock();
            let limit = s.limiter.limit();
            if s.in_flight < limit && s.queue.is_empty() {
                s.in_flight += 1;
                if let Some(t) = tenant {
                    s.tenants.admitted(t);
                }
                self.metrics.in_flight.set(s.in_flight as i64);
                self.metrics.admitted(priority);
                let sent = Admitted {
                    inflight: s.in_flight,
                    limit,
                };
                return Ok(Permit::new(self.clone(), sent, tenant));
            }
            // Congested: a tenant at its fair share gives way to the others.
            if let Some(t) = tenant
                && s.tenants.over_share(t, limit)
            {
                return Err(self.shed(&mut s, now, ShedCause::FairShare, priority));
            }
            // Queue only what can be served within the bound: a request that
            // would time out in the queue is told so now, in microseconds,
            // instead of after waiting for nothing.
            let expected = self.expected_wait(&s, now, priority, tenant);
            if expected > self.wait_bound(&s) {
                return Err(self.shed(&mut s, now, ShedCause::QueueFull, priority));
            }
            if let Some(d) = deadline
                && d.saturating_duration_since(now) <= expected
            {
                return Err(self.shed(&mut s, now, ShedCause::Deadline, priority));
            }
            // A standing queue (CoDel) means demand exceeds capacity: another
            // waiter would only add latency, and under LIFO it would push the
            // older waiters past their time. So nobody new joins it until it
            // has drained, except in place of a waiter that would be served
            // after the newcomer anyway: a lower priority's, or (same
            // priority) one of a tenant holding more slots. The same when the
            // queue is full.
            let congested = s.codel.is_congested(now.into_std());
            if congested || s.queue.len() >= self.spec.max_queue {
                let held = s.tenants.held(tenant);
                let st = &mut *s;
                match st.queue.evict_for(priority, held, &st.tenants) {
                    Some(victim) => {
                        // Dropping its sender tells the victim it was evicted.
                        let victim_priority = victim.priority;
                        if let Some(t) = victim.tenant {
                            s.tenants.dequeued(t, false);
                        }
                        drop(victim);
                        self.metrics.shed(ShedCause::Evicted, victim_priority);
                    }
                    None => return Err(self.shed(&mut s, now, ShedCause::QueueFull, priority)),
                }
            }
            let wait_until = now + self.give_up(&s, now);
            let (tx, rx) = oneshot::channel();
            let until = deadline.map_or(wait_until, |d| d.min(wait_until));
            s.queue.push(Waiter {
                tx,
                enqueued: now,
                priority,
                tenant,
            });
            if let Some(t) = tenant {
                s.tenants.queued(t);
            }
            self.metrics.queue_depth.set(s.queue.len() as i64);
            (rx, until)
        };
        let (mut rx, until) = rx;
        match tokio::time::timeout_at(until, &mut rx).await {
            Ok(Ok(sent)) => {
                self.metrics.admitted(priority);
                Ok(Permit::new(self.clone(), sent, tenant))
            }
            Ok(Err(_evicted)) => {
                let mut s = self.lock();
                let retry_after = self.retry_after(&mut s, Instant::now());
                Err(Shed {
                    cause: ShedCause::Evicted,
                    retry_after,
                })
            }
            Err(_timeout) => {
                // A permit may have been granted just as the timer fired.
                rx.close();
                if let Ok(sent) = rx.try_recv() {
                    self.metrics.admitted(priority);
                    return Ok(Permit::new(self.clone(), sent, tenant));
                }
                let mut s = self.lock();
                let s = &mut *s;
                let tenants = &mut s.tenants;
                s.queue.remove_closed(|t| {
                    if let Some(t) = t {
                        tenants.dequeued(t, false);
                    }
                });
                self.metrics.queue_depth.set(s.queue.len() as i64);
                let now = Instant::now();
                Err(self.shed(s, now, ShedCause::QueueTimeout, priority))
            }
        }
    }

    /// The longest wait a newcomer may *expect* and still be queued: half
    /// the upstream's no-load latency as the limiter learned it (queueing
    /// longer than the service itself takes only adds latency; the queue is
    /// there to bridge gaps between arrivals, not to hold a backlog), at
    /// least CoDel's target, at most half of `max_queue_time`; half of
    /// `max_queue_time` when the limiter keeps no latency estimate.
    fn wait_bound(&self, s: &State) -> Duration {
        let most = self.spec.max_queue_time / 2;
        let least = self.spec.codel_target.min(most);
        match s.limiter.no_load_rtt() {
            Some(rtt) => (rtt / 2).clamp(least, most),
            None => most,
        }
    }

    /// How long a queued request waits before it is shed: twice the bound it
    /// was queued under plus four gaps between completions at the measured
    /// rate, at most `max_queue_time`. Its expected wait was within the
    /// bound; the slack absorbs the randomness of completions (waiting for
    /// one or two of them takes several times the mean gap now and then), so
    /// that a request the gateway chose to queue is served, and a shed is
    /// (almost) always decided at arrival, in microseconds. A request still
    /// waiting then was misjudged: the upstream slowed down or the limit fell.
    fn give_up(&self, s: &State, now: Instant) -> Duration {
        let rate = s.drain.rate(now.into_std());
        let gaps = if rate > 0.0 {
            Duration::try_from_secs_f64(4.0 / rate).unwrap_or(self.spec.max_queue_time)
        } else {
            Duration::ZERO
        };
        (self.wait_bound(s).saturating_mul(2))
            .saturating_add(gaps)
            .min(self.spec.max_queue_time)
    }

    /// The wait a newcomer of `priority` (and `tenant`) can expect: the
    /// waiters that will be served before it at the current completion rate.
    /// Under fairness a tenant that holds few slots goes before waiters of
    /// tenants that hold more, so only those count. Before anything has
    /// completed there is no rate: a newcomer may then wait for one turn of
    /// the slots (fewer waiters ahead of it than the limit), no more.
    fn expected_wait(
        &self,
        s: &State,
        now: Instant,
        priority: Priority,
        tenant: Option<TenantKey>,
    ) -> Duration {
        let held = s.tenants.held(tenant);
        let ahead = s.queue.ahead_of_fair(priority, held, &s.tenants);
        let rate = s.drain.rate(now.into_std());
        if rate > 0.0 {
            Duration::try_from_secs_f64((ahead + 1) as f64 / rate).unwrap_or(Duration::MAX)
        } else if ahead < s.limiter.limit() {
            Duration::ZERO
        } else {
            Duration::MAX
        }
    }

    fn retry_after(&self, s: &mut State, now: Instant) -> Duration {
        let jitter: f64 = rand::random();
        let d = s.drain.retry_after(
            now.into_std(),
            s.queue.len(),
            self.spec.retry_after_min,
            self.spec.retry_after_max,
            jitter,
        );
        self.metrics.retry_after.observe(d.as_secs_f64());
        d
    }

    fn shed(&self, s: &mut State, now: Instant, cause: ShedCause, priority: Priority) -> Shed {
        self.metrics.shed(cause, priority);
        Shed {
            cause,
            retry_after: self.retry_after(s, now),
        }
    }

    /// Releases one slot, feeds the sample to the limiter, and hands freed
    /// slots to waiters.
    fn release(&self, sample: Option<(Duration, bool)>, sent: Admitted, tenant: Option<TenantKey>) {
        let now = Instant::now();
        let mut s = self.lock();
        let s = &mut *s;
        s.in_flight = s.in_flight.saturating_sub(1);
        if let Some(t) = tenant {
            s.tenants.released(t);
        }
        s.drain.on_complete(now.into_std());
        if let Some((rtt, dropped)) = sample {
            s.limiter.on_sample(
                now.into_std(),
                Sample {
                    rtt,
                    inflight: sent.inflight,
                    limit: sent.limit,
                    dropped,
                },
            );
            self.metrics.limit.set(s.limiter.limit() as i64);
        }
        let congested = s.codel.is_congested(now.into_std());
        while s.in_flight < s.limiter.limit() {
            let Some(w) = s.queue.pop_fair(congested, &s.tenants) else {
                s.codel.on_empty(now.into_std());
                break;
            };
            let sojourn = now.saturating_duration_since(w.enqueued);
            let sent = Admitted {
                inflight: s.in_flight + 1,
                limit: s.limiter.limit(),
            };
            let granted = w.tx.send(sent).is_ok();
            if let Some(t) = w.tenant {
                s.tenants.dequeued(t, granted);
            }
            if granted {
                s.in_flight += 1;
                s.codel.on_dequeue(now.into_std(), sojourn);
                self.metrics.queue_time.observe(sojourn.as_secs_f64());
            }
        }
        self.metrics.in_flight.set(s.in_flight as i64);
        self.metrics.queue_depth.set(s.queue.len() as i64);
    }
}

/// What the limiter needs to know of the moment a request was admitted.
#[derive(Debug, Clone, Copy)]
struct Admitted {
    /// Requests in flight, this one included.
    inflight: usize,
    /// The limit then.
    limit: usize,
}

/// One admitted request's slot; released on drop.
#[derive(Debug)]
pub struct Permit {
    admission: Arc<Admission>,
    sample: Option<(Duration, bool)>,
    sent: Admitted,
    tenant: Option<TenantKey>,
}

impl Permit {
    fn new(admission: Arc<Admission>, sent: Admitted, tenant: Option<TenantKey>) -> Permit {
        Permit {
            admission,
            sample: None,
            sent,
            tenant,
        }
    }

    /// Records the upstream's answer: time to the response head, and whether
    /// it was a drop (error, timeout, upstream 503). Without a sample (the
    /// request failed before reaching the upstream) the limiter learns nothing.
    pub fn record(&mut self, rtt: Duration, dropped: bool) {
        self.sample = Some((rtt, dropped));
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.admission
            .release(self.sample.take(), self.sent, self.tenant);
    }
}
