//! Every error the gateway makes is a problem that keeps the contract, in
//! the format the client asked for, and its `type` URI explains itself.

use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use http_body_util::BodyExt;

use crate::support::*;

const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

#[tokio::test]
async fn no_route_is_a_404_problem_in_each_format() {
    let up = Upstream::echo().await;
    let gw = Gw::start(&format!(
        "[[pools]]\nname = \"api\"\nendpoints = [\"{a}\"]\n[[routes]]\nname = \"api\"\npath_prefix = \"/api/\"\npool = \"api\"\n\
         [[routes]]\nname = \"env\"\npath_prefix = \"/env/\"\nhost = \"envelope.test\"\npool = \"api\"\nerror_format = \"envelope\"\n",
        a = up.addr
    ))
    .await;

    let got = get(&gw.url("/nothing/here"), &[]).await;
    let v = assert_problem(&got, 404, "no-route");
    assert_eq!(v["instance"], "/nothing/here");
    assert_eq!(v["blame"], "client");
    assert_eq!(v["retryable"], false);
    assert!(
        got.header("retry-after").is_none(),
        "only 503/429 carry Retry-After"
    );

    let html = get(&gw.url("/nothing"), &[("accept", BROWSER)]).await;
    assert_eq!(html.status, 404);
    assert_eq!(
        html.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(
        html.text().contains("<h1>No route for this request</h1>"),
        "{}",
        html.text()
    );
    assert!(
        html.text()
            .contains(html.header("x-request-id").expect("id"))
    );

    let text = get(&gw.url("/nothing"), &[("accept", "text/plain")]).await;
    assert_eq!(
        text.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert!(
        text.text().starts_with("404 No route for this request\n"),
        "{}",
        text.text()
    );
    assert!(text.text().contains(&format!(
        "Request id: {}",
        text.header("x-request-id").expect("id")
    )));

    let nothing = get(&gw.url("/nothing"), &[("accept", "image/png")]).await;
    assert_eq!(
        nothing.header("content-type"),
        Some("text/plain; charset=utf-8"),
        "neither JSON nor HTML acceptable"
    );

    // The envelope form, on a route that asks for it (here: a 413 on it).
    let req = Request::post(gw.url("/env/x"))
        .header("host", "envelope.test")
        .header("content-length", "1")
        .body(full("x"));
    let _ = req;
    let env_gw = Gw::start(&format!(
        "[[pools]]\nname = \"api\"\nendpoints = [\"{a}\"]\n[[routes]]\npool = \"api\"\nerror_format = \"envelope\"\nmax_body_size = 4\n",
        a = up.addr
    ))
    .await;
    let got = send(
        &h1(),
        Request::post(env_gw.url("/e"))
            .body(full("too long"))
            .expect("req"),
    )
    .await;
    assert_eq!(got.status, 413);
    assert_eq!(got.header("content-type"), Some("application/json"));
    let v = got.json();
    assert_eq!(v["meta"]["requestId"].as_str(), got.header("x-request-id"));
    assert_eq!(v["error"]["status"], 413);
    assert!(
        v["error"]["type"]
            .as_str()
            .expect("type")
            .ends_with("/_levee/problems/payload-too-large")
    );
    assert_eq!(v["error"]["title"], "Request body too large");
    assert!(
        v["error"]["detail"]
            .as_str()
            .expect("detail")
            .contains("4 bytes")
    );
}

#[tokio::test]
async fn body_limits_give_413_before_and_during_streaming() {
    let up = Upstream::echo().await;
    let gw = Gw::start(&format!(
        "[[pools]]\nname = \"a\"\nendpoints = [\"{}\"]\n[[routes]]\npool = \"a\"\nmax_body_size = \"1KiB\"\n",
        up.addr
    ))
    .await;
    let got = send(
        &h1(),
        Request::post(gw.url("/cl"))
            .body(full(vec![0u8; 2048]))
            .expect("req"),
    )
    .await;
    assert_problem(&got, 413, "payload-too-large");
    assert!(
        up.seen().is_empty(),
        "refused by Content-Length before contacting the upstream"
    );

    let chunks = (0..8)
        .map(|_| Ok::<_, BoxError>(http_body::Frame::data(bytes::Bytes::from(vec![1u8; 512]))));
    let body = http_body_util::StreamBody::new(futures_util::stream::iter(chunks)).boxed();
    let got = send(
        &h1(),
        Request::post(gw.url("/chunked")).body(body).expect("req"),
    )
    .await;
    assert_problem(&got, 413, "payload-too-large");

    let ok = send(
        &h1(),
        Request::post(gw.url("/small"))
            .body(full(vec![0u8; 1024]))
            .expect("req"),
    )
    .await;
    assert_eq!(ok.status, 200, "exactly the limit is accepted");
}

#[tokio::test]
async fn header_limits_give_431() {
    let up = Upstream::echo().await;
    let gw = Gw::to(
        up.addr,
        "[server]\nmax_headers = 20\nmax_header_bytes = \"2KiB\"\n",
    )
    .await;
    let many: Vec<(String, String)> = (0..30)
        .map(|i| (format!("x-h{i}"), "v".to_owned()))
        .collect();
    let refs: Vec<(&str, &str)> = many.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let got = get(&gw.url("/many"), &refs).await;
    let v = assert_problem(&got, 431, "headers-too-large");
    assert!(v["detail"].as_str().expect("detail").contains("fields"));
    let big = "c".repeat(3000);
    let got = get(&gw.url("/big"), &[("cookie", &big)]).await;
    let v = assert_problem(&got, 431, "headers-too-large");
    assert!(v["detail"].as_str().expect("detail").contains("bytes"));
    assert!(up.seen().is_empty());
}

#[tokio::test]
async fn malformed_requests_get_400() {
    let up = Upstream::echo().await;
    let gw = Gw::to(up.addr, "").await;
    for raw in [
        &b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n"[..],
        &b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n"[..],
        &b"GET / HTTP/1.1\r\nHost: bad host\r\nConnection: close\r\n\r\n"[..],
    ] {
        let out = raw_exchange(gw.addr, raw).await;
        assert!(out.starts_with("HTTP/1.1 400"), "{out}");
        assert!(
            out.contains("application/problem+json") && out.contains("\"reason\":\"bad-request\""),
            "{out}"
        );
        assert!(
            out.to_ascii_lowercase().contains("x-request-id: req_"),
            "{out}"
        );
    }
    assert!(up.seen().is_empty());
}

#[tokio::test]
async fn requests_hyper_cannot_parse_still_get_problems() {
    let up = Upstream::echo().await;
    let gw = Gw::to(up.addr, "").await;
    let out = raw_exchange(gw.addr, b"GARBAGE\r\n\r\n").await;
    assert!(out.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{out}");
    assert!(
        out.contains("content-type: application/problem+json")
            && out.contains("\"reason\":\"bad-request\""),
        "{out}"
    );
    assert!(out.contains("x-request-id: req_"), "{out}");
    let mut many = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
    for i in 0..1000 {
        many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    let out = raw_exchange(gw.addr, &many).await;
    assert!(out.starts_with("HTTP/1.1 431 "), "{out}");
    assert!(out.contains("\"reason\":\"headers-too-large\""), "{out}");
    assert!(up.seen().is_empty());
}

#[tokio::test]
async fn upstream_failures_map_to_502_503_504() {
    // 503: nothing listens on the endpoint.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let gw = Gw::to(port, "").await;
    let got = get(&gw.url("/down"), &[]).await;
    let v = assert_problem(&got, 503, "upstream-unavailable");
    assert_eq!(v["blame"], "upstream");

    // 502: the upstream answers with something that is not HTTP.
    let garbage = RawUpstream::start(b"SMTP READY\r\n\r\n").await;
    let gw = Gw::to(garbage.addr, "").await;
    let v = assert_problem(&get(&gw.url("/bad"), &[]).await, 502, "bad-gateway");
    assert_eq!(v["retryable"], true);

    // 502: the upstream closes the connection before answering.
    let closer = RawUpstream::start(b"").await;
    let gw = Gw::to(closer.addr, "").await;
    assert_problem(&get(&gw.url("/closed"), &[]).await, 502, "bad-gateway");

    // 504: the upstream is slower than the pool's response_timeout.
    let slow = Upstream::start(|_s: Seen| async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Response::new(full("late"))
    })
    .await;
    let gw = Gw::start(&format!(
        "[[pools]]\nname = \"slow\"\nendpoints = [\"{}\"]\nresponse_timeout = \"200ms\"\n[[routes]]\npool = \"slow\"\n",
        slow.addr
    ))
    .await;
    let v = assert_problem(&get(&gw.url("/slow"), &[]).await, 504, "gateway-timeout");
    assert!(v["detail"].as_str().expect("detail").contains("200 ms"));
}

#[tokio::test]
async fn breaker_opens_and_retry_after_says_when_the_next_probe_is() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let gw = Gw::start(&format!(
        "[[pools]]\nname = \"a\"\nendpoints = [\"{port}\"]\nbreaker = {{ consecutive_failures = 2, open_base = \"7s\" }}\n[[routes]]\npool = \"a\"\n"
    ))
    .await;
    for _ in 0..2 {
        assert_problem(&get(&gw.url("/"), &[]).await, 503, "upstream-unavailable");
    }
    let got = get(&gw.url("/"), &[]).await;
    let v = assert_problem(&got, 503, "upstream-unavailable");
    let ra = v["retry_after"].as_u64().expect("retry_after");
    assert_eq!(
        ra, 1,
        "Retry-After is the time to the next probe: the 1 s connect probe, which \
         lets the next request through when the endpoint is back, comes before the \
         breaker's 7 s"
    );
}

#[tokio::test]
async fn an_upstream_503_always_carries_retry_after() {
    let up = Upstream::start(|s: Seen| async move {
        let mut r = Response::builder().status(503);
        if s.uri.path() == "/own" {
            r = r.header("retry-after", "42");
        }
        r.body(full("busy")).expect("resp")
    })
    .await;
    let gw = Gw::to(up.addr, "").await;
    let own = get(&gw.url("/own"), &[]).await;
    assert_eq!(
        (
            own.status.as_u16(),
            own.header("retry-after"),
            own.text().as_str()
        ),
        (503, Some("42"), "busy")
    );
    let none = get(&gw.url("/none"), &[]).await;
    assert_eq!(none.status, 503);
    assert_eq!(
        none.header("retry-after"),
        Some("1"),
        "added when the upstream forgot"
    );
    assert_eq!(none.text(), "busy", "the upstream's body is kept");
}

#[tokio::test]
async fn problem_type_uris_serve_their_pages() {
    let gw = Gw::to("127.0.0.1:9".parse().expect("addr"), "").await;
    let got = get(&gw.url("/missing"), &[("host", "api.example.test")]).await;
    let _ = got;
    let got = get(&gw.url("/"), &[]).await;
    let v = got.json();
    let ty = v["type"].as_str().expect("type");
    assert!(
        ty.starts_with(&format!("http://{}/_levee/problems/", gw.addr)),
        "absolute, on this gateway: {ty}"
    );
    let page = get(ty, &[]).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = page.text();
    assert!(html.contains("The upstream service is unavailable"));
    assert!(
        html.contains("Likely causes") && html.contains("If you are the developer or operator")
    );
    let index = get(&gw.url("/_levee/problems/"), &[]).await;
    for slug in [
        "overloaded",
        "maintenance",
        "upstream-unavailable",
        "draining",
        "gateway-timeout",
        "bad-gateway",
    ] {
        assert!(
            index.text().contains(&format!("/_levee/problems/{slug}")),
            "{slug}"
        );
    }
    // The admin listener serves them too.
    assert_eq!(
        get(&gw.admin_url("/_levee/problems/overloaded"), &[])
            .await
            .status,
        200
    );
    // A configured base wins.
    let gw = Gw::to(
        "127.0.0.1:9".parse().expect("addr"),
        "[server]\nproblem_base_url = \"https://errors.example.com/p\"\n",
    )
    .await;
    let v = get(&gw.url("/"), &[]).await.json();
    assert_eq!(
        v["type"],
        "https://errors.example.com/p/upstream-unavailable"
    );
}

/// Issue 10: on a route with `error_format = "envelope"`, every answer the
/// gateway makes there is an envelope — the maintenance, rate-limit and
/// overload ones too, not only those made after forwarding.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_on_an_envelope_route_is_an_envelope() {
    let up = Upstream::start(|_s: Seen| async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        Response::new(full("ok"))
    })
    .await;
    let gw = Gw::start(&format!(
        "[[pools]]\nname = \"api\"\nendpoints = [\"{a}\"]\n\
         [[routes]]\nname = \"busy\"\npath_prefix = \"/busy/\"\npool = \"api\"\nerror_format = \"envelope\"\n\
         admission = {{ limiter = \"fixed\", limit = 1, max_queue = 0 }}\n\
         [[routes]]\nname = \"rated\"\npath_prefix = \"/rated/\"\npool = \"api\"\nerror_format = \"envelope\"\n\
         tenant = {{ from = \"header\", header = \"x-api-key\" }}\nrate_limit = {{ quota = 1, period = \"60s\" }}\n\
         [[routes]]\nname = \"down\"\npath_prefix = \"/down/\"\npool = \"api\"\nerror_format = \"envelope\"\n\
         [[maintenance.windows]]\nname = \"now\"\nroute = \"down\"\nends_at = \"2999-01-01T00:00:00Z\"\n",
        a = up.addr
    ))
    .await;
    let envelope = |got: &Got, status: u16, reason: &str| {
        assert_eq!(got.status, status, "{}", got.text());
        assert_eq!(
            got.header("content-type"),
            Some("application/json"),
            "{reason}"
        );
        let v = got.json();
        assert_eq!(
            v["meta"]["requestId"].as_str(),
            got.header("x-request-id"),
            "{reason}"
        );
        assert_eq!(v["error"]["status"], status, "{reason}: {v}");
        assert!(
            v["error"]["type"]
                .as_str()
                .is_some_and(|t| t.ends_with(&format!("/_levee/problems/{reason}"))),
            "{reason}: {v}"
        );
    };
    // Maintenance.
    envelope(&get(&gw.url("/down/x"), &[]).await, 503, "maintenance");
    // Rate limit: the second request of the tenant in a minute.
    assert_eq!(
        get(&gw.url("/rated/x"), &[("x-api-key", "k")]).await.status,
        200
    );
    envelope(
        &get(&gw.url("/rated/x"), &[("x-api-key", "k")]).await,
        429,
        "rate-limited",
    );
    // Overload: one slot, no queue, one request holding it.
    let first = tokio::spawn(get_owned(gw.url("/busy/x")));
    tokio::time::sleep(Duration::from_millis(100)).await;
    envelope(&get(&gw.url("/busy/y"), &[]).await, 503, "overloaded");
    assert_eq!(first.await.expect("task").status, 200);
}

async fn get_owned(url: String) -> Got {
    get(&url, &[]).await
}

/// Issue 10 and 20: a recovering endpoint's probe is not lost. Two
/// endpoints: A healthy but its breaker open, B down. Once both may be
/// probed, a request with a streamed body that meets B first goes on to A,
/// body and all (B never read it), and A's probe serves it; nothing on the
/// way takes A's only probe slot (computing a Retry-After used to), so the
/// next request is served by A too. (That `retry_in` takes no probe is
/// also a property of the breaker in levee-policy.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovering_endpoints_probe_is_not_lost() {
    let failed_once = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = failed_once.clone();
    let a = Upstream::start(move |_s: Seen| {
        let first = !flag.swap(true, std::sync::atomic::Ordering::SeqCst);
        async move {
            let status = if first { 502 } else { 200 };
            Response::builder()
                .status(status)
                .body(full("a"))
                .expect("response")
        }
    })
    .await;
    let b = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let gw = Gw::start(&format!(
        "[[pools]]\nname = \"p\"\nendpoints = [\"{a}\", \"{b}\"]\n\
         breaker = {{ consecutive_failures = 1, open_base = \"300ms\", probes = 1 }}\n\
         [[routes]]\npool = \"p\"\nadmission = \"off\"\nbuffer_request_body = \"0\"\n",
        a = a.addr
    ))
    .await;
    // A answers 502 once: its breaker opens. B refuses: its breaker opens.
    assert_eq!(get(&gw.url("/1"), &[]).await.status, 502);
    assert_problem(&get(&gw.url("/2"), &[]).await, 503, "upstream-unavailable");
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Both may be probed now. A request with a streamed body (the route
    // buffers none) is served, by A, whichever endpoint it meets first.
    let with_body = send(
        &h1(),
        Request::post(gw.url("/3"))
            .body(full("x"))
            .expect("request"),
    )
    .await;
    assert_eq!(with_body.status, 200, "{}", with_body.text());
    // A is healthy and its breaker closed: the next request is served by it.
    let got = get(&gw.url("/4"), &[]).await;
    assert_eq!(got.status, 200, "{}", got.text());
}

/// Issue 10: when the caller's own deadline cuts the wait for the upstream,
/// the endpoint has shown nothing — neither success nor failure. Crediting
/// it with a success would reset its failure count and keep a failing
/// endpoint in rotation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callers_short_deadline_says_nothing_about_the_endpoint() {
    let up = Upstream::start(|s: Seen| async move {
        if s.uri.path() == "/slow" {
            tokio::time::sleep(Duration::from_millis(500)).await;
            return Response::new(full("late"));
        }
        Response::builder()
            .status(502)
            .body(full("broken"))
            .expect("response")
    })
    .await;
    let gw = Gw::start(&format!(
        "[[pools]]\nname = \"p\"\nendpoints = [\"{a}\"]\n\
         breaker = {{ consecutive_failures = 3, open_base = \"10s\" }}\n\
         [[routes]]\npool = \"p\"\nadmission = \"off\"\n",
        a = up.addr
    ))
    .await;
    for _ in 0..2 {
        assert_eq!(get(&gw.url("/fail"), &[]).await.status, 502);
    }
    // The caller gives up after 100 ms: a 504, and no verdict on the endpoint.
    let cut = get(&gw.url("/slow"), &[("x-request-timeout-ms", "100")]).await;
    assert_problem(&cut, 504, "gateway-timeout");
    // The third failure in a row trips the breaker.
    assert_eq!(get(&gw.url("/fail"), &[]).await.status, 502);
    let after = get(&gw.url("/anything"), &[]).await;
    assert_problem(&after, 503, "upstream-unavailable");
}
