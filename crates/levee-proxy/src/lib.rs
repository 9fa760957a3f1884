//! The Levee data path.
//!
//! This crate owns everything a request touches between the client's socket
//! and the upstream's: [`server`] (listeners, TLS, HTTP/1.1 and HTTP/2
//! connections, slowloris and idle deadlines, drain), [`conn`] (a
//! connection's peer and bookkeeping), [`service`] (the handler: screen →
//! route → guard → forward → finish, one file per phase), [`route`] (which pool), [`admission`]
//! (forward, queue or shed), [`tenant`] (whose request) and [`ratelimit`]
//! (per-tenant rates), [`control`] (maintenance windows and drained
//! endpoints), [`pool`] (endpoints,
//! breakers, the pooled client), [`forward`] (the upstream exchange and
//! WebSocket tunnels), [`body`] (streaming bodies with limits and completion
//! hooks), [`rescue`] (the one place errors become problems) and [`metrics`].
//!
//! It reads an immutable [`runtime::Runtime`] snapshot published by the
//! control plane and never waits on the control plane during a request. It
//! must not parse configuration files or touch durable storage: its
//! Cargo.toml cannot name toml, SQLite or Redis.

pub mod admission;
pub mod body;
pub mod cidr;
pub mod conn;
mod context;
pub mod control;
pub mod deadline;
pub mod drain;
pub mod error;
mod finish;
pub mod forward;
mod guard;
pub mod limits;
pub mod metrics;
pub mod parse_error;
pub mod pool;
pub mod ratelimit;
pub mod rescue;
pub mod route;
pub mod runtime;
mod screen;
pub mod server;
pub mod service;
pub mod status;
pub mod tenant;

pub use drain::Drain;
pub use error::ProxyError;
pub use runtime::{ListenerSettings, Runtime, RuntimeHandle, Settings};
pub use service::Proxy;
