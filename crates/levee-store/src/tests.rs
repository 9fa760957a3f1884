use super::*;

fn window(id: &str, starts: i64) -> WindowRow {
    WindowRow {
        id: id.to_owned(),
        scope_kind: "route".to_owned(),
        scope_name: Some("api".to_owned()),
        starts_at_ms: starts,
        ends_at_ms: Some(starts + 60_000),
        message: "Database upgrade".to_owned(),
        bypass_header: "x-levee-bypass".to_owned(),
        bypass_token_sha256: Some(vec![7; 32]),
        bypass_networks: vec!["10.0.0.0/8".to_owned()],
        created_at_ms: 1,
        created_by: "alice".to_owned(),
        updated_at_ms: 1,
    }
}

fn change<'a>(action: &'a str, target: &'a str) -> Change<'a> {
    Change {
        at_ms: 5,
        actor: "alice",
        action,
        target,
        before: None,
        after: Some(serde_json::json!({"id": target})),
    }
}

#[test]
fn windows_round_trip_and_survive_reopening() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = Store::open(dir.path()).expect("open");
        store
            .put_window(&window("w_b", 2000), &change("window.create", "w_b"))
            .expect("put");
        store
            .put_window(&window("w_a", 1000), &change("window.create", "w_a"))
            .expect("put");
    }
    let store = Store::open(dir.path()).expect("reopen");
    let ids: Vec<_> = store
        .windows()
        .expect("list")
        .into_iter()
        .map(|w| w.id)
        .collect();
    assert_eq!(ids, ["w_a", "w_b"], "soonest start first");
    assert_eq!(store.window("w_a").expect("get"), Some(window("w_a", 1000)));
    assert_eq!(store.window("w_zz").expect("get"), None);
    assert_eq!(store.schema_version().expect("version"), 1);
}

#[test]
fn every_change_is_audited_and_a_no_op_is_not() {
    let store = Store::in_memory().expect("open");
    store
        .put_window(&window("w_a", 1000), &change("window.create", "w_a"))
        .expect("put");
    assert!(
        store
            .delete_window("w_a", &change("window.delete", "w_a"))
            .expect("delete")
    );
    assert!(
        !store
            .delete_window("w_a", &change("window.delete", "w_a"))
            .expect("delete again"),
        "deleting what is gone reports false"
    );
    let drain = DrainRow {
        endpoint: "127.0.0.1:8081".to_owned(),
        drained_at_ms: 9,
        drained_by: "bob".to_owned(),
    };
    assert!(
        store
            .add_drain(&drain, &change("drain.add", "127.0.0.1:8081"))
            .expect("drain")
    );
    assert!(
        !store
            .add_drain(&drain, &change("drain.add", "127.0.0.1:8081"))
            .expect("again")
    );
    assert_eq!(store.drains().expect("drains"), [drain]);
    assert!(
        store
            .remove_drain("127.0.0.1:8081", &change("drain.remove", "127.0.0.1:8081"))
            .expect("undrain")
    );
    assert!(store.drains().expect("drains").is_empty());

    let actions: Vec<_> = store
        .audit(100)
        .expect("audit")
        .into_iter()
        .map(|a| a.action)
        .collect();
    assert_eq!(
        actions,
        [
            "drain.remove",
            "drain.add",
            "window.delete",
            "window.create"
        ],
        "newest first, and no entry for the no-ops"
    );
    let newest = &store.audit(1).expect("audit")[0];
    assert_eq!(
        newest.after,
        Some(serde_json::json!({"id": "127.0.0.1:8081"}))
    );
}

#[test]
fn a_database_from_a_newer_levee_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let conn = Connection::open(dir.path().join(DB_FILE)).expect("open");
        conn.pragma_update(None, "user_version", 99)
            .expect("set version");
    }
    match Store::open(dir.path()) {
        Err(StoreError::TooNew {
            found: 99,
            known: 1,
            ..
        }) => {}
        other => panic!("expected TooNew, got {other:?}"),
    }
}

#[test]
fn the_database_is_in_wal_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    let mode: String = store
        .lock()
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .expect("journal_mode");
    assert_eq!(mode, "wal");
}

#[test]
fn one_process_owns_a_data_directory_until_its_store_is_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = Store::open(dir.path()).expect("open");
    let lock = std::fs::read_to_string(dir.path().join(LOCK_FILE)).expect("lock file");
    assert_eq!(lock.trim(), std::process::id().to_string());
    match Store::open(dir.path()) {
        Err(e @ StoreError::InUse { .. }) => {
            let text = e.to_string();
            assert!(text.contains(&dir.path().display().to_string()), "{text}");
            assert!(
                text.contains(&format!("pid {}", std::process::id())),
                "{text}"
            );
            assert!(text.contains("--data-dir"), "{text}");
        }
        other => panic!("expected InUse, got {other:?}"),
    }
    drop(first);
    let again = Store::open(dir.path()).expect("free again once the first is dropped");
    assert_eq!(again.schema_version().expect("version"), 1);
}

#[test]
fn a_fresh_directory_is_created_then_opened() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("state");
    assert_eq!(Store::open(&data).expect("open").origin(), Origin::Created);
    assert_eq!(Store::open(&data).expect("reopen").origin(), Origin::Opened);
    assert_eq!(Store::in_memory().expect("memory").origin(), Origin::Memory);
}

#[test]
fn an_empty_database_file_is_refused_unless_accepted() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = Store::open(dir.path()).expect("open");
        store
            .put_window(&window("w_a", 1000), &change("window.create", "w_a"))
            .expect("put");
    }
    // What a full disk, a bad restore or `: > levee.db` leaves behind.
    std::fs::write(dir.path().join(DB_FILE), b"").expect("truncate");
    match Store::open(dir.path()) {
        Err(e @ StoreError::Empty { .. }) => {
            let text = e.to_string();
            assert!(text.contains(DB_FILE), "names the file: {text}");
            assert!(text.contains("--accept-empty-store"), "{text}");
        }
        other => panic!("expected Empty, got {other:?}"),
    }
    let store = Store::open_accepting_empty(dir.path()).expect("accepted");
    assert_eq!(store.origin(), Origin::Recreated);
    assert_eq!(store.schema_version().expect("version"), 1);
    assert!(store.windows().expect("windows").is_empty());
    drop(store);
    assert_eq!(
        Store::open(dir.path()).expect("reopen").origin(),
        Origin::Opened,
        "once accepted, the new database is the store"
    );
}

#[test]
fn a_deleted_database_is_refused_when_the_lock_file_shows_an_earlier_owner() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(Store::open(dir.path()).expect("open"));
    std::fs::remove_file(dir.path().join(DB_FILE)).expect("delete");
    match Store::open(dir.path()) {
        Err(e @ StoreError::Missing { pid, .. }) => {
            assert_eq!(
                pid,
                std::process::id(),
                "the earlier owner was this process"
            );
            let text = e.to_string();
            assert!(text.contains(DB_FILE) && text.contains(LOCK_FILE), "{text}");
            assert!(text.contains("--accept-empty-store"), "{text}");
        }
        other => panic!("expected Missing, got {other:?}"),
    }
    let store = Store::open_accepting_empty(dir.path()).expect("accepted");
    assert_eq!(store.origin(), Origin::Recreated);
}

#[test]
fn a_start_that_failed_before_opening_the_database_leaves_no_earlier_owner() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A directory where the database should be: SQLite cannot open it.
    std::fs::create_dir(dir.path().join(DB_FILE)).expect("mkdir");
    assert!(matches!(
        Store::open(dir.path()),
        Err(StoreError::Sqlite { .. })
    ));
    std::fs::remove_dir(dir.path().join(DB_FILE)).expect("rmdir");
    let store = Store::open(dir.path()).expect("a fresh start, not a lost store");
    assert_eq!(store.origin(), Origin::Created);
}

#[test]
fn a_file_that_is_not_a_database_is_refused_as_damaged() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(DB_FILE), [0x5a_u8; 8192]).expect("write");
    match Store::open(dir.path()) {
        Err(e @ StoreError::Damaged { .. }) => {
            assert!(e.to_string().contains("backup"), "{e}");
        }
        other => panic!("expected Damaged, got {other:?}"),
    }
}

/// Damage where nothing reads at start (the audit log's pages) is found by
/// `PRAGMA quick_check` at open, not by a later admin write.
#[test]
fn a_damaged_table_is_found_at_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = Store::open(dir.path()).expect("open");
        store
            .put_window(&window("w_a", 1000), &change("window.create", "w_a"))
            .expect("put");
    }
    let db = dir.path().join(DB_FILE);
    let (page_size, root) = {
        let conn = Connection::open(&db).expect("open");
        let page_size: u64 = conn
            .pragma_query_value(None, "page_size", |r| r.get(0))
            .expect("page_size");
        let root: u64 = conn
            .query_row(
                "SELECT rootpage FROM sqlite_master WHERE name = 'audit'",
                [],
                |r| r.get(0),
            )
            .expect("audit's root page");
        (page_size, root)
    };
    let mut bytes = std::fs::read(&db).expect("read");
    let at = usize::try_from((root - 1) * page_size).expect("fits");
    bytes[at] = 0x42; // not a b-tree page type
    std::fs::write(&db, bytes).expect("write");
    match Store::open(dir.path()) {
        Err(e @ StoreError::Damaged { .. }) => {
            let text = e.to_string();
            assert!(text.contains("quick_check"), "{text}");
            assert!(text.contains(&db.display().to_string()), "{text}");
        }
        other => panic!("expected Damaged, got {other:?}"),
    }
}

/// With exclusive locking set before WAL mode, SQLite keeps the WAL index on
/// the heap: there is no `levee.db-shm` to memory-map, so a disk that turns
/// read-only cannot answer a store into it with SIGBUS.
#[test]
fn the_wal_index_is_on_the_heap_not_in_a_mapped_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    store
        .put_window(&window("w_a", 1000), &change("window.create", "w_a"))
        .expect("put");
    assert!(
        dir.path().join("levee.db-wal").exists(),
        "the write went to the WAL"
    );
    assert!(
        !dir.path().join("levee.db-shm").exists(),
        "no shared-memory file"
    );
    let mode: String = store
        .lock()
        .pragma_query_value(None, "locking_mode", |r| r.get(0))
        .expect("locking_mode");
    assert_eq!(mode, "exclusive");
}
