-- Levee state, version 2: the status page. Incidents and their updates,
-- each component's history of levels, operators' pins, and per-minute
-- availability. Times are Unix milliseconds (UTC), except availability's
-- `minute` (Unix minutes). Never edit a released migration: add the next
-- file instead (see src/lib.rs, MIGRATIONS).

CREATE TABLE incidents (
    id               TEXT PRIMARY KEY, -- inc_ + ULID
    name             TEXT NOT NULL,
    status           TEXT NOT NULL
        CHECK (status IN ('investigating', 'identified', 'monitoring', 'resolved')),
    impact           TEXT NOT NULL CHECK (impact IN ('none', 'minor', 'major', 'critical')),
    -- A JSON array of component ids.
    components       TEXT NOT NULL
        CHECK (json_valid(components) AND json_type(components) = 'array'),
    automatic        INTEGER NOT NULL CHECK (automatic IN (0, 1)), -- 1: opened by Levee
    -- NULL while automatic and untouched; the admin token's name once an
    -- operator wrote to it (Levee no longer updates or resolves it then).
    owner            TEXT,
    started_at_ms    INTEGER NOT NULL,
    created_at_ms    INTEGER NOT NULL,
    updated_at_ms    INTEGER NOT NULL,
    monitoring_at_ms INTEGER,
    resolved_at_ms   INTEGER
);

CREATE TABLE incident_updates (
    id            TEXT PRIMARY KEY, -- upd_ + ULID
    incident_id   TEXT NOT NULL REFERENCES incidents (id),
    status        TEXT NOT NULL
        CHECK (status IN ('investigating', 'identified', 'monitoring', 'resolved')),
    body          TEXT NOT NULL,
    author        TEXT NOT NULL, -- 'levee' for automatic updates
    created_at_ms INTEGER NOT NULL,
    -- A JSON array of {id, name, old_status, new_status}.
    affected      TEXT NOT NULL
        CHECK (json_valid(affected) AND json_type(affected) = 'array')
);

CREATE INDEX incident_updates_by_incident ON incident_updates (incident_id);

-- A log of its own (not audited): every change of a component's level.
CREATE TABLE component_changes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    component  TEXT NOT NULL,
    at_ms      INTEGER NOT NULL,
    old_status TEXT NOT NULL CHECK (old_status IN ('operational', 'under_maintenance',
        'degraded_performance', 'partial_outage', 'major_outage')),
    new_status TEXT NOT NULL CHECK (new_status IN ('operational', 'under_maintenance',
        'degraded_performance', 'partial_outage', 'major_outage')),
    cause      TEXT NOT NULL,
    automatic  INTEGER NOT NULL CHECK (automatic IN (0, 1)) -- 0: an operator's pin
);

CREATE INDEX component_changes_by_component ON component_changes (component, at_ms);

CREATE TABLE component_pins (
    component    TEXT PRIMARY KEY,
    status       TEXT NOT NULL CHECK (status IN ('operational', 'under_maintenance',
        'degraded_performance', 'partial_outage', 'major_outage')),
    note         TEXT NOT NULL,
    pinned_at_ms INTEGER NOT NULL,
    pinned_by    TEXT NOT NULL
);

CREATE TABLE availability (
    component   TEXT NOT NULL,
    minute      INTEGER NOT NULL, -- Unix minutes
    requests    INTEGER NOT NULL,
    ok          INTEGER NOT NULL, -- of requests, answered without a 5xx
    maintenance INTEGER NOT NULL CHECK (maintenance IN (0, 1)), -- in maintenance during the minute
    outage      INTEGER NOT NULL CHECK (outage IN (0, 1)), -- in partial or major outage during it
    PRIMARY KEY (component, minute)
) WITHOUT ROWID;
