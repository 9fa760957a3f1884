//! What the client reads from an error response (levee-client): the
//! problem+json or envelope body, the request id, and `Retry-After` with
//! the `Date` that corrects it. Input: a response as it comes off the wire
//! (`HTTP/1.1 503 …`, `name: value` lines, an empty line, the body).
//!
//! The response is answered to a real `Retrier` (two attempts, time paused)
//! through `levee_client::drive`, then turned into the `Error` and the
//! give-up `Diagnosis` a person reads.
//!
//! Checks: nothing panics; the wait recorded for the first attempt is the
//! server's delay-seconds exactly when the status is one the client
//! retries (and none otherwise); the request id reported is the one the
//! headers or the body carried; `ProblemInfo` is plain data that serializes.

#![no_main]

use std::cell::RefCell;

use bytes::Bytes;
use http::{HeaderMap, Method, Uri, header};
use http_body_util::Full;
use levee_client::problem::request_id_from_headers;
use levee_client::{Diagnosis, Error, ProblemInfo, Retrier, RetryPolicy};
use levee_http::retry_after::RetryAfter;
use libfuzzer_sys::fuzz_target;

thread_local! {
    static RUNTIME: RefCell<tokio::runtime::Runtime> = RefCell::new(
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a runtime"),
    );
}

fuzz_target!(|data: &[u8]| {
    let wire = levee_fuzz::response(data);
    let (status, headers, body) = (wire.status, wire.headers, Bytes::copy_from_slice(wire.body));

    let problem = ProblemInfo::parse(&body);
    if let Some(p) = &problem {
        let _ = p.reason_slug();
        serde_json_check(p);
    }

    let policy = RetryPolicy {
        max_attempts: 2,
        ..RetryPolicy::default()
    };
    let retries = policy.retries_status(status);
    let retrier = Retrier::builder()
        .policy(policy)
        .build()
        .expect("a valid policy");
    let url: Uri = "http://api.example/v1/items".parse().expect("uri");
    let outcome = RUNTIME.with(|rt| {
        rt.borrow()
            .block_on(levee_client::drive(
                &retrier,
                Method::GET,
                &HeaderMap::new(),
                url,
                |_target| {
                    let mut response = http::Response::new(Full::new(body.clone()));
                    *response.status_mut() = status;
                    *response.headers_mut() = headers.clone();
                    async move { Ok::<_, levee_client::BoxError>(response) }
                },
            ))
            .map_err(Box::new)
    });
    let error = match outcome {
        Ok(finished) => {
            let first = &finished.summary.attempts[0];
            let asked = headers
                .get(header::RETRY_AFTER)
                .and_then(|v| RetryAfter::try_from(v).ok());
            match asked {
                Some(RetryAfter::Delay(d)) if retries => {
                    assert_eq!(first.retry_after, Some(d), "Retry-After not honoured");
                }
                _ if !retries => assert_eq!(first.retry_after, None),
                _ => {}
            }
            if !(status.is_client_error() || status.is_server_error()) {
                return;
            }
            Error::from_response(status, &headers, &body, finished.summary)
        }
        Err(error) => *error,
    };
    if let Some(id) = &error.request_id {
        let from_headers = request_id_from_headers(&headers);
        let from_body = problem.as_ref().and_then(|p| p.request_id.clone());
        assert!(
            from_headers.as_ref() == Some(id) || from_body.as_ref() == Some(id),
            "request id {id:?} came from nowhere"
        );
    }
    let _ = error.to_string();
    let diagnosis = Diagnosis::of(&error);
    let _ = diagnosis.to_string();
});

fn serde_json_check(p: &ProblemInfo) {
    serde_json::to_string(p).expect("a ProblemInfo serializes");
}
