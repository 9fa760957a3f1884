//! `[[maintenance.windows]]`: windows owned by the file (`config:NAME`).
//!
//! This module must not publish or store windows.

use std::sync::Arc;

use http::HeaderName;
use levee_proxy::control::{Bypass, Scope, Window};
use levee_proxy::pool::PoolSpec;
use levee_proxy::route::RouteSpec;

use super::fields::{header_name, networks, time};
use crate::config::error::Collector;
use crate::config::file::WindowSection;
use crate::control::{Source, WindowRecord};

/// `[[maintenance.windows]]` → windows owned by the file (`config:NAME`).
pub(super) fn windows(
    sections: &[WindowSection],
    routes: &[RouteSpec],
    pools: &[PoolSpec],
    c: &mut Collector<'_>,
) -> Vec<WindowRecord> {
    let now = std::time::SystemTime::now();
    let mut out: Vec<WindowRecord> = Vec::new();
    for w in sections {
        let name = w.name.get_ref();
        let id = format!("config:{name}");
        if name.is_empty() || out.iter().any(|r| *r.window.id == *id) {
            c.at(
                Some(w.name.span()),
                format!("maintenance window names must be unique and non-empty; `{name}` is not"),
            );
            continue;
        }
        let scope = match (&w.route, &w.pool) {
            (Some(_), Some(p)) => {
                c.at(Some(p.span()), "give route or pool, not both");
                continue;
            }
            (Some(r), None) => {
                if !routes.iter().any(|x| &x.name == r.get_ref()) {
                    c.at(Some(r.span()), format!("unknown route `{}`", r.get_ref()));
                }
                Scope::Route(r.get_ref().as_str().into())
            }
            (None, Some(p)) => {
                if !pools.iter().any(|x| &x.name == p.get_ref()) {
                    c.at(Some(p.span()), format!("unknown pool `{}`", p.get_ref()));
                }
                Scope::Pool(p.get_ref().as_str().into())
            }
            (None, None) => Scope::All,
        };
        // A window with no start is in force from the moment the file is loaded.
        let starts_at = time(w.starts_at.as_ref(), c).unwrap_or(now);
        let ends_at = time(w.ends_at.as_ref(), c);
        if let (Some(end), Some(span)) = (ends_at, w.ends_at.as_ref())
            && end <= starts_at
        {
            c.at(Some(span.span()), "ends_at must be later than starts_at");
        }
        let header = header_name(
            w.bypass_header.as_ref(),
            &HeaderName::from_static(Bypass::DEFAULT_HEADER),
            c,
        );
        let token_sha256 = w.bypass_token.as_ref().and_then(|t| {
            let tok = t.get_ref();
            if let Err(e) = levee_proxy::control::check_token(tok) {
                c.at(Some(t.span()), format!("bypass_token: {e}"));
                return None;
            }
            Some(levee_proxy::control::token_digest(tok))
        });
        let networks = networks(w.bypass_networks.iter().flatten(), c);
        out.push(WindowRecord {
            window: Arc::new(Window {
                id: id.into(),
                scope,
                starts_at,
                ends_at,
                message: w.message.as_str().into(),
                bypass: Bypass {
                    header,
                    token_sha256,
                    networks,
                },
            }),
            source: Source::Config,
            created_at: now,
            created_by: "config".to_owned(),
            updated_at: now,
        });
    }
    out
}
