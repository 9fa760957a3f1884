//! The 503 contract as code.
//!
//! This crate owns the vocabulary every other Levee crate speaks when it says
//! "not now": the catalogue of [`reason::Reason`]s, the RFC 9457
//! [`problem::Problem`] body and its renderings, [`retry_after::RetryAfter`]
//! in both grammars of RFC 9110 §10.2.3, [`request_id::RequestId`], the
//! hop-by-hop header rules of RFC 9110 §7.6.1, content negotiation, the
//! pages that problem `type` URIs dereference to, the maintenance page, and
//! the public status site ([`status_site`]: the HTML page, the Statuspage v2
//! JSON API and the Atom feed, rendered from a view the control plane
//! builds).
//!
//! It also carries what Levee knows about every HTTP status code
//! ([`status`], with [`examples`] of returning each correctly and the
//! `/_levee/codes/` pages in [`code_pages`]) and about who produces error
//! responses ([`recognise`], over [`problem_info`]): `levee explain`, the
//! gateway and the client's give-up report share it. That knowledge is
//! data (`data/*.toml`, compiled in and parsed once).
//!
//! It must not do I/O: no sockets, no files, no clock reads, no tokio, no
//! hyper server. Time is always an argument.

pub mod code_pages;
pub mod examples;
pub mod grpc;
pub mod headers;
pub mod html;
pub mod maintenance;
pub mod negotiate;
pub mod pages;
pub mod path;
pub mod problem;
pub mod problem_info;
pub mod reason;
pub mod recognise;
pub mod request_id;
pub mod retry_after;
pub mod status;
pub mod status_site;

pub use negotiate::{Format, JsonStyle};
pub use problem::Problem;
pub use reason::{Blame, Reason};
pub use request_id::RequestId;
