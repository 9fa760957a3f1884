//! gRPC's own terms for "unavailable": status codes, `grpc-message`,
//! `grpc-retry-pushback-ms` and `grpc-status-details-bin`.
//!
//! A gRPC client cannot read an HTTP 503 with a JSON body: it turns it into
//! `UNAVAILABLE "Received http2 header with status: 503"` and loses the
//! Retry-After, the reason and the request id. So the gateway answers a gRPC
//! request ([`is_grpc`]) that it refuses itself with a **trailers-only**
//! response (HTTP 200, `content-type: application/grpc`, no body) carrying:
//! - `grpc-status`, mapped from the reason ([`code_for`]);
//! - `grpc-message`, percent-encoded as the gRPC HTTP/2 protocol says;
//! - `grpc-retry-pushback-ms`, gRPC's own Retry-After (the A6 retry design:
//!   a client's retry policy waits that long; a negative value asks it not
//!   to retry at all);
//! - `grpc-status-details-bin`, a `google.rpc.Status` with an `ErrorInfo`
//!   (reason, domain, metadata such as the request id) and a `RetryInfo`,
//!   the rich error model grpcio-status, grpc-go's `status` and tonic read.
//!
//! The protobuf messages are four small ones, encoded by hand here
//! ([`status_details`]); this module must not know about HTTP messages or
//! sockets, only the field values.

use std::time::Duration;

use base64::Engine;

use crate::Reason;

/// The gRPC status codes the gateway answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Code {
    /// 4: the caller's deadline passed, or cannot be met.
    DeadlineExceeded = 4,
    /// 8: a quota ran out (the tenant's rate, the client's share, the size).
    ResourceExhausted = 8,
    /// 12: no such method here (no route).
    Unimplemented = 12,
    /// 13: the request could not be handled as sent.
    Internal = 13,
    /// 14: the service cannot take the call now; try again (later).
    Unavailable = 14,
}

impl Code {
    /// The number on the wire.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// The canonical name (`UNAVAILABLE`).
    pub fn name(self) -> &'static str {
        match self {
            Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::Unimplemented => "UNIMPLEMENTED",
            Code::Internal => "INTERNAL",
            Code::Unavailable => "UNAVAILABLE",
        }
    }
}

/// Whether a request's `content-type` is gRPC's (`application/grpc`, or
/// `application/grpc+proto` and the like). gRPC-Web is not: it has its own
/// framing of trailers.
pub fn is_grpc(content_type: Option<&[u8]>) -> bool {
    let Some(ct) = content_type else {
        return false;
    };
    let ct = ct.trim_ascii();
    let Some(rest) = ct
        .get(..16)
        .filter(|p| p.eq_ignore_ascii_case(b"application/grpc"))
        .map(|_| &ct[16..])
    else {
        return false;
    };
    rest.is_empty() || rest[0] == b'+' || rest[0] == b';'
}

/// The gRPC code for a reason. `callers_deadline`: the refusal is about the
/// caller's own deadline (it passed, or the wait would outlast it).
pub fn code_for(reason: Reason, callers_deadline: bool) -> Code {
    if callers_deadline {
        return Code::DeadlineExceeded;
    }
    match reason {
        Reason::Overloaded
        | Reason::Maintenance
        | Reason::UpstreamUnavailable
        | Reason::Draining
        | Reason::BadGateway
        | Reason::GatewayTimeout => Code::Unavailable,
        Reason::RateLimited | Reason::ClientLimit | Reason::PayloadTooLarge => {
            Code::ResourceExhausted
        }
        Reason::RequestTimeout => Code::DeadlineExceeded,
        Reason::NoRoute => Code::Unimplemented,
        _ => Code::Internal,
    }
}

/// `grpc-message`: percent-encodes every byte outside printable ASCII, and
/// `%` itself (gRPC over HTTP/2, "Responses").
pub fn encode_message(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `grpc-retry-pushback-ms`: the delay in whole milliseconds when a retry
/// can help, or `-1` (do not retry) when it cannot.
pub fn pushback(retry_in: Option<Duration>, retryable: bool) -> Option<String> {
    if !retryable {
        return Some("-1".to_owned());
    }
    retry_in.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).to_string())
}

/// The `ErrorInfo.domain` of the gateway's own refusals.
pub const DOMAIN: &str = "levee.dev";

/// `grpc-status-details-bin`: a `google.rpc.Status` { code, message,
/// details: [ `google.rpc.ErrorInfo` { reason, domain, metadata },
/// `google.rpc.RetryInfo` { retry_delay } when `retry_in` is given ] },
/// base64 without padding.
pub fn status_details(
    code: Code,
    message: &str,
    reason: &str,
    metadata: &[(&str, &str)],
    retry_in: Option<Duration>,
) -> String {
    let mut error_info = Vec::new();
    string_field(&mut error_info, 1, reason);
    string_field(&mut error_info, 2, DOMAIN);
    for (k, v) in metadata {
        let mut entry = Vec::new();
        string_field(&mut entry, 1, k);
        string_field(&mut entry, 2, v);
        bytes_field(&mut error_info, 3, &entry);
    }
    let mut status = Vec::new();
    varint_field(&mut status, 1, u64::from(code.number()));
    string_field(&mut status, 2, message);
    bytes_field(
        &mut status,
        3,
        &any("type.googleapis.com/google.rpc.ErrorInfo", &error_info),
    );
    if let Some(d) = retry_in {
        let mut duration = Vec::new();
        if d.as_secs() > 0 {
            varint_field(&mut duration, 1, d.as_secs());
        }
        if d.subsec_nanos() > 0 {
            varint_field(&mut duration, 2, u64::from(d.subsec_nanos()));
        }
        let mut retry_info = Vec::new();
        bytes_field(&mut retry_info, 1, &duration);
        bytes_field(
            &mut status,
            3,
            &any("type.googleapis.com/google.rpc.RetryInfo", &retry_info),
        );
    }
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(status)
}

/// A `google.protobuf.Any`.
fn any(type_url: &str, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    string_field(&mut out, 1, type_url);
    bytes_field(&mut out, 2, value);
    out
}

/// Reads a protobuf varint: its value and the bytes after it (`None` when
/// `bytes` does not start with one).
pub fn read_varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut value = 0u64;
    for (i, b) in bytes.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, &bytes[i + 1..]));
        }
    }
    None
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn varint_field(out: &mut Vec<u8>, field: u64, v: u64) {
    varint(out, field << 3);
    varint(out, v);
}

fn bytes_field(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    varint(out, (field << 3) | 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn string_field(out: &mut Vec<u8>, field: u64, s: &str) {
    bytes_field(out, field, s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_content_types() {
        for yes in [
            &b"application/grpc"[..],
            b"application/grpc+proto",
            b"Application/GRPC+json",
            b"application/grpc; charset=utf-8",
        ] {
            assert!(is_grpc(Some(yes)), "{}", String::from_utf8_lossy(yes));
        }
        for no in [
            &b"application/grpc-web"[..],
            b"application/grpc-web+proto",
            b"application/json",
            b"application/grp",
        ] {
            assert!(!is_grpc(Some(no)), "{}", String::from_utf8_lossy(no));
        }
        assert!(!is_grpc(None));
    }

    #[test]
    fn the_mapping_of_issue_20() {
        for r in [
            Reason::Overloaded,
            Reason::Maintenance,
            Reason::UpstreamUnavailable,
            Reason::Draining,
        ] {
            assert_eq!(code_for(r, false), Code::Unavailable, "{r:?}");
        }
        assert_eq!(
            code_for(Reason::RateLimited, false),
            Code::ResourceExhausted
        );
        assert_eq!(
            code_for(Reason::PayloadTooLarge, false),
            Code::ResourceExhausted
        );
        assert_eq!(code_for(Reason::Overloaded, true), Code::DeadlineExceeded);
        assert_eq!(
            code_for(Reason::GatewayTimeout, true),
            Code::DeadlineExceeded
        );
        assert_eq!(code_for(Reason::NoRoute, false), Code::Unimplemented);
    }

    #[test]
    fn messages_are_percent_encoded() {
        assert_eq!(encode_message("ok: 100% sure"), "ok: 100%25 sure");
        assert_eq!(encode_message("café\n"), "caf%C3%A9%0A");
    }

    #[test]
    fn pushback_is_a_delay_or_a_refusal() {
        assert_eq!(
            pushback(Some(Duration::from_millis(1500)), true).as_deref(),
            Some("1500")
        );
        assert_eq!(pushback(None, true), None);
        assert_eq!(
            pushback(Some(Duration::from_secs(1)), false).as_deref(),
            Some("-1")
        );
    }

    #[test]
    fn status_details_encode_as_protobuf() {
        let b64 = status_details(
            Code::Unavailable,
            "busy",
            "overloaded",
            &[("request_id", "req_1")],
            Some(Duration::from_millis(1500)),
        );
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(&b64)
            .expect("base64");
        // code = 14, message = "busy"
        assert_eq!(&bytes[..8], &[0x08, 14, 0x12, 4, b'b', b'u', b's', b'y']);
        let text = String::from_utf8_lossy(&bytes);
        for needle in [
            "type.googleapis.com/google.rpc.ErrorInfo",
            "overloaded",
            DOMAIN,
            "request_id",
            "req_1",
            "type.googleapis.com/google.rpc.RetryInfo",
        ] {
            assert!(text.contains(needle), "{needle}");
        }
        // RetryInfo { retry_delay: Duration { seconds: 1, nanos: 500_000_000 } }
        let nanos = {
            let mut v = Vec::new();
            varint_field(&mut v, 2, 500_000_000);
            v
        };
        assert!(bytes.windows(nanos.len()).any(|w| w == nanos.as_slice()));
    }
}
