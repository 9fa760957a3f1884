//! Test helpers: simulated time starts from one real instant and only moves by
//! adding `Duration`s, so no test depends on how fast the machine is.

use std::time::{Duration, Instant};

/// The origin of simulated time for one test.
#[allow(clippy::disallowed_methods)] // the one clock read in the tests; all later time is simulated
pub(crate) fn t0() -> Instant {
    Instant::now()
}

/// Shorthand for milliseconds.
pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
