//! What an unlimited upstream does with a request: its path says how long
//! it takes, and nothing else does.
//!
//! `GET /…/ms/N` waits N ms, then answers `200` with a small body;
//! `GET /…/sse/N` answers at once with `text/event-stream` and sends N
//! events, one a second (the first at once), ending a second after the last;
//! any other path is answered at once. Nothing waits for anything else: a
//! thousand requests at once each take their own time, as an async service
//! with room to spare does. That is the service behind which a gateway must
//! never shed (issue 19): every request it turns away, it turned away for
//! nothing.
//!
//! This file reads paths and makes bodies; the accept loop, faults and
//! counters are `server.rs`'s. It must not block or hold anything shared
//! while a request waits.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame};
use tokio::time::{Instant, Sleep};

/// The longest wait a path may ask for (`/ms/N` is capped here), so that no
/// request outlives a bounded run by much.
pub const MAX_WAIT: Duration = Duration::from_secs(120);

/// The most events a path may ask for (`/sse/N` is capped here).
pub const MAX_EVENTS: u32 = 600;

/// The time between two events of a stream.
pub const EVENT_EVERY: Duration = Duration::from_secs(1);

/// What a path asks an unlimited upstream for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ask {
    /// Answer at once.
    Now,
    /// Wait this long, then answer.
    Wait(Duration),
    /// Answer at once with a stream of this many events.
    Events(u32),
}

impl Ask {
    /// Reads the last two segments of `path`: `…/ms/N` or `…/sse/N`.
    pub(crate) fn of(path: &str) -> Self {
        let mut segments = path.trim_end_matches('/').rsplit('/');
        let (Some(n), Some(kind)) = (segments.next(), segments.next()) else {
            return Self::Now;
        };
        let Ok(n) = n.parse::<u64>() else {
            return Self::Now;
        };
        match kind {
            "ms" => Self::Wait(Duration::from_millis(n).min(MAX_WAIT)),
            "sse" => Self::Events(u32::try_from(n).unwrap_or(u32::MAX).min(MAX_EVENTS)),
            _ => Self::Now,
        }
    }
}

/// A server-sent event stream: `data: i` for i in 0..n, one every
/// [`EVENT_EVERY`] from the first poll, then the end a period after the last.
#[derive(Debug)]
pub(crate) struct EventStream {
    sent: u32,
    total: u32,
    next: Pin<Box<Sleep>>,
}

impl EventStream {
    /// A stream of `total` events; the first is ready at once.
    pub(crate) fn new(total: u32) -> Self {
        Self {
            sent: 0,
            total,
            next: Box::pin(tokio::time::sleep_until(Instant::now())),
        }
    }
}

impl Body for EventStream {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        ready!(self.next.as_mut().poll(cx));
        if self.sent >= self.total {
            return Poll::Ready(None);
        }
        let event = Bytes::from(format!("data: {}\n\n", self.sent));
        self.sent += 1;
        let due = self.next.deadline() + EVENT_EVERY;
        self.next.as_mut().reset(due);
        Poll::Ready(Some(Ok(Frame::data(event))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[test]
    fn paths_say_what_to_do() {
        assert_eq!(Ask::of("/ms/50"), Ask::Wait(Duration::from_millis(50)));
        assert_eq!(
            Ask::of("/admission/users/ms/5/"),
            Ask::Wait(Duration::from_millis(5))
        );
        assert_eq!(Ask::of("/events/sse/3"), Ask::Events(3));
        assert_eq!(Ask::of("/ms/99999999"), Ask::Wait(MAX_WAIT));
        assert_eq!(Ask::of("/sse/99999999999"), Ask::Events(MAX_EVENTS));
        for other in ["/", "", "/ms", "/ms/x", "/ms/-1", "/s/5", "/users/5"] {
            assert_eq!(Ask::of(other), Ask::Now, "{other:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_event_stream_sends_one_event_a_second_then_ends() {
        let start = Instant::now();
        let mut body = EventStream::new(3);
        let mut seen = Vec::new();
        while let Some(frame) = body.frame().await {
            let data = frame.expect("infallible").into_data().expect("data");
            seen.push((start.elapsed().as_secs(), data));
        }
        let texts: Vec<_> = seen.iter().map(|(t, d)| (*t, d.as_ref())).collect();
        assert_eq!(
            texts,
            [
                (0, &b"data: 0\n\n"[..]),
                (1, b"data: 1\n\n"),
                (2, b"data: 2\n\n")
            ]
        );
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(3),
            "ends a period later"
        );
    }
}
