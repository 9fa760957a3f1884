//! A client's request body on its way upstream.
//!
//! A body is either **streamed** from the client as it arrives, or, when it
//! is small and the route buffers small bodies, **read whole** first
//! ([`read_whole`]) — before admission, so that a slow client never holds an
//! upstream slot while it trickles (nginx's `proxy_request_buffering`,
//! HAProxy's `option http-buffer-request`). Either way [`UpstreamBody`]
//! enforces the route's size limit (a chunked body has no length to check up
//! front: [`BodyTooLarge`] the moment it passes) and the client's deadlines
//! ([`BodyRead`]): a pause between two pieces longer than `idle`, or an
//! average rate under `min_rate` once `grace` has passed, fail the body with
//! a [`ClientBodyError`] — the client's fault, answered `408` (or `400` for a
//! malformed body), and never counted against the endpoint. It also notes
//! when the body was fully sent ([`BodyDone`]), so the upstream's latency
//! does not include the client's upload.
//!
//! This module must not decide limits or answers; it only enforces what it
//! is given and says what went wrong.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

use super::BoxError;

/// The request body passed the route's size limit while streaming.
#[derive(Debug, thiserror::Error)]
#[error("request body exceeds {limit} bytes")]
pub struct BodyTooLarge {
    /// The limit, in bytes.
    pub limit: u64,
}

/// The client's request body failed: the client's fault, not the upstream's.
#[derive(Debug, thiserror::Error)]
pub enum ClientBodyError {
    /// The body is not valid HTTP framing (a bad chunk size, say).
    #[error("the request body is malformed: {0}")]
    Malformed(String),
    /// Nothing of the body arrived for this long.
    #[error("the request body stalled: nothing arrived for {0:?}")]
    Stalled(Duration),
    /// The body arrived slower than the minimum rate.
    #[error("the request body arrived at {rate} bytes/s, under the minimum of {min} bytes/s")]
    TooSlow {
        /// The average rate so far, bytes per second.
        rate: u64,
        /// The minimum, bytes per second.
        min: u64,
    },
}

impl ClientBodyError {
    /// Whether the client was too slow (a `408`) rather than wrong (a `400`).
    pub fn is_timeout(&self) -> bool {
        !matches!(self, ClientBodyError::Malformed(_))
    }
}

/// How long a client may take to send its request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyRead {
    /// The longest pause between two pieces of the body (default 10 s, like
    /// the header-read deadline).
    pub idle: Duration,
    /// The least average rate, in bytes per second, once `grace` has passed
    /// (default 1024; 0: none).
    pub min_rate: u64,
    /// How long a body may take before `min_rate` applies (default 10 s).
    pub grace: Duration,
}

impl Default for BodyRead {
    fn default() -> BodyRead {
        BodyRead {
            idle: Duration::from_secs(10),
            min_rate: 1024,
            grace: Duration::from_secs(10),
        }
    }
}

/// A route's request-body policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyPolicy {
    /// The largest body accepted, in bytes; `None` for no limit.
    pub max_size: Option<u64>,
    /// Bodies that declare a length up to this are read whole before
    /// admission (default 64 KiB; 0: always streamed).
    pub buffer_up_to: u64,
    /// The client's deadlines.
    pub read: BodyRead,
}

impl Default for BodyPolicy {
    fn default() -> BodyPolicy {
        BodyPolicy {
            max_size: None,
            buffer_up_to: 64 * 1024,
            read: BodyRead::default(),
        }
    }
}

/// When a request body finished streaming upstream, set once by the body.
///
/// The latency the admission limiter learns from runs from here to the
/// response head: a client's slow upload is not the upstream's latency.
pub type BodyDone = std::sync::Arc<std::sync::OnceLock<Instant>>;

/// How a request body failed on its way upstream, kept where the sender can
/// read it: an HTTP/2 upstream connection resets the stream and reports
/// its own error, without the body's error in its cause chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyFault {
    /// It passed the route's limit.
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// The client's fault (see [`ClientBodyError`]).
    Client {
        /// What went wrong.
        cause: String,
        /// Too slow (`408`) rather than malformed (`400`).
        timeout: bool,
    },
}

/// Where an [`UpstreamBody`] records its [`BodyFault`].
pub type BodyFaults = std::sync::Arc<std::sync::OnceLock<BodyFault>>;

/// Where a streamed body goes back when an attempt drops it before reading
/// any of it (the upstream connection could not be opened).
pub type Unread = std::sync::Arc<std::sync::Mutex<Option<RequestBody>>>;

/// A request body as the gateway holds it.
#[derive(Debug)]
pub enum RequestBody {
    /// Still arriving from the client.
    Streamed(Incoming),
    /// Read whole before admission.
    Buffered(Bytes),
}

impl RequestBody {
    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        match self {
            RequestBody::Streamed(b) => b.is_end_stream(),
            RequestBody::Buffered(b) => b.is_empty(),
        }
    }
}

/// Reads a streamed body whole, within `policy`'s limits and deadlines.
pub async fn read_whole(body: Incoming, policy: BodyPolicy) -> Result<Bytes, BoxError> {
    let limit = policy.max_size.unwrap_or(u64::MAX);
    let body = UpstreamBody::new(RequestBody::Streamed(body), limit, policy.read, None);
    Ok(body.collect().await?.to_bytes())
}

/// A client's request body, streamed upstream with a size limit and the
/// client's deadlines.
#[derive(Debug)]
pub struct UpstreamBody {
    inner: Option<RequestBody>,
    limit: u64,
    seen: u64,
    read: BodyRead,
    started: Instant,
    /// Fires when the client has been silent for `read.idle`.
    idle: Option<Pin<Box<Sleep>>>,
    done: Option<BodyDone>,
    /// Polled at least once: some of the body may have been sent.
    polled: bool,
    /// Where the body goes back if it is dropped unpolled.
    unread: Option<Unread>,
    /// Where its failure is recorded.
    faults: Option<BodyFaults>,
}

impl Drop for UpstreamBody {
    fn drop(&mut self) {
        if self.polled {
            return;
        }
        if let (Some(slot), Some(body)) = (self.unread.take(), self.inner.take())
            && let Ok(mut slot) = slot.lock()
        {
            *slot = Some(body);
        }
    }
}

impl UpstreamBody {
    /// Records how the body failed in `faults`, if it does.
    pub fn reporting_faults(mut self, faults: BodyFaults) -> UpstreamBody {
        self.faults = Some(faults);
        self
    }

    /// Ends the body with `e`, recorded in the fault cell.
    fn fail(&mut self, e: BoxError) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.inner = None;
        self.idle = None;
        if let Some(cell) = &self.faults {
            let fault = if let Some(t) = e.downcast_ref::<BodyTooLarge>() {
                BodyFault::TooLarge { limit: t.limit }
            } else if let Some(c) = e.downcast_ref::<ClientBodyError>() {
                BodyFault::Client {
                    cause: c.to_string(),
                    timeout: c.is_timeout(),
                }
            } else {
                BodyFault::Client {
                    cause: e.to_string(),
                    timeout: false,
                }
            };
            let _ = cell.set(fault);
        }
        Poll::Ready(Some(Err(e)))
    }

    /// Gives the body back to `slot` if it is dropped before it was read
    /// at all, so that the request can go to another endpoint.
    pub fn returning_unread(mut self, slot: Unread) -> UpstreamBody {
        self.unread = Some(slot);
        self
    }

    /// Wraps `inner`; `limit` is the most bytes allowed (`u64::MAX` for
    /// none); `done`, if given, is set when the body has been read to its end.
    pub fn new(
        inner: RequestBody,
        limit: u64,
        read: BodyRead,
        done: Option<BodyDone>,
    ) -> UpstreamBody {
        UpstreamBody {
            inner: Some(inner),
            limit,
            seen: 0,
            read,
            started: Instant::now(),
            idle: None,
            done,
            polled: false,
            unread: None,
            faults: None,
        }
    }

    /// An empty body (for retries of bodiless requests).
    pub fn empty() -> UpstreamBody {
        UpstreamBody {
            inner: None,
            limit: u64::MAX,
            seen: 0,
            read: BodyRead::default(),
            started: Instant::now(),
            idle: None,
            done: None,
            polled: false,
            unread: None,
            faults: None,
        }
    }

    fn finished(&mut self) {
        self.inner = None;
        self.idle = None;
        if let Some(done) = &self.done {
            let _ = done.set(Instant::now());
        }
    }

    /// Counts `data` against the limit and the minimum rate.
    fn count(&mut self, len: usize) -> Result<(), BoxError> {
        self.seen += len as u64;
        if self.seen > self.limit {
            return Err(Box::new(BodyTooLarge { limit: self.limit }));
        }
        let elapsed = self.started.elapsed();
        if self.read.min_rate > 0 && elapsed > self.read.grace {
            let rate = (self.seen as f64 / elapsed.as_secs_f64()) as u64;
            let owed = self.read.min_rate as f64 * (elapsed - self.read.grace).as_secs_f64();
            if (self.seen as f64) < owed {
                return Err(Box::new(ClientBodyError::TooSlow {
                    rate,
                    min: self.read.min_rate,
                }));
            }
        }
        Ok(())
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        this.polled = true;
        let polled = match &mut this.inner {
            None => return Poll::Ready(None),
            Some(RequestBody::Buffered(bytes)) => {
                let bytes = std::mem::take(bytes);
                this.finished();
                if bytes.is_empty() {
                    return Poll::Ready(None);
                }
                if let Err(e) = this.count(bytes.len()) {
                    return this.fail(e);
                }
                return Poll::Ready(Some(Ok(Frame::data(bytes))));
            }
            Some(RequestBody::Streamed(incoming)) => Pin::new(incoming).poll_frame(cx),
        };
        match polled {
            Poll::Pending => {
                let idle = this.read.idle;
                let sleep = this
                    .idle
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                if sleep.as_mut().poll(cx).is_ready() {
                    return this.fail(Box::new(ClientBodyError::Stalled(idle)));
                }
                Poll::Pending
            }
            Poll::Ready(None) => {
                this.finished();
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                this.fail(Box::new(ClientBodyError::Malformed(e.to_string())))
            }
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(sleep) = this.idle.as_mut() {
                    sleep.as_mut().reset(Instant::now() + this.read.idle);
                }
                if let Some(data) = frame.data_ref()
                    && let Err(e) = this.count(data.len())
                {
                    return this.fail(e);
                }
                let ended =
                    matches!(&this.inner, Some(RequestBody::Streamed(b)) if b.is_end_stream());
                if ended {
                    this.finished();
                }
                Poll::Ready(Some(Ok(frame)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            None => true,
            Some(b) => b.is_empty(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            None => SizeHint::with_exact(0),
            Some(RequestBody::Buffered(b)) => SizeHint::with_exact(b.len() as u64),
            Some(RequestBody::Streamed(b)) => b.size_hint(),
        }
    }
}
