//! The gRPC benchmark's two ends (bench/grpc/run.sh): a tonic server with
//! the standard health service, and a closed-loop load of unary
//! `grpc.health.v1.Health/Check` calls against an address.
//!
//! `grpc_load serve PORT` serves until killed.
//! `grpc_load run ADDR CONCURRENCY SECONDS` makes calls from CONCURRENCY
//! tasks over 4 HTTP/2 connections for SECONDS (after a 1 s warm-up), then
//! prints one JSON line: calls, errors, calls per second, p50 and p99 in
//! microseconds. It stops by itself.

use std::time::Duration;

use tokio::time::Instant;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// Connections the load is spread over.
const CONNECTIONS: usize = 4;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => {
            let port: u16 = args.get(1).ok_or("serve PORT")?.parse()?;
            let (reporter, service) = tonic_health::server::health_reporter();
            reporter
                .set_service_status("", tonic_health::ServingStatus::Serving)
                .await;
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
                .await?;
            Ok(())
        }
        Some("run") => {
            let addr = args.get(1).ok_or("run ADDR CONCURRENCY SECONDS")?.clone();
            let concurrency: usize = args.get(2).ok_or("CONCURRENCY")?.parse()?;
            let seconds: u64 = args.get(3).ok_or("SECONDS")?.parse()?;
            run(
                &addr,
                concurrency.max(1),
                Duration::from_secs(seconds.clamp(1, 600)),
            )
            .await
        }
        _ => Err("usage: grpc_load serve PORT | grpc_load run ADDR CONCURRENCY SECONDS".into()),
    }
}

async fn run(
    addr: &str,
    concurrency: usize,
    length: Duration,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut channels = Vec::new();
    for _ in 0..CONNECTIONS {
        channels.push(
            tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?
                .connect()
                .await?,
        );
    }
    let warm_until = Instant::now() + Duration::from_secs(1);
    let stop = warm_until + length;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..concurrency {
        let mut client = HealthClient::new(channels[i % CONNECTIONS].clone());
        tasks.spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), Vec::new());
            loop {
                let start = Instant::now();
                if start >= stop {
                    break;
                }
                let answer = client
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await;
                if start >= warm_until {
                    match answer {
                        Ok(r) if r.get_ref().status == 1 => {
                            latencies.push(start.elapsed().as_micros() as u64)
                        }
                        Ok(_) => errors.push("NOT_SERVING".to_owned()),
                        Err(s) => errors.push(format!("{:?}: {}", s.code(), s.message())),
                    }
                }
            }
            (latencies, errors)
        });
    }
    let (mut all, mut errors) = (Vec::new(), Vec::new());
    while let Some(done) = tasks.join_next().await {
        let (l, e) = done?;
        all.extend(l);
        errors.extend(e);
    }
    // The first few distinct errors, to stderr: what went wrong, not only how often.
    let mut kinds: Vec<&String> = errors.iter().collect();
    kinds.sort();
    kinds.dedup();
    for k in kinds.iter().take(5) {
        eprintln!("grpc_load: error: {k}");
    }
    let errors = errors.len();
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    println!(
        "{{\"calls\": {}, \"errors\": {errors}, \"rps\": {:.0}, \"p50_us\": {}, \"p99_us\": {}}}",
        all.len(),
        all.len() as f64 / length.as_secs_f64(),
        pct(0.50),
        pct(0.99)
    );
    Ok(())
}
