//! A raw HTTP response, as `curl -i` (or `curl -si`, `-sSi`, `-iL`) prints
//! it or as it came off the wire, read into a status, headers and a body.
//!
//! curl prints every response head it saw: interim ones (`100 Continue`),
//! a proxy's `200 Connection established`, and with `-L` every redirect.
//! The answer to explain is the last one: a head followed directly by
//! another status line is skipped. HTTP/2 and HTTP/3 status lines have no
//! reason phrase; line ends may be CRLF or LF.
//!
//! This module owns that reading. It must not interpret the answer.

use anyhow::{Context, bail};
use http::{HeaderMap, HeaderName, HeaderValue};

/// A response read from text.
#[derive(Debug)]
pub(crate) struct RawResponse {
    /// The status code.
    pub(crate) status: u16,
    /// The header fields (malformed lines are skipped).
    pub(crate) headers: HeaderMap,
    /// Everything after the head.
    pub(crate) body: Vec<u8>,
}

/// Reads the last response in `input`.
pub(crate) fn parse(input: &[u8]) -> anyhow::Result<RawResponse> {
    let mut rest = trim_start(input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input));
    if rest.is_empty() {
        bail!("nothing on stdin: pipe a response into it, e.g. `curl -si URL | levee explain -`");
    }
    loop {
        let (status_line, after) = split_line(rest);
        let status = status_code(status_line).with_context(|| {
            format!(
                "expected a status line such as `HTTP/1.1 503 Service Unavailable`, found {:?} \
                 (use `curl -i` or `curl -si` so the head is included)",
                String::from_utf8_lossy(&status_line[..status_line.len().min(60)])
            )
        })?;
        // (name, value) as read; an obs-fold line continues the last value
        // (RFC 9112 §5.2).
        let mut fields: Vec<(&[u8], Vec<u8>)> = Vec::new();
        let mut body = after;
        while !body.is_empty() {
            let (line, next) = split_line(body);
            body = next;
            if line.is_empty() {
                break;
            }
            if line[0] == b' ' || line[0] == b'\t' {
                if let Some((_, value)) = fields.last_mut() {
                    value.push(b' ');
                    value.extend_from_slice(line.trim_ascii());
                }
            } else if let Some(colon) = line.iter().position(|&c| c == b':') {
                fields.push((
                    line[..colon].trim_ascii(),
                    line[colon + 1..].trim_ascii().to_vec(),
                ));
            }
        }
        let next = trim_start(body);
        if status_code(split_line(next).0).is_some() {
            rest = next;
            continue;
        }
        let mut headers = HeaderMap::new();
        for (name, value) in fields {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name),
                HeaderValue::from_bytes(&value),
            ) {
                headers.append(name, value);
            }
        }
        return Ok(RawResponse {
            status,
            headers,
            body: body.to_vec(),
        });
    }
}

fn trim_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    &b[n..]
}

/// The first line (without its CRLF or LF) and what follows it.
fn split_line(b: &[u8]) -> (&[u8], &[u8]) {
    match b.iter().position(|&c| c == b'\n') {
        Some(i) => (b[..i].strip_suffix(b"\r").unwrap_or(&b[..i]), &b[i + 1..]),
        None => (b.strip_suffix(b"\r").unwrap_or(b), &[]),
    }
}

/// `HTTP/1.1 503 Service Unavailable`, `HTTP/2 503` → 503.
fn status_code(line: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(line).ok()?;
    let mut parts = text.split_ascii_whitespace();
    parts.next().filter(|v| v.starts_with("HTTP/"))?;
    let code = parts.next()?;
    (code.len() == 3)
        .then(|| code.parse().ok())
        .flatten()
        .filter(|c| (100..=599).contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_curl_i_output() {
        let r = parse(
            b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 30\r\nX-Request-Id: req_1\r\n\r\n{\"status\":503}",
        )
        .expect("parses");
        assert_eq!(r.status, 503);
        assert_eq!(r.headers["retry-after"], "30");
        assert_eq!(r.body, b"{\"status\":503}");
    }

    #[test]
    fn takes_the_last_of_several_heads() {
        let input = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 Connection established\r\n\r\n\
                     HTTP/1.1 301 Moved Permanently\r\nLocation: /b\r\n\r\n\
                     HTTP/2 502\r\nserver: nginx\r\n\r\n<html>bad</html>\n";
        let r = parse(input.as_bytes()).expect("parses");
        assert_eq!(r.status, 502);
        assert_eq!(r.headers["server"], "nginx");
        assert!(r.headers.get("location").is_none());
        assert_eq!(r.body, b"<html>bad</html>\n");
    }

    #[test]
    fn lf_line_ends_a_head_only_and_folded_fields() {
        let r = parse(b"HTTP/1.0 404 Not Found\nX-A: one\n  two\nServer: x").expect("parses");
        assert_eq!(r.status, 404);
        assert_eq!(r.headers["x-a"], "one two");
        assert_eq!(r.headers["server"], "x");
        assert!(r.body.is_empty());
    }

    #[test]
    fn refuses_what_is_not_a_response() {
        for bad in [
            &b""[..],
            b"   \n",
            b"<html>503</html>",
            b"HTTP/1.1 5030 X",
            b"GET / HTTP/1.1",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
