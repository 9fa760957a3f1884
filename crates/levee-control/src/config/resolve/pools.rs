//! `[[pools]]`: endpoints and their settings, with `--upstream` applied (it
//! fills the pool `default`, created when missing).
//!
//! This module must not build clients or breakers (that is the runtime's).

use http::uri::Authority;
use levee_policy::breaker::BreakerConfig;
use levee_proxy::pool::{CheckKind, HealthCheck, PoolSpec, Protocol};

use super::Overrides;
use crate::config::error::Collector;
use crate::config::file::{HealthCheckSection, PoolSection, ProtocolName, StatusOrRange};

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
        let mut schemes = Vec::new();
        for u in &ov.upstream {
            match parse_endpoint_url(u) {
                Ok((a, scheme)) => {
                    endpoints.push(a);
                    schemes.push(scheme);
                }
                Err(e) => c.at(None, format!("--upstream {u}: {e}")),
            }
        }
        let protocol = match one_protocol(&schemes) {
            Ok(p) => p,
            Err(e) => {
                c.at(None, format!("--upstream: {e}"));
                None
            }
        };
        match pools.iter_mut().find(|p| p.name == "default") {
            Some(p) => {
                p.endpoints = endpoints;
                if let Some(protocol) = protocol {
                    p.protocol = protocol;
                }
            }
            None => {
                let mut spec = PoolSpec::new("default", endpoints);
                spec.protocol = protocol.unwrap_or_default();
                pools.push(spec);
            }
        }
    }
    pools
}

fn resolve_pool(p: &PoolSection, c: &mut Collector<'_>) -> Option<PoolSpec> {
    let mut endpoints = Vec::new();
    let mut schemes = Vec::new();
    for e in &p.endpoints {
        match parse_endpoint_url(e.get_ref()) {
            Ok((a, scheme)) => {
                endpoints.push(a);
                schemes.push(scheme);
            }
            Err(msg) => c.at(
                Some(e.span()),
                format!("invalid endpoint `{}`: {msg}", e.get_ref()),
            ),
        }
    }
    let by_scheme = match one_protocol(&schemes) {
        Ok(p) => p,
        Err(e) => {
            c.at(
                Some(p.name.span()),
                format!("pool `{}`: {e}", p.name.get_ref()),
            );
            None
        }
    };
    if p.endpoints.is_empty() {
        c.at(
            Some(p.name.span()),
            format!("pool `{}` has no endpoints", p.name.get_ref()),
        );
    }
    let mut spec = PoolSpec::new(p.name.get_ref().clone(), endpoints);
    spec.protocol = match (p.protocol, by_scheme) {
        (Some(ProtocolName::H2c), None | Some(Protocol::H2c)) => Protocol::H2c,
        (Some(ProtocolName::Http1), None | Some(Protocol::Http1)) => Protocol::Http1,
        (Some(named), Some(scheme)) => {
            c.at(
                Some(p.name.span()),
                format!(
                    "pool `{}`: protocol = \"{}\" but the endpoints say {}://",
                    p.name.get_ref(),
                    match named {
                        ProtocolName::H2c => "h2c",
                        ProtocolName::Http1 => "http1",
                    },
                    scheme_of(scheme)
                ),
            );
            scheme
        }
        (None, scheme) => scheme.unwrap_or_default(),
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
    if let Some(t) = p.panic_threshold {
        spec.panic_threshold = t;
    }
    if let Some(hc) = &p.health_check {
        spec.health_check = health_check(hc.get_ref(), c);
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

/// A pool's `health_check` table, defaults filled in; errors at their keys.
fn health_check(hc: &HealthCheckSection, c: &mut Collector<'_>) -> Option<HealthCheck> {
    let mut check = HealthCheck::http("/");
    if let Some(d) = hc.interval {
        check.interval = d.0;
    }
    if let Some(d) = hc.timeout {
        check.timeout = d.0;
    }
    if let Some(n) = hc.healthy_threshold {
        check.healthy_threshold = n;
    }
    if let Some(n) = hc.unhealthy_threshold {
        check.unhealthy_threshold = n;
    }
    let kind = hc.kind.as_ref().map_or("http", |k| k.get_ref().as_str());
    match kind {
        "tcp" => {
            for (key, set) in [
                ("path", hc.path.as_ref().map(|v| v.span())),
                ("method", hc.method.as_ref().map(|v| v.span())),
                ("host", hc.host.as_ref().map(|v| v.span())),
            ] {
                if let Some(span) = set {
                    c.at(
                        Some(span),
                        format!(
                            "health_check.{key} is for kind = \"http\"; a TCP check only connects"
                        ),
                    );
                }
            }
            check.kind = CheckKind::Tcp;
        }
        "http" => {
            let path = hc.path.as_ref().map_or("/", |p| p.get_ref().as_str());
            if !path.starts_with('/') || path.parse::<http::uri::PathAndQuery>().is_err() {
                c.at(
                    hc.path.as_ref().map(|p| p.span()),
                    format!(
                        "invalid health_check.path `{path}`: expected a path such as \"/healthz\""
                    ),
                );
            }
            let method = match hc.method.as_ref().map(|m| m.get_ref().as_str()) {
                None | Some("GET") => http::Method::GET,
                Some("HEAD") => http::Method::HEAD,
                Some(other) => {
                    c.at(
                        hc.method.as_ref().map(|m| m.span()),
                        format!(
                            "invalid health_check.method `{other}`: expected \"GET\" or \"HEAD\""
                        ),
                    );
                    http::Method::GET
                }
            };
            let host = hc.host.as_ref().and_then(|h| {
                let ok = h.get_ref().parse::<http::uri::Authority>().is_ok();
                if !ok {
                    c.at(
                        Some(h.span()),
                        format!("invalid health_check.host `{}`", h.get_ref()),
                    );
                }
                ok.then(|| h.get_ref().clone())
            });
            let mut expect = Vec::new();
            for e in hc.expect.iter().flatten() {
                let range = match e.get_ref() {
                    StatusOrRange::Status(n) => Some((*n, *n)),
                    StatusOrRange::Range(r) => r.split_once('-').and_then(|(lo, hi)| {
                        Some((lo.trim().parse().ok()?, hi.trim().parse().ok()?))
                    }),
                };
                match range {
                    Some((lo, hi)) if (100..=599).contains(&lo) && (lo..=599).contains(&hi) => {
                        expect.push((lo, hi))
                    }
                    _ => c.at(
                        Some(e.span()),
                        "invalid health_check.expect entry: expected a status from 100 to 599 or a range such as \"200-399\"",
                    ),
                }
            }
            if expect.is_empty() {
                expect.push((200, 399));
            }
            check.kind = CheckKind::Http {
                method,
                path: path.to_owned(),
                host,
                expect,
            };
        }
        other => {
            c.at(
                hc.kind.as_ref().map(|k| k.span()),
                format!("invalid health_check.kind `{other}`: expected \"http\" or \"tcp\""),
            );
        }
    }
    Some(check)
}

/// The one protocol the endpoints' schemes name (`None`: none named one);
/// an error when they disagree.
fn one_protocol(schemes: &[Option<Protocol>]) -> Result<Option<Protocol>, String> {
    let mut named = schemes.iter().flatten();
    let Some(first) = named.next() else {
        return Ok(None);
    };
    if named.any(|p| p != first) {
        return Err(
            "endpoints mix http:// and h2c://: a pool speaks one protocol to all its endpoints"
                .to_owned(),
        );
    }
    Ok(Some(*first))
}

fn scheme_of(p: Protocol) -> &'static str {
    match p {
        Protocol::Http1 => "http",
        Protocol::H2c => "h2c",
    }
}

/// Parses `http://host:port`, `host:port` or `http://host` (port 80).
pub fn parse_endpoint(s: &str) -> Result<Authority, String> {
    parse_endpoint_url(s).map(|(a, _)| a)
}

/// Parses an endpoint and the protocol its scheme names: `http://` is
/// HTTP/1.1, `h2c://` HTTP/2 with prior knowledge (gRPC), none says nothing.
pub fn parse_endpoint_url(s: &str) -> Result<(Authority, Option<Protocol>), String> {
    let s = s.trim();
    let (rest, scheme) = if let Some(r) = s.strip_prefix("http://") {
        (r, Some(Protocol::Http1))
    } else if let Some(r) = s.strip_prefix("h2c://") {
        (r, Some(Protocol::H2c))
    } else if s.starts_with("https://") {
        return Err(
            "TLS to upstreams is not supported yet; use http:// or h2c:// (e.g. a local sidecar)"
                .to_owned(),
        );
    } else if s.contains("://") {
        return Err("expected http://host:port or h2c://host:port".to_owned());
    } else {
        (s, None)
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
    Ok((with_port, scheme))
}
