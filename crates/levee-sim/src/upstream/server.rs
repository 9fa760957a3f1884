//! The sample upstream's accept loop and request handler.
//!
//! It owns the listening socket (closing and re-binding it for
//! [`Fault::Refuse`] and [`Fault::Crash`]), the open connections (dropping
//! them all for [`Fault::Crash`]) and turns each request into "wait for a worker, hold it
//! for the service time, answer" (or, for an unlimited upstream, "do what the
//! path asks", see `unlimited.rs`). It must not decide anything else: the
//! capacity, service time and fault are read from [`Shared`], which the handle
//! changes.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};

use super::fault::{BrokenBody, Fault, RESET_BODY_LEN};
use super::stats::Counters;
use super::unlimited::{Ask, EventStream};
use super::workers::Workers;

/// The body of every sample-upstream response.
pub(crate) type UpstreamBody = Either<Full<Bytes>, Either<BrokenBody, EventStream>>;

/// What the handle and the server share.
#[derive(Debug)]
pub(crate) struct Shared {
    /// `None` in fast and unlimited modes: no workers, no service time.
    pub(crate) workers: Option<Workers>,
    /// Unlimited mode: the path says how long a request takes.
    pub(crate) unlimited: bool,
    pub(crate) service_time_us: AtomicU64,
    /// Each service time varies uniformly within ± this fraction.
    pub(crate) jitter: f64,
    pub(crate) fault: watch::Sender<Fault>,
    /// Whether the listening socket is open; set by the accept loop.
    pub(crate) listening: watch::Sender<bool>,
    /// Counts crashes: every open connection ends when it changes.
    pub(crate) crashes: watch::Sender<u64>,
    pub(crate) counters: Counters,
}

impl Shared {
    fn service_time(&self) -> Duration {
        Duration::from_micros(self.service_time_us.load(Relaxed))
    }

    /// One request's service time: the service time, varied by the jitter.
    fn one_service_time(&self) -> Duration {
        let mean = self.service_time();
        if self.jitter == 0.0 {
            return mean;
        }
        let spread = self.jitter * (2.0 * rand::random::<f64>() - 1.0);
        mean.mul_f64(1.0 + spread)
    }
}

/// What one turn of the accept loop saw.
enum Event {
    Stop,
    FaultChanged,
    Accepted(std::io::Result<TcpStream>),
}

/// Accepts connections on `listener` until `stop` fires or its sender is
/// dropped. A fault change not yet seen by `faults` is applied first.
pub(crate) async fn serve(
    listener: TcpListener,
    addr: SocketAddr,
    shared: Arc<Shared>,
    mut faults: watch::Receiver<Fault>,
    mut stop: watch::Receiver<bool>,
) {
    let mut listener = Some(listener);
    loop {
        let event = match &listener {
            Some(open) => tokio::select! {
                _ = stop.changed() => Event::Stop,
                _ = faults.changed() => Event::FaultChanged,
                accepted = open.accept() => Event::Accepted(accepted.map(|(stream, _)| stream)),
            },
            None => tokio::select! {
                _ = stop.changed() => Event::Stop,
                _ = faults.changed() => Event::FaultChanged,
            },
        };
        match event {
            Event::Stop => return,
            Event::FaultChanged => {
                let fault = faults.borrow_and_update().clone();
                match fault {
                    Fault::Refuse => listener = None,
                    Fault::Crash => {
                        listener = None;
                        shared.crashes.send_modify(|n| *n += 1);
                    }
                    // If the port was taken meanwhile, keep refusing: the
                    // caller sees it as connection errors and stats unchanged.
                    _ if listener.is_none() => listener = TcpListener::bind(addr).await.ok(),
                    _ => {}
                }
                shared.listening.send_replace(listener.is_some());
            }
            // Out of descriptors or a connection reset while queued: keep accepting.
            Event::Accepted(Err(_)) => {}
            Event::Accepted(Ok(stream)) => connection(stream, &shared, stop.clone()),
        }
    }
}

/// Serves one connection on its own task until it ends or the server stops.
fn connection(stream: TcpStream, shared: &Arc<Shared>, mut stop: watch::Receiver<bool>) {
    shared.counters.connections.fetch_add(1, Relaxed);
    // Failing to set either option only makes the fault or latency less exact.
    let _ = stream.set_nodelay(true);
    if *shared.fault.borrow() == Fault::Reset {
        let _ = stream.set_zero_linger();
    }
    // Subscribed before any later crash can be counted: the accept loop
    // handles one event at a time.
    let mut crash = shared.crashes.subscribe();
    let shared = Arc::clone(shared);
    let service = service_fn(move |request| handle(Arc::clone(&shared), request));
    tokio::spawn(async move {
        let conn = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service);
        // Returning drops the connection and its socket, mid-request or not.
        tokio::select! {
            _ = conn => {}
            _ = stop.changed() => {}
            _ = crash.changed() => {}
        }
    });
}

/// Answers one request: fault, then a worker for the service time (or the
/// wait its path asks for), then `200 ok`.
async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<UpstreamBody>, Infallible> {
    let counters = &shared.counters;
    counters.received.fetch_add(1, Relaxed);
    let fault = shared.fault.borrow().clone();
    if let Fault::Unavailable { retry_after } = fault {
        counters.unavailable.fetch_add(1, Relaxed);
        return Ok(unavailable(retry_after));
    }
    let extra = match fault {
        Fault::Slow { delay } => delay,
        _ => Duration::ZERO,
    };
    if shared.unlimited {
        let ask = Ask::of(request.uri().path());
        let wait = match ask {
            Ask::Wait(wait) => wait,
            Ask::Now | Ask::Events(_) => Duration::ZERO,
        };
        // Counted out when the wait ends or the client leaves (hyper drops
        // this future then): nothing else is held.
        let working = counters.enter();
        tokio::time::sleep(wait + extra).await;
        drop(working);
        if let Ask::Events(n) = ask
            && fault != Fault::Reset
        {
            counters.served.fetch_add(1, Relaxed);
            return Ok(events(n));
        }
    } else if shared.workers.is_some() {
        // The work runs on its own task so that it goes on, and keeps its
        // worker, when the client gives up: a thread-pool server does not
        // notice a departed client until it writes the answer.
        let (done, finished) = oneshot::channel();
        tokio::spawn(hold_worker(Arc::clone(&shared), extra, done));
        if finished.await.is_err() {
            return Ok(unavailable(1)); // the server is shutting down
        }
    }
    if fault == Fault::Reset {
        counters.reset.fetch_add(1, Relaxed);
        return Ok(broken());
    }
    counters.served.fetch_add(1, Relaxed);
    Ok(ok())
}

/// Waits for a worker, holds it for the service time plus `extra`, then reports.
async fn hold_worker(shared: Arc<Shared>, extra: Duration, done: oneshot::Sender<()>) {
    let Some(workers) = &shared.workers else {
        let _ = done.send(());
        return;
    };
    shared.counters.start_waiting();
    let Some(slot) = workers.acquire().await else {
        shared.counters.waiting.fetch_sub(1, Relaxed);
        return; // closed: dropping `done` tells the handler
    };
    shared.counters.start_work();
    let finish = slot.start + shared.one_service_time() + extra;
    tokio::time::sleep_until(finish).await;
    shared.counters.in_flight.fetch_sub(1, Relaxed);
    workers.release(slot, finish);
    if done.send(()).is_err() {
        shared.counters.abandoned.fetch_add(1, Relaxed);
    }
}

fn ok() -> Response<UpstreamBody> {
    Response::builder()
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Either::Left(Full::new(Bytes::from_static(b"ok\n"))))
        .expect("a static response is valid")
}

/// `200` with a stream of `n` server-sent events.
fn events(n: u32) -> Response<UpstreamBody> {
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Either::Right(Either::Right(EventStream::new(n))))
        .expect("a static response is valid")
}

fn unavailable(retry_after: u32) -> Response<UpstreamBody> {
    Response::builder()
        .status(StatusCode::SERVICE_UNAVAILABLE)
        .header(header::RETRY_AFTER, retry_after)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Either::Left(Full::new(Bytes::from_static(
            b"unavailable\n",
        ))))
        .expect("a static response is valid")
}

fn broken() -> Response<UpstreamBody> {
    Response::builder()
        .header(header::CONTENT_TYPE, "text/plain")
        .header(header::CONTENT_LENGTH, RESET_BODY_LEN)
        .body(Either::Right(Either::Left(BrokenBody::default())))
        .expect("a static response is valid")
}
