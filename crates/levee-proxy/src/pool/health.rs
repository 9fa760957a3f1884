//! Active health checks, run beside the data path (never per request).
//!
//! A pool with a health check ([`HealthCheck`]) has each endpoint checked
//! every `interval` (±10 % jitter, so a fleet of gateways does not check in
//! step): an HTTP request whose status must be in `expect` (over the pool's
//! own client, so over TLS for an `https://` pool), or a connect (with the
//! TLS handshake, for an `https://` pool: an endpoint whose certificate
//! fails is not healthy). `unhealthy_threshold` failures in a row make the endpoint
//! unhealthy (no requests), `healthy_threshold` passes make it healthy again
//! (HAProxy's `fall`/`rise`).
//!
//! A pool **without** one still recovers quickly: while an endpoint's
//! breaker is open, it gets a connect (and TLS handshake) every
//! [`RECOVERY_PROBE_EVERY`], and
//! the first that succeeds lets the next request probe it at once. So a
//! single-endpoint service that comes back is used again within about a
//! second, not after the breaker's doubling back-off (up to `open_max`).
//!
//! [`run`] owns the checks of one configuration snapshot; the gateway
//! aborts it when a reload replaces the pools. This module must not decide
//! routes or answer requests.

use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, Uri};
use tokio::task::JoinSet;

use super::{Endpoint, Pool};
use crate::body::UpstreamBody;

/// How often an ejected endpoint of a pool without a health check gets a
/// connect probe.
pub const RECOVERY_PROBE_EVERY: Duration = Duration::from_secs(1);

/// A pool's active health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    /// What a check does.
    pub kind: CheckKind,
    /// Time between two checks of an endpoint (default 1 s).
    pub interval: Duration,
    /// Time a check may take (default 1 s).
    pub timeout: Duration,
    /// Passes in a row that make an unhealthy endpoint healthy (default 1).
    pub healthy_threshold: u32,
    /// Failures in a row that make an endpoint unhealthy (default 2).
    pub unhealthy_threshold: u32,
}

/// What a health check does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckKind {
    /// An HTTP request (over the pool's protocol).
    Http {
        /// `GET` (default) or `HEAD`.
        method: Method,
        /// The path and query asked for (default `/`).
        path: String,
        /// The `Host` (`:authority`) sent; default the endpoint's.
        host: Option<String>,
        /// Statuses that pass, as inclusive ranges (default 200–399).
        expect: Vec<(u16, u16)>,
    },
    /// A connect, and the TLS handshake for an `https://` pool.
    Tcp,
    /// The gRPC health protocol (`grpc.health.v1.Health/Check`): passes
    /// when the server answers `SERVING` for `service` (empty: the server
    /// as a whole). HTTP/2 pools only.
    Grpc {
        /// The service name asked about.
        service: String,
        /// The `:authority` sent; default the endpoint's.
        host: Option<String>,
    },
}

impl HealthCheck {
    /// An HTTP `GET` of `path` with the defaults.
    pub fn http(path: impl Into<String>) -> HealthCheck {
        HealthCheck {
            kind: CheckKind::Http {
                method: Method::GET,
                path: path.into(),
                host: None,
                expect: vec![(200, 399)],
            },
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            healthy_threshold: 1,
            unhealthy_threshold: 2,
        }
    }
}

/// Checks every endpoint of `pools` until dropped (or aborted).
pub async fn run(pools: Vec<Arc<Pool>>) {
    let mut tasks = JoinSet::new();
    for pool in pools {
        for index in 0..pool.endpoints.len() {
            tasks.spawn(watch(pool.clone(), index));
        }
    }
    while tasks.join_next().await.is_some() {}
}

/// One endpoint's checks, for ever.
async fn watch(pool: Arc<Pool>, index: usize) {
    let Some(endpoint) = pool.endpoints.get(index) else {
        return;
    };
    let every = pool
        .health_check
        .as_ref()
        .map_or(RECOVERY_PROBE_EVERY, |c| c.interval);
    // Spread the first checks over one interval.
    tokio::time::sleep(jittered(every, index)).await;
    let mut round = index;
    loop {
        match &pool.health_check {
            Some(check) => {
                let (passed, why) = check_once(&pool, index, check).await;
                endpoint.checked(
                    passed,
                    why,
                    (check.healthy_threshold, check.unhealthy_threshold),
                );
            }
            None => {
                if endpoint.ejected(tokio::time::Instant::now().into_std())
                    && connects(endpoint, RECOVERY_PROBE_EVERY).await.is_ok()
                {
                    endpoint.answers_again("a connect probe succeeded");
                }
            }
        }
        round = round.wrapping_add(1);
        tokio::time::sleep(jittered(every, round)).await;
    }
}

/// `every` ±10 %, varied by `seed`.
fn jittered(every: Duration, seed: usize) -> Duration {
    let spread = every / 10;
    if spread.is_zero() {
        return every;
    }
    let fraction = (seed.wrapping_mul(2_654_435_761) % 1000) as u32;
    every - spread + spread * 2 * fraction / 1000
}

/// Opens (and closes) a connection to the endpoint as requests open them
/// (TCP, then TLS for an `https://` pool) within `timeout`.
async fn connects(endpoint: &Endpoint, timeout: Duration) -> Result<(), String> {
    use tower_service::Service;
    let mut connector = endpoint.connector.clone();
    match tokio::time::timeout(timeout, connector.call(Uri::default())).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("connect failed: {}", crate::forward::chain(&*e))),
        Err(_) => Err(format!("connect took over {} ms", timeout.as_millis())),
    }
}

/// One check: whether it passed, and what it saw.
async fn check_once(pool: &Pool, index: usize, check: &HealthCheck) -> (bool, String) {
    let endpoint = &pool.endpoints[index];
    match &check.kind {
        CheckKind::Tcp => match connects(endpoint, check.timeout).await {
            Ok(()) if pool.tls => (true, "TLS handshake succeeded".to_owned()),
            Ok(()) => (true, "TCP connect succeeded".to_owned()),
            Err(e) => (false, e),
        },
        CheckKind::Grpc { service, host } => {
            grpc_check(pool, endpoint, check, service, host.as_deref()).await
        }
        CheckKind::Http {
            method,
            path,
            host,
            expect,
        } => {
            let authority = host.as_deref().unwrap_or(endpoint.authority.as_str());
            let uri = Uri::builder()
                .scheme(pool.scheme())
                .authority(authority)
                .path_and_query(path.as_str())
                .build();
            let Ok(uri) = uri else {
                return (
                    false,
                    format!("cannot build a check request for {authority}{path}"),
                );
            };
            let mut req = Request::new(UpstreamBody::empty());
            *req.method_mut() = method.clone();
            *req.uri_mut() = uri;
            *req.version_mut() = pool.version();
            req.headers_mut().insert(
                http::header::USER_AGENT,
                http::HeaderValue::from_static("levee-health-check"),
            );
            let sent = tokio::time::timeout(check.timeout, endpoint.client.request(req)).await;
            match sent {
                Ok(Ok(resp)) => {
                    let status = resp.status().as_u16();
                    let passed = expect.iter().any(|(lo, hi)| (*lo..=*hi).contains(&status));
                    (passed, format!("{method} {path} answered {status}"))
                }
                Ok(Err(e)) => (
                    false,
                    format!("{method} {path} failed: {}", crate::forward::chain(&e)),
                ),
                Err(_) => (
                    false,
                    format!("{method} {path} took over {} ms", check.timeout.as_millis()),
                ),
            }
        }
    }
}

/// The path of the gRPC health protocol's unary check.
const GRPC_HEALTH_CHECK: &str = "/grpc.health.v1.Health/Check";

/// One `grpc.health.v1.Health/Check` call.
async fn grpc_check(
    pool: &Pool,
    endpoint: &super::Endpoint,
    check: &HealthCheck,
    service: &str,
    host: Option<&str>,
) -> (bool, String) {
    use http_body_util::BodyExt;
    let authority = host.unwrap_or(endpoint.authority.as_str());
    let Ok(uri) = Uri::builder()
        .scheme(pool.scheme())
        .authority(authority)
        .path_and_query(GRPC_HEALTH_CHECK)
        .build()
    else {
        return (false, format!("cannot build a gRPC check for {authority}"));
    };
    let body = crate::body::RequestBody::Buffered(grpc_health_request(service).into());
    let mut req = Request::new(UpstreamBody::new(
        body,
        u64::MAX,
        crate::body::BodyRead::default(),
        None,
    ));
    *req.method_mut() = Method::POST;
    *req.uri_mut() = uri;
    *req.version_mut() = http::Version::HTTP_2;
    let h = req.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/grpc"),
    );
    h.insert(http::header::TE, http::HeaderValue::from_static("trailers"));
    h.insert(
        http::header::USER_AGENT,
        http::HeaderValue::from_static("levee-health-check"),
    );
    let call = async {
        let resp = endpoint
            .client
            .request(req)
            .await
            .map_err(|e| format!("gRPC health check failed: {}", crate::forward::chain(&e)))?;
        let status = resp.status();
        let head_grpc = resp.headers().get("grpc-status").cloned();
        let collected = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("gRPC health check broke: {e}"))?;
        let grpc_status = collected
            .trailers()
            .and_then(|t| t.get("grpc-status").cloned())
            .or(head_grpc);
        Ok::<_, String>((status, grpc_status, collected.to_bytes()))
    };
    match tokio::time::timeout(check.timeout, call).await {
        Err(_) => (
            false,
            format!(
                "gRPC health check took over {} ms",
                check.timeout.as_millis()
            ),
        ),
        Ok(Err(e)) => (false, e),
        Ok(Ok((status, grpc_status, body))) => {
            let grpc_status = grpc_status.as_ref().and_then(|v| v.to_str().ok());
            match (status.as_u16(), grpc_status) {
                (200, Some("0")) => match grpc_health_status(&body) {
                    Some(1) => (true, "gRPC health: SERVING".to_owned()),
                    Some(n) => (
                        false,
                        format!(
                            "gRPC health: {}",
                            usize::try_from(n)
                                .ok()
                                .and_then(|i| GRPC_SERVING_STATUS.get(i))
                                .copied()
                                .unwrap_or("an unknown status")
                        ),
                    ),
                    None => (false, "gRPC health: an unreadable answer".to_owned()),
                },
                (200, Some(code)) => (
                    false,
                    format!("gRPC health check answered grpc-status {code}"),
                ),
                (status, _) => (false, format!("gRPC health check answered HTTP {status}")),
            }
        }
    }
}

/// `grpc.health.v1.HealthCheckResponse.ServingStatus` names.
const GRPC_SERVING_STATUS: [&str; 4] = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"];

/// A length-prefixed `HealthCheckRequest { service }` message.
fn grpc_health_request(service: &str) -> Vec<u8> {
    let mut message = Vec::new();
    if !service.is_empty() {
        message.push(0x0a); // field 1, length-delimited
        let mut n = service.len();
        while n >= 0x80 {
            message.push((n & 0x7f) as u8 | 0x80);
            n >>= 7;
        }
        message.push(n as u8);
        message.extend_from_slice(service.as_bytes());
    }
    let mut framed = vec![0u8];
    framed.extend_from_slice(
        &u32::try_from(message.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    framed.extend_from_slice(&message);
    framed
}

/// The `status` of a length-prefixed `HealthCheckResponse`, if readable
/// (an absent field is `UNKNOWN`, 0).
fn grpc_health_status(body: &[u8]) -> Option<u64> {
    let (head, message) = body.split_at_checked(5)?;
    if head[0] != 0 {
        return None; // compressed: not asked for
    }
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    let mut rest = message.get(..len)?;
    let mut status = 0;
    while let Some((&tag, after)) = rest.split_first() {
        let (value, after) = levee_http::grpc::read_varint(after)?;
        match tag & 7 {
            0 if tag == 0x08 => status = value,
            0 => {}
            2 => {
                let skip = usize::try_from(value).ok()?;
                rest = after.get(skip..)?;
                continue;
            }
            _ => return None,
        }
        rest = after;
    }
    Some(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_health_messages() {
        assert_eq!(grpc_health_request(""), [0, 0, 0, 0, 0]);
        assert_eq!(
            grpc_health_request("app"),
            [0, 0, 0, 0, 5, 0x0a, 3, b'a', b'p', b'p']
        );
        assert_eq!(grpc_health_status(&[0, 0, 0, 0, 2, 0x08, 1]), Some(1));
        assert_eq!(grpc_health_status(&[0, 0, 0, 0, 2, 0x08, 2]), Some(2));
        assert_eq!(grpc_health_status(&[0, 0, 0, 0, 0]), Some(0));
        assert_eq!(grpc_health_status(&[0, 0, 0]), None);
        assert_eq!(grpc_health_status(&[1, 0, 0, 0, 2, 0x08, 1]), None);
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let every = Duration::from_secs(1);
        let mut seen = std::collections::HashSet::new();
        for seed in 0..100 {
            let d = jittered(every, seed);
            assert!(
                d >= Duration::from_millis(900) && d <= Duration::from_millis(1100),
                "{d:?}"
            );
            seen.insert(d);
        }
        assert!(seen.len() > 10, "it varies");
    }
}
