//! What a load run sends: streams of requests (each with its schedule, path
//! and headers, e.g. one per tenant) against one loopback target, within
//! bounds.
//!
//! Plain data and validation; the driver in `driver.rs` executes it.

use std::net::SocketAddr;
use std::time::Duration;

use http::{HeaderName, HeaderValue};

use super::schedule::{Schedule, Spacing};

/// The tenant header the benchmarks and the demo send (`x-tenant`).
pub const TENANT_HEADER: &str = "x-tenant";
/// The priority header the benchmarks and the demo send (`x-priority`).
pub const PRIORITY_HEADER: &str = "x-priority";

/// One stream of requests: a schedule, a spacing, a path and headers. Streams
/// of one plan run at the same time; reports can split a run by stream label.
#[derive(Clone, Debug)]
pub struct Stream {
    pub(crate) label: String,
    pub(crate) schedule: Schedule,
    pub(crate) spacing: Spacing,
    pub(crate) path: String,
    pub(crate) headers: Vec<(String, String)>,
}

impl Stream {
    /// `GET /` on `schedule`, Poisson arrivals, labelled `all`.
    pub fn new(schedule: Schedule) -> Self {
        Self {
            label: "all".to_owned(),
            schedule,
            spacing: Spacing::Poisson,
            path: "/".to_owned(),
            headers: Vec::new(),
        }
    }

    /// Names the stream in reports.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// How arrivals are spread (default Poisson).
    pub fn spacing(mut self, spacing: Spacing) -> Self {
        self.spacing = spacing;
        self
    }

    /// The request path and query (default `/`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Adds a request header (checked when the run starts).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sends [`TENANT_HEADER`]: `tenant`.
    pub fn tenant(self, tenant: impl Into<String>) -> Self {
        self.header(TENANT_HEADER, tenant)
    }

    /// Sends [`PRIORITY_HEADER`]: `priority` (`critical`, `default`, `sheddable`).
    pub fn priority(self, priority: impl Into<String>) -> Self {
        self.header(PRIORITY_HEADER, priority)
    }

    /// The schedule of this stream.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }
}

/// A whole load run: a loopback target, streams, a client deadline, bounds.
#[derive(Clone, Debug)]
pub struct LoadPlan {
    pub(crate) target: SocketAddr,
    pub(crate) host: Option<String>,
    pub(crate) streams: Vec<Stream>,
    pub(crate) deadline: Duration,
    pub(crate) max_requests: usize,
    pub(crate) max_duration: Duration,
    pub(crate) max_connections: usize,
    pub(crate) seed: u64,
}

impl LoadPlan {
    /// No streams yet; a 1 s client deadline; at most 200 000 requests, 10
    /// minutes of schedule and 4 096 open connections; seed 1.
    pub fn new(target: SocketAddr) -> Self {
        Self {
            target,
            host: None,
            streams: Vec::new(),
            deadline: Duration::from_secs(1),
            max_requests: 200_000,
            max_duration: Duration::from_secs(600),
            max_connections: 4096,
            seed: 1,
        }
    }

    /// Adds a stream.
    pub fn stream(mut self, stream: Stream) -> Self {
        self.streams.push(stream);
        self
    }

    /// The `Host` header (default: the target address).
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// How long a client waits for the whole response before it gives up and
    /// counts a timeout (default 1 s), from the request's scheduled time.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Sends at most `n` requests: arrivals past the first `n` are dropped.
    pub fn max_requests(mut self, n: usize) -> Self {
        self.max_requests = n;
        self
    }

    /// Sends nothing scheduled at or after `d`; the run ends at most one
    /// deadline later.
    pub fn max_duration(mut self, d: Duration) -> Self {
        self.max_duration = d;
        self
    }

    /// At most `n` connections open at once. A request that finds none free
    /// and cannot open one counts as [`super::Failure::Saturated`]: the
    /// generator, not the target, was the bottleneck. Every request in flight
    /// needs its own connection (HTTP/1.1), so `n` must exceed rate × deadline.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// The seed of the Poisson arrivals (stream `i` uses `seed + i`).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The labels of the streams, in order.
    pub fn labels(&self) -> Vec<String> {
        self.streams.iter().map(|s| s.label.clone()).collect()
    }

    /// The longest stream schedule, cut at `max_duration`.
    pub fn duration(&self) -> Duration {
        let longest = self.streams.iter().map(|s| s.schedule.duration()).max();
        longest.unwrap_or_default().min(self.max_duration)
    }

    /// All arrivals of all streams, merged in time order as (time, stream
    /// index), within the bounds.
    pub(crate) fn arrivals(&self) -> Vec<(Duration, u16)> {
        let mut all: Vec<(Duration, u16)> = Vec::new();
        for (i, stream) in self.streams.iter().enumerate() {
            let index = u16::try_from(i).unwrap_or(u16::MAX);
            let seed = self.seed.wrapping_add(i as u64);
            let times = stream.schedule.arrivals(stream.spacing, seed);
            all.extend(times.into_iter().map(|t| (t, index)));
        }
        all.sort_by_key(|(t, i)| (*t, *i));
        all.retain(|(t, _)| *t < self.max_duration);
        all.truncate(self.max_requests);
        all
    }

    /// Checks what cannot be checked while building.
    pub(crate) fn validate(&self) -> Result<(), super::LoadError> {
        use super::LoadError;
        if !self.target.ip().is_loopback() {
            return Err(LoadError::NotLoopback(self.target));
        }
        if self.streams.len() > usize::from(u16::MAX) {
            return Err(LoadError::TooManyStreams(self.streams.len()));
        }
        for stream in &self.streams {
            if !stream.path.starts_with('/') {
                return Err(LoadError::Path(stream.path.clone()));
            }
            for (name, value) in &stream.headers {
                let ok = HeaderName::try_from(name.as_str()).is_ok()
                    && HeaderValue::try_from(value.as_str()).is_ok();
                if !ok {
                    return Err(LoadError::Header(name.clone(), value.clone()));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn addr() -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, 9))
    }

    #[test]
    fn arrivals_merge_streams_in_order_within_bounds() {
        let s = Schedule::constant(100.0, Duration::from_secs(1));
        let plan = LoadPlan::new(addr())
            .stream(Stream::new(s.clone()).spacing(Spacing::Uniform).label("a"))
            .stream(Stream::new(s).spacing(Spacing::Uniform).label("b"));
        let all = plan.arrivals();
        assert_eq!(all.len(), 200);
        assert!(all.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(plan.clone().max_requests(7).arrivals().len(), 7);
        let half = plan.max_duration(Duration::from_millis(500)).arrivals();
        assert_eq!(half.len(), 100);
    }

    #[test]
    fn validation_rejects_what_cannot_be_sent() {
        let s = Schedule::constant(1.0, Duration::from_secs(1));
        let far = SocketAddr::from((Ipv4Addr::new(10, 0, 0, 1), 80));
        assert!(LoadPlan::new(far).validate().is_err());
        let bad_path = LoadPlan::new(addr()).stream(Stream::new(s.clone()).path("x"));
        assert!(bad_path.validate().is_err());
        let bad_header = LoadPlan::new(addr()).stream(Stream::new(s.clone()).tenant("a\nb"));
        assert!(bad_header.validate().is_err());
        let good = LoadPlan::new(addr()).stream(Stream::new(s).tenant("a").priority("critical"));
        assert!(good.validate().is_ok());
    }
}
