//! How to return an error correctly, in the frameworks people use.
//!
//! One template per framework (Flask, Express, PHP, Go net/http, Spring
//! Boot, Sinatra, axum) in `data/examples.toml`, shared by every status and
//! every Levee reason: an RFC 9457 problem with a request id in the body and
//! in `X-Request-Id`, `Cache-Control: no-store`, and the headers the status
//! needs (those of its [`HeaderAdvice`](crate::status::HeaderAdvice) that
//! carry an example value: `Retry-After` on 503 and 429, `Allow` on 405 …).
//! Adding a framework is a data change.
//!
//! This module renders text; it must not run anything (the tests of the
//! `levee` binary run the Flask and Express examples and check them).
//!
//! ```
//! use levee_http::{examples, status};
//!
//! let code = examples::for_status(status::lookup(503).expect("503"));
//! let flask = code.iter().find(|e| e.framework == "flask").expect("flask");
//! assert!(flask.code.contains("\"Retry-After\": \"120\","));
//! assert!(flask.code.contains("application/problem+json"));
//! ```

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::reason::Reason;
use crate::status::{self, StatusInfo};

const BUNDLED: &str = include_str!("../data/examples.toml");

/// One framework's template.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Framework {
    /// A short id, e.g. `flask`.
    pub id: String,
    /// Its name, e.g. `Go net/http`.
    pub name: String,
    /// The language, for syntax highlighting.
    pub language: String,
    /// The file the example goes in.
    pub file: String,
    /// How to run it.
    pub run: String,
    header: String,
    template: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExamplesFile {
    type_base: String,
    framework: Vec<Framework>,
}

/// A rendered example.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Example {
    /// The framework's id.
    pub framework: String,
    /// The framework's name.
    pub name: String,
    /// The language.
    pub language: String,
    /// The file it goes in.
    pub file: String,
    /// How to run it.
    pub run: String,
    /// The code.
    pub code: String,
}

/// What an example returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProblemSpec {
    /// The status code.
    pub status: u16,
    /// The last segment of the problem `type` URI.
    pub slug: String,
    /// The problem's title.
    pub title: String,
    /// The problem's detail.
    pub detail: String,
    /// Extra headers, name and value.
    pub headers: Vec<(String, String)>,
}

fn file() -> &'static ExamplesFile {
    static FILE: OnceLock<ExamplesFile> = OnceLock::new();
    FILE.get_or_init(|| {
        toml::from_str(BUNDLED).expect("the bundled examples.toml parses (examples::tests)")
    })
}

/// Every framework, in the file's order.
pub fn frameworks() -> &'static [Framework] {
    &file().framework
}

/// The examples for a status: none unless it is an error servers may send.
pub fn for_status(info: &StatusInfo) -> Vec<Example> {
    if !info.is_error() || info.avoid || !info.is_official() {
        return Vec::new();
    }
    render_all(&ProblemSpec {
        status: info.code,
        slug: info.slug(),
        title: info.name.clone(),
        detail: info.meaning.clone(),
        headers: headers_of(info),
    })
}

/// The examples for a Levee reason: its title, slug and summary, with the
/// headers of its status.
pub fn for_reason(reason: Reason) -> Vec<Example> {
    let code = reason.status().as_u16();
    render_all(&ProblemSpec {
        status: code,
        slug: reason.slug().to_owned(),
        title: reason.title().to_owned(),
        detail: reason.summary().to_owned(),
        headers: status::lookup(code).map(headers_of).unwrap_or_default(),
    })
}

fn headers_of(info: &StatusInfo) -> Vec<(String, String)> {
    info.headers
        .iter()
        .filter_map(|h| Some((h.name.clone(), h.example.clone()?)))
        .collect()
}

fn render_all(spec: &ProblemSpec) -> Vec<Example> {
    frameworks()
        .iter()
        .map(|f| Example {
            framework: f.id.clone(),
            name: f.name.clone(),
            language: f.language.clone(),
            file: f.file.clone(),
            run: f.run.clone(),
            code: render(f, spec),
        })
        .collect()
}

/// Fills a framework's template with `spec`.
pub fn render(framework: &Framework, spec: &ProblemSpec) -> String {
    let type_uri = format!("{}{}", file().type_base, spec.slug);
    let mut out = String::with_capacity(framework.template.len() + 256);
    for line in framework.template.trim_start_matches('\n').lines() {
        if line.trim() == "{{headers}}" {
            let indent = &line[..line.len() - line.trim_start().len()];
            for (name, value) in &spec.headers {
                out.push_str(indent);
                out.push_str(
                    &framework
                        .header
                        .replace("{{name}}", &quoted(name))
                        .replace("{{value}}", &quoted(value)),
                );
                out.push('\n');
            }
            continue;
        }
        out.push_str(
            &line
                .replace("{{status}}", &spec.status.to_string())
                .replace("{{type}}", &quoted(&type_uri))
                .replace("{{title}}", &quoted(&spec.title))
                .replace("{{detail}}", &quoted(&spec.detail)),
        );
        out.push('\n');
    }
    out
}

/// Text escaped for the inside of a double-quoted string literal: the
/// escapes JSON, Python, JavaScript, PHP, Go, Java, Ruby and Rust share.
fn quoted(text: &str) -> String {
    let json = serde_json::to_string(text).expect("a string always serializes");
    json[1..json.len() - 1].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_framework_has_every_placeholder() {
        let ids: Vec<&str> = frameworks().iter().map(|f| f.id.as_str()).collect();
        assert_eq!(
            ids,
            ["flask", "express", "php", "go", "spring", "sinatra", "axum"]
        );
        for f in frameworks() {
            for p in ["{{status}}", "{{type}}", "{{title}}", "{{detail}}"] {
                assert!(f.template.contains(p), "{} lacks {p}", f.id);
            }
            assert_eq!(
                f.template
                    .lines()
                    .filter(|l| l.trim() == "{{headers}}")
                    .count(),
                1,
                "{}",
                f.id
            );
            assert!(f.header.contains("{{name}}") && f.header.contains("{{value}}"));
        }
    }

    #[test]
    fn a_503_carries_retry_after_and_the_contract_in_every_framework() {
        let examples = for_status(status::lookup(503).expect("503"));
        assert_eq!(examples.len(), frameworks().len());
        for e in &examples {
            assert!(!e.code.contains("{{"), "{}: {}", e.framework, e.code);
            assert!(e.code.contains("Retry-After"), "{}", e.framework);
            assert!(e.code.contains("120"), "{}", e.framework);
            assert!(e.code.contains("503"), "{}", e.framework);
            assert!(
                e.code
                    .contains("https://example.com/problems/service-unavailable"),
                "{}",
                e.framework
            );
            assert!(
                e.code.to_ascii_lowercase().contains("x-request-id"),
                "{}",
                e.framework
            );
        }
        let no_retry_after = for_status(status::lookup(404).expect("404"));
        assert!(
            no_retry_after
                .iter()
                .all(|e| !e.code.contains("Retry-After"))
        );
    }

    #[test]
    fn values_are_escaped_and_safe_in_every_language() {
        // A value with quotes (401's WWW-Authenticate) is escaped; no text that
        // the examples embed may interpolate in PHP ("$") or Ruby ("#{").
        let unauthorized = for_status(status::lookup(401).expect("401"));
        let php = unauthorized
            .iter()
            .find(|e| e.framework == "php")
            .expect("php");
        assert!(
            php.code
                .contains(r#"header("WWW-Authenticate: Bearer realm=\"api\"");"#),
            "{}",
            php.code
        );
        for info in status::all().iter().filter(|s| !for_status(s).is_empty()) {
            for text in [&info.name, &info.meaning] {
                assert!(
                    !text.contains('$') && !text.contains("#{"),
                    "{}: {text}",
                    info.code
                );
            }
            for h in &info.headers {
                let v = h.example.as_deref().unwrap_or("");
                assert!(!v.contains('$') && !v.contains("#{"), "{}: {v}", info.code);
            }
        }
        for r in Reason::ALL {
            assert!(
                !r.summary().contains('$') && !r.summary().contains("#{"),
                "{r}"
            );
        }
    }

    #[test]
    fn only_errors_servers_should_send_get_examples() {
        for code in [200, 301, 418, 510, 599] {
            assert!(
                for_status(status::lookup(code).expect("known")).is_empty(),
                "{code}"
            );
        }
        let overloaded = for_reason(Reason::Overloaded);
        assert!(
            overloaded[0]
                .code
                .contains("https://example.com/problems/overloaded")
        );
        assert!(overloaded[0].code.contains("Service overloaded"));
    }
}
