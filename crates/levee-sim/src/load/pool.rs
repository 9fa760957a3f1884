//! The load generator's HTTP/1.1 connections: reused when a response was
//! read whole, closed otherwise, at most `max` open at once.
//!
//! It must not queue: an open-loop generator that waits for a connection
//! would let the target's slowness slow the arrivals down. When none is free
//! and none may be opened, checkout fails with [`Failure::Saturated`].

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Empty;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::AbortHandle;

use super::record::Failure;

type Sender = SendRequest<Empty<Bytes>>;

/// A connection checked out of the [`Pool`]. Dropped without
/// [`Pool::checkin`] (a timeout, an error), it closes.
#[derive(Debug)]
pub(crate) struct Conn {
    /// Always `Some` until checkin takes it.
    parts: Option<(Sender, AbortHandle)>,
}

impl Conn {
    /// The request half of the connection.
    pub(crate) fn sender(&mut self) -> &mut Sender {
        &mut self
            .parts
            .as_mut()
            .expect("parts are only taken by checkin, which consumes the conn")
            .0
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some((_, task)) = self.parts.take() {
            task.abort();
        }
    }
}

/// Idle connections to one address, and the count of open ones.
#[derive(Debug)]
pub(crate) struct Pool {
    addr: SocketAddr,
    idle: Mutex<Vec<(Sender, AbortHandle)>>,
    open: Arc<AtomicUsize>,
    max: usize,
}

/// Decrements the open count when a connection's task ends, however it ends.
struct OpenGuard(Arc<AtomicUsize>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

impl Pool {
    /// An empty pool of at most `max` connections to `addr`.
    pub(crate) fn new(addr: SocketAddr, max: usize) -> Self {
        Self {
            addr,
            idle: Mutex::new(Vec::new()),
            open: Arc::new(AtomicUsize::new(0)),
            max,
        }
    }

    /// Connections open now (idle or in use).
    pub(crate) fn open(&self) -> usize {
        self.open.load(Relaxed)
    }

    /// An idle connection that still works, or a new one.
    pub(crate) async fn checkout(&self) -> Result<Conn, Failure> {
        loop {
            let idle = self.idle.lock().expect("pool lock is never poisoned").pop();
            let Some((mut sender, task)) = idle else {
                break;
            };
            if sender.ready().await.is_ok() {
                return Ok(Conn {
                    parts: Some((sender, task)),
                });
            }
            task.abort();
        }
        if self.open.fetch_add(1, Relaxed) >= self.max {
            self.open.fetch_sub(1, Relaxed);
            return Err(Failure::Saturated);
        }
        let guard = OpenGuard(Arc::clone(&self.open));
        let stream = TcpStream::connect(self.addr)
            .await
            .map_err(|_| Failure::Connect)?;
        let _ = stream.set_nodelay(true); // only latency depends on it
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|_| Failure::Io)?;
        let task = tokio::spawn(async move {
            let _guard = guard;
            let _ = connection.await; // its errors surface on the request
        });
        Ok(Conn {
            parts: Some((sender, task.abort_handle())),
        })
    }

    /// Returns a connection whose response was read whole, for reuse.
    pub(crate) fn checkin(&self, mut conn: Conn) {
        if let Some(parts) = conn.parts.take() {
            self.idle
                .lock()
                .expect("pool lock is never poisoned")
                .push(parts);
        }
    }
}
