//! The test harness: real upstreams, a real gateway and real clients, all on
//! 127.0.0.1 with ports chosen by the OS. Nothing sleeps to wait for
//! readiness: a listener is bound before its address is handed out.

#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use levee_control::Gateway;
use levee_control::config::{self, Overrides};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type TestBody = BoxBody<Bytes, BoxError>;

/// A body from bytes.
pub fn full(b: impl Into<Bytes>) -> TestBody {
    Full::new(b.into()).map_err(|never| match never {}).boxed()
}

/// What an upstream saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: http::Method,
    pub uri: http::Uri,
    pub version: http::Version,
    pub headers: HeaderMap,
    pub body_len: u64,
}

/// A hyper upstream (HTTP/1.1 and h2c) on 127.0.0.1:0 with a handler.
pub struct Upstream {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Upstream {
    /// Serves with `handler`; the request body is read (and counted) first
    /// unless the handler wants it, in which case use [`Upstream::raw`].
    pub async fn start<F, Fut>(handler: F) -> Upstream
    where
        F: Fn(Seen) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response<TestBody>> + Send + 'static,
    {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let log = seen.clone();
        let handler = Arc::new(handler);
        Upstream::raw(
            move |req: Request<Incoming>| {
                let log = log.clone();
                let handler = handler.clone();
                async move {
                    let (parts, mut body) = req.into_parts();
                    let mut len = 0u64;
                    while let Some(frame) = body.frame().await {
                        match frame {
                            Ok(f) => len += f.data_ref().map_or(0, |d| d.len() as u64),
                            Err(_) => break,
                        }
                    }
                    let s = Seen {
                        method: parts.method,
                        uri: parts.uri,
                        version: parts.version,
                        headers: parts.headers,
                        body_len: len,
                    };
                    log.lock().expect("lock").push(s.clone());
                    handler(s).await
                }
            },
            seen,
        )
        .await
    }

    /// Serves with a handler that gets the raw request (streamed body).
    pub async fn raw<F, Fut>(handler: F, seen: Arc<Mutex<Vec<Seen>>>) -> Upstream
    where
        F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response<TestBody>> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind upstream");
        let addr = listener.local_addr().expect("addr");
        let handler = Arc::new(handler);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let handler = handler.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let handler = handler.clone();
                        async move { Ok::<_, Infallible>(handler(req).await) }
                    });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection_with_upgrades(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Upstream { addr, seen, task }
    }

    /// Answers every request 200 with a small JSON description of it.
    pub async fn echo() -> Upstream {
        Upstream::start(|s: Seen| async move {
            let body = serde_json::json!({
                "method": s.method.as_str(),
                "path": s.uri.path_and_query().map(|p| p.as_str()),
                "body_len": s.body_len,
            });
            Response::builder()
                .header("content-type", "application/json")
                .body(full(body.to_string()))
                .expect("response")
        })
        .await
    }

    /// The requests seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    /// `http://addr`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// A TCP upstream that records the raw request head and answers `response`.
pub struct RawUpstream {
    pub addr: SocketAddr,
    pub heads: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RawUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RawUpstream {
    pub async fn start(response: &'static [u8]) -> RawUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let heads: Arc<Mutex<Vec<String>>> = Arc::default();
        let log = heads.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    continue;
                };
                let log = log.clone();
                tokio::spawn(async move {
                    let head = read_head(&mut stream).await;
                    log.lock().expect("lock").push(head);
                    let _ = stream.write_all(response).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        RawUpstream { addr, heads, task }
    }
}

/// Reads until the end of an HTTP head (or EOF).
pub async fn read_head(stream: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => buf.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// A running in-process gateway.
pub struct Gw {
    pub gateway: Gateway,
    pub addr: SocketAddr,
    pub admin: SocketAddr,
}

impl Gw {
    /// Starts a gateway from a TOML text. The text gets a listener on
    /// 127.0.0.1:0 and an admin listener on 127.0.0.1:0 unless it has its own.
    pub async fn start(toml: &str) -> Gw {
        Gw::start_with(toml, Overrides::default()).await
    }

    /// A gateway with one catch-all route to `upstream`, plus `extra` TOML
    /// for `[server]` and the like.
    pub async fn to(upstream: SocketAddr, extra: &str) -> Gw {
        Gw::to_with(upstream, extra, Overrides::default()).await
    }

    /// Like [`Gw::to`], with command-line overrides (admin tokens, data dir).
    pub async fn to_with(upstream: SocketAddr, extra: &str, overrides: Overrides) -> Gw {
        Gw::start_with(
            &format!(
                "{extra}\n[[pools]]\nname = \"app\"\nendpoints = [\"{upstream}\"]\n\n[[routes]]\nname = \"main\"\npool = \"app\"\n"
            ),
            overrides,
        )
        .await
    }

    /// Like [`Gw::start`], with command-line overrides.
    pub async fn start_with(toml: &str, overrides: Overrides) -> Gw {
        let mut text = toml.to_owned();
        if !text.contains("[[listeners]]") {
            text.push_str("\n[[listeners]]\nlisten = \"127.0.0.1:0\"\n");
        }
        if !text.contains("[admin]") {
            text.push_str("\n[admin]\nlisten = \"127.0.0.1:0\"\n");
        }
        let cfg = config::load(&text, std::path::Path::new("test.toml"), &overrides)
            .unwrap_or_else(|e| panic!("test config is invalid:\n{e}\n---\n{text}"));
        let gateway = Gateway::start(cfg).await.expect("gateway starts");
        let addr = gateway.addrs()[0];
        let admin = gateway.admin_addr().expect("admin listener");
        Gw {
            gateway,
            addr,
            admin,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{}", self.admin, path)
    }
}

/// A plain HTTP/1.1 client with keep-alive.
pub fn h1() -> Client<HttpConnector, TestBody> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// An h2c (prior knowledge) client.
pub fn h2() -> Client<HttpConnector, TestBody> {
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http()
}

/// A fully read response.
#[derive(Debug)]
pub struct Got {
    pub status: StatusCode,
    pub version: http::Version,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Got {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends a request and reads the whole response, with a generous bound so a
/// hang fails the test instead of stalling the suite.
pub async fn send(client: &Client<HttpConnector, TestBody>, req: Request<TestBody>) -> Got {
    let resp = tokio::time::timeout(Duration::from_secs(30), client.request(req))
        .await
        .expect("response within 30 s")
        .expect("request succeeds at the HTTP level");
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Got {
        status: parts.status,
        version: parts.version,
        headers: parts.headers,
        body,
    }
}

/// GET `url` with extra headers over HTTP/1.1.
pub async fn get(url: &str, headers: &[(&str, &str)]) -> Got {
    let mut b = Request::get(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    send(&h1(), b.body(full("")).expect("request")).await
}

/// Writes raw bytes to `addr` and reads the whole answer until the server closes.
pub async fn raw_exchange(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(bytes).await.expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// Asserts the contract every gateway problem keeps, and returns the JSON.
pub fn assert_problem(got: &Got, status: u16, reason: &str) -> serde_json::Value {
    assert_eq!(got.status.as_u16(), status, "status; body: {}", got.text());
    assert_eq!(
        got.header("content-type"),
        Some("application/problem+json"),
        "content-type"
    );
    assert_eq!(got.header("cache-control"), Some("no-store"));
    let v = got.json();
    assert_eq!(v["status"], status);
    assert_eq!(v["reason"], reason);
    let ty = v["type"].as_str().expect("type is a string");
    assert!(
        ty.ends_with(&format!("/_levee/problems/{reason}")),
        "type {ty}"
    );
    assert!(v["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(v["detail"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(v["instance"].as_str().is_some_and(|t| t.starts_with('/')));
    let id = v["request_id"].as_str().expect("request_id");
    assert_eq!(
        got.header("x-request-id"),
        Some(id),
        "the header and the body carry the same id"
    );
    if status == 503 || status == 429 {
        let ra: u64 = got
            .header("retry-after")
            .expect("Retry-After on every 503")
            .parse()
            .expect("delay-seconds");
        assert!(ra >= 1);
        assert_eq!(v["retry_after"], ra);
    }
    v
}

/// The `levee` binary under test.
pub fn levee() -> Command {
    Command::new(env!("CARGO_BIN_EXE_levee"))
}

/// `levee serve`'s zero-config arguments: one upstream, a free port for the
/// listener and one for the admin listener.
pub fn zero_config(upstream: &str) -> Vec<String> {
    [
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        upstream,
        "--admin",
        "127.0.0.1:0",
    ]
    .map(String::from)
    .to_vec()
}

/// A `levee serve` child process, its addresses read from its JSON log.
pub struct Served {
    pub child: Child,
    pub addr: SocketAddr,
    pub admin: SocketAddr,
    pub log: Arc<std::sync::Mutex<Vec<String>>>,
    /// Its default data directory (`$LEVEE_DATA_DIR`), its own, so that
    /// gateways started side by side do not contend for one.
    pub data_dir: tempfile::TempDir,
}

impl Served {
    pub fn start(args: &[&str]) -> Served {
        let data_dir = tempfile::tempdir().expect("data dir");
        let mut child = levee()
            .args(["--log-format", "json", "serve"])
            .args(args)
            .env("LEVEE_LOG", "info")
            .env("LEVEE_DATA_DIR", data_dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("levee starts");
        let stdout = child.stdout.take().expect("stdout");
        let log: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line.clone());
                sink.lock().expect("lock").push(line);
            }
        });
        let (mut addr, mut admin) = (None, None);
        while addr.is_none() || admin.is_none() {
            let line = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("levee logs its addresses");
            let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            let a = v["addr"].as_str().and_then(|a| a.parse().ok());
            match v["message"].as_str() {
                Some("levee is serving") => addr = a,
                Some("admin listening") => admin = a,
                _ => {}
            }
        }
        Served {
            child,
            addr: addr.expect("addr"),
            admin: admin.expect("admin"),
            log,
            data_dir,
        }
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(ok.success());
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn wait_exit(&mut self, bound: Duration) -> std::process::ExitStatus {
        let until = tokio::time::Instant::now() + bound;
        loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                return s;
            }
            assert!(
                tokio::time::Instant::now() < until,
                "levee did not exit within {bound:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn logged(&self, needle: &str) -> bool {
        self.log
            .lock()
            .expect("lock")
            .iter()
            .any(|l| l.contains(needle))
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` every 20 ms until it holds, failing after `bound`.
pub async fn eventually<F: AsyncFnMut() -> bool>(bound: Duration, what: &str, mut check: F) {
    let until = tokio::time::Instant::now() + bound;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < until,
            "not within {bound:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs a command to completion; `None` if it cannot start or fails.
pub async fn run(
    program: impl AsRef<std::ffi::OsStr>,
    args: &[&str],
    dir: &std::path::Path,
) -> Option<String> {
    let out = tokio::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .await
        .ok()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.status.success().then_some(text)
}

/// Says on stderr that a test did not run, and why.
pub fn skip(what: &str) {
    eprintln!("skipped: {what}");
}

/// A directory under the target dir kept between runs (installed tools).
pub fn cache_dir(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).expect("create the cache dir");
    dir
}

/// A Python venv under the target dir with `packages` installed (by pip,
/// when `import check` fails); its directory, or `None` when python3 or pip
/// cannot provide it.
pub async fn python_venv(name: &str, packages: &[&str], check: &str) -> Option<std::path::PathBuf> {
    let cache = cache_dir(name);
    let venv = cache.join("venv");
    let python = venv.join("bin/python");
    let import = format!("import {check}");
    if run(&python, &["-c", &import], &cache).await.is_some() {
        return Some(venv);
    }
    run("python3", &["-m", "venv", &venv.to_string_lossy()], &cache).await?;
    let mut args = vec!["-m", "pip", "install", "--quiet"];
    args.extend_from_slice(packages);
    run(&python, &args, &cache).await?;
    Some(venv)
}
