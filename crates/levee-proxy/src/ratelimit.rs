//! Per-tenant rate limits: GCRA state per tenant, and the `RateLimit` fields.
//!
//! A route with `rate_limit = { quota, period, burst }` gives every tenant
//! `quota` requests per `period`, and lets a tenant that has been quiet send
//! `quota + burst` at once. Over its rate a tenant gets `429 rate-limited`
//! (not 503: the service is fine, the tenant is over *its* allowance), with
//! `Retry-After` and the fields of draft-ietf-httpapi-ratelimit-headers-10:
//!
//! ```text
//! RateLimit-Policy: "default";q=100;w=1
//! RateLimit: "default";r=0;t=3
//! ```
//!
//! The check runs before admission, so a tenant over its own rate never takes
//! a slot of the concurrency limit.
//!
//! State: one theoretical arrival time (TAT) per tenant in a map behind one
//! short mutex per route. The map is bounded: when it is full, entries whose
//! TAT has passed (idle tenants, whose allowance is full again, the same as
//! never seen) are swept, at most once per sweep interval; if it is still
//! full, a new tenant is let through untracked (counted in a metric) rather
//! than evicting a tenant that is still spending its allowance.
//!
//! This module must not know where a tenant key comes from (see
//! [`crate::tenant`]) or build responses (see [`crate::rescue`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::HeaderValue;
use levee_policy::gcra::{Decision, Gcra, GcraConfig};
use prometheus_client::metrics::counter::Counter;

use crate::tenant::TenantKey;

/// Most tenants tracked per route by default.
pub const DEFAULT_MAX_TENANTS: usize = 100_000;

/// Shortest time between two sweeps of a full map.
const SWEEP_INTERVAL: Duration = Duration::from_millis(100);

/// A route's rate-limit settings (validated by the control plane).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSpec {
    /// Requests per `period`, sustained. At least 1.
    pub quota: u32,
    /// The period of the quota: whole seconds, at least 1 s (the `w` of
    /// `RateLimit-Policy` is in seconds).
    pub period: Duration,
    /// Requests a quiet tenant may send at once beyond `quota` (default 0).
    pub burst: u32,
}

impl RateLimitSpec {
    /// `quota` requests a second with no burst: the defaults.
    pub fn new(quota: u32) -> RateLimitSpec {
        RateLimitSpec {
            quota,
            period: Duration::from_secs(1),
            burst: 0,
        }
    }

    /// The GCRA settings: a full allowance is `quota + burst` requests.
    pub fn gcra(&self) -> GcraConfig {
        GcraConfig {
            quota: self.quota,
            period: self.period,
            burst: self.quota.saturating_add(self.burst),
        }
    }
}

/// The outcome of [`RateLimiter::check`].
#[derive(Debug, Clone)]
pub enum RateDecision {
    /// Go on; `RateLimit` for the response.
    Allow {
        /// The `RateLimit` field value.
        limit: HeaderValue,
    },
    /// Answer 429.
    Deny(RateLimited),
}

/// A tenant over its rate: what the 429 needs.
#[derive(Debug, Clone)]
pub struct RateLimited {
    /// When its next request will be allowed.
    pub retry_after: Duration,
    /// The `RateLimit-Policy` field value.
    pub policy: HeaderValue,
    /// The `RateLimit` field value (`r=0`).
    pub limit: HeaderValue,
}

struct Table {
    tats: HashMap<TenantKey, Instant>,
    next_sweep: Option<Instant>,
}

/// One route's per-tenant rate limiter.
pub struct RateLimiter {
    spec: RateLimitSpec,
    gcra: Gcra,
    policy: HeaderValue,
    max_tenants: usize,
    table: Mutex<Table>,
    limited: Counter,
    untracked: Counter,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("spec", &self.spec)
            .finish()
    }
}

/// Whole seconds, rounded up (a field that says 0 would invite a retry now).
fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// `"default";r=R;t=T`.
fn limit_field(remaining: u32, reset: Duration) -> HeaderValue {
    HeaderValue::try_from(format!("\"default\";r={remaining};t={}", ceil_secs(reset)))
        .expect("digits and quotes are a valid header value")
}

impl RateLimiter {
    /// A limiter for `spec`, counting denials in `limited` and tenants let
    /// through untracked (a full table) in `untracked`.
    pub fn new(
        spec: RateLimitSpec,
        max_tenants: usize,
        metrics: RateLimitMetrics,
    ) -> Result<RateLimiter, levee_policy::ConfigError> {
        let gcra = Gcra::new(spec.gcra())?;
        let policy = HeaderValue::try_from(format!(
            "\"default\";q={};w={}",
            spec.quota,
            ceil_secs(spec.period).max(1)
        ))
        .expect("digits and quotes are a valid header value");
        Ok(RateLimiter {
            spec,
            gcra,
            policy,
            max_tenants: max_tenants.max(1),
            table: Mutex::new(Table {
                tats: HashMap::new(),
                next_sweep: None,
            }),
            limited: metrics.limited,
            untracked: metrics.untracked,
        })
    }

    /// The settings.
    pub fn spec(&self) -> &RateLimitSpec {
        &self.spec
    }

    /// The `RateLimit-Policy` field value.
    pub fn policy(&self) -> &HeaderValue {
        &self.policy
    }

    /// Tenants currently tracked.
    pub fn tenants(&self) -> usize {
        self.lock().tats.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // Each update is one insert or remove: nothing to leave half-done.
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Spends one request of `tenant`'s allowance at `now`, or says when it may come back.
    pub fn check(&self, tenant: TenantKey, now: Instant) -> RateDecision {
        let mut t = self.lock();
        let decision = self.gcra.check(t.tats.get(&tenant).copied(), now);
        match decision {
            Decision::Allow {
                new_tat,
                remaining,
                reset,
            } => {
                if t.tats.len() >= self.max_tenants && !t.tats.contains_key(&tenant) {
                    self.sweep(&mut t, now);
                }
                if t.tats.len() < self.max_tenants || t.tats.contains_key(&tenant) {
                    t.tats.insert(tenant, new_tat);
                } else {
                    self.untracked.inc();
                }
                drop(t);
                RateDecision::Allow {
                    limit: limit_field(remaining, reset),
                }
            }
            Decision::Deny { retry_after, reset } => {
                drop(t);
                self.limited.inc();
                RateDecision::Deny(RateLimited {
                    retry_after,
                    policy: self.policy.clone(),
                    limit: limit_field(0, reset),
                })
            }
        }
    }

    /// Drops idle tenants (TAT passed: a full allowance, as if never seen).
    fn sweep(&self, t: &mut Table, now: Instant) {
        if t.next_sweep.is_some_and(|next| now < next) {
            return;
        }
        t.next_sweep = Some(now + SWEEP_INTERVAL);
        t.tats.retain(|_, tat| *tat > now);
    }
}

/// One route's rate-limit metric handles, created when the snapshot is built.
#[derive(Debug, Clone, Default)]
pub struct RateLimitMetrics {
    /// Requests answered 429.
    pub(crate) limited: Counter,
    /// Requests let through untracked because the tenant table was full.
    pub(crate) untracked: Counter,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::disallowed_methods)]
    fn t0() -> Instant {
        Instant::now()
    }

    fn limiter(quota: u32, burst: u32, max: usize) -> RateLimiter {
        RateLimiter::new(
            RateLimitSpec {
                quota,
                period: Duration::from_secs(1),
                burst,
            },
            max,
            RateLimitMetrics::default(),
        )
        .expect("valid test spec")
    }

    #[test]
    fn quota_then_429_with_the_draft_fields_per_tenant() {
        let l = limiter(5, 0, 16);
        let now = t0();
        assert_eq!(l.policy(), "\"default\";q=5;w=1");
        for r in (0..5).rev() {
            match l.check(1, now) {
                RateDecision::Allow { limit } => {
                    assert!(
                        limit
                            .to_str()
                            .expect("ascii")
                            .starts_with(&format!("\"default\";r={r};"))
                    );
                }
                RateDecision::Deny(_) => panic!("within the quota"),
            }
        }
        let RateDecision::Deny(d) = l.check(1, now) else {
            panic!("the 6th is over the rate")
        };
        assert_eq!(d.retry_after, Duration::from_millis(200));
        assert_eq!(d.limit, "\"default\";r=0;t=1");
        assert!(matches!(l.check(2, now), RateDecision::Allow { .. }));
        assert_eq!(l.limited.get(), 1);
    }

    #[test]
    fn the_table_is_bounded_and_idle_tenants_are_swept() {
        let l = limiter(1, 0, 2);
        let now = t0();
        assert!(matches!(l.check(1, now), RateDecision::Allow { .. }));
        assert!(matches!(l.check(2, now), RateDecision::Allow { .. }));
        // Full of busy tenants: a third goes through untracked.
        assert!(matches!(l.check(3, now), RateDecision::Allow { .. }));
        assert_eq!((l.tenants(), l.untracked.get()), (2, 1));
        // Two seconds later both are idle again and are swept for the newcomer.
        let later = now + Duration::from_secs(2);
        assert!(matches!(l.check(3, later), RateDecision::Allow { .. }));
        assert_eq!(l.tenants(), 1);
    }
}
