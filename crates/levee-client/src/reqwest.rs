//! reqwest integration (feature `reqwest`): [`execute`] for a plain
//! `reqwest::Client`, and [`RetryMiddleware`] for `reqwest-middleware`.
//!
//! Both send each request through the shared [`Retrier`]. A request whose
//! body cannot be cloned (a stream) is sent once, never retried. [`execute`]
//! turns a final error status into an [`Error`] (reading up to 64 KiB of the
//! body for the problem); the middleware returns it as a response, like any
//! middleware, with the [`RetrySummary`](crate::RetrySummary) in its
//! extensions.
//!
//! This module owns the reqwest plumbing only; decisions are the driver's.

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

use crate::Retrier;
use crate::driver::{self, AttemptResponse};
use crate::error::{BoxError, Error};
use crate::idempotency::{self, IDEMPOTENCY_KEY};

impl AttemptResponse for reqwest::Response {
    fn status(&self) -> StatusCode {
        reqwest::Response::status(self)
    }

    fn headers(&self) -> &HeaderMap {
        reqwest::Response::headers(self)
    }

    async fn read_snippet(mut self, limit: usize) -> Bytes {
        let mut out = Vec::new();
        while out.len() < limit {
            match self.chunk().await {
                Ok(Some(chunk)) => {
                    let take = chunk.len().min(limit - out.len());
                    out.extend_from_slice(&chunk[..take]);
                }
                _ => break,
            }
        }
        Bytes::from(out)
    }
}

/// The request of each attempt, for both adapters: the original for the
/// first, a clone for each retry (a streamed body cannot be cloned, and so
/// cannot be retried).
struct Attempts {
    first: Option<reqwest::Request>,
    template: Option<reqwest::Request>,
    method: http::Method,
    headers: http::HeaderMap,
    uri: http::Uri,
}

impl Attempts {
    /// Gets `request` ready to be retried under `retrier`: an idempotency
    /// key added when the policy asks for one.
    fn new(retrier: &Retrier, mut request: reqwest::Request) -> Attempts {
        if idempotency::wants_auto_key(
            retrier.policy().idempotency_keys,
            request.method(),
            request.headers(),
        ) {
            let key = idempotency::new_key()
                .parse()
                .expect("a UUID is a valid header value");
            request.headers_mut().insert(IDEMPOTENCY_KEY, key);
        }
        Attempts {
            method: request.method().clone(),
            headers: request.headers().clone(),
            uri: request
                .url()
                .as_str()
                .parse()
                .expect("a reqwest URL is a valid URI"),
            template: request.try_clone(),
            first: Some(request),
        }
    }

    /// The next attempt's request, sent to `url`.
    fn next(&mut self, url: &http::Uri) -> Result<reqwest::Request, BoxError> {
        let attempt = match (&self.template, self.first.take()) {
            (Some(t), _) => t.try_clone(),
            (None, original) => original,
        };
        let mut attempt = attempt.ok_or("the request body is a stream and cannot be sent twice")?;
        *attempt.url_mut() = url.to_string().parse()?;
        Ok(attempt)
    }
}

/// Runs `request` on `client` with retries; final error statuses become
/// [`Error`]s, so `Ok` is always a success (or a redirect not followed).
pub async fn execute(
    retrier: &Retrier,
    client: &reqwest::Client,
    request: reqwest::Request,
) -> Result<reqwest::Response, Error> {
    let mut attempts = Attempts::new(retrier, request);
    let (method, headers, uri) = (
        attempts.method.clone(),
        attempts.headers.clone(),
        attempts.uri.clone(),
    );
    let send = |url: http::Uri| {
        let attempt = attempts.next(&url);
        let client = client.clone();
        async move { client.execute(attempt?).await.map_err(BoxError::from) }
    };
    let finished = driver::drive(retrier, method, &headers, uri, send).await?;
    let response = finished.response;
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        let headers = response.headers().clone();
        let body = response.read_snippet(driver::SNIPPET_LIMIT).await;
        return Err(Error::from_response(
            status,
            &headers,
            &body,
            finished.summary,
        ));
    }
    Ok(response)
}

/// A `reqwest-middleware` middleware that retries under a shared [`Retrier`].
#[derive(Debug, Clone)]
pub struct RetryMiddleware {
    retrier: Retrier,
}

impl RetryMiddleware {
    /// A middleware retrying under `retrier`.
    pub fn new(retrier: Retrier) -> RetryMiddleware {
        RetryMiddleware { retrier }
    }
}

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for RetryMiddleware {
    async fn handle(
        &self,
        req: reqwest::Request,
        _extensions: &mut http::Extensions,
        next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let mut attempts = Attempts::new(&self.retrier, req);
        let (method, headers, uri) = (
            attempts.method.clone(),
            attempts.headers.clone(),
            attempts.uri.clone(),
        );
        let send = |url: http::Uri| {
            let attempt = attempts.next(&url);
            let next = next.clone();
            async move {
                // Each attempt gets fresh extensions: they are not `Clone`.
                let mut extensions = http::Extensions::new();
                next.run(attempt?, &mut extensions)
                    .await
                    .map_err(BoxError::from)
            }
        };
        match driver::drive(&self.retrier, method, &headers, uri, send).await {
            Ok(finished) => {
                let mut response = finished.response;
                response.extensions_mut().insert(finished.summary);
                Ok(response)
            }
            Err(e) => Err(reqwest_middleware::Error::middleware(e)),
        }
    }
}
