//! `[[routes]]`: what each route matches, its pool, and its policies —
//! admission, tenants, rate limits, priority, error format. With
//! `--upstream` and no routes in the file, one catch-all route to the pool
//! `default`.
//!
//! This module must not build admission controllers or rate limiters (that
//! is the runtime's, which keeps them across reloads).

use http::HeaderName;
use levee_http::JsonStyle;
use levee_policy::limit::{
    AdaptiveConfig, AimdConfig, Bounds, Gradient2Config, LimiterConfig, VegasConfig,
};
use levee_proxy::admission::{AdmissionSpec, Mode, Priority};
use levee_proxy::body::{BodyPolicy, BodyRead};
use levee_proxy::pool::PoolSpec;
use levee_proxy::ratelimit::RateLimitSpec;
use levee_proxy::route::{HostMatch, RouteSpec};
use levee_proxy::tenant::TenantSource;
use serde_spanned::Spanned;

use super::Overrides;
use crate::config::error::Collector;
use crate::config::file::{
    AdmissionModeName, AdmissionSection, AdmissionSectionOrShorthand, AdmissionShorthand,
    ErrorFormat, FileConfig, LimiterName, RateLimitSection, TenantSection,
};

/// The most alternate pools a route may name.
const MAX_FALLBACK: usize = 8;

/// Reports `name` unless it is one of `pools`.
fn known_pool(name: &Spanned<String>, pools: &[PoolSpec], c: &mut Collector<'_>) {
    let pool = name.get_ref();
    if pools.iter().any(|p| &p.name == pool) {
        return;
    }
    let mut known: Vec<&str> = pools.iter().map(|p| p.name.as_str()).collect();
    known.sort_unstable();
    let expected = if known.is_empty() {
        "no pools are defined: add a [[pools]] table".to_owned()
    } else {
        format!("expected one of: {}", known.join(", "))
    };
    c.at(
        Some(name.span()),
        format!("unknown pool `{pool}`; {expected}"),
    );
}

/// The routes, in file order.
pub(super) fn routes(
    file: &FileConfig,
    ov: &Overrides,
    pools: &[PoolSpec],
    c: &mut Collector<'_>,
) -> Vec<RouteSpec> {
    let mut routes: Vec<RouteSpec> = Vec::new();
    if !ov.upstream.is_empty() && file.routes.is_empty() {
        routes.push(RouteSpec {
            admission: resolve_admission(None, c),
            ..RouteSpec::catch_all("default", "default")
        });
    }
    // Routes.
    for (i, r) in file.routes.iter().enumerate() {
        let pool = r.pool.get_ref();
        known_pool(&r.pool, pools, c);
        let mut fallback: Vec<String> = Vec::new();
        if let Some(list) = &r.fallback {
            if list.get_ref().len() > MAX_FALLBACK {
                c.at(
                    Some(list.span()),
                    format!("a route has at most {MAX_FALLBACK} fallback pools"),
                );
            }
            for name in list.get_ref() {
                known_pool(name, pools, c);
                if name.get_ref() == pool || fallback.contains(name.get_ref()) {
                    c.at(
                        Some(name.span()),
                        format!(
                            "pool `{}` is already in this route's list: each pool is tried once",
                            name.get_ref()
                        ),
                    );
                    continue;
                }
                fallback.push(name.get_ref().clone());
            }
        }
        let path_prefix = match &r.path_prefix {
            Some(p) if !p.get_ref().starts_with('/') => {
                c.at(
                    Some(p.span()),
                    format!(
                        "invalid path_prefix `{}`: it must start with /",
                        p.get_ref()
                    ),
                );
                "/".to_owned()
            }
            Some(p) => p.get_ref().clone(),
            None => "/".to_owned(),
        };
        let tenant = r.tenant.as_ref().and_then(|t| resolve_tenant(t, c));
        let rate_limit = r.rate_limit.as_ref().and_then(|rl| {
            if r.tenant.is_none() {
                c.at(
                    Some(rl.span()),
                    "rate_limit needs a tenant key: add tenant = { from = \"header\", header = \"x-api-key\" } or tenant = { from = \"client_ip\" }",
                );
            }
            resolve_rate_limit(rl, c)
        });
        routes.push(RouteSpec {
            tenant,
            rate_limit,
            name: r.name.clone().unwrap_or_else(|| format!("route-{i}")),
            host: HostMatch::parse(r.host.as_deref().unwrap_or("*")),
            path_prefix,
            pool: pool.clone(),
            fallback,
            body: body_policy(r),
            json_style: match r.error_format {
                Some(ErrorFormat::Envelope) => JsonStyle::Envelope,
                _ => JsonStyle::Problem,
            },
            admission: resolve_admission(r.admission.as_ref(), c),
            priority: match &r.priority {
                Some(p) => Priority::parse(p.get_ref()).unwrap_or_else(|| {
                    c.at(
                        Some(p.span()),
                        format!(
                            "invalid priority `{}`: expected critical, default or sheddable",
                            p.get_ref()
                        ),
                    );
                    Priority::Default
                }),
                None => Priority::Default,
            },
        });
    }
    if routes.is_empty() && c.is_empty() {
        c.at(
            None,
            "no route: add a [[routes]] table with pool = \"NAME\", or pass --upstream URL",
        );
    }
    routes
}

/// A route's tenant source.
fn resolve_tenant(t: &Spanned<TenantSection>, c: &mut Collector<'_>) -> Option<TenantSource> {
    let t = t.get_ref();
    match (t.from.get_ref().as_str(), &t.header) {
        ("header", Some(h)) => match HeaderName::from_bytes(h.get_ref().as_bytes()) {
            Ok(name) => Some(TenantSource::Header(name)),
            Err(_) => {
                c.at(
                    Some(h.span()),
                    format!("invalid header name `{}`", h.get_ref()),
                );
                None
            }
        },
        ("header", None) => {
            c.at(
                Some(t.from.span()),
                "tenant from a header needs header = \"NAME\", e.g. header = \"x-api-key\"",
            );
            None
        }
        ("client_ip", None) => Some(TenantSource::ClientIp),
        ("client_ip", Some(h)) => {
            c.at(
                Some(h.span()),
                "tenant = { from = \"client_ip\" } takes no header",
            );
            None
        }
        (other, _) => {
            c.at(
                Some(t.from.span()),
                format!("invalid tenant source `{other}`: expected header or client_ip"),
            );
            None
        }
    }
}

/// A route's per-tenant rate limit.
fn resolve_rate_limit(
    rl: &Spanned<RateLimitSection>,
    c: &mut Collector<'_>,
) -> Option<RateLimitSpec> {
    let span = rl.span();
    let rl = rl.get_ref();
    let d = RateLimitSpec::new(rl.quota);
    let spec = RateLimitSpec {
        period: rl.period.map_or(d.period, |p| p.0),
        burst: rl.burst.unwrap_or(d.burst),
        ..d
    };
    if spec.period.is_zero() || spec.period.subsec_nanos() != 0 {
        c.at(
            Some(span),
            format!(
                "rate_limit: period must be a whole number of seconds, at least 1s (RateLimit-Policy states it in seconds), not {:?}",
                spec.period
            ),
        );
        return None;
    }
    if let Err(e) = spec.gcra().validate() {
        c.at(Some(span), format!("rate_limit: {e}"));
        return None;
    }
    Some(spec)
}

/// Admission settings of a route: on by default, the adaptive limiter with
/// its defaults.
fn resolve_admission(
    a: Option<&AdmissionSectionOrShorthand>,
    c: &mut Collector<'_>,
) -> Option<AdmissionSpec> {
    let d = AdmissionSection::default();
    let (a, shorthand_mode) = match a {
        None => (&d, None),
        Some(AdmissionSectionOrShorthand::Shorthand(AdmissionShorthand::Off)) => return None,
        Some(AdmissionSectionOrShorthand::Shorthand(AdmissionShorthand::On)) => (&d, None),
        Some(AdmissionSectionOrShorthand::Shorthand(AdmissionShorthand::Observe)) => {
            (&d, Some(Mode::Observe))
        }
        Some(AdmissionSectionOrShorthand::Section(s)) => (s, None),
    };
    if a.enabled == Some(false) {
        return None;
    }
    let defaults = AdmissionSpec::default();
    let name = a.limiter.unwrap_or(LimiterName::Adaptive);
    let bounds_default = match name {
        LimiterName::Adaptive => AdaptiveConfig::default().bounds,
        _ => Bounds::default(),
    };
    let min = a.min_limit.unwrap_or(bounds_default.min);
    let bounds = Bounds {
        initial: a.initial_limit.unwrap_or(bounds_default.initial.max(min)),
        min,
        max: a.max_limit.unwrap_or(bounds_default.max),
    };
    let limiter = match name {
        LimiterName::Adaptive => LimiterConfig::Adaptive(AdaptiveConfig {
            bounds,
            ..AdaptiveConfig::default()
        }),
        LimiterName::Gradient2 => LimiterConfig::Gradient2(Gradient2Config {
            bounds,
            ..Gradient2Config::default()
        }),
        LimiterName::Aimd => LimiterConfig::Aimd(AimdConfig {
            bounds,
            ..AimdConfig::default()
        }),
        LimiterName::Vegas => LimiterConfig::Vegas(VegasConfig {
            bounds,
            ..VegasConfig::default()
        }),
        LimiterName::Fixed => match a.limit {
            Some(n) => LimiterConfig::Fixed(n),
            None => {
                c.at(None, "admission: the fixed limiter needs `limit = N`");
                LimiterConfig::Fixed(1)
            }
        },
    };
    if let Err(e) = limiter.validate() {
        c.at(None, format!("admission: {e}"));
    }
    let mode = match (shorthand_mode, a.mode) {
        (Some(m), _) => m,
        (None, Some(AdmissionModeName::Observe)) => Mode::Observe,
        (None, _) => Mode::Enforce,
    };
    let spec = AdmissionSpec {
        limiter,
        mode,
        max_queue: a.max_queue.unwrap_or(defaults.max_queue),
        max_queue_time: a.max_queue_time.map_or(defaults.max_queue_time, |d| d.0),
        retry_after_max: a.retry_after_max.map_or(defaults.retry_after_max, |d| d.0),
        ..defaults
    };
    if spec.retry_after_max < spec.retry_after_min {
        c.at(None, "admission: retry_after_max must be at least 1s");
    }
    Some(spec)
}

/// A route's request-body policy: its size limit, what is read whole before
/// admission, and the client's deadlines.
fn body_policy(r: &crate::config::file::RouteSection) -> BodyPolicy {
    let d = BodyPolicy::default();
    let idle = r.client_body_timeout.map_or(d.read.idle, |t| t.0);
    BodyPolicy {
        max_size: r.max_body_size.map(|b| b.0),
        buffer_up_to: r.buffer_request_body.map_or(d.buffer_up_to, |b| b.0),
        read: BodyRead {
            idle,
            min_rate: r.min_body_rate.map_or(d.read.min_rate, |b| b.0),
            // The rate applies once a body has had one pause's worth of time.
            grace: idle,
        },
    }
}
