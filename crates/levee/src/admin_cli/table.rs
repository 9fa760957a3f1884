//! Aligned plain-text tables and key/value blocks, the way `levee check` and
//! `levee config check` print: an upper-case header, columns padded with two
//! spaces between them, no borders, the last column unpadded.
//!
//! This module owns layout only (widths, truncation, one line per cell). It
//! must not know what a window or a drain is.

/// A table being built: a header and rows of cells.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names (printed upper-case).
    pub(crate) fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| h.to_uppercase()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are blank, extra cells are dropped.
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        let mut cells: Vec<String> = cells.into_iter().map(|c| one_line(&c)).collect();
        cells.resize(self.header.len(), String::new());
        self.rows.push(cells);
    }

    /// The table as text, one line per row after the header, each ending `\n`.
    pub(crate) fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(width(cell));
            }
        }
        let mut out = String::new();
        for line in std::iter::once(&self.header).chain(&self.rows) {
            let last = line.len().saturating_sub(1);
            let mut text = String::new();
            for (i, (cell, w)) in line.iter().zip(&widths).enumerate() {
                text.push_str(cell);
                if i < last {
                    text.extend(std::iter::repeat_n(' ', w - width(cell) + 2));
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Key/value lines with the keys padded to one width: `  key      value`.
pub(crate) fn pairs(lines: &[(&str, String)]) -> String {
    let w = lines.iter().map(|(k, _)| width(k)).max().unwrap_or(0);
    let mut out = String::new();
    for (key, value) in lines {
        out.push_str("  ");
        out.push_str(key);
        out.extend(std::iter::repeat_n(' ', w - width(key) + 2));
        out.push_str(value);
        out.push('\n');
    }
    out
}

/// `text` cut to at most `max` characters, ending with `…` when cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    let text = one_line(text);
    if width(&text) <= max {
        return text;
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// `text` on one line: line breaks and tabs become spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// How many columns `text` takes (one per character).
fn width(text: &str) -> usize {
    text.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_and_the_last_is_not_padded() {
        let mut t = Table::new(&["id", "state", "message"]);
        t.row(vec![
            "w_1".into(),
            "active".into(),
            "Database upgrade".into(),
        ]);
        t.row(vec!["w_22222".into(), "scheduled".into(), String::new()]);
        assert_eq!(
            t.render(),
            "ID       STATE      MESSAGE\n\
             w_1      active     Database upgrade\n\
             w_22222  scheduled\n"
        );
    }

    #[test]
    fn cells_stay_on_one_line_and_rows_are_padded() {
        let mut t = Table::new(&["a", "b"]);
        t.row(vec!["x\ny".into()]);
        assert_eq!(t.render(), "A    B\nx y\n");
    }

    #[test]
    fn non_ascii_text_counts_characters() {
        let mut t = Table::new(&["é", "z"]);
        t.row(vec!["ééé".into(), "1".into()]);
        assert_eq!(t.render(), "É    Z\nééé  1\n");
    }

    #[test]
    fn pairs_align_their_values() {
        assert_eq!(
            pairs(&[("scope", "all".into()), ("message", "hi".into())]),
            "  scope    all\n  message  hi\n"
        );
    }

    #[test]
    fn truncate_marks_the_cut() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("a long message", 6), "a lon…");
        assert_eq!(truncate("two\nlines", 20), "two lines");
    }
}
