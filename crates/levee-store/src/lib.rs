//! Levee's durable control-plane state, in one embedded SQLite database.
//!
//! The [`Store`] owns the database file (`DIR/levee.db`): maintenance
//! windows created through the admin API, drained endpoints, the audit log
//! of every change, and the status page's state (`status.rs`: incidents and
//! their updates, each component's history of levels, operators' pins and
//! per-minute availability, with their retention). Each change and its audit
//! entry are written in one transaction, with `journal_mode=WAL` and
//! `synchronous=FULL`, so a change the API acknowledged survives `kill -9`
//! and power loss; a change that cannot be written ([`StoreError::Write`]:
//! disk full, read-only, failing) is rolled back whole. The component
//! history and availability are logs of their own, written without an audit
//! entry. The schema is versioned: [`MIGRATIONS`] are applied in order at
//! open, and a database written by a newer Levee is refused rather than
//! misread.
//!
//! Opening ([`Store::open`], in `open.rs`) is where the store guards
//! against losing state: one gateway owns a data directory at a time (an
//! exclusive lock on `DIR/levee.lock`, released when the store is dropped or
//! the process dies, `kill -9` included); an empty, deleted or damaged
//! database is refused instead of silently replaced; and SQLite is set up so
//! that a failing disk is an error, never a SIGBUS.
//!
//! The store is synchronous (rusqlite): async callers run it on a blocking
//! thread. It stores rows; it must not validate windows or decide what they
//! mean (the control plane does), nor decide a component's level or when an
//! incident opens (`levee-policy` does), and it never sees a raw bypass or
//! admin token, only digests.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, Transaction, params};

mod error;
mod open;
mod status;

pub use error::StoreError;
pub use open::Origin;
pub use status::{ComponentChangeRow, DayRow, IncidentRow, MinuteRow, PinRow, UpdateRow};

/// The schema migrations, in order: `(version, SQL)`. A database's
/// `user_version` is the last one applied.
pub const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_status.sql")),
];

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "levee.db";

/// The lock file's name inside the data directory; it holds the owner's pid.
pub const LOCK_FILE: &str = "levee.lock";

/// One maintenance window as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowRow {
    /// `w_` + ULID.
    pub id: String,
    /// `all`, `route` or `pool`.
    pub scope_kind: String,
    /// The route or pool name; `None` for `all`.
    pub scope_name: Option<String>,
    /// Start, Unix milliseconds.
    pub starts_at_ms: i64,
    /// End, Unix milliseconds; `None` when open-ended.
    pub ends_at_ms: Option<i64>,
    /// The operator's message.
    pub message: String,
    /// The header carrying the bypass token.
    pub bypass_header: String,
    /// SHA-256 of the bypass token, if one is set.
    pub bypass_token_sha256: Option<Vec<u8>>,
    /// Client networks that bypass the window (CIDR strings).
    pub bypass_networks: Vec<String>,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// The admin token's name that created it.
    pub created_by: String,
    /// Last change, Unix milliseconds.
    pub updated_at_ms: i64,
}

/// One drained endpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainRow {
    /// `host:port`.
    pub endpoint: String,
    /// When it was drained, Unix milliseconds.
    pub drained_at_ms: i64,
    /// The admin token's name that drained it.
    pub drained_by: String,
}

/// One audit-log entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    /// Increasing id.
    pub id: i64,
    /// When, Unix milliseconds.
    pub at_ms: i64,
    /// The admin token's name.
    pub actor: String,
    /// What was done, e.g. `window.create`.
    pub action: String,
    /// The object's id (a window id, an endpoint).
    pub target: String,
    /// The object before the change (`None`: it did not exist).
    pub before: Option<serde_json::Value>,
    /// The object after the change (`None`: it no longer exists).
    pub after: Option<serde_json::Value>,
}

/// The audit entry written with a change.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    /// When, Unix milliseconds.
    pub at_ms: i64,
    /// The admin token's name.
    pub actor: &'a str,
    /// What was done, e.g. `window.create`.
    pub action: &'a str,
    /// The object's id.
    pub target: &'a str,
    /// The object before.
    pub before: Option<serde_json::Value>,
    /// The object after.
    pub after: Option<serde_json::Value>,
}

/// The embedded database; share it behind an `Arc`.
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
    origin: Origin,
    /// The data directory's lock, held while the store lives (`None` in memory).
    _lock: Option<std::fs::File>,
}

impl Store {
    /// The database file (`:memory:` for an in-memory store).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        self.lock()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| self.sql(e))
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic in another thread mid-call leaves SQLite consistent (the
        // transaction rolls back on drop); keep using the connection.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn sql(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// A write's error: the disk's fault ([`StoreError::Write`]) or another.
    fn write_error(&self, source: rusqlite::Error) -> StoreError {
        use rusqlite::ErrorCode::*;
        match source.sqlite_error_code() {
            Some(DiskFull | SystemIoFailure | ReadOnly | CannotOpen | PermissionDenied) => {
                StoreError::Write {
                    path: self.path.clone(),
                    source,
                }
            }
            _ => self.sql(source),
        }
    }

    fn json(&self, text: Option<String>) -> Result<Option<serde_json::Value>, StoreError> {
        text.map(|t| serde_json::from_str(&t))
            .transpose()
            .map_err(|source| StoreError::Corrupt {
                path: self.path.clone(),
                source,
            })
    }

    /// Every stored window, soonest start first.
    pub fn windows(&self) -> Result<Vec<WindowRow>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(&format!("{SELECT_WINDOWS} ORDER BY starts_at_ms, id"))
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([], raw_window)
            .map_err(|e| self.sql(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.sql(e))?;
        rows.into_iter().map(|r| self.finish_window(r)).collect()
    }

    /// The window `id`, if stored.
    pub fn window(&self, id: &str) -> Result<Option<WindowRow>, StoreError> {
        let raw = self
            .lock()
            .query_row(&format!("{SELECT_WINDOWS} WHERE id = ?1"), [id], raw_window)
            .optional()
            .map_err(|e| self.sql(e))?;
        raw.map(|r| self.finish_window(r)).transpose()
    }

    fn finish_window(
        &self,
        (mut row, networks): (WindowRow, String),
    ) -> Result<WindowRow, StoreError> {
        row.bypass_networks =
            serde_json::from_str(&networks).map_err(|source| StoreError::Corrupt {
                path: self.path.clone(),
                source,
            })?;
        Ok(row)
    }

    /// Inserts or replaces `window`, recording `change`.
    pub fn put_window(&self, window: &WindowRow, change: &Change<'_>) -> Result<(), StoreError> {
        let networks = serde_json::Value::from(window.bypass_networks.clone()).to_string();
        self.write_if(change, |tx| {
            tx.execute(
                "INSERT OR REPLACE INTO windows (id, scope_kind, scope_name, starts_at_ms,
                    ends_at_ms, message, bypass_header, bypass_token_sha256, bypass_networks,
                    created_at_ms, created_by, updated_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    window.id,
                    window.scope_kind,
                    window.scope_name,
                    window.starts_at_ms,
                    window.ends_at_ms,
                    window.message,
                    window.bypass_header,
                    window.bypass_token_sha256,
                    networks,
                    window.created_at_ms,
                    window.created_by,
                    window.updated_at_ms,
                ],
            )
        })
        .map(|_| ())
    }

    /// Deletes the window `id`, recording `change`; `false` when absent
    /// (nothing is recorded then).
    pub fn delete_window(&self, id: &str, change: &Change<'_>) -> Result<bool, StoreError> {
        self.write_if(change, |tx| {
            tx.execute("DELETE FROM windows WHERE id = ?1", [id])
        })
    }

    /// Every drained endpoint.
    pub fn drains(&self) -> Result<Vec<DrainRow>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare("SELECT endpoint, drained_at_ms, drained_by FROM drains ORDER BY endpoint")
            .map_err(|e| self.sql(e))?;
        stmt.query_map([], |r| {
            Ok(DrainRow {
                endpoint: r.get(0)?,
                drained_at_ms: r.get(1)?,
                drained_by: r.get(2)?,
            })
        })
        .map_err(|e| self.sql(e))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| self.sql(e))
    }

    /// Records `drain` unless its endpoint is drained already; `true` when
    /// it was added (and `change` recorded).
    pub fn add_drain(&self, drain: &DrainRow, change: &Change<'_>) -> Result<bool, StoreError> {
        self.write_if(change, |tx| {
            tx.execute(
                "INSERT OR IGNORE INTO drains (endpoint, drained_at_ms, drained_by)
                 VALUES (?1, ?2, ?3)",
                params![drain.endpoint, drain.drained_at_ms, drain.drained_by],
            )
        })
    }

    /// Removes the drain of `endpoint`; `false` when it was not drained.
    pub fn remove_drain(&self, endpoint: &str, change: &Change<'_>) -> Result<bool, StoreError> {
        self.write_if(change, |tx| {
            tx.execute("DELETE FROM drains WHERE endpoint = ?1", [endpoint])
        })
    }

    /// Runs `f` in a write transaction; when it touched a row, appends
    /// `change` to the audit log and commits both at once. `false` (and
    /// nothing written) when `f` touched no row.
    fn write_if(
        &self,
        change: &Change<'_>,
        f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<usize>,
    ) -> Result<bool, StoreError> {
        let write = |e| self.write_error(e);
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(write)?;
        if f(&tx).map_err(write)? == 0 {
            return Ok(false); // dropping `tx` rolls back (nothing happened anyway)
        }
        tx.execute(
            "INSERT INTO audit (at_ms, actor, action, target, before, after)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                change.at_ms,
                change.actor,
                change.action,
                change.target,
                change.before.as_ref().map(serde_json::Value::to_string),
                change.after.as_ref().map(serde_json::Value::to_string),
            ],
        )
        .map_err(write)?;
        // A failed commit rolls back when `tx` drops: nothing half-written.
        tx.commit().map_err(write)?;
        Ok(true)
    }

    /// The newest `limit` audit entries, newest first.
    pub fn audit(&self, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        let raw = {
            let conn = self.lock();
            let mut stmt = conn
                .prepare(
                    "SELECT id, at_ms, actor, action, target, before, after
                     FROM audit ORDER BY id DESC LIMIT ?1",
                )
                .map_err(|e| self.sql(e))?;
            stmt.query_map([limit], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                ))
            })
            .map_err(|e| self.sql(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.sql(e))?
        };
        raw.into_iter()
            .map(|(id, at_ms, actor, action, target, before, after)| {
                Ok(AuditRow {
                    id,
                    at_ms,
                    actor,
                    action,
                    target,
                    before: self.json(before)?,
                    after: self.json(after)?,
                })
            })
            .collect()
    }
}

/// The columns [`raw_window`] reads, in its order.
const SELECT_WINDOWS: &str = "SELECT id, scope_kind, scope_name, starts_at_ms, ends_at_ms, message,
        bypass_header, bypass_token_sha256, bypass_networks,
        created_at_ms, created_by, updated_at_ms
    FROM windows";

fn raw_window(r: &rusqlite::Row<'_>) -> rusqlite::Result<(WindowRow, String)> {
    Ok((
        WindowRow {
            id: r.get(0)?,
            scope_kind: r.get(1)?,
            scope_name: r.get(2)?,
            starts_at_ms: r.get(3)?,
            ends_at_ms: r.get(4)?,
            message: r.get(5)?,
            bypass_header: r.get(6)?,
            bypass_token_sha256: r.get(7)?,
            bypass_networks: Vec::new(),
            created_at_ms: r.get(9)?,
            created_by: r.get(10)?,
            updated_at_ms: r.get(11)?,
        },
        r.get(8)?,
    ))
}

#[cfg(test)]
mod tests;
