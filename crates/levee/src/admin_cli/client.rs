//! The HTTP half of the admin CLI: where the admin API is (`--admin`), and
//! one HTTP/1.1 exchange with it per call, over a fresh TCP connection.
//!
//! A call answers the API's 2xx as an [`Answer`]; anything else becomes a
//! [`Failure`] that says whose problem it is (the API refused, or could not
//! be reached). This module must not decide what to print: the commands do.

use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST, USER_AGENT};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::failure::{Failure, Refusal};

/// How long connecting to the admin listener may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a whole exchange may take once connected.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the admin API is: `host:port` and an optional base path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// `host:port`, to connect to and to send as `Host`.
    authority: String,
    /// A path prefix without a trailing `/` (empty for the root).
    base: String,
}

impl Target {
    /// Reads `--admin`: `host:port` or `http://host:port`, optionally with a
    /// base path (`http://gw:9901/levee`).
    pub(crate) fn parse(text: &str) -> Result<Target, String> {
        let s = text.trim();
        let rest = match s.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) => {
                return Err(format!(
                    "--admin {s:?}: the admin API speaks plain http, not {scheme} (it listens on 127.0.0.1 by default)"
                ));
            }
            None => s,
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let parsed: http::uri::Authority = authority.parse().map_err(|_| {
            format!("--admin {s:?} is not an address: give host:port, e.g. 127.0.0.1:9901")
        })?;
        if parsed.host().is_empty() || parsed.port_u16().is_none() || authority.contains('@') {
            return Err(format!(
                "--admin {s:?} needs a host and a port, e.g. 127.0.0.1:9901"
            ));
        }
        if path.contains(['?', '#']) {
            return Err(format!("--admin {s:?}: give an address, without a query"));
        }
        Ok(Target {
            authority: authority.to_owned(),
            base: path.trim_end_matches('/').to_owned(),
        })
    }

    /// The address as the user should see it in messages: `host:port` plus
    /// the base path.
    pub(crate) fn shown(&self) -> String {
        format!("{}{}", self.authority, self.base)
    }
}

/// A 2xx answer of the API.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    /// Its status (200, 201, 204).
    pub(crate) status: StatusCode,
    /// Its body, as sent.
    pub(crate) body: Bytes,
}

impl Answer {
    /// The body as JSON.
    pub(crate) fn json(&self) -> Result<serde_json::Value, Failure> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Failure::Unexpected(format!(
                "the admin API answered {} with a body that is not JSON: {e}",
                self.status
            ))
        })
    }

    /// The body as `T`.
    pub(crate) fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, Failure> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Failure::Unexpected(format!(
                "the admin API's answer is not what this levee expects ({e}); is the gateway the same version?"
            ))
        })
    }
}

/// The admin API: its address and the token to send.
#[derive(Debug, Clone)]
pub(crate) struct AdminClient {
    target: Target,
    token: Option<String>,
}

impl AdminClient {
    /// A client of the API at `target`, sending `token` as a bearer token.
    pub(crate) fn new(target: Target, token: Option<String>) -> AdminClient {
        AdminClient { target, token }
    }

    /// `GET path`.
    pub(crate) async fn get(&self, path: &str) -> Result<Answer, Failure> {
        self.call(Method::GET, path, None).await
    }

    /// `method path` with an optional JSON body; a non-2xx answer is a
    /// [`Failure::Refused`].
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, Failure> {
        let unreachable = |cause: String| Failure::Unreachable {
            addr: self.target.shown(),
            cause,
        };
        let stream = match tokio::time::timeout(
            CONNECT_TIMEOUT,
            TcpStream::connect(self.target.authority.as_str()),
        )
        .await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(unreachable(e.to_string())),
            Err(_) => {
                return Err(unreachable(format!(
                    "no connection within {} s",
                    CONNECT_TIMEOUT.as_secs()
                )));
            }
        };
        let request = self.request(method, path, body)?;
        match tokio::time::timeout(EXCHANGE_TIMEOUT, exchange(stream, request)).await {
            Ok(Ok((status, body))) if status.is_success() => Ok(Answer { status, body }),
            Ok(Ok((status, body))) => Err(Failure::Refused(Refusal {
                status,
                body,
                token_sent: self.token.is_some(),
            })),
            Ok(Err(e)) => Err(unreachable(e)),
            Err(_) => Err(unreachable(format!(
                "no answer within {} s",
                EXCHANGE_TIMEOUT.as_secs()
            ))),
        }
    }

    /// The request for `method path`, with the token and a JSON body.
    fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Request<Full<Bytes>>, Failure> {
        let mut b = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.target.base))
            .header(HOST, &self.target.authority)
            .header(USER_AGENT, concat!("levee/", env!("CARGO_PKG_VERSION")))
            .header(ACCEPT, "application/json, application/problem+json");
        if let Some(token) = &self.token {
            b = b.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        let bytes = match body {
            Some(v) => {
                b = b.header(CONTENT_TYPE, "application/json");
                Bytes::from(v.to_string())
            }
            None => Bytes::new(),
        };
        // The parts are our own, except the token, whose characters we do
        // not print: a bad one is reported without its value.
        b.body(Full::new(bytes)).map_err(|_| {
            Failure::Usage(
                "the admin token or an argument holds characters that cannot go in an HTTP request"
                    .to_owned(),
            )
        })
    }
}

/// Sends `request` on `stream` and reads the whole answer.
async fn exchange(
    stream: TcpStream,
    request: Request<Full<Bytes>>,
) -> Result<(StatusCode, Bytes), String> {
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    let driver = tokio::spawn(conn);
    let result = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("the answer broke off: {e}"))?
            .to_bytes();
        Ok((status, body))
    }
    .await;
    driver.abort();
    result
}

/// `text` as one path segment: everything but unreserved characters and
/// `:` / `@` (so `127.0.0.1:8081` and `config:nightly` read as typed) is
/// percent-encoded.
pub(crate) fn segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, SEGMENT).to_string()
}

/// What [`segment`] escapes: everything but RFC 3986 unreserved characters
/// and `:` / `@`.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':')
    .remove(b'@');

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_addresses_in_both_spellings() {
        let plain = Target::parse("127.0.0.1:9901").expect("host:port");
        assert_eq!(plain.shown(), "127.0.0.1:9901");
        assert_eq!(Target::parse("http://127.0.0.1:9901/").expect("url"), plain);
        let based = Target::parse("HTTP://gw.internal:9901/levee/").expect("base path");
        assert_eq!(based.shown(), "gw.internal:9901/levee");
        assert_eq!(
            Target::parse("[::1]:9901").expect("ipv6").shown(),
            "[::1]:9901"
        );
    }

    #[test]
    fn bad_admin_addresses_say_what_to_give() {
        for bad in [
            "",
            "localhost",
            "http://localhost",
            "https://127.0.0.1:9901",
            "a b:1",
            "u@h:1",
            "h:1/?q",
        ] {
            let e = Target::parse(bad).expect_err(bad);
            assert!(e.contains("--admin"), "{bad}: {e}");
        }
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(segment("127.0.0.1:8081"), "127.0.0.1:8081");
        assert_eq!(segment("w_01JD2M6Q"), "w_01JD2M6Q");
        assert_eq!(segment("[::1]:80"), "%5B::1%5D:80");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let client = AdminClient::new(Target::parse(&addr.to_string()).expect("target"), None);
        match client.get("/v1/windows").await {
            Err(Failure::Unreachable { addr: shown, .. }) => assert_eq!(shown, addr.to_string()),
            other => panic!("expected unreachable, got {other:?}"),
        }
    }
}
