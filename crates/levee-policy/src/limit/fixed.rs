//! [`Fixed`]: a constant limit, for upstreams of known capacity and as the baseline
//! the adaptive limiters are benchmarked against.

use std::time::Instant;

use super::{Limiter, Sample};
use crate::ConfigError;

/// A limit that never changes. HAProxy's `maxconn` and nginx's `max_conns` are this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fixed {
    limit: usize,
}

impl Fixed {
    /// A limiter that always answers `limit` (at least 1).
    pub fn new(limit: usize) -> Result<Self, ConfigError> {
        if limit == 0 {
            return Err(ConfigError::new("limit", limit, "must be at least 1"));
        }
        Ok(Self { limit })
    }
}

impl Limiter for Fixed {
    fn limit(&self) -> usize {
        self.limit
    }

    fn on_sample(&mut self, _now: Instant, _sample: Sample) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ms, t0};

    #[test]
    fn ignores_samples() {
        let mut f = Fixed::new(7).expect("valid");
        f.on_sample(
            t0(),
            Sample {
                rtt: ms(1),
                inflight: 7,
                limit: 7,
                dropped: true,
            },
        );
        assert_eq!(f.limit(), 7);
        assert!(Fixed::new(0).is_err());
    }
}
