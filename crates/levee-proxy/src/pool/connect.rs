//! Reaching one endpoint: the connector that always dials it, and the pooled
//! HTTP client built on it.
//!
//! The request URI carries the client's authority (HTTP/2 sends it as
//! `:authority`, RFC 9113 §8.3.1), so the connector cannot dial what the URI
//! names: it dials its endpoint, whatever it is asked for.
//!
//! This module must not choose endpoints or judge their health.

use http::Uri;
use http::uri::Authority;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::{PoolSpec, Protocol};
use crate::body::UpstreamBody;

/// The HTTP client an endpoint is reached with.
pub type UpstreamClient = Client<EndpointConnector, UpstreamBody>;

/// A connector that dials one endpoint, whatever URI it is asked for.
#[derive(Debug, Clone)]
pub struct EndpointConnector {
    inner: HttpConnector,
    target: Uri,
}

impl tower_service::Service<Uri> for EndpointConnector {
    type Response = <HttpConnector as tower_service::Service<Uri>>::Response;
    type Error = <HttpConnector as tower_service::Service<Uri>>::Error;
    type Future = <HttpConnector as tower_service::Service<Uri>>::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, _requested: Uri) -> Self::Future {
        self.inner.call(self.target.clone())
    }
}

/// The pooled client for one endpoint: its connector dials `authority`.
pub(super) fn endpoint_client(spec: &PoolSpec, authority: &Authority) -> UpstreamClient {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.set_connect_timeout(Some(spec.connect_timeout));
    http.enforce_http(true);
    let target = Uri::builder()
        .scheme("http")
        .authority(authority.clone())
        .path_and_query("/")
        .build()
        .unwrap_or_default();
    let mut builder = Client::builder(TokioExecutor::new());
    builder
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .pool_idle_timeout(spec.idle_timeout)
        .pool_max_idle_per_host(spec.max_idle_per_endpoint)
        .http1_preserve_header_case(spec.preserve_header_case)
        .http2_only(spec.protocol == Protocol::H2c);
    builder.build(EndpointConnector {
        inner: http,
        target,
    })
}
