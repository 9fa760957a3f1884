-- Levee state, version 1: maintenance windows, drained endpoints, audit log.
-- Times are Unix milliseconds (UTC). Never edit a released migration: add
-- the next file instead (see src/lib.rs, MIGRATIONS).

CREATE TABLE windows (
    id                  TEXT PRIMARY KEY,
    scope_kind          TEXT NOT NULL CHECK (scope_kind IN ('all', 'route', 'pool')),
    scope_name          TEXT,
    starts_at_ms        INTEGER NOT NULL,
    ends_at_ms          INTEGER,
    message             TEXT NOT NULL,
    bypass_header       TEXT NOT NULL,
    bypass_token_sha256 BLOB,
    bypass_networks     TEXT NOT NULL, -- a JSON array of CIDR strings
    created_at_ms       INTEGER NOT NULL,
    created_by          TEXT NOT NULL,
    updated_at_ms       INTEGER NOT NULL,
    -- A window ended before it started (cancelled) has ends_at_ms <= starts_at_ms.
    CHECK ((scope_kind = 'all') = (scope_name IS NULL))
);

CREATE TABLE drains (
    endpoint      TEXT PRIMARY KEY,
    drained_at_ms INTEGER NOT NULL,
    drained_by    TEXT NOT NULL
);

CREATE TABLE audit (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms  INTEGER NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    before TEXT, -- JSON, NULL when the object did not exist
    after  TEXT  -- JSON, NULL when the object no longer exists
);
