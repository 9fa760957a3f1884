//! Endpoints and failover: the same request against other base URLs.
//!
//! A service deployed in several regions can be reached through several base
//! URLs. When one fails, the client tries the same path and query against the
//! next ([`Endpoint::url_for`]), in the configured [`FailoverOrder`].
//!
//! This module owns endpoint parsing, URL rewriting and the order in which
//! endpoints are tried. It must not decide whether to retry, nor hold breaker
//! state; the engine passes in what it knows about each endpoint's health.

use std::fmt;

use http::Uri;
use http::uri::{Authority, PathAndQuery, Scheme};

/// A base URL requests can be sent to, e.g. `https://eu.api.example.com/v1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    scheme: Scheme,
    authority: Authority,
    /// The base path without a trailing slash (empty for the root).
    base_path: String,
}

/// A base URL that cannot be an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid endpoint {input:?}: {why}")]
pub struct EndpointError {
    /// The rejected input.
    pub input: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl Endpoint {
    /// Parses an absolute `http` or `https` base URL. A query is not allowed.
    pub fn parse(input: &str) -> Result<Endpoint, EndpointError> {
        let err = |why| EndpointError {
            input: input.to_owned(),
            why,
        };
        let uri: Uri = input.parse().map_err(|_| err("not a URL"))?;
        let scheme = uri.scheme().cloned().ok_or_else(|| err("no scheme"))?;
        if scheme != Scheme::HTTP && scheme != Scheme::HTTPS {
            return Err(err("the scheme must be http or https"));
        }
        let authority = uri.authority().cloned().ok_or_else(|| err("no host"))?;
        if uri.query().is_some() {
            return Err(err("a base URL cannot have a query"));
        }
        Ok(Endpoint {
            scheme,
            authority,
            base_path: uri.path().trim_end_matches('/').to_owned(),
        })
    }

    /// The endpoint a full URL is sent to when no endpoints are configured:
    /// its scheme and authority, with no base path.
    pub fn of_uri(uri: &Uri) -> Option<Endpoint> {
        Some(Endpoint {
            scheme: uri.scheme()?.clone(),
            authority: uri.authority()?.clone(),
            base_path: String::new(),
        })
    }

    /// The URL for `original`'s path and query on this endpoint: the base path
    /// is prefixed, scheme and authority replaced.
    pub fn url_for(&self, original: &Uri) -> Uri {
        let pq = original.path_and_query().map_or("/", PathAndQuery::as_str);
        let joined = format!("{}{pq}", self.base_path);
        let path_and_query: PathAndQuery = joined
            .parse()
            .expect("a valid base path followed by a valid path and query is valid");
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(path_and_query)
            .build()
            .expect("scheme, authority and path come from valid URIs")
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}{}", self.scheme, self.authority, self.base_path)
    }
}

/// The order in which endpoints are tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailoverOrder {
    /// As listed: the first is the primary, the rest are backups in order.
    /// Every request starts at the first endpoint whose breaker allows it.
    #[default]
    InOrder,
    /// Healthiest first, by each endpoint's recent success rate; ties keep
    /// the listed order. Spreads requests away from a degraded region.
    ByHealth,
}

/// The order to try endpoints in, as indexes into the configured list.
///
/// `health[i]` is endpoint `i`'s recent success rate in `0.0..=1.0`.
pub(crate) fn order(order: FailoverOrder, health: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..health.len()).collect();
    if order == FailoverOrder::ByHealth {
        // Stable sort: equal health keeps the configured order. Buckets of
        // 0.05 stop noise from reordering endpoints that are equally fine.
        idx.sort_by_key(|&i| std::cmp::Reverse((health[i] * 20.0).round() as i64));
    }
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_the_base_and_keeps_path_and_query() {
        let original: Uri = "http://eu.example/v1/items?page=2".parse().expect("uri");
        let us = Endpoint::parse("https://us.example:8443").expect("endpoint");
        assert_eq!(
            us.url_for(&original).to_string(),
            "https://us.example:8443/v1/items?page=2"
        );
        let prefixed = Endpoint::parse("http://backup.example/mirror/").expect("endpoint");
        assert_eq!(
            prefixed.url_for(&original).to_string(),
            "http://backup.example/mirror/v1/items?page=2"
        );
        assert_eq!(prefixed.to_string(), "http://backup.example/mirror");
    }

    #[test]
    fn rejects_what_is_not_a_base_url() {
        for bad in ["eu.example", "ftp://x", "http://x/?q=1", "", "http://"] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
        let e = Endpoint::parse("ftp://x").expect_err("ftp");
        assert_eq!(e.input, "ftp://x");
    }

    #[test]
    fn in_order_keeps_the_list_and_by_health_prefers_the_healthy() {
        let health = [0.2, 1.0, 0.98, 0.5];
        assert_eq!(order(FailoverOrder::InOrder, &health), vec![0, 1, 2, 3]);
        assert_eq!(order(FailoverOrder::ByHealth, &health), vec![1, 2, 3, 0]);
    }
}
