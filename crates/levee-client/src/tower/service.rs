//! [`Retry`]: the service that drives each request through the retrier.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use http_body::Body;
use tower::{Service, ServiceExt};

use crate::error::{BoxError, Error};
use crate::idempotency::{self, IDEMPOTENCY_KEY};
use crate::{Retrier, driver};

/// Retries requests to `S` under a shared [`Retrier`]. See the [module docs](super).
#[derive(Debug, Clone)]
pub struct Retry<S> {
    inner: S,
    retrier: Retrier,
}

impl<S> Retry<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, retrier: Retrier) -> Retry<S> {
        Retry { inner, retrier }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Retry<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
    ReqBody: Clone + Send + Sync + 'static,
    ResBody: Body + Send + 'static,
    ResBody::Data: Send,
{
    type Response = Response<ResBody>;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ResBody>, Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        // Readiness is awaited per attempt inside the future, on a clone.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let inner = self.inner.clone();
        let retrier = self.retrier.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            if idempotency::wants_auto_key(
                retrier.policy().idempotency_keys,
                &parts.method,
                &parts.headers,
            ) {
                let key = idempotency::new_key()
                    .parse()
                    .expect("a UUID is a valid header value");
                parts.headers.insert(IDEMPOTENCY_KEY, key);
            }
            let (method, headers, version) = (parts.method, parts.headers, parts.version);
            let attempt_headers = headers.clone();
            let attempt_method = method.clone();
            let send = move |url| {
                // Extensions are not `Clone`; a retried request goes without them.
                let mut attempt = Request::new(body.clone());
                *attempt.method_mut() = attempt_method.clone();
                *attempt.uri_mut() = url;
                *attempt.version_mut() = version;
                *attempt.headers_mut() = attempt_headers.clone();
                let svc = inner.clone();
                async move {
                    let ready = svc.oneshot(attempt);
                    ready.await.map_err(Into::into)
                }
            };
            let finished = driver::drive(&retrier, method, &headers, parts.uri, send).await?;
            let mut response = finished.response;
            response.extensions_mut().insert(finished.summary);
            Ok(response)
        })
    }
}
