//! levee-client under a tonic client: gRPC calls that wait out a
//! gateway's `grpc-retry-pushback-ms` (or `RetryInfo`) as HTTP requests
//! wait out `Retry-After`.
//!
//! `cargo run -p levee-client --example tonic_channel -- http://127.0.0.1:8000 [SERVICE]`
//!
//! Asks `grpc.health.v1.Health/Check` through the retrying channel, then
//! prints the status and every attempt.

use levee_client::tower::BufferedRetryLayer;
use levee_client::{Event, Retrier, RetrySummary};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8000".to_owned());
    let service = args.next().unwrap_or_default();
    let channel = tonic::transport::Endpoint::from_shared(url)?
        .connect()
        .await?;
    let retrier = Retrier::builder()
        .observer(|e: &Event| eprintln!("{e}"))
        .build()?;
    // A unary call's message is read whole, and each attempt gets a fresh
    // tonic body made from it.
    let channel = tower::ServiceBuilder::new()
        .layer(BufferedRetryLayer::new(
            retrier,
            tonic::body::Body::new::<http_body_util::Full<bytes::Bytes>>,
        ))
        .service(channel);
    let mut client = HealthClient::new(channel);
    match client.check(HealthCheckRequest { service }).await {
        Ok(answer) => {
            println!("status: {:?}", answer.get_ref().status());
            if let Some(summary) = answer.extensions().get::<RetrySummary>() {
                for a in &summary.attempts {
                    println!("attempt {}: {}", a.number, a.outcome);
                }
            }
        }
        Err(status) => println!("failed: {status}"),
    }
    Ok(())
}
