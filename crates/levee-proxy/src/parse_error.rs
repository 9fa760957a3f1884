//! Problems for requests hyper cannot parse at all.
//!
//! hyper answers a request it cannot parse (a broken request line, a header
//! section larger than its buffer or with more fields than its parser holds)
//! with a bare `400`, `414` or `431` and no body, before any handler runs. The
//! contract says every error the gateway makes is a problem with a request
//! id, so [`ParseErrorIo`] wraps a client connection and watches what hyper
//! writes: a response head that starts `HTTP/1.x 400`, `414` or `431` and carries no
//! request-id header was written by hyper itself (every response that went
//! through [`crate::service::Proxy`] carries one), and it is replaced on the
//! wire by the equivalent problem. Nothing else is touched; the check costs
//! a few byte comparisons per write.
//!
//! This module must not parse requests; it only recognises hyper's answer.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::HeaderName;
use levee_http::pages::PROBLEMS_PATH;
use levee_http::{Problem, Reason, RequestId};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pin_project_lite::pin_project! {
    /// A client connection whose parse-error answers become problems.
    #[derive(Debug)]
    pub struct ParseErrorIo<I> {
        #[pin]
        inner: I,
        id_header: HeaderName,
        // Replacement bytes still to write, and how far we got.
        pending: Vec<u8>,
        pos: usize,
    }
}

impl<I> ParseErrorIo<I> {
    /// Wraps a connection; `id_header` is the configured request-id header.
    pub fn new(inner: I, id_header: HeaderName) -> ParseErrorIo<I> {
        ParseErrorIo {
            inner,
            id_header,
            pending: Vec::new(),
            pos: 0,
        }
    }
}

/// The problem response replacing hyper's bare answer, if `buf` is one.
fn replacement(buf: &[u8], id_header: &HeaderName) -> Option<Vec<u8>> {
    let reason = if buf.starts_with(b"HTTP/1.1 400 ") || buf.starts_with(b"HTTP/1.0 400 ") {
        Reason::BadRequest
    } else if buf.starts_with(b"HTTP/1.1 431 ") || buf.starts_with(b"HTTP/1.0 431 ") {
        Reason::HeadersTooLarge
    } else if buf.starts_with(b"HTTP/1.1 414 ") || buf.starts_with(b"HTTP/1.0 414 ") {
        Reason::UriTooLong
    } else {
        return None;
    };
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = &buf[..head_end];
    let ours = head.split(|b| *b == b'\n').skip(1).any(|line| {
        line.len() > id_header.as_str().len()
            && line[..id_header.as_str().len()].eq_ignore_ascii_case(id_header.as_str().as_bytes())
            && line[id_header.as_str().len()] == b':'
    });
    if ours {
        return None;
    }
    let id = RequestId::from_ulid(ulid::Ulid::new());
    let detail = match reason {
        Reason::HeadersTooLarge => {
            "The request's header section is larger, or has more fields, than the gateway can read."
        }
        Reason::UriTooLong => {
            "The request target (the URL's path and query) is longer than the gateway can read (64 KiB)."
        }
        _ => "The request could not be parsed as HTTP.",
    };
    let body = Problem::new(reason, PROBLEMS_PATH)
        .with_detail(detail)
        .with_request_id(id.as_str())
        .to_json();
    let mut out = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/problem+json\r\ncache-control: no-store\r\n{}: {}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        reason.status().as_u16(),
        reason.status().canonical_reason().unwrap_or(""),
        id_header.as_str(),
        id.as_str(),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    Some(out)
}

impl<I: AsyncWrite> ParseErrorIo<I> {
    /// Writes what is left of a replacement; ready when nothing is.
    fn poll_pending(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut this = self.project();
        while *this.pos < this.pending.len() {
            let n = ready!(
                this.inner
                    .as_mut()
                    .poll_write(cx, &this.pending[*this.pos..])
            )?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *this.pos += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<I: AsyncRead> AsyncRead for ParseErrorIo<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.project().inner.poll_read(cx, buf)
    }
}

impl<I: AsyncWrite> AsyncWrite for ParseErrorIo<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.as_mut().poll_pending(cx))?;
        let this = self.as_mut().project();
        if let Some(bytes) = replacement(buf, this.id_header) {
            *this.pending = bytes;
            *this.pos = 0;
            // hyper's bytes count as written; ours go out now or on flush.
            let _ = self.as_mut().poll_pending(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.as_mut().poll_pending(cx))?;
        if let Some(first) = bufs.iter().find(|b| !b.is_empty()) {
            let this = self.as_mut().project();
            if let Some(bytes) = replacement(first, this.id_header) {
                *this.pending = bytes;
                *this.pos = 0;
                let _ = self.as_mut().poll_pending(cx)?;
                return Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()));
            }
        }
        self.project().inner.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_pending(cx))?;
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_pending(cx))?;
        self.project().inner.poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> HeaderName {
        HeaderName::from_static("x-request-id")
    }

    #[test]
    fn replaces_only_hypers_own_answers() {
        let hyper_400 = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let out =
            String::from_utf8(replacement(hyper_400, &id()).expect("replaced")).expect("utf-8");
        assert!(out.starts_with("HTTP/1.1 400 Bad Request\r\n"));
        assert!(out.contains("\"reason\":\"bad-request\"") && out.contains("x-request-id: req_"));
        let hyper_431 =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n";
        assert!(
            String::from_utf8(replacement(hyper_431, &id()).expect("replaced"))
                .expect("utf-8")
                .contains("headers-too-large")
        );
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\nX-Request-Id: req_1\r\n\r\n{}";
        assert!(replacement(ours, &id()).is_none());
        assert!(replacement(b"HTTP/1.1 200 OK\r\n\r\n", &id()).is_none());
        assert!(
            replacement(b"HTTP/1.1 400 Bad", &id()).is_none(),
            "a partial head is left alone"
        );
    }
}
