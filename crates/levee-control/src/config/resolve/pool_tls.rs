//! A pool's `tls` table: the trust roots, the name endpoints are verified
//! against and the client certificate of an `https://` pool, loaded now so a
//! missing or bad file is an error at its key, not a failed handshake later.
//!
//! This module must not open connections or choose the ALPN (the data path
//! derives it from the pool's protocol).

use std::ops::Range;
use std::path::Path;

use http::uri::Authority;
use levee_proxy::pool::{UpstreamTls, server_name_of};
use rustls::pki_types::ServerName;

use crate::config::error::Collector;
use crate::config::file::PoolTlsSection;
use crate::tls;

/// The TLS of a pool of `https://` `endpoints` (with their spans), from its
/// `tls` table (none: every default); `None` after reporting what is wrong.
pub(super) fn pool_tls(
    pool: &str,
    section: Option<&PoolTlsSection>,
    endpoints: &[(Authority, Range<usize>)],
    at: Range<usize>,
    base_dir: &Path,
    c: &mut Collector<'_>,
) -> Option<UpstreamTls> {
    let default = PoolTlsSection::default();
    let t = section.unwrap_or(&default);
    let mut ok = true;
    let roots = match &t.ca_file {
        Some(f) => tls::roots_from_file(&base_dir.join(f.get_ref()))
            .map_err(|e| c.at(Some(f.span()), format!("pool `{pool}`: tls.ca_file: {e}"))),
        None => {
            tls::platform_roots().map_err(|e| c.at(Some(at.clone()), format!("pool `{pool}`: {e}")))
        }
    }
    .ok();
    let client = match (&t.cert_file, &t.key_file) {
        (Some(cert), Some(key)) => {
            let chain = tls::certificate_chain(&base_dir.join(cert.get_ref())).map_err(|e| {
                c.at(
                    Some(cert.span()),
                    format!("pool `{pool}`: tls.cert_file: {e}"),
                );
            });
            let key = tls::private_key(&base_dir.join(key.get_ref())).map_err(|e| {
                c.at(
                    Some(key.span()),
                    format!("pool `{pool}`: tls.key_file: {e}"),
                );
            });
            match (chain, key) {
                (Ok(chain), Ok(key)) => Some((chain, key)),
                _ => {
                    ok = false;
                    None
                }
            }
        }
        (Some(cert), None) => {
            c.at(
                Some(cert.span()),
                format!("pool `{pool}`: tls.cert_file needs tls.key_file (a client certificate is presented with its key)"),
            );
            ok = false;
            None
        }
        (None, Some(key)) => {
            c.at(
                Some(key.span()),
                format!("pool `{pool}`: tls.key_file needs tls.cert_file (the client certificate it belongs to)"),
            );
            ok = false;
            None
        }
        (None, None) => None,
    };
    let server_name = match &t.server_name {
        Some(name) => match ServerName::try_from(name.get_ref().clone()) {
            Ok(n) => Some(n),
            Err(e) => {
                c.at(
                    Some(name.span()),
                    format!(
                        "pool `{pool}`: invalid tls.server_name `{}`: {e}; expected a DNS name or an IP address",
                        name.get_ref()
                    ),
                );
                ok = false;
                None
            }
        },
        None => {
            // Each endpoint is verified against its own host, which must be
            // a name TLS can verify.
            for (endpoint, span) in endpoints {
                if let Err(e) = server_name_of(endpoint) {
                    c.at(Some(span.clone()), format!("pool `{pool}`: {e}"));
                    ok = false;
                }
            }
            None
        }
    };
    let mismatch_at = t.cert_file.as_ref().map_or(at, |f| f.span());
    let config = tls::client_config(roots?, client)
        .map_err(|e| c.at(Some(mismatch_at), format!("pool `{pool}`: tls: {e}")))
        .ok()?;
    ok.then_some(UpstreamTls {
        config,
        server_name,
    })
}

/// The TLS of `--upstream https://…` when the pool has none: every default.
pub(super) fn default_tls(c: &mut Collector<'_>) -> Option<UpstreamTls> {
    match tls::platform_roots().and_then(|roots| tls::client_config(roots, None)) {
        Ok(config) => Some(UpstreamTls {
            config,
            server_name: None,
        }),
        Err(e) => {
            c.at(None, format!("--upstream: {e}"));
            None
        }
    }
}
