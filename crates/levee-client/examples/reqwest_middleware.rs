//! levee-client as a reqwest-middleware middleware.
//!
//! `cargo run -p levee-client --features reqwest --example reqwest_middleware -- URL`
//!
//! Retries the GET under levee-client's defaults, prints the narration and,
//! on failure, the diagnosis.

use levee_client::reqwest::RetryMiddleware;
use levee_client::{Event, Retrier, RetrySummary};

#[tokio::main]
async fn main() {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:8080/".to_owned());
    let retrier = Retrier::builder()
        .observer(|e: &Event| eprintln!("retry: {e}"))
        .build()
        .expect("default configuration is valid");
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(RetryMiddleware::new(retrier))
        .build();
    match client.get(&url).send().await {
        Ok(resp) => {
            let attempts = resp
                .extensions()
                .get::<RetrySummary>()
                .map_or(1, RetrySummary::attempt_count);
            println!("{} after {attempts} attempt(s)", resp.status());
        }
        Err(e) => eprintln!("failed: {e}"),
    }
}
