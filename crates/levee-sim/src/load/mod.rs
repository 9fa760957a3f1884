//! Open-loop load: requests on a schedule, independent of the responses.
//!
//! A closed-loop generator (N clients, each waiting for its answer before the
//! next request) slows down when the target slows down, and so never shows a
//! collapse. Here arrivals follow a [`Schedule`] (Poisson or evenly spaced,
//! piecewise-constant rate, e.g. 0.5× → 4× → 0.5× capacity), each request
//! has a client deadline after which the client gives up and counts a
//! timeout, and latency counts from the scheduled time.
//!
//! A [`LoadPlan`] holds one or more [`Stream`]s (e.g. one per tenant, with its
//! own header), a loopback target and bounds (requests, duration,
//! connections); [`run`] executes it and returns a [`Run`] of
//! [`RequestRecord`]s; [`start`] does the same with live [`Progress`].
//!
//! Ordinary traffic below capacity has shapes a schedule does not give, so a
//! stream can also be a few closed-loop clients ([`Stream::clients`]: N
//! clients start together, each sending M requests back to back, a burst of
//! real users), start later in the run ([`Stream::starting_at`]: warm, idle,
//! then a burst), draw each request's path ([`Paths`]: latencies of a
//! heavy-tailed distribution) and wait longer than the plan's deadline
//! ([`Stream::deadline`]: long-polls, event streams).
//!
//! When is the generator the bottleneck? Each request in flight holds its own
//! HTTP/1.1 connection, so it needs about rate × deadline connections (4× of
//! 400 req/s with a 1 s deadline: 1 600); past `max_connections` requests
//! fail as [`Failure::Saturated`]. Its own lateness is recorded per request
//! ([`RequestRecord::lag`]); a p99 lag above a few milliseconds means the
//! machine, not the target, is short of CPU.
//!
//! This module must not talk to anything but loopback, and must not run
//! unbounded.

mod driver;
mod plan;
mod pool;
mod record;
mod schedule;

use std::net::SocketAddr;

pub use driver::{LoadRun, Progress, run, start};
pub use plan::{LoadPlan, PRIORITY_HEADER, Paths, Stream, TENANT_HEADER};
pub use record::{Failure, Outcome, RequestRecord, Run};
pub use schedule::{Phase, Schedule, Spacing};

/// Why a load run could not start, or ended badly.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The target is not a loopback address.
    #[error("load targets loopback only, not {0}")]
    NotLoopback(SocketAddr),
    /// More streams than a record can name.
    #[error("{0} streams is more than 65535")]
    TooManyStreams(usize),
    /// A path that is not origin-form.
    #[error("the request path {0:?} does not start with '/'")]
    Path(String),
    /// A header that cannot be sent.
    #[error("the header {0:?}: {1:?} is not valid HTTP")]
    Header(String, String),
    /// The dispatcher panicked (a bug).
    #[error("the load dispatcher panicked: {0}")]
    Panicked(String),
}
