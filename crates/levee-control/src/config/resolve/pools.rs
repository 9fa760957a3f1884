//! `[[pools]]`: endpoints and their settings, with `--upstream` applied (it
//! fills the pool `default`, created when missing).
//!
//! This module must not build clients or breakers (that is the runtime's).

use http::uri::Authority;
use levee_policy::breaker::BreakerConfig;
use levee_proxy::pool::{PoolSpec, Protocol};

use super::Overrides;
use crate::config::error::Collector;
use crate::config::file::{PoolSection, ProtocolName};

/// The file's pools (duplicates refused), then `--upstream`'s.
pub(super) fn pools(
    sections: &[PoolSection],
    ov: &Overrides,
    c: &mut Collector<'_>,
) -> Vec<PoolSpec> {
    let mut pools: Vec<PoolSpec> = Vec::new();
    for p in sections {
        let name = p.name.get_ref();
        if pools.iter().any(|q| &q.name == name) {
            c.at(Some(p.name.span()), format!("duplicate pool name `{name}`"));
            continue;
        }
        if let Some(spec) = resolve_pool(p, c) {
            pools.push(spec);
        }
    }
    if !ov.upstream.is_empty() {
        let mut endpoints = Vec::new();
        for u in &ov.upstream {
            match parse_endpoint(u) {
                Ok(a) => endpoints.push(a),
                Err(e) => c.at(None, format!("--upstream {u}: {e}")),
            }
        }
        match pools.iter_mut().find(|p| p.name == "default") {
            Some(p) => p.endpoints = endpoints,
            None => pools.push(PoolSpec::new("default", endpoints)),
        }
    }
    pools
}

fn resolve_pool(p: &PoolSection, c: &mut Collector<'_>) -> Option<PoolSpec> {
    let mut endpoints = Vec::new();
    for e in &p.endpoints {
        match parse_endpoint(e.get_ref()) {
            Ok(a) => endpoints.push(a),
            Err(msg) => c.at(
                Some(e.span()),
                format!("invalid endpoint `{}`: {msg}", e.get_ref()),
            ),
        }
    }
    if p.endpoints.is_empty() {
        c.at(
            Some(p.name.span()),
            format!("pool `{}` has no endpoints", p.name.get_ref()),
        );
    }
    let mut spec = PoolSpec::new(p.name.get_ref().clone(), endpoints);
    spec.protocol = match p.protocol {
        Some(ProtocolName::H2c) => Protocol::H2c,
        _ => Protocol::Http1,
    };
    if let Some(d) = p.connect_timeout {
        spec.connect_timeout = d.0;
    }
    if let Some(d) = p.response_timeout {
        spec.response_timeout = d.0;
    }
    if let Some(d) = p.idle_timeout {
        spec.idle_timeout = d.0;
    }
    if let Some(n) = p.max_idle_per_endpoint {
        spec.max_idle_per_endpoint = n;
    }
    if let Some(b) = &p.breaker {
        let d = BreakerConfig::default();
        spec.breaker = BreakerConfig {
            consecutive_failures: b.consecutive_failures.unwrap_or(d.consecutive_failures),
            failure_ratio: b.failure_ratio.unwrap_or(d.failure_ratio),
            min_requests: b.min_requests.unwrap_or(d.min_requests),
            window: b.window.map_or(d.window, |w| w.0),
            open_base: b.open_base.map_or(d.open_base, |w| w.0),
            open_max: b.open_max.map_or(d.open_max, |w| w.0),
            probes: b.probes.unwrap_or(d.probes),
            ..d
        };
        if let Err(e) = levee_policy::breaker::Breaker::new(spec.breaker) {
            c.at(
                Some(p.name.span()),
                format!("pool `{}`: invalid breaker: {e}", p.name.get_ref()),
            );
        }
    }
    Some(spec)
}

/// Parses `http://host:port`, `host:port` or `http://host` (port 80).
pub fn parse_endpoint(s: &str) -> Result<Authority, String> {
    let s = s.trim();
    let rest = if let Some(r) = s.strip_prefix("http://") {
        r
    } else if s.starts_with("https://") {
        return Err(
            "TLS to upstreams is not supported yet; use http:// (e.g. a local sidecar)".to_owned(),
        );
    } else if s.contains("://") {
        return Err("expected http://host:port".to_owned());
    } else {
        s
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains('/') || rest.contains('?') {
        return Err("an endpoint is host:port only; routes choose paths".to_owned());
    }
    let a: Authority = rest
        .parse()
        .map_err(|_| "expected host:port such as 127.0.0.1:8080".to_owned())?;
    if a.as_str().contains('@') || a.host().is_empty() {
        return Err("expected host:port such as 127.0.0.1:8080".to_owned());
    }
    let with_port = if a.port().is_some() {
        a
    } else {
        format!("{}:80", a.host())
            .parse()
            .map_err(|_| "invalid host".to_owned())?
    };
    Ok(with_port)
}
