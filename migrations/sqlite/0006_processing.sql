-- Processing (`almanac process`): windowed metrics per series, anomalies, and how far each
-- series has been processed. `kind` is the window's length: 5min, 1hour, 1day.
CREATE TABLE window_metrics (
    series_id INTEGER NOT NULL REFERENCES series (id),
    kind      TEXT    NOT NULL,
    start_ts  INTEGER NOT NULL,
    end_ts    INTEGER NOT NULL,
    count     INTEGER NOT NULL,
    expected  INTEGER NOT NULL,
    mean      REAL    NOT NULL,
    min       REAL    NOT NULL,
    max       REAL    NOT NULL,
    variance  REAL,
    sum       REAL,
    delta     REAL,
    last      REAL    NOT NULL,
    run_id    INTEGER NOT NULL REFERENCES runs (id),
    PRIMARY KEY (series_id, kind, start_ts)
) WITHOUT ROWID;
CREATE INDEX window_metrics_by_end ON window_metrics (end_ts);

-- One row per (series, instant, method); `severity` 1 medium, 2 high, 3 critical. Re-processing
-- a range replaces its unresolved anomalies; resolved ones stay as they were marked.
CREATE TABLE anomalies (
    id           INTEGER PRIMARY KEY,
    series_id    INTEGER NOT NULL REFERENCES series (id),
    ts           INTEGER NOT NULL,
    method       TEXT    NOT NULL,
    value        REAL    NOT NULL,
    expected     REAL    NOT NULL,
    deviation    REAL    NOT NULL,
    severity     INTEGER NOT NULL,
    detected_run INTEGER NOT NULL REFERENCES runs (id),
    resolved_at  INTEGER,
    UNIQUE (series_id, ts, method)
);
CREATE INDEX anomalies_by_ts ON anomalies (ts);

-- Values written by runs up to `run_id` are processed (see ops::process for why a run id).
CREATE TABLE processed (
    series_id INTEGER PRIMARY KEY REFERENCES series (id),
    run_id    INTEGER NOT NULL
);

-- A refused value's variable, instant and kind (`invalid` or `duplicate`; null for records
-- that were not one value), so data quality can count per series and day what was turned away.
ALTER TABLE rejects ADD COLUMN variable TEXT;
ALTER TABLE rejects ADD COLUMN ts INTEGER;
ALTER TABLE rejects ADD COLUMN kind TEXT;
