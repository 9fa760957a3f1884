//! Loopback servers for the integration tests: real hyper over real sockets.
//!
//! A [`Server`] answers from a script of [`Reply`]s (the last one repeats) and
//! records every request it saw. [`refusing_addr`] gives an address that
//! refuses connections. Nothing here sleeps to wait for readiness: the
//! listener is bound before the address is handed out.

#![allow(dead_code)] // not every test uses every helper

pub mod client;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// What the server does with one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Answer with a status, headers and a body.
    Answer {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
    },
    /// Read the request, then close the connection without answering.
    Reset,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply::Answer {
            status,
            headers: vec![],
            body: String::new(),
        }
    }

    pub fn ok(body: &str) -> Reply {
        Reply::status(200).body(body)
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        if let Reply::Answer { headers, .. } = &mut self {
            headers.push((name, value.into()));
        }
        self
    }

    pub fn body(mut self, text: &str) -> Reply {
        if let Reply::Answer { body, .. } = &mut self {
            *body = text.to_owned();
        }
        self
    }

    /// A 503 with `Retry-After: secs`, a request id and a Levee problem body.
    pub fn unavailable(secs: u64, request_id: &str) -> Reply {
        Reply::status(503)
            .header("retry-after", secs.to_string())
            .header("x-request-id", request_id)
            .header("content-type", "application/problem+json")
            .body(&format!(
                r#"{{"type":"https://gw.example/_levee/problems/overloaded","title":"Service overloaded","status":503,"request_id":"{request_id}","reason":"overloaded","blame":"gateway","retryable":true,"retry_after":{secs}}}"#
            ))
    }
}

/// A request the server saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A scripted loopback HTTP/1.1 server.
pub struct Server {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    /// Starts a server that answers with `script` in order, repeating the last.
    pub async fn start(script: Vec<Reply>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let seen2 = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let seen = seen2.clone();
                let script = script.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<Incoming>| {
                        let seen = seen.clone();
                        let script = script.clone();
                        async move { answer(req, &seen, &script).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Server { addr, seen }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    pub fn hits(&self) -> usize {
        self.seen.lock().expect("lock").len()
    }
}

async fn answer(
    req: Request<Incoming>,
    seen: &Mutex<Vec<Seen>>,
    script: &Mutex<VecDeque<Reply>>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    seen.lock().expect("lock").push(Seen {
        method: parts.method.clone(),
        path: parts
            .uri
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        headers: parts.headers.clone(),
        body,
    });
    let reply = {
        let mut script = script.lock().expect("lock");
        if script.len() > 1 {
            script.pop_front().expect("non-empty")
        } else {
            script.front().cloned().unwrap_or(Reply::status(200))
        }
    };
    match reply {
        Reply::Reset => Err(std::io::Error::other("scripted reset")),
        Reply::Answer {
            status,
            headers,
            body,
        } => {
            let mut resp = Response::new(Full::new(Bytes::from(body)));
            *resp.status_mut() = StatusCode::from_u16(status).expect("status");
            for (name, value) in headers {
                resp.headers_mut()
                    .append(name, value.parse().expect("header value"));
            }
            Ok(resp)
        }
    }
}

/// An address on loopback where nothing listens: bind, then drop.
pub async fn refusing_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("addr")
}
