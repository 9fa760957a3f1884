//! The status page's rows (migration 0002): incidents and their updates,
//! the history of each component's level, operators' pins, and per-minute
//! availability.
//!
//! This module owns their queries, each write in one transaction: an
//! incident and its update commit with their audit entry, as do pins; the
//! component history and availability are logs of their own, not audited;
//! retention ([`Store::prune_status`]) never removes an unresolved incident.
//! It must not decide anything: what a level means, when an incident opens
//! or who may write one is the control plane's. The JSON columns
//! (`components`, `affected`) come as the caller wrote them; the schema only
//! checks that each is a JSON array.

use rusqlite::{OptionalExtension, Transaction, params};

use crate::{Change, Store, StoreError};

/// Minutes in a day: `availability.minute / 1440` is the Unix day.
const DAY_MINUTES: i64 = 1440;
/// Milliseconds in a minute.
const MINUTE_MS: i64 = 60_000;

/// One incident as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRow {
    /// `inc_` + ULID.
    pub id: String,
    /// Its title.
    pub name: String,
    /// `investigating`, `identified`, `monitoring` or `resolved`.
    pub status: String,
    /// `none`, `minor`, `major` or `critical`.
    pub impact: String,
    /// The affected component ids, as a JSON array (`["api"]`).
    pub components: String,
    /// Opened by Levee rather than by an operator.
    pub automatic: bool,
    /// `None` while automatic and untouched; the admin token's name once an
    /// operator wrote to it.
    pub owner: Option<String>,
    /// When the trouble began, Unix milliseconds.
    pub started_at_ms: i64,
    /// When the incident was opened, Unix milliseconds.
    pub created_at_ms: i64,
    /// Its last change, Unix milliseconds.
    pub updated_at_ms: i64,
    /// When it went to `monitoring`, Unix milliseconds.
    pub monitoring_at_ms: Option<i64>,
    /// When it was resolved, Unix milliseconds.
    pub resolved_at_ms: Option<i64>,
}

/// One update of an incident (a line of its timeline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateRow {
    /// `upd_` + ULID.
    pub id: String,
    /// The incident's id.
    pub incident_id: String,
    /// The incident's status as of this update.
    pub status: String,
    /// The message.
    pub body: String,
    /// The admin token's name, or `levee` for an automatic update.
    pub author: String,
    /// When, Unix milliseconds.
    pub created_at_ms: i64,
    /// The components it changed, as a JSON array of `{id, name,
    /// old_status, new_status}`.
    pub affected: String,
}

/// One change of a component's level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentChangeRow {
    /// Increasing id, given by the store (ignored when recording).
    pub id: i64,
    /// The component's id.
    pub component: String,
    /// When, Unix milliseconds.
    pub at_ms: i64,
    /// The level before, as Statuspage names it (`operational`).
    pub old_status: String,
    /// The level after.
    pub new_status: String,
    /// What caused it, in words.
    pub cause: String,
    /// Levee's own change, not an operator's pin.
    pub automatic: bool,
}

/// An operator's pin of a component's level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinRow {
    /// The component's id.
    pub component: String,
    /// The level it is pinned to, as Statuspage names it.
    pub status: String,
    /// The operator's note.
    pub note: String,
    /// When, Unix milliseconds.
    pub pinned_at_ms: i64,
    /// The admin token's name.
    pub pinned_by: String,
}

/// One component's counts for one minute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinuteRow {
    /// The component's id.
    pub component: String,
    /// The minute, in Unix minutes (milliseconds ÷ 60 000).
    pub minute: i64,
    /// Requests answered outside maintenance.
    pub requests: u64,
    /// Of those, the ones answered without a 5xx.
    pub ok: u64,
    /// The component was in maintenance during the minute.
    pub maintenance: bool,
    /// The component was in partial or major outage during the minute.
    pub outage: bool,
}

/// One component's availability over one UTC day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayRow {
    /// The component's id.
    pub component: String,
    /// Midnight UTC starting the day, Unix milliseconds.
    pub day_start_ms: i64,
    /// Requests answered outside maintenance.
    pub requests: u64,
    /// Of those, the ones answered without a 5xx.
    pub ok: u64,
    /// Minutes in maintenance.
    pub maintenance_minutes: u32,
    /// Minutes in partial or major outage.
    pub outage_minutes: u32,
}

impl Store {
    /// Inserts or replaces `incident` and adds `update` to it, if any,
    /// recording `change` (actor `levee` for Levee's own): all in one
    /// transaction, so a refused write leaves neither.
    pub fn put_incident(
        &self,
        incident: &IncidentRow,
        update: Option<&UpdateRow>,
        change: &Change<'_>,
    ) -> Result<(), StoreError> {
        self.write_if(change, |tx| {
            // An upsert, not `INSERT OR REPLACE`: replacing would delete the
            // row its updates refer to.
            let n = tx.execute(
                "INSERT INTO incidents (id, name, status, impact, components, automatic, owner,
                    started_at_ms, created_at_ms, updated_at_ms, monitoring_at_ms, resolved_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, status = excluded.status,
                    impact = excluded.impact, components = excluded.components,
                    automatic = excluded.automatic, owner = excluded.owner,
                    started_at_ms = excluded.started_at_ms, created_at_ms = excluded.created_at_ms,
                    updated_at_ms = excluded.updated_at_ms,
                    monitoring_at_ms = excluded.monitoring_at_ms,
                    resolved_at_ms = excluded.resolved_at_ms",
                params![
                    incident.id,
                    incident.name,
                    incident.status,
                    incident.impact,
                    incident.components,
                    incident.automatic,
                    incident.owner,
                    incident.started_at_ms,
                    incident.created_at_ms,
                    incident.updated_at_ms,
                    incident.monitoring_at_ms,
                    incident.resolved_at_ms,
                ],
            )?;
            if let Some(u) = update {
                tx.execute(
                    "INSERT INTO incident_updates
                        (id, incident_id, status, body, author, created_at_ms, affected)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        u.id,
                        u.incident_id,
                        u.status,
                        u.body,
                        u.author,
                        u.created_at_ms,
                        u.affected
                    ],
                )?;
            }
            Ok(n)
        })
        .map(|_| ())
    }

    /// Every unresolved incident, and the newest `limit` resolved ones
    /// updated at or after `since_ms`; newest first (by creation), each with
    /// its updates, newest first.
    pub fn incidents(
        &self,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<(IncidentRow, Vec<UpdateRow>)>, StoreError> {
        let conn = self.lock();
        let sql = |e| self.sql(e);
        let mut stmt = conn
            .prepare(&format!(
                "SELECT * FROM (
                    {SELECT_INCIDENTS} WHERE status != 'resolved'
                    UNION ALL
                    SELECT * FROM ({SELECT_INCIDENTS}
                        WHERE status = 'resolved' AND updated_at_ms >= ?1
                        ORDER BY created_at_ms DESC, id DESC LIMIT ?2))
                 ORDER BY created_at_ms DESC, id DESC"
            ))
            .map_err(sql)?;
        let incidents = stmt
            .query_map(params![since_ms, limit], incident_row)
            .map_err(sql)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql)?;
        let mut updates = conn
            .prepare(&format!(
                "{SELECT_UPDATES} WHERE incident_id = ?1 ORDER BY created_at_ms DESC, id DESC"
            ))
            .map_err(sql)?;
        incidents
            .into_iter()
            .map(|i| {
                let u = updates
                    .query_map([&i.id], update_row)
                    .and_then(Iterator::collect)
                    .map_err(sql)?;
                Ok((i, u))
            })
            .collect()
    }

    /// The incident `id` with its updates (newest first), if stored.
    pub fn incident(&self, id: &str) -> Result<Option<(IncidentRow, Vec<UpdateRow>)>, StoreError> {
        let conn = self.lock();
        let sql = |e| self.sql(e);
        let Some(incident) = conn
            .query_row(
                &format!("{SELECT_INCIDENTS} WHERE id = ?1"),
                [id],
                incident_row,
            )
            .optional()
            .map_err(sql)?
        else {
            return Ok(None);
        };
        let updates = conn
            .prepare(&format!(
                "{SELECT_UPDATES} WHERE incident_id = ?1 ORDER BY created_at_ms DESC, id DESC"
            ))
            .and_then(|mut s| s.query_map([id], update_row)?.collect())
            .map_err(sql)?;
        Ok(Some((incident, updates)))
    }

    /// Appends `change` to the component history (not audited: it is a log
    /// of its own); the id it was given.
    pub fn record_component_change(&self, change: &ComponentChangeRow) -> Result<i64, StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO component_changes
                    (component, at_ms, old_status, new_status, cause, automatic)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    change.component,
                    change.at_ms,
                    change.old_status,
                    change.new_status,
                    change.cause,
                    change.automatic
                ],
            )?;
            Ok(tx.last_insert_rowid())
        })
    }

    /// The newest `limit` changes at or after `since_ms`, of `component` or
    /// of every component; newest first.
    pub fn component_changes(
        &self,
        component: Option<&str>,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<ComponentChangeRow>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT id, component, at_ms, old_status, new_status, cause, automatic
                 FROM component_changes
                 WHERE (?1 IS NULL OR component = ?1) AND at_ms >= ?2
                 ORDER BY at_ms DESC, id DESC LIMIT ?3",
            )
            .map_err(|e| self.sql(e))?;
        stmt.query_map(params![component, since_ms, limit], |r| {
            Ok(ComponentChangeRow {
                id: r.get(0)?,
                component: r.get(1)?,
                at_ms: r.get(2)?,
                old_status: r.get(3)?,
                new_status: r.get(4)?,
                cause: r.get(5)?,
                automatic: r.get(6)?,
            })
        })
        .and_then(Iterator::collect)
        .map_err(|e| self.sql(e))
    }

    /// Every pin, by component.
    pub fn pins(&self) -> Result<Vec<PinRow>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT component, status, note, pinned_at_ms, pinned_by
                 FROM component_pins ORDER BY component",
            )
            .map_err(|e| self.sql(e))?;
        stmt.query_map([], |r| {
            Ok(PinRow {
                component: r.get(0)?,
                status: r.get(1)?,
                note: r.get(2)?,
                pinned_at_ms: r.get(3)?,
                pinned_by: r.get(4)?,
            })
        })
        .and_then(Iterator::collect)
        .map_err(|e| self.sql(e))
    }

    /// Pins a component (replacing its pin, if any), recording `change`.
    pub fn put_pin(&self, pin: &PinRow, change: &Change<'_>) -> Result<(), StoreError> {
        self.write_if(change, |tx| {
            tx.execute(
                "INSERT OR REPLACE INTO component_pins
                    (component, status, note, pinned_at_ms, pinned_by)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    pin.component,
                    pin.status,
                    pin.note,
                    pin.pinned_at_ms,
                    pin.pinned_by
                ],
            )
        })
        .map(|_| ())
    }

    /// Removes the pin of `component`, recording `change`; `false` when it
    /// was not pinned (nothing is recorded then).
    pub fn delete_pin(&self, component: &str, change: &Change<'_>) -> Result<bool, StoreError> {
        self.write_if(change, |tx| {
            tx.execute(
                "DELETE FROM component_pins WHERE component = ?1",
                [component],
            )
        })
    }

    /// Adds `minutes` in one transaction. A minute already stored for its
    /// component accumulates: requests and ok are added, the flags or-ed, so
    /// flushing the same minute twice loses nothing.
    pub fn add_availability(&self, minutes: &[MinuteRow]) -> Result<(), StoreError> {
        if minutes.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            let mut stmt = tx.prepare(
                "INSERT INTO availability (component, minute, requests, ok, maintenance, outage)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (component, minute) DO UPDATE SET
                    requests = requests + excluded.requests,
                    ok = ok + excluded.ok,
                    maintenance = max(maintenance, excluded.maintenance),
                    outage = max(outage, excluded.outage)",
            )?;
            for m in minutes {
                stmt.execute(params![
                    m.component,
                    m.minute,
                    to_sql_count(m.requests),
                    to_sql_count(m.ok),
                    m.maintenance,
                    m.outage
                ])?;
            }
            Ok(())
        })
    }

    /// Each component's availability per UTC day, from the minute holding
    /// `since_ms` on; by component, then day.
    pub fn daily_availability(&self, since_ms: i64) -> Result<Vec<DayRow>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT component, minute / ?2 AS day, SUM(requests), SUM(ok),
                    SUM(maintenance), SUM(outage)
                 FROM availability WHERE minute >= ?1
                 GROUP BY component, day ORDER BY component, day",
            )
            .map_err(|e| self.sql(e))?;
        stmt.query_map(params![since_ms.div_euclid(MINUTE_MS), DAY_MINUTES], |r| {
            Ok(DayRow {
                component: r.get(0)?,
                day_start_ms: r.get::<_, i64>(1)?.saturating_mul(DAY_MINUTES * MINUTE_MS),
                requests: from_sql_count(r.get(2)?),
                ok: from_sql_count(r.get(3)?),
                maintenance_minutes: u32::try_from(r.get::<_, i64>(4)?).unwrap_or(0),
                outage_minutes: u32::try_from(r.get::<_, i64>(5)?).unwrap_or(0),
            })
        })
        .and_then(Iterator::collect)
        .map_err(|e| self.sql(e))
    }

    /// Retention: deletes the availability minutes that ended by
    /// `before_ms`, the component changes and the resolved incidents (with
    /// their updates) last changed before it; never an unresolved incident,
    /// however old. One transaction; the number of rows deleted.
    pub fn prune_status(&self, before_ms: i64) -> Result<usize, StoreError> {
        self.write(|tx| {
            let minutes = tx.execute(
                "DELETE FROM availability WHERE minute < ?1",
                [before_ms.div_euclid(MINUTE_MS)],
            )?;
            let changes = tx.execute(
                "DELETE FROM component_changes WHERE at_ms < ?1",
                [before_ms],
            )?;
            let old = "SELECT id FROM incidents WHERE status = 'resolved' AND updated_at_ms < ?1";
            let updates = tx.execute(
                &format!("DELETE FROM incident_updates WHERE incident_id IN ({old})"),
                [before_ms],
            )?;
            let incidents = tx.execute(
                "DELETE FROM incidents WHERE status = 'resolved' AND updated_at_ms < ?1",
                [before_ms],
            )?;
            Ok(minutes + changes + updates + incidents)
        })
    }

    /// Runs `f` in a write transaction and commits, with no audit entry (for
    /// the logs that are their own record). A refused write rolls back whole.
    fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let write = |e| self.write_error(e);
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(write)?;
        let out = f(&tx).map_err(write)?;
        tx.commit().map_err(write)?;
        Ok(out)
    }
}

/// The columns [`incident_row`] reads, in its order.
const SELECT_INCIDENTS: &str = "SELECT id, name, status, impact, components, automatic, owner,
        started_at_ms, created_at_ms, updated_at_ms, monitoring_at_ms, resolved_at_ms
    FROM incidents";

fn incident_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<IncidentRow> {
    Ok(IncidentRow {
        id: r.get(0)?,
        name: r.get(1)?,
        status: r.get(2)?,
        impact: r.get(3)?,
        components: r.get(4)?,
        automatic: r.get(5)?,
        owner: r.get(6)?,
        started_at_ms: r.get(7)?,
        created_at_ms: r.get(8)?,
        updated_at_ms: r.get(9)?,
        monitoring_at_ms: r.get(10)?,
        resolved_at_ms: r.get(11)?,
    })
}

/// The columns [`update_row`] reads, in its order.
const SELECT_UPDATES: &str =
    "SELECT id, incident_id, status, body, author, created_at_ms, affected FROM incident_updates";

fn update_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UpdateRow> {
    Ok(UpdateRow {
        id: r.get(0)?,
        incident_id: r.get(1)?,
        status: r.get(2)?,
        body: r.get(3)?,
        author: r.get(4)?,
        created_at_ms: r.get(5)?,
        affected: r.get(6)?,
    })
}

/// A count as SQLite's signed integer (saturating: no minute holds 2^63
/// requests, but a miscount must not fail the write).
fn to_sql_count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A stored count back (a negative one, which Levee never writes, is 0).
fn from_sql_count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
