//! Request-path normalization (RFC 3986 §6.2.2), so that routing, route-scoped
//! maintenance and body limits see the path the upstream will act on.
//!
//! `/x/../limited/`, `//limited/` and `/%6cimited/` are all `/limited/` to a
//! typical upstream; a gateway that matched the raw text would let each past
//! a rule written for `/limited`. [`normalize`], in order:
//! 1. decodes percent-escapes of unreserved characters (`%41` → `A`, `%2E` →
//!    `.`) and upper-cases the hex of the others (`%2f` → `%2F`); an invalid
//!    escape (`%zz`, `%4`) is an error, as Envoy refuses it;
//! 2. merges runs of `/` into one, when asked (Envoy's `merge_slashes`);
//! 3. removes `.` and `..` segments (RFC 3986 §5.2.4); `..` never climbs
//!    above the root.
//!
//! An encoded slash (`%2F`) stays encoded: decoding it would change which
//! segments the path has. This module must not know about routes or HTTP
//! messages; it maps text to text.

use std::borrow::Cow;

/// Why a path cannot be normalized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// A `%` not followed by two hex digits.
    #[error("the path has an invalid percent-escape")]
    BadEscape,
}

/// `path` normalized; borrowed when it already was. `path` is the path
/// alone (no query), and is returned untouched unless it starts with `/`
/// (`*` for `OPTIONS *`, the empty path of a `CONNECT`).
pub fn normalize(path: &str, merge_slashes: bool) -> Result<Cow<'_, str>, PathError> {
    let needs_work =
        path.contains('%') || has_dot_segment(path) || (merge_slashes && path.contains("//"));
    if !needs_work || !path.starts_with('/') {
        return Ok(Cow::Borrowed(path));
    }
    let decoded = decode_unreserved(path)?;
    let merged = if merge_slashes {
        let mut out = String::with_capacity(decoded.len());
        let mut last_slash = false;
        for c in decoded.chars() {
            if !(c == '/' && last_slash) {
                out.push(c);
            }
            last_slash = c == '/';
        }
        out
    } else {
        decoded.into_owned()
    };
    let out = if has_dot_segment(&merged) {
        remove_dot_segments(&merged)
    } else {
        merged
    };
    Ok(if out == path {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(out)
    })
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn decode_unreserved(path: &str) -> Result<Cow<'_, str>, PathError> {
    if !path.contains('%') {
        return Ok(Cow::Borrowed(path));
    }
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let (Some(&h), Some(&l)) = (bytes.get(i + 1), bytes.get(i + 2)) else {
            return Err(PathError::BadEscape);
        };
        let (Some(hv), Some(lv)) = (hex(h), hex(l)) else {
            return Err(PathError::BadEscape);
        };
        let byte = hv * 16 + lv;
        if is_unreserved(byte) {
            out.push(byte);
        } else {
            out.push(b'%');
            out.push(h.to_ascii_uppercase());
            out.push(l.to_ascii_uppercase());
        }
        i += 3;
    }
    // Only ASCII was decoded, and the rest was copied byte for byte.
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| PathError::BadEscape)
}

fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|s| s == "." || s == "..")
}

/// RFC 3986 §5.2.4 for an absolute path: segment by segment, `.` dropped,
/// `..` removes the segment before it (never the root), and a path that
/// ended in a dot segment keeps its trailing slash.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path[1..].split('/').collect();
    let last = segments.len().saturating_sub(1);
    let mut trailing_slash = false;
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." => trailing_slash = i == last,
            ".." => {
                out.pop();
                trailing_slash = i == last;
            }
            s => {
                out.push(s);
                trailing_slash = false;
            }
        }
    }
    let mut text = String::with_capacity(path.len());
    for s in &out {
        text.push('/');
        text.push_str(s);
    }
    if trailing_slash || text.is_empty() {
        text.push('/');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(p: &str) -> String {
        normalize(p, true).expect("valid").into_owned()
    }

    #[test]
    fn the_bypasses_of_issue_11_are_closed() {
        assert_eq!(n("/x/../limited/"), "/limited/");
        assert_eq!(n("//brk/"), "/brk/");
        assert_eq!(n("/%62rk/"), "/brk/");
        assert_eq!(n("/%2e%2E/brk"), "/brk");
        assert_eq!(n("/a/%2e/b"), "/a/b");
    }

    #[test]
    fn rfc_3986_dot_segments() {
        assert_eq!(n("/a/b/c/./../../g"), "/a/g");
        assert_eq!(n("/mid/content=5/../6"), "/mid/6");
        assert_eq!(n("/.."), "/");
        assert_eq!(n("/../../x"), "/x");
        assert_eq!(n("/a/.."), "/");
        assert_eq!(n("/a/b/.."), "/a/");
        assert_eq!(n("/a/."), "/a/");
        assert_eq!(n("/a..b/.c/"), "/a..b/.c/");
    }

    #[test]
    fn escapes() {
        assert_eq!(n("/%7Euser"), "/~user");
        assert_eq!(n("/a%2fb"), "/a%2Fb", "an encoded slash stays encoded");
        assert_eq!(n("/caf%c3%a9"), "/caf%C3%A9");
        assert_eq!(normalize("/bad%zz", true), Err(PathError::BadEscape));
        assert_eq!(normalize("/bad%4", true), Err(PathError::BadEscape));
        assert_eq!(normalize("/bad%", true), Err(PathError::BadEscape));
    }

    #[test]
    fn merging_slashes_is_optional_and_normal_paths_are_borrowed() {
        assert_eq!(normalize("/a//b", false).expect("ok"), "/a//b");
        assert_eq!(n("/a//b///c"), "/a/b/c");
        assert!(matches!(normalize("/a/b/c", true), Ok(Cow::Borrowed(_))));
        assert!(matches!(normalize("*", true), Ok(Cow::Borrowed("*"))));
        assert_eq!(n("/"), "/");
    }
}
