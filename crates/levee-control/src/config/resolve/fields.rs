//! Field helpers shared by the sections: header names, networks and
//! times, each read with its place in the file so an error can point at it.
//!
//! This module must not know about any one section.

use http::HeaderName;
use levee_proxy::cidr::Cidr;
use serde_spanned::Spanned;

use crate::config::error::Collector;

/// A header name from the file, or the default (with a located error when invalid).
pub(super) fn header_name(
    v: Option<&Spanned<String>>,
    default: &HeaderName,
    c: &mut Collector<'_>,
) -> HeaderName {
    let Some(v) = v else { return default.clone() };
    HeaderName::from_bytes(v.get_ref().as_bytes()).unwrap_or_else(|_| {
        c.at(
            Some(v.span()),
            format!("invalid header name `{}`", v.get_ref()),
        );
        default.clone()
    })
}

/// CIDR networks from the file (each error located at its entry).
pub(super) fn networks<'a>(
    list: impl IntoIterator<Item = &'a Spanned<String>>,
    c: &mut Collector<'_>,
) -> Vec<Cidr> {
    list.into_iter()
        .filter_map(|n| {
            Cidr::parse(n.get_ref())
                .map_err(|e| c.at(Some(n.span()), e))
                .ok()
        })
        .collect()
}

/// An RFC 3339 time from the file, if present and valid (located error otherwise).
pub(super) fn time(
    v: Option<&Spanned<String>>,
    c: &mut Collector<'_>,
) -> Option<std::time::SystemTime> {
    let t = v?;
    let parsed = levee_http::maintenance::parse_rfc3339(t.get_ref());
    if parsed.is_none() {
        c.at(
            Some(t.span()),
            format!(
                "invalid time `{}`: expected RFC 3339 such as \"2026-12-01T02:00:00Z\"",
                t.get_ref()
            ),
        );
    }
    parsed
}
