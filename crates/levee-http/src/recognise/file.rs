//! `data/recognisers.toml` as written, and its resolution into
//! [`Recogniser`]s (patterns lowercased once, per-status texts keyed by
//! number, every recogniser with at least one condition).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Recogniser, Role};

/// `data/recognisers.toml`.
pub(super) const BUNDLED: &str = include_str!("../../data/recognisers.toml");

/// Why the recogniser data could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecogniserError {
    /// The file is not valid TOML of the expected shape.
    #[error("recognisers.toml: {0}")]
    Parse(String),
    /// A recogniser breaks a rule.
    #[error("recognisers.toml: recogniser {id:?}: {problem}")]
    Invalid {
        /// The recogniser's id.
        id: String,
        /// What is wrong.
        problem: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecognisersFile {
    recogniser: Vec<Entry>,
    request_ids: RequestIds,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestIds {
    headers: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: String,
    #[serde(default)]
    role: Role,
    producer: String,
    kind: String,
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default)]
    body_all: Vec<String>,
    #[serde(default)]
    body_any: Vec<String>,
    #[serde(default)]
    statuses: Vec<u16>,
    means: String,
    #[serde(default)]
    by_status: BTreeMap<String, String>,
    #[serde(default)]
    request_id_headers: Vec<String>,
    request_id_after: Option<String>,
    detail_after: Option<String>,
}

/// The resolved file: the recognisers in order, and the generic request-id
/// headers.
pub(super) struct Loaded {
    pub(super) recognisers: Vec<Recogniser>,
    pub(super) request_id_headers: Vec<String>,
}

fn lower(v: Vec<String>) -> Vec<String> {
    v.into_iter().map(|s| s.to_ascii_lowercase()).collect()
}

/// Parses and resolves the file.
pub(super) fn load(text: &str) -> Result<Loaded, RecogniserError> {
    let file: RecognisersFile =
        toml::from_str(text).map_err(|e| RecogniserError::Parse(e.to_string()))?;
    let mut recognisers: Vec<Recogniser> = Vec::with_capacity(file.recogniser.len());
    for e in file.recogniser {
        let invalid = |problem: String| RecogniserError::Invalid {
            id: e.id.clone(),
            problem,
        };
        if recognisers.iter().any(|r| r.id == e.id) {
            return Err(invalid("the id is used twice".into()));
        }
        if e.headers.is_empty() && e.body_all.is_empty() && e.body_any.is_empty() {
            return Err(invalid(
                "needs a condition on the headers or the body".into(),
            ));
        }
        let mut by_status = BTreeMap::new();
        for (code, text) in &e.by_status {
            let n: u16 = code
                .parse()
                .ok()
                .filter(|n| (100..=599).contains(n))
                .ok_or_else(|| invalid(format!("by_status key {code:?} is not a status code")))?;
            by_status.insert(n, text.clone());
        }
        recognisers.push(Recogniser {
            id: e.id.clone(),
            role: e.role,
            producer: e.producer,
            kind: e.kind,
            headers: e
                .headers
                .into_iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), v.to_ascii_lowercase()))
                .collect(),
            body_all: lower(e.body_all),
            body_any: lower(e.body_any),
            statuses: e.statuses,
            means: e.means,
            by_status,
            request_id_headers: lower(e.request_id_headers),
            request_id_after: e.request_id_after.map(|s| s.to_ascii_lowercase()),
            detail_after: e.detail_after.map(|s| s.to_ascii_lowercase()),
        });
    }
    Ok(Loaded {
        recognisers,
        request_id_headers: lower(file.request_ids.headers),
    })
}
