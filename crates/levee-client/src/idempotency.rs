//! Which requests may be sent more than once (RFC 9110 §9.2.2).
//!
//! A retry repeats a request the server may already have acted on. That is
//! harmless for idempotent methods and dangerous for the rest: a retried
//! `POST /payments` can pay twice. So a non-idempotent request is retried only
//! when it carries an `Idempotency-Key` (draft-ietf-httpapi-idempotency-key),
//! which lets the server recognise the repeat, or when the failure proves the
//! request never left this machine (the connection was refused).
//!
//! This module owns those rules and the key format. It must not decide
//! *whether* a failure is worth retrying; [`crate::classify`] does.

use http::{HeaderMap, HeaderName, Method};

/// The `Idempotency-Key` request header.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// What to do with POST and PATCH requests that carry no `Idempotency-Key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdempotencyKeys {
    /// Leave them alone: such requests are sent once (retried only when the
    /// connection was refused, so the server never saw them).
    #[default]
    Never,
    /// Add a fresh random key before the first attempt and send the same key
    /// on every retry, so the server can deduplicate.
    Auto,
}

/// Whether RFC 9110 §9.2.2 defines `method` as idempotent.
pub fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// Whether a request may be sent again after the server may have seen it.
pub fn may_resend(method: &Method, headers: &HeaderMap) -> bool {
    is_idempotent(method) || headers.contains_key(IDEMPOTENCY_KEY)
}

/// Whether [`IdempotencyKeys::Auto`] should add a key to this request.
pub(crate) fn wants_auto_key(mode: IdempotencyKeys, method: &Method, headers: &HeaderMap) -> bool {
    mode == IdempotencyKeys::Auto
        && matches!(*method, Method::POST | Method::PATCH)
        && !headers.contains_key(IDEMPOTENCY_KEY)
}

/// A fresh key: a random (version 4) UUID, the format the draft recommends.
pub fn new_key() -> String {
    let mut bytes: [u8; 16] = rand::random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn rfc_9110_idempotent_methods() {
        for m in ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"] {
            assert!(is_idempotent(&m.parse().expect("method")), "{m}");
        }
        for m in ["POST", "PATCH", "CONNECT", "PURGE"] {
            assert!(!is_idempotent(&m.parse().expect("method")), "{m}");
        }
    }

    #[test]
    fn a_key_makes_post_resendable() {
        let mut headers = HeaderMap::new();
        assert!(!may_resend(&Method::POST, &headers));
        headers.insert(IDEMPOTENCY_KEY, HeaderValue::from_static("k1"));
        assert!(may_resend(&Method::POST, &headers));
    }

    #[test]
    fn auto_keys_only_for_unkeyed_post_and_patch() {
        let empty = HeaderMap::new();
        assert!(wants_auto_key(IdempotencyKeys::Auto, &Method::POST, &empty));
        assert!(wants_auto_key(
            IdempotencyKeys::Auto,
            &Method::PATCH,
            &empty
        ));
        assert!(!wants_auto_key(IdempotencyKeys::Auto, &Method::GET, &empty));
        assert!(!wants_auto_key(
            IdempotencyKeys::Never,
            &Method::POST,
            &empty
        ));
        let mut keyed = HeaderMap::new();
        keyed.insert(IDEMPOTENCY_KEY, HeaderValue::from_static("mine"));
        assert!(!wants_auto_key(
            IdempotencyKeys::Auto,
            &Method::POST,
            &keyed
        ));
    }

    #[test]
    fn keys_are_uuid_v4_and_distinct() {
        let a = new_key();
        let b = new_key();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(HeaderValue::from_str(&a).is_ok());
    }
}
