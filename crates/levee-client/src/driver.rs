//! The async loop around a [`Run`]: send, judge, sleep, repeat.
//!
//! Every integration (the tower layer, the reqwest middleware, `levee
//! fetch`) drives requests through [`drive`], handing it a closure that sends
//! one attempt to a URL. The driver adds the per-attempt timeout (never past
//! the request's total time), reads a little of a failed response's body (for
//! its request id and problem), sleeps on tokio's clock, and returns either
//! the final response with its [`RetrySummary`] or an [`Error`].
//!
//! It owns the only sleeps and clock reads of the crate; decisions are the
//! [`Run`]'s.

use std::future::Future;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Method, StatusCode, Uri};
use http_body::Body;
use http_body_util::BodyExt;

use crate::error::{BoxError, Error, Failure, RetrySummary, TransportError, TransportErrorKind};
use crate::problem::ProblemInfo;
use crate::retrier::Retrier;
use crate::run::{Run, Verdict};

/// How much of a failed response's body is read to find its problem.
pub(crate) const SNIPPET_LIMIT: usize = 64 * 1024;

/// A response, as far as the retry loop needs to see it.
pub trait AttemptResponse: Send + Sized {
    /// The status code.
    fn status(&self) -> StatusCode;
    /// The header fields.
    fn headers(&self) -> &HeaderMap;
    /// Reads up to `limit` bytes of the body and drops the rest.
    fn read_snippet(self, limit: usize) -> impl Future<Output = Bytes> + Send;
}

impl<B> AttemptResponse for http::Response<B>
where
    B: Body + Send + 'static,
    B::Data: Send,
{
    fn status(&self) -> StatusCode {
        http::Response::status(self)
    }

    fn headers(&self) -> &HeaderMap {
        http::Response::headers(self)
    }

    async fn read_snippet(self, limit: usize) -> Bytes {
        let mut body = Box::pin(self.into_body());
        let mut out = BytesMut::new();
        while out.len() < limit {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(mut data) = frame.into_data() {
                        use bytes::Buf;
                        let take = data.remaining().min(limit - out.len());
                        out.extend_from_slice(&data.copy_to_bytes(take));
                    }
                }
                _ => break,
            }
        }
        out.freeze()
    }
}

/// A final response and what it took to get it.
#[derive(Debug)]
pub struct Finished<R> {
    /// The response: a success, or an error status the client gave up on
    /// (then `summary.gave_up` says why).
    pub response: R,
    /// Every attempt, the time waited and why the client stopped.
    pub summary: RetrySummary,
}

fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// Sends a request with retries. `send` sends one attempt to the URL given.
///
/// Returns the final response (success or a given-up error status), or an
/// [`Error`] when no response could be had.
pub async fn drive<R, F, Fut>(
    retrier: &Retrier,
    method: Method,
    headers: &HeaderMap,
    url: Uri,
    mut send: F,
) -> Result<Finished<R>, Error>
where
    R: AttemptResponse,
    F: FnMut(Uri) -> Fut,
    Fut: Future<Output = Result<R, BoxError>>,
{
    let shared = &*retrier.shared;
    let policy = &shared.policy;
    let mut run = Run::start(shared, method, headers, url, now());
    let started = now();
    let mut last_failure = Failure::NotAttempted;
    loop {
        let target = match run.begin(now()) {
            Ok(target) => target,
            Err(why) => {
                run.summary.gave_up = Some(why.clone());
                return Err(error(&mut run, last_failure, why));
            }
        };
        // The attempt may not outlive the request's total time. Without a
        // per-try timeout, `max_time` is only checked between attempts.
        let remaining = policy.max_time.saturating_sub(now() - started);
        let limit = policy
            .per_try_timeout
            .map(|t| t.min(remaining).max(Duration::from_millis(1)));
        let attempt = send(target);
        let outcome = match limit {
            Some(limit) => tokio::time::timeout(limit, attempt)
                .await
                .map_err(|_| limit),
            None => Ok(attempt.await),
        };
        let verdict = match outcome {
            Ok(Ok(response)) => {
                let verdict = run.on_response(
                    response.status(),
                    response.headers(),
                    now(),
                    SystemTime::now(),
                );
                match verdict {
                    Verdict::Done | Verdict::GiveUp(_) => {
                        let summary = run.finish_summary(now());
                        return Ok(Finished { response, summary });
                    }
                    Verdict::Retry { wait } => {
                        let status = response.status();
                        let body = response.read_snippet(SNIPPET_LIMIT).await;
                        run.announce(Some(&body));
                        last_failure = Failure::Status {
                            status,
                            problem: ProblemInfo::parse(&body),
                            body_snippet: String::from_utf8_lossy(&body[..body.len().min(2048)])
                                .into_owned(),
                        };
                        Verdict::Retry { wait }
                    }
                }
            }
            Ok(Err(e)) => transport(&mut run, TransportError::classify(e), &mut last_failure),
            Err(limit) => transport(
                &mut run,
                TransportError::new(
                    TransportErrorKind::Timeout,
                    format!("no response within {}", crate::event::secs(limit)),
                ),
                &mut last_failure,
            ),
        };
        match verdict {
            Verdict::Retry { wait } => tokio::time::sleep(wait).await,
            Verdict::GiveUp(why) => return Err(error(&mut run, last_failure, why)),
            Verdict::Done => unreachable!("transport errors are never done"),
        }
    }
}

fn transport(run: &mut Run<'_>, e: TransportError, last: &mut Failure) -> Verdict {
    let verdict = run.on_transport_error(&e, now());
    if matches!(verdict, Verdict::Retry { .. }) {
        run.announce(None);
    }
    *last = Failure::Transport(e);
    verdict
}

fn error(run: &mut Run<'_>, failure: Failure, why: crate::error::GiveUp) -> Error {
    let summary = run.finish_summary(now());
    let request_id = match &failure {
        Failure::Status { problem, .. } => problem.as_ref().and_then(|p| p.request_id.clone()),
        _ => None,
    }
    .or_else(|| summary.last_request_id().map(str::to_owned));
    Error {
        failure,
        gave_up: why,
        request_id,
        summary,
    }
}
