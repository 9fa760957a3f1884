//! `[[listeners]]` and `[admin]`: the addresses the gateway serves on, with
//! `--listen` and `--admin` applied.
//!
//! This module must not bind anything.

use std::net::SocketAddr;
use std::path::Path;

use super::{DEFAULT_ADMIN, ListenerSpec, Overrides};
use crate::config::error::Collector;
use crate::config::file::FileConfig;

/// The traffic listeners (`--listen` replaces the file's).
pub(super) fn listeners(
    file: &FileConfig,
    ov: &Overrides,
    base_dir: &Path,
    c: &mut Collector<'_>,
) -> Vec<ListenerSpec> {
    // Listeners.
    let mut listeners = Vec::new();
    if let Some(addr) = ov.listen {
        listeners.push(ListenerSpec {
            name: "listener-0".to_owned(),
            addr,
            tls: None,
        });
    } else {
        for (i, l) in file.listeners.iter().enumerate() {
            let addr = match l.listen.get_ref().parse::<SocketAddr>() {
                Ok(a) => a,
                Err(_) => {
                    c.at(Some(l.listen.span()), format!("invalid listen address `{}`: expected ip:port such as \"0.0.0.0:8000\" or \"[::1]:8443\"", l.listen.get_ref()));
                    continue;
                }
            };
            let tls = l.tls.as_ref().and_then(|t| {
                match crate::tls::server_config(
                    &base_dir.join(t.cert.get_ref()),
                    &base_dir.join(t.key.get_ref()),
                ) {
                    Ok(cfg) => Some(cfg),
                    Err(e) => {
                        c.at(Some(t.cert.span()), e.to_string());
                        None
                    }
                }
            });
            listeners.push(ListenerSpec {
                name: l.name.clone().unwrap_or_else(|| format!("listener-{i}")),
                addr,
                tls,
            });
        }
    }
    if listeners.is_empty() && c.is_empty() {
        c.at(
            None,
            "no listener: add a [[listeners]] table with listen = \"ip:port\", or pass --listen",
        );
    }
    listeners
}

/// The admin listener, unless disabled (`--admin` wins over the file).
pub(super) fn admin(
    file: &FileConfig,
    ov: &Overrides,
    c: &mut Collector<'_>,
) -> Option<SocketAddr> {
    // Admin.
    if file.admin.enabled == Some(false) {
        None
    } else if let Some(a) = ov.admin {
        Some(a)
    } else {
        match &file.admin.listen {
            Some(l) => l.get_ref().parse::<SocketAddr>().map_err(|_| {
                c.at(Some(l.span()), format!("invalid admin listen address `{}`: expected ip:port such as \"127.0.0.1:9901\"", l.get_ref()));
            }).ok(),
            None => Some(DEFAULT_ADMIN.parse().expect("the default admin address is valid")),
        }
    }
}
