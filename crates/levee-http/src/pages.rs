//! The pages that problem `type` URIs dereference to.
//!
//! RFC 9457 §3.1.1 encourages a problem type URI to resolve to documentation.
//! Levee serves one page per [`Reason`] under a fixed path on every traffic
//! listener (and the admin listener), plus an index: what happened, the
//! likely causes, and how to fix it, for visitors and for developers. This
//! module renders them; it must not decide where they are served.

use crate::html::{escape, page};
use crate::reason::Reason;

/// The path prefix the pages are served under on every listener.
pub const PROBLEMS_PATH: &str = "/_levee/problems";

/// The page for one reason.
pub fn reason_page(reason: Reason) -> String {
    let causes: String = reason
        .causes()
        .iter()
        .map(|c| format!("<li>{}</li>", escape(c)))
        .collect();
    let fixes: String = reason
        .developer_fix()
        .iter()
        .map(|c| format!("<li>{}</li>", escape(c)))
        .collect();
    let retry = if reason.retryable() {
        "Yes, after waiting: the response's Retry-After header (when present) says how long."
    } else {
        "No: the same request will fail the same way until it is changed."
    };
    page(
        reason.title(),
        &format!(
            "<p class=\"status\">HTTP {status} · {slug}</p><h1>{title}</h1>\
             <p class=\"lead\">{summary}</p>\
             <h2>Likely causes</h2><ul>{causes}</ul>\
             <h2>If you are visiting</h2><p>{visitor}</p>\
             <h2>If you are the developer or operator</h2><ul>{fixes}</ul>\
             <dl><dt>Status</dt><dd>{status}</dd><dt>Whose side</dt><dd>{blame}</dd>\
             <dt>Retry?</dt><dd>{retry}</dd></dl>\
             <p class=\"more\"><a href=\"{PROBLEMS_PATH}/\">All problem types</a></p>",
            status = reason.status().as_u16(),
            slug = reason.slug(),
            title = escape(reason.title()),
            summary = escape(reason.summary()),
            visitor = escape(reason.visitor_fix()),
            blame = reason.blame().as_str(),
        ),
    )
}

/// The index of every problem type.
pub fn index_page() -> String {
    let items: String = Reason::ALL
        .iter()
        .map(|r| {
            format!(
                "<li><a href=\"{PROBLEMS_PATH}/{slug}\">{slug}</a> — {status} {title}</li>",
                slug = r.slug(),
                status = r.status().as_u16(),
                title = escape(r.title())
            )
        })
        .collect();
    page(
        "Problem types",
        &format!(
            "<p class=\"status\">Levee</p><h1>Problem types</h1>\
             <p class=\"lead\">Every error this gateway makes names one of these types.</p><ul>{items}</ul>"
        ),
    )
}

/// The page a path under [`PROBLEMS_PATH`] serves, if it names one.
pub fn page_for_path(path: &str) -> Option<String> {
    let rest = path.strip_prefix(PROBLEMS_PATH)?;
    match rest {
        "" | "/" => Some(index_page()),
        _ => rest
            .strip_prefix('/')
            .and_then(Reason::from_slug)
            .map(reason_page),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_a_page_with_causes_and_fixes() {
        for r in Reason::ALL {
            let html = page_for_path(&format!("{PROBLEMS_PATH}/{}", r.slug())).expect("page");
            assert!(html.contains(&escape(r.causes()[0])), "{r:?}");
            assert!(html.contains(&escape(r.developer_fix()[0])), "{r:?}");
        }
        assert!(
            page_for_path(PROBLEMS_PATH)
                .expect("index")
                .contains("overloaded")
        );
        assert!(page_for_path("/_levee/problems/nope").is_none());
        assert!(page_for_path("/other").is_none());
    }
}
