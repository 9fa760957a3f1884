//! The client half of the 503 contract.
//!
//! A correct `503 Service Unavailable` with `Retry-After` is wasted on a
//! client that retries in a tight loop, or gives up at once. This crate is a
//! retrying HTTP client core that any Rust program can put around its HTTP
//! client to survive someone else's bad day — and that a fleet of clients can
//! run without turning an outage into a retry storm:
//!
//! - **classification** — retries connect errors, resets, timeouts, 408, 429,
//!   502, 503 and 504 ([`RetryPolicy::retry_on`]); never other 4xx;
//! - **`Retry-After`** in both grammars, skew-corrected with the `Date`
//!   header, never shortened, and capped by [`RetryPolicy::max_wait`], past
//!   which the client gives up with a clear error instead of sleeping an hour;
//! - **backoff** — exponential with full jitter by default (`levee-policy`'s,
//!   the same code the gateway runs);
//! - **budget** — one [`TpsBudget`](levee_policy::budget::TpsBudget) per
//!   [`Retrier`]: retries stay a small fraction of traffic when everything fails;
//! - **breakers** — one per endpoint; an endpoint that keeps failing is
//!   skipped, then probed;
//! - **failover** — a list of base URLs (regions), in order or by health;
//! - **idempotency** — a request the server may have seen is repeated only
//!   if RFC 9110 calls its method idempotent or it has an `Idempotency-Key`
//!   (optionally added automatically);
//! - **typed errors** — [`Error`] carries the status, the server's problem
//!   (RFC 9457 or the `{meta, error}` envelope), the request id, the attempts
//!   and the time waited; [`Diagnosis`] turns it into advice for a person.
//!
//! Integrations: [`tower::RetryLayer`] for any tower/hyper client, and (with
//! the `reqwest` feature) [`reqwest::RetryMiddleware`] for reqwest-middleware
//! and [`reqwest::execute`] for a plain `reqwest::Client`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use levee_client::{Retrier, RetryPolicy, tower::RetryLayer};
//! use tower::{Service, ServiceBuilder, ServiceExt};
//!
//! let retrier = Retrier::builder()
//!     .policy(RetryPolicy { max_attempts: 4, ..RetryPolicy::default() })
//!     .endpoints(["http://eu.api.example", "http://us.api.example"])
//!     .build()?;
//! # let http_client = tower::service_fn(|_req: http::Request<Full<Bytes>>| async {
//! #     Ok::<_, std::io::Error>(http::Response::new(Full::new(Bytes::new())))
//! # });
//! let mut client = ServiceBuilder::new().layer(RetryLayer::new(retrier)).service(http_client);
//! let request = http::Request::get("http://eu.api.example/v1/items").body(Full::new(Bytes::new()))?;
//! let response = client.ready().await?.call(request).await?;
//! let response = levee_client::error_for_status(response).await?;
//! # let _ = response; Ok(()) }
//! ```
//!
//! This crate must not depend on the gateway: it speaks HTTP, not Levee, and
//! works against any server.

pub mod diagnosis;
pub mod driver;
pub mod endpoints;
pub mod error;
pub mod event;
mod grpc;
pub mod idempotency;
pub mod policy;
pub mod problem;
#[cfg(feature = "reqwest")]
pub mod reqwest;
mod retrier;
mod run;
pub mod tower;

pub use diagnosis::{Diagnosis, Side};
pub use driver::{AttemptResponse, Finished, drive};
pub use endpoints::{Endpoint, FailoverOrder};
pub use error::{
    AttemptOutcome, AttemptRecord, BoxError, Error, Failure, GiveUp, RetrySummary, TransportError,
    TransportErrorKind,
};
pub use event::{Event, Observer, WaitReason};
pub use idempotency::IdempotencyKeys;
pub use policy::{Backoff, Jitter, RetryPolicy};
pub use problem::ProblemInfo;
pub use retrier::{BuildError, DEFAULT_BUDGET, Retrier, RetrierBuilder, default_breaker};

/// Turns a final error-status response (from [`tower::Retry`]) into an
/// [`Error`], reading up to 64 KiB of its body for the server's problem.
/// Successes and redirects pass through untouched.
pub async fn error_for_status<B>(response: http::Response<B>) -> Result<http::Response<B>, Error>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
{
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return Ok(response);
    }
    let summary = response
        .extensions()
        .get::<RetrySummary>()
        .cloned()
        .unwrap_or_default();
    let headers = response.headers().clone();
    let body = response.read_snippet(driver::SNIPPET_LIMIT).await;
    Err(Error::from_response(status, &headers, &body, summary))
}
