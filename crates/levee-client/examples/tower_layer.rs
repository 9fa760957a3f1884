//! levee-client as a tower layer around hyper-util's client.
//!
//! `cargo run -p levee-client --example tower_layer -- URL [FALLBACK_BASE…]`
//!
//! Retries the GET (failing over to the fallback bases), then prints the
//! status, or the diagnosis a person would need.

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use levee_client::tower::RetryLayer;
use levee_client::{Diagnosis, Event, Retrier};
use tower::{Service, ServiceBuilder, ServiceExt};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8080/".to_owned());
    let fallbacks: Vec<String> = args.collect();
    let mut builder = Retrier::builder().observer(|e: &Event| eprintln!("{e}"));
    if !fallbacks.is_empty() {
        let own: http::Uri = url.parse()?;
        let base = format!(
            "{}://{}",
            own.scheme_str().unwrap_or("http"),
            own.authority().map_or("", |a| a.as_str())
        );
        builder = builder.endpoints(std::iter::once(base).chain(fallbacks));
    }
    let http = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut client = ServiceBuilder::new()
        .layer(RetryLayer::new(builder.build()?))
        .service(http);
    let request = http::Request::get(url).body(Full::new(Bytes::new()))?;
    let outcome = match client.ready().await?.call(request).await {
        Ok(resp) => levee_client::error_for_status(resp).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(resp) => println!("{}", resp.status()),
        Err(e) => eprint!("{}", Diagnosis::of(&e)),
    }
    Ok(())
}
