//! Content negotiation for the gateway's own error bodies.
//!
//! RFC 9110 §12.5.1: the client's `Accept` header lists media ranges with
//! weights. Levee offers a problem in JSON (problem+json, or the envelope when
//! the route asks for it), HTML, or plain text. The rule, in order:
//!
//! 1. No `Accept` header (or one that is not UTF-8): JSON — API clients rarely
//!    send one, and RFC 9110 says a missing `Accept` means "anything".
//! 2. HTML when `text/html` weighs strictly more than every JSON type (a
//!    browser: `text/html,…,*/*;q=0.8`).
//! 3. JSON when any JSON type, `application/*` or `*/*` is acceptable.
//! 4. Plain text otherwise, even when the client refused it: an error must
//!    still be said, and text is the least surprising body (RFC 9110 §15.5.7
//!    allows ignoring `Accept` rather than sending 406 for an error).
//!
//! This module must not look at anything but the header value it is given.

/// A rendering of a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `application/problem+json` (RFC 9457).
    ProblemJson,
    /// `application/json` in the envelope form, for routes configured so.
    Envelope,
    /// `text/html`, for browsers.
    Html,
    /// `text/plain`, for everything else.
    Text,
}

/// The JSON flavour a route uses for its errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum JsonStyle {
    /// RFC 9457 `application/problem+json` (the default).
    #[default]
    Problem,
    /// `{"meta":{"requestId"},"error":{…}}` as `application/json`.
    Envelope,
}

/// Picks the format for an error body from the request's `Accept` values.
pub fn negotiate<'a>(accept: impl IntoIterator<Item = &'a [u8]>, json: JsonStyle) -> Format {
    let json_format = match json {
        JsonStyle::Problem => Format::ProblemJson,
        JsonStyle::Envelope => Format::Envelope,
    };
    let mut seen = false;
    let (mut html, mut jsonq, mut text) = (0.0f32, 0.0f32, 0.0f32);
    for value in accept {
        let Ok(value) = std::str::from_utf8(value) else {
            continue;
        };
        for range in value.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            if media.is_empty() {
                continue;
            }
            seen = true;
            let q = parts
                .filter_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .or_else(|| p.trim().strip_prefix("Q="))
                })
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0)
                .clamp(0.0, 1.0);
            let (h, j, t) = match media.as_str() {
                "text/html" | "application/xhtml+xml" => (q, 0.0, 0.0),
                "application/problem+json" | "application/json" => (0.0, q, 0.0),
                "text/plain" => (0.0, 0.0, q),
                "text/*" => (0.0, 0.0, q),
                // `*/*` and `application/*`: JSON is our first offer.
                "*/*" | "application/*" => (0.0, q, 0.0),
                _ if media.ends_with("+json") => (0.0, q, 0.0),
                _ => (0.0, 0.0, 0.0),
            };
            html = html.max(h);
            jsonq = jsonq.max(j);
            text = text.max(t);
        }
    }
    if !seen {
        return json_format;
    }
    if html > 0.0 && html > jsonq {
        Format::Html
    } else if jsonq > 0.0 {
        json_format
    } else {
        // text/plain when acceptable, and also when nothing is (rule 4).
        let _ = text;
        Format::Text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(accept: &str) -> Format {
        negotiate([accept.as_bytes()], JsonStyle::Problem)
    }

    #[test]
    fn browsers_get_html() {
        let chrome =
            "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";
        assert_eq!(pick(chrome), Format::Html);
        assert_eq!(pick("text/html"), Format::Html);
    }

    #[test]
    fn api_clients_get_json() {
        assert_eq!(
            negotiate(std::iter::empty(), JsonStyle::Problem),
            Format::ProblemJson
        );
        assert_eq!(pick("*/*"), Format::ProblemJson);
        assert_eq!(pick("application/json"), Format::ProblemJson);
        assert_eq!(
            pick("application/problem+json, text/html;q=0.5"),
            Format::ProblemJson
        );
        assert_eq!(
            pick("text/html;q=0.5, application/json"),
            Format::ProblemJson
        );
        assert_eq!(
            negotiate([&b"application/json"[..]], JsonStyle::Envelope),
            Format::Envelope
        );
    }

    #[test]
    fn others_get_text() {
        assert_eq!(pick("text/plain"), Format::Text);
        assert_eq!(pick("image/png"), Format::Text);
        assert_eq!(pick("application/json;q=0"), Format::Text);
    }
}
