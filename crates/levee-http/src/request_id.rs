//! Request ids: accepted from the client when well-formed, generated otherwise.
//!
//! A request id follows a request through the gateway, to the upstream (in the
//! same header), into every log line and every problem body, and back to the
//! client on every response, so that "request id req_01J…" is all a person
//! needs to quote to support.
//!
//! An incoming id is kept when it is 1 to [`MAX_LEN`] bytes of
//! `A–Z a–z 0–9 - _ . : + = / @ ~` — enough for UUIDs, ULIDs, W3C trace ids
//! and AWS/Heroku styles, and nothing that could split a log line or inject
//! HTML. Anything else is replaced, never echoed. Generated ids are `req_`
//! followed by a ULID: 26 characters, lexicographically sortable by time.
//!
//! This module must not read the clock or a random source itself: the caller
//! passes the ULID it generated.

use http::HeaderValue;

/// The longest incoming id kept, in bytes.
pub const MAX_LEN: usize = 128;

/// A validated request id, ready to be sent as a header value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// Keeps a client's id when it is well-formed.
    pub fn accept(value: &HeaderValue) -> Option<RequestId> {
        let b = value.as_bytes();
        let ok = !b.is_empty() && b.len() <= MAX_LEN && b.iter().all(|c| is_id_byte(*c));
        ok.then(|| RequestId(value.clone()))
    }

    /// A new id from a ULID the caller generated: `req_` + 26 characters.
    pub fn from_ulid(ulid: ulid::Ulid) -> RequestId {
        let mut buf = [0u8; 30];
        buf[..4].copy_from_slice(b"req_");
        let s = ulid.array_to_str(&mut [0u8; 26]).to_owned();
        buf[4..].copy_from_slice(s.as_bytes());
        RequestId(
            HeaderValue::from_bytes(&buf)
                .expect("req_ and Crockford base32 are valid header bytes"),
        )
    }

    /// The id as a header value.
    pub fn header_value(&self) -> &HeaderValue {
        &self.0
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        self.0.to_str().expect("validated ids are visible ASCII")
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn is_id_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'-' | b'_' | b'.' | b':' | b'+' | b'=' | b'/' | b'@' | b'~'
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keeps_common_styles() {
        for ok in [
            "550e8400-e29b-41d4-a716-446655440000",
            "req_01J0000000000000000000000",
            "Root=1-5759e988-bd862e3fe1be46a994272793",
        ] {
            let v = HeaderValue::from_static(ok);
            assert_eq!(
                RequestId::accept(&v).map(|r| r.to_string()),
                Some(ok.to_owned())
            );
        }
    }

    #[test]
    fn rejects_unsafe_or_long() {
        for bad in ["", "a b", "<script>", "x\"y", &"a".repeat(MAX_LEN + 1)] {
            let v = HeaderValue::from_str(bad).expect("valid header value");
            assert!(RequestId::accept(&v).is_none(), "{bad:?}");
        }
        assert!(
            RequestId::accept(&HeaderValue::from_bytes(b"caf\xc3\xa9").expect("obs-text"))
                .is_none()
        );
    }

    #[test]
    fn generated_ids_sort_by_time() {
        let a = RequestId::from_ulid(ulid::Ulid::from_parts(1_000, 7));
        let b = RequestId::from_ulid(ulid::Ulid::from_parts(2_000, 3));
        assert!(a.as_str().starts_with("req_") && a.as_str().len() == 30);
        assert!(a.as_str() < b.as_str());
        assert!(RequestId::accept(a.header_value()).is_some());
    }

    proptest! {
        #[test]
        fn accepted_ids_are_safe(s in "\\PC{0,200}") {
            if let Ok(v) = HeaderValue::from_str(&s)
                && let Some(id) = RequestId::accept(&v) {
                    prop_assert!(id.as_str().len() <= MAX_LEN);
                    prop_assert!(!id.as_str().contains(['<', '>', '"', ' ', '\n']));
                }
        }
    }
}
