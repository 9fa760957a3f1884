//! The request handler: named phases over one request context.
//!
//! ```text
//! screen ─► route ─► guard ─► forward ─► finish
//! (screen.rs)        (guard.rs) (forward/) (finish.rs)
//! ```
//!
//! Each phase returns a [`ProxyError`] when the gateway must answer itself;
//! only [`Proxy::handle`] turns one into a response (through
//! [`crate::rescue`], in the format the route asks for once it is known), so
//! hyper never sees an error. The response body carries the [`Exchange`]
//! record that writes the access-log line and the metrics when the exchange
//! really ends.
//!
//! This module must not open sockets (see [`crate::server`]) or talk to
//! endpoints directly (see [`crate::forward`]).

use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;
use tokio::time::Instant;

use crate::body::{ProxyBody, RequestBody};
use crate::conn::{ConnState, Peer};
use crate::context::RequestCx;
use crate::control::ControlHandle;
use crate::drain::Drain;
use crate::error::ProxyError;
use crate::finish::{Exchange, upstream_head};
use crate::forward::{forward, outcome};
use crate::guard::guard;
use crate::limits::Limits;
use crate::rescue::rescue;
use crate::route::Route;
use crate::runtime::{Runtime, RuntimeHandle};
use crate::screen::{Screened, normalize_path, screen};

/// The data path's request handler; cheap to clone (one per connection).
#[derive(Debug, Clone)]
pub struct Proxy {
    runtime: RuntimeHandle,
    drain: Drain,
    control: ControlHandle,
    limits: Limits,
}

impl Proxy {
    /// A handler reading `runtime` and the operator's `control` directives
    /// (maintenance windows, drains), observing `drain`, and counting
    /// connections and requests against `limits`.
    pub fn new(
        runtime: RuntimeHandle,
        drain: Drain,
        control: ControlHandle,
        limits: Limits,
    ) -> Proxy {
        Proxy {
            runtime,
            drain,
            control,
            limits,
        }
    }

    /// The connection budget and per-client counts.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The runtime handle.
    pub fn runtime(&self) -> &RuntimeHandle {
        &self.runtime
    }

    /// The drain signal.
    pub fn drain(&self) -> &Drain {
        &self.drain
    }

    /// Answers one request. Never fails.
    pub async fn handle(
        &self,
        req: Request<Incoming>,
        peer: Peer,
        conn: &Arc<ConnState>,
    ) -> Response<ProxyBody> {
        let rt = self.runtime.load();
        let mut cx = RequestCx::new(&req, peer, &rt.settings);
        let mut log = Exchange::begin(&req, &cx, rt.clone(), conn.clone(), self.drain.request());
        let h1 = req.version() < http::Version::HTTP_2;
        let client = peer.client.ip();
        let counted = if rt.settings.is_trusted(client) {
            Ok(None)
        } else {
            let caps = rt.settings.client_caps();
            match self.limits.client_request(client, caps) {
                Some(guard) => Ok(Some(guard)),
                None => Err(ProxyError::ClientLimit {
                    limit: caps.requests,
                }),
            }
        };
        let answered = match counted {
            Ok(guard) => {
                log.client = guard;
                self.phases(req, &rt, &mut cx, &mut log).await
            }
            Err(refused) => Err(refused),
        };
        let mut response = match answered {
            Ok(response) => response,
            Err(err) => {
                log.reason = Some(err.reason());
                if log.upstream.is_none() {
                    tracing::debug!(request_id = %cx.request_id, error = %err, "answering for the upstream");
                }
                rescue(&err, &cx.error_context(&rt.settings))
            }
        };
        if h1 && self.drain.is_draining() {
            // Draining: every HTTP/1 client is told to go elsewhere next time.
            response.headers_mut().insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
        }
        log.attach(response)
    }

    /// Everything between the request head and the response head.
    async fn phases(
        &self,
        req: Request<Incoming>,
        rt: &Runtime,
        cx: &mut RequestCx,
        log: &mut Exchange,
    ) -> Result<Response<ProxyBody>, ProxyError> {
        let settings = &rt.settings;
        let mut req = req.map(RequestBody::Streamed);
        let host = match screen(
            &req,
            self.drain.is_draining(),
            cx,
            settings,
            Some(self.control.site()),
        )? {
            Screened::Page(page) => return Ok(page),
            Screened::Host(host) => host,
        };
        normalize_path(&mut req, settings)?;
        let route = choose(rt, host, &req, cx, log)?;
        let pass = guard(&mut req, route, cx, settings, &self.control).await?;
        let sent = Instant::now();
        let result = forward(
            req,
            route,
            pass.closed,
            cx.peer,
            &cx.request_id,
            settings,
            pass.deadline,
            &self.control,
        )
        .await;
        if let Some(mut permit) = pass.permit {
            // Admission learns the time to the response head and whether the
            // upstream dropped the request; the slot is given back now, at
            // the head: a streamed body is an answered request.
            if let Some((rtt, dropped)) = outcome::limiter_sample(&result, sent.elapsed()) {
                permit.record(rtt, dropped);
            }
            drop(permit);
        }
        let fwd = match result {
            Ok(fwd) => fwd,
            Err(e) => {
                // The access log names the endpoint that failed, if one did.
                log.tried = e.endpoint().map(str::to_owned);
                return Err(e);
            }
        };
        let pool = route.pools().nth(fwd.pool).unwrap_or(&route.pool);
        pool.headers_seconds
            .observe(fwd.headers_after.as_secs_f64());
        log.upstream = Some(fwd.endpoint);
        log.headers_after = Some(fwd.headers_after);
        Ok(upstream_head(
            fwd.response,
            &cx.error_context(settings),
            pass.rate_fields,
        ))
    }
}

/// The route for `host` and the request's path; from here on, the
/// request's errors take the route's format.
fn choose<'r, B>(
    rt: &'r Runtime,
    host: Option<String>,
    req: &Request<B>,
    cx: &mut RequestCx,
    log: &mut Exchange,
) -> Result<&'r Route, ProxyError> {
    let Some(route) = rt.routes.find(host.as_deref(), req.uri().path()) else {
        return Err(ProxyError::NoRoute {
            host,
            path: req.uri().path().to_owned(),
        });
    };
    cx.json_style = route.spec.json_style;
    log.route = Some(route.name.clone());
    log.metrics = Some(route.metrics.clone());
    Ok(route)
}
