//! Issue 20: gRPC end to end. First the defects that break working gRPC
//! services today: `te: trailers` must reach an HTTP/2 upstream (C-core
//! servers refuse a call without it), the upstream must see one authority,
//! a body over the limit is `413` on every pool kind, and a call whose
//! endpoint cannot be connected to goes to another one, body and all.

use bytes::Bytes;
use http::Request;
use http_body_util::BodyExt;

use crate::support::*;

/// A gateway whose one route forwards to `endpoints` over h2c, plus `extra`.
async fn h2c_gateway(endpoints: &[String], extra: &str) -> Gw {
    let list = endpoints
        .iter()
        .map(|e| format!("\"{e}\""))
        .collect::<Vec<_>>()
        .join(", ");
    Gw::start(&format!(
        "[[pools]]\nname = \"grpc\"\nprotocol = \"h2c\"\nendpoints = [{list}]\n{extra}\n\
         [[routes]]\nname = \"main\"\npool = \"grpc\"\nmax_body_size = \"1KiB\"\n"
    ))
    .await
}

/// Sends `req` over a fresh HTTP/2 (prior knowledge) connection to `addr`,
/// whatever authority the request names, and reads the whole answer.
async fn h2_call(addr: std::net::SocketAddr, req: Request<TestBody>) -> Got {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .expect("h2 handshake");
    tokio::spawn(conn);
    let resp = send.send_request(req).await.expect("answered");
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Got {
        status: parts.status,
        version: parts.version,
        headers: parts.headers,
        body,
    }
}

/// A body sent in `chunks` pieces with no declared length.
fn streamed(chunks: usize, size: usize) -> TestBody {
    let frames = (0..chunks)
        .map(move |_| Ok::<_, BoxError>(http_body::Frame::data(Bytes::from(vec![b'x'; size]))));
    http_body_util::StreamBody::new(futures_util::stream::iter(frames)).boxed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn te_trailers_and_the_clients_authority_reach_an_h2_upstream() {
    let up = Upstream::echo().await;
    let gw = h2c_gateway(&[up.addr.to_string()], "").await;
    // An HTTP/2 client, as gRPC is.
    let req = Request::post(format!(
        "http://api.example:{}/pkg.Svc/Call",
        gw.addr.port()
    ))
    .header("content-type", "application/grpc")
    .header("te", "trailers")
    .body(full("hello"))
    .expect("request");
    let got = h2_call(gw.addr, req).await;
    assert_eq!(got.status, 200, "{}", got.text());
    let seen = up.seen();
    let s = seen.last().expect("the upstream saw the call");
    assert_eq!(s.version, http::Version::HTTP_2);
    assert_eq!(
        s.headers.get("te").map(|v| v.as_bytes()),
        Some(&b"trailers"[..]),
        "te: trailers was dropped: {:?}",
        s.headers
    );
    let authority = format!("api.example:{}", gw.addr.port());
    assert_eq!(
        s.uri.authority().map(|a| a.as_str()),
        Some(authority.as_str()),
        ":authority is the client's, not the endpoint's"
    );
    if let Some(host) = s.headers.get("host") {
        assert_eq!(
            host.as_bytes(),
            authority.as_bytes(),
            "Host agrees with :authority"
        );
    }

    // An HTTP/1.1 client's Host becomes the upstream's `:authority`; another
    // `TE` value is not passed on.
    let req = Request::post(gw.url("/pkg.Svc/Call"))
        .header("host", "h1.example")
        .header("te", "gzip")
        .body(full("hello"))
        .expect("request");
    assert_eq!(send(&h1(), req).await.status, 200);
    let seen = up.seen();
    let s = seen.last().expect("seen");
    assert_eq!(s.uri.authority().map(|a| a.as_str()), Some("h1.example"));
    assert!(!s.headers.contains_key("te"), "{:?}", s.headers);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_413_on_an_h2c_pool() {
    let up = Upstream::echo().await;
    let gw = h2c_gateway(&[up.addr.to_string()], "").await;
    for client in [h1(), h2()] {
        let req = Request::post(gw.url("/big"))
            .body(streamed(8, 512))
            .expect("request");
        let got = send(&client, req).await;
        assert_problem(&got, 413, "payload-too-large");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_call_goes_to_the_next_endpoint_when_one_cannot_be_reached() {
    let up = Upstream::echo().await;
    // A port with nothing listening.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    for protocol in ["h2c", "http1"] {
        let gw = Gw::start(&format!(
            "[[pools]]\nname = \"p\"\nprotocol = \"{protocol}\"\n\
             endpoints = [\"{dead}\", \"{}\"]\nbreaker = {{ consecutive_failures = 0, min_requests = 0 }}\n\
             [[routes]]\nname = \"main\"\npool = \"p\"\n",
            up.addr
        ))
        .await;
        for i in 0..10 {
            let req = Request::post(gw.url(&format!("/call/{protocol}/{i}")))
                .body(streamed(4, 100))
                .expect("request");
            let got = send(&h1(), req).await;
            assert_eq!(got.status, 200, "{protocol} call {i}: {}", got.text());
        }
        let bodies: Vec<u64> = up
            .seen()
            .iter()
            .filter(|s| s.uri.path().starts_with(&format!("/call/{protocol}/")))
            .map(|s| s.body_len)
            .collect();
        assert_eq!(
            bodies,
            vec![400; 10],
            "{protocol}: every body arrived whole"
        );
    }
}

/// Issue 20 item 5: `levee serve --upstream h2c://host:port` needs no file
/// for an HTTP/2 (gRPC) service; mixing schemes in one pool is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h2c_upstream_needs_no_config_file() {
    let up = Upstream::echo().await;
    let args = zero_config(&format!("h2c://{}", up.addr));
    let served = Served::start(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let req = Request::post(served.url("/pkg.Svc/Call"))
        .header("te", "trailers")
        .body(full("x"))
        .expect("request");
    assert_eq!(send(&h1(), req).await.status, 200);
    let seen = up.seen();
    let s = seen.last().expect("seen");
    assert_eq!(s.version, http::Version::HTTP_2);
    assert_eq!(
        s.headers.get("te").map(|v| v.as_bytes()),
        Some(&b"trailers"[..])
    );

    let data = tempfile::tempdir().expect("data dir");
    let mixed = levee()
        .args(["serve", "--upstream", "h2c://127.0.0.1:1"])
        .args([
            "--upstream",
            "http://127.0.0.1:2",
            "--listen",
            "127.0.0.1:0",
        ])
        .env("LEVEE_DATA_DIR", data.path())
        .output()
        .expect("levee runs");
    let err = String::from_utf8_lossy(&mixed.stderr);
    assert!(
        !mixed.status.success() && err.contains("one protocol"),
        "{err}"
    );
}

/// A C-core gRPC server (grpcio, Python) serving `grpc.health.v1.Health`.
const GRPCIO_SERVER: &str = r#"
import sys
from concurrent import futures
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
h = health.HealthServicer()
h.set("", health_pb2.HealthCheckResponse.SERVING)
health_pb2_grpc.add_HealthServicer_to_server(h, server)
port = server.add_insecure_port("127.0.0.1:0")
server.start()
print(port, flush=True)
server.wait_for_termination()
"#;

/// Starts the grpcio server in `dir`; the child and its port.
async fn grpcio_server(
    python: &std::path::Path,
    dir: &std::path::Path,
) -> (tokio::process::Child, u16) {
    std::fs::write(dir.join("server.py"), GRPCIO_SERVER).expect("server.py");
    let mut server = tokio::process::Command::new(python)
        .arg(dir.join("server.py"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the grpcio server starts");
    let stdout = server.stdout.take().expect("stdout");
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let port = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
        .await
        .expect("the server says its port")
        .expect("read")
        .expect("a line");
    (server, port.trim().parse().expect("a port"))
}

/// The grpcio venv, or `None` (the test is skipped) when pip cannot provide it.
async fn grpcio_python() -> Option<std::path::PathBuf> {
    let venv = python_venv(
        "grpcio",
        &["grpcio", "grpcio-health-checking"],
        "grpc_health.v1.health",
    )
    .await?;
    Some(venv.join("bin/python"))
}

/// A grpcio client: a unary `Check` and the first message of a streaming
/// `Watch`, through `argv[1]`; prints both statuses.
const GRPCIO_CLIENT: &str = r#"
import sys
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
with grpc.insecure_channel(sys.argv[1]) as ch:
    stub = health_pb2_grpc.HealthStub(ch)
    try:
        r = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
        print("check", health_pb2.HealthCheckResponse.ServingStatus.Name(r.status))
        w = stub.Watch(health_pb2.HealthCheckRequest(service=""), timeout=10)
        first = next(w)
        print("watch", health_pb2.HealthCheckResponse.ServingStatus.Name(first.status))
        w.cancel()
    except grpc.RpcError as e:
        print("error", e.code().name, e.details())
"#;

/// Issue 20 item 1: a grpcio (C-core) client reaches a grpcio server through
/// Levee, unary and streaming. C-core servers reset a stream that has no
/// `te: trailers` ("Missing :te header"), which Levee used to drop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grpcio_client_reaches_a_c_core_server_through_levee() {
    let Some(python) = grpcio_python().await else {
        return skip("grpcio: python3 -m venv + pip install grpcio grpcio-health-checking failed");
    };
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("client.py"), GRPCIO_CLIENT).expect("client.py");
    let (_server, port) = grpcio_server(&python, dir.path()).await;
    let gw = h2c_gateway(&[format!("127.0.0.1:{port}")], "").await;
    let out = run(
        &python,
        &[
            &dir.path().join("client.py").to_string_lossy(),
            &gw.addr.to_string(),
        ],
        dir.path(),
    )
    .await
    .expect("the client runs");
    assert!(
        out.contains("check SERVING") && out.contains("watch SERVING"),
        "through Levee: {out}"
    );
}

/// A tonic health client through `gw`; the status of one `Check`.
async fn tonic_check(gw: &Gw, metadata: &[(&'static str, &'static str)]) -> tonic::Status {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", gw.addr))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let mut client = tonic_health::pb::health_client::HealthClient::new(channel);
    let mut req = tonic::Request::new(tonic_health::pb::HealthCheckRequest {
        service: String::new(),
    });
    for (k, v) in metadata {
        req.metadata_mut()
            .insert(*k, v.parse().expect("metadata value"));
    }
    match client.check(req).await {
        Ok(r) => panic!("the call went through: {r:?}"),
        Err(status) => status,
    }
}

/// Issue 20 item 2: every refusal the gateway makes itself reaches a gRPC
/// client (tonic) in gRPC's terms: the mapped status, a readable message
/// with the request id, `grpc-retry-pushback-ms` (or -1 where a retry
/// cannot help), and `grpc-status-details-bin` with ErrorInfo and RetryInfo.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_arrive_as_grpc_statuses() {
    use tonic_types::StatusExt;
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let up = Upstream::echo().await;
    let pushback = |s: &tonic::Status| {
        s.metadata()
            .get("grpc-retry-pushback-ms")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<i64>().ok())
    };

    // Maintenance: UNAVAILABLE, pushback = time to the window's end.
    let ends = std::time::SystemTime::now() + std::time::Duration::from_secs(120);
    let gw = h2c_gateway(
        &[up.addr.to_string()],
        &format!(
            "[[maintenance.windows]]\nname = \"upgrade\"\nstarts_at = \"2020-01-01T00:00:00Z\"\n\
             ends_at = \"{}\"\nmessage = \"Database upgrade\"\n",
            levee_http::maintenance::rfc3339(ends)
        ),
    )
    .await;
    let s = tonic_check(&gw, &[]).await;
    assert_eq!(s.code(), tonic::Code::Unavailable, "{s:?}");
    assert!(
        s.message().contains("maintenance") && s.message().contains("Database upgrade"),
        "{s:?}"
    );
    assert!(
        s.message().contains("req_"),
        "the request id is in the message: {s:?}"
    );
    let ms = pushback(&s).expect("pushback");
    assert!((110_000..=120_000).contains(&ms), "{ms}");
    let details = s.get_error_details();
    let info = details.error_info().expect("ErrorInfo");
    assert_eq!(info.reason, "maintenance");
    assert_eq!(info.domain, "levee.dev");
    assert!(
        info.metadata
            .get("request_id")
            .is_some_and(|id| id.starts_with("req_"))
    );
    assert_eq!(
        info.metadata.get("window_id").map(String::as_str),
        Some("config:upgrade")
    );
    let delay = details
        .retry_info()
        .and_then(|r| r.retry_delay)
        .expect("RetryInfo");
    assert!((110..=120).contains(&delay.as_secs()), "{delay:?}");
    assert!(up.seen().is_empty());

    // The upstream cannot be reached: UNAVAILABLE with a pushback.
    let gw = h2c_gateway(&[dead.to_string()], "").await;
    let s = tonic_check(&gw, &[]).await;
    assert_eq!(s.code(), tonic::Code::Unavailable, "{s:?}");
    assert!(pushback(&s).is_some_and(|ms| ms >= 1000), "{s:?}");
    assert_eq!(
        s.get_error_details()
            .error_info()
            .map(|i| i.reason.as_str()),
        Some("upstream-unavailable")
    );

    // The caller's deadline has passed: DEADLINE_EXCEEDED.
    let gw = h2c_gateway(&[up.addr.to_string()], "").await;
    let s = tonic_check(&gw, &[("x-request-timeout-ms", "0")]).await;
    assert_eq!(s.code(), tonic::Code::DeadlineExceeded, "{s:?}");

    // No route: UNIMPLEMENTED, and a retry cannot help.
    let gw = Gw::start(&format!(
        "[[pools]]\nname = \"p\"\nprotocol = \"h2c\"\nendpoints = [\"{}\"]\n\
         [[routes]]\nname = \"other\"\npath_prefix = \"/other.Service/\"\npool = \"p\"\n",
        up.addr
    ))
    .await;
    let s = tonic_check(&gw, &[]).await;
    assert_eq!(s.code(), tonic::Code::Unimplemented, "{s:?}");
    assert_eq!(pushback(&s), Some(-1));

    // A tenant over its rate: RESOURCE_EXHAUSTED.
    let gw = Gw::start(&format!(
        "[[pools]]\nname = \"p\"\nprotocol = \"h2c\"\nendpoints = [\"{}\"]\n\
         [[routes]]\nname = \"main\"\npool = \"p\"\ntenant = {{ from = \"client_ip\" }}\n\
         rate_limit = {{ quota = 1, period = \"1m\" }}\n",
        up.addr
    ))
    .await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", gw.addr))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let mut client = tonic_health::pb::health_client::HealthClient::new(channel);
    let check = || tonic_health::pb::HealthCheckRequest {
        service: String::new(),
    };
    // The echo upstream's answer is not a gRPC one; only the gateway's
    // refusal matters here.
    let _first = client.check(check()).await;
    let s = client.check(check()).await.expect_err("over the rate");
    assert_eq!(s.code(), tonic::Code::ResourceExhausted, "{s:?}");
    assert!(pushback(&s).is_some_and(|ms| ms > 0), "{s:?}");
}

/// A grpcio client whose service config retries `UNAVAILABLE` once, 50 ms
/// later by its own backoff; prints the outcome and the seconds it took.
const GRPCIO_RETRYING_CLIENT: &str = r#"
import json, sys, time
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
config = json.dumps({"methodConfig": [{
    "name": [{"service": "grpc.health.v1.Health"}],
    "retryPolicy": {"maxAttempts": 2, "initialBackoff": "0.05s", "maxBackoff": "0.05s",
                    "backoffMultiplier": 1, "retryableStatusCodes": ["UNAVAILABLE"]}}]})
with grpc.insecure_channel(sys.argv[1], options=[("grpc.service_config", config),
                                                 ("grpc.enable_retries", 1)]) as ch:
    stub = health_pb2_grpc.HealthStub(ch)
    start = time.monotonic()
    try:
        r = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=20)
        print("ok", health_pb2.HealthCheckResponse.ServingStatus.Name(r.status), time.monotonic() - start)
    except grpc.RpcError as e:
        print("error", e.code().name, time.monotonic() - start, e.details())
"#;

/// Issue 20 "done means": grpcio's own retry policy obeys the gateway's
/// pushback. A maintenance window ends in about 3 s; the client may retry
/// once, 50 ms later by its own backoff, which would fail again. It
/// succeeds only by waiting for `grpc-retry-pushback-ms` (the time to the
/// window's end) before its retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcio_retries_wait_for_the_gateways_pushback() {
    let Some(python) = grpcio_python().await else {
        return skip("grpcio: python3 -m venv + pip install grpcio grpcio-health-checking failed");
    };
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("client.py"), GRPCIO_RETRYING_CLIENT).expect("client.py");
    let (_server, port) = grpcio_server(&python, dir.path()).await;
    let ends = std::time::SystemTime::now() + std::time::Duration::from_secs(3);
    let gw = h2c_gateway(
        &[format!("127.0.0.1:{port}")],
        &format!(
            "[[maintenance.windows]]\nname = \"short\"\nstarts_at = \"2020-01-01T00:00:00Z\"\n\
             ends_at = \"{}\"\n",
            levee_http::maintenance::rfc3339(ends)
        ),
    )
    .await;
    let out = run(
        &python,
        &[
            &dir.path().join("client.py").to_string_lossy(),
            &gw.addr.to_string(),
        ],
        dir.path(),
    )
    .await
    .expect("the client runs");
    assert!(
        out.starts_with("ok SERVING"),
        "the retry did not wait: {out}"
    );
    let took: f64 = out
        .split_whitespace()
        .nth(2)
        .and_then(|t| t.parse().ok())
        .expect("seconds");
    assert!(took >= 1.0, "it retried after {took} s: {out}");
}

/// Issue 20 item 3: an upstream's trailers-only `UNAVAILABLE` is passed on
/// intact (its own `grpc-retry-pushback-ms` included) and counts as a
/// failure for the endpoint's breaker: after two, the gateway stops sending
/// and answers itself (`upstream-unavailable`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstreams_grpc_unavailable_counts_against_the_endpoint() {
    use tonic_types::StatusExt;
    let up = Upstream::start(|_s: Seen| async {
        http::Response::builder()
            .header("content-type", "application/grpc")
            .header("grpc-status", "14")
            .header("grpc-message", "busy")
            .header("grpc-retry-pushback-ms", "700")
            .body(full(""))
            .expect("response")
    })
    .await;
    let gw = h2c_gateway(
        &[up.addr.to_string()],
        "breaker = { consecutive_failures = 2, open_base = \"30s\" }\n",
    )
    .await;
    for _ in 0..2 {
        let s = tonic_check(&gw, &[]).await;
        assert_eq!((s.code(), s.message()), (tonic::Code::Unavailable, "busy"));
        assert_eq!(
            s.metadata()
                .get("grpc-retry-pushback-ms")
                .map(|v| v.as_bytes()),
            Some(&b"700"[..]),
            "the upstream's pushback is passed on"
        );
    }
    let s = tonic_check(&gw, &[]).await;
    assert_eq!(s.code(), tonic::Code::Unavailable);
    assert_eq!(
        s.get_error_details()
            .error_info()
            .map(|i| i.reason.as_str()),
        Some("upstream-unavailable"),
        "the breaker opened: {s:?}"
    );
    assert_eq!(up.seen().len(), 2);
}

/// A tonic server with the standard health service on a free loopback
/// port; the reporter sets what it answers.
async fn tonic_health_server() -> (std::net::SocketAddr, tonic_health::server::HealthReporter) {
    let (reporter, service) = tonic_health::server::health_reporter();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    (addr, reporter)
}

/// Issue 20 item 4 (issue 12 item 1): `health_check = { kind = "grpc" }`
/// asks `grpc.health.v1.Health/Check`: an endpoint whose service answers
/// `NOT_SERVING` gets no calls, and gets them again once it is `SERVING`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_health_checks_take_a_not_serving_endpoint_out() {
    let (a, a_health) = tonic_health_server().await;
    let (b, b_health) = tonic_health_server().await;
    for r in [&a_health, &b_health] {
        r.set_service_status("app", tonic_health::ServingStatus::Serving)
            .await;
    }
    let gw = Gw::start(&format!(
        "[[pools]]\nname = \"grpc\"\nendpoints = [\"h2c://{a}\", \"h2c://{b}\"]\n\
         health_check = {{ kind = \"grpc\", service = \"app\", interval = \"100ms\" }}\n\
         [[routes]]\npool = \"grpc\"\n"
    ))
    .await;
    // Whether the gateway sends calls to endpoint `i`, as its metrics say.
    let state = async |gw: &Gw, i: usize| -> String {
        let metrics = get(&gw.admin_url("/metrics"), &[]).await.text();
        let endpoint = if i == 0 { a } else { b };
        let line = format!("levee_endpoint_up{{pool=\"grpc\",endpoint=\"{endpoint}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&line))
            .unwrap_or("?")
            .trim()
            .to_owned()
    };
    a_health
        .set_service_status("app", tonic_health::ServingStatus::NotServing)
        .await;
    eventually(
        std::time::Duration::from_secs(10),
        "A is taken out",
        async || state(&gw, 0).await == "0",
    )
    .await;
    assert_eq!(state(&gw, 1).await, "1");
    // Calls still succeed: B takes them.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", gw.addr))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let mut client = tonic_health::pb::health_client::HealthClient::new(channel);
    for _ in 0..5 {
        let answer = client
            .check(tonic_health::pb::HealthCheckRequest {
                service: "app".to_owned(),
            })
            .await
            .expect("served by B");
        assert_eq!(answer.into_inner().status, 1, "SERVING");
    }
    a_health
        .set_service_status("app", tonic_health::ServingStatus::Serving)
        .await;
    eventually(
        std::time::Duration::from_secs(10),
        "A is back",
        async || state(&gw, 0).await == "1",
    )
    .await;
}

/// Issue 20 item 6: `levee-client` over a tonic channel
/// (`BufferedRetryLayer`) reads a gRPC refusal's `grpc-retry-pushback-ms`
/// as it reads `Retry-After`: a call made during a 2-second maintenance
/// window waits for its end, once, and then succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn levee_client_over_tonic_waits_for_the_pushback() {
    use crate::maintenance::{api, overrides};
    use levee_client::tower::BufferedRetryLayer;
    use levee_client::{Retrier, RetrySummary};

    let (up, health) = tonic_health_server().await;
    health
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let gw = Gw::start_with(
        &format!(
            "[[pools]]\nname = \"grpc\"\nendpoints = [\"h2c://{up}\"]\n\
             [[routes]]\nname = \"main\"\npool = \"grpc\"\n"
        ),
        overrides(),
    )
    .await;
    let window = api(
        gw.admin,
        "POST",
        "/v1/windows",
        Some(
            serde_json::json!({"scope": {"kind": "route", "name": "main"}, "duration_seconds": 2}),
        ),
    )
    .await;
    assert_eq!(window.status, 201, "{}", window.text());

    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", gw.addr))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let retrying = tower::ServiceBuilder::new()
        .layer(BufferedRetryLayer::new(
            Retrier::builder().build().expect("retrier"),
            tonic::body::Body::new::<http_body_util::Full<Bytes>>,
        ))
        .service(channel);
    let mut client = tonic_health::pb::health_client::HealthClient::new(retrying);
    let started = tokio::time::Instant::now();
    let answer = client
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("served once the window ends");
    let took = started.elapsed();
    assert_eq!(answer.get_ref().status, 1, "SERVING");
    let summary = answer
        .extensions()
        .get::<RetrySummary>()
        .cloned()
        .expect("the retry summary");
    assert_eq!(summary.attempts.len(), 2, "{summary:?}");
    let first = &summary.attempts[0];
    assert_eq!(first.outcome.to_string(), "gRPC UNAVAILABLE (14)");
    let asked = first.retry_after.expect("the pushback was read");
    assert!(
        asked > std::time::Duration::from_millis(1000)
            && asked <= std::time::Duration::from_secs(2),
        "{asked:?}"
    );
    assert!(took >= asked, "waited {took:?} for a pushback of {asked:?}");
}
