//! [`RetryLayer`]: wraps services in [`Retry`].

use tower::Layer;

use super::Retry;
use crate::Retrier;

/// Applies [`Retry`] to a service, sharing one [`Retrier`] across all of them.
#[derive(Debug, Clone)]
pub struct RetryLayer {
    retrier: Retrier,
}

impl RetryLayer {
    /// A layer whose services retry under `retrier`.
    pub fn new(retrier: Retrier) -> RetryLayer {
        RetryLayer { retrier }
    }
}

impl<S> Layer<S> for RetryLayer {
    type Service = Retry<S>;

    fn layer(&self, inner: S) -> Retry<S> {
        Retry::new(inner, self.retrier.clone())
    }
}
