use super::*;

/// The schema version this build migrates to.
const LATEST: u32 = 2;

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
    assert_eq!(store.schema_version().expect("version"), LATEST);
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
            known: LATEST,
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
    assert_eq!(again.schema_version().expect("version"), LATEST);
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
    assert_eq!(store.schema_version().expect("version"), LATEST);
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

mod status {
    use super::*;

    const DAY_MS: i64 = 86_400_000;

    fn incident(id: &str, created: i64, status: &str) -> IncidentRow {
        IncidentRow {
            id: id.to_owned(),
            name: "API: partial outage".to_owned(),
            status: status.to_owned(),
            impact: "major".to_owned(),
            components: r#"["api"]"#.to_owned(),
            automatic: true,
            owner: None,
            started_at_ms: created - 60_000,
            created_at_ms: created,
            updated_at_ms: created,
            monitoring_at_ms: None,
            resolved_at_ms: (status == "resolved").then_some(created),
        }
    }

    fn update(id: &str, incident: &str, at: i64) -> UpdateRow {
        UpdateRow {
            id: id.to_owned(),
            incident_id: incident.to_owned(),
            status: "investigating".to_owned(),
            body: "Levee sees API partial outage: 1 of 2 endpoints down.".to_owned(),
            author: "levee".to_owned(),
            created_at_ms: at,
            affected: r#"[{"id":"api","name":"API","old_status":"operational","new_status":"partial_outage"}]"#
                .to_owned(),
        }
    }

    fn levee<'a>(action: &'a str, target: &'a str) -> Change<'a> {
        Change {
            actor: "levee",
            ..change(action, target)
        }
    }

    fn put(store: &Store, row: &IncidentRow, upd: Option<&UpdateRow>) {
        store
            .put_incident(row, upd, &levee("incident.open", &row.id))
            .expect("put incident");
    }

    fn minute(component: &str, minute: i64, requests: u64, ok: u64) -> MinuteRow {
        MinuteRow {
            component: component.to_owned(),
            minute,
            requests,
            ok,
            maintenance: false,
            outage: false,
        }
    }

    fn component_change(component: &str, at_ms: i64) -> ComponentChangeRow {
        ComponentChangeRow {
            id: 0,
            component: component.to_owned(),
            at_ms,
            old_status: "operational".to_owned(),
            new_status: "major_outage".to_owned(),
            cause: "2 of 2 endpoints down in pool `api`".to_owned(),
            automatic: true,
        }
    }

    #[test]
    fn an_incident_and_its_updates_round_trip_with_their_audit() {
        let store = Store::in_memory().expect("open");
        let mut row = incident("inc_a", 1_000, "investigating");
        put(&store, &row, Some(&update("upd_1", "inc_a", 1_000)));
        row.status = "identified".to_owned();
        row.owner = Some("alice".to_owned());
        row.updated_at_ms = 2_000;
        store
            .put_incident(
                &row,
                Some(&update("upd_2", "inc_a", 2_000)),
                &change("incident.update", "inc_a"),
            )
            .expect("update");
        store
            .put_incident(&row, None, &change("incident.update", "inc_a"))
            .expect("without an update");

        let (got, updates) = store.incident("inc_a").expect("get").expect("stored");
        assert_eq!(got, row);
        let ids: Vec<_> = updates.iter().map(|u| u.id.as_str()).collect();
        assert_eq!(ids, ["upd_2", "upd_1"], "newest first");
        assert_eq!(updates[1], update("upd_1", "inc_a", 1_000));
        assert_eq!(store.incident("inc_zz").expect("get"), None);

        let audit: Vec<_> = store
            .audit(10)
            .expect("audit")
            .into_iter()
            .map(|a| (a.actor, a.action))
            .collect();
        assert_eq!(
            audit,
            [
                ("alice".to_owned(), "incident.update".to_owned()),
                ("alice".to_owned(), "incident.update".to_owned()),
                ("levee".to_owned(), "incident.open".to_owned()),
            ]
        );
    }

    #[test]
    fn an_incident_write_is_one_transaction() {
        let store = Store::in_memory().expect("open");
        // The update names an incident that does not exist: the whole write,
        // incident and audit entry included, is refused.
        let err = store
            .put_incident(
                &incident("inc_a", 1_000, "investigating"),
                Some(&update("upd_1", "inc_nope", 1_000)),
                &levee("incident.open", "inc_a"),
            )
            .expect_err("foreign key");
        assert!(matches!(err, StoreError::Sqlite { .. }), "{err:?}");
        assert_eq!(store.incident("inc_a").expect("get"), None);
        assert!(store.audit(10).expect("audit").is_empty());

        // Components that are not a JSON array are refused by the schema.
        let mut bad = incident("inc_b", 1_000, "investigating");
        bad.components = "api".to_owned();
        assert!(
            store
                .put_incident(&bad, None, &levee("incident.open", "inc_b"))
                .is_err()
        );
        bad.components = r#"{"id":"api"}"#.to_owned();
        assert!(
            store
                .put_incident(&bad, None, &levee("incident.open", "inc_b"))
                .is_err()
        );
        let mut bad = incident("inc_c", 1_000, "investigating");
        bad.status = "on fire".to_owned();
        assert!(
            store
                .put_incident(&bad, None, &levee("incident.open", "inc_c"))
                .is_err()
        );
        assert!(store.incidents(0, 100).expect("list").is_empty());
    }

    #[test]
    fn the_list_holds_recent_incidents_and_every_unresolved_one_newest_first() {
        let store = Store::in_memory().expect("open");
        put(&store, &incident("inc_old_open", 1_000, "monitoring"), None);
        put(&store, &incident("inc_old_done", 2_000, "resolved"), None);
        put(&store, &incident("inc_a", 10_000, "resolved"), None);
        put(&store, &incident("inc_b", 11_000, "resolved"), None);
        put(&store, &incident("inc_c", 12_000, "investigating"), None);
        put(&store, &incident("inc_d", 13_000, "resolved"), None);
        put(
            &store,
            &incident("inc_a", 10_000, "resolved"),
            Some(&update("upd_a", "inc_a", 10_000)),
        );

        let ids = |since, limit| -> Vec<String> {
            store
                .incidents(since, limit)
                .expect("list")
                .into_iter()
                .map(|(i, _)| i.id)
                .collect()
        };
        assert_eq!(
            ids(5_000, 100),
            ["inc_d", "inc_c", "inc_b", "inc_a", "inc_old_open"]
        );
        assert_eq!(
            ids(5_000, 1),
            ["inc_d", "inc_c", "inc_old_open"],
            "the limit bounds the resolved ones, never the unresolved"
        );
        assert_eq!(ids(0, 100).len(), 6);
        let listed = store.incidents(5_000, 100).expect("list");
        assert_eq!(listed[3].1, [update("upd_a", "inc_a", 10_000)]);
    }

    #[test]
    fn component_changes_are_a_log_newest_first() {
        let store = Store::in_memory().expect("open");
        let first = store
            .record_component_change(&component_change("api", 1_000))
            .expect("record");
        let second = store
            .record_component_change(&component_change("web", 2_000))
            .expect("record");
        store
            .record_component_change(&component_change("api", 3_000))
            .expect("record");
        assert!(second > first);

        let at = |c: Option<&str>, since, limit| -> Vec<(String, i64)> {
            store
                .component_changes(c, since, limit)
                .expect("changes")
                .into_iter()
                .map(|r| (r.component, r.at_ms))
                .collect()
        };
        let api = |t: i64| ("api".to_owned(), t);
        assert_eq!(
            at(None, 0, 10),
            [api(3_000), ("web".to_owned(), 2_000), api(1_000)]
        );
        assert_eq!(at(Some("api"), 0, 10), [api(3_000), api(1_000)]);
        assert_eq!(at(Some("api"), 2_000, 10), [api(3_000)]);
        assert_eq!(at(None, 0, 1), [api(3_000)]);
        let stored = &store.component_changes(None, 0, 10).expect("changes")[2];
        assert_eq!(
            *stored,
            ComponentChangeRow {
                id: first,
                ..component_change("api", 1_000)
            }
        );
        assert!(
            store.audit(10).expect("audit").is_empty(),
            "a log of its own, not audited"
        );
    }

    #[test]
    fn pins_are_put_replaced_and_deleted_with_their_audit() {
        let store = Store::in_memory().expect("open");
        let mut pin = PinRow {
            component: "api".to_owned(),
            status: "major_outage".to_owned(),
            note: "database failover".to_owned(),
            pinned_at_ms: 1_000,
            pinned_by: "alice".to_owned(),
        };
        store
            .put_pin(&pin, &change("component.pin", "api"))
            .expect("pin");
        pin.status = "partial_outage".to_owned();
        store
            .put_pin(&pin, &change("component.pin", "api"))
            .expect("pin again");
        assert_eq!(store.pins().expect("pins"), [pin.clone()]);
        let bad = PinRow {
            status: "sideways".to_owned(),
            ..pin
        };
        assert!(
            store
                .put_pin(&bad, &change("component.pin", "api"))
                .is_err()
        );
        assert!(
            store
                .delete_pin("api", &change("component.unpin", "api"))
                .expect("unpin")
        );
        assert!(
            !store
                .delete_pin("api", &change("component.unpin", "api"))
                .expect("unpin again")
        );
        assert!(store.pins().expect("pins").is_empty());
        assert_eq!(store.audit(10).expect("audit").len(), 3);
    }

    #[test]
    fn flushing_the_same_minute_twice_accumulates() {
        let store = Store::in_memory().expect("open");
        let m = 29_000_000; // a Unix minute in 2025
        store
            .add_availability(&[minute("api", m, 100, 98), minute("web", m, 5, 5)])
            .expect("flush");
        store
            .add_availability(&[
                MinuteRow {
                    outage: true,
                    ..minute("api", m, 10, 0)
                },
                MinuteRow {
                    maintenance: true,
                    ..minute("web", m, 0, 0)
                },
            ])
            .expect("flush again");
        store
            .add_availability(&[minute("api", m, 1, 1)])
            .expect("a flag once set stays set");
        store.add_availability(&[]).expect("nothing");

        let days = store.daily_availability(0).expect("days");
        let day_start = m / 1440 * DAY_MS;
        assert_eq!(
            days,
            [
                DayRow {
                    component: "api".to_owned(),
                    day_start_ms: day_start,
                    requests: 111,
                    ok: 99,
                    maintenance_minutes: 0,
                    outage_minutes: 1,
                },
                DayRow {
                    component: "web".to_owned(),
                    day_start_ms: day_start,
                    requests: 5,
                    ok: 5,
                    maintenance_minutes: 1,
                    outage_minutes: 0,
                },
            ]
        );
    }

    #[test]
    fn days_are_grouped_at_midnight_utc() {
        let store = Store::in_memory().expect("open");
        let day = 20_000; // 2024-10-04
        let midnight = day * 1440;
        store
            .add_availability(&[
                MinuteRow {
                    outage: true,
                    ..minute("api", midnight - 2, 10, 0)
                },
                minute("api", midnight - 1, 10, 10),
                MinuteRow {
                    maintenance: true,
                    ..minute("api", midnight, 7, 7)
                },
                minute("api", midnight + 1439, 3, 2),
                minute("api", midnight + 1440, 1, 1),
            ])
            .expect("flush");
        let days: Vec<_> = store
            .daily_availability((day - 1) * DAY_MS)
            .expect("days")
            .into_iter()
            .map(|d| {
                (
                    d.day_start_ms / DAY_MS,
                    d.requests,
                    d.ok,
                    d.maintenance_minutes,
                    d.outage_minutes,
                )
            })
            .collect();
        assert_eq!(
            days,
            [
                (day - 1, 20, 10, 0, 1),
                (day, 10, 9, 1, 0),
                (day + 1, 1, 1, 0, 0)
            ]
        );
        // From a moment within a day: its earlier minutes are left out.
        let from_last_minute = store
            .daily_availability((midnight - 1) * 60_000 + 30_000)
            .expect("days");
        assert_eq!(from_last_minute[0].requests, 10);
        assert_eq!(from_last_minute[0].outage_minutes, 0);
    }

    #[test]
    fn pruning_keeps_unresolved_incidents_and_recent_rows() {
        let store = Store::in_memory().expect("open");
        let before = 100 * 60_000;
        put(
            &store,
            &incident("inc_old_done", 1_000, "resolved"),
            Some(&update("upd_1", "inc_old_done", 1_000)),
        );
        put(
            &store,
            &incident("inc_old_open", 1_000, "investigating"),
            Some(&update("upd_2", "inc_old_open", 1_000)),
        );
        put(&store, &incident("inc_new_done", before, "resolved"), None);
        store
            .record_component_change(&component_change("api", before - 1))
            .expect("record");
        store
            .record_component_change(&component_change("api", before))
            .expect("record");
        store
            .add_availability(&[
                minute("api", 98, 1, 1),
                minute("api", 99, 1, 1),
                minute("api", 100, 1, 1),
            ])
            .expect("flush");

        // Deleted: one incident, its update, one change, two minutes.
        assert_eq!(store.prune_status(before).expect("prune"), 5);
        let ids: Vec<_> = store
            .incidents(0, 100)
            .expect("list")
            .into_iter()
            .map(|(i, u)| (i.id, u.len()))
            .collect();
        assert_eq!(
            ids,
            [
                ("inc_new_done".to_owned(), 0),
                ("inc_old_open".to_owned(), 1)
            ]
        );
        assert_eq!(
            store.component_changes(None, 0, 10).expect("changes").len(),
            1
        );
        assert_eq!(store.daily_availability(0).expect("days")[0].requests, 1);
        assert_eq!(store.prune_status(before).expect("again"), 0);
    }

    #[test]
    fn a_write_the_database_refuses_is_a_write_error() {
        let store = Store::in_memory().expect("open");
        store
            .lock()
            .pragma_update(None, "query_only", true)
            .expect("query_only");
        let is_write = |r: Result<(), StoreError>| matches!(r, Err(StoreError::Write { .. }));
        assert!(is_write(store.add_availability(&[minute("api", 1, 1, 1)])));
        assert!(is_write(
            store
                .record_component_change(&component_change("api", 1))
                .map(|_| ())
        ));
        assert!(is_write(store.put_incident(
            &incident("inc_a", 1, "investigating"),
            None,
            &levee("incident.open", "inc_a")
        )));
        assert!(is_write(store.prune_status(1).map(|_| ())));
    }

    #[test]
    fn a_version_1_database_upgrades_keeping_its_windows_and_the_new_state_survives_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            // What Levee with only migration 1 left behind.
            let conn = Connection::open(dir.path().join(DB_FILE)).expect("open");
            conn.execute_batch(MIGRATIONS[0].1).expect("migration 1");
            conn.pragma_update(None, "user_version", 1)
                .expect("version");
            conn.execute(
                "INSERT INTO windows (id, scope_kind, scope_name, starts_at_ms, ends_at_ms,
                    message, bypass_header, bypass_token_sha256, bypass_networks,
                    created_at_ms, created_by, updated_at_ms)
                 VALUES ('w_a', 'route', 'api', 1000, 61000, 'Database upgrade',
                    'x-levee-bypass', zeroblob(0), '[\"10.0.0.0/8\"]', 1, 'alice', 1)",
                [],
            )
            .expect("a window");
        }
        {
            let store = Store::open(dir.path()).expect("open and migrate");
            assert_eq!(store.origin(), Origin::Opened);
            assert_eq!(store.schema_version().expect("version"), LATEST);
            let w = store.window("w_a").expect("get").expect("kept");
            assert_eq!(w.bypass_networks, ["10.0.0.0/8"]);
            put(
                &store,
                &incident("inc_a", 1_000, "investigating"),
                Some(&update("upd_1", "inc_a", 1_000)),
            );
            store
                .record_component_change(&component_change("api", 1_000))
                .expect("record");
            store
                .put_pin(
                    &PinRow {
                        component: "api".to_owned(),
                        status: "operational".to_owned(),
                        note: String::new(),
                        pinned_at_ms: 1,
                        pinned_by: "alice".to_owned(),
                    },
                    &change("component.pin", "api"),
                )
                .expect("pin");
            store
                .add_availability(&[minute("api", 5, 3, 2)])
                .expect("flush");
        }
        let store = Store::open(dir.path()).expect("reopen");
        assert_eq!(store.schema_version().expect("version"), LATEST);
        assert!(store.window("w_a").expect("get").is_some());
        let (incident, updates) = store.incident("inc_a").expect("get").expect("survived");
        assert_eq!(incident.status, "investigating");
        assert_eq!(updates.len(), 1);
        assert_eq!(
            store.component_changes(None, 0, 10).expect("changes").len(),
            1
        );
        assert_eq!(store.pins().expect("pins").len(), 1);
        assert_eq!(store.daily_availability(0).expect("days")[0].ok, 2);
    }
}
