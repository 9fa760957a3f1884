//! Header rules for an intermediary: hop-by-hop fields and forwarding fields.
//!
//! RFC 9110 §7.6.1: a proxy removes the `Connection` header field, every field
//! it names, and the hop-by-hop fields `Proxy-Connection`, `Keep-Alive`, `TE`,
//! `Transfer-Encoding` and `Upgrade` before forwarding a message. (An upgrade
//! the proxy tunnels is the exception; the data path puts those two fields
//! back itself.) The forwarding fields say who the original client was:
//! the de-facto `X-Forwarded-For`/`-Proto`/`-Host`, and RFC 7239 `Forwarded`.
//!
//! This module must not decide whether to trust incoming forwarding fields or
//! which ones to add; the data path's configuration does.

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// The hop-by-hop fields RFC 9110 §7.6.1 names, besides those in `Connection`,
/// and `HTTP2-Settings`, which only means something on the connection that
/// asks for `h2c` (RFC 7540 §3.2.1).
pub const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    header::TE,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    HeaderName::from_static("http2-settings"),
];

/// Fields a `Connection` option can never remove: every recipient needs
/// them, and a client naming them (`Connection: host`) is trying to make the
/// message mean something else upstream.
const END_TO_END: [HeaderName; 2] = [header::HOST, header::CONTENT_LENGTH];

/// Removes the hop-by-hop fields, including every field named in `Connection`
/// except `Host` and `Content-Length`.
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    if headers.contains_key(header::CONNECTION) {
        let named: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
            .filter(|n| !END_TO_END.contains(n))
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
}

/// Whether a request asks to switch protocols (`Connection: upgrade` plus an
/// `Upgrade` field), e.g. a WebSocket handshake.
pub fn is_upgrade_request(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
}

/// The protocols of a request's `Upgrade` field that `allowed` lists, as the
/// field to forward; `None` when none is. Protocols are compared by name
/// (the part before `/`), case-insensitively: `allowed = ["websocket"]` keeps
/// `websocket` and `WebSocket/13` and drops `h2c` and `foo`.
pub fn allowed_upgrade<S: AsRef<str>>(headers: &HeaderMap, allowed: &[S]) -> Option<HeaderValue> {
    let kept: Vec<&str> = headers
        .get_all(header::UPGRADE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|p| {
            let name = p.split('/').next().unwrap_or_default().trim();
            !name.is_empty()
                && allowed
                    .iter()
                    .any(|a| a.as_ref().eq_ignore_ascii_case(name))
        })
        .collect();
    if kept.is_empty() {
        return None;
    }
    HeaderValue::from_str(&kept.join(", ")).ok()
}

/// The host a `Host` field value names, lowercase, without port or trailing
/// dot, for routing; `None` when it is not a valid `uri-host[:port]`
/// (RFC 9110 §7.2), userinfo (`user@host`) included.
pub fn parse_host(value: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(value).ok()?;
    let a: http::uri::Authority = text.parse().ok()?;
    if a.as_str().contains('@') {
        return None;
    }
    let host = a.host();
    // RFC 3986 §3.2.2: brackets only around an IP literal (`http` lets
    // `a[]` through as a host).
    match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) if v6.parse::<std::net::Ipv6Addr>().is_err() => return None,
        Some(_) => {}
        None if host.contains(['[', ']']) => return None,
        None => {}
    }
    Some(host.trim_end_matches('.').to_ascii_lowercase())
}

/// What the forwarding fields say about the original request.
#[derive(Debug, Clone, Copy)]
pub struct ForwardedFor<'a> {
    /// The client's address as the gateway saw it.
    pub client: IpAddr,
    /// `http` or `https`: the scheme the client used.
    pub proto: &'a str,
    /// The `Host` (or `:authority`) the client asked for, if any.
    pub host: Option<&'a HeaderValue>,
    /// The gateway's own address the request arrived on.
    pub by: Option<IpAddr>,
}

/// Appends the client to `X-Forwarded-For` and sets `X-Forwarded-Proto` and
/// `X-Forwarded-Host` (replacing any the client sent).
pub fn set_x_forwarded(headers: &mut HeaderMap, f: &ForwardedFor<'_>) {
    let xff = HeaderName::from_static("x-forwarded-for");
    let client = f.client.to_string();
    let value = match headers.get(&xff).and_then(|v| v.to_str().ok()) {
        Some(prev) if !prev.trim().is_empty() => format!("{prev}, {client}"),
        _ => client,
    };
    if let Ok(v) = HeaderValue::from_str(&value) {
        headers.insert(xff, v);
    }
    headers.insert(
        HeaderName::from_static("x-forwarded-proto"),
        HeaderValue::from_static(proto_static(f.proto)),
    );
    match f.host {
        Some(h) => {
            headers.insert(HeaderName::from_static("x-forwarded-host"), h.clone());
        }
        None => {
            headers.remove("x-forwarded-host");
        }
    }
}

/// Appends an RFC 7239 `Forwarded` element for this hop.
pub fn append_forwarded(headers: &mut HeaderMap, f: &ForwardedFor<'_>) {
    let mut element = format!("for={}", node(f.client));
    if let Some(by) = f.by {
        element.push_str(&format!(";by={}", node(by)));
    }
    element.push_str(&format!(";proto={}", proto_static(f.proto)));
    if let Some(host) = f.host.and_then(|h| h.to_str().ok()) {
        element.push_str(&format!(";host={}", quote_if_needed(host)));
    }
    if let Ok(v) = HeaderValue::from_str(&element) {
        headers.append(header::FORWARDED, v);
    }
}

fn proto_static(proto: &str) -> &'static str {
    if proto.eq_ignore_ascii_case("https") {
        "https"
    } else {
        "http"
    }
}

/// RFC 7239 §6: IPv6 addresses are bracketed and, so, quoted.
fn node(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("\"[{v6}]\""),
    }
}

fn quote_if_needed(s: &str) -> String {
    let token = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if token {
        s.to_owned()
    } else {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_hop_by_hop_and_connection_named() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, X-Secret"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert(header::TE, HeaderValue::from_static("trailers"));
        h.insert("proxy-connection", HeaderValue::from_static("close"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        remove_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-kept"));
    }

    #[test]
    fn connection_cannot_strip_host_or_length() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("Host, content-length, x-a"),
        );
        h.insert(header::HOST, HeaderValue::from_static("a.example"));
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("3"));
        h.insert("x-a", HeaderValue::from_static("1"));
        remove_hop_by_hop(&mut h);
        assert_eq!(
            h.get(header::HOST).map(|v| v.as_bytes()),
            Some(&b"a.example"[..])
        );
        assert!(h.contains_key(header::CONTENT_LENGTH));
        assert!(!h.contains_key("x-a"));
    }

    #[test]
    fn upgrade_allow_list() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::UPGRADE, HeaderValue::from_static(v));
            h
        };
        let ws = ["websocket"];
        assert_eq!(
            allowed_upgrade(&with("WebSocket"), &ws)
                .as_ref()
                .map(|v| v.as_bytes()),
            Some(&b"WebSocket"[..])
        );
        assert_eq!(
            allowed_upgrade(&with("h2c, websocket/13"), &ws)
                .as_ref()
                .map(|v| v.as_bytes()),
            Some(&b"websocket/13"[..])
        );
        assert_eq!(allowed_upgrade(&with("h2c"), &ws), None);
        assert_eq!(allowed_upgrade(&with("websocket"), &[] as &[&str]), None);
        assert_eq!(allowed_upgrade(&with(" , /x"), &ws), None);
    }

    #[test]
    fn detects_upgrade() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        assert!(is_upgrade_request(&h));
        h.remove(header::UPGRADE);
        assert!(!is_upgrade_request(&h));
    }

    #[test]
    fn forwarding_fields() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.9"));
        let host = HeaderValue::from_static("example.com:8080");
        let f = ForwardedFor {
            client: "::1".parse().expect("ip"),
            proto: "https",
            host: Some(&host),
            by: None,
        };
        set_x_forwarded(&mut h, &f);
        append_forwarded(&mut h, &f);
        assert_eq!(h["x-forwarded-for"], "203.0.113.9, ::1");
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["x-forwarded-host"], "example.com:8080");
        assert_eq!(
            h["forwarded"],
            "for=\"[::1]\";proto=https;host=\"example.com:8080\""
        );
    }
}
