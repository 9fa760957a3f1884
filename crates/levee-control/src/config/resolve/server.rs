//! `[server]` and `[maintenance]`'s page settings → [`Settings`], the
//! gateway-wide settings every request reads (a reload replaces them), and
//! [`ListenerSettings`], fixed when the listeners start.
//!
//! This module must not know about routes, pools or listeners.

use std::path::Path;

use levee_proxy::{ListenerSettings, Settings};

use super::fields::{header_name, networks};
use crate::config::error::Collector;
use crate::config::file::FileConfig;

/// The gateway-wide settings, defaults filled in.
pub(super) fn settings(file: &FileConfig, base_dir: &Path, c: &mut Collector<'_>) -> Settings {
    let defaults = Settings::default();
    let s = &file.server;
    let request_id_header =
        header_name(s.request_id_header.as_ref(), &defaults.request_id_header, c);
    let problem_base_url = s.problem_base_url.as_ref().map(|u| {
        let v = u.get_ref().trim_end_matches('/').to_owned();
        let ok = v.parse::<http::Uri>().is_ok_and(|uri| uri.scheme().is_some() && uri.authority().is_some());
        if !ok {
            c.at(Some(u.span()), format!("invalid problem_base_url `{v}`: expected an absolute URL such as \"https://api.example.com/_levee/problems\""));
        }
        v
    });
    let settings = Settings {
        request_id_header,
        max_header_bytes: s.max_header_bytes.map_or(defaults.max_header_bytes, |b| {
            usize::try_from(b.0).unwrap_or(usize::MAX)
        }),
        max_headers: s.max_headers.unwrap_or(defaults.max_headers),
        x_forwarded: s.x_forwarded.unwrap_or(defaults.x_forwarded),
        forwarded: s.forwarded.unwrap_or(defaults.forwarded),
        problem_base_url,
        drain_retry_after: s
            .drain_retry_after
            .map_or(defaults.drain_retry_after, |d| d.0),
        idle_timeout: s.idle_timeout.map_or(defaults.idle_timeout, |d| d.0),
        access_log: s.access_log.unwrap_or(defaults.access_log),
        priority_header: header_name(s.priority_header.as_ref(), &defaults.priority_header, c),
        deadline_header: header_name(s.deadline_header.as_ref(), &defaults.deadline_header, c),
        maintenance_page: match &file.maintenance.page {
            Some(p) => match std::fs::read_to_string(base_dir.join(p.get_ref())) {
                Ok(t) => t.into(),
                Err(e) => {
                    c.at(
                        Some(p.span()),
                        format!("cannot read the maintenance page `{}`: {e}", p.get_ref()),
                    );
                    defaults.maintenance_page.clone()
                }
            },
            None => defaults.maintenance_page.clone(),
        },
        maintenance_retry_after_date: file.maintenance.retry_after
            == Some(crate::config::file::RetryAfterForm::HttpDate),
        maintenance_open_ended_retry_after: file
            .maintenance
            .open_ended_retry_after
            .map_or(defaults.maintenance_open_ended_retry_after, |d| d.0),
        trusted_networks: match &s.trusted_networks {
            Some(nets) => networks(nets, c),
            None => defaults.trusted_networks.clone(),
        },
        max_connections_per_client: s
            .max_connections_per_client
            .unwrap_or(defaults.max_connections_per_client),
        max_requests_per_client: s
            .max_requests_per_client
            .unwrap_or(defaults.max_requests_per_client),
        normalize_path: s.normalize_path.unwrap_or(defaults.normalize_path),
        merge_slashes: s.merge_slashes.unwrap_or(defaults.merge_slashes),
        upgrade_protocols: match &s.upgrade_protocols {
            Some(list) => upgrade_protocols(list, c),
            None => defaults.upgrade_protocols.clone(),
        },
        // Set from `[status]` once it is resolved.
        status_page: None,
    };
    if settings.max_headers == 0 {
        c.at(None, "server.max_headers must be at least 1");
    }
    settings
}

/// `upgrade_protocols`: tokens (RFC 9110 §5.6.2), lower-cased; `h2c` is
/// refused, as RFC 9113 deprecated it and a tunnel of it would carry
/// requests past every rule.
fn upgrade_protocols(
    list: &[serde_spanned::Spanned<String>],
    c: &mut Collector<'_>,
) -> Vec<String> {
    let token = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    let mut out = Vec::new();
    for p in list {
        let name = p.get_ref().trim();
        if name.eq_ignore_ascii_case("h2c") {
            c.at(
                Some(p.span()),
                "upgrade_protocols cannot list `h2c`: RFC 9113 deprecated the upgrade to HTTP/2 over cleartext, and a tunnel of it would carry requests past routes, maintenance and admission (speak HTTP/2 to the gateway directly instead)",
            );
        } else if !token(name) {
            c.at(
                Some(p.span()),
                format!("invalid upgrade protocol `{name}`: expected a protocol name such as \"websocket\""),
            );
        } else {
            out.push(name.to_ascii_lowercase());
        }
    }
    out
}

/// The settings fixed when the listeners start; the parser's limits follow
/// the request limits the gateway starts with.
pub(super) fn listener_settings(file: &FileConfig, settings: &Settings) -> ListenerSettings {
    let defaults = ListenerSettings::default();
    let s = &file.server;
    ListenerSettings {
        header_read_timeout: s
            .header_read_timeout
            .map_or(defaults.header_read_timeout, |d| d.0),
        preserve_header_case: s
            .preserve_header_case
            .unwrap_or(defaults.preserve_header_case),
        max_header_bytes: settings.max_header_bytes,
        max_headers: settings.max_headers,
        max_connections: s.max_connections,
    }
}
