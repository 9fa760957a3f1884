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
