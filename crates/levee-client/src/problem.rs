//! Reading what a server said about its error.
//!
//! The reader itself lives in [`levee_http::problem_info`], where `levee
//! explain` and the gateway's pages use it too; this module keeps the
//! client's paths (`levee_client::problem::ProblemInfo`) stable. It must
//! not grow logic of its own: [`crate::diagnosis`] interprets what is read.

pub use levee_http::problem_info::{ProblemForm, ProblemInfo, request_id_from_headers};
