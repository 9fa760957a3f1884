//! The faults the sample upstream can be told to show, and the body that
//! breaks off mid-response.
//!
//! This file only describes faults; the server in `server.rs` acts on them.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// How the sample upstream misbehaves. The default, [`Fault::None`], serves
/// normally. Set at start with `UpstreamBuilder::fault` or later with
/// `UpstreamHandle::set_fault`; a change applies to requests that arrive after it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Fault {
    /// Serve normally: hold a worker for the service time, answer `200 ok`.
    #[default]
    None,
    /// Answer every request at once with `503` and `Retry-After: {retry_after}`
    /// (delay-seconds), without taking a worker: a server that knows it is
    /// unavailable.
    Unavailable {
        /// The delay-seconds sent in `Retry-After`.
        retry_after: u32,
    },
    /// Refuse connections: the listening socket is closed (connects fail with
    /// `ECONNREFUSED`, queued connections are reset) and bound again on the same
    /// address when the fault is lifted. Open connections keep working.
    Refuse,
    /// Answer slowly: each answer holds its worker for `delay` more after the
    /// service time before its headers are sent.
    Slow {
        /// The extra time before the headers.
        delay: std::time::Duration,
    },
    /// Crash: the listening socket is closed, as for [`Fault::Refuse`], and
    /// every open connection is dropped at once, requests in flight included,
    /// as when the server's process dies (the kernel closes its sockets). A
    /// request whose answer was not sent gets none. Lifting the fault
    /// restarts the server on the same address: `UpstreamHandle::crash` and
    /// `UpstreamHandle::restart` do both and wait until it is done.
    Crash,
    /// Reset mid-response: after the service time, send headers announcing
    /// [`RESET_BODY_LEN`] bytes, half of them, then abort the connection. A
    /// connection accepted while this fault is in force closes with a TCP RST
    /// (zero linger); one accepted earlier ends with a FIN. Either way the
    /// client sees an incomplete response.
    Reset,
}

/// The `Content-Length` announced by a response cut by [`Fault::Reset`].
pub const RESET_BODY_LEN: usize = 64;

/// A body that yields half of [`RESET_BODY_LEN`] bytes and then fails, so
/// hyper aborts the connection with the response unfinished.
#[derive(Debug, Default)]
pub(crate) struct BrokenBody {
    sent: bool,
}

/// The error a [`BrokenBody`] fails with.
#[derive(Debug, thiserror::Error)]
#[error("sample upstream reset the response on purpose")]
pub(crate) struct Broken;

impl Body for BrokenBody {
    type Data = Bytes;
    type Error = Broken;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Broken>>> {
        if self.sent {
            return Poll::Ready(Some(Err(Broken)));
        }
        self.sent = true;
        let half = Bytes::from(vec![b'x'; RESET_BODY_LEN / 2]);
        Poll::Ready(Some(Ok(Frame::data(half))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(RESET_BODY_LEN as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn broken_body_sends_half_then_fails() {
        let mut body = BrokenBody::default();
        let first = body.frame().await.expect("a frame").expect("data");
        assert_eq!(first.into_data().expect("data").len(), RESET_BODY_LEN / 2);
        assert!(body.frame().await.expect("a frame").is_err());
    }
}
