//! `levee check URL`: does this endpoint's error keep the 503 contract?
//!
//! Sends the request once (no retries) asking for `application/problem+json`,
//! then once each for `text/html` and `text/plain`, and checks what came back
//! against the contract in VISION.md: `Retry-After` present and valid on 503
//! and 429 (delay-seconds ≥ 1), `Cache-Control: no-store` on 503, an RFC 9457
//! body (or the envelope) whose `status` matches, a request id in the
//! `X-Request-Id` header and the body, a reason the `type` explains, and
//! content negotiation. Prints one line per check; exits 0 when nothing
//! failed (warnings allowed), 1 when something did, 2 on usage errors, 3
//! when no HTTP response came back — so it can gate CI.
//!
//! This module owns the checks and their wording. It must not retry: a
//! check of a server's error answer needs the error answer.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use levee_client::ProblemInfo;
use levee_http::retry_after::RetryAfter;
use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, HeaderMap, RETRY_AFTER};

use crate::fetch::{EXIT_HTTP, EXIT_NETWORK, EXIT_OK, EXIT_USAGE, parse_duration};

/// The reasons a Levee 503 names.
const REASONS_503: &[&str] = &[
    "overloaded",
    "maintenance",
    "upstream-unavailable",
    "draining",
];

/// `levee check`: probe an endpoint's error behaviour against the 503 contract.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct CheckArgs {
    /// The URL whose error answer to check (e.g. a route in maintenance).
    pub(crate) url: String,
    /// The request method.
    #[arg(
        short = 'X',
        long = "request",
        default_value = "GET",
        value_name = "METHOD"
    )]
    pub(crate) method: String,
    /// A request header, `Name: value`; repeatable.
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub(crate) headers: Vec<String>,
    /// Time allowed for each probe.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) timeout: Duration,
}

/// The verdict of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    Pass,
    Warn,
    Fail,
}

struct Report {
    lines: Vec<(Mark, String)>,
}

impl Report {
    fn add(&mut self, mark: Mark, text: impl Into<String>) {
        self.lines.push((mark, text.into()));
    }
    fn count(&self, mark: Mark) -> usize {
        self.lines.iter().filter(|(m, _)| *m == mark).count()
    }
}

/// Runs `levee check`.
pub(crate) async fn run(args: CheckArgs) -> ExitCode {
    ExitCode::from(check(args).await)
}

/// One answer, read whole.
pub(crate) struct Probe {
    pub(crate) status: reqwest::StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

/// Sends the request of `args` once (no retries) with `accept`; the outer
/// error is a usage error (method, header, URL), the inner one is no answer.
/// `levee explain --url` uses it too.
pub(crate) async fn probe(
    client: &reqwest::Client,
    args: &CheckArgs,
    accept: &str,
) -> anyhow::Result<Result<Probe, reqwest::Error>> {
    let method: reqwest::Method = args
        .method
        .to_ascii_uppercase()
        .parse()
        .with_context(|| format!("invalid method {:?}", args.method))?;
    let mut request = client
        .request(method, &args.url)
        .timeout(args.timeout)
        .header(ACCEPT, accept);
    for h in &args.headers {
        let (name, value) = h
            .split_once(':')
            .with_context(|| format!("invalid header {h:?}: expected `Name: value`"))?;
        request = request.header(name.trim(), value.trim());
    }
    let request = request
        .build()
        .with_context(|| format!("invalid URL {:?}", args.url))?;
    let response = match client.execute(request).await {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    let status = response.status();
    let headers = response.headers().clone();
    let body = match response.bytes().await {
        Ok(b) => b.to_vec(),
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(Probe {
        status,
        headers,
        body,
    }))
}

async fn check(args: CheckArgs) -> u8 {
    let client = match crate::fetch::http_client() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("levee: cannot build the HTTP client: {e}");
            return EXIT_USAGE;
        }
    };
    let main = match probe(
        &client,
        &args,
        "application/problem+json, application/json;q=0.9",
    )
    .await
    {
        Err(e) => {
            eprintln!("levee: {e:#}");
            return EXIT_USAGE;
        }
        Ok(Err(e)) => {
            eprintln!("levee: no HTTP response from {}: {e}", args.url);
            return EXIT_NETWORK;
        }
        Ok(Ok(p)) => p,
    };
    let mut report = Report { lines: Vec::new() };
    check_main(&main, &mut report);
    if main.status.is_client_error() || main.status.is_server_error() {
        for (accept, want) in [("text/html", "text/html"), ("text/plain", "text/plain")] {
            match probe(&client, &args, accept).await {
                Ok(Ok(p)) => {
                    let got = content_type(&p.headers);
                    if got.starts_with(want) {
                        report.add(
                            Mark::Pass,
                            format!("Accept: {accept} → Content-Type: {got}"),
                        );
                    } else {
                        report.add(
                            Mark::Warn,
                            format!("Accept: {accept} → Content-Type: {got:?}, expected {want}"),
                        );
                    }
                }
                _ => report.add(Mark::Warn, format!("Accept: {accept} → no answer")),
            }
        }
    }

    println!("levee check {}", args.url);
    println!(
        "  {} {}",
        main.status.as_u16(),
        main.status.canonical_reason().unwrap_or("")
    );
    for (mark, text) in &report.lines {
        let label = match mark {
            Mark::Pass => "PASS",
            Mark::Warn => "WARN",
            Mark::Fail => "FAIL",
        };
        println!("  {label}  {text}");
    }
    let (fails, warns) = (report.count(Mark::Fail), report.count(Mark::Warn));
    if fails == 0 {
        println!(
            "meets the 503 contract ({warns} warning{})",
            if warns == 1 { "" } else { "s" }
        );
        EXIT_OK
    } else {
        println!(
            "falls short: {fails} check{} failed, {warns} warning{}",
            if fails == 1 { "" } else { "s" },
            if warns == 1 { "" } else { "s" }
        );
        EXIT_HTTP
    }
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

fn check_main(p: &Probe, r: &mut Report) {
    let code = p.status.as_u16();
    if !(p.status.is_client_error() || p.status.is_server_error()) {
        r.add(Mark::Fail, format!("status {code} is not an error: point levee check at a URL that fails (a route in maintenance, an overloaded pool)"));
        return;
    }

    // Retry-After: required on 503 and 429, as delay-seconds ≥ 1 by default.
    let retry_after = p.headers.get(RETRY_AFTER);
    match (retry_after, code) {
        (None, 503 | 429) => r.add(
            Mark::Fail,
            format!("Retry-After missing: a {code} must say when to come back"),
        ),
        (None, _) => {}
        (Some(v), _) => match RetryAfter::from_header_value(v) {
            Ok(RetryAfter::Delay(d)) if d.is_zero() => r.add(
                Mark::Fail,
                "Retry-After: 0 invites an immediate retry storm; send ≥ 1",
            ),
            Ok(RetryAfter::Delay(d)) => r.add(
                Mark::Pass,
                format!("Retry-After: {} (delay-seconds)", d.as_secs()),
            ),
            Ok(RetryAfter::Date(_)) => {
                if p.headers.contains_key(reqwest::header::DATE) {
                    r.add(
                        Mark::Pass,
                        "Retry-After is an HTTP-date, and Date is present for skew correction",
                    )
                } else {
                    r.add(Mark::Warn, "Retry-After is an HTTP-date but there is no Date header to correct clock skew")
                }
            }
            Err(e) => r.add(Mark::Fail, format!("{e}")),
        },
    }

    // Cache-Control: no-store, so no cache serves the outage after it ends.
    let cache = p
        .headers
        .get(CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let no_store = cache
        .split(',')
        .any(|d| d.trim().eq_ignore_ascii_case("no-store"));
    match (no_store, code) {
        (true, _) => r.add(Mark::Pass, "Cache-Control: no-store"),
        (false, 503) => r.add(
            Mark::Fail,
            format!("Cache-Control should be no-store on a 503 (got {cache:?})"),
        ),
        (false, _) => r.add(
            Mark::Warn,
            format!("Cache-Control is {cache:?}; no-store keeps caches from replaying the error"),
        ),
    }

    // The body: RFC 9457 problem+json, or the envelope.
    let ct = content_type(&p.headers);
    let problem = ProblemInfo::parse(&p.body);
    match (&problem, ct.starts_with("application/problem+json")) {
        (Some(pr), true) if pr.form == levee_client::problem::ProblemForm::Rfc9457 => {
            r.add(Mark::Pass, "Content-Type: application/problem+json")
        }
        (Some(pr), _) if pr.form == levee_client::problem::ProblemForm::Envelope => {
            r.add(Mark::Pass, format!("envelope body {{meta, error}} ({ct})"))
        }
        (Some(_), false) => r.add(
            Mark::Warn,
            format!("problem body served as {ct:?}, not application/problem+json"),
        ),
        (None, _) => r.add(
            Mark::Fail,
            format!("body is not an RFC 9457 problem nor the envelope (Content-Type {ct:?})"),
        ),
        (Some(_), true) => r.add(Mark::Pass, "Content-Type: application/problem+json"),
    }
    if let Some(pr) = &problem {
        match pr.status {
            Some(s) if s == code => r.add(
                Mark::Pass,
                format!("problem status {s} matches the response"),
            ),
            Some(s) => r.add(
                Mark::Fail,
                format!("problem status {s} differs from the response's {code}"),
            ),
            None => r.add(Mark::Warn, "problem has no status member"),
        }
        match (&pr.type_uri, &pr.title) {
            (Some(t), Some(_)) if t != "about:blank" => {
                r.add(Mark::Pass, format!("problem type {t}"))
            }
            _ => r.add(
                Mark::Warn,
                "problem has no type URI (or about:blank) and title to explain it",
            ),
        }
        if code == 503 {
            match pr.reason_slug() {
                Some(reason) if REASONS_503.contains(&reason) => {
                    r.add(Mark::Pass, format!("reason: {reason}"))
                }
                other => r.add(
                    Mark::Warn,
                    format!(
                        "reason {:?} is none of {}",
                        other.unwrap_or("(none)"),
                        REASONS_503.join(", ")
                    ),
                ),
            }
        }
    }

    // The request id, in the header and the body, the same.
    let header_id = levee_client::problem::request_id_from_headers(&p.headers);
    let body_id = problem.as_ref().and_then(|pr| pr.request_id.clone());
    match (&header_id, &body_id) {
        (Some(h), Some(b)) if h == b => r.add(
            Mark::Pass,
            format!("request id {h} in X-Request-Id and the body"),
        ),
        (Some(h), Some(b)) => r.add(
            Mark::Fail,
            format!("request id differs: header {h}, body {b}"),
        ),
        (Some(h), None) => r.add(
            Mark::Warn,
            format!("request id {h} in the header but not in the body"),
        ),
        (None, Some(b)) => r.add(
            Mark::Fail,
            format!("request id {b} in the body but no X-Request-Id header"),
        ),
        (None, None) => r.add(
            Mark::Fail,
            "no request id (X-Request-Id) to quote to support",
        ),
    }
}
