//! [`BufferedRetryLayer`]: retries for clients whose request body cannot
//! be cloned — a tonic channel's, above all.
//!
//! The request body is read whole first (a unary gRPC call's message is
//! small), then every attempt gets a fresh body made from those bytes by
//! the function the layer was given (for tonic, `tonic::body::Body::new`).
//! Everything else is [`Retry`]'s: `Retry-After`, gRPC's
//! `grpc-retry-pushback-ms` and `RetryInfo`, budget, breakers.
//!
//! Use it for unary calls: a client-streaming call's body would be held
//! until the stream ends.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::{BodyExt, Full};
use tower::{Layer, Service};

use super::Retry;
use crate::Retrier;
use crate::error::{
    BoxError, Error, Failure, GiveUp, RetrySummary, TransportError, TransportErrorKind,
};

/// Applies [`BufferedRetry`] to a service. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct BufferedRetryLayer<F> {
    retrier: Retrier,
    into_body: F,
}

impl<F> BufferedRetryLayer<F> {
    /// A layer whose services retry under `retrier`, sending each attempt
    /// the body `into_body` makes from the request's bytes.
    pub fn new(retrier: Retrier, into_body: F) -> BufferedRetryLayer<F> {
        BufferedRetryLayer { retrier, into_body }
    }
}

impl<S, F: Clone> Layer<S> for BufferedRetryLayer<F> {
    type Service = BufferedRetry<S, F>;

    fn layer(&self, inner: S) -> BufferedRetry<S, F> {
        BufferedRetry {
            retry: Retry::new(
                WithBody {
                    inner,
                    into_body: self.into_body.clone(),
                },
                self.retrier.clone(),
            ),
        }
    }
}

/// Reads the request body whole, then retries like [`Retry`].
#[derive(Debug, Clone)]
pub struct BufferedRetry<S, F> {
    retry: Retry<WithBody<S, F>>,
}

/// The inner service, fed bodies made from bytes.
#[derive(Debug, Clone)]
pub struct WithBody<S, F> {
    inner: S,
    into_body: F,
}

impl<S, F, B, ResBody> Service<Request<Full<Bytes>>> for WithBody<S, F>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    F: Fn(Full<Bytes>) -> B,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Full<Bytes>>) -> S::Future {
        self.inner.call(req.map(&self.into_body))
    }
}

impl<S, F, ReqBody, ResBody> Service<Request<ReqBody>> for BufferedRetry<S, F>
where
    WithBody<S, F>:
        Service<Request<Full<Bytes>>, Response = Response<ResBody>> + Clone + Send + 'static,
    <WithBody<S, F> as Service<Request<Full<Bytes>>>>::Error: Into<BoxError>,
    <WithBody<S, F> as Service<Request<Full<Bytes>>>>::Future: Send,
    ReqBody: Body + Send + 'static,
    ReqBody::Data: Send,
    ReqBody::Error: Into<BoxError>,
    ResBody: Body + Send + 'static,
    ResBody::Data: Send,
{
    type Response = Response<ResBody>;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ResBody>, Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let mut retry = self.retry.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let bytes = match body.collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(e) => {
                    let e: BoxError = e.into();
                    return Err(Error {
                        failure: Failure::Transport(TransportError::new(
                            TransportErrorKind::Other,
                            format!("reading the request body to send it: {e}"),
                        )),
                        gave_up: GiveUp::NotRetryable,
                        request_id: None,
                        summary: RetrySummary {
                            method: parts.method.clone(),
                            url: parts.uri.to_string(),
                            gave_up: Some(GiveUp::NotRetryable),
                            ..RetrySummary::default()
                        },
                    });
                }
            };
            retry
                .call(Request::from_parts(parts, Full::new(bytes)))
                .await
        })
    }
}
