//! Loopback traffic of known shape against upstreams of known capacity.
//!
//! levee-sim owns three things, used by `levee demo`, the integration tests and
//! the benchmarks in `bench/`:
//!
//! - [`upstream`]: a sample HTTP/1.1 upstream with N workers × S ms of service
//!   time. Excess requests wait for a worker, as in a thread-pool server's
//!   backlog, and a request whose client gave up still costs its worker, which
//!   is what makes an unprotected server collapse under overload. Service time,
//!   workers and faults (503, refused connections, slow answers, resets) can be
//!   changed while it runs, and it can crash and restart on the same port (an
//!   upstream outage). Or, unlimited, a service that is never overloaded:
//!   each request takes the time its path asks for (`/…/ms/N`, `/…/sse/N`),
//!   whatever else is in flight, so that a gateway's every 503 in front of it
//!   is a false one.
//! - [`load`]: an open-loop load generator: arrivals follow a schedule, never the
//!   responses; each request has a client deadline; every run is bounded in
//!   requests and in time and stops by itself. A stream can also be a few
//!   closed-loop clients (a burst of ordinary users), start later, draw its
//!   paths from a latency distribution, or wait longer (long-polls).
//! - [`report`]: per-second time series, summaries, tallies of a run below
//!   capacity, side-by-side text tables and a self-contained HTML report with
//!   SVG charts.
//!
//! It must not do anything but loopback traffic: it binds and connects to
//! `127.0.0.1` only, it never reads configuration files, and nothing in it runs
//! unbounded.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use levee_sim::{load, ms, report, upstream::Upstream};
//!
//! let upstream = Upstream::builder().workers(8).service_time(ms(20)).start().await?;
//! let plan = load::LoadPlan::new(upstream.addr())
//!     .stream(load::Stream::new(load::Schedule::constant(200.0, ms(2_000))));
//! let run = load::run(plan).await?;
//! let summary = report::Summary::of(&run, ms(500));
//! println!("{}", report::table(&[("direct", &summary)]));
//! upstream.shutdown().await;
//! # Ok(()) }
//! ```

pub mod load;
pub mod report;
pub mod upstream;

use std::time::Duration;

/// `Duration::from_millis`, short enough to read well in scenarios.
pub fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}
