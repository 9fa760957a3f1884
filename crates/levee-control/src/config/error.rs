//! Configuration errors that point at the file, line and column.
//!
//! Syntax and type errors come from the TOML parser with a byte span;
//! semantic errors (an unknown pool, a bad address) come from values that
//! kept their span. Both become [`Diagnostic`]s rendered as
//! `levee.toml:12:8: unknown pool "ap"; expected one of: app`, every error
//! of a file at once, so an operator fixes them in one pass.
//!
//! This module must not decide what is valid.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

/// One problem at one place in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based line, when the place is known.
    pub line: Option<usize>,
    /// 1-based column (in characters), when the place is known.
    pub column: Option<usize>,
    /// What is wrong and what was expected.
    pub message: String,
}

/// Every problem found in one configuration.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigError {
    /// The file, or `<flags>` for a configuration made of command-line flags.
    pub file: PathBuf,
    /// The problems, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}", self.file.display())?;
            if let (Some(l), Some(c)) = (d.line, d.column) {
                write!(f, ":{l}:{c}")?;
            }
            write!(f, ": {}", d.message)?;
        }
        Ok(())
    }
}

/// Collects diagnostics against one source text.
#[derive(Debug)]
pub struct Collector<'a> {
    source: &'a str,
    out: Vec<Diagnostic>,
}

impl<'a> Collector<'a> {
    /// A collector for `source`.
    pub fn new(source: &'a str) -> Collector<'a> {
        Collector {
            source,
            out: Vec::new(),
        }
    }

    /// Records a problem at `span` (a byte range of the source), if known.
    pub fn at(&mut self, span: Option<Range<usize>>, message: impl Into<String>) {
        let (line, column) = match span {
            Some(s) => {
                let (l, c) = line_col(self.source, s.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        self.out.push(Diagnostic {
            line,
            column,
            message: message.into(),
        });
    }

    /// Whether anything was recorded.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// The error for `file`, or `Ok` when nothing was recorded.
    pub fn finish(mut self, file: PathBuf) -> Result<(), ConfigError> {
        if self.out.is_empty() {
            return Ok(());
        }
        self.out.sort_by_key(|d| (d.line, d.column));
        Err(ConfigError {
            file,
            diagnostics: self.out,
        })
    }
}

/// 1-based line and column of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column() {
        let s = "a = 1\nbb = 2\n";
        assert_eq!(line_col(s, 0), (1, 1));
        assert_eq!(line_col(s, 6), (2, 1));
        assert_eq!(line_col(s, 8), (2, 3));
        assert_eq!(line_col(s, 999), (3, 1));
    }
}
