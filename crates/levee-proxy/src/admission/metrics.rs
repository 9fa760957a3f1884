//! Admission metrics, registered per route when a snapshot is built.
//!
//! `levee_admission_limit`, `_in_flight`, `_queue_depth` (gauges),
//! `_queue_seconds` and `_retry_after_seconds` (histograms),
//! `_admitted_total{priority}` and `_shed_total{cause,priority}`.

use std::sync::atomic::AtomicI64;

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
}

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
    admitted: [Counter; 3],
    shed: [[Counter; 3]; 5],
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
        AdmissionMetrics {
            limit: families.limit.get_or_create(&r).clone(),
            in_flight: families.in_flight.get_or_create(&r).clone(),
            queue_depth: families.queue_depth.get_or_create(&r).clone(),
            queue_time: families.queue_time.get_or_create(&r).clone(),
            retry_after: families.retry_after.get_or_create(&r).clone(),
            admitted,
            shed,
        }
    }

    pub(crate) fn admitted(&self, p: Priority) {
        self.admitted[p as usize].inc();
    }

    pub(crate) fn shed(&self, cause: ShedCause, p: Priority) {
        // Under overload most requests are shed: no label lookup here.
        self.shed[cause as usize][p as usize].inc();
    }
}
