//! Admission metrics, registered per route when a snapshot is built.
//!
//! `levee_admission_limit`, `_in_flight`, `_queue_depth`, `_congested`
//! (gauges), `_queue_seconds` and `_retry_after_seconds` (histograms),
//! `_admitted_total{priority}`, `_shed_total{cause,priority}`,
//! `_would_shed_total{cause}` (observe mode), `_parked_total`; and per
//! request class, `_class_baseline_seconds{route,class}` and the route's
//! `_latency_ratio`, filled in at scrape time from the live state (see
//! `crate::metrics`), so the request path never touches a class label.

use std::sync::atomic::{AtomicI64, AtomicU64};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

use super::{Priority, ShedCause};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RouteLabel {
    pub(crate) route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct PriorityLabel {
    pub(crate) route: String,
    pub(crate) priority: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ShedLabel {
    pub(crate) route: String,
    pub(crate) cause: &'static str,
    pub(crate) priority: &'static str,
}

/// The families, shared by every snapshot.
#[derive(Debug, Clone)]
pub(crate) struct AdmissionFamilies {
    pub(crate) limit: Family<RouteLabel, Gauge<i64, AtomicI64>>,
    pub(crate) in_flight: Family<RouteLabel, Gauge<i64, AtomicI64>>,
    pub(crate) queue_depth: Family<RouteLabel, Gauge<i64, AtomicI64>>,
    pub(crate) queue_time: Family<RouteLabel, Histogram, fn() -> Histogram>,
    pub(crate) retry_after: Family<RouteLabel, Histogram, fn() -> Histogram>,
    pub(crate) admitted: Family<PriorityLabel, Counter>,
    pub(crate) shed: Family<ShedLabel, Counter>,
    pub(crate) congested: Family<RouteLabel, Gauge<i64, AtomicI64>>,
    pub(crate) would_shed: Family<CauseLabel, Counter>,
    pub(crate) parked: Family<RouteLabel, Counter>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct CauseLabel {
    pub(crate) route: String,
    pub(crate) cause: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ClassLabel {
    pub(crate) route: String,
    pub(crate) class: String,
}

/// The per-class gauges, rebuilt at each scrape from the live routes (so a
/// class or route that went away disappears, and the request path never
/// touches them).
pub(crate) type ClassBaselines = Family<ClassLabel, Gauge<f64, AtomicU64>>;

/// The routes' latency ratios, rebuilt at each scrape.
pub(crate) type Ratios = Family<RouteLabel, Gauge<f64, AtomicU64>>;

fn queue_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_1, 2.0, 16))
}

fn retry_after_histogram() -> Histogram {
    Histogram::new([1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 34.0, 60.0])
}

impl AdmissionFamilies {
    pub(crate) fn new(registry: &mut prometheus_client::registry::Registry) -> AdmissionFamilies {
        let f = AdmissionFamilies {
            limit: Family::default(),
            in_flight: Family::default(),
            queue_depth: Family::default(),
            queue_time: Family::new_with_constructor(queue_histogram),
            retry_after: Family::new_with_constructor(retry_after_histogram),
            admitted: Family::default(),
            shed: Family::default(),
            congested: Family::default(),
            would_shed: Family::default(),
            parked: Family::default(),
        };
        registry.register(
            "admission_limit",
            "Current concurrency limit set by the route's limiter",
            f.limit.clone(),
        );
        registry.register(
            "admission_in_flight",
            "Requests holding an admission permit",
            f.in_flight.clone(),
        );
        registry.register(
            "admission_queue_depth",
            "Requests waiting for an admission permit",
            f.queue_depth.clone(),
        );
        registry.register(
            "admission_queue_seconds",
            "Time admitted requests spent queued",
            f.queue_time.clone(),
        );
        registry.register(
            "admission_retry_after_seconds",
            "Retry-After values given to shed requests",
            f.retry_after.clone(),
        );
        registry.register(
            "admission_admitted",
            "Requests admitted, by priority",
            f.admitted.clone(),
        );
        registry.register(
            "admission_shed",
            "Requests shed with 503 overloaded, by cause and priority",
            f.shed.clone(),
        );
        registry.register(
            "admission_congested",
            "1 while the route has evidence of congestion (its limit binds), else 0",
            f.congested.clone(),
        );
        registry.register(
            "admission_would_shed",
            "In observe mode: requests admitted that would have been shed, by cause",
            f.would_shed.clone(),
        );
        registry.register(
            "admission_parked",
            "Long-lived requests (long-polls) that stopped counting against the limit",
            f.parked.clone(),
        );
        f
    }
}

/// One route's admission metric handles.
#[derive(Debug, Clone)]
pub struct AdmissionMetrics {
    pub(crate) limit: Gauge<i64, AtomicI64>,
    pub(crate) in_flight: Gauge<i64, AtomicI64>,
    pub(crate) queue_depth: Gauge<i64, AtomicI64>,
    pub(crate) queue_time: Histogram,
    pub(crate) retry_after: Histogram,
    pub(crate) congested: Gauge<i64, AtomicI64>,
    pub(crate) parked: Counter,
    admitted: [Counter; 3],
    shed: [[Counter; 3]; 5],
    would_shed: [Counter; 5],
}

impl AdmissionMetrics {
    pub(crate) fn new(families: &AdmissionFamilies, route: &str) -> AdmissionMetrics {
        let r = RouteLabel {
            route: route.to_owned(),
        };
        let admitted = [Priority::Critical, Priority::Default, Priority::Sheddable].map(|p| {
            families
                .admitted
                .get_or_create(&PriorityLabel {
                    route: route.to_owned(),
                    priority: p.as_str(),
                })
                .clone()
        });
        let causes = [
            ShedCause::QueueFull,
            ShedCause::QueueTimeout,
            ShedCause::Evicted,
            ShedCause::Deadline,
            ShedCause::FairShare,
        ];
        let shed = causes.map(|c| {
            [Priority::Critical, Priority::Default, Priority::Sheddable].map(|p| {
                let label = ShedLabel {
                    route: route.to_owned(),
                    cause: c.as_str(),
                    priority: p.as_str(),
                };
                families.shed.get_or_create(&label).clone()
            })
        });
        let would_shed = causes.map(|c| {
            let label = CauseLabel {
                route: route.to_owned(),
                cause: c.as_str(),
            };
            families.would_shed.get_or_create(&label).clone()
        });
        AdmissionMetrics {
            congested: families.congested.get_or_create(&r).clone(),
            parked: families.parked.get_or_create(&r).clone(),
            would_shed,
            limit: families.limit.get_or_create(&r).clone(),
            in_flight: families.in_flight.get_or_create(&r).clone(),
            queue_depth: families.queue_depth.get_or_create(&r).clone(),
            queue_time: families.queue_time.get_or_create(&r).clone(),
            retry_after: families.retry_after.get_or_create(&r).clone(),
            admitted,
            shed,
        }
    }

    pub(crate) fn admitted(&self, p: Priority, waited: std::time::Duration) {
        self.admitted[p as usize].inc();
        if !waited.is_zero() {
            self.queue_time.observe(waited.as_secs_f64());
        }
    }

    pub(crate) fn shed(&self, cause: ShedCause, p: Priority, retry_after: std::time::Duration) {
        // Under overload most requests are shed: no label lookup here.
        self.shed[cause as usize][p as usize].inc();
        self.retry_after.observe(retry_after.as_secs_f64());
    }

    pub(crate) fn would_shed(&self, cause: ShedCause, _p: Priority) {
        self.would_shed[cause as usize].inc();
    }
}
