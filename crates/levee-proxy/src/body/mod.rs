//! Bodies on the data path.
//!
//! [`request`] is a client's request body on its way upstream: streamed
//! (or, when small and the route says so, read whole before admission),
//! with the route's size limit and deadlines. [`ProxyBody`] is what a client receives: either the
//! upstream's streamed body or a small body the gateway made, plus an
//! [`Completion`] that rides inside the body until it ends or is dropped — so
//! access logging, metrics and in-flight accounting see the real end of the
//! exchange, not the moment the response head was sent.
//!
//! This module must not decide limits or what to log; it only carries them.

mod request;

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::{Either, Full};
use hyper::body::Incoming;

pub use request::{
    BodyDone, BodyFault, BodyFaults, BodyPolicy, BodyRead, BodyTooLarge, ClientBodyError,
    RequestBody, Unread, UpstreamBody, read_whole,
};

/// A boxed error, as bodies and the client report them.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Called once when a response body ends or is dropped, with the bytes sent.
pub trait OnComplete: Send + Sync + 'static {
    /// `finished` is false when the body was dropped before its end (the
    /// client went away, or the upstream broke mid-body).
    fn complete(self: Box<Self>, bytes: u64, finished: bool);
}

/// The end-of-exchange hook a [`ProxyBody`] carries.
pub struct Completion {
    hook: Option<Box<dyn OnComplete>>,
    bytes: u64,
    finished: bool,
}

impl std::fmt::Debug for Completion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Completion")
            .field("bytes", &self.bytes)
            .finish()
    }
}

impl Completion {
    /// A hook to call at the end.
    pub fn new(hook: Box<dyn OnComplete>) -> Completion {
        Completion {
            hook: Some(hook),
            bytes: 0,
            finished: false,
        }
    }

    /// No hook.
    pub fn none() -> Completion {
        Completion {
            hook: None,
            bytes: 0,
            finished: false,
        }
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if let Some(hook) = self.hook.take() {
            hook.complete(self.bytes, self.finished);
        }
    }
}

pin_project_lite::pin_project! {
    /// The body of every response the gateway sends.
    #[derive(Debug)]
    pub struct ProxyBody {
        #[pin]
        inner: Either<Full<Bytes>, Incoming>,
        done: Completion,
    }
}

impl ProxyBody {
    /// A body the gateway made.
    pub fn full(bytes: impl Into<Bytes>) -> ProxyBody {
        ProxyBody {
            inner: Either::Left(Full::new(bytes.into())),
            done: Completion::none(),
        }
    }

    /// An empty body.
    pub fn empty() -> ProxyBody {
        ProxyBody::full(Bytes::new())
    }

    /// The upstream's streamed body.
    pub fn upstream(body: Incoming) -> ProxyBody {
        ProxyBody {
            inner: Either::Right(body),
            done: Completion::none(),
        }
    }

    /// Attaches the end-of-exchange hook.
    pub fn on_complete(mut self, done: Completion) -> ProxyBody {
        self.done = done;
        self
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let mut this = self.project();
        let polled = ready!(this.inner.as_mut().poll_frame(cx));
        match &polled {
            Some(Ok(frame)) => {
                if let Some(d) = frame.data_ref() {
                    this.done.bytes += d.len() as u64;
                }
            }
            None => this.done.finished = true,
            Some(Err(_)) => {}
        }
        // hyper stops polling once a body says it has ended, so a body that
        // ends with its last data frame must be marked finished here.
        if this.inner.is_end_stream() {
            this.done.finished = true;
        }
        Poll::Ready(polled)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
