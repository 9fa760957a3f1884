//! The false-shed benchmark's workloads: everyday traffic that a healthy
//! service has room for. Every class issue 19 lists, and three more.
//!
//! Data only: each workload is an upstream and the streams to send at it;
//! `mod.rs` runs them. `scale` shortens every duration, idle time and
//! request count for a quick look (1 is the benchmark as published).

use std::time::Duration;

use anyhow::Context;
use levee_sim::load::{Paths, Schedule, Stream};
use levee_sim::upstream::{Upstream, UpstreamHandle};

/// The service behind the gateway.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Service {
    /// levee-sim's unlimited upstream: takes any number of requests at once,
    /// each as long as its path says. Behind it, every 503 is a false shed.
    Unlimited,
    /// levee-sim's sample upstream of known capacity.
    Workers {
        workers: usize,
        service_time: Duration,
    },
}

impl Service {
    /// Starts a fresh one on a free loopback port.
    pub(crate) async fn start(self) -> anyhow::Result<UpstreamHandle> {
        let builder = match self {
            Self::Unlimited => Upstream::builder().unlimited(),
            Self::Workers {
                workers,
                service_time,
            } => Upstream::builder()
                .workers(workers)
                .service_time(service_time)
                .service_jitter(0.05),
        };
        builder.start().await.context("starting the upstream")
    }
}

/// One workload.
#[derive(Clone, Debug)]
pub(crate) struct Workload {
    /// Its name in the report.
    pub(crate) name: String,
    pub(crate) service: Service,
    pub(crate) streams: Vec<Stream>,
    /// The labels of the streams whose latency the report shows (the short
    /// requests); every stream when empty.
    pub(crate) short: Vec<String>,
}

impl Workload {
    fn new(name: impl Into<String>, streams: Vec<Stream>) -> Self {
        Self {
            name: name.into(),
            service: Service::Unlimited,
            streams,
            short: Vec::new(),
        }
    }

    /// Only the streams labelled so count as short requests.
    fn short(mut self, labels: &[&str]) -> Self {
        self.short = labels.iter().map(|l| (*l).to_owned()).collect();
        self
    }
}

/// How long a client waits for an ordinary request before it gives up.
pub(crate) const DEADLINE: Duration = Duration::from_secs(5);

/// How long a client waits for a long-poll or an event stream to end.
pub(crate) const LONG_DEADLINE: Duration = Duration::from_secs(30);

/// Every workload, in report order, with durations, idle times and request
/// counts multiplied by `scale`.
pub(crate) fn all(scale: f64) -> Vec<Workload> {
    let scale = if scale.is_finite() {
        scale.clamp(0.01, 1.0)
    } else {
        1.0
    };
    let secs = |s: f64| Duration::from_secs_f64(s * scale);
    let count = |n: usize| ((n as f64 * scale).round() as usize).max(1);
    let poisson = |rate: f64, s: f64| Stream::new(Schedule::constant(rate, secs(s)));
    // Short requests start a moment after the long ones they run beside.
    let beside_long = || {
        poisson(40.0, 10.0)
            .path("/api/ms/10")
            .label("short")
            .starting_at(Duration::from_millis(200))
    };
    let long = |path: String, label: &str| {
        Stream::clients(30, 1)
            .path(path)
            .label(label)
            .deadline(LONG_DEADLINE)
    };
    vec![
        Workload::new(
            "8 clients × 30 requests, 50 ms (closed loop)",
            vec![Stream::clients(8, count(30)).path("/ms/50")],
        ),
        Workload::new(
            "64 clients at once × 20 requests, 50 ms (closed loop, all start together)",
            vec![Stream::clients(64, count(20)).path("/ms/50")],
        ),
        Workload::new(
            "~600 req/s of 100 ms (Poisson, 10 s)",
            vec![poisson(600.0, 10.0).path("/ms/100")],
        ),
        Workload::new(
            "2,000 req/s of 200 ms (Poisson, 5 s: ~400 in flight)",
            vec![poisson(2000.0, 5.0).path("/ms/200")],
        ),
        Workload::new(
            "API with a slow report endpoint: 90% `/users/ms/5`, 10% `/reports/ms/800`, 60 req/s, 10 s",
            vec![
                poisson(54.0, 10.0).path("/users/ms/5").label("users"),
                poisson(6.0, 10.0).path("/reports/ms/800").label("reports"),
            ],
        )
        .short(&["users"]),
        Workload::new(
            "one path pattern, 95% 3 ms / 5% 500 ms (`/items/ms/3`, `/items/ms/500`), 50 req/s, 10 s",
            vec![
                poisson(47.5, 10.0).path("/items/ms/3").label("fast"),
                poisson(2.5, 10.0).path("/items/ms/500").label("slow"),
            ],
        )
        .short(&["fast"]),
        Workload::new(
            "heavy-tailed latency: `/api/ms/N`, N log-normal (mean 40 ms, cv 1.5), 300 req/s, 10 s",
            vec![poisson(300.0, 10.0).paths(Paths::LogNormal {
                prefix: "/api/ms/".to_owned(),
                mean: 40.0,
                cv: 1.5,
            })],
        ),
        Workload::new(
            "30 long-polls (`/poll/ms/10000`) open + 40 req/s of 10 ms for 10 s",
            vec![
                long(format!("/poll/ms/{}", secs(10.0).as_millis()), "long-poll"),
                beside_long(),
            ],
        )
        .short(&["short"]),
        Workload::new(
            "30 SSE clients (`/sse/10`) + 40 req/s of 10 ms for 10 s",
            vec![
                long(format!("/events/sse/{}", secs(10.0).as_secs().max(1)), "events"),
                beside_long(),
            ],
        )
        .short(&["short"]),
        Workload::new(
            "warm 8 s (20 req/s of 30 ms), idle 30 s, then 32 clients at once × 10 requests",
            vec![
                poisson(20.0, 8.0).path("/ms/30").label("warm"),
                Stream::clients(32, count(10))
                    .path("/ms/30")
                    .label("burst")
                    .starting_at(secs(38.0)),
            ],
        ),
        Workload {
            service: Service::Workers {
                workers: 8,
                service_time: Duration::from_millis(20),
            },
            ..Workload::new(
                "8-worker upstream (20 ms) at half its capacity (200 req/s Poisson, 10 s)",
                vec![poisson(200.0, 10.0)],
            )
        },
        Workload::new(
            "a step after a quiet spell: 10 req/s, then 1,000 req/s of 100 ms (Poisson, 2 s + 5 s)",
            vec![Stream::new(
                Schedule::constant(10.0, secs(2.0)).then(1000.0, secs(5.0)),
            )
            .path("/ms/100")],
        ),
        many_endpoints(secs(10.0)),
    ]
}

/// 40 endpoints of 2 to 400 ms (each its own path, so more request classes
/// than the 32 Levee keeps per route: the rest share one), 200 req/s in
/// all, for `span`; the short ones are those of 10 ms or less.
fn many_endpoints(span: Duration) -> Workload {
    const N: usize = 40;
    let mut streams = Vec::with_capacity(N);
    let mut short = Vec::new();
    for i in 0..N {
        // Geometric from 2 ms to 400 ms.
        let ms = (2.0 * 200f64.powf(i as f64 / (N - 1) as f64)).round() as u64;
        let label = format!("e{i}");
        if ms <= 10 {
            short.push(label.clone());
        }
        streams.push(
            Stream::new(Schedule::constant(200.0 / N as f64, span))
                .path(format!("/endpoint-{i}/ms/{ms}"))
                .label(label),
        );
    }
    Workload {
        short,
        ..Workload::new(
            "40 endpoints of 2–400 ms (more than the 32 classes Levee keeps), 200 req/s, 10 s",
            streams,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workload_is_bounded_and_its_short_requests_exist() {
        for w in all(1.0) {
            assert!(!w.streams.is_empty(), "{}", w.name);
            let plan = crate::leg::load_plan(
                std::net::SocketAddr::from(([127, 0, 0, 1], 9)),
                DEADLINE,
                1,
                w.streams.clone(),
            );
            let labels = plan.labels();
            for short in &w.short {
                assert!(labels.contains(short), "{}: no stream {short}", w.name);
            }
            assert!(plan.duration() <= Duration::from_secs(40), "{}", w.name);
        }
        assert_eq!(all(1.0).len(), 13);
    }

    #[test]
    fn scale_shortens_everything() {
        let quick = all(0.1);
        let in_flight: f64 = quick[0]
            .streams
            .iter()
            .map(|s| s.peak_in_flight(DEADLINE))
            .sum();
        assert_eq!(in_flight, 8.0, "as many clients, fewer requests each");
        let step = quick[11].streams[0].schedule().expect("a schedule");
        assert_eq!(step.duration(), Duration::from_millis(700));
    }
}
