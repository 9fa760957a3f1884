//! What Levee knows about every HTTP status code.
//!
//! One [`StatusInfo`] per code of the IANA HTTP Status Code Registry, and per
//! unofficial code that products send in the wild (nginx's 499, Cloudflare's
//! 52x, AWS load balancers' 46x …), each clearly marked by its [`Standing`].
//! An entry says what the status means, whose side the fault is on, the
//! common causes, what a visitor and a developer or operator can do, the
//! headers that belong with it, and whether and how a client may retry.
//! `levee explain`, the gateway's `/_levee/codes/` pages and the client's
//! give-up report all read the same entries.
//!
//! The knowledge is data, not code: `data/iana-status-codes.toml` mirrors
//! the registry (name and defining RFC section of each code) and
//! `data/status-codes.toml` holds the entries, with defaults per class.
//! Both are compiled in and parsed once, on first use; adding a code is a
//! change to those files only. Loading checks that every registered code
//! has an entry and that every entry outside the registry is marked
//! unofficial, and the tests load the bundled files.
//!
//! This module must not decide anything for a particular response (that is
//! [`crate::recognise`]) and must not do I/O.
//!
//! ```
//! use levee_http::status::{self, Fault, Retry};
//!
//! let info = status::lookup(503).expect("a registered code");
//! assert_eq!(info.name, "Service Unavailable");
//! assert_eq!(info.fault, Fault::Server);
//! assert_eq!(info.retry, Retry::Later);
//! assert_eq!(info.reference.as_ref().map(ToString::to_string).as_deref(), Some("RFC 9110 §15.6.4"));
//! assert!(!status::lookup(599).expect("known").is_official());
//! assert!(status::lookup(299).is_none());
//! ```

mod file;

use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::reason::Reason;

pub use file::DataError;

/// The class of a status code: its first digit (RFC 9110 §15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// 1xx: an interim response; the final one follows.
    Informational,
    /// 2xx: the request succeeded.
    Successful,
    /// 3xx: further action (a redirect, the cache) completes the request.
    Redirection,
    /// 4xx: the request is at fault.
    ClientError,
    /// 5xx: the server failed to fulfil an apparently valid request.
    ServerError,
}

impl Class {
    /// Every class, in order.
    pub const ALL: [Class; 5] = [
        Class::Informational,
        Class::Successful,
        Class::Redirection,
        Class::ClientError,
        Class::ServerError,
    ];

    /// The class of `code`, if it is a status code at all (100–599).
    pub fn of(code: u16) -> Option<Class> {
        match code {
            100..=199 => Some(Class::Informational),
            200..=299 => Some(Class::Successful),
            300..=399 => Some(Class::Redirection),
            400..=499 => Some(Class::ClientError),
            500..=599 => Some(Class::ServerError),
            _ => None,
        }
    }

    /// The class's x00 code, which RFC 9110 §15 says a client treats an
    /// unrecognised code of the class as.
    pub fn first(self) -> u16 {
        match self {
            Class::Informational => 100,
            Class::Successful => 200,
            Class::Redirection => 300,
            Class::ClientError => 400,
            Class::ServerError => 500,
        }
    }

    /// The class's name in RFC 9110, e.g. `Client Error`.
    pub fn name(self) -> &'static str {
        match self {
            Class::Informational => "Informational",
            Class::Successful => "Successful",
            Class::Redirection => "Redirection",
            Class::ClientError => "Client Error",
            Class::ServerError => "Server Error",
        }
    }

    /// `4xx` and the like.
    pub fn label(self) -> String {
        format!("{}xx", self.first() / 100)
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.label(), self.name())
    }
}

/// Whose side the fault is on, as the status says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fault {
    /// The request is wrong, or the client must act (sign in, slow down).
    Client,
    /// The server (or something behind it) failed or refused for now.
    Server,
    /// Nobody's: not an error, or a condition of the network (a captive portal).
    Neither,
}

impl Fault {
    /// `client`, `server` or `neither`.
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Client => "client",
            Fault::Server => "server",
            Fault::Neither => "neither",
        }
    }
}

/// Whether a client may send the same request again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Retry {
    /// Not an error (1xx–3xx): nothing to retry.
    #[serde(rename = "n/a")]
    NotAnError,
    /// No: the same request fails the same way until it is changed.
    #[serde(rename = "no")]
    No,
    /// Yes, after a delay (Retry-After when given): the server refused the
    /// request for now and did not process it.
    #[serde(rename = "later")]
    Later,
    /// Only idempotent requests, after a delay: the server may have acted.
    #[serde(rename = "idempotent")]
    IdempotentOnly,
}

impl Retry {
    /// Whether sending the request again later can succeed at all.
    pub fn is_retryable(self) -> bool {
        matches!(self, Retry::Later | Retry::IdempotentOnly)
    }
}

/// Where a code comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Standing {
    /// In the IANA registry.
    Registered,
    /// In the IANA registry provisionally, while its specification is a draft.
    Temporary {
        /// The registration's dates.
        note: String,
    },
    /// Not registered: a product's own use.
    Unofficial {
        /// Who uses it.
        origin: String,
    },
}

/// The document that defines a registered code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reference {
    /// `RFC 9110`, or an Internet-Draft's name.
    pub document: String,
    /// The defining section, e.g. `15.6.4`.
    pub section: Option<String>,
    /// A link to the document (and section).
    pub url: String,
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.section {
            Some(s) => write!(f, "{} §{s}", self.document),
            None => f.write_str(&self.document),
        }
    }
}

/// A header field that belongs with a status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeaderAdvice {
    /// The field name, e.g. `Retry-After`.
    pub name: String,
    /// A value to send in examples, when the header must be sent.
    pub example: Option<String>,
    /// What it is for.
    pub why: String,
}

/// Everything Levee knows about one status code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusInfo {
    /// The code, e.g. 503.
    pub code: u16,
    /// Its name: the registry's description, or the unofficial name.
    pub name: String,
    /// Registered, temporary, or unofficial (and whose).
    pub standing: Standing,
    /// The defining document, for registered codes.
    pub reference: Option<Reference>,
    /// Its class.
    pub class: Class,
    /// Whose side the fault is on.
    pub fault: Fault,
    /// What the status says, in one line.
    pub meaning: String,
    /// Why servers send it, most common first.
    pub causes: Vec<String>,
    /// What a person in a browser or an app can do.
    pub visitor_fix: String,
    /// What the developer or operator can do.
    pub developer_fix: Vec<String>,
    /// Header fields that belong with it.
    pub headers: Vec<HeaderAdvice>,
    /// Whether a client may send the request again.
    pub retry: Retry,
    /// How to retry (or why not), in a sentence.
    pub retry_note: String,
    /// Whether RFC 9110 §15.1 lets caches store it without explicit freshness.
    pub heuristically_cacheable: bool,
    /// Whether servers should not send it at all (unused, obsolete).
    pub avoid: bool,
}

impl StatusInfo {
    /// Whether the code is in the IANA registry (for good or provisionally).
    pub fn is_official(&self) -> bool {
        !matches!(self.standing, Standing::Unofficial { .. })
    }

    /// Whether it is an error (4xx or 5xx).
    pub fn is_error(&self) -> bool {
        matches!(self.class, Class::ClientError | Class::ServerError)
    }

    /// `503 Service Unavailable`.
    pub fn label(&self) -> String {
        format!("{} {}", self.code, self.name)
    }

    /// The Levee reasons the gateway answers with this status.
    pub fn levee_reasons(&self) -> Vec<Reason> {
        Reason::ALL
            .iter()
            .copied()
            .filter(|r| r.status().as_u16() == self.code)
            .collect()
    }

    /// A slug for the name, e.g. `service-unavailable` (used in example
    /// problem `type` URIs).
    pub fn slug(&self) -> String {
        let mut slug = String::new();
        for c in self.name.chars() {
            if c.is_ascii_alphanumeric() {
                slug.push(c.to_ascii_lowercase());
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
        }
        slug.trim_end_matches('-').to_owned()
    }
}

/// The bundled registry and entries, parsed once.
fn catalogue() -> &'static [StatusInfo] {
    static CATALOGUE: OnceLock<Vec<StatusInfo>> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        file::load(file::BUNDLED_REGISTRY, file::BUNDLED_CODES)
            .expect("the bundled status data is valid (status::tests load it)")
    })
}

/// Every known code, registered and unofficial, in numeric order.
pub fn all() -> &'static [StatusInfo] {
    catalogue()
}

/// The entry for `code`, if it is registered or has a known unofficial use.
pub fn lookup(code: u16) -> Option<&'static StatusInfo> {
    let all = catalogue();
    all.binary_search_by_key(&code, |s| s.code)
        .ok()
        .map(|i| &all[i])
}

/// The entry whose name matches `name`, ignoring case, spaces and hyphens
/// (`service-unavailable`, `Too Many Requests`).
pub fn lookup_name(name: &str) -> Option<&'static StatusInfo> {
    let want = squash(name);
    (!want.is_empty())
        .then(|| catalogue().iter().find(|s| squash(&s.name) == want))
        .flatten()
}

fn squash(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests;
