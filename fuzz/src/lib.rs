//! Helpers the fuzz targets share: turning fuzz input into the pieces of an
//! HTTP message (lines, header fields, a response), the way a client or an
//! operator would write them, so that the seed corpora are readable files.
//!
//! This crate must not hold any property of its own: each target says what
//! it checks.

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

/// `data` split at its first `\n`: the first line and the rest.
pub fn first_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// The lines of `data`, split at `\n` (a `\r` before it is kept: a header
/// value cannot hold one, so such a line is dropped by [`header_map`]).
pub fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    data.split(|&b| b == b'\n')
}

/// A header map from `name: value` lines; lines that are not a valid field
/// are skipped, as a server's parser would refuse them before Levee sees them.
pub fn header_map(text: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for line in lines(text) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            headers.append(name, value);
        }
    }
    headers
}

/// `data` without leading and trailing spaces and tabs.
pub fn trim(data: &[u8]) -> &[u8] {
    let start = data
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(data.len());
    let end = data
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |i| i + 1);
    &data[start..end]
}

/// A response as a client receives it, from `HTTP/1.1 503 …` (or `503`),
/// header lines, an empty line and the body.
pub struct Response<'a> {
    /// The status; 503 when the first line names none.
    pub status: StatusCode,
    /// The header fields.
    pub headers: HeaderMap,
    /// The body.
    pub body: &'a [u8],
}

/// Reads a [`Response`] from fuzz input.
pub fn response(data: &[u8]) -> Response<'_> {
    let (status_line, rest) = first_line(data);
    let status = status_line
        .split(|&b| b == b' ')
        .find(|w| w.len() == 3 && w.iter().all(u8::is_ascii_digit))
        .and_then(|w| StatusCode::from_bytes(w).ok())
        .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let lf = rest
        .windows(2)
        .position(|w| w == b"\n\n")
        .map(|i| (i, i + 2));
    let crlf = rest
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, i + 4));
    let split = match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    };
    let (head, body) = match split {
        Some((end, start)) => (&rest[..end], &rest[start..]),
        None => (rest, &[][..]),
    };
    Response {
        status,
        headers: header_map(head),
        body,
    }
}
