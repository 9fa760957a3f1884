//! The pages that problem `type` URIs dereference to.
//!
//! RFC 9457 §3.1.1 encourages a problem type URI to resolve to documentation.
//! Levee serves one page per [`Reason`] under a fixed path on every traffic
//! listener (and the admin listener), plus an index: what happened, the
//! likely causes, and how to fix it, for visitors and for developers. Each
//! links to the page of its HTTP status under [`CODES_PATH`] (see
//! [`crate::code_pages`]). This module renders them and maps paths to
//! pages ([`page_for_path`]); it must not decide where they are served.

use crate::code_pages::{self, CODES_PATH};
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
             <p class=\"more\"><a href=\"{CODES_PATH}/{status}\">What HTTP {status} means</a> · \
             <a href=\"{PROBLEMS_PATH}/\">All problem types</a></p>",
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

/// The page a path under [`PROBLEMS_PATH`] or [`CODES_PATH`] serves, if it
/// names one.
pub fn page_for_path(path: &str) -> Option<String> {
    if path.starts_with(CODES_PATH) {
        return code_pages::for_path(path);
    }
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

    #[test]
    fn problem_and_status_pages_link_each_other() {
        let overloaded = page_for_path(&format!("{PROBLEMS_PATH}/overloaded")).expect("page");
        assert!(overloaded.contains("href=\"/_levee/codes/503\""));
        let status = page_for_path("/_levee/codes/503").expect("503 page");
        assert!(status.contains("href=\"/_levee/problems/overloaded\""));
        assert!(status.contains("RFC 9110 §15.6.4"));
        assert!(status.contains("Retry-After"));
        assert!(status.contains("<summary>Flask"));
        assert!(!status.contains("<script") && !status.contains("src="));
    }

    #[test]
    fn every_known_code_has_a_page_and_the_index_lists_it() {
        let index = page_for_path("/_levee/codes/").expect("index");
        assert_eq!(page_for_path("/_levee/codes"), Some(index.clone()));
        for s in crate::status::all() {
            let html = page_for_path(&format!("/_levee/codes/{}", s.code)).expect("page");
            assert!(html.contains(&escape(&s.meaning)), "{}", s.code);
            assert!(index.contains(&format!("href=\"/_levee/codes/{}\"", s.code)));
        }
        let unofficial = page_for_path("/_levee/codes/599").expect("599");
        assert!(unofficial.contains("Unofficial: not in the IANA registry"));
        for bad in [
            "/_levee/codes/299",
            "/_levee/codes/5030",
            "/_levee/codes/abc",
            "/_levee/codes/+03",
            "/_levee/status/503",
        ] {
            assert!(page_for_path(bad).is_none(), "{bad}");
        }
    }
}
