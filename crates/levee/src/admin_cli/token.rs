//! Where the CLI's secrets come from: the admin token (`--token-file` or
//! `LEVEE_ADMIN_TOKEN`) and a window's bypass token (`--bypass-token-file`).
//!
//! A token file uses the gateway's own format (docs/admin-api.md): the first
//! line that is neither blank nor a `#` comment counts, so the file given to
//! `levee serve --admin-token-file` works here too. This module must not
//! print a token, not even in an error.

use std::path::Path;

/// Why a token could not be had; each is a usage error (exit 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenError {
    /// The file could not be read.
    Unreadable {
        /// The file.
        path: String,
        /// What the OS said.
        cause: String,
    },
    /// The file has no line that holds a token.
    Empty {
        /// The file.
        path: String,
    },
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenError::Unreadable { path, cause } => {
                write!(f, "cannot read the token file {path}: {cause}")
            }
            TokenError::Empty { path } => write!(
                f,
                "the token file {path} holds no token (only blank lines and # comments)"
            ),
        }
    }
}

/// The first line of `text` that is neither blank nor a `#` comment, trimmed.
fn first_line(text: &str) -> Option<&str> {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
}

/// The admin token in a token file's text: the first line, and when it is
/// `name:token`, the part after the first `:`.
pub(crate) fn admin_token_in(text: &str) -> Option<&str> {
    let line = first_line(text)?;
    let token = match line.split_once(':') {
        Some((_name, token)) => token.trim(),
        None => line,
    };
    (!token.is_empty()).then_some(token)
}

/// Reads the admin token from `path`.
pub(crate) fn admin_token_file(path: &Path) -> Result<String, TokenError> {
    from_file(path, admin_token_in)
}

/// Reads a window's bypass token from `path`: the first line as it is (a
/// bypass token has no name, and may itself contain `:`).
pub(crate) fn bypass_token_file(path: &Path) -> Result<String, TokenError> {
    from_file(path, first_line)
}

/// The admin token to send: the file when one is given, else the
/// environment's `LEVEE_ADMIN_TOKEN` (`env`), else none.
pub(crate) fn resolve(
    file: Option<&Path>,
    env: Option<String>,
) -> Result<Option<String>, TokenError> {
    match file {
        Some(path) => admin_token_file(path).map(Some),
        None => Ok(env.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())),
    }
}

/// The token `pick` finds in the file at `path`.
fn from_file(path: &Path, pick: fn(&str) -> Option<&str>) -> Result<String, TokenError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| TokenError::Unreadable {
        path: shown.clone(),
        cause: e.to_string(),
    })?;
    pick(&text)
        .map(str::to_owned)
        .ok_or(TokenError::Empty { path: shown })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_real_line_counts_and_a_name_is_dropped() {
        let text =
            "# admin tokens\n\n   \nalice:s3cret-token-0123456789\nbob:another-one-0123456789\n";
        assert_eq!(admin_token_in(text), Some("s3cret-token-0123456789"));
        assert_eq!(
            admin_token_in("  plain-token-0123456789  \n"),
            Some("plain-token-0123456789")
        );
        // Only the first `:` separates the name.
        assert_eq!(admin_token_in("ops:a:b:c"), Some("a:b:c"));
        assert_eq!(admin_token_in("ops: spaced-token "), Some("spaced-token"));
    }

    #[test]
    fn no_token_is_none() {
        assert_eq!(admin_token_in(""), None);
        assert_eq!(admin_token_in("# only a comment\n\n"), None);
        assert_eq!(admin_token_in("name:"), None);
    }

    #[test]
    fn files_and_the_environment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("token");
        std::fs::write(&file, "# ops\nalice:from-the-file-0123456789\n").expect("write");
        assert_eq!(
            resolve(Some(&file), Some("from-the-env".into())),
            Ok(Some("from-the-file-0123456789".into())),
            "the flag wins over the environment"
        );
        assert_eq!(
            resolve(None, Some(" from-the-env \n".into())),
            Ok(Some("from-the-env".into()))
        );
        assert_eq!(resolve(None, Some("  ".into())), Ok(None));
        assert_eq!(resolve(None, None), Ok(None));

        let missing = dir.path().join("missing");
        let err = resolve(Some(&missing), None).expect_err("unreadable");
        assert!(matches!(err, TokenError::Unreadable { .. }), "{err}");
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "# nothing\n").expect("write");
        assert!(matches!(
            admin_token_file(&empty),
            Err(TokenError::Empty { .. })
        ));
    }

    #[test]
    fn a_bypass_token_keeps_its_colons() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("bypass");
        std::fs::write(&file, "\n# the bypass\nab:cd-0123456789abcdef\n").expect("write");
        assert_eq!(
            bypass_token_file(&file),
            Ok("ab:cd-0123456789abcdef".to_owned())
        );
    }
}
