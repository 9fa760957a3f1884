//! [`Thresholds`]: when the signals of a window make a component degraded or
//! down, and how long a level must hold before the page says so.

use std::time::Duration;

use crate::ConfigError;

/// The longest `window`, `raise_after` or `clear_after` accepted: one day
/// (the window keeps one entry per sample, so this bounds its memory).
const MAX_PERIOD: Duration = Duration::from_secs(86_400);

/// When a component's signals make it degraded or down, and the hysteresis.
///
/// Shares are fractions of the requests answered in the last `window`; each
/// counts only once the window holds at least `min_requests`, so one failed
/// request on an idle component is not an outage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// The shares are computed over the samples of this last stretch of time.
    /// At least 1 s, at most a day. Default 60 s.
    pub window: Duration,
    /// Requests the window must hold before any share counts. At least 1.
    /// Default 20.
    pub min_requests: u64,
    /// Degraded performance from this share of requests shed for overload or
    /// slower than their route's threshold, within `(0, 1]`. Default 0.05.
    pub degraded_share: f64,
    /// Partial outage from this share of requests answered 5xx, within
    /// `(0, 1]` and at most `major_share`. Default 0.05.
    pub partial_share: f64,
    /// Major outage from this share of requests answered 5xx, within `(0, 1]`.
    /// Default 0.9.
    pub major_share: f64,
    /// The reported level rises once the raw level has been at least that
    /// bad for this long. At least 1 s, at most a day. Default 10 s.
    pub raise_after: Duration,
    /// The reported level falls once the raw level has been at least that
    /// good for this long. At least 1 s, at most a day. Default 60 s.
    pub clear_after: Duration,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(60),
            min_requests: 20,
            degraded_share: 0.05,
            partial_share: 0.05,
            major_share: 0.9,
            raise_after: Duration::from_secs(10),
            clear_after: Duration::from_secs(60),
        }
    }
}

impl Thresholds {
    /// Checks every field against its documented range; the first bad one is
    /// the error.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_period("window", self.window)?;
        if self.min_requests == 0 {
            // With no floor, an idle component's empty window would be "every
            // request failed".
            return Err(ConfigError::new(
                "min_requests",
                self.min_requests,
                "must be at least 1",
            ));
        }
        check_share("degraded_share", self.degraded_share)?;
        check_share("partial_share", self.partial_share)?;
        check_share("major_share", self.major_share)?;
        if self.partial_share > self.major_share {
            return Err(ConfigError::new(
                "partial_share",
                self.partial_share,
                "must be at most major_share",
            ));
        }
        check_period("raise_after", self.raise_after)?;
        check_period("clear_after", self.clear_after)?;
        Ok(())
    }

    /// The shorter of the two hysteresis periods: the least time a level
    /// holds (outside maintenance and pins).
    pub fn min_hold(&self) -> Duration {
        self.raise_after.min(self.clear_after)
    }
}

fn check_share(field: &'static str, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value > 0.0 && value <= 1.0 {
        Ok(())
    } else {
        Err(ConfigError::new(field, value, "must be within (0, 1]"))
    }
}

fn check_period(field: &'static str, value: Duration) -> Result<(), ConfigError> {
    if value < Duration::from_secs(1) {
        return Err(ConfigError::new(field, value, "must be at least 1 s"));
    }
    if value > MAX_PERIOD {
        return Err(ConfigError::new(field, value, "must be at most a day"));
    }
    Ok(())
}
