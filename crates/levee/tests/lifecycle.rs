//! The gateway as an operator runs it: the real binary, its configuration
//! errors and reloads, TLS, deadlines, metrics and graceful shutdown.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use http::{Request, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

#[test]
fn config_check_reports_file_line_column_and_expectation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good.toml");
    std::fs::write(&good, "[[listeners]]\nlisten = \"127.0.0.1:8000\"\n[[pools]]\nname = \"app\"\nendpoints = [\"127.0.0.1:8080\"]\n[[routes]]\npool = \"app\"\n").expect("write");
    let out = levee()
        .args(["config", "check"])
        .arg(&good)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok (1 listener, 1 route, 1 pool)"));

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[listeners]]\nlisten = \"127.0.0.1:80000\"\n[[pools]]\nname = \"app\"\nendpoints = [\"127.0.0.1:8080\"]\nconnect_timeout = 5\n[[routes]]\npool = \"ap\"\n",
    )
    .expect("write");
    let out = levee()
        .args(["config", "check"])
        .arg(&bad)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let file = bad.display().to_string();
    // A type error stops parsing, so it is reported alone, with its place.
    assert!(
        err.contains(&format!("{file}:6:19: a bare number (5) is ambiguous")),
        "{err}"
    );

    std::fs::write(&bad, "[[listeners]]\nlisten = \"127.0.0.1:80000\"\n[[pools]]\nname = \"app\"\nendpoints = [\"127.0.0.1:8080\"]\n[[routes]]\npool = \"ap\"\n").expect("write");
    let out = levee()
        .args(["config", "check"])
        .arg(&bad)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{file}:2:10: invalid listen address `127.0.0.1:80000`: expected ip:port"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{file}:7:8: unknown pool `ap`; expected one of: app"
        )),
        "{err}"
    );
    assert!(err.contains("2 errors"), "{err}");

    std::fs::write(&bad, "[[routes]\npool = 1\n").expect("write");
    let err = String::from_utf8_lossy(
        &levee()
            .args(["config", "check"])
            .arg(&bad)
            .output()
            .expect("run")
            .stderr,
    )
    .to_string();
    assert!(
        err.starts_with(&format!("{file}:1:")),
        "syntax errors have a place too: {err}"
    );

    std::fs::write(&bad, "[server]\nmax_header_byte = \"1KiB\"\n").expect("write");
    let err = String::from_utf8_lossy(
        &levee()
            .args(["config", "check"])
            .arg(&bad)
            .output()
            .expect("run")
            .stderr,
    )
    .to_string();
    assert!(
        err.contains(":2:1: unknown field `max_header_byte`"),
        "typos are errors: {err}"
    );
}

fn tagged(
    tag: &'static str,
) -> impl Fn(Seen) -> std::pin::Pin<Box<dyn std::future::Future<Output = Response<TestBody>> + Send>>
+ Send
+ Sync {
    move |_s| {
        Box::pin(async move {
            Response::builder()
                .header("x-upstream", tag)
                .body(full(tag))
                .expect("resp")
        })
    }
}

fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_under_traffic_loses_nothing_and_rejects_bad_config() {
    let a = Upstream::start(tagged("a")).await;
    let b = Upstream::start(tagged("b")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("levee.toml");
    let cfg = |up: SocketAddr| {
        format!(
            "[admin]\nlisten = \"127.0.0.1:0\"\n[[listeners]]\nlisten = \"127.0.0.1:0\"\n[[pools]]\nname = \"app\"\nendpoints = [\"{up}\"]\n[[routes]]\npool = \"app\"\n"
        )
    };
    write_atomically(&path, &cfg(a.addr));
    let served = Served::start(&["--config", path.to_str().expect("utf-8 path")]);

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let traffic = {
        let (stop, ok, failed, url) = (stop.clone(), ok.clone(), failed.clone(), served.url("/t"));
        tokio::spawn(async move {
            let client = h1();
            // Bounded: at most 20 000 requests, and the test stops it sooner.
            for _ in 0..20_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let got = send(&client, Request::get(&url).body(full("")).expect("req")).await;
                if got.status == 200 {
                    ok.fetch_add(1, Ordering::Relaxed)
                } else {
                    failed.fetch_add(1, Ordering::Relaxed)
                };
            }
        })
    };
    eventually(Duration::from_secs(10), "traffic flows", async || {
        ok.load(Ordering::Relaxed) > 20
    })
    .await;

    // A good new file is picked up by the file watch, with no signal.
    write_atomically(&path, &cfg(b.addr));
    eventually(Duration::from_secs(10), "the new pool serves", async || {
        get(&served.url("/t"), &[]).await.text() == "b"
    })
    .await;

    // A broken file is rejected, with its place, and the old config stays.
    std::fs::write(
        &path,
        "[[pools]]\nname = \"app\"\nendpoints = [\"127.0.0.1:1\"]\n[[routes]]\npool = \"nope\"\n",
    )
    .expect("write");
    served.signal("HUP");
    // (The file watch may also see the file half-written; the SIGHUP reload
    // reads it whole.)
    eventually(
        Duration::from_secs(10),
        "the rejection is logged with its place",
        async || {
            served.logged("configuration rejected")
                && served.logged("levee.toml:5:8: unknown pool `nope`")
        },
    )
    .await;
    assert_eq!(
        get(&served.url("/t"), &[]).await.text(),
        "b",
        "the running config stayed in force"
    );

    stop.store(true, Ordering::Relaxed);
    traffic.await.expect("traffic task");
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "no request failed across reloads ({} ok)",
        ok.load(Ordering::Relaxed)
    );
    let metrics = get(&format!("http://{}/metrics", served.admin), &[])
        .await
        .text();
    assert!(
        metrics.contains("levee_config_reloads_total 1"),
        "{metrics}"
    );
    // The file watch and the SIGHUP may both have seen the broken file.
    let failures = metrics
        .lines()
        .find_map(|l| l.strip_prefix("levee_config_reload_failures_total "))
        .and_then(|n| n.trim().parse::<u64>().ok())
        .expect("the failure counter is exposed");
    assert!((1..=2).contains(&failures), "{failures} rejected reloads");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_in_flight_and_refuses_new_work() {
    let up = Upstream::start(|s: Seen| async move {
        if s.uri.path() == "/slow" {
            tokio::time::sleep(Duration::from_millis(1500)).await;
        }
        Response::new(full("done"))
    })
    .await;
    let args = zero_config(&up.url());
    let mut served = Served::start(&args.iter().map(String::as_str).collect::<Vec<_>>());

    // A kept-alive HTTP/1.1 connection, used once before the drain.
    let mut keep = TcpStream::connect(served.addr).await.expect("connect");
    keep.write_all(b"GET /fast HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .expect("write");
    let mut buf = vec![0u8; 4096];
    let n = keep.read(&mut buf).await.expect("read");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));

    // In-flight requests: as many as a cold gateway's admission limit lets
    // through at once (its initial limit is 4; a fifth would queue behind them).
    let slow: Vec<_> = (0..4)
        .map(|_| {
            let url = served.url("/slow");
            tokio::spawn(async move { get(&url, &[]).await })
        })
        .collect();
    eventually(
        Duration::from_secs(10),
        "the upstream has the slow requests",
        async || up.seen().iter().filter(|s| s.uri.path() == "/slow").count() == 4,
    )
    .await;

    served.signal("TERM");
    let ready = format!("http://{}/readyz", served.admin);
    eventually(Duration::from_secs(10), "/readyz turns 503", async || {
        get(&ready, &[]).await.status == 503
    })
    .await;
    // For the drain delay the gateway is not ready but still serves, new
    // connections included.
    assert_eq!(get(&served.url("/during-delay"), &[]).await.status, 200);
    eventually(Duration::from_secs(10), "the drain starts", async || {
        served.logged("\"message\":\"draining\"")
    })
    .await;

    // A new request on the kept-alive connection is told `draining`.
    keep.write_all(b"GET /new HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .expect("write");
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), keep.read_to_string(&mut answer))
        .await
        .expect("answer in time")
        .expect("read");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    let lower = answer.to_ascii_lowercase();
    assert!(
        lower.contains("connection: close") && lower.contains("retry-after: 1"),
        "{answer}"
    );
    assert!(answer.contains("\"reason\":\"draining\""), "{answer}");
    // New connections are no longer accepted.
    assert!(
        TcpStream::connect(served.addr).await.is_err(),
        "the listener is closed"
    );

    for h in slow {
        let got = h.await.expect("task");
        assert_eq!(
            (got.status.as_u16(), got.text().as_str()),
            (200, "done"),
            "in-flight requests complete"
        );
    }
    let status = served.wait_exit(Duration::from_secs(10)).await;
    assert!(status.success(), "{status:?}");
    assert_eq!(
        up.seen().iter().filter(|s| s.uri.path() == "/new").count(),
        0
    );
}

#[tokio::test]
async fn slow_headers_and_idle_connections_are_closed() {
    let up = Upstream::echo().await;
    let gw = Gw::to(
        up.addr,
        "[server]\nheader_read_timeout = \"300ms\"\nidle_timeout = \"300ms\"\n",
    )
    .await;
    // Slowloris: a head that never ends.
    let mut s = TcpStream::connect(gw.addr).await.expect("connect");
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ")
        .await
        .expect("write");
    let mut out = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    assert!(
        closed.is_ok(),
        "the gateway closed a connection whose head never ended"
    );
    assert!(up.seen().is_empty());

    // Idle keep-alive connection.
    let mut s = TcpStream::connect(gw.addr).await.expect("connect");
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .expect("write");
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.expect("read");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let rest = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await;
    assert!(
        matches!(rest, Ok(Ok(0)) | Ok(Err(_))),
        "the idle connection was closed: {rest:?}"
    );
}

#[tokio::test]
async fn tls_listener_negotiates_h2_and_http11_by_alpn() {
    let up = Upstream::echo().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
    std::fs::write(dir.path().join("cert.pem"), cert.cert.pem()).expect("write");
    std::fs::write(dir.path().join("key.pem"), cert.signing_key.serialize_pem()).expect("write");
    let text = format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\n[[listeners]]\nlisten = \"127.0.0.1:0\"\ntls = {{ cert = \"cert.pem\", key = \"key.pem\" }}\n[[pools]]\nname = \"a\"\nendpoints = [\"{}\"]\n[[routes]]\npool = \"a\"\n",
        up.addr
    );
    let cfg =
        levee_control::config::load(&text, &dir.path().join("levee.toml"), &Default::default())
            .expect("config");
    let gw = levee_control::Gateway::start(cfg).await.expect("start");
    let addr = gw.addrs()[0];

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).expect("root");
    for (alpn, want) in [
        (&b"h2"[..], http::Version::HTTP_2),
        (&b"http/1.1"[..], http::Version::HTTP_11),
    ] {
        let mut client = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots.clone())
        .with_no_client_auth();
        client.alpn_protocols = vec![alpn.to_vec()];
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(client))
            .connect(name, tcp)
            .await
            .expect("handshake");
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(alpn));
        let io = hyper_util::rt::TokioIo::new(tls);
        let req = Request::get("https://localhost/secure")
            .body(full(""))
            .expect("req");
        let resp = if want == http::Version::HTTP_2 {
            let (mut s, conn) =
                hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io)
                    .await
                    .expect("h2");
            tokio::spawn(conn);
            s.send_request(req).await.expect("resp")
        } else {
            let (mut s, conn) = hyper::client::conn::http1::handshake(io).await.expect("h1");
            tokio::spawn(conn);
            let mut req = req;
            req.headers_mut()
                .insert("host", http::HeaderValue::from_static("localhost"));
            s.send_request(req).await.expect("resp")
        };
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.version(), want);
        let seen = up.seen().pop().expect("seen");
        assert_eq!(seen.headers["x-forwarded-proto"], "https");
    }
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_class() {
    let up = Upstream::echo().await;
    let gw = Gw::to(up.addr, "").await;
    for _ in 0..3 {
        assert_eq!(get(&gw.url("/m"), &[]).await.status, 200);
    }
    assert_eq!(get(&gw.admin_url("/healthz"), &[]).await.status, 200);
    assert_eq!(get(&gw.admin_url("/readyz"), &[]).await.status, 200);
    let metrics = get(&gw.admin_url("/metrics"), &[]).await;
    assert!(
        metrics
            .header("content-type")
            .expect("ct")
            .starts_with("application/openmetrics-text")
    );
    let text = metrics.text();
    assert!(
        text.contains("levee_requests_total{route=\"main\",code_class=\"2xx\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("levee_request_duration_seconds_count{route=\"main\",code_class=\"2xx\"} 3")
    );
    assert!(text.contains("# TYPE levee_request_duration_seconds histogram"));
}

/// Two gateways on one data directory would each miss the other's windows
/// and drains: the second is refused at start, with the first's pid and
/// what to do, and the first keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_gateway_on_the_same_data_directory_is_refused() {
    let up = Upstream::start(|_s: Seen| async move { Response::new(full("ok")) }).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("state");
    let data_arg = data.display().to_string();
    let mut args = zero_config(&up.url());
    args.extend(["--data-dir".to_owned(), data_arg.clone()]);
    let first = Served::start(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let second = levee()
        .arg("serve")
        .args(&args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run");
    assert_eq!(second.status.code(), Some(2), "refused, not serving");
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains(&format!(
            "the data directory {data_arg} is in use by another process (pid {})",
            first.child.id()
        )),
        "{err}"
    );
    assert!(err.contains("--data-dir"), "says what to do: {err}");
    assert_eq!(get(&first.url("/x"), &[]).await.text(), "ok");
}
