//! Concurrency limiters: how many requests may be in flight to an upstream at once.
//!
//! This module owns the *estimate* of an upstream's concurrency limit, learned from
//! what the gateway observes: each completed request's round-trip time, how many
//! requests were in flight when it started, and whether it was dropped. It does not
//! count in-flight requests, queue, or shed (the gateway's admission does, holding
//! one limiter per route, inside the route's admission core, behind its own lock);
//! it never reads the clock.
//!
//! # The idea
//!
//! By Little's law an upstream with `C` workers and service time `S` completes
//! `C / S` requests a second however many we send; everything above `C` in flight
//! only waits in *its* queue, where we cannot prioritise, reorder or shed it. So the
//! right limit is "about `C`", and `C` shows itself in latency: below it, RTT stays
//! at the no-load RTT; above it, RTT grows with every extra request. The limiters
//! compare the RTT they see against the no-load RTT and move the limit like TCP
//! moves its congestion window.
//!
//! | limiter | signal | settles at | use when |
//! | --- | --- | --- | --- |
//! | [`Fixed`] | none | the number you chose | you know the capacity, or for comparison |
//! | [`Aimd`] | drops and timeouts | just below where the upstream starts failing | latency is unreadable, but the upstream sheds (503) when full |
//! | [`Adaptive`] | evidence of congestion, then per-class latency ratio | no bound without evidence; `tolerance × C + queue_size` under congestion | **the gateway default** |
//! | [`Gradient2`] | recent RTT ÷ no-load RTT | about `tolerance × C + queue_size` | the classic default: a limit that always binds |
//! | [`Vegas`] | estimated queue = `limit × (1 − no-load/RTT)` | `C` + a few requests | steady latencies, modest limits |
//!
//! Measured on the test simulation (an upstream of `C` workers, log-normal service
//! times of 50 ms, unlimited demand from the start, default settings; goodput as a
//! fraction of capacity, latency as a multiple of the service time, seconds 10–30
//! of a 30 s run):
//!
//! | upstream | Gradient2 goodput / latency / limit÷C | Vegas goodput / latency / limit÷C |
//! | --- | --- | --- |
//! | C = 8, cv 0.3 | 1.00 / 1.21 / 1.22 | 1.00 / 1.62 / 1.62 |
//! | C = 8, cv 0.8 | 1.01 / 1.19 / 1.20 | 1.01 / 1.56 / 1.57 |
//! | C = 100, cv 0.3 | 1.00 / 1.21 / 1.21 | 1.00 / 1.12 / 1.12 |
//! | C = 100, cv 0.8 | 1.00 / 1.16 / 1.16 | 0.99 / 1.09 / 1.08 |
//! | C = 1000, cv 0.3 | 1.00 / 1.20 / 1.20 | 1.00 / 1.05 / 1.05 |
//! | C = 1000, cv 0.8 | 1.00 / 1.15 / 1.15 | **0.49** / 1.00 / 0.49 |
//!
//! Vegas is tighter where latency is steady and the limit large, but its
//! thresholds are counted in requests: at small limits it keeps a standing queue
//! of several requests (1.6 × the capacity at C = 8, the overload benchmark's
//! upstream), and at large limits the noise of the RTT estimates reads as
//! queueing and it starves the upstream. Gradient2's target is relative, so it
//! behaves the same at every scale: that is why the default, [`Adaptive`], steers
//! like it once there is evidence of congestion. End to end, on
//! the overload benchmark, see `docs/admission.md`.
//!
//! # What Levee changes from Netflix's concurrency-limits
//!
//! [`Gradient2`] and [`Vegas`] follow Netflix's designs, with changes that the
//! simulation and the overload benchmark showed to be necessary. Without them,
//! Netflix's Gradient2 either shrank to a quarter of capacity (tolerance 1) or
//! drifted to its maximum with ten times the latency (tolerance 1.5), and Vegas
//! settled at a tenth of capacity:
//!
//! 1. **Updates are per round trip, not per sample.** A limiter sees `limit` samples
//!    per RTT, all describing the concurrency of one RTT ago; applying a full step
//!    per sample over-corrects `limit`-fold and oscillates. Each sample moves the
//!    limit by `1/limit` of the per-round-trip step, as TCP does per ACK, and the
//!    RTT compared is the average over the last round trip, as in TCP Vegas.
//! 2. **The no-load RTT is measured, not absorbed.** Netflix's long-term average
//!    absorbs queueing delay under sustained overload, so the limit drifts up until
//!    the upstream times out; Netflix's Vegas uses the minimum sample, far below the
//!    typical no-load RTT when latency is noisy. Here the no-load RTT only learns
//!    from samples taken at low concurrency: when the gateway is below half its
//!    limit anyway, or during a short *probe* (the limit is halved for about six
//!    RTTs, every 30 s or so of sustained load), as BBR's ProbeRTT and Envoy's
//!    adaptive concurrency do. The first probe runs at the initial limit.
//! 3. **A probe that queued looks lower.** A probe at a concurrency the upstream
//!    cannot take measures its queue, not its no-load RTT: a first probe at
//!    Netflix's initial limit of 20 against 8 workers measured 2.5 × the service
//!    time, and both limiters then settled at ~3.3 × the capacity (in the
//!    benchmark: a limit of 26 and 108 ms p99 where 25 ms was possible). So the
//!    first probe, and any probe that measures more than the estimate it
//!    checks, halves again until halving no longer cuts the RTT; the limit then
//!    starts again from no higher than the lowest concurrency seen queueing.
//! 4. **Low start, slow start.** The initial limit is 4, the minimum, so that the
//!    first probe is below almost any upstream's capacity; Gradient2 then grows at
//!    its largest gradient (+20% a round trip) until the RTT has stayed above the
//!    tolerance for a round trip, and goes to the gradient's target at once. (At
//!    the no-load RTT the gradient alone grows the limit by only a few percent a
//!    round trip.) A first probe at 4 averages few samples, so a second one
//!    follows after about 100 RTTs, at half the grown limit.
//! 5. **"App-limited" is judged at send time**: a sample sent with fewer than half
//!    the limit *then* in flight (not the limit when it completes, which in slow
//!    start may be several times higher).
//! 6. **Drops cut the limit**, multiplicatively and at most once per round trip: a
//!    503 or timeout is a more direct congestion signal than latency.
//!
//! Known limits: with very heavy-tailed latency (coefficient of variation 1.5) the
//! probes under-estimate the no-load RTT and Gradient2 can settle well below the
//! capacity (a third to 90% of it in the simulation, depending on the run; before
//! these changes, half to all of it); when the upstream suddenly gets several times
//! faster under sustained overload, the limit stays too high (latency near its old
//! level) until the next probes.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use levee_policy::limit::{Limiter, LimiterConfig, Sample};
//!
//! # #[allow(clippy::disallowed_methods)] let start = Instant::now();
//! let mut limiter = LimiterConfig::Gradient2(Default::default()).build()?;
//! let initial = limiter.limit();
//! let sample = Sample { rtt: Duration::from_millis(20), inflight: initial, limit: initial, dropped: false };
//! limiter.on_sample(start + Duration::from_millis(20), sample);
//! assert!(limiter.limit() >= 1);
//! # Ok::<(), levee_policy::ConfigError>(())
//! ```

pub mod adaptive;
mod aimd;
mod baseline;
mod fixed;
mod gradient2;
mod vegas;

#[cfg(test)]
mod sim;

use std::fmt;
use std::time::{Duration, Instant};

pub(crate) use adaptive::median_of;
pub use adaptive::{Adaptive, AdaptiveConfig, Evidence, Observation, Signal};
pub use aimd::{Aimd, AimdConfig};
pub use fixed::Fixed;
pub use gradient2::{Gradient2, Gradient2Config};
pub use vegas::{Vegas, VegasConfig};

use crate::ConfigError;
use crate::error::check_range;

/// The range every limiter's `backoff_ratio` (the factor a drop cuts the limit
/// by) must be in: `[0.5, 1)`.
fn check_backoff_ratio(ratio: f64) -> Result<(), ConfigError> {
    check_range(
        "backoff_ratio",
        ratio,
        0.5,
        0.999,
        "must be within [0.5, 1)",
    )
}

/// The range of a no-load RTT probe interval: `(0, 1 day]`.
fn check_probe_interval(interval: Duration) -> Result<(), ConfigError> {
    if interval.is_zero() || interval > baseline::MAX_INTERVAL {
        return Err(ConfigError::new(
            "probe_interval",
            interval,
            "must be within (0, 1 day]",
        ));
    }
    Ok(())
}

/// What the gateway learned from one completed (or failed) request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// From sending the request upstream (its body fully) to its response head (or
    /// failure).
    pub rtt: Duration,
    /// Requests in flight to this upstream when this one was sent, itself included.
    pub inflight: usize,
    /// The limit in force when this one was sent. With `inflight`, it tells
    /// whether the limit was what held traffic back then (the limit may have
    /// moved a lot by the time the answer comes back).
    pub limit: usize,
    /// The request failed in a way that signals congestion: a timeout, a connection
    /// error, or the upstream's own 503. Its `rtt` is not used as a latency sample.
    pub dropped: bool,
}

/// An algorithm that sets a concurrency limit from samples.
///
/// `on_sample` takes `&mut self`: the owner serialises access (one lock per
/// route, held for a few arithmetic operations).
pub trait Limiter: Send + Sync + fmt::Debug {
    /// Requests that may be in flight now. Always within the limiter's `[min, max]`.
    fn limit(&self) -> usize;

    /// Learns from one completed request at `now`.
    fn on_sample(&mut self, now: Instant, sample: Sample);

    /// The limiter's current estimate of the upstream's no-load RTT, if it keeps one
    /// (for metrics and diagnostics).
    fn no_load_rtt(&self) -> Option<Duration> {
        None
    }
}

/// Which limiter to build, with its settings. The default is [`Adaptive`] with
/// its defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LimiterConfig {
    /// Binds only on evidence of congestion; Gradient2's steering then.
    Adaptive(AdaptiveConfig),
    /// A constant limit.
    Fixed(usize),
    /// Additive increase, multiplicative decrease on drops.
    Aimd(AimdConfig),
    /// RTT gradient against the no-load RTT.
    Gradient2(Gradient2Config),
    /// Estimated upstream queue length, kept between two thresholds.
    Vegas(VegasConfig),
}

impl Default for LimiterConfig {
    fn default() -> Self {
        Self::Adaptive(AdaptiveConfig::default())
    }
}

impl LimiterConfig {
    /// Checks the chosen limiter's settings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self {
            Self::Adaptive(c) => c.validate(),
            Self::Fixed(n) => Fixed::new(*n).map(drop),
            Self::Aimd(c) => c.validate(),
            Self::Gradient2(c) => c.validate(),
            Self::Vegas(c) => c.validate(),
        }
    }

    /// Builds the limiter, or says which setting is out of range.
    pub fn build(&self) -> Result<Box<dyn Limiter>, ConfigError> {
        Ok(match self {
            Self::Adaptive(c) => Box::new(Adaptive::new(*c)?),
            Self::Fixed(n) => Box::new(Fixed::new(*n)?),
            Self::Aimd(c) => Box::new(Aimd::new(*c)?),
            Self::Gradient2(c) => Box::new(Gradient2::new(*c)?),
            Self::Vegas(c) => Box::new(Vegas::new(*c)?),
        })
    }
}

/// The `[min, max]` and starting point shared by the adaptive limiters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// The limit before any sample; also the concurrency of the first probe of the
    /// no-load RTT, so it should be at or below what the upstream can take.
    pub initial: usize,
    /// The limit never goes below this. At least 1.
    pub min: usize,
    /// The limit never goes above this.
    pub max: usize,
}

impl Default for Bounds {
    /// `initial` 4, `min` 4 (below that the limiter measures mostly noise and a
    /// brief collapse costs many round trips to undo), `max` 1000.
    ///
    /// The initial limit is low (Netflix uses 20) because the first probe of the
    /// no-load RTT runs there: an upstream with fewer workers than that queues
    /// during the probe, which then takes several halvings to find the no-load
    /// RTT while admitted requests wait in the upstream's queue. From 4 the limit
    /// grows by up to ~20% per round trip, so it reaches 1000 in about 30.
    fn default() -> Self {
        Self {
            initial: 4,
            min: 4,
            max: 1000,
        }
    }
}

impl Bounds {
    /// Checks `1 <= min <= initial <= max`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.min == 0 {
            return Err(ConfigError::new("min", self.min, "must be at least 1"));
        }
        if self.max < self.min {
            return Err(ConfigError::new("max", self.max, "must be at least min"));
        }
        if !(self.min..=self.max).contains(&self.initial) {
            return Err(ConfigError::new(
                "initial",
                self.initial,
                "must be within [min, max]",
            ));
        }
        Ok(())
    }

    fn clamp(&self, limit: f64) -> f64 {
        limit.clamp(self.min as f64, self.max as f64)
    }
}

/// "At most one cut per round trip": a drop or timeout of a request sent before the
/// last cut says nothing new, because that request saw the old, higher limit.
#[derive(Debug, Clone, Copy, Default)]
struct CutOncePerRtt {
    last_cut: Option<Instant>,
}

impl CutOncePerRtt {
    /// Whether the sample completing at `now` after `rtt` may cut the limit; if so,
    /// records the cut.
    fn try_cut(&mut self, now: Instant, rtt: Duration) -> bool {
        let sent = now.checked_sub(rtt);
        let fresh = match (self.last_cut, sent) {
            (None, _) => true,
            (Some(cut), Some(sent)) => sent >= cut,
            (Some(_), None) => false,
        };
        if fresh {
            self.last_cut = Some(now);
        }
        fresh
    }
}

#[cfg(test)]
mod tests;
