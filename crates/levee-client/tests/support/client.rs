//! The client under test: hyper-util's client behind `RetryLayer`, plus an
//! observer that keeps the narration lines.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use levee_client::tower::{Retry, RetryLayer};
use levee_client::{Error, Event, RetrierBuilder};
use tower::{Service, ServiceExt};

pub type Http = Retry<Client<HttpConnector, Full<Bytes>>>;

/// A retrying client and the narration it produced.
pub struct Harness {
    pub client: Http,
    pub lines: Arc<Mutex<Vec<String>>>,
}

impl Harness {
    /// Builds a client from `builder`, recording retry narration.
    pub fn new(builder: RetrierBuilder) -> Harness {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let retrier = builder
            .observer(move |e: &Event| {
                if matches!(e, Event::Retrying { .. }) {
                    sink.lock().expect("lock").push(e.to_string());
                }
            })
            .build()
            .expect("valid retrier");
        let http = Client::builder(TokioExecutor::new()).build_http();
        Harness {
            client: tower::Layer::layer(&RetryLayer::new(retrier), http),
            lines,
        }
    }

    pub async fn send(
        &mut self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
    ) -> Result<Response<Incoming>, Error> {
        let mut req = Request::builder().method(method).uri(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(Bytes::from_static(b"payload")))
            .expect("request");
        let resp = self.client.ready().await?.call(req).await?;
        levee_client::error_for_status(resp).await
    }

    pub async fn get(&mut self, url: &str) -> Result<Response<Incoming>, Error> {
        self.send(Method::GET, url, &[]).await
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("lock").clone()
    }
}
