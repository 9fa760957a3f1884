//! Routes: which pool a request goes to, and that route's own policies.
//!
//! A route matches on the request's host (exact, `*.suffix`, or any) and on a
//! path prefix. The most specific route wins: an exact host before a wildcard
//! host before any host, then the longest path prefix, then the order of the
//! configuration. Prefixes are plain string prefixes, as in nginx `location`
//! and Envoy `prefix` (write `/api/` to exclude `/apix`).
//!
//! This module must not forward anything; it only answers "which route".

use std::sync::Arc;

use levee_http::JsonStyle;

use crate::admission::{Admission, AdmissionSpec, Priority};
use crate::metrics::{Metrics, RouteMetrics};
use crate::pool::Pool;
use crate::ratelimit::{DEFAULT_MAX_TENANTS, RateLimitSpec, RateLimiter};

/// How a route matches the request's host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostMatch {
    /// Every host.
    Any,
    /// This host exactly (lowercase, no port).
    Exact(String),
    /// Any subdomain of this suffix; holds `.example.com` for `*.example.com`.
    Suffix(String),
}

impl HostMatch {
    /// Parses `*`, `*.example.com` or `example.com` (case-insensitive).
    pub fn parse(pattern: &str) -> HostMatch {
        let p = pattern.trim().to_ascii_lowercase();
        if p.is_empty() || p == "*" {
            HostMatch::Any
        } else if let Some(rest) = p.strip_prefix('*') {
            HostMatch::Suffix(rest.to_owned())
        } else {
            HostMatch::Exact(p)
        }
    }

    fn matches(&self, host: Option<&str>) -> bool {
        match (self, host) {
            (HostMatch::Any, _) => true,
            (HostMatch::Exact(h), Some(req)) => h.eq_ignore_ascii_case(req),
            (HostMatch::Suffix(s), Some(req)) => {
                req.len() > s.len()
                    && req.as_bytes()[req.len() - s.len()..].eq_ignore_ascii_case(s.as_bytes())
            }
            _ => false,
        }
    }

    fn rank(&self) -> u8 {
        match self {
            HostMatch::Exact(_) => 2,
            HostMatch::Suffix(_) => 1,
            HostMatch::Any => 0,
        }
    }
}

/// What a route is made of, as the control plane resolves it from the
/// configuration: the match, the pool by name, and the route's policies.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteSpec {
    /// The route's name, used in logs and metrics.
    pub name: String,
    /// The host it matches.
    pub host: HostMatch,
    /// The path prefix it matches.
    pub path_prefix: String,
    /// The pool its requests go to, by name.
    pub pool: String,
    /// Alternate pools, in order, by name: used when every pool before
    /// them has no endpoint to take the request (all down, unhealthy,
    /// drained or in maintenance).
    pub fallback: Vec<String>,
    /// The request body's size limit, buffering and deadlines.
    pub body: crate::body::BodyPolicy,
    /// The JSON form of this route's errors.
    pub json_style: JsonStyle,
    /// Admission control; `None` when the route opted out.
    pub admission: Option<AdmissionSpec>,
    /// The priority of requests that do not carry a trusted priority header.
    pub priority: Priority,
    /// Where the tenant key comes from; `None` for a route without tenants.
    pub tenant: Option<crate::tenant::TenantSource>,
    /// Per-tenant rate limit (requires `tenant`); `None` for none.
    pub rate_limit: Option<RateLimitSpec>,
}

impl RouteSpec {
    /// A catch-all route named `name` to `pool`, with the defaults.
    pub fn catch_all(name: &str, pool: &str) -> RouteSpec {
        RouteSpec {
            name: name.to_owned(),
            host: HostMatch::Any,
            path_prefix: "/".to_owned(),
            pool: pool.to_owned(),
            fallback: Vec::new(),
            body: crate::body::BodyPolicy::default(),
            json_style: JsonStyle::Problem,
            admission: Some(AdmissionSpec::default()),
            priority: Priority::Default,
            tenant: None,
            rate_limit: None,
        }
    }
}

/// A rule that maps requests to a pool, with its own policies: its spec
/// and what was built from it.
#[derive(Debug)]
pub struct Route {
    /// The route's name, used in logs and metrics (shared, cheap to clone).
    pub name: Arc<str>,
    /// What it was built from.
    pub spec: RouteSpec,
    /// The pool its requests go to.
    pub pool: Arc<Pool>,
    /// Its alternate pools, in the order of `spec.fallback`.
    pub fallback: Vec<Arc<Pool>>,
    /// Pre-registered metric handles, so the hot path does no label lookup.
    pub metrics: RouteMetrics,
    /// Admission control; `None` when the route opted out.
    pub admission: Option<Arc<Admission>>,
    /// Per-tenant rate limit (requires a tenant); `None` for none.
    pub rate_limit: Option<Arc<RateLimiter>>,
}

impl Route {
    /// Builds a route to `pool` from `spec`. What carries state across a
    /// reload — the admission controller (its learned limit, its slots in
    /// flight) and the rate limiter (its tenants) — is kept from `previous`
    /// (the route of the same name in the last snapshot) when its settings
    /// did not change, and built anew otherwise.
    pub fn build(
        spec: RouteSpec,
        pool: Arc<Pool>,
        metrics: &Metrics,
        previous: Option<&Route>,
    ) -> Result<Route, String> {
        let name: Arc<str> = Arc::from(spec.name.as_str());
        let admission = keep_or_build(
            spec.admission.as_ref(),
            previous.and_then(|p| p.admission.as_ref()),
            |a, s| a.spec() == s,
            |s| Admission::new(name.clone(), s.clone(), metrics.admission(&spec.name)),
        )
        .map_err(|e| format!("route `{}`: admission: {e}", spec.name))?;
        let rate_limit = keep_or_build(
            spec.rate_limit.as_ref(),
            previous.and_then(|p| p.rate_limit.as_ref()),
            |l, s| l.spec() == s,
            |s| RateLimiter::new(*s, DEFAULT_MAX_TENANTS, metrics.rate_limit(&spec.name)),
        )
        .map_err(|e| format!("route `{}`: rate_limit: {e}", spec.name))?;
        Ok(Route {
            metrics: metrics.route(&spec.name),
            name,
            spec,
            pool,
            fallback: Vec::new(),
            admission,
            rate_limit,
        })
    }
}

impl Route {
    /// The route with its alternate pools (`spec.fallback`, resolved).
    pub fn with_fallback(mut self, fallback: Vec<Arc<Pool>>) -> Route {
        self.fallback = fallback;
        self
    }

    /// Its pools in the order they are tried: the pool, then the fallbacks.
    pub fn pools(&self) -> impl Iterator<Item = &Arc<Pool>> {
        std::iter::once(&self.pool).chain(&self.fallback)
    }
}

/// The one keep-or-rebuild step of a reload: nothing without a spec; the
/// previous value when its spec is the same; else a new one.
fn keep_or_build<S, T, E>(
    spec: Option<&S>,
    previous: Option<&Arc<T>>,
    same: impl Fn(&T, &S) -> bool,
    build: impl FnOnce(&S) -> Result<T, E>,
) -> Result<Option<Arc<T>>, E> {
    let Some(spec) = spec else { return Ok(None) };
    match previous.filter(|p| same(p, spec)) {
        Some(kept) => Ok(Some(kept.clone())),
        None => build(spec).map(|t| Some(Arc::new(t))),
    }
}

/// The routes of one snapshot, sorted most specific first.
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: Vec<Arc<Route>>,
}

impl RouteTable {
    /// Builds the table; the order of `routes` breaks ties.
    pub fn new(mut routes: Vec<Arc<Route>>) -> RouteTable {
        // A stable sort keeps the configuration's order among equals.
        routes.sort_by(|a, b| {
            b.spec
                .host
                .rank()
                .cmp(&a.spec.host.rank())
                .then(b.spec.path_prefix.len().cmp(&a.spec.path_prefix.len()))
        });
        RouteTable { routes }
    }

    /// The route for a host (without port) and path.
    pub fn find(&self, host: Option<&str>, path: &str) -> Option<&Arc<Route>> {
        self.routes
            .iter()
            .find(|r| r.spec.host.matches(host) && path.starts_with(r.spec.path_prefix.as_str()))
    }

    /// Every route, most specific first.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Route>> {
        self.routes.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_patterns() {
        assert!(HostMatch::parse("*").matches(None));
        assert!(HostMatch::parse("API.example.com").matches(Some("api.EXAMPLE.com")));
        let w = HostMatch::parse("*.example.com");
        assert!(w.matches(Some("a.example.com")));
        assert!(!w.matches(Some("example.com")));
        assert!(!w.matches(Some("aexample.com")));
        assert!(!w.matches(None));
    }
}
