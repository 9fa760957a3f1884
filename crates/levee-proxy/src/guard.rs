//! The guards between a route and its upstream, in order: a maintenance
//! window in force (`503 maintenance`), the tenant's own rate (`429`), a small
//! body read whole (so that a slow client never holds an admission slot while
//! it uploads: `408`/`413` here), and admission (forward, wait, or `503
//! overloaded`). A request that passes
//! carries its admission [`Permit`], the rate-limit fields its response will
//! carry, and its caller's deadline.
//!
//! This module must not forward anything or render answers.

use http::Request;
use http::header::HeaderValue;
use tokio::time::Instant;

use crate::admission::{Permit, Priority};
use crate::body::RequestBody;
use crate::context::RequestCx;
use crate::control::ControlHandle;
use crate::error::ProxyError;
use crate::ratelimit::RateDecision;
use crate::route::Route;
use crate::runtime::Settings;

/// The longest `Retry-After` a maintenance answer gives: a window that ends
/// further away (an `ends_at` in year 9999) is re-checked weekly rather than
/// told a number of seconds no client can use.
pub(crate) const MAINTENANCE_RETRY_CAP: std::time::Duration =
    std::time::Duration::from_secs(7 * 86_400);

/// A request that passed the guards.
#[derive(Debug)]
pub(crate) struct Pass {
    /// Its admission slot, on a route with admission.
    pub(crate) permit: Option<Permit>,
    /// `RateLimit-Policy` and `RateLimit` for its response, on a route with
    /// a rate limit.
    pub(crate) rate_fields: Option<(HeaderValue, HeaderValue)>,
    /// When its caller gives up, if it said.
    pub(crate) deadline: Option<Instant>,
    /// The route's pools a maintenance window closes for this request (bit
    /// `i` of [`Route::pools`]); the route's first open pool takes it.
    pub(crate) closed: u16,
}

/// Runs the guards for `req` on `route`.
pub(crate) async fn guard(
    req: &mut Request<RequestBody>,
    route: &Route,
    cx: &RequestCx,
    settings: &Settings,
    control: &ControlHandle,
) -> Result<Pass, ProxyError> {
    // Maintenance: a window in force that covers this route, unless the
    // request bypasses it. The state is read here, not held across awaits.
    let closed = maintenance(req, route, cx, settings, control)?;
    strip_bypass_tokens(req, control);
    // The caller's deadline, if it told us one (grpc-timeout or the ms header).
    let deadline = crate::deadline::budget(req.headers(), &settings.deadline_header)
        .and_then(|b| cx.start.checked_add(b));
    // Whose request: the unit of fairness and of rate limits (hashed).
    let tenant = route
        .spec
        .tenant
        .as_ref()
        .map(|src| src.key(req.headers(), cx.peer.client.ip()));
    // A tenant over its own rate gets 429 before admission: it never takes a slot.
    let rate_fields = match (&route.rate_limit, tenant) {
        (Some(limiter), Some(t)) => match limiter.check(t, Instant::now().into_std()) {
            RateDecision::Allow { limit } => Some((limiter.policy().clone(), limit)),
            RateDecision::Deny(denied) => return Err(ProxyError::RateLimited(denied)),
        },
        _ => None,
    };
    // A small body is read whole now, before admission: a client that
    // trickles it holds no upstream slot meanwhile.
    buffer_small_body(req, route).await?;
    // A caller that has already given up gets its answer now; the service
    // never sees work nobody waits for.
    if deadline.is_some_and(|d| Instant::now() >= d) {
        return Err(ProxyError::DeadlineExpired);
    }
    // Admission: forward now, wait briefly, or shed without touching the upstream.
    let permit = match &route.admission {
        Some(admission) => {
            let request = crate::admission::Request {
                method: req.method(),
                path: req.uri().path(),
                priority: priority(req, route, settings, cx),
                deadline,
                tenant,
            };
            let permit =
                admission
                    .acquire(request)
                    .await
                    .map_err(|shed| ProxyError::Overloaded {
                        cause: shed.cause,
                        retry_in: shed.retry_after,
                    })?;
            Some(permit)
        }
        None => None,
    };
    Ok(Pass {
        permit,
        rate_fields,
        deadline,
        closed,
    })
}

/// Reads the body whole when it declares a length within the route's
/// `buffer_up_to`, within the route's size limit and the client's deadlines.
async fn buffer_small_body(
    req: &mut Request<RequestBody>,
    route: &Route,
) -> Result<(), ProxyError> {
    let policy = route.spec.body;
    let declared = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let Some(len) = declared.filter(|n| *n > 0 && *n <= policy.buffer_up_to) else {
        return Ok(());
    };
    if policy.max_size.is_some_and(|max| len > max) {
        return Ok(()); // refused with 413 when forwarding, unread
    }
    let body = std::mem::replace(req.body_mut(), RequestBody::Buffered(bytes::Bytes::new()));
    let RequestBody::Streamed(incoming) = body else {
        *req.body_mut() = body;
        return Ok(());
    };
    match crate::body::read_whole(incoming, policy).await {
        Ok(bytes) => {
            *req.body_mut() = RequestBody::Buffered(bytes);
            Ok(())
        }
        Err(e) => Err(client_body_error(&*e, policy)),
    }
}

/// The answer for a body that could not be read whole.
fn client_body_error(
    e: &(dyn std::error::Error + Send + Sync + 'static),
    policy: crate::body::BodyPolicy,
) -> ProxyError {
    if let Some(c) = e.downcast_ref::<crate::body::ClientBodyError>() {
        return ProxyError::ClientBody {
            cause: c.to_string(),
            timeout: c.is_timeout(),
        };
    }
    if e.downcast_ref::<crate::body::BodyTooLarge>().is_some() {
        return ProxyError::BodyTooLarge {
            limit: policy.max_size.unwrap_or(u64::MAX),
        };
    }
    ProxyError::ClientBody {
        cause: e.to_string(),
        timeout: false,
    }
}

/// Removes every maintenance bypass header from a request that goes on: a
/// bypass token is for the gateway, and the upstream (or its logs) must not
/// learn it.
fn strip_bypass_tokens<B>(req: &mut Request<B>, control: &ControlHandle) {
    let control = control.load();
    for w in control.windows.iter() {
        if w.bypass.token_sha256.is_some() {
            req.headers_mut().remove(&w.bypass.header);
        }
    }
}

/// The route's pools a maintenance window in force closes for this request
/// (it does not bypass the window), as a bit per pool of [`Route::pools`];
/// the `maintenance` error when every one of them is closed. Reads the clock
/// only when some window exists.
fn maintenance<B>(
    req: &Request<B>,
    route: &Route,
    cx: &RequestCx,
    settings: &Settings,
    control: &ControlHandle,
) -> Result<u16, ProxyError> {
    let control = control.load();
    if control.windows.is_empty() {
        return Ok(0);
    }
    let now = std::time::SystemTime::now();
    let mut closed = 0u16;
    let mut open = false;
    let mut first = None;
    for (i, pool) in route.pools().enumerate() {
        match control.blocking_window(
            &route.name,
            &pool.name,
            req.headers(),
            cx.peer.client.ip(),
            now,
        ) {
            Some(window) => {
                closed |= 1 << i;
                first.get_or_insert(window);
            }
            None => open = true,
        }
    }
    let Some(window) = first.filter(|_| !open) else {
        return Ok(closed);
    };
    let retry_in = window
        .ends_at
        .map_or(settings.maintenance_open_ended_retry_after, |end| {
            end.duration_since(now).unwrap_or_default()
        })
        .min(MAINTENANCE_RETRY_CAP);
    Err(ProxyError::Maintenance {
        window: window.clone(),
        retry_in,
    })
}

/// The request's priority: its priority header when the client is in a
/// trusted network and the value is valid, else the route's.
fn priority<B>(req: &Request<B>, route: &Route, settings: &Settings, cx: &RequestCx) -> Priority {
    let trusted = || settings.is_trusted(cx.peer.client.ip());
    req.headers()
        .get(&settings.priority_header)
        .and_then(|v| v.to_str().ok())
        .and_then(Priority::parse)
        .filter(|_| trusted())
        .unwrap_or(route.spec.priority)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::control::{Bypass, ControlState, Scope, Window};
    use crate::metrics::Metrics;
    use crate::pool::{Pool, PoolSpec};
    use crate::ratelimit::RateLimitSpec;
    use crate::route::RouteSpec;
    use crate::tenant::TenantSource;

    fn route(rate_limit: bool) -> Route {
        let metrics = Metrics::new();
        let pool = Pool::new(PoolSpec::new(
            "pool",
            vec!["127.0.0.1:9".parse().expect("addr")],
        ))
        .expect("pool");
        let spec = RouteSpec {
            admission: None,
            priority: Priority::Sheddable,
            tenant: rate_limit.then_some(TenantSource::ClientIp),
            rate_limit: rate_limit.then_some(RateLimitSpec {
                quota: 1,
                period: Duration::from_secs(60),
                burst: 0,
            }),
            ..RouteSpec::catch_all("r", "pool")
        };
        Route::build(spec, Arc::new(pool), &metrics, None).expect("valid route")
    }

    fn cx(client: &str) -> RequestCx {
        let peer = crate::conn::Peer {
            client: client.parse().expect("addr"),
            local: "127.0.0.1:80".parse().expect("addr"),
            tls: false,
        };
        let req = Request::get("/").body(()).expect("request");
        RequestCx::new(&req, peer, &Settings::default())
    }

    fn get(headers: &[(&str, &str)]) -> Request<RequestBody> {
        let mut b = Request::get("/x");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(RequestBody::Buffered(bytes::Bytes::new()))
            .expect("request")
    }

    #[tokio::test]
    async fn a_window_in_force_refuses_unless_bypassed() {
        let control = ControlHandle::new();
        let now = SystemTime::now();
        control.publish(ControlState {
            windows: vec![Arc::new(Window {
                id: Arc::from("w_1"),
                scope: Scope::Route(Arc::from("r")),
                starts_at: now - Duration::from_secs(10),
                ends_at: Some(now + Duration::from_secs(60)),
                message: Arc::from("upgrade"),
                bypass: Bypass {
                    header: http::HeaderName::from_static("x-levee-bypass"),
                    token_sha256: None,
                    networks: vec![crate::cidr::Cidr::parse("10.0.0.0/8").expect("cidr")],
                },
            })],
            drained: Vec::new(),
        });
        let settings = Settings::default();
        let r = route(false);
        let refused = guard(&mut get(&[]), &r, &cx("192.0.2.1:1"), &settings, &control).await;
        match refused {
            Err(ProxyError::Maintenance { retry_in, .. }) => {
                assert!((59..=60).contains(&retry_in.as_secs()), "{retry_in:?}");
            }
            other => panic!("{other:?}"),
        }
        let bypassed = guard(&mut get(&[]), &r, &cx("10.1.2.3:1"), &settings, &control).await;
        assert!(bypassed.is_ok(), "a bypass network goes through");
    }

    #[tokio::test]
    async fn a_tenant_over_its_rate_is_429_and_the_fields_ride_along() {
        let control = ControlHandle::new();
        let settings = Settings::default();
        let r = route(true);
        let pass = guard(&mut get(&[]), &r, &cx("192.0.2.1:1"), &settings, &control)
            .await
            .expect("the first passes");
        let (policy, _) = pass.rate_fields.expect("fields");
        assert_eq!(policy, "\"default\";q=1;w=60");
        let denied = guard(&mut get(&[]), &r, &cx("192.0.2.1:1"), &settings, &control).await;
        assert!(matches!(denied, Err(ProxyError::RateLimited(_))));
        let other = guard(&mut get(&[]), &r, &cx("192.0.2.2:1"), &settings, &control).await;
        assert!(other.is_ok(), "another tenant has its own rate");
    }

    #[test]
    fn only_trusted_clients_choose_their_priority() {
        let settings = Settings::default();
        let r = route(false);
        let asks = get(&[("x-priority", "critical")]);
        assert_eq!(
            priority(&asks, &r, &settings, &cx("127.0.0.1:1")),
            Priority::Critical
        );
        assert_eq!(
            priority(&asks, &r, &settings, &cx("192.0.2.1:1")),
            Priority::Sheddable,
            "an untrusted client gets the route's"
        );
        let nonsense = get(&[("x-priority", "urgent")]);
        assert_eq!(
            priority(&nonsense, &r, &settings, &cx("127.0.0.1:1")),
            Priority::Sheddable
        );
    }

    #[tokio::test]
    async fn the_callers_deadline_is_read_from_its_header() {
        let control = ControlHandle::new();
        let settings = Settings::default();
        let r = route(false);
        let cx = cx("192.0.2.1:1");
        let pass = guard(
            &mut get(&[("x-request-timeout-ms", "250")]),
            &r,
            &cx,
            &settings,
            &control,
        )
        .await
        .expect("passes");
        assert_eq!(pass.deadline, Some(cx.start + Duration::from_millis(250)));
    }
}
