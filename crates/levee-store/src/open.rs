//! Opening a data directory: the lock, what was found there, the integrity
//! check, and the SQLite settings that keep a failing disk from crashing
//! the process.
//!
//! # What opening promises
//!
//! - **One owner.** `DIR/levee.lock` is `flock`ed for the store's life and,
//!   once the database is open, holds the owner's pid. A pid in it therefore
//!   means "a gateway kept its state here before".
//! - **Lost state is never silent.** A 0-byte `levee.db`, or a missing one
//!   where the lock file shows an earlier owner, is refused
//!   ([`StoreError::Empty`], [`StoreError::Missing`]): starting would quietly
//!   drop every maintenance window in force. [`Store::open_accepting_empty`]
//!   (the operator's `--accept-empty-store`) starts anyway, with a warning.
//! - **A damaged database is refused** ([`StoreError::Damaged`]) after
//!   `PRAGMA quick_check`, instead of failing later, on some admin write.
//! - **No shared memory.** `locking_mode=EXCLUSIVE` is set before WAL mode,
//!   so SQLite keeps the WAL index on the heap instead of in a memory-mapped
//!   `levee.db-shm` (and `mmap_size=0` keeps the database itself out of
//!   memory maps too). A disk that turns read-only or immutable under a
//!   mapping makes the kernel answer the next store to it with SIGBUS, which
//!   kills the whole gateway; with plain `write(2)` calls it is an error that
//!   the admin API reports and the data path never sees. The flock already
//!   keeps every other process out, so exclusive locking costs nothing but
//!   outside readers (`sqlite3 levee.db` while the gateway runs).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode};

use crate::{DB_FILE, LOCK_FILE, MIGRATIONS, Store, StoreError};

/// How the open store's database came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A data directory no gateway had used: a new, empty database.
    Created,
    /// The database an earlier run left, checked and opened.
    Opened,
    /// A new, empty database in place of a lost one (0 bytes, or missing
    /// after an earlier owner), because the operator accepted the loss.
    Recreated,
    /// In memory: nothing is durable.
    Memory,
}

/// What to do when the database is empty or missing after an earlier owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lost {
    Refuse,
    Accept,
}

/// What the data directory held before the database was opened.
enum Found {
    /// A non-empty `levee.db` (or something SQLite will judge).
    Database,
    /// Neither a database nor an earlier owner: a fresh directory.
    Nothing,
    /// A 0-byte `levee.db`.
    Empty,
    /// No `levee.db`, but the lock file names an earlier owner.
    Missing { pid: u32 },
}

impl Found {
    fn inspect(db: &Path, earlier_owner: Option<u32>) -> Found {
        match std::fs::metadata(db) {
            Ok(meta) if meta.is_file() && meta.len() == 0 => Found::Empty,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match earlier_owner {
                Some(pid) => Found::Missing { pid },
                None => Found::Nothing,
            },
            // Anything else (a file with content, a directory, a file we may
            // not stat): SQLite says what is wrong with it.
            _ => Found::Database,
        }
    }
}

/// The data directory's lock: an advisory `flock` on `levee.lock`, which
/// the OS releases when the process ends however it ends.
struct DirLock {
    file: std::fs::File,
    path: PathBuf,
    /// The pid the file held when we took it: the earlier owner's.
    earlier_owner: Option<u32>,
}

impl DirLock {
    /// Takes the lock, or says who holds it.
    fn take(dir: &Path) -> Result<DirLock, StoreError> {
        use std::io::Read as _;
        let path = dir.join(LOCK_FILE);
        let lock_err = |source| StoreError::Lock {
            path: path.clone(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(lock_err)?;
        let locked = file.try_lock();
        let mut text = String::new();
        // Unreadable content is an unknown owner, not a failure.
        let _ = file.read_to_string(&mut text);
        let pid = text.trim().parse::<u32>().ok();
        match locked {
            Ok(()) => Ok(DirLock {
                file,
                path,
                earlier_owner: pid,
            }),
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::InUse {
                path: dir.to_owned(),
                owner: pid.map_or_else(|| "pid unknown".to_owned(), |p| format!("pid {p}")),
            }),
            Err(std::fs::TryLockError::Error(source)) => Err(lock_err(source)),
        }
    }

    /// Writes this process's pid into the lock file. Called only once the
    /// database is open, so that a pid there always means a database was
    /// kept here (and a start that failed earlier leaves no false trace).
    fn claim(&mut self) {
        use std::io::{Seek as _, Write as _};
        // A failure here leaves a less helpful message for the next process,
        // not a broken lock.
        let _ = self.file.set_len(0);
        let _ = self.file.rewind();
        let _ = writeln!(self.file, "{}", std::process::id());
        let _ = self.file.flush();
    }
}

impl Store {
    /// Opens `dir/levee.db` (creating it in a fresh directory), checks and
    /// migrates it, holding `dir/levee.lock` for as long as the store lives.
    ///
    /// # Errors
    /// [`StoreError::InUse`] when another process holds the directory;
    /// [`StoreError::Empty`] for a 0-byte database and
    /// [`StoreError::Missing`] for a deleted one (see
    /// [`Store::open_accepting_empty`]); [`StoreError::Damaged`] when it
    /// fails its integrity check; the others when the directory, the lock
    /// or the database cannot be opened.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Store::open_dir(dir, Lost::Refuse)
    }

    /// Like [`Store::open`], but an empty or missing database where one was
    /// expected is replaced by a new, empty one ([`Origin::Recreated`]): the
    /// operator's `--accept-empty-store`, once they know the state is gone.
    ///
    /// # Errors
    /// As [`Store::open`], except [`StoreError::Empty`] and
    /// [`StoreError::Missing`].
    pub fn open_accepting_empty(dir: &Path) -> Result<Store, StoreError> {
        Store::open_dir(dir, Lost::Accept)
    }

    /// A store that lives only in memory (tests, the demo, embedded gateways
    /// with no data directory): the same schema, nothing durable.
    pub fn in_memory() -> Result<Store, StoreError> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Sqlite {
            path: path.clone(),
            source,
        })?;
        tracing::info!("state store in memory: windows and drains last until the process exits");
        Store::init(conn, path, Origin::Memory)
    }

    fn open_dir(dir: &Path, lost: Lost) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
            path: dir.to_owned(),
            source,
        })?;
        let mut lock = DirLock::take(dir)?;
        let path = dir.join(DB_FILE);
        let origin = match (Found::inspect(&path, lock.earlier_owner), lost) {
            (Found::Database, _) => Origin::Opened,
            (Found::Nothing, _) => Origin::Created,
            (Found::Empty | Found::Missing { .. }, Lost::Accept) => Origin::Recreated,
            (Found::Empty, Lost::Refuse) => return Err(StoreError::Empty { path }),
            (Found::Missing { pid }, Lost::Refuse) => {
                return Err(StoreError::Missing {
                    path,
                    lock: lock.path,
                    pid,
                });
            }
        };
        let conn = Connection::open(&path).map_err(|e| opening(&path, e))?;
        durable_settings(&conn, &path)?;
        let mut store = Store::init(conn, path, origin)?;
        lock.claim();
        store._lock = Some(lock.file);
        let path = store.path.display();
        match origin {
            Origin::Created => tracing::info!(path = %path, "state store created"),
            Origin::Opened => tracing::info!(path = %path, "state store opened"),
            Origin::Recreated => tracing::warn!(
                path = %path,
                "state store created empty in place of a lost one (--accept-empty-store): earlier maintenance windows, drains and audit entries are gone"
            ),
            Origin::Memory => {}
        }
        Ok(store)
    }

    /// Migrates `conn` and wraps it.
    fn init(mut conn: Connection, path: PathBuf, origin: Origin) -> Result<Store, StoreError> {
        let sql = |e| opening(&path, e);
        conn.busy_timeout(Duration::from_secs(5)).map_err(sql)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(sql)?;
        let version: u32 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(sql)?;
        let known = MIGRATIONS.last().map_or(0, |m| m.0);
        if version > known {
            return Err(StoreError::TooNew {
                path,
                found: version,
                known,
            });
        }
        for (v, migration) in MIGRATIONS.iter().filter(|(v, _)| *v > version) {
            let tx = conn.transaction().map_err(sql)?;
            tx.execute_batch(migration).map_err(sql)?;
            tx.pragma_update(None, "user_version", v).map_err(sql)?;
            tx.commit().map_err(sql)?;
        }
        Ok(Store {
            conn: Mutex::new(conn),
            path,
            origin,
            _lock: None,
        })
    }

    /// How the open database came to be.
    pub fn origin(&self) -> Origin {
        self.origin
    }
}

/// Exclusive locking before WAL (no `-shm` mapping, see the module docs),
/// no memory-mapped I/O, the integrity check, then WAL and `synchronous=FULL`
/// (readers never block the writer; a commit is on disk before the API
/// acknowledges it).
fn durable_settings(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let sql = |e| opening(path, e);
    // Must come first: the WAL index goes on the heap only if exclusive
    // locking is in force before the first access to the WAL.
    conn.pragma_update(None, "locking_mode", "EXCLUSIVE")
        .map_err(sql)?;
    conn.pragma_update(None, "mmap_size", 0).map_err(sql)?;
    quick_check(conn, path)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(sql)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(sql)?;
    Ok(())
}

/// `PRAGMA quick_check`: the b-trees, their pages and records are well
/// formed (everything `integrity_check` does except comparing indexes with
/// their tables; linear in the file's size).
fn quick_check(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let found = check_rows(conn).map_err(|e| match opening(path, e) {
        StoreError::Damaged { path, detail } => StoreError::Damaged {
            path,
            detail: format!("PRAGMA quick_check: {detail}"),
        },
        other => other,
    })?;
    if found.len() == 1 && found[0] == "ok" {
        return Ok(());
    }
    Err(StoreError::Damaged {
        path: path.to_owned(),
        detail: format!("PRAGMA quick_check: {}", found.join("; ")),
    })
}

fn check_rows(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("PRAGMA quick_check(5)")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    rows.collect()
}

/// An SQLite error while opening: a corrupt file or one that is not a
/// database is [`StoreError::Damaged`], the rest [`StoreError::Sqlite`].
fn opening(path: &Path, source: rusqlite::Error) -> StoreError {
    match source.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => StoreError::Damaged {
            path: path.to_owned(),
            detail: source.to_string(),
        },
        _ => StoreError::Sqlite {
            path: path.to_owned(),
            source,
        },
    }
}
