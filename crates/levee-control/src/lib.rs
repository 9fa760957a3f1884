//! The Levee control plane.
//!
//! This crate owns the configuration (parse, validate with file:line:column
//! errors, build runtime snapshots, reload), TLS material, the admin listener
//! and the lifecycle of a running [`gateway::Gateway`]. It publishes
//! immutable snapshots to the data path (`levee-proxy`) and is never awaited
//! by a request. It owns maintenance windows and drains ([`control`]), made
//! durable by `levee-store`, and the admin API that changes them
//! ([`admin`]). Later issues add incidents and the status page here.
//!
//! It must not sit on the request path: nothing here runs per request.

pub mod admin;
pub mod config;
pub mod control;
pub mod gateway;
pub mod status;
pub mod tls;

pub use gateway::Gateway;
