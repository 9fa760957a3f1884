//! Admin API tokens: where they come from and how a request proves one.
//!
//! Tokens are read from a file (`name:token` per line) or the environment
//! (`LEVEE_ADMIN_TOKEN`, named `env`). Only their SHA-256 digests are kept;
//! a presented bearer token is digested and compared with every known
//! digest in constant time (no early exit), so timing reveals neither which
//! token nor how much of one was guessed right. The token's *name* is what
//! the audit log records; the token itself is never logged or stored.
//!
//! This module must not decide what a token may do: every valid token may
//! use the whole admin API.

use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

use levee_proxy::control::{check_token, token_digest as digest};

/// The environment variable holding a token for `levee serve`.
pub const TOKEN_ENV: &str = "LEVEE_ADMIN_TOKEN";

/// The tokens a gateway accepts; cheap to clone, never prints a secret.
#[derive(Clone, Default)]
pub struct AdminTokens(Arc<Vec<(String, [u8; 32])>>);

impl std::fmt::Debug for AdminTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| name))
            .finish()
    }
}

/// Why tokens could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The file could not be read.
    #[error("cannot read the admin token file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file holds no token (empty, or only comments).
    #[error("{path}:1: no token in the file: expected lines of name:token")]
    Empty {
        /// The file.
        path: String,
    },
    /// A line is not a valid token.
    #[error("{path}:{line}: {what}")]
    Invalid {
        /// The file (or the variable's name).
        path: String,
        /// 1-based line.
        line: usize,
        /// What was expected.
        what: String,
    },
}

/// How a request's credentials turned out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A known token; its name.
    Allowed(String),
    /// No `Authorization: Bearer …` at all.
    Missing,
    /// A bearer token that is not known.
    Invalid,
}

impl AdminTokens {
    /// No tokens: every admin API call is refused.
    pub fn none() -> AdminTokens {
        AdminTokens::default()
    }

    /// Tokens from `name:token` pairs.
    pub fn from_pairs<I, N, T>(pairs: I) -> AdminTokens
    where
        I: IntoIterator<Item = (N, T)>,
        N: Into<String>,
        T: AsRef<str>,
    {
        AdminTokens(Arc::new(
            pairs
                .into_iter()
                .map(|(n, t)| (n.into(), digest(t.as_ref())))
                .collect(),
        ))
    }

    /// Parses a token file: `name:token` per line (a line without `:` is a
    /// token named `default`); blank lines and `#` comments are skipped.
    pub fn parse(text: &str, path: &str) -> Result<AdminTokens, TokenError> {
        let mut out = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (name, token) = match line.split_once(':') {
                Some((n, t)) => (n.trim(), t.trim()),
                None => ("default", line),
            };
            let invalid = |what: String| TokenError::Invalid {
                path: path.to_owned(),
                line: i + 1,
                what,
            };
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
            {
                return Err(invalid(format!(
                    "invalid token name `{name}`: expected letters, digits, - _ . @"
                )));
            }
            check_token(token).map_err(invalid)?;
            if out.iter().any(|(n, _): &(String, [u8; 32])| n == name) {
                return Err(invalid(format!("the name `{name}` is used twice")));
            }
            out.push((name.to_owned(), digest(token)));
        }
        if out.is_empty() {
            return Err(TokenError::Empty {
                path: path.to_owned(),
            });
        }
        Ok(AdminTokens(Arc::new(out)))
    }

    /// Reads a token file again while the gateway runs. Unlike at start, a
    /// file that is gone or holds no token is not an error: it **revokes**
    /// every token it held (an operator empties or deletes the file to cut
    /// access, and a credential must fail closed). A file that cannot be
    /// read otherwise, or has an invalid line, is an error, and the caller
    /// keeps the tokens in force.
    pub fn reread(path: &Path) -> Result<AdminTokens, TokenError> {
        match AdminTokens::read(path) {
            Err(TokenError::Empty { .. }) => Ok(AdminTokens::none()),
            Err(TokenError::Read { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Ok(AdminTokens::none())
            }
            other => other,
        }
    }

    /// Reads a token file.
    pub fn read(path: &Path) -> Result<AdminTokens, TokenError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokenError::Read {
            path: path.display().to_string(),
            source,
        })?;
        AdminTokens::parse(&text, &path.display().to_string())
    }

    /// Adds a token (e.g. from `LEVEE_ADMIN_TOKEN`) under `name`.
    pub fn with(self, name: &str, token: &str) -> Result<AdminTokens, TokenError> {
        check_token(token).map_err(|what| TokenError::Invalid {
            path: TOKEN_ENV.to_owned(),
            line: 1,
            what,
        })?;
        let mut v = (*self.0).clone();
        v.retain(|(n, _)| n != name);
        v.push((name.to_owned(), digest(token)));
        Ok(AdminTokens(Arc::new(v)))
    }

    /// How many tokens there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether any token is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Checks an `Authorization` header value.
    pub fn verify(&self, authorization: Option<&[u8]>) -> Verdict {
        let Some(value) = authorization else {
            return Verdict::Missing;
        };
        let Some(token) = bearer(value) else {
            return Verdict::Missing;
        };
        let presented = Sha256::digest(token);
        // Compare with every digest, keeping the index of a match without
        // branching on secret data.
        let mut found = subtle::CtOption::new(0u64, 0u8.into());
        for (i, (_, d)) in self.0.iter().enumerate() {
            let eq = d.ct_eq(presented.as_slice());
            let idx = u64::try_from(i).unwrap_or(u64::MAX);
            found = subtle::CtOption::new(
                u64::conditional_select(&found.unwrap_or(0), &idx, eq),
                found.is_some() | eq,
            );
        }
        match Option::<u64>::from(found)
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| self.0.get(i))
        {
            Some((name, _)) => Verdict::Allowed(name.clone()),
            None => Verdict::Invalid,
        }
    }
}

/// The token of `Bearer <token>` (scheme case-insensitive, RFC 7235 §2.1).
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let s = std::str::from_utf8(value).ok()?.trim();
    let (scheme, token) = s.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().as_bytes())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_named_tokens_and_skips_comments() {
        let t = AdminTokens::parse(
            "# ops\nalice:aaaaaaaaaaaaaaaaaaaa\n\nbbbbbbbbbbbbbbbbbbbb\n",
            "t",
        )
        .expect("valid");
        assert_eq!(
            t.verify(Some(b"Bearer aaaaaaaaaaaaaaaaaaaa")),
            Verdict::Allowed("alice".into())
        );
        assert_eq!(
            t.verify(Some(b"bearer bbbbbbbbbbbbbbbbbbbb")),
            Verdict::Allowed("default".into())
        );
        assert_eq!(
            t.verify(Some(b"Bearer aaaaaaaaaaaaaaaaaaab")),
            Verdict::Invalid
        );
        assert_eq!(t.verify(Some(b"Basic YWxpY2U6eA==")), Verdict::Missing);
        assert_eq!(t.verify(None), Verdict::Missing);
        assert_eq!(
            format!("{t:?}"),
            r#"["alice", "default"]"#,
            "no secrets in Debug"
        );
    }

    #[test]
    fn bad_files_say_where_and_what() {
        let err = AdminTokens::parse("alice:short\n", "tokens.txt").expect_err("short");
        assert_eq!(
            err.to_string(),
            "tokens.txt:1: the token is too short: expected at least 16 characters"
        );
        let err = AdminTokens::parse("a:aaaaaaaaaaaaaaaaaaaa\na:bbbbbbbbbbbbbbbbbbbb\n", "t")
            .expect_err("dup");
        assert!(
            err.to_string()
                .starts_with("t:2: the name `a` is used twice")
        );
        assert!(AdminTokens::parse("# nothing\n", "t").is_err());
    }

    #[test]
    fn no_tokens_refuse_everything() {
        assert_eq!(
            AdminTokens::none().verify(Some(b"Bearer aaaaaaaaaaaaaaaaaaaa")),
            Verdict::Invalid
        );
    }
}
