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

use crate::admission::{Admission, Priority};
use crate::metrics::RouteMetrics;
use crate::pool::Pool;

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

/// A rule that maps requests to a pool, with its own policies.
#[derive(Debug)]
pub struct Route {
    /// The route's name, used in logs and metrics.
    pub name: Arc<str>,
    /// The host it matches.
    pub host: HostMatch,
    /// The path prefix it matches.
    pub path_prefix: String,
    /// The pool its requests go to.
    pub pool: Arc<Pool>,
    /// The largest request body accepted, in bytes; `None` for no limit.
    pub max_body_size: Option<u64>,
    /// The JSON form of this route's errors.
    pub json_style: JsonStyle,
    /// Pre-registered metric handles, so the hot path does no label lookup.
    pub metrics: RouteMetrics,
    /// Admission control; `None` when the route opted out.
    pub admission: Option<Arc<Admission>>,
    /// The priority of requests that do not carry a trusted priority header.
    pub priority: Priority,
    /// Where the tenant key comes from; `None` for a route without tenants.
    pub tenant: Option<crate::tenant::TenantSource>,
    /// Per-tenant rate limit (requires `tenant`); `None` for none.
    pub rate_limit: Option<Arc<crate::ratelimit::RateLimiter>>,
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
            b.host
                .rank()
                .cmp(&a.host.rank())
                .then(b.path_prefix.len().cmp(&a.path_prefix.len()))
        });
        RouteTable { routes }
    }

    /// The route for a host (without port) and path.
    pub fn find(&self, host: Option<&str>, path: &str) -> Option<&Arc<Route>> {
        self.routes
            .iter()
            .find(|r| r.host.matches(host) && path.starts_with(r.path_prefix.as_str()))
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
