//! Listeners and client connections.
//!
//! A [`Listener`] accepts TCP connections (optionally TLS via rustls, with
//! ALPN offering `h2` and `http/1.1`) and serves each with hyper's automatic
//! HTTP/1.1 + HTTP/2 connection (h2c by prior knowledge on cleartext). Per
//! connection it enforces the header-read deadline (slowloris), the idle
//! deadline between requests, and the drain protocol: on drain, HTTP/2
//! connections get GOAWAY at once; HTTP/1 connections stay open so that a
//! request arriving on them is told `503 draining` with `Connection: close`.
//!
//! This module must not look at requests beyond counting them; the handler
//! is [`crate::service::Proxy`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use crate::conn::{ConnState, Peer};
use crate::parse_error::ParseErrorIo;
use crate::runtime::ListenerSettings;
use crate::service::Proxy;

/// A bound listener, ready to serve.
pub struct Listener {
    tcp: TcpListener,
    tls: Option<TlsAcceptor>,
    name: String,
    settings: ListenerSettings,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("name", &self.name)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Listener {
    /// Binds `addr`; `tls` (with ALPN already set) makes it an HTTPS
    /// listener; `settings` are fixed for its life.
    pub async fn bind(
        name: impl Into<String>,
        addr: SocketAddr,
        tls: Option<Arc<rustls::ServerConfig>>,
        settings: ListenerSettings,
    ) -> std::io::Result<Listener> {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.set_nodelay(true)?;
        socket.bind(addr)?;
        let tcp = socket.listen(4096)?;
        Ok(Listener {
            tcp,
            tls: tls.map(TlsAcceptor::from),
            name: name.into(),
            settings,
        })
    }

    /// The bound address (useful after binding port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    /// Accepts and serves connections until the proxy starts draining.
    pub async fn serve(self, proxy: Proxy) {
        let draining = proxy.drain().clone();
        let settings = &self.settings;
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(settings.header_read_timeout)
            .preserve_header_case(settings.preserve_header_case)
            .max_buf_size((settings.max_header_bytes * 2 + 16 * 1024).max(8192))
            .max_headers(settings.max_headers.saturating_mul(2).max(128));
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(settings.max_header_bytes * 2).unwrap_or(u32::MAX))
            .max_concurrent_streams(1024);
        let builder = Arc::new(builder);
        let stop = draining.started();
        tokio::pin!(stop);
        loop {
            let (stream, client) = tokio::select! {
                _ = &mut stop => break,
                accepted = self.tcp.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // Out of file descriptors and the like: back off briefly
                        // instead of spinning.
                        tracing::warn!(listener = %self.name, error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let local = match stream.local_addr() {
                Ok(a) => a,
                Err(_) => continue,
            };
            let _ = stream.set_nodelay(true);
            let proxy = proxy.clone();
            let builder = builder.clone();
            let tls = self.tls.clone();
            let handshake = self.settings.header_read_timeout;
            tokio::spawn(async move {
                serve_connection(
                    stream,
                    Peer {
                        client,
                        local,
                        tls: tls.is_some(),
                    },
                    tls.map(|t| (t, handshake)),
                    proxy,
                    builder,
                )
                .await;
            });
        }
        tracing::info!(listener = %self.name, "stopped accepting connections");
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: Peer,
    tls: Option<(TlsAcceptor, Duration)>,
    proxy: Proxy,
    builder: Arc<auto::Builder<TokioExecutor>>,
) {
    let rt = proxy.runtime().load();
    let settings = &rt.settings;
    rt.metrics.connections_open.inc();
    let _open = scopeguard(rt.metrics.connections_open.clone());
    // Problems for requests hyper cannot parse (see parse_error.rs).
    let id_header = settings.request_id_header.clone();
    match tls {
        None => {
            let io = ParseErrorIo::new(stream, id_header);
            drive(io, peer, proxy.clone(), &builder, settings.idle_timeout).await
        }
        Some((acceptor, handshake)) => {
            match tokio::time::timeout(handshake, acceptor.accept(stream)).await {
                Ok(Ok(tls_stream)) => {
                    drive(
                        ParseErrorIo::new(tls_stream, id_header),
                        peer,
                        proxy.clone(),
                        &builder,
                        settings.idle_timeout,
                    )
                    .await
                }
                Ok(Err(e)) => {
                    tracing::debug!(client = %peer.client, error = %e, "TLS handshake failed")
                }
                Err(_) => tracing::debug!(client = %peer.client, "TLS handshake timed out"),
            }
        }
    }
}

struct OpenGuard(prometheus_client::metrics::gauge::Gauge<i64, std::sync::atomic::AtomicI64>);
impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}
fn scopeguard(
    g: prometheus_client::metrics::gauge::Gauge<i64, std::sync::atomic::AtomicI64>,
) -> OpenGuard {
    OpenGuard(g)
}

async fn drive<I>(
    io: I,
    peer: Peer,
    proxy: Proxy,
    builder: &auto::Builder<TokioExecutor>,
    idle: Duration,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let state = Arc::new(ConnState::new());
    let drain = proxy.drain().clone();
    let svc_state = state.clone();
    let service = service_fn(move |req| {
        let proxy = proxy.clone();
        let state = svc_state.clone();
        async move { Ok::<_, Infallible>(proxy.handle(req, peer, &state).await) }
    });
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(conn);
    let mut drain_rx = drain.watch();
    let mut drained = drain.is_draining();
    let mut shut = false;
    if drained {
        conn.as_mut().graceful_shutdown();
        shut = true;
    }
    loop {
        let idle_at = state.idle_deadline(idle);
        tokio::select! {
            res = conn.as_mut() => {
                if let Err(e) = res {
                    tracing::debug!(client = %peer.client, error = %e, "connection ended with an error");
                }
                break;
            }
            changed = drain_rx.changed(), if !drained => {
                drained = true;
                // HTTP/2 gets GOAWAY now. An HTTP/1 connection stays open so a
                // request already on its way is answered `503 draining`.
                if changed.is_err() || state.is_h2() || !state.has_served() {
                    conn.as_mut().graceful_shutdown();
                    shut = true;
                }
            }
            _ = tokio::time::sleep_until(idle_at), if !shut => {
                if state.in_flight() == 0 && Instant::now() >= state.idle_deadline(idle) {
                    conn.as_mut().graceful_shutdown();
                    shut = true;
                }
            }
        }
    }
}
