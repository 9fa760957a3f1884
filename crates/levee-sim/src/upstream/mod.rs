//! A sample upstream of known capacity, on loopback.
//!
//! [`Upstream::builder`] starts an HTTP/1.1 server with N workers × S of
//! service time: capacity N / S requests per second (8 × 20 ms = 400 req/s,
//! exactly: each worker keeps its own clock, so timer lateness delays answers
//! but does not cost capacity; see `workers.rs`). Each service time can vary
//! around S ([`UpstreamBuilder::service_jitter`]) with the same mean.
//! A request holds one worker for S; the excess waits for a worker in arrival
//! order, and a request keeps its worker even if its client has gone. That is
//! the backlog of a thread-pool server (gunicorn sync workers, a Java servlet
//! pool), and what makes one collapse under overload: past capacity the queue
//! grows until every request waits longer than its client is willing to.
//!
//! [`UpstreamBuilder::unlimited`] starts the other kind: a service that is
//! never overloaded, whose requests say how long they take (`GET /…/ms/N`
//! waits N ms, `GET /…/sse/N` streams N events, one a second) and take any
//! number at once. Behind it, every `503` a gateway answers is a false shed.
//!
//! The [`UpstreamHandle`] changes service time, workers and [`Fault`]s while it
//! runs, crashes it and restarts it on the same address
//! ([`UpstreamHandle::crash`], [`UpstreamHandle::restart`]: an upstream
//! outage), reads [`UpstreamStats`], and stops the server on `shutdown` or drop.
//! This module must not listen anywhere but loopback.

mod fault;
mod server;
mod stats;
mod unlimited;
mod workers;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use fault::{Fault, RESET_BODY_LEN};
pub use stats::UpstreamStats;
pub use unlimited::{EVENT_EVERY, MAX_EVENTS, MAX_WAIT};

use server::Shared;
use workers::Workers;

/// The entry point: `Upstream::builder().workers(8).service_time(ms(20)).start()`.
#[derive(Debug)]
pub struct Upstream;

impl Upstream {
    /// A builder with defaults: `127.0.0.1:0`, 8 workers, 20 ms, no fault.
    pub fn builder() -> UpstreamBuilder {
        UpstreamBuilder {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            workers: Some(8),
            service_time: Duration::from_millis(20),
            jitter: 0.0,
            fault: Fault::None,
            unlimited: false,
        }
    }
}

/// How to start a sample upstream. See [`Upstream::builder`].
#[derive(Clone, Debug)]
pub struct UpstreamBuilder {
    addr: SocketAddr,
    workers: Option<usize>,
    service_time: Duration,
    jitter: f64,
    fault: Fault,
    unlimited: bool,
}

impl UpstreamBuilder {
    /// Listens on `addr`, which must be a loopback address (port 0: any free port).
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// The number of workers (at least 1).
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = Some(n.max(1));
        self.unlimited = false;
        self
    }

    /// How long each request holds its worker.
    pub fn service_time(mut self, service_time: Duration) -> Self {
        self.service_time = service_time;
        self
    }

    /// Fast mode, for proxy-overhead benchmarks: no workers and no service
    /// time; every request is answered at once with a tiny static body.
    pub fn fast(mut self) -> Self {
        self.workers = None;
        self.service_time = Duration::ZERO;
        self.unlimited = false;
        self
    }

    /// Unlimited mode: no workers; each request takes the time its path asks
    /// for, whatever else is in flight. `GET /…/ms/N` waits N ms (at most
    /// [`MAX_WAIT`]) and answers `200 ok`; `GET /…/sse/N` answers `200` at once
    /// with a `text/event-stream` body of N events (at most [`MAX_EVENTS`]),
    /// one every [`EVENT_EVERY`], the first at once, and ends one period after
    /// the last; any other path is answered at once. [`Fault`]s apply as
    /// usual (`Slow` adds to the wait).
    pub fn unlimited(mut self) -> Self {
        self.workers = None;
        self.service_time = Duration::ZERO;
        self.unlimited = true;
        self
    }

    /// Each request's service time varies uniformly within `± fraction` of
    /// the service time (clamped to [0, 0.5]); the mean, and so the capacity,
    /// stay the same. Default 0: every request takes exactly the service
    /// time. With no variation at all, workers that start together finish
    /// together forever after, so the upstream completes requests in bursts
    /// of `workers` once per service time, which no real server keeps up
    /// for long.
    pub fn service_jitter(mut self, fraction: f64) -> Self {
        self.jitter = if fraction.is_finite() {
            fraction.clamp(0.0, 0.5)
        } else {
            0.0
        };
        self
    }

    /// Starts with this fault in force.
    pub fn fault(mut self, fault: Fault) -> Self {
        self.fault = fault;
        self
    }

    /// Binds and starts serving on the current tokio runtime.
    ///
    /// # Errors
    /// The address is not loopback, or binding it failed.
    pub async fn start(self) -> io::Result<UpstreamHandle> {
        if !self.addr.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the sample upstream listens on loopback only, not {}",
                    self.addr
                ),
            ));
        }
        let listener = TcpListener::bind(self.addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            workers: self.workers.map(Workers::new),
            unlimited: self.unlimited,
            service_time_us: AtomicU64::new(micros(self.service_time)),
            jitter: self.jitter,
            fault: watch::Sender::new(Fault::None),
            listening: watch::Sender::new(true),
            crashes: watch::Sender::new(0),
            counters: Default::default(),
        });
        let faults = shared.fault.subscribe();
        // Sent after subscribing, so the loop sees it as a change and, for
        // Refuse, closes the listener before accepting anything.
        shared.fault.send_replace(self.fault);
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(server::serve(
            listener,
            addr,
            Arc::clone(&shared),
            faults,
            stopped,
        ));
        Ok(UpstreamHandle {
            addr,
            shared,
            stop,
            task: Some(task),
        })
    }
}

/// A running sample upstream. Dropping it stops the server without waiting.
#[derive(Debug)]
pub struct UpstreamHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl UpstreamHandle {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://{addr}`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The number of workers (`None` in fast and unlimited modes).
    pub fn workers(&self) -> Option<usize> {
        self.shared.workers.as_ref().map(Workers::count)
    }

    /// Changes the number of workers (at least 1). Ignored in fast and unlimited modes.
    pub fn set_workers(&self, n: usize) {
        if let Some(workers) = &self.shared.workers {
            workers.resize(n);
        }
    }

    /// How long each request holds its worker.
    pub fn service_time(&self) -> Duration {
        Duration::from_micros(self.shared.service_time_us.load(Relaxed))
    }

    /// Changes the service time for work that starts from now on.
    pub fn set_service_time(&self, service_time: Duration) {
        self.shared
            .service_time_us
            .store(micros(service_time), Relaxed);
    }

    /// Requests per second it can serve: workers ÷ service time (`None` when
    /// unbounded: fast or unlimited mode, or a zero service time).
    pub fn capacity(&self) -> Option<f64> {
        let workers = self.workers()? as f64;
        let secs = self.service_time().as_secs_f64();
        (secs > 0.0).then(|| workers / secs)
    }

    /// The fault in force.
    pub fn fault(&self) -> Fault {
        self.shared.fault.borrow().clone()
    }

    /// Changes the fault; it applies to requests (and, for `Refuse`,
    /// connections) that arrive from now on.
    pub fn set_fault(&self, fault: Fault) {
        self.shared.fault.send_replace(fault);
    }

    /// Crashes the server as if its process died ([`Fault::Crash`]): closes
    /// the listening socket, drops every open connection, and returns once
    /// both are done. Undo with [`UpstreamHandle::restart`].
    pub async fn crash(&self) {
        self.set_fault_and_wait(Fault::Crash, false).await;
    }

    /// Serves again on the same address after [`UpstreamHandle::crash`] or
    /// [`Fault::Refuse`] (any fault is lifted), and returns once it listens.
    ///
    /// # Errors
    /// The address could not be bound again within 5 s (another process took
    /// the port).
    pub async fn restart(&self) -> io::Result<()> {
        if self.set_fault_and_wait(Fault::None, true).await {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("could not listen on {} again within 5 s", self.addr),
            ))
        }
    }

    /// Sets `fault` and waits (at most 5 s) until the accept loop has acted
    /// on it and the listening socket is open (`listening`) or closed;
    /// false if it did not happen in time.
    async fn set_fault_and_wait(&self, fault: Fault, listening: bool) -> bool {
        // Subscribed before the change, so that the accept loop's answer to
        // it (which it always sends) ends the wait, not the state before.
        let mut state = self.shared.listening.subscribe();
        self.shared.fault.send_replace(fault);
        let wait = async {
            loop {
                if state.changed().await.is_err() {
                    return false; // the server stopped
                }
                if *state.borrow_and_update() == listening {
                    return true;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(5), wait)
            .await
            .unwrap_or(false)
    }

    /// What it has seen and served so far.
    pub fn stats(&self) -> UpstreamStats {
        self.shared.counters.snapshot()
    }

    /// Stops accepting, cuts open connections, fails queued work, and waits
    /// for the accept loop to end.
    pub async fn shutdown(mut self) {
        self.stop_now();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    fn stop_now(&self) {
        self.stop.send_replace(true);
        if let Some(workers) = &self.shared.workers {
            workers.close();
        }
    }
}

impl Drop for UpstreamHandle {
    fn drop(&mut self) {
        self.stop_now();
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
