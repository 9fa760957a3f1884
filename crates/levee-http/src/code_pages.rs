//! The pages under `/_levee/codes/`: one per known HTTP status code, and an
//! index, rendered from [`crate::status`] in the shared layout.
//!
//! A page says what `levee explain CODE` says: the meaning, class, whose
//! side, causes, fixes, the headers that belong with it, retry guidance,
//! the Levee reasons with that status (linked to their problem pages), and
//! the examples of returning it correctly. This module renders; it must not
//! decide where pages are served ([`crate::pages::page_for_path`] maps
//! paths to pages).

use crate::examples;
use crate::html::{escape, page};
use crate::pages::PROBLEMS_PATH;
use crate::status::{self, Class, Standing, StatusInfo};

/// The path prefix the status-code pages are served under.
pub const CODES_PATH: &str = "/_levee/codes";

fn list(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("<li>{}</li>", escape(i)))
        .collect()
}

/// The page for one status code.
pub fn code_page(info: &StatusInfo) -> String {
    let reference = match &info.reference {
        Some(r) => format!(
            " · <a href=\"{}\">{}</a>",
            escape(&r.url),
            escape(&r.to_string())
        ),
        None => String::new(),
    };
    let standing = match &info.standing {
        Standing::Registered => String::new(),
        Standing::Temporary { note } => format!(
            "<p class=\"note\">A temporary registration ({}): its definition is still a draft.</p>",
            escape(note)
        ),
        Standing::Unofficial { origin } => format!(
            "<p class=\"note\">Unofficial: not in the IANA registry. Used by {}.</p>",
            escape(origin)
        ),
    };
    let headers: String = info
        .headers
        .iter()
        .map(|h| {
            let example = h
                .example
                .as_ref()
                .map(|v| format!(" (e.g. <code>{}: {}</code>)", escape(&h.name), escape(v)))
                .unwrap_or_default();
            format!(
                "<dt><code>{}</code></dt><dd>{}{example}</dd>",
                escape(&h.name),
                escape(&h.why)
            )
        })
        .collect();
    let headers = if headers.is_empty() {
        String::new()
    } else {
        format!("<h2>Headers that belong with it</h2><dl>{headers}</dl>")
    };
    let reasons: String = info
        .levee_reasons()
        .iter()
        .map(|r| {
            format!(
                "<li><a href=\"{PROBLEMS_PATH}/{slug}\">{slug}</a> — {title}</li>",
                slug = r.slug(),
                title = escape(r.title())
            )
        })
        .collect();
    let reasons = if reasons.is_empty() {
        String::new()
    } else {
        format!("<h2>When Levee sends it</h2><ul>{reasons}</ul>")
    };
    let examples: String = examples::for_status(info)
        .iter()
        .map(|e| {
            format!(
                "<details><summary>{} <span class=\"muted\">({})</span></summary><pre><code>{}</code></pre></details>",
                escape(&e.name),
                escape(&e.file),
                escape(&e.code)
            )
        })
        .collect();
    let examples = if examples.is_empty() {
        String::new()
    } else {
        format!(
            "<h2>Returning it correctly</h2><p>As <code>application/problem+json</code> with a request id and <code>Cache-Control: no-store</code>:</p>{examples}"
        )
    };
    page(
        &info.label(),
        &format!(
            "<p class=\"status\">HTTP {code} · {class}{reference}</p><h1>{label}</h1>{standing}\
             <p class=\"lead\">{meaning}</p>\
             <h2>Common causes</h2><ul>{causes}</ul>\
             <h2>If you are visiting</h2><p>{visitor}</p>\
             <h2>If you are the developer or operator</h2><ul>{fixes}</ul>\
             {headers}\
             <dl><dt>Whose side</dt><dd>{fault}</dd><dt>Retry?</dt><dd>{retry}</dd></dl>\
             {reasons}{examples}\
             <p class=\"more\"><a href=\"{CODES_PATH}/\">All status codes</a> · \
             <a href=\"{PROBLEMS_PATH}/\">Levee's problem types</a></p>",
            code = info.code,
            class = escape(&info.class.to_string()),
            label = escape(&info.label()),
            meaning = escape(&info.meaning),
            causes = list(&info.causes),
            visitor = escape(&info.visitor_fix),
            fixes = list(&info.developer_fix),
            fault = info.fault.as_str(),
            retry = escape(&info.retry_note),
        ),
    )
}

/// The index of every known status code, by class.
pub fn code_index() -> String {
    let mut body = String::from(
        "<p class=\"status\">Levee</p><h1>HTTP status codes</h1>\
         <p class=\"lead\">Every code in the IANA registry, and unofficial codes seen in the wild (marked).</p>",
    );
    for class in Class::ALL {
        body.push_str(&format!("<h2>{}</h2><ul>", escape(&class.to_string())));
        for s in status::all().iter().filter(|s| s.class == class) {
            let tag = match &s.standing {
                Standing::Unofficial { origin } => {
                    format!(
                        " <span class=\"muted\">(unofficial: {})</span>",
                        escape(origin)
                    )
                }
                Standing::Temporary { .. } => " <span class=\"muted\">(temporary)</span>".into(),
                Standing::Registered => String::new(),
            };
            body.push_str(&format!(
                "<li><a href=\"{CODES_PATH}/{code}\">{code}</a> {name}{tag}</li>",
                code = s.code,
                name = escape(&s.name)
            ));
        }
        body.push_str("</ul>");
    }
    page("HTTP status codes", &body)
}

/// The page a path under [`CODES_PATH`] serves, if it names one.
pub(crate) fn for_path(path: &str) -> Option<String> {
    let rest = path.strip_prefix(CODES_PATH)?;
    match rest {
        "" | "/" => Some(code_index()),
        _ => rest
            .strip_prefix('/')
            .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|c| c.parse().ok())
            .and_then(status::lookup)
            .map(code_page),
    }
}
