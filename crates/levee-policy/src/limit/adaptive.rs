//! [`Adaptive`]: a concurrency limit that binds only on evidence of congestion.
//!
//! The gateway's default limiter. Where the classic limiters ([`Gradient2`],
//! [`Vegas`], [`Aimd`]) always enforce their current estimate, this one
//! separates two questions:
//!
//! 1. **Is the upstream congested?** Only *evidence* says so: the latency of
//!    comparable requests has risen well above its baseline *and* falls when
//!    the gateway gives the upstream fewer requests at once; or the upstream
//!    drops requests (its own 503s, timeouts). Without evidence the limit does not bind
//!    ([`Adaptive::binding`] is false): the gateway admits what arrives and
//!    raises the limit to follow demand.
//! 2. **How much can it take?** Once congested, the limit is steered like
//!    Gradient2 — towards the concurrency at which latency is `tolerance` ×
//!    its baseline — and the gateway queues and sheds above it.
//!
//! "Comparable" is the caller's job: each sample arrives already normalised
//! against its request class's own baseline, as a `ratio` (latency ÷ the
//! class's typical latency) and a `rank` (where it falls in the class's
//! recent distribution, 0 to 1). A slow endpoint, a long tail or a bimodal
//! cache hit/miss mix is then not congestion: its samples keep a median
//! ratio near 1 and a mean rank near ½. See [`crate::admission`].
//!
//! # Evidence, and why each part is needed
//!
//! Once per window of 16 judged answers:
//!
//! - the **median ratio** is at least `congested_ratio` (default 1.5): latency
//!   really rose, by more than natural drift;
//! - the **mean rank** is at least 0.72: answers sit above most of their
//!   class's baseline — three standard deviations above the ½ of an
//!   unchanged upstream, and robust to multimodal classes, where the ratio
//!   of a single answer means little.
//!
//! One such window makes the limiter **suspect** congestion
//! ([`Signal::Suspect`]): requests beyond the limit should wait, neither let
//! through nor shed. If the next window is high too — an unbiased "before",
//! since a window picked for looking high regresses to the mean on its own —
//! it runs an **experiment** ([`Signal::Probe`]): the concurrency in use is
//! halved, and the next 8 answers sent under the cut decide. In a congested
//! upstream latency follows concurrency down (to 85% or less of before):
//! that is the evidence ([`Signal::Congested`]). An upstream that simply got
//! slower at every concurrency (a slow dependency, a cold cache) keeps its
//! latency under the cut: limiting it would only shed, so the baselines are
//! re-learned instead ([`Signal::Rebase`]) and the limit is restored. Two
//! windows in a row in which answers sent with 1.5× more requests in flight
//! were no slower re-learn the baselines without an experiment. Over time,
//! by Little's law, concurrency and latency rise together whether the
//! upstream queues or just got slower: only an intervention tells them
//! apart.
//!
//! Or: at least 3 of the last 32 answers (and 10%) were drops — evidence at
//! once.
//!
//! The evidence ends when demand no longer reaches the limit (32 answers in a
//! row sent below it, counting only answers sent under a limit no higher than
//! the current one: those still coming back from before a cut say nothing) and the median ratio is back within `clear_ratio`
//! (default 1.1). Not merely when latency is good: under sustained overload a
//! good limit is exactly what keeps it good.
//!
//! # The limit
//!
//! - **Clear**: starts at `bounds.initial` (16) and grows by one for every
//!   answer that came back at its baseline having been sent with at least
//!   half the limit in flight — doubling per round trip, as TCP's slow start.
//!   The gateway also raises it (see [`Adaptive::raise_to`]) when requests
//!   have waited for a slot without evidence appearing: demand, not a
//!   timer, sets the pace. It never decays while idle and never probes.
//! - **Suspect**: held; during the experiment, halved.
//! - **Congested**: each answer sent at the limit moves it towards
//!   `limit × clamp(tolerance ÷ ratio, ½, 2) + queue_size` by `smoothing`
//!   per round trip (Gradient2's rule, without its probes); a drop cuts it by
//!   `backoff_ratio`, at most once per round trip.
//! - **Re-learning**: if, while congested, the limit falls by a third or more
//!   and latency does not fall with it, or the limit sits at its minimum
//!   with latency still high, the baselines were wrong, not the load: they
//!   are re-learned ([`Signal::Rebase`]) and the evidence ends.
//!
//! [`Gradient2`]: super::Gradient2
//! [`Vegas`]: super::Vegas
//! [`Aimd`]: super::Aimd

use std::time::{Duration, Instant};

use super::{Bounds, CutOncePerRtt, Limiter, Sample};
use crate::ConfigError;
use crate::error::check_range;

/// Samples in the evidence window.
const WINDOW: usize = 32;
/// Samples needed before the window can say anything, and between checks.
const MIN_SAMPLES: usize = 16;
/// The mean rank that, with the ratio, says "answers are slower than most of
/// their baseline": three standard deviations above the ½ of an unchanged
/// upstream with 16 samples (a uniform rank has a deviation of 0.29).
const RANK_ON: f64 = 0.72;
/// Answers sent with more requests in flight at most this much slower than
/// those sent with fewer (over a span of concurrency of at least
/// `FLAT_SPAN`): latency does not depend on concurrency.
const FLAT: f64 = 1.05;
/// See `FLAT`.
const FLAT_SPAN: f64 = 1.5;
/// Checks in a row that must find the relationship flat before the baselines
/// are re-learned without an experiment.
const FLAT_CHECKS: u32 = 2;
/// Answers sent under the experiment's cut that decide it.
const PROBE: usize = 8;
/// The experiment confirms congestion when latency under the cut falls to
/// at most this fraction of what it was before it.
const FOLLOWS: f64 = 0.85;
/// Windows in a row that must look congested before the experiment: the
/// last one is the experiment's "before", unbiased by the selection that
/// raised the suspicion (a window picked for looking high regresses to the
/// mean on its own, which would read as "latency followed the cut").
const HIGH_WINDOWS: u32 = 2;
/// Drops in the window that make evidence (and at least this fraction).
const MIN_DROPS: usize = 3;
/// See `MIN_DROPS`.
const DROP_FRACTION: f64 = 0.1;

/// Settings of an [`Adaptive`] limiter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaptiveConfig {
    /// Initial, minimum and maximum limit. Default 16, 4, 10 000. The
    /// maximum is a hard cap (the operator's word, binding with or without
    /// evidence); the default is far above what any single route needs.
    pub bounds: Bounds,
    /// Latency inflation accepted under congestion: the limit settles where
    /// latency is about `tolerance` × its baseline. Within `[1, 2)`. Default 1.2.
    pub tolerance: f64,
    /// Fraction of the way to the target moved per round trip while congested.
    /// Within `(0, 1]`. Default 0.2.
    pub smoothing: f64,
    /// Requests of headroom added to the target. Default 1.
    pub queue_size: f64,
    /// Factor a drop cuts the limit by, at most once per round trip. Within
    /// `[0.5, 1)`. Default 0.9.
    pub backoff_ratio: f64,
    /// Median latency ratio that makes the limiter suspect congestion.
    /// Within `(clear_ratio, 10]`. Default 1.5.
    pub congested_ratio: f64,
    /// Median latency ratio at or under which a congested limit grows as in
    /// slow start (nothing queues), and the evidence may end. Within
    /// `[1, congested_ratio)`. Default 1.1.
    pub clear_ratio: f64,
}

impl Default for AdaptiveConfig {
    fn default() -> Self {
        Self {
            bounds: Bounds {
                initial: 16,
                min: 4,
                max: 10_000,
            },
            tolerance: 1.2,
            smoothing: 0.2,
            queue_size: 1.0,
            backoff_ratio: 0.9,
            congested_ratio: 1.5,
            clear_ratio: 1.1,
        }
    }
}

impl AdaptiveConfig {
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.bounds.validate()?;
        check_range(
            "tolerance",
            self.tolerance,
            1.0,
            1.999,
            "must be within [1, 2)",
        )?;
        check_range(
            "smoothing",
            self.smoothing,
            1e-3,
            1.0,
            "must be within (0, 1]",
        )?;
        check_range(
            "queue_size",
            self.queue_size,
            0.0,
            1e6,
            "must be within [0, 1e6]",
        )?;
        super::check_backoff_ratio(self.backoff_ratio)?;
        check_range(
            "clear_ratio",
            self.clear_ratio,
            1.0,
            10.0,
            "must be within [1, 10]",
        )?;
        if !(self.congested_ratio > self.clear_ratio && self.congested_ratio <= 10.0) {
            return Err(ConfigError::new(
                "congested_ratio",
                self.congested_ratio,
                "must be above clear_ratio and at most 10",
            ));
        }
        Ok(())
    }
}

/// One answer, as the admission core saw it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    /// Time to the response head (client upload time excluded).
    pub rtt: Duration,
    /// `rtt` ÷ the typical latency of its request class; `None` while the
    /// class has no baseline yet (such answers are not judged).
    pub ratio: Option<f64>,
    /// Where `rtt` falls in its class's recent latencies, from 0 (faster
    /// than all) to 1 (slower than all); `None` with `ratio`.
    pub rank: Option<f64>,
    /// Requests in flight when this one was sent, itself included.
    pub inflight: usize,
    /// The limit when it was sent.
    pub limit: usize,
    /// The upstream dropped it: a timeout, a connection error, its own 503.
    pub dropped: bool,
}

/// What made the limiter decide the upstream is congested.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Evidence {
    /// Latency rose well above its baseline, and fell when the gateway cut
    /// the concurrency.
    Latency {
        /// The window's median latency ratio before the cut.
        ratio: f64,
        /// The window's mean rank before the cut.
        rank: f64,
        /// The median latency ratio under the cut.
        after: f64,
    },
    /// The upstream dropped requests.
    Drops {
        /// Drops in the window.
        drops: usize,
        /// Answers in the window.
        of: usize,
    },
}

/// A change the caller should act on (log, hold waiters, re-learn baselines).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Signal {
    /// Latency rose: from now until the verdict, requests beyond the limit
    /// should wait (not be let through, not be shed for want of a slot).
    Suspect {
        /// The window's median latency ratio.
        ratio: f64,
        /// The window's mean rank.
        rank: f64,
    },
    /// It stayed up for another window: the limit was cut to see whether
    /// latency follows it.
    Probe {
        /// The window's median latency ratio: the experiment's "before".
        ratio: f64,
        /// The limit during the experiment.
        cut: usize,
    },
    /// The upstream is congested from now on: the limit binds.
    Congested(Evidence),
    /// The evidence ended: the limit no longer binds.
    Clear {
        /// The window's median latency ratio.
        ratio: f64,
    },
    /// Latency changed at every concurrency, not with it: multiply every
    /// class baseline by this factor. Any evidence ends.
    Rebase(f64),
}

/// The limiter's state.
#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// No evidence: the limit follows demand and does not bind.
    Clear,
    /// Latency rose: the limit is cut to `cut` to see whether latency
    /// follows it (`PROBE` answers sent under the cut decide).
    Suspect {
        /// The limit before the cut, restored if latency does not follow.
        prior: f64,
        cut: usize,
        ratio: f64,
        rank: f64,
        probe: [f32; PROBE],
        seen: usize,
    },
    /// Evidence: the limit binds and is steered to the tolerance.
    Congested,
}

#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    inflight: u32,
    ratio: f32,
    rank: f32,
    /// The answer's class baseline (seconds): what it costs unloaded.
    baseline: f32,
}

/// The limiter. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Adaptive {
    config: AdaptiveConfig,
    limit: f64,
    state: State,
    /// Judged samples, newest at `(head + len - 1) % WINDOW`.
    window: [Entry; WINDOW],
    head: usize,
    len: usize,
    /// Judged samples since the last check.
    since_check: usize,
    /// Consecutive checks that found latency high at every concurrency.
    flat: u32,
    /// Consecutive checks that found latency high.
    high: u32,
    /// While congested: consecutive answers sent below the limit (demand
    /// did not reach it).
    calm: usize,
    /// The last `WINDOW` answers' drop flags, as a bit set, and how many.
    drops: u32,
    answers: usize,
    /// Raw latency of recent answers (seconds), judged or not.
    rtts: [f32; WINDOW],
    rtt_pos: usize,
    rtt_len: usize,
    cut: CutOncePerRtt,
    /// While congested: the limit and ratio when the latency was last seen
    /// to respond to the limit, to tell queueing from a slower upstream.
    reference: Option<(f64, f64)>,
}

impl Adaptive {
    /// A limiter at `bounds.initial`, or the first out-of-range setting.
    pub fn new(config: AdaptiveConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            config,
            limit: config.bounds.initial as f64,
            state: State::Clear,
            window: [Entry::default(); WINDOW],
            head: 0,
            len: 0,
            since_check: 0,
            flat: 0,
            high: 0,
            calm: 0,
            drops: 0,
            answers: 0,
            rtts: [0.0; WINDOW],
            rtt_pos: 0,
            rtt_len: 0,
            cut: CutOncePerRtt::default(),
            reference: None,
        })
    }

    /// The settings.
    pub fn config(&self) -> &AdaptiveConfig {
        &self.config
    }

    /// Requests that may be in flight now, within `[min, max]`.
    pub fn limit(&self) -> usize {
        self.limit as usize
    }

    /// Whether the limit binds now: there is evidence of congestion.
    pub fn binding(&self) -> bool {
        self.state == State::Congested
    }

    /// Whether congestion is suspected (see [`Signal::Suspect`]): requests
    /// beyond the limit should wait for its verdict.
    pub fn suspect(&self) -> bool {
        matches!(self.state, State::Suspect { .. }) || self.high > 0
    }

    /// The median latency ratio of the window, once it holds enough samples.
    pub fn ratio(&self) -> Option<f64> {
        (self.len >= MIN_SAMPLES).then(|| self.median(self.len, |e| e.ratio))
    }

    /// The mean rank of the window, once it holds enough samples.
    pub fn rank(&self) -> Option<f64> {
        (self.len >= MIN_SAMPLES).then(|| self.mean(self.len, |e| e.rank))
    }

    /// The median raw latency of recent answers (time to head), if any.
    pub fn typical_rtt(&self) -> Option<Duration> {
        if self.rtt_len == 0 {
            return None;
        }
        let mut v = self.rtts;
        let m = median_of(&mut v[..self.rtt_len]);
        Duration::try_from_secs_f64(f64::from(m)).ok()
    }

    /// What recent answers cost the upstream unloaded: the median of their
    /// classes' baselines. The wait a queue can add without doubling latency.
    pub fn no_load_rtt(&self) -> Option<Duration> {
        if self.len == 0 {
            return None;
        }
        Duration::try_from_secs_f64(self.median(self.len, |e| e.baseline)).ok()
    }

    /// Raises the limit to `n` (at most `max`): requests waited for a slot
    /// and no evidence of congestion appeared, so demand sets the limit.
    /// Ignored while congested or during an experiment.
    pub fn raise_to(&mut self, n: usize) {
        if self.state != State::Clear {
            return;
        }
        let n = (n as f64).min(self.config.bounds.max as f64);
        if n > self.limit {
            self.limit = n;
        }
    }

    /// Learns from one answer at `now`; says when the state changes.
    pub fn on_sample(&mut self, now: Instant, obs: Observation) -> Option<Signal> {
        self.record_answer(obs);
        let c = self.config;
        if obs.dropped {
            if self.cut.try_cut(now, obs.rtt) {
                self.limit = c.bounds.clamp(self.limit * c.backoff_ratio);
            }
            if self.state != State::Congested
                && let Some(ev) = self.drop_evidence()
            {
                return Some(self.congest(ev));
            }
            return None;
        }
        let (Some(ratio), Some(rank)) = (obs.ratio, obs.rank) else {
            // A class without a baseline yet: nothing to judge. Growth still
            // follows answers sent near the limit.
            if self.state == State::Clear {
                self.grow(obs);
            }
            return None;
        };
        self.push(Entry {
            inflight: obs.inflight.min(u32::MAX as usize) as u32,
            ratio: ratio as f32,
            rank: rank as f32,
            baseline: (obs.rtt.as_secs_f64() / ratio.max(1e-9)) as f32,
        });
        match self.state {
            State::Clear => self.judge(obs, ratio),
            State::Suspect { .. } => self.probe(obs, ratio),
            State::Congested => self.steer(obs),
        }
    }

    fn record_answer(&mut self, obs: Observation) {
        self.drops = (self.drops << 1) | u32::from(obs.dropped);
        self.answers = (self.answers + 1).min(WINDOW);
        if !obs.dropped {
            self.rtts[self.rtt_pos] = obs.rtt.as_secs_f32();
            self.rtt_pos = (self.rtt_pos + 1) % WINDOW;
            self.rtt_len = (self.rtt_len + 1).min(WINDOW);
        }
    }

    fn drop_evidence(&self) -> Option<Evidence> {
        let mask = if self.answers >= 32 {
            u32::MAX
        } else {
            (1u32 << self.answers) - 1
        };
        let drops = (self.drops & mask).count_ones() as usize;
        (drops >= MIN_DROPS && drops as f64 >= DROP_FRACTION * self.answers as f64).then_some(
            Evidence::Drops {
                drops,
                of: self.answers,
            },
        )
    }

    /// Clear: grow with demand; look at the latency once a window.
    fn judge(&mut self, obs: Observation, ratio: f64) -> Option<Signal> {
        if ratio < self.config.congested_ratio {
            self.grow(obs);
        }
        self.since_check += 1;
        if self.len < MIN_SAMPLES || self.since_check < MIN_SAMPLES {
            return None;
        }
        self.since_check = 0;
        let k = self.recent();
        let ratio = self.median(k, |e| e.ratio);
        let rank = self.mean(k, |e| e.rank);
        if ratio < self.config.congested_ratio || rank < RANK_ON {
            self.flat = 0;
            self.high = 0;
            return None;
        }
        self.high += 1;
        if self.flat_trend(k) {
            // Latency is high at every concurrency in the window, twice in
            // a row: the upstream got slower; no experiment needed.
            self.flat += 1;
            return (self.flat >= FLAT_CHECKS).then(|| self.rebase(ratio));
        }
        self.flat = 0;
        if self.high < HIGH_WINDOWS {
            // Waiters are held meanwhile (see `suspect`).
            return (self.high == 1).then_some(Signal::Suspect { ratio, rank });
        }
        self.high = 0;
        // The experiment: halve the concurrency in use and see whether
        // latency follows. Excess requests wait meanwhile (see `suspect`).
        let used = self.median(k, |e| e.inflight as f32).max(1.0);
        let c = self.config;
        let prior = self.limit;
        self.limit = c.bounds.clamp((used / 2.0).min(self.limit));
        let cut = self.limit();
        self.state = State::Suspect {
            prior,
            cut,
            ratio,
            rank,
            probe: [0.0; PROBE],
            seen: 0,
        };
        Some(Signal::Probe { ratio, cut })
    }

    /// Suspect: gather answers sent under the cut; decide.
    fn probe(&mut self, obs: Observation, ratio: f64) -> Option<Signal> {
        let State::Suspect {
            prior,
            cut,
            ratio: before,
            rank: rank_before,
            ref mut probe,
            ref mut seen,
        } = self.state
        else {
            return None;
        };
        if obs.inflight > cut {
            return None; // sent before the cut: says nothing about it
        }
        probe[*seen] = ratio as f32;
        *seen += 1;
        if *seen < PROBE {
            return None;
        }
        let after = f64::from(median_of(&mut probe.clone()));
        if after <= before * FOLLOWS {
            // Latency followed the concurrency down: queueing. (Not the
            // rank: above the knee it stays at 1 however far latency falls.)
            return Some(self.congest(Evidence::Latency {
                ratio: before,
                rank: rank_before,
                after,
            }));
        }
        // It did not: the upstream is slower at every concurrency.
        self.limit = prior.max(self.limit);
        Some(self.rebase(after))
    }

    /// Slow start: an answer at its baseline, sent with at least half the
    /// limit in flight, shows the upstream took that concurrency.
    fn grow(&mut self, obs: Observation) {
        if obs.inflight * 2 >= obs.limit {
            self.limit = (self.limit + 1.0).min(self.config.bounds.max as f64);
        }
    }

    fn congest(&mut self, evidence: Evidence) -> Signal {
        self.state = State::Congested;
        self.since_check = 0;
        self.flat = 0;
        self.high = 0;
        self.calm = 0;
        self.reference = match evidence {
            Evidence::Latency { after, .. } => Some((self.limit, after)),
            Evidence::Drops { .. } => None,
        };
        Signal::Congested(evidence)
    }

    /// Congested: steer towards the tolerance; end when demand no longer
    /// reaches the limit and latency is normal.
    fn steer(&mut self, obs: Observation) -> Option<Signal> {
        let c = self.config;
        self.since_check += 1;
        // Only an answer sent under a limit no higher than this one says
        // whether demand still reaches it: those sent before the cut (under
        // the old, higher limit) are still coming back and say nothing.
        if obs.limit as f64 <= self.limit.ceil() {
            self.calm = if obs.inflight < obs.limit {
                self.calm + 1
            } else {
                0
            };
        }
        let k = self.recent();
        let ratio = self.median(k, |e| e.ratio);
        if self.calm >= WINDOW && ratio <= c.clear_ratio && self.drop_evidence().is_none() {
            self.state = State::Clear;
            self.since_check = 0;
            self.reference = None;
            return Some(Signal::Clear { ratio });
        }
        // App-limited: the limit did not hold traffic back, so this answer
        // says nothing about a higher one.
        if obs.inflight * 2 >= obs.limit {
            let gradient = (c.tolerance / ratio.max(1e-6)).clamp(0.5, 2.0);
            let target = self.limit * gradient + c.queue_size;
            let step = c.smoothing * (target - self.limit) / self.limit.max(1.0);
            self.limit = c.bounds.clamp(self.limit + step);
        }
        if self.since_check < MIN_SAMPLES {
            return None;
        }
        self.since_check = 0;
        self.check_response(ratio, k)
    }

    /// Does latency follow the limit down? If the limit fell by a third and
    /// latency did not fall with it, the baselines are stale, not the
    /// upstream full. Checked once a window.
    fn check_response(&mut self, ratio: f64, k: usize) -> Option<Signal> {
        let c = self.config;
        let Some((ref_limit, ref_ratio)) = self.reference else {
            self.reference = Some((self.limit, ratio));
            return None;
        };
        if ratio > ref_ratio {
            self.reference = Some((self.limit, ratio));
            return None;
        }
        let at_min = self.limit <= c.bounds.min as f64;
        if self.limit > ref_limit * (2.0 / 3.0) && !at_min {
            return None;
        }
        if ratio >= c.congested_ratio && (ratio >= ref_ratio * 0.85 || self.flat_trend(k) || at_min)
        {
            return Some(self.rebase(ratio));
        }
        // Latency followed the limit down: queueing. Compare from here.
        self.reference = Some((self.limit, ratio));
        None
    }

    fn rebase(&mut self, factor: f64) -> Signal {
        self.state = State::Clear;
        self.len = 0;
        self.head = 0;
        self.since_check = 0;
        self.flat = 0;
        self.high = 0;
        self.reference = None;
        Signal::Rebase(factor)
    }

    fn push(&mut self, e: Entry) {
        let i = (self.head + self.len) % WINDOW;
        self.window[i] = e;
        if self.len == WINDOW {
            self.head = (self.head + 1) % WINDOW;
        } else {
            self.len += 1;
        }
    }

    /// How many of the newest samples make "recent": about one round trip
    /// (the limit), at least `MIN_SAMPLES`.
    fn recent(&self) -> usize {
        (self.limit as usize)
            .clamp(MIN_SAMPLES, WINDOW)
            .min(self.len)
    }

    fn newest(&self, k: usize) -> impl Iterator<Item = &Entry> {
        (0..k).map(move |j| &self.window[(self.head + self.len - k + j) % WINDOW])
    }

    /// The median of `f` over the newest `k` samples.
    fn median(&self, k: usize, f: impl Fn(&Entry) -> f32) -> f64 {
        let mut v = [0f32; WINDOW];
        for (slot, e) in v.iter_mut().zip(self.newest(k)) {
            *slot = f(e);
        }
        f64::from(median_of(&mut v[..k]))
    }

    /// The mean of `f` over the newest `k` samples.
    fn mean(&self, k: usize, f: impl Fn(&Entry) -> f32) -> f64 {
        let sum: f64 = self.newest(k).map(|e| f64::from(f(e))).sum();
        sum / k.max(1) as f64
    }

    /// Whether, in the newest `k` samples, those sent with more in flight
    /// were no slower than those sent with fewer, over a real span of
    /// concurrency: latency does not depend on it.
    fn flat_trend(&self, k: usize) -> bool {
        let mut v = [Entry::default(); WINDOW];
        for (slot, e) in v.iter_mut().zip(self.newest(k)) {
            *slot = *e;
        }
        let v = &mut v[..k];
        v.sort_unstable_by_key(|e| e.inflight);
        let (lo, hi) = v.split_at(k / 2);
        let med = |part: &[Entry], f: fn(&Entry) -> f32| {
            let mut buf = [0f32; WINDOW];
            for (slot, e) in buf.iter_mut().zip(part) {
                *slot = f(e);
            }
            f64::from(median_of(&mut buf[..part.len()]))
        };
        let (n_lo, n_hi) = (
            med(lo, |e| e.inflight as f32),
            med(hi, |e| e.inflight as f32),
        );
        let (r_lo, r_hi) = (med(lo, |e| e.ratio), med(hi, |e| e.ratio));
        n_hi >= n_lo * FLAT_SPAN && n_hi >= n_lo + 2.0 && r_hi <= r_lo * FLAT
    }
}

/// Without request classes the limiter cannot judge latency: as a plain
/// [`Limiter`] it grows with demand and reacts to drops only.
impl Limiter for Adaptive {
    fn limit(&self) -> usize {
        Adaptive::limit(self)
    }

    fn no_load_rtt(&self) -> Option<Duration> {
        Adaptive::no_load_rtt(self)
    }

    fn on_sample(&mut self, now: Instant, sample: Sample) {
        let _ = Adaptive::on_sample(
            self,
            now,
            Observation {
                rtt: sample.rtt,
                ratio: None,
                rank: None,
                inflight: sample.inflight,
                limit: sample.limit,
                dropped: sample.dropped,
            },
        );
    }
}

/// The median of a non-empty slice (the mean of the middle two for an even
/// length); 0 for an empty one. Reorders the slice.
pub(crate) fn median_of(v: &mut [f32]) -> f32 {
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    let cmp = |a: &f32, b: &f32| a.total_cmp(b);
    let (_, &mut upper, _) = v.select_nth_unstable_by(n / 2, cmp);
    if n % 2 == 1 {
        return upper;
    }
    let lower = v[..n / 2].iter().copied().fold(f32::MIN, f32::max);
    (lower + upper) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ms, t0};

    fn obs(rtt_ms: u64, ratio: f64, inflight: usize, limit: usize) -> Observation {
        Observation {
            rtt: ms(rtt_ms),
            ratio: Some(ratio),
            rank: Some(if ratio > 1.05 { 0.95 } else { 0.5 }),
            inflight,
            limit,
            dropped: false,
        }
    }

    #[test]
    fn flat_latency_grows_the_limit_and_never_binds() {
        let mut a = Adaptive::new(AdaptiveConfig::default()).expect("valid");
        let mut now = t0();
        for i in 0..2000 {
            now += ms(1);
            let limit = a.limit();
            // Every answer at its baseline, sent with the limit in flight.
            let r = 0.9 + 0.2 * ((i * 7919) % 100) as f64 / 100.0;
            assert_eq!(a.on_sample(now, obs(50, r, limit, limit)), None);
            assert!(!a.binding());
        }
        assert!(a.limit() > 1000, "{}", a.limit());
    }

    /// Feeds the answers of an 8-worker upstream (an answer sent with `n`
    /// in flight took max(1, n/8) × its baseline) from 1 to 40 in flight,
    /// then keeps sending at whatever the limit is; returns the signals.
    fn eight_workers(a: &mut Adaptive, answers: usize) -> Vec<Signal> {
        let mut now = t0();
        let mut signals = Vec::new();
        for i in 0..answers {
            now += ms(1);
            let limit = a.limit();
            let n = if i < 40 { i + 1 } else { limit };
            let ratio = (n as f64 / 8.0).max(1.0);
            if let Some(s) = a.on_sample(now, obs(20, ratio, n, limit.max(n))) {
                signals.push(s);
            }
        }
        signals
    }

    #[test]
    fn queueing_is_suspected_then_confirmed_when_latency_follows_the_cut() {
        let mut a = Adaptive::new(AdaptiveConfig::default()).expect("valid");
        let signals = eight_workers(&mut a, 80);
        assert!(
            matches!(signals.first(), Some(Signal::Suspect { .. })),
            "{signals:?}"
        );
        let Some(Signal::Probe { cut, .. }) = signals.get(1).copied() else {
            panic!("{signals:?}")
        };
        assert!(cut <= 20, "the concurrency in use (~36) was halved: {cut}");
        assert!(
            matches!(
                signals.get(2),
                Some(Signal::Congested(Evidence::Latency { ratio, after, .. })) if *after < ratio * 0.6
            ),
            "{signals:?}"
        );
        assert!(a.binding());
        assert!(a.limit() < 20, "well under the 36 in use: {}", a.limit());
    }

    #[test]
    fn latency_that_does_not_follow_the_cut_is_a_rebase_not_congestion() {
        let mut a = Adaptive::new(AdaptiveConfig::default()).expect("valid");
        let mut now = t0();
        let mut signals = Vec::new();
        for _ in 0..56 {
            now += ms(1);
            // Twice as slow at every concurrency, sent at the limit.
            let limit = a.limit();
            let n = limit;
            if let Some(s) = a.on_sample(now, obs(40, 2.0, n, limit)) {
                signals.push(s);
                if matches!(s, Signal::Rebase(_)) {
                    break;
                }
            }
        }
        assert!(
            matches!(
                signals[..3],
                [Signal::Suspect { .. }, Signal::Probe { .. }, Signal::Rebase(f)] if f == 2.0
            ),
            "{signals:?}"
        );
        assert!(!a.binding() && !a.suspect());
        assert_eq!(a.limit(), 16, "the limit before the cut is restored");
    }

    #[test]
    fn drops_are_evidence() {
        let mut a = Adaptive::new(AdaptiveConfig::default()).expect("valid");
        let now = t0();
        let mut got = None;
        for i in 0..10u64 {
            let mut o = obs(10, 1.0, 8, 16);
            o.dropped = i % 3 == 0;
            if let Some(s) = a.on_sample(now + ms(i * 20), o) {
                got = Some(s);
            }
        }
        assert!(
            matches!(got, Some(Signal::Congested(Evidence::Drops { .. }))),
            "{got:?}"
        );
    }

    #[test]
    fn the_evidence_ends_when_demand_falls_below_the_limit() {
        let mut a = Adaptive::new(AdaptiveConfig::default()).expect("valid");
        eight_workers(&mut a, 80);
        assert!(a.binding());
        let mut now = t0() + ms(1000);
        let mut cleared = false;
        for _ in 0..64 {
            now += ms(1);
            let limit = a.limit();
            // Demand well below the limit: nothing queues.
            if let Some(Signal::Clear { .. }) = a.on_sample(now, obs(20, 1.0, limit / 2, limit)) {
                cleared = true;
                break;
            }
        }
        assert!(cleared && !a.binding());
    }

    /// At saturation (a closed loop of 32 on a CPU-bound upstream), the
    /// answers still coming back from before the cut were sent under the
    /// old, higher limit with room to spare: they must not end the evidence
    /// at once (they did, and the route flapped congested/clear within
    /// milliseconds, shedding at each turn).
    #[test]
    fn answers_sent_before_the_cut_do_not_end_the_evidence() {
        let mut a = Adaptive::new(AdaptiveConfig::default()).expect("valid");
        eight_workers(&mut a, 80);
        assert!(a.binding());
        let cut = a.limit();
        let mut now = t0() + ms(1000);
        for _ in 0..64 {
            now += ms(1);
            // Sent under the old limit of 64 with 32 in flight, answered late.
            let got = a.on_sample(now, obs(20, 1.0, 32, 64.max(cut + 1)));
            assert!(!matches!(got, Some(Signal::Clear { .. })), "{got:?}");
        }
        assert!(a.binding(), "still congested");
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median_of(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median_of(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median_of(&mut []), 0.0);
    }
}
