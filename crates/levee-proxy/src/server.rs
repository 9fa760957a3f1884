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

/// How often the "max_connections reached" warning may be logged.
const CAPPED_LOG_EVERY: Duration = Duration::from_secs(10);

/// How long an idle HTTP/1 connection stays open once the gateway drains
/// (from the drain or its last activity, whichever is later): long enough
/// for a request already on its way to be answered `503 draining` rather
/// than reset.
const DRAIN_LINGER: Duration = Duration::from_secs(1);

/// When a connection with nothing in flight is closed: before its first
/// request, at `first_request_by` (the header-read timeout from accept, so a
/// connection that sends nothing holds its descriptor no longer than a slow
/// head may); while draining, after the linger; otherwise after `idle`.
fn close_at(
    state: &ConnState,
    idle: Duration,
    first_request_by: Instant,
    drain_at: Option<Instant>,
) -> Instant {
    let at = match drain_at {
        Some(at) => state.idle_deadline(DRAIN_LINGER).max(at + DRAIN_LINGER),
        None => state.idle_deadline(idle),
    };
    if state.has_started() {
        at
    } else {
        at.min(first_request_by)
    }
}

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
        let limits = proxy.limits().clone();
        let mut capped_logged: Option<Instant> = None;
        loop {
            // A place in the connection budget first: at the cap, stop
            // accepting (the kernel's backlog holds new connections) until
            // one closes.
            let permit = match limits.try_connection() {
                Some(p) => Some(p),
                None => {
                    if capped_logged.is_none_or(|at| at.elapsed() >= CAPPED_LOG_EVERY) {
                        capped_logged = Some(Instant::now());
                        tracing::warn!(
                            listener = %self.name,
                            max_connections = limits.max_connections(),
                            "max_connections reached: not accepting until a connection closes"
                        );
                    }
                    tokio::select! {
                        _ = &mut stop => break,
                        p = limits.connection() => p,
                    }
                }
            };
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
            // A client over its own connection cap is closed before anything
            // is read, so that one address cannot hold the descriptors
            // everyone shares. Counted here, in accept order.
            let Some(client_slot) = client_connection(&proxy, client) else {
                continue;
            };
            // The first request's head is due this long after accept, TLS
            // handshake included.
            let first_request_by = Instant::now() + self.settings.header_read_timeout;
            let local = match stream.local_addr() {
                Ok(a) => a,
                Err(_) => continue,
            };
            let _ = stream.set_nodelay(true);
            let proxy = proxy.clone();
            let builder = builder.clone();
            let tls = self.tls.clone();
            tokio::spawn(async move {
                let _held = (permit, client_slot);
                serve_connection(
                    stream,
                    Peer {
                        client,
                        local,
                        tls: tls.is_some(),
                    },
                    tls,
                    first_request_by,
                    proxy,
                    builder,
                )
                .await;
            });
        }
        tracing::info!(listener = %self.name, "stopped accepting connections");
    }
}

/// Counts a new connection from `client` in: `Some(None)` for a trusted
/// client (not counted), `None` when the client is over its cap.
fn client_connection(
    proxy: &Proxy,
    client: SocketAddr,
) -> Option<Option<crate::limits::ClientGuard>> {
    let rt = proxy.runtime().load();
    let settings = &rt.settings;
    if settings.is_trusted(client.ip()) {
        return Some(None);
    }
    let guard = proxy
        .limits()
        .client_connection(client.ip(), settings.client_caps());
    if guard.is_none() {
        tracing::debug!(
            %client,
            max_connections_per_client = settings.max_connections_per_client,
            "connection refused: client over its connection limit"
        );
        rt.metrics.client_connections_refused.inc();
        return None;
    }
    Some(guard)
}

async fn serve_connection(
    stream: TcpStream,
    peer: Peer,
    tls: Option<TlsAcceptor>,
    first_request_by: Instant,
    proxy: Proxy,
    builder: Arc<auto::Builder<TokioExecutor>>,
) {
    let rt = proxy.runtime().load();
    let settings = &rt.settings;
    rt.metrics.connections_open.inc();
    let _open = scopeguard(rt.metrics.connections_open.clone());
    // Problems for requests hyper cannot parse (see parse_error.rs).
    let id_header = settings.request_id_header.clone();
    let idle = settings.idle_timeout;
    match tls {
        None => {
            let io = ParseErrorIo::new(stream, id_header);
            drive(io, peer, proxy.clone(), &builder, idle, first_request_by).await
        }
        Some(acceptor) => {
            match tokio::time::timeout_at(first_request_by, acceptor.accept(stream)).await {
                Ok(Ok(tls_stream)) => {
                    drive(
                        ParseErrorIo::new(tls_stream, id_header),
                        peer,
                        proxy.clone(),
                        &builder,
                        idle,
                        first_request_by,
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
    first_request_by: Instant,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let state = Arc::new(ConnState::new());
    let drain = proxy.drain().clone();
    let _open = drain.connection();
    let svc_state = state.clone();
    let service = service_fn(move |req| {
        let proxy = proxy.clone();
        let state = svc_state.clone();
        async move { Ok::<_, Infallible>(proxy.handle(req, peer, &state).await) }
    });
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(conn);
    let mut drain_rx = drain.watch();
    // Since when the gateway drains, as this connection saw it.
    let mut drain_at = drain.is_draining().then(Instant::now);
    let mut shut = false;
    loop {
        let mut idle_at = close_at(&state, idle, first_request_by, drain_at);
        if state.in_flight() > 0 {
            // Not idle: look again in a second rather than spin on a past
            // deadline (a finished request moves the deadline on).
            idle_at = idle_at.max(Instant::now() + Duration::from_secs(1));
        }
        tokio::select! {
            res = conn.as_mut() => {
                if let Err(e) = res {
                    tracing::debug!(client = %peer.client, error = %e, "connection ended with an error");
                }
                break;
            }
            changed = drain_rx.changed(), if drain_at.is_none() => {
                drain_at = Some(Instant::now());
                // HTTP/2 gets GOAWAY now. An HTTP/1 connection (or one that
                // has not said yet) stays open so that a request already on
                // its way is answered, not reset; it lingers when idle.
                if changed.is_err() || state.is_h2() {
                    conn.as_mut().graceful_shutdown();
                    shut = true;
                }
            }
            _ = tokio::time::sleep_until(idle_at), if !shut => {
                let due = close_at(&state, idle, first_request_by, drain_at);
                if state.in_flight() == 0 && Instant::now() >= due {
                    conn.as_mut().graceful_shutdown();
                    shut = true;
                }
            }
        }
    }
}
