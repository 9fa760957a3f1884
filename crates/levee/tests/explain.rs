//! `levee explain` end to end: codes, reasons, unknown numbers, a real
//! response on stdin or fetched once from loopback, and the gateway's
//! `/_levee/codes/` pages.

use std::process::{Output, Stdio};
use std::sync::atomic::Ordering;

use tokio::io::AsyncWriteExt;

use crate::fetch::{Scripted, levee, reply};
use crate::support::{Gw, get, raw_exchange};

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `levee explain ARGS` with `input` on stdin.
async fn explain_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_levee"))
        .arg("explain")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn levee");
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin.write_all(input).await.expect("write stdin");
    drop(stdin);
    child.wait_with_output().await.expect("levee runs")
}

#[tokio::test]
async fn explain_418_says_what_unused_means() {
    let out = levee(&["explain", "418", "--width", "100"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("418 (Unused)\n4xx Client Error · RFC 9110 §15.5.19"),
        "{text}"
    );
    assert!(text.contains("I'm a teapot"), "{text}");
    assert!(text.contains("RFC 9110 reserves it"), "{text}");
    assert!(
        !text.contains("Returning it correctly"),
        "no examples for a code not to send: {text}"
    );
}

#[tokio::test]
async fn explain_503_has_everything_an_entry_owes() {
    // The default width: no --width, no $COLUMNS, stdout not a terminal.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_levee"))
        .args(["explain", "503"])
        .env_remove("COLUMNS")
        .output()
        .await
        .expect("run levee");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for needle in [
        "503 Service Unavailable\n5xx Server Error · RFC 9110 §15.6.4",
        "Whose side: the server's",
        "Common causes:",
        "If you are visiting:",
        "If you are the developer or operator:",
        "Retry-After: 120",
        "Retry:",
        "  - overloaded — Service overloaded",
        "Flask — app.py",
        "Express — app.js",
        "PHP — index.php",
        "Go net/http — main.go",
        "Spring Boot — ProblemController.java",
        "Sinatra — app.rb",
        "axum — src/main.rs",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    // Wrapped for a terminal: prose within 80 columns (code is kept as is).
    let prose = text.split("Returning it correctly").next().unwrap_or("");
    assert!(prose.lines().all(|l| l.chars().count() <= 80), "{prose}");
}

#[tokio::test]
async fn explain_overloaded_is_the_reason_with_its_status() {
    let out = levee(&["explain", "overloaded", "--examples", "express"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("overloaded — Service overloaded\n"),
        "{text}"
    );
    assert!(text.contains("levee explain 503"), "{text}");
    assert!(
        text.contains("Its page on a gateway: /_levee/problems/overloaded"),
        "{text}"
    );
    assert!(
        text.contains("https://example.com/problems/overloaded"),
        "{text}"
    );
    assert!(
        text.contains("Express — app.js") && !text.contains("Flask — app.py"),
        "{text}"
    );
}

#[tokio::test]
async fn explain_599_is_marked_unofficial() {
    let out = levee(&["explain", "599"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("599 Network Connect Timeout Error\n"),
        "{text}"
    );
    assert!(
        text.contains("UNOFFICIAL: not in the IANA registry"),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&levee(&["explain", "499", "--json"]).await.stdout).expect("json");
    assert_eq!(json["official"], false);
    assert_eq!(json["standing"]["kind"], "unofficial");
    assert_eq!(
        json["standing"]["origin"],
        "nginx (and gRPC gateways, for CANCELLED)"
    );
}

#[tokio::test]
async fn unknown_numbers_and_words_say_so_and_exit_1() {
    let out = levee(&["explain", "299"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("299 is not a registered HTTP status code"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("reads as 200 OK"), "{}", stdout(&out));
    let out = levee(&["explain", "700"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("not an HTTP status code"));
    let out = levee(&["explain", "flood", "--json"]).await;
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["kind"], "unknown");
    let out = levee(&["explain", "503", "--examples", "cobol"]).await;
    assert_eq!(out.status.code(), Some(2), "a bad flag is a usage error");
}

#[tokio::test]
async fn json_for_a_code_a_name_and_the_index() {
    let out = levee(&["explain", "too-many-requests", "--json"]).await;
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["kind"], "status");
    assert_eq!(v["code"], 429);
    assert_eq!(v["retry"], "later");
    assert_eq!(v["reference"]["document"], "RFC 6585");
    assert_eq!(v["examples"].as_array().map(Vec::len), Some(7));
    assert!(
        v["examples"][0]["code"]
            .as_str()
            .expect("code")
            .contains("Retry-After")
    );

    let out = levee(&["explain", "--json"]).await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let codes = v["codes"].as_array().expect("codes");
    assert_eq!(codes.iter().filter(|c| c["official"] == true).count(), 64);
    assert!(
        v["reasons"]
            .as_array()
            .expect("reasons")
            .iter()
            .any(|r| r["slug"] == "draining")
    );
}

#[tokio::test]
async fn curl_si_output_of_a_levee_503_is_diagnosed() {
    // A gateway whose only upstream refuses connections answers 503
    // upstream-unavailable; its bytes on the wire are what `curl -si` prints.
    let gw = Gw::to("127.0.0.1:9".parse().expect("addr"), "").await;
    let wire = raw_exchange(
        gw.addr,
        b"GET /orders HTTP/1.1\r\nhost: shop.test\r\naccept: application/problem+json\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(wire.starts_with("HTTP/1.1 503"), "{wire}");
    let out = explain_stdin(&["-"], wire.as_bytes()).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("503 Service Unavailable — from Levee gateway (gateway)"),
        "{text}"
    );
    assert!(text.contains("could not reach any endpoint"), "{text}");
    assert!(text.contains("Retry-After: "), "{text}");
    assert!(text.contains("no cache keeps this answer"), "{text}");
    assert!(text.contains("Request id: req_"), "{text}");
    assert!(text.contains("(from problem body)"), "{text}");
    assert!(
        text.contains("levee explain upstream-unavailable"),
        "{text}"
    );
}

#[tokio::test]
async fn curl_output_of_other_producers_is_recognised() {
    let envoy = "HTTP/2 503\r\ncontent-length: 91\r\ncontent-type: text/plain\r\nserver: envoy\r\n\r\n\
                 upstream connect error or disconnect/reset before headers. reset reason: connection failure";
    let out = explain_stdin(&["-"], envoy.as_bytes()).await;
    let text = stdout(&out);
    assert!(
        text.starts_with("503 Service Unavailable — from Envoy"),
        "{text}"
    );
    assert!(text.contains("Detail: connection failure"), "{text}");
    assert!(text.contains("No Retry-After"), "{text}");

    let with_continue = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 522 \r\nserver: cloudflare\r\ncf-ray: 8a1b2c3d4e5f6789-FRA\r\n\r\n\
                         <div id=\"cf-error-details\">Connection timed out</div>";
    let out = explain_stdin(&["-", "--json"], with_continue.as_bytes()).await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["status"], 522);
    assert_eq!(v["producer"]["id"], "cloudflare");
    assert_eq!(v["request_id"]["value"], "8a1b2c3d4e5f6789-FRA");
    assert_eq!(v["status_info"]["standing"]["origin"], "Cloudflare");

    let out = explain_stdin(&["-"], b"<html>not a head</html>").await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("curl -i"), "{}", stderr(&out));
}

#[tokio::test]
async fn explain_url_fetches_once_without_retrying_or_following() {
    let alb = Scripted::start(vec![reply(
        "503 Service Temporarily Unavailable",
        &[("server", "awselb/2.0"), ("content-type", "text/html"), ("retry-after", "0")],
        "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n</body>\r\n</html>\r\n",
    )])
    .await;
    let out = levee(&["explain", "--url", &alb.url("/x")]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("from AWS Elastic Load Balancing"), "{text}");
    assert!(text.contains("no registered targets"), "{text}");
    assert!(text.contains("Retry-After: 0 means 'now'"), "{text}");
    assert_eq!(alb.hits.load(Ordering::SeqCst), 1, "no retries");

    let moved = Scripted::start(vec![reply("302 Found", &[("location", "/elsewhere")], "")]).await;
    let out = levee(&["explain", "--url", &moved.url("/"), "--json"]).await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["status"], 302, "redirects are explained, not followed");
    assert_eq!(moved.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn explain_url_with_nothing_listening_is_exit_3() {
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = dead.local_addr().expect("addr");
    drop(dead);
    let out = levee(&["explain", "--url", &format!("http://{addr}/")]).await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no HTTP response"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn the_gateway_serves_code_pages_linked_with_problem_pages() {
    let gw = Gw::to("127.0.0.1:9".parse().expect("addr"), "").await;
    let page = get(&gw.url("/_levee/codes/503"), &[]).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = page.text();
    assert!(html.contains("<h1>503 Service Unavailable</h1>"), "{html}");
    assert!(
        html.contains("href=\"/_levee/problems/overloaded\""),
        "{html}"
    );
    assert!(html.contains("prefers-color-scheme:dark"), "light and dark");
    let problem = get(&gw.url("/_levee/problems/maintenance"), &[])
        .await
        .text();
    assert!(problem.contains("href=\"/_levee/codes/503\""), "{problem}");
    let index = get(&gw.url("/_levee/codes/"), &[]).await;
    assert!(index.text().contains("href=\"/_levee/codes/599\""));
    assert_eq!(
        get(&gw.admin_url("/_levee/codes/429"), &[]).await.status,
        200
    );
}
