//! Plain text that reads well in a terminal: paragraphs and bullets wrapped
//! at a width, code kept as is. No markup, no colour.
//!
//! This module owns layout only; it must not know what it lays out.

/// The width when neither `--width` nor `$COLUMNS` says: a terminal's default.
pub(crate) const DEFAULT_WIDTH: usize = 80;
/// Narrower than this, wrapping does more harm than good.
const MIN_WIDTH: usize = 40;

/// The width to wrap at: the flag, else `$COLUMNS`, else the terminal's
/// when stdout is one, else [`DEFAULT_WIDTH`].
pub(crate) fn width(flag: Option<usize>) -> usize {
    flag.or_else(|| std::env::var("COLUMNS").ok()?.trim().parse().ok())
        .or_else(terminal_width)
        .unwrap_or(DEFAULT_WIDTH)
        .max(MIN_WIDTH)
}

#[cfg(unix)]
fn terminal_width() -> Option<usize> {
    let size = rustix::termios::tcgetwinsize(std::io::stdout()).ok()?;
    (size.ws_col > 0).then_some(usize::from(size.ws_col))
}

#[cfg(not(unix))]
fn terminal_width() -> Option<usize> {
    None
}

/// A text being written, wrapped at `width`.
pub(crate) struct Text {
    width: usize,
    out: String,
}

impl Text {
    /// An empty text.
    pub(crate) fn new(width: usize) -> Text {
        Text {
            width,
            out: String::new(),
        }
    }

    /// A line as is (headings, short facts).
    pub(crate) fn line(&mut self, s: &str) {
        self.out.push_str(s.trim_end());
        self.out.push('\n');
    }

    /// An empty line, unless the text is empty or already ends with one.
    pub(crate) fn gap(&mut self) {
        if !self.out.is_empty() && !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
    }

    /// A paragraph, every line indented by `indent`.
    pub(crate) fn para(&mut self, indent: &str, s: &str) {
        self.wrapped(indent, indent, s);
    }

    /// `label` then the text, continuation lines under the text.
    pub(crate) fn labelled(&mut self, label: &str, s: &str) {
        let hang = " ".repeat(label.chars().count());
        self.wrapped(label, &hang, s);
    }

    /// A bullet: `- text`, continuation lines under the text.
    pub(crate) fn bullet(&mut self, indent: &str, s: &str) {
        self.wrapped(&format!("{indent}- "), &format!("{indent}  "), s);
    }

    /// Code, each line indented, never wrapped.
    pub(crate) fn code(&mut self, indent: &str, code: &str) {
        for l in code.lines() {
            if l.is_empty() {
                self.out.push('\n');
            } else {
                self.out.push_str(indent);
                self.out.push_str(l);
                self.out.push('\n');
            }
        }
    }

    /// Greedy word wrap: `first` starts the first line, `rest` the others; a
    /// word longer than a line gets a line of its own.
    fn wrapped(&mut self, first: &str, rest: &str, s: &str) {
        let mut line = first.to_owned();
        let mut empty = true;
        for word in s.split_whitespace() {
            let fits = line.chars().count() + 1 + word.chars().count() <= self.width;
            if !empty && !fits {
                self.line(&line.clone());
                line = rest.to_owned();
                empty = true;
            }
            if !empty {
                line.push(' ');
            }
            line.push_str(word);
            empty = false;
        }
        self.line(&line);
    }

    /// The text written so far.
    pub(crate) fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_the_width_with_hanging_indents() {
        let mut t = Text::new(40);
        t.bullet(
            "  ",
            "Clients: honor Retry-After, back off with jitter, and spread requests out.",
        );
        t.labelled(
            "Whose side: ",
            "the server's, nothing is wrong with your request",
        );
        let text = t.finish();
        assert_eq!(
            text,
            "  - Clients: honor Retry-After, back off\n    with jitter, and spread requests\n    out.\n\
             Whose side: the server's, nothing is\n            wrong with your request\n"
        );
        assert!(text.lines().all(|l| l.chars().count() <= 40));
    }

    #[test]
    fn long_words_and_code_are_not_broken() {
        let mut t = Text::new(40);
        t.para("", &format!("see {}", "x".repeat(50)));
        t.code("    ", "fn main() {\n\n}");
        assert_eq!(
            t.finish(),
            format!("see\n{}\n    fn main() {{\n\n    }}\n", "x".repeat(50))
        );
    }
}
