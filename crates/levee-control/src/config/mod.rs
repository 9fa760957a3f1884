//! Configuration: the TOML file, its validation, and the runtime it builds.
//!
//! The file is parsed into [`file`] types that mirror it (with spans), then
//! [`resolve`]d into a [`Config`] of runtime values, then built into a
//! data-path snapshot. Errors name the file, line and column and say what
//! was expected (see [`error`]). Durations and sizes use [`units`].

pub mod error;
pub mod file;
pub mod resolve;
pub mod units;

pub use error::{ConfigError, Diagnostic};
pub use resolve::{Config, ListenerSpec, Overrides, default_data_dir, from_flags, load, load_file};
