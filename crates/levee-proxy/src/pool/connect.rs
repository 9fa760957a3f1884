//! Reaching one endpoint: the connector that always dials it (and speaks
//! TLS to it, for an `https://` pool), and the pooled HTTP client built on
//! it.
//!
//! The request URI carries the client's authority (HTTP/2 sends it as
//! `:authority`, RFC 9113 §8.3.1), so the connector cannot dial what the URI
//! names: it dials its endpoint, whatever it is asked for, and verifies the
//! endpoint's certificate against the name the pool's TLS settings give
//! (see `tls.rs`), never against the request's.
//!
//! This module must not choose endpoints or judge their health.

use std::future::Future;
use std::pin::Pin;

use http::Uri;
use http::uri::Authority;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::tls::{Handshake, UpstreamStream};
use super::{PoolSpec, Protocol};
use crate::body::UpstreamBody;

/// The HTTP client an endpoint is reached with.
pub type UpstreamClient = Client<EndpointConnector, UpstreamBody>;

/// Why a connection could not be opened: the TCP connect's error, or
/// [`super::TlsFailed`].
pub type ConnectError = Box<dyn std::error::Error + Send + Sync>;

/// A connector that dials one endpoint, whatever URI it is asked for, and
/// opens a TLS session over the connection when the pool has TLS.
#[derive(Debug, Clone)]
pub struct EndpointConnector {
    tcp: HttpConnector,
    target: Uri,
    tls: Option<Handshake>,
}

impl tower_service::Service<Uri> for EndpointConnector {
    type Response = UpstreamStream;
    type Error = ConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<UpstreamStream, ConnectError>> + Send>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.tcp.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, _requested: Uri) -> Self::Future {
        let tcp = self.tcp.call(self.target.clone());
        let tls = self.tls.clone();
        Box::pin(async move {
            let tcp = tcp.await?;
            match tls {
                None => Ok(UpstreamStream::plain(tcp)),
                Some(handshake) => Ok(handshake.run(tcp.into_inner()).await?),
            }
        })
    }
}

/// The connector for one endpoint: it dials `authority` within the pool's
/// `connect_timeout`, and gives the TLS handshake as long again.
pub(super) fn endpoint_connector(spec: &PoolSpec, authority: &Authority) -> EndpointConnector {
    let mut tcp = HttpConnector::new();
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(Some(spec.connect_timeout));
    tcp.enforce_http(true);
    let target = Uri::builder()
        .scheme("http")
        .authority(authority.clone())
        .path_and_query("/")
        .build()
        .unwrap_or_default();
    EndpointConnector {
        tcp,
        target,
        tls: spec
            .tls
            .as_ref()
            .map(|tls| Handshake::new(tls, spec.protocol, authority, spec.connect_timeout)),
    }
}

/// The pooled client for one endpoint, over its connector.
pub(super) fn endpoint_client(spec: &PoolSpec, connector: EndpointConnector) -> UpstreamClient {
    let mut builder = Client::builder(TokioExecutor::new());
    builder
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .pool_idle_timeout(spec.idle_timeout)
        .pool_max_idle_per_host(spec.max_idle_per_endpoint)
        .http1_preserve_header_case(spec.preserve_header_case)
        // HTTP/2 with prior knowledge (h2c), or by ALPN `h2` only; with
        // `Auto`, HTTP/2 when the endpoint's ALPN answer says `h2`.
        .http2_only(spec.protocol == Protocol::Http2);
    builder.build(connector)
}
