//! The status data files as written, and their resolution into
//! [`StatusInfo`]s.
//!
//! Parse, then resolve: the serde types below mirror the TOML files; `load`
//! fills in each class's defaults, joins each entry with its registry line,
//! and checks what the files cannot say by themselves (every registered code
//! has an entry; an entry outside the registry is unofficial and says whose
//! it is). A broken file is a [`DataError`] naming the code and the file.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::{Class, Fault, HeaderAdvice, Reference, Retry, Standing, StatusInfo};

/// `data/iana-status-codes.toml`: the IANA registry.
pub(super) const BUNDLED_REGISTRY: &str = include_str!("../../data/iana-status-codes.toml");
/// `data/status-codes.toml`: the entries.
pub(super) const BUNDLED_CODES: &str = include_str!("../../data/status-codes.toml");

/// Why the status data could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataError {
    /// A file is not valid TOML of the expected shape.
    #[error("{file}: {message}")]
    Parse {
        /// Which file.
        file: &'static str,
        /// The parser's message (with line and column).
        message: String,
    },
    /// A code of the registry has no entry.
    #[error("status-codes.toml: registered code {code} has no entry")]
    Missing {
        /// The code.
        code: u16,
    },
    /// An entry or registry line breaks a rule.
    #[error("{file}: code {code}: {problem}")]
    Invalid {
        /// Which file.
        file: &'static str,
        /// The code.
        code: u16,
        /// What is wrong.
        problem: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryFile {
    codes: Vec<Registered>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Registered {
    code: u16,
    description: String,
    rfc: Option<u32>,
    section: Option<String>,
    draft: Option<String>,
    temporary: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CodesFile {
    defaults: BTreeMap<String, Defaults>,
    code: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Defaults {
    fault: Fault,
    retry: Retry,
    retry_note: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    code: u16,
    name: Option<String>,
    origin: Option<String>,
    meaning: String,
    causes: Vec<String>,
    visitor: String,
    developer: Vec<String>,
    #[serde(default)]
    headers: Vec<HeaderEntry>,
    fault: Option<Fault>,
    retry: Option<Retry>,
    retry_note: Option<String>,
    #[serde(default)]
    cacheable: bool,
    #[serde(default)]
    avoid: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderEntry {
    name: String,
    value: Option<String>,
    why: String,
}

const REGISTRY: &str = "iana-status-codes.toml";
const CODES: &str = "status-codes.toml";

/// Parses and resolves the two files into entries sorted by code.
pub(super) fn load(registry: &str, codes: &str) -> Result<Vec<StatusInfo>, DataError> {
    let registry: RegistryFile = toml::from_str(registry).map_err(|e| DataError::Parse {
        file: REGISTRY,
        message: e.to_string(),
    })?;
    let codes: CodesFile = toml::from_str(codes).map_err(|e| DataError::Parse {
        file: CODES,
        message: e.to_string(),
    })?;
    let mut registered = BTreeMap::new();
    for r in registry.codes {
        let invalid = |problem: &str| DataError::Invalid {
            file: REGISTRY,
            code: r.code,
            problem: problem.to_owned(),
        };
        if Class::of(r.code).is_none() {
            return Err(invalid("not a status code (100-599)"));
        }
        let Some(reference) = reference(&r) else {
            return Err(invalid(
                "needs rfc and section, or (for a temporary registration) draft and temporary",
            ));
        };
        let standing = match r.temporary {
            Some(note) => Standing::Temporary { note },
            None => Standing::Registered,
        };
        if registered
            .insert(r.code, (r.description, standing, reference))
            .is_some()
        {
            return Err(invalid("listed twice"));
        }
    }

    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(codes.code.len());
    for e in codes.code {
        let code = e.code;
        let invalid = |problem: &str| DataError::Invalid {
            file: CODES,
            code,
            problem: problem.to_owned(),
        };
        let class = Class::of(code).ok_or_else(|| invalid("not a status code (100-599)"))?;
        if !seen.insert(code) {
            return Err(invalid("has two entries"));
        }
        let defaults = codes
            .defaults
            .get(&class.label())
            .ok_or_else(|| invalid("its class has no [defaults] table"))?;
        let (name, standing, reference) = match (registered.get(&code), e.name, e.origin) {
            (Some((description, standing, reference)), None, None) => (
                description.clone(),
                standing.clone(),
                Some(reference.clone()),
            ),
            (Some(_), _, _) => {
                return Err(invalid(
                    "is registered: its name comes from the registry, and it has no origin",
                ));
            }
            (None, Some(name), Some(origin)) => (name, Standing::Unofficial { origin }, None),
            (None, _, _) => {
                return Err(invalid(
                    "is not registered: give its unofficial name and origin",
                ));
            }
        };
        if e.meaning.is_empty()
            || e.causes.is_empty()
            || e.visitor.is_empty()
            || e.developer.is_empty()
        {
            return Err(invalid(
                "needs a meaning, causes, a visitor fix and a developer fix",
            ));
        }
        out.push(StatusInfo {
            code,
            name,
            standing,
            reference,
            class,
            fault: e.fault.unwrap_or(defaults.fault),
            meaning: e.meaning,
            causes: e.causes,
            visitor_fix: e.visitor,
            developer_fix: e.developer,
            headers: e
                .headers
                .into_iter()
                .map(|h| HeaderAdvice {
                    name: h.name,
                    example: h.value,
                    why: h.why,
                })
                .collect(),
            retry: e.retry.unwrap_or(defaults.retry),
            retry_note: e.retry_note.unwrap_or_else(|| defaults.retry_note.clone()),
            heuristically_cacheable: e.cacheable,
            avoid: e.avoid,
        });
    }
    if let Some(code) = registered.keys().find(|c| !seen.contains(c)) {
        return Err(DataError::Missing { code: *code });
    }
    out.sort_by_key(|s| s.code);
    Ok(out)
}

/// The defining document of a registry line: an RFC section, or the draft
/// of a temporary registration; `None` for any other combination.
fn reference(r: &Registered) -> Option<Reference> {
    match (&r.rfc, &r.section, &r.draft, &r.temporary) {
        (Some(rfc), Some(section), None, None) => Some(Reference {
            document: format!("RFC {rfc}"),
            section: Some(section.clone()),
            url: format!("https://www.rfc-editor.org/rfc/rfc{rfc}.html#section-{section}"),
        }),
        (None, None, Some(draft), Some(_)) => Some(Reference {
            document: draft.clone(),
            section: None,
            url: format!("https://datatracker.ietf.org/doc/{draft}"),
        }),
        _ => None,
    }
}
