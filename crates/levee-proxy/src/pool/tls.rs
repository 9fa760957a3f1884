//! TLS to a pool's endpoints: what it is made of, the stream it gives, and
//! the error a failed handshake is.
//!
//! The control plane loads the trust roots and the client certificate into
//! an [`UpstreamTls`]; here the pool's protocol picks what ALPN offers
//! (`h2` and `http/1.1`, or only one of them), and each endpoint gets the
//! name it is verified against: the configured `server_name`, or else the
//! endpoint's own host (an IP address is checked against the certificate's
//! IP addresses and sends no SNI, RFC 6066 §3). The name never comes from
//! the request: its URI carries the client's authority, not the upstream's.
//!
//! This module must not read files or choose endpoints.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use http::uri::Authority;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::Protocol;

/// A pool's TLS settings, as the control plane loaded them.
#[derive(Debug, Clone)]
pub struct UpstreamTls {
    /// The roots endpoints' certificates are verified against, and the
    /// client certificate, if any. Its ALPN list is replaced by the one the
    /// pool's protocol allows.
    pub config: Arc<rustls::ClientConfig>,
    /// The name sent as SNI and verified; `None`: each endpoint's host.
    pub server_name: Option<ServerName<'static>>,
}

/// The TLS handshake with an endpoint failed (or took longer than the
/// pool's `connect_timeout`): nothing was sent to it.
#[derive(Debug, thiserror::Error)]
#[error("TLS to {endpoint} failed: {cause}")]
pub struct TlsFailed {
    /// The endpoint, `host:port`.
    pub endpoint: String,
    /// Why, in rustls' words (e.g. `invalid peer certificate: UnknownIssuer`).
    pub cause: String,
}

/// The ALPN protocols offered for `protocol`, most preferred first.
fn alpn(protocol: Protocol) -> Vec<Vec<u8>> {
    match protocol {
        Protocol::Http1 => vec![b"http/1.1".to_vec()],
        Protocol::Http2 => vec![b"h2".to_vec()],
        Protocol::Auto => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
    }
}

/// What one endpoint's connector needs to open TLS sessions.
#[derive(Clone)]
pub(super) struct Handshake {
    connector: tokio_rustls::TlsConnector,
    /// The name to verify, or why the endpoint's host cannot be one.
    name: Result<ServerName<'static>, String>,
    endpoint: Authority,
    timeout: Duration,
}

impl std::fmt::Debug for Handshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handshake")
            .field("name", &self.name)
            .field("endpoint", &self.endpoint)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Handshake {
    /// The handshake with `endpoint` for a pool speaking `protocol`, bounded
    /// by `timeout`.
    pub(super) fn new(
        tls: &UpstreamTls,
        protocol: Protocol,
        endpoint: &Authority,
        timeout: Duration,
    ) -> Handshake {
        let mut config = (*tls.config).clone();
        config.alpn_protocols = alpn(protocol);
        let name = match &tls.server_name {
            Some(name) => Ok(name.clone()),
            None => server_name_of(endpoint),
        };
        Handshake {
            connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
            name,
            endpoint: endpoint.clone(),
            timeout,
        }
    }

    /// Runs the handshake over `tcp`.
    pub(super) async fn run(self, tcp: TcpStream) -> Result<UpstreamStream, TlsFailed> {
        let failed = |cause: String| TlsFailed {
            endpoint: self.endpoint.to_string(),
            cause,
        };
        let name = self.name.clone().map_err(failed)?;
        match tokio::time::timeout(self.timeout, self.connector.connect(name, tcp)).await {
            Ok(Ok(stream)) => Ok(UpstreamStream(Stream::Tls {
                io: Box::new(TokioIo::new(stream)),
                broke: Broke::default(),
            })),
            Ok(Err(e)) => Err(failed(io_cause(&e))),
            Err(_) => Err(failed(format!(
                "the handshake took over {} ms",
                self.timeout.as_millis()
            ))),
        }
    }
}

/// The endpoint's host as a name to verify: a DNS name, or an IP address
/// (brackets removed).
pub fn server_name_of(endpoint: &Authority) -> Result<ServerName<'static>, String> {
    let host = endpoint.host();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    ServerName::try_from(host.to_owned()).map_err(|e| {
        format!("`{host}` cannot be verified as a TLS name ({e}); set tls.server_name")
    })
}

/// An I/O error from rustls, in rustls' words when it is one of its own.
fn io_cause(e: &io::Error) -> String {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(tls) => tls.to_string(),
        None => e.to_string(),
    }
}

/// What broke a TLS session after its handshake, in rustls' words (an
/// alert from the endpoint, a bad record). The stream records it; a failed
/// request finds it among its connection's extras (`Connected::extra`),
/// since hyper's HTTP/2 keeps only the text of an I/O error, not the error.
#[derive(Debug, Clone, Default)]
struct Broke(Arc<OnceLock<String>>);

impl Broke {
    /// Notes `e` if it is rustls' own, and passes it on.
    fn note<T>(&self, polled: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if let Poll::Ready(Err(e)) = &polled
            && let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
        {
            let _ = self.0.set(tls.to_string());
        }
        polled
    }
}

/// A connection to an endpoint: plain TCP, or TLS over it.
#[derive(Debug)]
pub struct UpstreamStream(Stream);

impl UpstreamStream {
    /// A cleartext connection.
    pub(super) fn plain(tcp: TokioIo<TcpStream>) -> UpstreamStream {
        UpstreamStream(Stream::Plain(tcp))
    }
}

#[derive(Debug)]
enum Stream {
    /// Cleartext.
    Plain(TokioIo<TcpStream>),
    /// TLS.
    Tls {
        /// The session (boxed: it is large).
        io: Box<TokioIo<TlsStream<TcpStream>>>,
        /// What broke it, once something has.
        broke: Broke,
    },
}

impl Connection for UpstreamStream {
    fn connected(&self) -> Connected {
        match &self.0 {
            Stream::Plain(tcp) => tcp.connected(),
            Stream::Tls { io, broke } => {
                let (tcp, session) = io.inner().get_ref();
                let connected = tcp.connected().extra(broke.clone());
                // The client speaks HTTP/2 on this connection when ALPN chose it.
                if session.alpn_protocol() == Some(b"h2") {
                    connected.negotiated_h2()
                } else {
                    connected
                }
            }
        }
    }
}

impl hyper::rt::Read for UpstreamStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().0 {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls { io, broke } => broke.note(Pin::new(&mut **io).poll_read(cx, buf)),
        }
    }
}

impl hyper::rt::Write for UpstreamStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().0 {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls { io, broke } => broke.note(Pin::new(&mut **io).poll_write(cx, buf)),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().0 {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls { io, broke } => broke.note(Pin::new(&mut **io).poll_flush(cx)),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().0 {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls { io, .. } => Pin::new(&mut **io).poll_shutdown(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.0 {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls { io, .. } => io.is_write_vectored(),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().0 {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls { io, broke } => {
                broke.note(Pin::new(&mut **io).poll_write_vectored(cx, bufs))
            }
        }
    }
}

/// A TLS failure behind a failed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFailure {
    /// Why, in rustls' words.
    pub cause: String,
    /// The handshake failed: nothing was sent.
    pub handshake: bool,
}

/// The TLS failure behind a failed request, if one was: a failed handshake
/// ([`TlsFailed`], nothing was sent), or an alert or bad record after it —
/// a TLS 1.3 server refuses a client certificate only after the client's
/// side of the handshake is over, so that refusal arrives as the answer to
/// the request.
pub fn tls_failure(e: &hyper_util::client::legacy::Error) -> Option<TlsFailure> {
    if let Some(found) = in_causes(e) {
        return Some(found);
    }
    let mut extras = http::Extensions::new();
    e.connect_info()?.get_extras(&mut extras);
    let cause = extras.get::<Broke>()?.0.get()?.clone();
    Some(TlsFailure {
        cause,
        handshake: false,
    })
}

/// The TLS failure among an error's causes.
fn in_causes(e: &(dyn std::error::Error + 'static)) -> Option<TlsFailure> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(failed) = err.downcast_ref::<TlsFailed>() {
            return Some(TlsFailure {
                cause: failed.cause.clone(),
                handshake: true,
            });
        }
        let tls = err.downcast_ref::<rustls::Error>().or_else(|| {
            err.downcast_ref::<io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|i| i.downcast_ref::<rustls::Error>())
        });
        if let Some(tls) = tls {
            return Some(TlsFailure {
                cause: tls.to_string(),
                handshake: false,
            });
        }
        cur = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_is_verified_by_its_host_or_its_address() {
        let name = |s: &str| server_name_of(&s.parse().expect("authority"));
        assert!(matches!(
            name("api.internal:443"),
            Ok(ServerName::DnsName(_))
        ));
        assert!(matches!(
            name("127.0.0.1:8443"),
            Ok(ServerName::IpAddress(_))
        ));
        assert!(matches!(name("[::1]:8443"), Ok(ServerName::IpAddress(_))));
    }

    #[test]
    fn alpn_follows_the_protocol() {
        assert_eq!(alpn(Protocol::Http1), vec![b"http/1.1".to_vec()]);
        assert_eq!(alpn(Protocol::Http2), vec![b"h2".to_vec()]);
        assert_eq!(
            alpn(Protocol::Auto),
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }

    #[test]
    fn a_tls_failure_is_found_among_the_causes() {
        let alert = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired),
        );
        let found = in_causes(&alert).expect("found");
        assert!(found.cause.contains("CertificateRequired"), "{found:?}");
        assert!(!found.handshake);
        let failed = TlsFailed {
            endpoint: "127.0.0.1:1".into(),
            cause: "invalid peer certificate: UnknownIssuer".into(),
        };
        assert_eq!(
            in_causes(&failed),
            Some(TlsFailure {
                cause: "invalid peer certificate: UnknownIssuer".to_owned(),
                handshake: true
            })
        );
        assert_eq!(in_causes(&io::Error::other("reset")), None);
    }
}
