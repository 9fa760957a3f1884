//! The public status site: every document of it, rendered from one
//! [`PageView`].
//!
//! The control plane builds a [`PageView`] from its live state and its
//! store and asks [`render_site`] for the documents: the HTML page
//! ([`html`]), the Atlassian Statuspage v2 JSON API ([`json`]), and an Atom
//! feed of incidents and maintenance ([`atom`]). It also renders
//! Statuspage's webhook payloads ([`json::webhook_component_json`],
//! [`json::webhook_incident_json`]) for subscribers.
//!
//! The same documents are served at `/` of a dedicated listener and under
//! `/_levee/status/` of the traffic listeners, so every link between them
//! is relative to the site's base: the page is `<base>/`, the API
//! `<base>/api/v2/…`, the feed `<base>/history.atom`.
//!
//! ```
//! use levee_http::status_site::{PageView, render_site};
//!
//! let view = PageView {
//!     id: "example".into(),
//!     name: "Example status".into(),
//!     url: "https://status.example.com/".into(),
//!     updated_at_ms: 1_796_461_200_000,
//!     now_ms: 1_796_461_200_000,
//!     components: vec![],
//!     incidents: vec![],
//!     maintenances: vec![],
//! };
//! let site = render_site(&view);
//! let status = site
//!     .iter()
//!     .find(|d| d.path == "api/v2/status.json")
//!     .expect("always rendered");
//! assert!(status.body.contains(r#""indicator":"none""#));
//! ```
//!
//! This module renders; it must not decide what the page says (that is the
//! control plane's, in the view), nor where or how it is served, nor read
//! the clock (`PageView::now_ms` is "now").

pub mod atom;
pub mod html;
mod ids;
pub mod json;
mod layout;
pub mod model;
mod when;

#[cfg(test)]
pub(crate) mod sample;

pub use model::*;

/// One document of the site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Its path relative to the site's base: `""` for the HTML page,
    /// e.g. `api/v2/summary.json`.
    pub path: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its body.
    pub body: String,
}

/// `Content-Type` of the HTML page.
pub const HTML: &str = "text/html; charset=utf-8";
/// `Content-Type` of the JSON documents.
pub const JSON: &str = "application/json";
/// `Content-Type` of the Atom feed.
pub const ATOM: &str = "application/atom+xml";

/// Every document of the site, the HTML page first.
pub fn render_site(view: &PageView) -> Vec<Document> {
    let doc = |path, content_type, body| Document {
        path,
        content_type,
        body,
    };
    vec![
        doc("", HTML, html::page_html(view)),
        doc("api/v2/status.json", JSON, json::status_json(view)),
        doc("api/v2/summary.json", JSON, json::summary_json(view)),
        doc("api/v2/components.json", JSON, json::components_json(view)),
        doc("api/v2/incidents.json", JSON, json::incidents_json(view)),
        doc(
            "api/v2/incidents/unresolved.json",
            JSON,
            json::unresolved_json(view),
        ),
        doc(
            "api/v2/scheduled-maintenances.json",
            JSON,
            json::scheduled_json(view),
        ),
        doc(
            "api/v2/scheduled-maintenances/upcoming.json",
            JSON,
            json::upcoming_json(view),
        ),
        doc(
            "api/v2/scheduled-maintenances/active.json",
            JSON,
            json::active_json(view),
        ),
        doc("history.atom", ATOM, atom::feed_atom(view)),
    ]
}

#[cfg(test)]
mod tests;
