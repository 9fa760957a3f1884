//! Prometheus metrics of the data path.
//!
//! One [`Metrics`] lives as long as the gateway and is shared by every runtime
//! snapshot, so counters survive reloads. Routes get their label sets
//! registered when a snapshot is built ([`Metrics::route`]), and the request
//! path then updates plain handles: no label hashing or allocation per
//! request. Names follow the Prometheus conventions (`_total` counters, base
//! units in seconds and bytes).
//!
//! This module must not serve HTTP; the admin listener encodes [`Metrics::encode`].

use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteClass {
    route: String,
    code_class: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabel {
    pool: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabel {
    pool: String,
    endpoint: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckLabel {
    pool: String,
    endpoint: String,
    result: &'static str,
}

const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

pub(crate) fn duration_histogram() -> Histogram {
    // 0.25 ms … ~33 s: sheds are sub-millisecond, slow upstreams take seconds.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 18))
}

/// The gateway's metric families.
pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RouteClass, Counter>,
    duration: Family<RouteClass, Histogram, fn() -> Histogram>,
    upstream_headers: Family<PoolLabel, Histogram, fn() -> Histogram>,
    gateway_errors: Family<ReasonLabel, Counter>,
    admission: crate::admission::metrics::AdmissionFamilies,
    class_baselines: crate::admission::metrics::ClassBaselines,
    latency_ratios: crate::admission::metrics::Ratios,
    rate_limited: Family<crate::admission::metrics::RouteLabel, Counter>,
    rate_untracked: Family<crate::admission::metrics::RouteLabel, Counter>,
    endpoint_up: Family<EndpointLabel, Gauge<i64, AtomicI64>>,
    endpoint_requests: Family<EndpointLabel, Counter>,
    endpoint_failures: Family<EndpointLabel, Counter>,
    endpoint_ejections: Family<EndpointLabel, Counter>,
    health_checks: Family<CheckLabel, Counter>,
    pool_panicking: Family<PoolLabel, Gauge<i64, AtomicI64>>,
    /// Per route counts for the status page, kept across reloads.
    tallies: Mutex<std::collections::HashMap<String, Arc<crate::status::RouteTally>>>,
    /// Client connections currently open.
    pub connections_open: Gauge<i64, AtomicI64>,
    /// Client connections closed at once because their address was over
    /// `max_connections_per_client`.
    pub client_connections_refused: Counter,
    /// Requests currently being handled (response body not yet finished).
    pub requests_in_flight: Gauge<i64, AtomicI64>,
    /// 1 while the gateway drains, else 0.
    pub draining: Gauge<i64, AtomicI64>,
    /// Successful configuration reloads.
    pub config_reloads: Counter,
    /// Rejected configuration reloads (the old configuration stayed in force).
    pub config_reload_failures: Counter,
    /// Maintenance windows in force now.
    pub maintenance_windows_active: Gauge<i64, AtomicI64>,
    /// Endpoints drained by an operator.
    pub endpoints_drained: Gauge<i64, AtomicI64>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    /// Registers every family under the `levee_` prefix.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("levee");
        let requests = Family::<RouteClass, Counter>::default();
        registry.register(
            "requests",
            "Requests answered, by route and status class",
            requests.clone(),
        );
        let duration = Family::<RouteClass, Histogram, fn() -> Histogram>::new_with_constructor(
            duration_histogram,
        );
        registry.register(
            "request_duration_seconds",
            "Time from request head to the end of the response body, by route and status class",
            duration.clone(),
        );
        let upstream_headers =
            Family::<PoolLabel, Histogram, fn() -> Histogram>::new_with_constructor(
                duration_histogram,
            );
        registry.register(
            "upstream_response_headers_seconds",
            "Time from sending a request upstream to its response head, by pool",
            upstream_headers.clone(),
        );
        let gateway_errors = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "gateway_errors",
            "Responses the gateway made itself (problems), by reason",
            gateway_errors.clone(),
        );
        let admission = crate::admission::metrics::AdmissionFamilies::new(&mut registry);
        let class_baselines = crate::admission::metrics::ClassBaselines::default();
        registry.register(
            "admission_class_baseline_seconds",
            "Typical time to the response head of each request class (method and normalised path), by route",
            class_baselines.clone(),
        );
        let latency_ratios = crate::admission::metrics::Ratios::default();
        registry.register(
            "admission_latency_ratio",
            "Median of recent answers' latency divided by their class's baseline (1 = as usual)",
            latency_ratios.clone(),
        );
        let rate_limited = Family::default();
        registry.register(
            "rate_limited",
            "Requests answered 429 rate-limited: their tenant was over its rate",
            rate_limited.clone(),
        );
        let rate_untracked = Family::default();
        registry.register(
            "rate_limit_untracked",
            "Requests let through without rate tracking because the tenant table was full",
            rate_untracked.clone(),
        );
        let endpoint_up = Family::default();
        registry.register(
            "endpoint_up",
            "1 when the endpoint takes requests (not drained, not failing its health checks outside panic mode, breaker not open), else 0; by pool and endpoint",
            endpoint_up.clone(),
        );
        let endpoint_requests = Family::default();
        registry.register(
            "endpoint_requests",
            "Attempts sent to the endpoint, by pool and endpoint",
            endpoint_requests.clone(),
        );
        let endpoint_failures = Family::default();
        registry.register(
            "endpoint_failures",
            "Attempts its breaker counted as the endpoint's failure (connect failure, timeout, broken response), by pool and endpoint",
            endpoint_failures.clone(),
        );
        let endpoint_ejections = Family::default();
        registry.register(
            "endpoint_ejections",
            "Times the endpoint's breaker opened, by pool and endpoint",
            endpoint_ejections.clone(),
        );
        let health_checks = Family::default();
        registry.register(
            "health_checks",
            "Active health checks, by pool, endpoint and result (pass, fail)",
            health_checks.clone(),
        );
        let pool_panicking = Family::default();
        registry.register(
            "pool_panicking",
            "1 while fewer than panic_threshold of the pool's endpoints pass their health checks, so traffic goes to all of them",
            pool_panicking.clone(),
        );
        let connections_open = Gauge::default();
        registry.register(
            "connections_open",
            "Client connections currently open",
            connections_open.clone(),
        );
        let client_connections_refused = Counter::default();
        registry.register(
            "client_connections_refused",
            "Client connections closed at once because their address was over max_connections_per_client",
            client_connections_refused.clone(),
        );
        let requests_in_flight = Gauge::default();
        registry.register(
            "requests_in_flight",
            "Requests whose response has not ended",
            requests_in_flight.clone(),
        );
        let draining = Gauge::default();
        registry.register(
            "draining",
            "1 while the gateway is draining for shutdown",
            draining.clone(),
        );
        let config_reloads = Counter::default();
        registry.register(
            "config_reloads",
            "Configuration reloads applied",
            config_reloads.clone(),
        );
        let config_reload_failures = Counter::default();
        registry.register(
            "config_reload_failures",
            "Configuration reloads rejected; the previous configuration stayed in force",
            config_reload_failures.clone(),
        );
        let maintenance_windows_active = Gauge::default();
        registry.register(
            "maintenance_windows_active",
            "Maintenance windows in force now",
            maintenance_windows_active.clone(),
        );
        let endpoints_drained = Gauge::default();
        registry.register(
            "endpoints_drained",
            "Endpoints taken out of rotation by an operator",
            endpoints_drained.clone(),
        );
        Metrics {
            maintenance_windows_active,
            endpoints_drained,
            registry: Mutex::new(registry),
            requests,
            duration,
            upstream_headers,
            gateway_errors,
            admission,
            class_baselines,
            latency_ratios,
            rate_limited,
            rate_untracked,
            endpoint_up,
            endpoint_requests,
            endpoint_failures,
            endpoint_ejections,
            health_checks,
            pool_panicking,
            connections_open,
            client_connections_refused,
            requests_in_flight,
            tallies: Mutex::default(),
            draining,
            config_reloads,
            config_reload_failures,
        }
    }

    /// Handles for one route's label sets.
    pub fn route(&self, route: &str) -> RouteMetrics {
        let per_class = |i: usize| {
            let labels = RouteClass {
                route: route.to_owned(),
                code_class: CLASSES[i],
            };
            (
                self.requests.get_or_create(&labels).clone(),
                self.duration.get_or_create(&labels).clone(),
            )
        };
        let classes: [(Counter, Histogram); 5] = std::array::from_fn(per_class);
        RouteMetrics {
            classes: Arc::new(classes),
            tally: self.tally(route),
        }
    }

    /// The status-page counts of `route` (created at zero when new; kept
    /// across reloads, like the route's metrics).
    pub fn tally(&self, route: &str) -> Arc<crate::status::RouteTally> {
        let mut t = self.tallies.lock().unwrap_or_else(|p| p.into_inner());
        t.entry(route.to_owned()).or_default().clone()
    }

    /// Every route's status-page counts now.
    pub fn tallies(&self) -> Vec<(String, crate::status::Tally)> {
        let t = self.tallies.lock().unwrap_or_else(|p| p.into_inner());
        t.iter().map(|(k, v)| (k.clone(), v.read())).collect()
    }

    /// Admission metric handles for one route.
    pub fn admission(&self, route: &str) -> crate::admission::AdmissionMetrics {
        crate::admission::AdmissionMetrics::new(&self.admission, route)
    }

    /// Rate-limit metric handles for one route.
    pub fn rate_limit(&self, route: &str) -> crate::ratelimit::RateLimitMetrics {
        let r = crate::admission::metrics::RouteLabel {
            route: route.to_owned(),
        };
        crate::ratelimit::RateLimitMetrics {
            limited: self.rate_limited.get_or_create(&r).clone(),
            untracked: self.rate_untracked.get_or_create(&r).clone(),
        }
    }

    /// The histogram of upstream response-head latency for a pool.
    pub fn upstream_headers(&self, pool: &str) -> Histogram {
        self.upstream_headers
            .get_or_create(&PoolLabel {
                pool: pool.to_owned(),
            })
            .clone()
    }

    /// Counter handles for one endpoint of a pool.
    pub fn endpoint(&self, pool: &str, endpoint: &str) -> crate::pool::EndpointMetrics {
        let label = EndpointLabel {
            pool: pool.to_owned(),
            endpoint: endpoint.to_owned(),
        };
        let check = |result| CheckLabel {
            pool: pool.to_owned(),
            endpoint: endpoint.to_owned(),
            result,
        };
        // One statement per handle: `get_or_create` holds the family's lock
        // until its guard is dropped, and a second call on the same family
        // within one statement would wait for it for ever.
        let checks_passed = self.health_checks.get_or_create(&check("pass")).clone();
        let checks_failed = self.health_checks.get_or_create(&check("fail")).clone();
        crate::pool::EndpointMetrics {
            requests: self.endpoint_requests.get_or_create(&label).clone(),
            failures: self.endpoint_failures.get_or_create(&label).clone(),
            ejections: self.endpoint_ejections.get_or_create(&label).clone(),
            checks_passed,
            checks_failed,
        }
    }

    /// Counts a problem the gateway produced.
    pub fn gateway_error(&self, reason: levee_http::Reason) {
        self.gateway_errors
            .get_or_create(&ReasonLabel {
                reason: reason.slug(),
            })
            .inc();
    }

    /// Registers further metrics (admission, control plane) in the same registry.
    pub fn with_registry<R>(&self, f: impl FnOnce(&mut Registry) -> R) -> R {
        let mut reg = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut reg)
    }

    /// The OpenMetrics text exposition of every metric, with the per-class
    /// admission gauges read from `routes` and the endpoint and pool gauges
    /// from `pools` (with the `drained` endpoints) now (at most `max_classes` per
    /// route, so the label set stays bounded).
    pub fn encode_with(
        &self,
        routes: &crate::route::RouteTable,
        pools: &[Arc<crate::pool::Pool>],
        drained: &[http::uri::Authority],
    ) -> String {
        self.class_baselines.clear();
        self.latency_ratios.clear();
        // Endpoints and pools as they are now; a reload's removed ones go.
        self.endpoint_up.clear();
        self.pool_panicking.clear();
        let now = tokio::time::Instant::now().into_std();
        for pool in pools {
            let status = pool.status(now, drained);
            self.pool_panicking
                .get_or_create(&PoolLabel {
                    pool: pool.name.clone(),
                })
                .set(i64::from(status.panicking));
            for e in status.endpoints {
                self.endpoint_up
                    .get_or_create(&EndpointLabel {
                        pool: pool.name.clone(),
                        endpoint: e.endpoint,
                    })
                    .set(i64::from(e.takes_requests));
            }
        }
        for route in routes.iter() {
            let Some(admission) = &route.admission else {
                continue;
            };
            let view = admission.view();
            if let Some(ratio) = view.ratio {
                let label = crate::admission::metrics::RouteLabel {
                    route: route.name.to_string(),
                };
                self.latency_ratios.get_or_create(&label).set(ratio);
            }
            for class in view.classes {
                if let Some(b) = class.baseline {
                    let label = crate::admission::metrics::ClassLabel {
                        route: route.name.to_string(),
                        class: class.name.to_string(),
                    };
                    self.class_baselines
                        .get_or_create(&label)
                        .set(b.as_secs_f64());
                }
            }
        }
        self.encode()
    }

    /// The OpenMetrics text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let reg = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &reg);
        out
    }
}

/// One route's counters and histograms, one per status class.
#[derive(Debug, Clone)]
pub struct RouteMetrics {
    classes: Arc<[(Counter, Histogram); 5]>,
    tally: Arc<crate::status::RouteTally>,
}

impl RouteMetrics {
    /// Records one finished request: its status, its time, the gateway's
    /// reason when it answered itself and the upstream's time to the head.
    pub fn record(
        &self,
        status: u16,
        elapsed: Duration,
        reason: Option<levee_http::Reason>,
        head_after: Option<Duration>,
    ) {
        let i = usize::from((status / 100).clamp(1, 5)) - 1;
        let (count, hist) = &self.classes[i];
        count.inc();
        hist.observe(elapsed.as_secs_f64());
        self.tally.record(status, elapsed, reason, head_after);
    }
}
