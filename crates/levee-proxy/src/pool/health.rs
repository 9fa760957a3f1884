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

#[cfg(test)]
mod tests {
    use super::*;

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
