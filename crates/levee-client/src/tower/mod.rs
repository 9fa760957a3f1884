//! A `tower` middleware: retries around any hyper/tower HTTP client.
//!
//! [`RetryLayer`] wraps a `Service<http::Request<B>>` (for example
//! hyper-util's legacy `Client`) in a [`Retry`] service that sends each
//! request through the shared [`Retrier`](crate::Retrier): `Retry-After`
//! honoured, budget spent, breakers consulted, endpoints failed over.
//!
//! The request body must be `Clone` (e.g. `Full<Bytes>`, `String`), because a
//! retry sends it again. The final response is returned as it came — also an
//! error status the client gave up on — with a [`RetrySummary`] in its
//! extensions; a request that got no response at all fails with
//! [`crate::Error`]. Use [`crate::error_for_status`] to turn error statuses
//! into errors.
//!
//! For a client whose request body is not `Clone` — a tonic channel —
//! [`BufferedRetryLayer`] reads the body whole first and makes each
//! attempt's body from the bytes (`tonic::body::Body::new`); gRPC refusals
//! (`grpc-status` 14 or 8 in a trailers-only answer) are retried after their
//! `grpc-retry-pushback-ms` or `RetryInfo`, as 503 and 429 after
//! `Retry-After`.
//!
//! This module owns the tower plumbing only; it must not make retry
//! decisions of its own.
//!
//! [`RetrySummary`]: crate::RetrySummary

mod buffered;
mod layer;
mod service;

pub use buffered::{BufferedRetry, BufferedRetryLayer, WithBody};
pub use layer::RetryLayer;
pub use service::Retry;
