//! Properties of what the client reads from an error response (issue 11),
//! on the stable toolchain: the problem+json or envelope body, the request
//! id and `Retry-After` — the `client_response` cargo-fuzz target in
//! `fuzz/`, with round trips: what the gateway sends, the client reads.
//!
//! Responses are answered to a real `Retrier` through `drive`, on tokio's
//! paused clock, so the waits are measured without sleeping.

use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode, header};
use http_body_util::Full;
use levee_client::{
    BoxError, Diagnosis, Error, Finished, GiveUp, ProblemInfo, Retrier, RetryPolicy, RetrySummary,
    drive,
};
use levee_http::{Problem, Reason};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 128,
        ..ProptestConfig::default()
    }
}

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, headers: &[(&str, String)], body: Vec<u8>) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    for (k, v) in headers {
        let name = HeaderName::from_bytes(k.as_bytes()).expect("a field name");
        r.headers_mut()
            .append(name, HeaderValue::from_str(v).expect("a field value"));
    }
    r
}

/// Sends one GET, answered by `first` and then `200 OK`, with at most two
/// attempts; time is paused, so waits cost nothing.
fn exchange(first: Reply) -> Result<Finished<Reply>, Box<Error>> {
    let retrier = Retrier::builder()
        .policy(RetryPolicy {
            max_attempts: 2,
            ..RetryPolicy::default()
        })
        .build()
        .expect("a valid policy");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime");
    let mut replies = vec![reply(StatusCode::OK, &[], b"ok".to_vec()), first];
    runtime
        .block_on(drive(
            &retrier,
            Method::GET,
            &HeaderMap::new(),
            "http://api.example/v1/items".parse().expect("uri"),
            move |_| {
                let r = replies
                    .pop()
                    .unwrap_or_else(|| reply(StatusCode::OK, &[], Vec::new()));
                async move { Ok::<_, BoxError>(r) }
            },
        ))
        .map_err(Box::new)
}

fn retried_status() -> impl Strategy<Value = StatusCode> {
    prop::sample::select(vec![
        StatusCode::TOO_MANY_REQUESTS,
        StatusCode::SERVICE_UNAVAILABLE,
        StatusCode::BAD_GATEWAY,
        StatusCode::GATEWAY_TIMEOUT,
        StatusCode::REQUEST_TIMEOUT,
    ])
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn delay_seconds_are_waited_in_full(status in retried_status(), secs in 0u64..=60) {
        let finished = exchange(reply(status, &[("retry-after", secs.to_string())], Vec::new()))
            .expect("the second attempt succeeds");
        let s = &finished.summary;
        prop_assert_eq!(finished.response.status(), StatusCode::OK);
        prop_assert_eq!(s.attempts.len(), 2);
        prop_assert_eq!(s.attempts[0].retry_after, Some(Duration::from_secs(secs)));
        prop_assert!(s.waited >= Duration::from_secs(secs), "waited {:?} < {secs}s", s.waited);
    }

    #[test]
    fn an_http_date_is_waited_on_the_servers_clock(status in retried_status(), secs in 0u64..=60, date in 0u64..2_000_000_000) {
        // The server's clock is anywhere from 1970 to 2033; ours says 2026.
        let server_now = UNIX_EPOCH + Duration::from_secs(date);
        let headers = [
            ("date", httpdate::fmt_http_date(server_now)),
            ("retry-after", httpdate::fmt_http_date(server_now + Duration::from_secs(secs))),
        ];
        let finished = exchange(reply(status, &headers, Vec::new())).expect("retried");
        let s = &finished.summary;
        prop_assert_eq!(s.attempts[0].retry_after, Some(Duration::from_secs(secs)));
        prop_assert!(s.waited >= Duration::from_secs(secs));
    }

    #[test]
    fn a_wait_past_max_wait_gives_up_without_waiting(status in retried_status(), secs in 61u64..=366 * 86_400) {
        let finished = exchange(reply(status, &[("retry-after", secs.to_string())], Vec::new()))
            .expect("the refusal itself");
        let s = &finished.summary;
        prop_assert_eq!(finished.response.status(), status);
        prop_assert_eq!(s.attempts.len(), 1);
        prop_assert_eq!(s.waited, Duration::ZERO);
        prop_assert!(matches!(s.gave_up, Some(GiveUp::RetryAfterTooLong { .. })), "{:?}", s.gave_up);
    }

    #[test]
    fn any_response_ends_in_an_answer_and_a_report(
        status in 100u16..=599,
        retry_after in proptest::collection::vec(any::<u8>(), 0..24),
        body in proptest::collection::vec(any::<u8>(), 0..80),
    ) {
        let status = StatusCode::from_u16(status).expect("a status");
        let mut first = reply(status, &[], body.clone());
        if let Ok(v) = HeaderValue::from_bytes(&retry_after) {
            first.headers_mut().insert(header::RETRY_AFTER, v);
        }
        let error = match exchange(first) {
            Ok(f) if f.response.status().is_client_error() || f.response.status().is_server_error() => {
                Error::from_response(f.response.status(), &HeaderMap::new(), &body, f.summary)
            }
            Ok(_) => return Ok(()),
            Err(e) => *e,
        };
        prop_assert!(!Diagnosis::of(&error).to_string().is_empty());
    }
}

// ---------------------------------------------------------------- problems

fn problem() -> impl Strategy<Value = Problem> {
    (
        prop::sample::select(Reason::ALL),
        prop::option::of("\\PC{1,40}"),
        prop::option::of("[A-Za-z0-9_-]{1,30}"),
        prop::option::of("https://status\\.[a-z]{1,8}\\.example"),
    )
        .prop_map(|(reason, detail, id, page)| {
            let mut p = Problem::new(reason, "https://api.example.com/_levee/problems");
            if let Some(d) = detail {
                p = p.with_detail(d);
            }
            if let Some(id) = id {
                p = p.with_request_id(id);
            }
            if let Some(page) = page {
                p = p.with_extension("status_page", page);
            }
            p
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_client_reports_what_the_gateway_said(
        p in problem(),
        envelope in any::<bool>(),
        header_id in prop::option::of("req_[A-Z0-9]{26}"),
    ) {
        let body = if envelope { p.to_envelope() } else { p.to_json() };
        let mut headers = HeaderMap::new();
        if let Some(id) = &header_id {
            headers.insert("x-request-id", HeaderValue::from_str(id).expect("value"));
        }
        let status = StatusCode::from_u16(p.status).expect("a status");
        let error = Error::from_response(status, &headers, &body, RetrySummary::default());
        prop_assert_eq!(error.status(), Some(status));
        let info = error.problem().expect("the problem is read");
        prop_assert_eq!(info, &ProblemInfo::parse(&body).expect("a problem"));
        prop_assert_eq!(info.title.as_deref(), Some(p.title.as_str()));
        prop_assert_eq!(info.detail.as_deref(), p.detail.as_deref());
        prop_assert_eq!(info.reason_slug(), p.reason.as_deref());
        // The header's id is the one the gateway logged; the body's stands in.
        let want = header_id.or(p.request_id.clone());
        prop_assert_eq!(&error.request_id, &want);

        let d = Diagnosis::of(&error);
        prop_assert_eq!(&d.request_id, &want);
        if !envelope {
            let page = p.extensions.get("status_page").and_then(|v| v.as_str()).map(str::to_owned);
            prop_assert_eq!(d.status_page, page);
        }
        let report = error.to_string();
        if let Some(id) = &want {
            prop_assert!(report.contains(id.as_str()), "{report}");
        }
    }
}
