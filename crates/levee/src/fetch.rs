//! `levee fetch`: curl with the client half of the 503 contract.
//!
//! Sends one request through `levee-client` (Retry-After honoured, backoff
//! with jitter, budget, breakers, failover to `--fallback` bases, idempotency
//! rules), narrates each retry on stderr, writes the body to stdout (or
//! `-o`), and when it gives up prints a diagnosis: what the status means,
//! whose side the fault is on, likely causes, what to do, the request id and
//! the status page.
//!
//! Exit codes: 0 success; 1 HTTP error after retries; 2 usage or local error
//! (bad flag, URL, header, unreadable `@file`, unwritable `-o`); 3 network
//! failure (no HTTP response at all).
//!
//! This module owns the command's flags, output and exit codes. It must not
//! make retry decisions of its own: `levee-client` does.

mod narrate;
mod options;

use std::io::Write;
use std::process::ExitCode;

use levee_client::{Diagnosis, Error, Retrier};

pub(crate) use options::{FetchArgs, parse_duration};

/// Exit code: the request succeeded.
pub(crate) const EXIT_OK: u8 = 0;
/// Exit code: the server answered with an error status, after retries.
pub(crate) const EXIT_HTTP: u8 = 1;
/// Exit code: bad usage or a local error (file, flag, URL).
pub(crate) const EXIT_USAGE: u8 = 2;
/// Exit code: no HTTP response could be had.
pub(crate) const EXIT_NETWORK: u8 = 3;

/// Runs `levee fetch`.
pub(crate) async fn run(args: FetchArgs) -> ExitCode {
    ExitCode::from(fetch(args).await)
}

async fn fetch(args: FetchArgs) -> u8 {
    let plan = match args.plan() {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("levee: {e:#}");
            return EXIT_USAGE;
        }
    };
    let narrator = narrate::Narrator::start(args.narration());
    let retrier = match Retrier::builder()
        .policy(plan.policy.clone())
        .endpoints(plan.endpoints.clone())
        .observer(narrator.observer())
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("levee: {e}");
            return EXIT_USAGE;
        }
    };
    let client = match http_client() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("levee: cannot build the HTTP client: {e}");
            return EXIT_USAGE;
        }
    };
    let request = match plan.request(&client) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("levee: {e:#}");
            return EXIT_USAGE;
        }
    };
    let result = levee_client::reqwest::execute(&retrier, &client, request).await;
    // The retrier's observer holds the narrator's sender: drop it first.
    drop(retrier);
    narrator.finish().await;
    match result {
        Ok(response) => match options::write_response(&args, response).await {
            Ok(()) => EXIT_OK,
            Err(e) => {
                eprintln!("levee: {e:#}");
                EXIT_USAGE
            }
        },
        Err(error) => {
            report(&args, &error);
            if error.is_network() {
                EXIT_NETWORK
            } else {
                EXIT_HTTP
            }
        }
    }
}

/// A reqwest client on rustls with the ring provider (no cmake, no
/// OpenSSL) that follows up to 10 redirects.
pub(crate) fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    client_builder()
        .redirect(reqwest::redirect::Policy::limited(10))
        .build()
}

/// The builder behind [`http_client`]: rustls with ring, Levee's user agent.
/// `levee explain --url` builds from it without following redirects.
pub(crate) fn client_builder() -> reqwest::ClientBuilder {
    // Installing twice is harmless; the first provider stays.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().user_agent(concat!("levee/", env!("CARGO_PKG_VERSION")))
}

fn report(args: &FetchArgs, error: &Error) {
    let stderr = std::io::stderr();
    let mut out = stderr.lock();
    if args.silent {
        let _ = writeln!(out, "levee: {error}");
        return;
    }
    if let levee_client::Failure::Status { body_snippet, .. } = &error.failure
        && args.verbose
        && !body_snippet.is_empty()
    {
        let _ = writeln!(out, "< {}", body_snippet.trim_end());
    }
    let _ = write!(out, "levee: {}", Diagnosis::of(error));
}
