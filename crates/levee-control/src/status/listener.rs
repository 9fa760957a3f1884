//! The status page's own listener (`[status] listen`): the same documents as
//! `/_levee/status/` on the traffic listeners, at `/`.
//!
//! It serves from memory whatever the control plane last published, so it
//! stays up and cheap while the routes behind the gateway are failing or
//! shedding. This module must not render or decide anything.

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use levee_proxy::status::{SiteHandle, serve as serve_site};
use tokio::net::TcpListener;

/// Serves the published site on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, site: SiteHandle) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let site = site.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req: Request<Incoming>| {
                let site = site.clone();
                async move { Ok::<_, Infallible>(answer(&site, &req)) }
            });
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn answer<B>(site: &SiteHandle, req: &Request<B>) -> Response<Full<Bytes>> {
    let found = site
        .load()
        .and_then(|s| serve_site(&s, "/", req.method(), req.uri().path(), req.headers()));
    match found {
        Some(resp) => resp.map(Full::new),
        None => {
            let mut resp = Response::new(Full::new(Bytes::from_static(
                b"the status page is not available\n",
            )));
            *resp.status_mut() = StatusCode::NOT_FOUND;
            resp
        }
    }
}
