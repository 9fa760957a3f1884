//! Request classes: which requests are alike enough to compare latencies.
//!
//! A class is the method and the *normalised* path: segments that are
//! identifiers — all digits, a UUID, a long hexadecimal or mixed
//! letter-and-digit token — become `{id}`, the query is ignored, and only
//! the first [`MAX_SEGMENTS`] segments count. So `GET /users/42/orders` and
//! `GET /users/7/orders` are one class (`GET /users/{id}/orders`), and
//! `GET /reports/annual` another. The admission core bounds the number of
//! classes per route; the rest share "other".
//!
//! The key is a hash computed without allocating; the name is built only the
//! first time a class is seen. This module must not decide anything about a
//! class; it only names it.

use std::hash::{BuildHasher, Hasher};

use http::Method;

/// Path segments that count towards a class; deeper ones are ignored.
pub const MAX_SEGMENTS: usize = 6;

/// What an identifier segment becomes in a class name.
const ID: &str = "{id}";

/// The class key of a request: method and normalised path, hashed.
pub fn key(method: &Method, path: &str) -> u64 {
    // A fixed hasher: the key must be the same for the same class within
    // the process, and it never leaves it.
    let mut h =
        std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
            .build_hasher();
    h.write(method.as_str().as_bytes());
    for segment in segments(path) {
        h.write_u8(b'/');
        h.write(if is_id(segment) {
            ID.as_bytes()
        } else {
            segment.as_bytes()
        });
    }
    h.finish()
}

/// The class name of a request, e.g. `GET /users/{id}/orders`.
pub fn name(method: &Method, path: &str) -> String {
    let mut out = String::from(method.as_str());
    out.push(' ');
    let mut any = false;
    for segment in segments(path) {
        out.push('/');
        out.push_str(if is_id(segment) { ID } else { segment });
        any = true;
    }
    if !any {
        out.push('/');
    }
    out
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    let path = path.split(['?', '#']).next().unwrap_or("");
    path.split('/').filter(|s| !s.is_empty()).take(MAX_SEGMENTS)
}

/// Whether a path segment names one thing rather than a kind of thing.
fn is_id(s: &str) -> bool {
    let digits = s.bytes().filter(u8::is_ascii_digit).count();
    if digits == s.len() {
        return true; // 42, 2026
    }
    if is_uuid(s) {
        return true;
    }
    let hex = s.bytes().all(|b| b.is_ascii_hexdigit());
    if hex && s.len() >= 8 && digits > 0 {
        return true; // a hash, an object id
    }
    // A long token mixing letters and digits (base64 ids, slugs with ids).
    s.len() >= 16
        && digits > 0
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_=".contains(&b))
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_collapse_and_kinds_stay() {
        let get = Method::GET;
        assert_eq!(name(&get, "/users/42/orders?x=1"), "GET /users/{id}/orders");
        assert_eq!(
            name(&get, "/o/123e4567-e89b-12d3-a456-426614174000"),
            "GET /o/{id}"
        );
        assert_eq!(name(&get, "/blob/9f86d081884c7d65"), "GET /blob/{id}");
        assert_eq!(name(&get, "/t/aGVsbG8gd29ybGQ1234"), "GET /t/{id}");
        assert_eq!(name(&get, "/reports/annual"), "GET /reports/annual");
        assert_eq!(
            name(&get, "/cafe"),
            "GET /cafe",
            "short hex words are words"
        );
        assert_eq!(name(&get, "/"), "GET /");
        assert_eq!(name(&Method::POST, "//a///b/"), "POST /a/b");
        assert_eq!(key(&get, "/users/1/orders"), key(&get, "/users/2/orders"));
        assert_ne!(key(&get, "/users/1"), key(&Method::POST, "/users/1"));
        assert_ne!(key(&get, "/a"), key(&get, "/b"));
    }

    #[test]
    fn depth_is_bounded() {
        let deep = "/a/b/c/d/e/f/g/h";
        assert_eq!(name(&Method::GET, deep), "GET /a/b/c/d/e/f");
        assert_eq!(
            key(&Method::GET, deep),
            key(&Method::GET, "/a/b/c/d/e/f/zzz")
        );
    }
}
