//! Admission control on the data path: the tokio shell around the core.
//!
//! Every decision — forward now, wait, or shed with a `Retry-After` — is
//! made by [`levee_policy::admission::Core`], a state machine that holds
//! only numbers and the queue and takes the time as an argument (its module
//! docs say how it tells overload from a slow request, and why a 503 needs
//! evidence). This module keeps what the core must not: the lock, the
//! channels that wake waiting requests, their timers, the clock, the
//! metrics and the log lines.
//!
//! One [`Admission`] per route. [`Admission::acquire`] names the request's
//! class (method and normalised path, see [`class`]), asks the core, and
//! either returns a [`Permit`] or a [`Shed`]; a waiting request sleeps on a
//! oneshot channel until a completion grants it a slot, or until its timer
//! asks the core again. The permit is given back when the answer's head
//! arrives (or the request fails or is abandoned) — not when the body ends:
//! see the core's "What holds a slot".
//!
//! Locking: one short mutex per route, held for the core's arithmetic,
//! never across an await and never global. Waiters are woken after the lock
//! is released.
//!
//! This module must not know about HTTP beyond the method and path it
//! hashes into a class, the priority and an opaque tenant key.

pub mod class;
pub(crate) mod metrics;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http::Method;
use levee_policy::admission::{
    Admit, Arrival, Core, Effects, Event, Outcome, Ticket, Waited, WaiterId,
};
use levee_policy::limit::Evidence;
use tokio::sync::oneshot;
use tokio::time::Instant;

pub use levee_policy::admission::{AdmissionSpec, ClassView, Mode, Priority, Shed, ShedCause};
pub use metrics::AdmissionMetrics;

use crate::tenant::TenantKey;

/// A waiting request's verdict, sent by whoever decides it.
#[derive(Debug)]
enum Verdict {
    Granted(Ticket),
    Shed(Shed),
}

type Sender = oneshot::Sender<Verdict>;

/// One route's admission controller.
pub struct Admission {
    route: Arc<str>,
    core: Mutex<Core<Sender>>,
    spec: AdmissionSpec,
    metrics: AdmissionMetrics,
}

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let core = self.lock();
        f.debug_struct("Admission")
            .field("route", &self.route)
            .field("limit", &core.limit())
            .field("in_flight", &core.in_flight())
            .finish()
    }
}

/// What a request brings to admission.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Its method, for its class.
    pub method: &'a Method,
    /// Its path, for its class.
    pub path: &'a str,
    /// Its priority.
    pub priority: Priority,
    /// When its caller gives up, if it said.
    pub deadline: Option<Instant>,
    /// Whom it belongs to, on a route with tenants.
    pub tenant: Option<TenantKey>,
}

/// A route's admission state as the admin API and `/metrics` show it.
#[derive(Debug, Clone, PartialEq)]
pub struct AdmissionView {
    /// Enforcing or only observing.
    pub mode: Mode,
    /// The current limit.
    pub limit: usize,
    /// Requests counting against it.
    pub in_flight: usize,
    /// Requests waiting.
    pub queued: usize,
    /// `clear`, `suspect` or `congested`.
    pub state: &'static str,
    /// The median latency ratio (latency ÷ its class's baseline) of recent answers.
    pub ratio: Option<f64>,
    /// The request classes and their baselines, "other" first.
    pub classes: Vec<ClassView>,
}

impl Admission {
    /// A controller for route `route`; fails when a setting is out of range.
    pub fn new(
        route: Arc<str>,
        spec: AdmissionSpec,
        metrics: AdmissionMetrics,
    ) -> Result<Admission, levee_policy::ConfigError> {
        let core = Core::new(spec.clone(), rand::random())?;
        metrics.limit.set(core.limit() as i64);
        Ok(Admission {
            route,
            core: Mutex::new(core),
            spec,
            metrics,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Core<Sender>> {
        // The core stays consistent under a panic elsewhere: nothing here
        // unwinds halfway through an update.
        self.core.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The settings this controller was built with.
    pub fn spec(&self) -> &AdmissionSpec {
        &self.spec
    }

    /// The current concurrency limit.
    pub fn limit(&self) -> usize {
        self.lock().limit()
    }

    /// Requests holding a slot.
    pub fn in_flight(&self) -> usize {
        self.lock().in_flight()
    }

    /// The state, for the admin API.
    pub fn view(&self) -> AdmissionView {
        let core = self.lock();
        AdmissionView {
            mode: self.spec.mode,
            limit: core.limit(),
            in_flight: core.in_flight(),
            queued: core.queued(),
            state: if core.binding() {
                "congested"
            } else if core.suspect() {
                "suspect"
            } else {
                "clear"
            },
            ratio: core.ratio(),
            classes: core.classes().collect(),
        }
    }

    /// Admits, queues or sheds `req`.
    pub async fn acquire(self: &Arc<Self>, req: Request<'_>) -> Result<Permit, Shed> {
        let now = Instant::now();
        let mut rx = None;
        let mut fx = Effects::default();
        let admit = {
            let mut core = self.lock();
            let class = core.class(class::key(req.method, req.path), || {
                class::name(req.method, req.path)
            });
            let arrival = Arrival {
                priority: req.priority,
                deadline: req.deadline.map(Instant::into_std),
                tenant: req.tenant,
                class,
            };
            let admit = core.arrive(
                now.into_std(),
                arrival,
                || {
                    let (tx, r) = oneshot::channel();
                    rx = Some(r);
                    tx
                },
                &mut fx,
            );
            self.gauges(&core);
            admit
        };
        self.deliver(fx);
        match admit {
            Admit::Now(ticket) => Ok(self.permit(ticket, req.priority)),
            Admit::Shed(shed) => {
                self.metrics
                    .shed(shed.cause, req.priority, shed.retry_after);
                Err(shed)
            }
            Admit::Wait { id, until } => {
                let rx = rx.expect("the core made a waiter");
                self.wait(id, until, rx, req.priority).await
            }
        }
    }

    /// Sleeps until the waiter's verdict arrives or its timer asks again.
    async fn wait(
        self: &Arc<Self>,
        id: WaiterId,
        until: std::time::Instant,
        mut rx: oneshot::Receiver<Verdict>,
        priority: Priority,
    ) -> Result<Permit, Shed> {
        let mut guard = Waiting {
            admission: self,
            id,
            armed: true,
        };
        let mut until = Instant::from_std(until);
        loop {
            // A verdict sent through the channel was counted by its sender.
            let verdict = match tokio::time::timeout_at(until, &mut rx).await {
                Ok(Ok(v)) => v,
                // Never dropped without a verdict; if it were, ask the core.
                Ok(Err(_)) | Err(_) => {
                    let mut fx = Effects::default();
                    let waited = {
                        let mut core = self.lock();
                        let w = core.timeout(Instant::now().into_std(), id, &mut fx);
                        self.gauges(&core);
                        w
                    };
                    self.deliver(fx);
                    match waited {
                        Waited::Granted(ticket) => Verdict::Granted(ticket),
                        Waited::Shed(shed) => {
                            self.metrics.shed(shed.cause, priority, shed.retry_after);
                            Verdict::Shed(shed)
                        }
                        Waited::Until(t) => {
                            until = Instant::from_std(t);
                            continue;
                        }
                        // Decided by someone else: the verdict is in the channel.
                        Waited::Gone => match rx.try_recv() {
                            Ok(v) => v,
                            Err(_) => {
                                guard.armed = false;
                                return Err(self.lost(priority));
                            }
                        },
                    }
                }
            };
            guard.armed = false;
            return match verdict {
                Verdict::Granted(ticket) => Ok(self.permit(ticket, priority)),
                Verdict::Shed(shed) => Err(shed),
            };
        }
    }

    /// A waiter whose verdict went missing (cannot happen: every removal
    /// from the queue sends one); answered as a timeout rather than hung.
    fn lost(&self, priority: Priority) -> Shed {
        let shed = Shed {
            cause: ShedCause::QueueTimeout,
            retry_after: self.spec.retry_after_min,
        };
        self.metrics.shed(shed.cause, priority, shed.retry_after);
        shed
    }

    fn permit(self: &Arc<Self>, ticket: Ticket, priority: Priority) -> Permit {
        self.metrics.admitted(priority, ticket.waited);
        Permit {
            admission: self.clone(),
            ticket: Some(ticket),
            outcome: None,
        }
    }

    /// Sends the verdicts a call produced, outside the lock; a granted slot
    /// whose requester has gone is given back at once.
    fn deliver(&self, mut fx: Effects<Sender>) {
        loop {
            for (tx, shed, priority) in fx.shed.drain(..) {
                self.metrics.shed(shed.cause, priority, shed.retry_after);
                let _ = tx.send(Verdict::Shed(shed));
            }
            for e in fx.events.drain(..) {
                self.event(e);
            }
            let mut back = Vec::new();
            for (tx, ticket) in fx.granted.drain(..) {
                if let Err(Verdict::Granted(ticket)) = tx.send(Verdict::Granted(ticket)) {
                    back.push(ticket);
                }
            }
            if back.is_empty() {
                return;
            }
            let mut core = self.lock();
            let now = Instant::now().into_std();
            for ticket in back {
                core.complete(now, ticket, None, &mut fx);
            }
            self.gauges(&core);
        }
    }

    /// Logs and counts what the core reported.
    fn event(&self, e: Event) {
        let route = &*self.route;
        match e {
            Event::Congested {
                evidence,
                limit,
                in_flight,
            } => {
                self.metrics.congested.set(1);
                match evidence {
                    Evidence::Latency { ratio, rank, after } => tracing::warn!(
                        target: "levee::admission",
                        route, limit, in_flight,
                        latency_ratio = format!("{ratio:.2}"),
                        rank = format!("{rank:.2}"),
                        ratio_under_cut = format!("{after:.2}"),
                        "route congested: shedding above the limit (latency rose {ratio:.1}x its baseline and fell to {after:.1}x when concurrency was cut)"
                    ),
                    Evidence::Drops { drops, of } => tracing::warn!(
                        target: "levee::admission",
                        route, limit, in_flight, drops, of,
                        "route congested: shedding above the limit (the upstream dropped {drops} of the last {of} requests)"
                    ),
                }
            }
            Event::Clear { ratio, limit } => {
                self.metrics.congested.set(0);
                tracing::info!(
                    target: "levee::admission",
                    route, limit,
                    latency_ratio = format!("{ratio:.2}"),
                    "route no longer congested: shedding stops"
                );
            }
            Event::Suspect { ratio } => tracing::debug!(
                target: "levee::admission",
                route, latency_ratio = format!("{ratio:.2}"),
                "latency rose: holding waiters until it is confirmed"
            ),
            Event::Probe { ratio, cut } => tracing::debug!(
                target: "levee::admission",
                route, latency_ratio = format!("{ratio:.2}"), limit = cut,
                "latency stayed up: testing whether it follows a lower limit"
            ),
            Event::Rebased { factor } => {
                self.metrics.congested.set(0);
                tracing::info!(
                    target: "levee::admission",
                    route, factor = format!("{factor:.2}"),
                    "latency changed at every concurrency, not with it: the upstream is slower (or faster), not congested; baselines re-learned"
                );
            }
            Event::WouldShed { cause, priority } => self.metrics.would_shed(cause, priority),
            Event::Parked => {
                self.metrics.parked.inc();
            }
        }
    }

    fn gauges(&self, core: &Core<Sender>) {
        self.metrics.limit.set(core.limit() as i64);
        self.metrics.in_flight.set(core.in_flight() as i64);
        self.metrics.queue_depth.set(core.queued() as i64);
    }

    /// Gives a slot back with what the upstream did.
    fn release(&self, ticket: Ticket, outcome: Option<Outcome>) {
        let mut fx = Effects::default();
        {
            let mut core = self.lock();
            core.complete(Instant::now().into_std(), ticket, outcome, &mut fx);
            self.gauges(&core);
        }
        self.deliver(fx);
    }
}

/// Removes a waiter whose request went away (its future was dropped).
struct Waiting<'a> {
    admission: &'a Admission,
    id: WaiterId,
    armed: bool,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.armed {
            let mut core = self.admission.lock();
            core.cancel(self.id);
            self.admission.gauges(&core);
        }
    }
}

/// One admitted request's slot; given back on drop (at the response head,
/// or when the request fails or is abandoned).
#[derive(Debug)]
pub struct Permit {
    admission: Arc<Admission>,
    ticket: Option<Ticket>,
    outcome: Option<Outcome>,
}

impl Permit {
    /// Records the upstream's answer: time to its head from when the
    /// request was fully sent, and whether it was a drop (error, timeout,
    /// upstream 503). Without it (the request failed before reaching the
    /// upstream) the limiter learns nothing.
    pub fn record(&mut self, rtt: Duration, dropped: bool) {
        self.outcome = Some(Outcome { rtt, dropped });
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            self.admission.release(ticket, self.outcome.take());
        }
    }
}
