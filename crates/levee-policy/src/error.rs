//! The one error this crate returns: a configuration value that cannot work.
//!
//! Algorithms here never fail at run time; they can only be built with nonsense
//! (a zero window, a ratio above one, `min > max`). Every config's `validate`
//! reports the first such field, with the value, so `levee config check` can point
//! at it.

use std::fmt;

/// A configuration value outside the range an algorithm can work with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field} = {value}: {reason}")]
pub struct ConfigError {
    /// The field, as named in the config struct (e.g. `"retry_ratio"`).
    pub field: &'static str,
    /// The rejected value, formatted for people.
    pub value: String,
    /// What the value must be instead (e.g. `"must be at most 1000"`).
    pub reason: &'static str,
}

impl ConfigError {
    pub(crate) fn new(field: &'static str, value: impl fmt::Debug, reason: &'static str) -> Self {
        Self {
            field,
            value: format!("{value:?}"),
            reason,
        }
    }
}

/// Returns an error unless `value` is finite and within `[lo, hi]`.
pub(crate) fn check_range(
    field: &'static str,
    value: f64,
    lo: f64,
    hi: f64,
    reason: &'static str,
) -> Result<(), ConfigError> {
    if value.is_finite() && value >= lo && value <= hi {
        Ok(())
    } else {
        Err(ConfigError::new(field, value, reason))
    }
}

/// Returns an error if `value` is zero.
pub(crate) fn check_nonzero<T: PartialEq + Default + fmt::Debug>(
    field: &'static str,
    value: T,
) -> Result<(), ConfigError> {
    if value == T::default() {
        Err(ConfigError::new(field, value, "must be greater than zero"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_field_value_and_reason() {
        let err = ConfigError::new("retry_ratio", 2.5, "must be within [0, 1000]");
        assert_eq!(
            err.to_string(),
            "invalid retry_ratio = 2.5: must be within [0, 1000]"
        );
    }

    #[test]
    fn range_rejects_nan_and_out_of_range() {
        assert!(check_range("x", f64::NAN, 0.0, 1.0, "r").is_err());
        assert!(check_range("x", 1.5, 0.0, 1.0, "r").is_err());
        assert!(check_range("x", 1.0, 0.0, 1.0, "r").is_ok());
        assert!(check_nonzero("n", 0u32).is_err());
        assert!(check_nonzero("n", 1u32).is_ok());
    }
}
