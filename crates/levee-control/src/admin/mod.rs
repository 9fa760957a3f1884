//! The admin listener: liveness, readiness, metrics, the admin API.
//!
//! It listens on its own address (127.0.0.1 by default, never the traffic
//! port). `/healthz` answers 200 while the process runs; `/readyz` answers
//! 503 (with `Retry-After`) once draining starts so load balancers stop
//! sending traffic; `/metrics` is the Prometheus exposition; `/openapi.json`
//! describes the authenticated `/v1` API ([`api`]: maintenance windows,
//! drains, audit log; tokens in [`auth`], input checks in [`input`]).
//!
//! This module must not touch the data path's requests.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use levee_proxy::Drain;
use levee_proxy::metrics::Metrics;
use tokio::net::TcpListener;

use crate::control::Control;

mod api;
pub mod auth;
pub mod input;
pub mod json;

/// The OpenAPI 3.1 description of the admin API, served at `/openapi.json`.
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// What the admin endpoints read.
#[derive(Debug, Clone)]
pub struct AdminState {
    /// The gateway's metrics.
    pub metrics: Arc<Metrics>,
    /// The drain signal (readiness).
    pub drain: Drain,
    /// Windows and drains.
    pub control: Arc<Control>,
    /// Who may use the `/v1` API; replaced whole on a reload.
    pub tokens: Arc<ArcSwap<auth::AdminTokens>>,
    /// The data path's current snapshot (admission state for `/metrics`
    /// and `/v1/admission`).
    pub runtime: levee_proxy::runtime::RuntimeHandle,
    /// The status page (incidents, components), when there is one.
    pub status: Option<Arc<crate::status::StatusPage>>,
}

/// Serves the admin endpoints on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, state: AdminState) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = state.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(handle(req, &state).await) }
            });
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

/// Binds the admin address.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

fn text(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn handle(req: Request<Incoming>, state: &AdminState) -> Response<Full<Bytes>> {
    if req.uri().path().starts_with("/v1/") {
        return api::handle(req, state).await;
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "method not allowed\n",
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    match req.uri().path() {
        "/healthz" => text(StatusCode::OK, "text/plain; charset=utf-8", "ok\n"),
        "/readyz" if !state.drain.is_ready() => {
            let mut r = text(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain; charset=utf-8",
                "draining\n",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
        "/readyz" => text(StatusCode::OK, "text/plain; charset=utf-8", "ready\n"),
        "/openapi.json" => text(StatusCode::OK, "application/json", OPENAPI),
        "/metrics" => text(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            {
                let rt = state.runtime.load();
                let drained = state.control.handle().load().drained.clone();
                state.metrics.encode_with(&rt.routes, &rt.pools, &drained)
            },
        ),
        path => match levee_http::pages::page_for_path(path) {
            Some(html) => text(StatusCode::OK, "text/html; charset=utf-8", html),
            None => text(
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
                "not found: try /healthz, /readyz, /metrics, /openapi.json or /v1/windows\n",
            ),
        },
    }
}
