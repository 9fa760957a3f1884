//! What a load run sends: streams of requests (each with its schedule, path
//! and headers, e.g. one per tenant) against one loopback target, within
//! bounds.
//!
//! Plain data and validation; the driver in `driver.rs` executes it.

use std::net::SocketAddr;
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use rand::Rng;
use rand::rngs::StdRng;

use super::schedule::{Schedule, Spacing};

/// The tenant header the benchmarks and the demo send (`x-tenant`).
pub const TENANT_HEADER: &str = "x-tenant";
/// The priority header the benchmarks and the demo send (`x-priority`).
pub const PRIORITY_HEADER: &str = "x-priority";

/// One stream of requests: who sends them (a schedule, or closed-loop
/// clients), when it starts, their paths, headers and client deadline.
/// Streams of one plan run at the same time; reports can split a run by
/// stream label.
#[derive(Clone, Debug)]
pub struct Stream {
    pub(crate) label: String,
    pub(crate) senders: Senders,
    pub(crate) start: Duration,
    pub(crate) paths: Paths,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) deadline: Option<Duration>,
}

/// Who sends a stream's requests.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Senders {
    /// Open loop: one request per arrival of the schedule, whatever became
    /// of the earlier ones.
    Schedule {
        schedule: Schedule,
        spacing: Spacing,
    },
    /// Closed loop: `clients` clients start together, and each sends `each`
    /// requests one after the other, the next as soon as the previous ended.
    Clients { clients: usize, each: usize },
}

/// The path of each request of a stream.
#[derive(Clone, Debug, PartialEq)]
pub enum Paths {
    /// Every request asks for this path (and query).
    Fixed(String),
    /// `{prefix}{N}`, N drawn for each request from a log-normal
    /// distribution of this mean and coefficient of variation (standard
    /// deviation ÷ mean), rounded to a whole number. With the unlimited
    /// upstream's `…/ms/` prefix, request latencies of that distribution: a
    /// heavy tail.
    LogNormal {
        /// What comes before the number, e.g. `/api/ms/`.
        prefix: String,
        /// The mean of N.
        mean: f64,
        /// The coefficient of variation of N.
        cv: f64,
    },
}

impl Paths {
    /// One request's path.
    pub(crate) fn draw(&self, rng: &mut StdRng) -> String {
        match self {
            Self::Fixed(path) => path.clone(),
            Self::LogNormal { prefix, mean, cv } => {
                // ln N ~ Normal(mu, sigma²) with E[N] = mean, sd/mean = cv.
                let sigma2 = (1.0 + cv * cv).ln();
                let mu = mean.max(f64::MIN_POSITIVE).ln() - sigma2 / 2.0;
                // Box–Muller; 1 - u lies in (0, 1], so the logarithm is finite.
                let (u, v): (f64, f64) = (rng.random(), rng.random());
                let z = (-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos();
                let n = (mu + sigma2.sqrt() * z).exp().round();
                format!("{prefix}{}", n.clamp(0.0, u64::MAX as f64) as u64)
            }
        }
    }

    /// The path, or the prefix, that must be origin-form.
    fn origin(&self) -> &str {
        match self {
            Self::Fixed(path) => path,
            Self::LogNormal { prefix, .. } => prefix,
        }
    }
}

impl Stream {
    /// `GET /` on `schedule` (open loop), Poisson arrivals, labelled `all`.
    pub fn new(schedule: Schedule) -> Self {
        Self::with(Senders::Schedule {
            schedule,
            spacing: Spacing::Poisson,
        })
    }

    /// `GET /` from `clients` closed-loop clients that start together, each
    /// sending `each` requests back to back (the next as soon as the
    /// previous one ended, however it ended), labelled `all`. A client waits
    /// for the target, so this shows what a burst of ordinary clients meets,
    /// not a collapse: use [`Stream::new`] for overload.
    pub fn clients(clients: usize, each: usize) -> Self {
        Self::with(Senders::Clients { clients, each })
    }

    fn with(senders: Senders) -> Self {
        Self {
            label: "all".to_owned(),
            senders,
            start: Duration::ZERO,
            paths: Paths::Fixed("/".to_owned()),
            headers: Vec::new(),
            deadline: None,
        }
    }

    /// Names the stream in reports.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// How arrivals are spread (default Poisson); no effect on closed-loop
    /// clients.
    pub fn spacing(mut self, spacing: Spacing) -> Self {
        if let Senders::Schedule { spacing: s, .. } = &mut self.senders {
            *s = spacing;
        }
        self
    }

    /// Starts the stream `offset` after the run starts (default at once).
    pub fn starting_at(mut self, offset: Duration) -> Self {
        self.start = offset;
        self
    }

    /// The request path and query (default `/`).
    pub fn path(self, path: impl Into<String>) -> Self {
        self.paths(Paths::Fixed(path.into()))
    }

    /// How each request's path is chosen.
    pub fn paths(mut self, paths: Paths) -> Self {
        self.paths = paths;
        self
    }

    /// This stream's client deadline, instead of the plan's: for long-polls
    /// and event streams, which take longer than ordinary requests by design.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
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

    /// The schedule of this stream (`None` for closed-loop clients).
    pub fn schedule(&self) -> Option<&Schedule> {
        match &self.senders {
            Senders::Schedule { schedule, .. } => Some(schedule),
            Senders::Clients { .. } => None,
        }
    }

    /// The most requests it can have in flight at once: its clients, or
    /// its schedule's highest rate × its deadline (`deadline` when it has
    /// none of its own).
    pub fn peak_in_flight(&self, deadline: Duration) -> f64 {
        let deadline = self.deadline.unwrap_or(deadline).as_secs_f64();
        match &self.senders {
            Senders::Schedule { schedule, .. } => {
                let peak = schedule.phases().iter().map(|p| p.rate).fold(0.0, f64::max);
                peak * deadline
            }
            Senders::Clients { clients, .. } => *clients as f64,
        }
    }

    /// When its last request is sent at the latest, from the start of the
    /// run: the end of its schedule, or its start for clients (whose
    /// requests follow one another from there).
    fn end(&self) -> Duration {
        match &self.senders {
            Senders::Schedule { schedule, .. } => self.start + schedule.duration(),
            Senders::Clients { .. } => self.start,
        }
    }
}

/// When a client starts: `requests` requests of stream `stream`, the first at
/// `at` from the start of the run, each next one when the previous ended.
/// An open-loop arrival is a client of one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Arrival {
    pub(crate) at: Duration,
    pub(crate) stream: u16,
    pub(crate) requests: usize,
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
    /// counts a timeout (default 1 s), from the request's scheduled time;
    /// a stream may set its own ([`Stream::deadline`]).
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Sends at most `n` requests: arrivals past the first `n` are dropped
    /// (a closed-loop client counts as many as it sends).
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

    /// Until the last scheduled send or client start of any stream, cut at
    /// `max_duration`.
    pub fn duration(&self) -> Duration {
        let longest = self.streams.iter().map(Stream::end).max();
        longest.unwrap_or_default().min(self.max_duration)
    }

    /// The client deadline of the stream at `index`.
    pub(crate) fn deadline_of(&self, index: usize) -> Duration {
        self.streams
            .get(index)
            .and_then(|s| s.deadline)
            .unwrap_or(self.deadline)
    }

    /// Every client of every stream, merged in time order, within the
    /// bounds: nothing starts at or after `max_duration`, and the clients
    /// send `max_requests` requests at most in all.
    pub(crate) fn arrivals(&self) -> Vec<Arrival> {
        let mut all: Vec<Arrival> = Vec::new();
        for (i, stream) in self.streams.iter().enumerate() {
            let index = u16::try_from(i).unwrap_or(u16::MAX);
            let arrival = |at: Duration, requests: usize| Arrival {
                at: stream.start + at,
                stream: index,
                requests,
            };
            match &stream.senders {
                Senders::Schedule { schedule, spacing } => {
                    let seed = self.seed.wrapping_add(i as u64);
                    let times = schedule.arrivals(*spacing, seed);
                    all.extend(times.into_iter().map(|t| arrival(t, 1)));
                }
                Senders::Clients { clients, each } => {
                    all.extend((0..*clients).map(|_| arrival(Duration::ZERO, *each)));
                }
            }
        }
        all.sort_by_key(|a| (a.at, a.stream));
        all.retain(|a| a.at < self.max_duration && a.requests > 0);
        let mut budget = self.max_requests;
        all.retain_mut(|a| {
            a.requests = a.requests.min(budget);
            budget -= a.requests;
            a.requests > 0
        });
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
            if !stream.paths.origin().starts_with('/') {
                return Err(LoadError::Path(stream.paths.origin().to_owned()));
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
        assert!(all.windows(2).all(|w| w[0].at <= w[1].at));
        assert_eq!(plan.clone().max_requests(7).arrivals().len(), 7);
        let half = plan.max_duration(Duration::from_millis(500)).arrivals();
        assert_eq!(half.len(), 100);
    }

    #[test]
    fn clients_start_together_and_count_every_request_they_send() {
        let later = Duration::from_secs(3);
        let plan = LoadPlan::new(addr())
            .stream(Stream::clients(4, 10).starting_at(later).label("burst"))
            .stream(Stream::new(Schedule::constant(10.0, Duration::from_secs(1))).label("warm"));
        let all = plan.arrivals();
        let clients: Vec<&Arrival> = all.iter().filter(|a| a.stream == 0).collect();
        assert_eq!(clients.len(), 4);
        assert!(clients.iter().all(|a| a.at == later && a.requests == 10));
        assert_eq!(plan.duration(), later, "the last client starts at 3 s");
        let cut = plan.clone().max_requests(25).arrivals();
        let sent: usize = cut.iter().map(|a| a.requests).sum();
        assert_eq!(sent, 25, "the warm-up's ~10, then the clients up to 25");
        assert_eq!(
            Stream::clients(4, 10).peak_in_flight(Duration::from_secs(1)),
            4.0
        );
        assert_eq!(plan.deadline_of(0), Duration::from_secs(1));
        let long = LoadPlan::new(addr()).stream(Stream::clients(1, 1).deadline(later));
        assert_eq!(long.deadline_of(0), later);
    }

    #[test]
    fn log_normal_paths_have_the_mean_and_a_heavy_tail() {
        use rand::SeedableRng;
        let paths = Paths::LogNormal {
            prefix: "/api/ms/".to_owned(),
            mean: 40.0,
            cv: 1.5,
        };
        let mut rng = StdRng::seed_from_u64(5);
        let mut n: Vec<f64> = (0..20_000)
            .map(|_| {
                let path = paths.draw(&mut rng);
                let n = path.strip_prefix("/api/ms/").expect("the prefix");
                n.parse::<f64>().expect("a whole number")
            })
            .collect();
        let mean = n.iter().sum::<f64>() / n.len() as f64;
        assert!((36.0..44.0).contains(&mean), "mean {mean}");
        n.sort_by(f64::total_cmp);
        let (median, p99) = (n[n.len() / 2], n[n.len() * 99 / 100]);
        assert!(median < 30.0 && p99 > 200.0, "median {median}, p99 {p99}");
        assert_eq!(Paths::Fixed("/a".into()).draw(&mut rng), "/a");
    }

    #[test]
    fn validation_rejects_what_cannot_be_sent() {
        let s = Schedule::constant(1.0, Duration::from_secs(1));
        let far = SocketAddr::from((Ipv4Addr::new(10, 0, 0, 1), 80));
        assert!(LoadPlan::new(far).validate().is_err());
        let bad_path = LoadPlan::new(addr()).stream(Stream::new(s.clone()).path("x"));
        assert!(bad_path.validate().is_err());
        let bad_prefix =
            LoadPlan::new(addr()).stream(Stream::new(s.clone()).paths(Paths::LogNormal {
                prefix: "ms/".into(),
                mean: 1.0,
                cv: 1.0,
            }));
        assert!(bad_prefix.validate().is_err());
        let bad_header = LoadPlan::new(addr()).stream(Stream::new(s.clone()).tenant("a\nb"));
        assert!(bad_header.validate().is_err());
        let good = LoadPlan::new(addr()).stream(Stream::new(s).tenant("a").priority("critical"));
        assert!(good.validate().is_ok());
    }
}
