//! [`StoreError`]: every way the store can fail, each with the file it is
//! about and, where the operator has a choice, what to do.
//!
//! The messages reach the operator as they are (`levee: cannot start the
//! gateway: cannot open the state store: …`, or the `detail` of an admin
//! API problem), so each one names the file and the way out.

use std::path::PathBuf;

/// A failure of the store; nothing was changed when a write fails.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory could not be created.
    #[error("cannot create the data directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Another process holds the data directory.
    #[error(
        "the data directory {path} is in use by another process ({owner}); one gateway per data directory: stop it, or give this one its own --data-dir"
    )]
    InUse {
        /// The directory.
        path: PathBuf,
        /// Who holds it, as far as the lock file says (`pid N`).
        owner: String,
    },
    /// The lock file could not be opened or locked.
    #[error("cannot lock the data directory {path}: {source}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The database file is there but empty (0 bytes): whatever it held is
    /// gone, and opening it would silently start with no windows.
    #[error(
        "the state database {path} is empty (0 bytes): the maintenance windows, drains and audit log it held are gone; restore it from a backup, or start with --accept-empty-store to begin with none"
    )]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The database file is gone, but the lock file shows that a gateway
    /// had opened a database in this directory before.
    #[error(
        "the state database {path} is missing, but {lock} shows that a gateway (pid {pid}) kept its state here: its maintenance windows, drains and audit log are gone; restore the file from a backup, check --data-dir, or start with --accept-empty-store to begin with none"
    )]
    Missing {
        /// The missing file.
        path: PathBuf,
        /// The lock file that remembers the earlier owner.
        lock: PathBuf,
        /// The earlier owner's pid, as the lock file says.
        pid: u32,
    },
    /// The database failed SQLite's integrity check at open, or is not a
    /// database at all.
    #[error(
        "the state database {path} is damaged ({detail}); restore it from a backup, or move it aside and start with --accept-empty-store to begin with none"
    )]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What `PRAGMA quick_check` (or SQLite) found.
        detail: String,
    },
    /// The database was written by a newer Levee.
    #[error(
        "the database {path} has schema version {found}; this Levee knows up to {known}: upgrade Levee or use another --data-dir"
    )]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Its schema version.
        found: u32,
        /// The newest this build knows.
        known: u32,
    },
    /// A change could not be written (disk full, read-only, failing); it was
    /// rolled back, and the database holds what it held before.
    #[error(
        "cannot write the state database {path}: {source} (is its disk full, read-only or failing?)"
    )]
    Write {
        /// The file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// SQLite failed.
    #[error("the state database {path}: {source}")]
    Sqlite {
        /// The file (`:memory:` for an in-memory store).
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// A stored JSON column could not be read back.
    #[error("the state database {path}: a stored value is not valid JSON: {source}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The JSON error.
        source: serde_json::Error,
    },
}
