//! Issue 12 item 6: TLS to upstreams. Real rustls/hyper upstreams on
//! 127.0.0.1 with certificates from a CA generated here (rcgen), and a
//! gateway whose pool points at them with `https://`: what verifies is
//! served, what does not is a 502 that names the endpoint and says why, and
//! mTLS, ALPN and health checks work over the same connections.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, Version};
use http_body_util::BodyExt;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;

use crate::support::*;

// ------------------------------------------------------------------ the PKI

/// A certificate authority, generated for one test.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and its key, as PEM and as rustls wants them.
struct Leaf {
    cert_pem: String,
    key_pem: String,
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key"))
            .expect("CA certificate");
        Ca { issuer }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    fn der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// A certificate for `names` (DNS names or IP addresses), for a server
    /// or for a client.
    fn issue(&self, names: &[&str], purpose: ExtendedKeyUsagePurpose) -> Leaf {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("params");
        params.extended_key_usages = vec![purpose];
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("signed");
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert: cert.der().clone(),
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        }
    }

    /// A server certificate for `localhost` and `127.0.0.1`.
    fn server(&self) -> Leaf {
        self.issue(
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        )
    }
}

/// Files the gateway's configuration names, in a directory of their own.
struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Files {
        Files {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// Writes `text` to `name`; its absolute path, for the TOML.
    fn write(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path.to_string_lossy().into_owned()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

// ------------------------------------------------------------- the upstream

/// What the TLS upstream saw of one request.
#[derive(Debug, Clone)]
struct TlsSeen {
    path: String,
    version: Version,
    /// The SNI the client sent (none for an IP address).
    sni: Option<String>,
    /// Whether the client presented a certificate.
    client_cert: bool,
    user_agent: Option<String>,
    body: Bytes,
}

/// A hyper server (HTTP/1.1 and HTTP/2 by ALPN) behind tokio-rustls on
/// 127.0.0.1:0. It answers `200` with the request's body (or `hello`), and
/// its `/healthz` answers `500` while `sick` is set.
struct TlsUpstream {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<TlsSeen>>>,
    sick: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TlsUpstream {
    /// Serves `leaf`; when `client_ca` is given, a client certificate it
    /// issued is required.
    async fn start(leaf: &Leaf, client_ca: Option<&Ca>) -> TlsUpstream {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("versions");
        let builder = match client_ca {
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                roots.add(ca.der()).expect("client CA");
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .expect("verifier");
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder
            .with_single_cert(vec![leaf.cert.clone()], leaf.key.clone_key())
            .expect("server config");
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let seen: Arc<Mutex<Vec<TlsSeen>>> = Arc::default();
        let sick = Arc::new(AtomicBool::new(false));
        let (log, ill) = (seen.clone(), sick.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, log, ill) = (acceptor.clone(), log.clone(), ill.clone());
                tokio::spawn(async move {
                    // A handshake the server refuses ends here.
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let session = tls.get_ref().1;
                    let sni = session.server_name().map(str::to_owned);
                    let client_cert = session.peer_certificates().is_some();
                    let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let (log, ill, sni) = (log.clone(), ill.clone(), sni.clone());
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body.collect().await.map(|b| b.to_bytes());
                            let body = body.unwrap_or_default();
                            let path = parts.uri.path().to_owned();
                            log.lock().expect("lock").push(TlsSeen {
                                path: path.clone(),
                                version: parts.version,
                                sni,
                                client_cert,
                                user_agent: parts
                                    .headers
                                    .get("user-agent")
                                    .and_then(|v| v.to_str().ok())
                                    .map(str::to_owned),
                                body: body.clone(),
                            });
                            let status = if path == "/healthz" && ill.load(Ordering::SeqCst) {
                                500
                            } else {
                                200
                            };
                            let answer = if body.is_empty() {
                                Bytes::from_static(b"hello")
                            } else {
                                body
                            };
                            Ok::<_, std::convert::Infallible>(
                                Response::builder()
                                    .status(status)
                                    .body(full(answer))
                                    .expect("response"),
                            )
                        }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), svc)
                        .await;
                });
            }
        });
        TlsUpstream {
            addr,
            seen,
            sick,
            task,
        }
    }

    fn seen(&self) -> Vec<TlsSeen> {
        self.seen.lock().expect("lock").clone()
    }
}

/// A gateway with one catch-all route to a pool `app` of `endpoints` and
/// the pool's `extra` keys (`tls = { … }`, `protocol`).
async fn gateway(endpoints: &[String], extra: &str) -> Gw {
    let list = endpoints
        .iter()
        .map(|e| format!("\"{e}\""))
        .collect::<Vec<_>>()
        .join(", ");
    Gw::start(&format!(
        "[[pools]]\nname = \"app\"\nendpoints = [{list}]\n{extra}\n[[routes]]\nname = \"main\"\npool = \"app\"\n"
    ))
    .await
}

/// A gateway to the one endpoint `https://{up.addr}`, its pool's `tls`
/// table being `tls` (inline-table keys).
async fn gateway_to(up: &TlsUpstream, tls: &str) -> Gw {
    gateway(
        &[format!("https://{}", up.addr)],
        &format!("tls = {{ {tls} }}"),
    )
    .await
}

/// `ca`'s certificate in a file; the files and its path.
fn ca_file_of(ca: &Ca) -> (Files, String) {
    let files = Files::new();
    let path = files.write("ca.pem", &ca.pem());
    (files, path)
}

/// Asserts `got` is the 502 of a TLS failure at `endpoint`; its detail.
fn tls_problem(got: &Got, endpoint: SocketAddr) -> String {
    let problem = assert_problem(got, 502, "bad-gateway");
    let detail = problem["detail"].as_str().expect("detail").to_owned();
    assert!(
        detail.contains(&format!("TLS to {endpoint} failed")),
        "the detail names the endpoint: {detail}"
    );
    detail
}

/// A POST of `body` through the gateway, fully read.
async fn post(gw: &Gw, path: &str, body: &'static [u8]) -> Got {
    let req = Request::post(gw.url(path))
        .header("host", "app.example")
        .body(full(body))
        .expect("request");
    send(&h1(), req).await
}

/// A body large enough to span many TLS records.
static BIG: [u8; 100_000] = [b'x'; 100_000];

// ------------------------------------------------------------------- tests

/// The happy path: the pool trusts the upstream's CA (`ca_file`), verifies
/// it as `localhost` (`server_name`, sent as SNI, not the client's Host),
/// and the request and its 100 kB body arrive intact and come back.
#[tokio::test]
async fn an_https_endpoint_is_verified_against_the_ca_file() {
    let ca = Ca::new("levee test CA");
    let up = TlsUpstream::start(&ca.server(), None).await;
    let (_files, ca_file) = ca_file_of(&ca);
    let gw = gateway_to(
        &up,
        &format!("ca_file = \"{ca_file}\", server_name = \"localhost\""),
    )
    .await;

    let got = post(&gw, "/upload", &BIG).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.body.len(), BIG.len(), "the body came back whole");
    assert!(got.body.iter().all(|b| *b == b'x'));
    let seen = up.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/upload");
    assert_eq!(seen[0].body.len(), BIG.len(), "the upstream got it whole");
    assert_eq!(
        seen[0].sni.as_deref(),
        Some("localhost"),
        "SNI is the configured server_name, not the client's Host"
    );
}

/// Without `server_name`, an IP endpoint is verified against the
/// certificate's IP addresses (and sends no SNI).
#[tokio::test]
async fn an_ip_endpoint_is_verified_against_its_address() {
    let ca = Ca::new("levee test CA");
    let up = TlsUpstream::start(&ca.server(), None).await;
    let (_files, ca_file) = ca_file_of(&ca);
    let gw = gateway_to(&up, &format!("ca_file = \"{ca_file}\"")).await;
    let got = get(&gw.url("/by-address"), &[]).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.text(), "hello");
    assert_eq!(up.seen()[0].sni, None, "no SNI for an IP address");
}

/// A certificate from a CA the pool does not trust is a 502 whose detail
/// names the endpoint and says why; nothing reaches the upstream.
#[tokio::test]
async fn an_untrusted_certificate_is_a_502_naming_the_endpoint_and_why() {
    let theirs = Ca::new("their CA");
    let ours = Ca::new("our CA");
    let up = TlsUpstream::start(&theirs.server(), None).await;
    let (_files, ca_file) = ca_file_of(&ours);
    let gw = gateway_to(&up, &format!("ca_file = \"{ca_file}\"")).await;

    let got = get(&gw.url("/secret"), &[]).await;
    let detail = tls_problem(&got, up.addr);
    assert!(detail.contains("UnknownIssuer"), "{detail}");
    assert!(up.seen().is_empty(), "no request reached the upstream");
}

/// A certificate that is not valid for the name the pool verifies is a 502
/// that says so.
#[tokio::test]
async fn a_certificate_for_another_name_is_a_502() {
    let ca = Ca::new("levee test CA");
    let up = TlsUpstream::start(&ca.server(), None).await;
    let (_files, ca_file) = ca_file_of(&ca);
    let gw = gateway_to(
        &up,
        &format!("ca_file = \"{ca_file}\", server_name = \"api.example\""),
    )
    .await;

    let got = get(&gw.url("/"), &[]).await;
    let detail = tls_problem(&got, up.addr);
    assert!(
        detail.contains("not valid for name") && detail.contains("api.example"),
        "{detail}"
    );
}

/// mTLS: an upstream that requires a client certificate serves the gateway
/// that presents one (`cert_file`, `key_file`) and refuses the one that
/// does not, which answers a 502 that says the upstream wanted a
/// certificate.
#[tokio::test]
async fn a_client_certificate_is_presented_when_configured() {
    let ca = Ca::new("levee test CA");
    let clients = Ca::new("client CA");
    let up = TlsUpstream::start(&ca.server(), Some(&clients)).await;
    let client = clients.issue(&["levee.gateway"], ExtendedKeyUsagePurpose::ClientAuth);
    let (files, ca_file) = ca_file_of(&ca);
    let cert_file = files.write("client.pem", &client.cert_pem);
    let key_file = files.write("client.key", &client.key_pem);

    let with = gateway(
        &[format!("https://{}", up.addr)],
        &format!(
            "[pools.tls]\nca_file = \"{ca_file}\"\ncert_file = \"{cert_file}\"\nkey_file = \"{key_file}\"\n"
        ),
    )
    .await;
    let got = get(&with.url("/mtls"), &[]).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert!(up.seen()[0].client_cert, "the upstream saw the certificate");

    let without = gateway_to(&up, &format!("ca_file = \"{ca_file}\"")).await;
    let got = get(&without.url("/mtls"), &[]).await;
    let detail = tls_problem(&got, up.addr);
    assert!(detail.contains("CertificateRequired"), "{detail}");
    assert_eq!(up.seen().len(), 1, "the refused request was not served");
}

/// ALPN: an `https://` pool offers `h2` and `http/1.1` and speaks what the
/// upstream chose (HTTP/2 here); `protocol = "http1"` offers only
/// `http/1.1`, and `protocol = "h2"` only `h2`.
#[tokio::test]
async fn alpn_chooses_the_upstream_protocol() {
    let ca = Ca::new("levee test CA");
    let (_files, ca_file) = ca_file_of(&ca);
    for (protocol, want) in [
        ("", Version::HTTP_2),
        ("protocol = \"http1\"", Version::HTTP_11),
        ("protocol = \"h2\"", Version::HTTP_2),
    ] {
        let up = TlsUpstream::start(&ca.server(), None).await;
        let gw = gateway(
            &[format!("https://{}", up.addr)],
            &format!("{protocol}\ntls = {{ ca_file = \"{ca_file}\" }}"),
        )
        .await;
        for i in 0..3 {
            let got = post(&gw, &format!("/alpn/{i}"), b"abc").await;
            assert_eq!(got.status, 200, "{protocol}: {}", got.text());
            assert_eq!(got.text(), "abc", "{protocol}");
        }
        let seen = up.seen();
        assert_eq!(seen.len(), 3);
        assert!(
            seen.iter().all(|s| s.version == want),
            "{protocol:?}: the upstream saw {:?}",
            seen.iter().map(|s| s.version).collect::<Vec<_>>()
        );
    }
}

/// A failed handshake sent nothing, so the request (body included) goes to
/// the next endpoint, as after a refused connect.
#[tokio::test]
async fn a_failed_handshake_fails_over_to_the_next_endpoint() {
    let ca = Ca::new("levee test CA");
    let stranger = Ca::new("someone else's CA");
    let bad = TlsUpstream::start(&stranger.server(), None).await;
    let good = TlsUpstream::start(&ca.server(), None).await;
    let (_files, ca_file) = ca_file_of(&ca);
    let gw = gateway(
        &[
            format!("https://{}", bad.addr),
            format!("https://{}", good.addr),
        ],
        &format!("tls = {{ ca_file = \"{ca_file}\" }}"),
    )
    .await;
    for i in 0..4 {
        let got = post(&gw, &format!("/{i}"), b"payload").await;
        assert_eq!(got.status, 200, "{}", got.text());
        assert_eq!(got.text(), "payload");
    }
    assert_eq!(
        good.seen().len(),
        4,
        "every request was served by the good one"
    );
    assert!(bad.seen().is_empty());
}

/// Health checks of an `https://` pool go over TLS with the pool's
/// settings: a failing check takes the endpoint out (503), a passing one
/// brings it back.
#[tokio::test]
async fn health_checks_work_over_https() {
    let ca = Ca::new("levee test CA");
    let up = TlsUpstream::start(&ca.server(), None).await;
    let (_files, ca_file) = ca_file_of(&ca);
    let gw = gateway(
        &[format!("https://localhost:{}", up.addr.port())],
        &format!(
            "panic_threshold = 0\n\
             health_check = {{ path = \"/healthz\", interval = \"50ms\", unhealthy_threshold = 1 }}\n\
             tls = {{ ca_file = \"{ca_file}\" }}"
        ),
    )
    .await;

    eventually(
        Duration::from_secs(10),
        "a check reached the upstream",
        async || up.seen().iter().any(|s| s.path == "/healthz"),
    )
    .await;
    let check = up
        .seen()
        .into_iter()
        .find(|s| s.path == "/healthz")
        .expect("a check");
    assert_eq!(check.user_agent.as_deref(), Some("levee-health-check"));
    assert_eq!(
        check.sni.as_deref(),
        Some("localhost"),
        "SNI from the endpoint's host"
    );
    assert_eq!(get(&gw.url("/"), &[]).await.status, 200);

    up.sick.store(true, Ordering::SeqCst);
    eventually(
        Duration::from_secs(10),
        "the endpoint is taken out",
        async || get(&gw.url("/"), &[]).await.status == 503,
    )
    .await;
    up.sick.store(false, Ordering::SeqCst);
    eventually(
        Duration::from_secs(10),
        "the endpoint is back",
        async || get(&gw.url("/"), &[]).await.status == 200,
    )
    .await;
}

/// Mistakes in a pool's TLS settings are reported at their lines, with what
/// to do about them.
#[test]
fn tls_mistakes_point_at_their_lines() {
    let ca = Ca::new("levee test CA");
    let (files, ca_file) = ca_file_of(&ca);
    let client = ca.issue(&["levee.gateway"], ExtendedKeyUsagePurpose::ClientAuth);
    let cert_file = files.write("client.pem", &client.cert_pem);
    let missing = files.path("missing.pem").to_string_lossy().into_owned();
    let head = "[[listeners]]\nlisten = \"127.0.0.1:8000\"\n\n[[pools]]\nname = \"app\"\n";
    let route = "\n[[routes]]\npool = \"app\"\n";
    for (pool, line, want) in [
        (
            format!(
                "endpoints = [\"https://127.0.0.1:8443\"]\ntls = {{ ca_file = \"{missing}\" }}"
            ),
            7,
            "tls.ca_file: cannot load CA certificates from",
        ),
        (
            format!(
                "endpoints = [\"https://127.0.0.1:8443\"]\ntls = {{ ca_file = \"{cert_file}\", key_file = \"{cert_file}\" }}"
            ),
            7,
            "tls.key_file needs tls.cert_file",
        ),
        (
            format!(
                "endpoints = [\"https://127.0.0.1:8443\"]\ntls = {{ ca_file = \"{ca_file}\", cert_file = \"{cert_file}\", key_file = \"{missing}\" }}"
            ),
            7,
            "tls.key_file: cannot load private key",
        ),
        (
            format!("endpoints = [\"http://127.0.0.1:8080\"]\ntls = {{ ca_file = \"{ca_file}\" }}"),
            7,
            "tls is for https:// endpoints",
        ),
        (
            format!(
                "endpoints = [\"https://127.0.0.1:8443\"]\ntls = {{ ca_file = \"{ca_file}\", server_name = \"not a name\" }}"
            ),
            7,
            "invalid tls.server_name `not a name`",
        ),
        (
            format!(
                "endpoints = [\"https://127.0.0.1:8443\"]\nprotocol = \"h2c\"\ntls = {{ ca_file = \"{ca_file}\" }}"
            ),
            7,
            "for HTTP/2 over TLS write protocol = \"h2\"",
        ),
        (
            "endpoints = [\"http://127.0.0.1:8080\"]\nprotocol = \"h2\"".to_owned(),
            7,
            "h2 is HTTP/2 over TLS",
        ),
        (
            "endpoints = [\"https://127.0.0.1:8443\", \"http://127.0.0.1:8080\"]".to_owned(),
            5,
            "endpoints mix https:// and http://",
        ),
        (
            "endpoints = [\"https://127.0.0.1:8443\"]\ntls = { insecure_skip_verify = true }"
                .to_owned(),
            7,
            "unknown field `insecure_skip_verify`",
        ),
    ] {
        let text = format!("{head}{pool}\n{route}");
        let e = levee_control::config::load(&text, &files.path("levee.toml"), &Default::default())
            .expect_err(&pool);
        let shown = e.to_string();
        assert!(shown.contains(want), "{pool}: {shown}");
        assert!(
            e.diagnostics.iter().any(|d| d.line == Some(line)),
            "{pool}: want line {line}: {shown}"
        );
    }

    // Relative paths are relative to the configuration file; no port means 443.
    let text = format!(
        "{head}endpoints = [\"https://localhost\"]\ntls = {{ ca_file = \"ca.pem\" }}\n{route}"
    );
    let config = levee_control::config::load(&text, &files.path("levee.toml"), &Default::default())
        .expect("a good pool");
    assert_eq!(config.pools[0].endpoints[0].as_str(), "localhost:443");
    assert!(config.pools[0].tls.is_some());
}

/// `--upstream https://…` needs no file: the pool trusts the platform's
/// roots and lets ALPN choose the protocol.
#[test]
fn an_https_upstream_on_the_command_line_uses_the_platform_roots() {
    let overrides = levee_control::config::Overrides {
        listen: Some("127.0.0.1:0".parse().expect("addr")),
        upstream: vec!["https://api.example".to_owned()],
        ..Default::default()
    };
    match levee_control::config::from_flags(&overrides) {
        Ok(config) => {
            let pool = &config.pools[0];
            assert_eq!(pool.endpoints[0].as_str(), "api.example:443");
            assert!(pool.tls.is_some());
            assert_eq!(format!("{:?}", pool.protocol), "Auto", "ALPN chooses");
        }
        Err(e) if e.to_string().contains("no trusted root certificates") => {
            skip("this machine has no CA certificates installed");
        }
        Err(e) => panic!("{e}"),
    }
}
