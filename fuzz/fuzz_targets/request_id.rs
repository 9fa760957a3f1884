//! Request ids from clients (levee-http `request_id`). Input: the field
//! value; its first 16 bytes also make a ULID for a generated id.
//!
//! Checks: an accepted id is exactly what was sent, 1 to 128 bytes of the
//! documented alphabet (nothing that splits a log line or injects HTML),
//! and is accepted again; every generated id is 30 bytes, `req_…`, and
//! would be accepted from a client.

#![no_main]

use http::HeaderValue;
use levee_http::request_id::{MAX_LEN, RequestId};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = HeaderValue::from_bytes(data)
        && let Some(id) = RequestId::accept(&value)
    {
        assert_eq!(id.as_str().as_bytes(), data);
        assert!((1..=MAX_LEN).contains(&data.len()));
        assert!(
            id.as_str()
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"-_.:+=/@~".contains(&c)),
            "{id}"
        );
        assert_eq!(id.to_string(), id.as_str());
        assert_eq!(RequestId::accept(id.header_value()), Some(id.clone()));
    }
    if let Some(bytes) = data.first_chunk::<16>() {
        let id = RequestId::from_ulid(ulid::Ulid(u128::from_le_bytes(*bytes)));
        assert_eq!(id.as_str().len(), 30);
        assert!(id.as_str().starts_with("req_"));
        assert_eq!(RequestId::accept(id.header_value()), Some(id));
    }
});
