//! Reading a gRPC refusal: a trailers-only response (HTTP 200 with
//! `grpc-status` in its head) and the wait it asks for.
//!
//! The wait comes, in order, from `grpc-retry-pushback-ms` (gRPC's A6
//! retry design: milliseconds, or a negative value for "do not retry"),
//! from the `RetryInfo.retry_delay` in `grpc-status-details-bin` (the
//! `google.rpc.Status` rich error model), or from `Retry-After`. The
//! protobuf is read by hand: three small messages do not justify codegen.
//!
//! This module decides nothing: [`crate::run`] judges what it reads.

use std::time::Duration;

use base64::Engine;
use http::HeaderMap;

/// `UNAVAILABLE`: the service cannot take the call now.
pub(crate) const UNAVAILABLE: u32 = 14;
/// `RESOURCE_EXHAUSTED`: a quota or rate limit.
pub(crate) const RESOURCE_EXHAUSTED: u32 = 8;

/// What a gRPC response's head says about retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GrpcAnswer {
    /// Its `grpc-status`.
    pub(crate) code: u32,
    /// The wait it asks for: `Some(Ok(d))` a wait, `Some(Err(()))` "do not
    /// retry" (a negative pushback), `None` nothing said.
    pub(crate) wait: Option<Result<Duration, ()>>,
}

/// The gRPC status of a trailers-only response, if `headers` carry one.
pub(crate) fn answer(headers: &HeaderMap) -> Option<GrpcAnswer> {
    let code = headers
        .get("grpc-status")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let pushback = headers
        .get("grpc-retry-pushback-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .map(|ms| u64::try_from(ms).map(Duration::from_millis).map_err(|_| ()));
    let wait = pushback.or_else(|| {
        headers
            .get("grpc-status-details-bin")
            .and_then(|v| retry_delay(v.as_bytes()))
            .map(Ok)
    });
    Some(GrpcAnswer { code, wait })
}

/// The `RetryInfo.retry_delay` in a `grpc-status-details-bin` value.
fn retry_delay(value: &[u8]) -> Option<Duration> {
    // gRPC sends it unpadded; padding is accepted too.
    let value = value.trim_ascii();
    let end = value.iter().rposition(|b| *b != b'=').map_or(0, |i| i + 1);
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(&value[..end])
        .ok()?;
    // google.rpc.Status { code = 1; message = 2; repeated Any details = 3 }
    for (field, any) in fields(&bytes)? {
        let Field::Bytes(any) = any else { continue };
        if field != 3 {
            continue;
        }
        // google.protobuf.Any { type_url = 1; value = 2 }
        let parts = fields(any)?;
        let is_retry_info = parts.iter().any(|(f, v)| {
            *f == 1 && matches!(v, Field::Bytes(t) if t.ends_with(b"google.rpc.RetryInfo"))
        });
        if !is_retry_info {
            continue;
        }
        let info = parts.iter().find_map(|(f, v)| match v {
            Field::Bytes(b) if *f == 2 => Some(*b),
            _ => None,
        })?;
        // RetryInfo { google.protobuf.Duration retry_delay = 1 }
        let delay = fields(info)?.into_iter().find_map(|(f, v)| match v {
            Field::Bytes(b) if f == 1 => Some(b),
            _ => None,
        })?;
        // Duration { int64 seconds = 1; int32 nanos = 2 }
        let (mut secs, mut nanos) = (0u64, 0u64);
        for (f, v) in fields(delay)? {
            match (f, v) {
                (1, Field::Varint(s)) => secs = s,
                (2, Field::Varint(n)) => nanos = n,
                _ => {}
            }
        }
        // Negative seconds or nanos (two's complement): no usable delay.
        let nanos = u32::try_from(nanos).ok().filter(|n| *n < 1_000_000_000)?;
        return i64::try_from(secs)
            .ok()
            .and_then(|s| u64::try_from(s).ok())
            .map(|s| Duration::new(s, nanos));
    }
    None
}

/// A protobuf field's value, as far as this module needs.
#[derive(Debug)]
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

/// The fields of a protobuf message, or `None` if it is malformed.
fn fields(mut bytes: &[u8]) -> Option<Vec<(u64, Field<'_>)>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (key, rest) = levee_http::grpc::read_varint(bytes)?;
        let (field, wire) = (key >> 3, key & 7);
        bytes = match wire {
            0 => {
                let (v, rest) = levee_http::grpc::read_varint(rest)?;
                out.push((field, Field::Varint(v)));
                rest
            }
            1 => rest.get(8..)?,
            2 => {
                let (len, rest) = levee_http::grpc::read_varint(rest)?;
                let len = usize::try_from(len).ok()?;
                out.push((field, Field::Bytes(rest.get(..len)?)));
                rest.get(len..)?
            }
            5 => rest.get(4..)?,
            _ => return None,
        };
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("value"));
        }
        h
    }

    #[test]
    fn pushback_first_then_retry_info() {
        assert_eq!(answer(&HeaderMap::new()), None);
        let a = answer(&head(&[
            ("grpc-status", "14"),
            ("grpc-retry-pushback-ms", "700"),
        ]));
        assert_eq!(
            a,
            Some(GrpcAnswer {
                code: 14,
                wait: Some(Ok(Duration::from_millis(700)))
            })
        );
        let no = answer(&head(&[
            ("grpc-status", "14"),
            ("grpc-retry-pushback-ms", "-1"),
        ]));
        assert_eq!(no.and_then(|a| a.wait), Some(Err(())));
        let none = answer(&head(&[("grpc-status", "8")]));
        assert_eq!(
            none,
            Some(GrpcAnswer {
                code: 8,
                wait: None
            })
        );
    }

    /// A `google.rpc.Status` with a `RetryInfo` of 2.5 s, as Levee (and
    /// tonic-types) encode it.
    #[test]
    fn retry_info_in_the_details() {
        let duration = [0x08, 2, 0x10, 0x80, 0xca, 0xb5, 0xee, 0x01]; // 2 s, 500_000_000 ns
        let mut retry_info = vec![0x0a, duration.len() as u8];
        retry_info.extend_from_slice(&duration);
        let type_url = b"type.googleapis.com/google.rpc.RetryInfo";
        let mut any = vec![0x0a, type_url.len() as u8];
        any.extend_from_slice(type_url);
        any.extend_from_slice(&[0x12, retry_info.len() as u8]);
        any.extend_from_slice(&retry_info);
        let mut status = vec![0x08, 14, 0x1a, any.len() as u8];
        status.extend_from_slice(&any);
        let value = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&status);
        let a = answer(&head(&[
            ("grpc-status", "14"),
            ("grpc-status-details-bin", &value),
        ]));
        assert_eq!(
            a.and_then(|a| a.wait),
            Some(Ok(Duration::from_millis(2500)))
        );
        // Padded base64 is read too; garbage is no instruction.
        let padded = base64::engine::general_purpose::STANDARD.encode(&status);
        assert_eq!(
            retry_delay(padded.as_bytes()),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(retry_delay(b"%%%"), None);
        assert_eq!(retry_delay(b"CA4"), None, "a Status without details");
    }
}
