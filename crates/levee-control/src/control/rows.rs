//! The store's side of windows: rows, audit entries, and times as Unix
//! milliseconds.
//!
//! This module must not decide anything; it converts.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::HeaderName;
use levee_proxy::cidr::Cidr;
use levee_proxy::control::{Bypass, Scope, Window};
use levee_store::{Change, WindowRow};

use super::{Source, WindowRecord};
use crate::admin::json::window_json;

/// An audit entry with owned fields, movable to the store's thread.
pub(super) struct OwnedChange {
    pub(super) at_ms: i64,
    pub(super) actor: String,
    pub(super) action: &'static str,
    pub(super) target: String,
    pub(super) before: Option<serde_json::Value>,
    pub(super) after: Option<serde_json::Value>,
}

impl OwnedChange {
    pub(super) fn borrow(&self) -> Change<'_> {
        Change {
            at_ms: self.at_ms,
            actor: &self.actor,
            action: self.action,
            target: &self.target,
            before: self.before.clone(),
            after: self.after.clone(),
        }
    }
}

pub(super) fn owned_change(
    actor: &str,
    action: &'static str,
    target: &str,
    before: Option<&WindowRecord>,
    after: Option<&WindowRecord>,
) -> OwnedChange {
    let now = SystemTime::now();
    OwnedChange {
        at_ms: to_ms(now),
        actor: actor.to_owned(),
        action,
        target: target.to_owned(),
        before: before.map(|r| window_json(r, now)),
        after: after.map(|r| window_json(r, now)),
    }
}

/// Unix milliseconds (negative before 1970).
pub fn to_ms(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// The time `ms` Unix milliseconds denote.
pub fn from_ms(ms: i64) -> SystemTime {
    let d = Duration::from_millis(ms.unsigned_abs());
    if ms >= 0 {
        SystemTime::UNIX_EPOCH + d
    } else {
        SystemTime::UNIX_EPOCH - d
    }
}

/// Window times are whole seconds, as the API writes them (RFC 3339
/// without fractions): what a client reads in `ends_at` is exactly when the
/// window ends, and `Retry-After` agrees with it.
pub(super) fn whole_seconds(t: SystemTime) -> SystemTime {
    from_ms(to_ms(t).div_euclid(1000) * 1000)
}

pub(super) fn row_from_record(r: &WindowRecord) -> WindowRow {
    let w = &r.window;
    let (scope_kind, scope_name) = match &w.scope {
        Scope::All => ("all", None),
        Scope::Route(n) => ("route", Some(n.to_string())),
        Scope::Pool(n) => ("pool", Some(n.to_string())),
    };
    WindowRow {
        id: w.id.to_string(),
        scope_kind: scope_kind.to_owned(),
        scope_name,
        starts_at_ms: to_ms(w.starts_at),
        ends_at_ms: w.ends_at.map(to_ms),
        message: w.message.to_string(),
        bypass_header: w.bypass.header.as_str().to_owned(),
        bypass_token_sha256: w.bypass.token_sha256.map(|d| d.to_vec()),
        bypass_networks: w.bypass.networks.iter().map(ToString::to_string).collect(),
        created_at_ms: to_ms(r.created_at),
        created_by: r.created_by.clone(),
        updated_at_ms: to_ms(r.updated_at),
    }
}

pub(super) fn record_from_row(row: &WindowRow) -> Result<WindowRecord, String> {
    let scope = match (row.scope_kind.as_str(), &row.scope_name) {
        ("all", _) => Scope::All,
        ("route", Some(n)) => Scope::Route(n.as_str().into()),
        ("pool", Some(n)) => Scope::Pool(n.as_str().into()),
        (k, _) => return Err(format!("unknown scope `{k}`")),
    };
    let header = HeaderName::from_bytes(row.bypass_header.as_bytes())
        .map_err(|_| format!("invalid bypass header `{}`", row.bypass_header))?;
    let token_sha256 = row
        .bypass_token_sha256
        .as_ref()
        .map(|d| {
            <[u8; 32]>::try_from(d.as_slice())
                .map_err(|_| "a bypass digest is not 32 bytes".to_owned())
        })
        .transpose()?;
    let networks = row
        .bypass_networks
        .iter()
        .map(|n| Cidr::parse(n))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(WindowRecord {
        window: Arc::new(Window {
            id: row.id.as_str().into(),
            scope,
            starts_at: from_ms(row.starts_at_ms),
            ends_at: row.ends_at_ms.map(from_ms),
            message: row.message.as_str().into(),
            bypass: Bypass {
                header,
                token_sha256,
                networks,
            },
        }),
        source: Source::Api,
        created_at: from_ms(row.created_at_ms),
        created_by: row.created_by.clone(),
        updated_at: from_ms(row.updated_at_ms),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::WindowState;

    #[test]
    fn rows_and_records_round_trip() {
        let now = whole_seconds(SystemTime::now());
        let r = WindowRecord {
            window: Arc::new(Window {
                id: "w_1".into(),
                scope: Scope::Pool("db".into()),
                starts_at: now,
                ends_at: Some(now + Duration::from_secs(60)),
                message: "upgrade".into(),
                bypass: Bypass {
                    header: HeaderName::from_static("x-bypass"),
                    token_sha256: Some([3; 32]),
                    networks: vec![Cidr::parse("10.0.0.0/8").expect("cidr")],
                },
            }),
            source: Source::Api,
            created_at: now,
            created_by: "alice".into(),
            updated_at: now,
        };
        let back = record_from_row(&row_from_record(&r)).expect("readable");
        assert_eq!(window_json(&back, now), window_json(&r, now));
        assert_eq!(back.state(now), WindowState::Active);
        assert_eq!(
            back.state(now + Duration::from_secs(60)),
            WindowState::Ended
        );
    }

    #[test]
    fn ms_conversion_handles_both_sides_of_the_epoch() {
        for ms in [-1_500, 0, 1, 1_796_090_400_123] {
            assert_eq!(to_ms(from_ms(ms)), ms);
        }
    }
}
