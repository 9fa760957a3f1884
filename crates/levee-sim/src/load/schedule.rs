//! When requests are sent: a piecewise-constant rate and the arrival times it
//! produces.
//!
//! Pure: no clock, no I/O. The same schedule, spacing and seed always give the
//! same arrivals, which is what lets two runs (direct, then through a gateway)
//! see the same traffic.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One stretch of constant rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Phase {
    /// Requests per second (0 for a pause).
    pub rate: f64,
    /// How long the phase lasts.
    pub duration: Duration,
}

/// A piecewise-constant arrival rate: phases one after the other.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Schedule {
    phases: Vec<Phase>,
}

/// How arrivals are spread within a phase.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Spacing {
    /// Exponential gaps (a Poisson process): bursts and lulls, as real users
    /// make them.
    #[default]
    Poisson,
    /// Evenly spaced: exactly `round(rate × duration)` arrivals per phase.
    Uniform,
}

impl Schedule {
    /// No phases yet; add them with [`Schedule::then`].
    pub fn new() -> Self {
        Self::default()
    }

    /// One phase at `rate` requests per second for `duration`.
    pub fn constant(rate: f64, duration: Duration) -> Self {
        Self::new().then(rate, duration)
    }

    /// Appends a phase. Negative or non-finite rates count as 0.
    pub fn then(mut self, rate: f64, duration: Duration) -> Self {
        let rate = if rate.is_finite() { rate.max(0.0) } else { 0.0 };
        self.phases.push(Phase { rate, duration });
        self
    }

    /// The same phases with every rate multiplied by `factor` (e.g. one
    /// tenant's share of the total).
    pub fn scaled(&self, factor: f64) -> Self {
        self.phases
            .iter()
            .fold(Self::new(), |acc, p| acc.then(p.rate * factor, p.duration))
    }

    /// The phases, in order.
    pub fn phases(&self) -> &[Phase] {
        &self.phases
    }

    /// The total duration.
    pub fn duration(&self) -> Duration {
        self.phases.iter().map(|p| p.duration).sum()
    }

    /// The rate in force at `t` from the start (0 after the end).
    pub fn rate_at(&self, t: Duration) -> f64 {
        let mut end = Duration::ZERO;
        for phase in &self.phases {
            end += phase.duration;
            if t < end {
                return phase.rate;
            }
        }
        0.0
    }

    /// The expected number of arrivals: Σ rate × duration.
    pub fn expected_arrivals(&self) -> f64 {
        self.phases
            .iter()
            .map(|p| p.rate * p.duration.as_secs_f64())
            .sum()
    }

    /// Arrival times from the start, sorted, all before [`Schedule::duration`].
    /// `seed` only matters for [`Spacing::Poisson`].
    pub fn arrivals(&self, spacing: Spacing, seed: u64) -> Vec<Duration> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut out = Vec::with_capacity(self.expected_arrivals().ceil() as usize + 16);
        let mut start = 0.0_f64;
        for phase in &self.phases {
            let length = phase.duration.as_secs_f64();
            if phase.rate > 0.0 {
                match spacing {
                    Spacing::Uniform => {
                        let n = (phase.rate * length).round() as u64;
                        // k / rate < length for every k < round(rate × length).
                        out.extend((0..n).map(|k| start + k as f64 / phase.rate));
                    }
                    Spacing::Poisson => {
                        let mut t = 0.0;
                        loop {
                            // 1 - u lies in (0, 1], so the logarithm is finite.
                            let u: f64 = rng.random();
                            t += -(1.0 - u).ln() / phase.rate;
                            if t >= length {
                                break;
                            }
                            out.push(start + t);
                        }
                    }
                }
            }
            start += length;
        }
        let end = self.duration();
        out.into_iter()
            .map(Duration::from_secs_f64)
            .filter(|t| *t < end) // guards float rounding at the very end
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn rate_at_follows_the_phases() {
        let s = Schedule::constant(200.0, ms(1000))
            .then(1600.0, ms(2000))
            .then(200.0, ms(1000));
        assert_eq!(s.duration(), ms(4000));
        assert_eq!(s.rate_at(ms(999)), 200.0);
        assert_eq!(s.rate_at(ms(1000)), 1600.0);
        assert_eq!(s.rate_at(ms(3500)), 200.0);
        assert_eq!(s.rate_at(ms(4000)), 0.0);
        assert_eq!(s.expected_arrivals(), 3600.0);
        assert_eq!(s.scaled(0.5).expected_arrivals(), 1800.0);
    }

    #[test]
    fn bad_rates_count_as_pauses() {
        let s = Schedule::constant(-5.0, ms(100)).then(f64::NAN, ms(100));
        assert!(s.arrivals(Spacing::Poisson, 1).is_empty());
    }

    fn phases() -> impl Strategy<Value = Schedule> {
        prop::collection::vec((0.0..2000.0_f64, 0_u64..3000), 0..5).prop_map(|ps| {
            ps.into_iter()
                .fold(Schedule::new(), |s, (rate, d)| s.then(rate, ms(d)))
        })
    }

    proptest! {
        #[test]
        fn uniform_gives_exactly_the_rounded_count(s in phases()) {
            let want: u64 = s
                .phases()
                .iter()
                .map(|p| (p.rate * p.duration.as_secs_f64()).round() as u64)
                .sum();
            let got = s.arrivals(Spacing::Uniform, 0);
            prop_assert_eq!(got.len() as u64, want);
        }

        #[test]
        fn arrivals_are_sorted_and_inside_the_schedule(s in phases(), seed in any::<u64>()) {
            for spacing in [Spacing::Uniform, Spacing::Poisson] {
                let got = s.arrivals(spacing, seed);
                prop_assert!(got.windows(2).all(|w| w[0] <= w[1]));
                prop_assert!(got.iter().all(|t| *t < s.duration()));
            }
        }

        #[test]
        fn poisson_count_is_near_the_expectation(rate in 50.0..2000.0_f64, seed in any::<u64>()) {
            let s = Schedule::constant(rate, ms(2000));
            let mean = s.expected_arrivals();
            let got = s.arrivals(Spacing::Poisson, seed).len() as f64;
            // Six standard deviations of a Poisson count: fails once in ~10⁹.
            prop_assert!((got - mean).abs() <= 6.0 * mean.sqrt(), "{got} vs {mean}");
        }

        #[test]
        fn the_same_seed_gives_the_same_arrivals(s in phases(), seed in any::<u64>()) {
            prop_assert_eq!(s.arrivals(Spacing::Poisson, seed), s.arrivals(Spacing::Poisson, seed));
        }
    }
}
