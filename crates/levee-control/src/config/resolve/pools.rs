//! `[[pools]]`: endpoints and their settings, with `--upstream` applied (it
//! fills the pool `default`, created when missing); a pool's `tls` table is
//! `pool_tls.rs`'s.
//!
//! This module must not build clients or breakers (that is the runtime's).

use std::path::Path;

use http::uri::Authority;
use levee_policy::breaker::BreakerConfig;
use levee_proxy::pool::{Balance, CheckKind, HashOn, HealthCheck, PoolSpec, Protocol};
use serde_spanned::Spanned;

use super::{Overrides, pool_tls};
use crate::config::error::Collector;
use crate::config::file::{
    BalanceSection, EndpointEntry, HealthCheckSection, PoolSection, ProtocolName, StatusOrRange,
    WeightedEndpoint,
};

/// The file's pools (duplicates refused), then `--upstream`'s.
pub(super) fn pools(
    sections: &[PoolSection],
    ov: &Overrides,
    base_dir: &Path,
    c: &mut Collector<'_>,
) -> Vec<PoolSpec> {
    let mut pools: Vec<PoolSpec> = Vec::new();
    for p in sections {
        let name = p.name.get_ref();
        if pools.iter().any(|q| &q.name == name) {
            c.at(Some(p.name.span()), format!("duplicate pool name `{name}`"));
            continue;
        }
        if let Some(spec) = resolve_pool(p, base_dir, c) {
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
        let scheme = one_scheme(&schemes).unwrap_or_else(|e| {
            c.at(None, format!("--upstream: {e}"));
            None
        });
        let spec = match pools.iter_mut().find(|p| p.name == "default") {
            Some(p) => p,
            None => {
                pools.push(PoolSpec::new("default", Vec::new()));
                pools.last_mut().expect("just pushed")
            }
        };
        spec.endpoints = endpoints;
        match scheme {
            // A pool that already has TLS keeps its settings and protocol.
            Some(Scheme::Https) if spec.tls.is_some() => {}
            Some(Scheme::Https) => {
                spec.tls = pool_tls::default_tls(c);
                spec.protocol = Protocol::Auto;
            }
            Some(Scheme::Http) => {
                spec.tls = None;
                spec.protocol = Protocol::Http1;
            }
            Some(Scheme::H2c) => {
                spec.tls = None;
                spec.protocol = Protocol::Http2;
            }
            None => {}
        }
    }
    pools
}

fn resolve_pool(p: &PoolSection, base_dir: &Path, c: &mut Collector<'_>) -> Option<PoolSpec> {
    let pool = p.name.get_ref();
    let mut endpoints = Vec::new();
    let mut schemes = Vec::new();
    let mut weights = Vec::new();
    for e in &p.endpoints {
        let address = e.get_ref().address();
        match parse_endpoint_url(address) {
            Ok((a, scheme)) => {
                endpoints.push((a, e.span()));
                schemes.push(scheme);
                weights.push(endpoint_weight(e, c));
            }
            Err(msg) => c.at(
                Some(e.span()),
                format!("invalid endpoint `{address}`: {msg}"),
            ),
        }
    }
    let by_scheme = one_scheme(&schemes).unwrap_or_else(|e| {
        c.at(Some(p.name.span()), format!("pool `{pool}`: {e}"));
        None
    });
    if p.endpoints.is_empty() {
        c.at(
            Some(p.name.span()),
            format!("pool `{pool}` has no endpoints"),
        );
    }
    let mut spec = PoolSpec::new(
        pool.clone(),
        endpoints.iter().map(|(a, _)| a.clone()).collect(),
    );
    spec.weights = weights;
    if let Some(b) = &p.balance {
        spec.balance = balance(b, c);
    }
    spec.protocol = protocol(p, by_scheme, c);
    if by_scheme == Some(Scheme::Https) {
        spec.tls = pool_tls::pool_tls(
            pool,
            p.tls.as_ref().map(|t| t.get_ref()),
            &endpoints,
            p.name.span(),
            base_dir,
            c,
        );
    } else if let Some(t) = &p.tls {
        c.at(
            Some(t.span()),
            format!(
                "pool `{pool}`: tls is for https:// endpoints; write them as \"https://host:port\""
            ),
        );
    }
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
        if spec
            .health_check
            .as_ref()
            .is_some_and(|h| matches!(h.kind, CheckKind::Grpc { .. }))
            && spec.protocol == Protocol::Http1
        {
            c.at(
                Some(hc.span()),
                format!("pool `{pool}`: a gRPC health check needs HTTP/2: write the endpoints as h2c://host:port (or https:// with protocol = \"h2\")"),
            );
        }
    }
    if let Some(b) = &p.breaker {
        spec.failure_on_5xx = b.failure_on_5xx.unwrap_or(false);
        spec.max_ejection = b.max_ejection.unwrap_or(1.0);
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
        "grpc" => {
            for (key, set) in [
                ("path", hc.path.as_ref().map(|v| v.span())),
                ("method", hc.method.as_ref().map(|v| v.span())),
            ] {
                if let Some(span) = set {
                    c.at(
                        Some(span),
                        format!("health_check.{key} is for kind = \"http\"; a gRPC check calls grpc.health.v1.Health/Check"),
                    );
                }
            }
            if let Some(e) = &hc.expect {
                c.at(
                    e.first().map(|e| e.span()),
                    "health_check.expect is for kind = \"http\"; a gRPC check passes on SERVING",
                );
            }
            check.kind = CheckKind::Grpc {
                service: hc
                    .service
                    .as_ref()
                    .map(|s| s.get_ref().clone())
                    .unwrap_or_default(),
                host: hc.host.as_ref().map(|h| h.get_ref().clone()),
            };
        }
        other => {
            c.at(
                hc.kind.as_ref().map(|k| k.span()),
                format!(
                    "invalid health_check.kind `{other}`: expected \"http\", \"tcp\" or \"grpc\""
                ),
            );
        }
    }
    if let Some(s) = &hc.service
        && !matches!(check.kind, CheckKind::Grpc { .. })
    {
        c.at(
            Some(s.span()),
            "health_check.service is for kind = \"grpc\"",
        );
    }
    Some(check)
}

/// The protocol a pool speaks: its `protocol`, which its endpoints'
/// scheme must allow, or the one the scheme implies (`https://` lets ALPN
/// choose).
fn protocol(p: &PoolSection, scheme: Option<Scheme>, c: &mut Collector<'_>) -> Protocol {
    let Some(named) = &p.protocol else {
        return match scheme {
            None | Some(Scheme::Http) => Protocol::Http1,
            Some(Scheme::H2c) => Protocol::Http2,
            Some(Scheme::Https) => Protocol::Auto,
        };
    };
    let pool = p.name.get_ref();
    let (protocol, fits) = match named.get_ref() {
        ProtocolName::Http1 => (
            Protocol::Http1,
            matches!(scheme, None | Some(Scheme::Http | Scheme::Https)),
        ),
        ProtocolName::H2c => (Protocol::Http2, matches!(scheme, None | Some(Scheme::H2c))),
        ProtocolName::H2 => (Protocol::Http2, scheme == Some(Scheme::Https)),
    };
    if !fits {
        let hint = match (named.get_ref(), scheme) {
            (ProtocolName::H2c, Some(Scheme::Https)) => {
                "; h2c is HTTP/2 over cleartext: for HTTP/2 over TLS write protocol = \"h2\""
            }
            (ProtocolName::H2, _) => {
                "; h2 is HTTP/2 over TLS, for https:// endpoints: over cleartext write protocol = \"h2c\""
            }
            _ => "",
        };
        c.at(
            Some(named.span()),
            format!(
                "pool `{pool}`: protocol = \"{}\" but the endpoints say {}://{hint}",
                named.get_ref().as_str(),
                scheme.map_or("host:port", Scheme::as_str),
            ),
        );
    }
    protocol
}

/// What an endpoint's scheme says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `http://`: HTTP/1.1.
    Http,
    /// `h2c://`: HTTP/2 with prior knowledge (gRPC).
    H2c,
    /// `https://`: TLS; ALPN chooses HTTP/2 or HTTP/1.1 unless `protocol` says.
    Https,
}

impl Scheme {
    /// `http`, `h2c` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::H2c => "h2c",
            Scheme::Https => "https",
        }
    }
}

/// The one scheme the endpoints name (`None`: none named one); an error
/// when they disagree.
fn one_scheme(schemes: &[Option<Scheme>]) -> Result<Option<Scheme>, String> {
    let mut named = schemes.iter().flatten();
    let Some(first) = named.next() else {
        return Ok(None);
    };
    if let Some(other) = named.find(|s| *s != first) {
        return Err(format!(
            "endpoints mix {}:// and {}://: a pool speaks one protocol to all its endpoints",
            first.as_str(),
            other.as_str()
        ));
    }
    Ok(Some(*first))
}

/// Parses `http://host:port`, `host:port` or `http://host` (port 80).
pub fn parse_endpoint(s: &str) -> Result<Authority, String> {
    parse_endpoint_url(s).map(|(a, _)| a)
}

/// Parses an endpoint and the scheme it names: `http://` (HTTP/1.1),
/// `h2c://` (HTTP/2 with prior knowledge, gRPC), `https://` (TLS; port 443
/// when none is given), or none.
pub fn parse_endpoint_url(s: &str) -> Result<(Authority, Option<Scheme>), String> {
    let s = s.trim();
    let (rest, scheme) = if let Some(r) = s.strip_prefix("http://") {
        (r, Some(Scheme::Http))
    } else if let Some(r) = s.strip_prefix("h2c://") {
        (r, Some(Scheme::H2c))
    } else if let Some(r) = s.strip_prefix("https://") {
        (r, Some(Scheme::Https))
    } else if s.contains("://") {
        return Err("expected http://host:port, https://host:port or h2c://host:port".to_owned());
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
    // `http` reads `host:x` as a host without a port; a port that is not
    // a number from 1 to 65535 is a mistake, not "use the default".
    if a.as_str().len() > a.host().len() && a.port_u16().is_none_or(|p| p == 0) {
        return Err("the port must be a number from 1 to 65535".to_owned());
    }
    let with_port = if a.port().is_some() {
        a
    } else {
        let port = if scheme == Some(Scheme::Https) {
            443
        } else {
            80
        };
        format!("{}:{port}", a.host())
            .parse()
            .map_err(|_| "invalid host".to_owned())?
    };
    Ok((with_port, scheme))
}

/// An endpoint entry's weight (1 unless it says), 1–1000.
fn endpoint_weight(e: &Spanned<EndpointEntry>, c: &mut Collector<'_>) -> u32 {
    match e.get_ref() {
        EndpointEntry::Weighted(WeightedEndpoint {
            weight: Some(w), ..
        }) => match u32::try_from(*w) {
            Ok(w @ 1..=1000) => w,
            _ => {
                c.at(
                    Some(e.span()),
                    format!("invalid weight {w}: expected a whole number from 1 to 1000"),
                );
                1
            }
        },
        _ => 1,
    }
}

/// A pool's `balance`.
fn balance(b: &Spanned<BalanceSection>, c: &mut Collector<'_>) -> Balance {
    let bad = |c: &mut Collector<'_>, what: String| {
        c.at(Some(b.span()), what);
        Balance::default()
    };
    match b.get_ref() {
        BalanceSection::Name(n) => match n.as_str() {
            "least_request" => Balance::LeastRequest,
            "round_robin" => Balance::RoundRobin,
            other => bad(
                c,
                format!(
                    "invalid balance `{other}`: expected \"least_request\", \"round_robin\" or {{ hash = \"header\", name = \"x-user\" }}"
                ),
            ),
        },
        BalanceSection::Hash(h) => match (h.hash.as_str(), h.name.as_deref()) {
            ("header", Some(name)) => match http::HeaderName::from_bytes(name.as_bytes()) {
                Ok(name) => Balance::Hash(HashOn::Header(name)),
                Err(_) => bad(c, format!("invalid balance: `{name}` is not a header name")),
            },
            ("cookie", Some(name)) if !name.is_empty() && !name.contains([';', '=', ' ']) => {
                Balance::Hash(HashOn::Cookie(name.to_owned()))
            }
            ("cookie", Some(name)) => {
                bad(c, format!("invalid balance: `{name}` is not a cookie name"))
            }
            ("client_ip", None) => Balance::Hash(HashOn::ClientIp),
            ("client_ip", Some(_)) => bad(
                c,
                "invalid balance: hash = \"client_ip\" takes no name".to_owned(),
            ),
            ("header" | "cookie", None) => bad(
                c,
                format!(
                    "invalid balance: hash = \"{}\" needs a name, e.g. name = \"x-user\"",
                    h.hash
                ),
            ),
            (other, _) => bad(
                c,
                format!(
                    "invalid balance: hash = \"{other}\": expected \"header\", \"cookie\" or \"client_ip\""
                ),
            ),
        },
    }
}
