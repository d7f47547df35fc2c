-- almanac's schema on SQLite. Timestamps are integer epoch seconds (UTC).

CREATE TABLE locations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    country     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    latitude    REAL NOT NULL,
    longitude   REAL NOT NULL,
    timezone    TEXT NOT NULL,
    radius_km   REAL NOT NULL,
    enabled     INTEGER NOT NULL
);

CREATE TABLE series (
    id           INTEGER PRIMARY KEY,
    location_id  TEXT NOT NULL REFERENCES locations (id),
    dataset      TEXT NOT NULL,
    variable     TEXT NOT NULL,
    source       TEXT NOT NULL,
    step_seconds INTEGER NOT NULL CHECK (step_seconds > 0),
    unit         TEXT NOT NULL,
    UNIQUE (location_id, dataset, variable, source)
);

CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    operation   TEXT NOT NULL,
    location_id TEXT,
    dataset     TEXT,
    source      TEXT,
    range_start INTEGER,
    range_end   INTEGER,
    inserted    INTEGER NOT NULL DEFAULT 0,
    updated     INTEGER NOT NULL DEFAULT 0,
    unchanged   INTEGER NOT NULL DEFAULT 0,
    rejected    INTEGER NOT NULL DEFAULT 0,
    status      TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    error       TEXT,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER
);

-- Narrow: one row per series and instant. created_run/updated_run name the runs that first
-- wrote and last changed the value.
CREATE TABLE observations (
    series_id   INTEGER NOT NULL,
    ts          INTEGER NOT NULL,
    value       REAL NOT NULL,
    flag        INTEGER NOT NULL,
    created_run INTEGER NOT NULL,
    updated_run INTEGER NOT NULL,
    PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;

CREATE TABLE rejects (
    id     INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs (id),
    record TEXT NOT NULL,
    reason TEXT NOT NULL
);

CREATE INDEX rejects_by_run ON rejects (run_id);
