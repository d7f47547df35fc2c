-- Processing (`almanac process`): windowed metrics per series, anomalies, and how far each
-- series has been processed. `kind` is the window's length: 5min, 1hour, 1day.
CREATE TABLE window_metrics (
    series_id BIGINT  NOT NULL REFERENCES series (id),
    kind      TEXT    NOT NULL,
    start_ts  BIGINT  NOT NULL,
    end_ts    BIGINT  NOT NULL,
    count     BIGINT  NOT NULL,
    expected  BIGINT  NOT NULL,
    mean      DOUBLE PRECISION    NOT NULL,
    min       DOUBLE PRECISION    NOT NULL,
    max       DOUBLE PRECISION    NOT NULL,
    variance  DOUBLE PRECISION,
    sum       DOUBLE PRECISION,
    delta     DOUBLE PRECISION,
    last      DOUBLE PRECISION    NOT NULL,
    run_id    BIGINT  NOT NULL REFERENCES runs (id),
    PRIMARY KEY (series_id, kind, start_ts)
);
CREATE INDEX window_metrics_by_end ON window_metrics (end_ts);

-- One row per (series, instant, method); `severity` 1 medium, 2 high, 3 critical. Re-processing
-- a range replaces its unresolved anomalies; resolved ones stay as they were marked.
CREATE TABLE anomalies (
    id           BIGSERIAL PRIMARY KEY,
    series_id    BIGINT  NOT NULL REFERENCES series (id),
    ts           BIGINT  NOT NULL,
    method       TEXT    NOT NULL,
    value        DOUBLE PRECISION    NOT NULL,
    expected     DOUBLE PRECISION    NOT NULL,
    deviation    DOUBLE PRECISION    NOT NULL,
    severity     BIGINT  NOT NULL,
    detected_run BIGINT  NOT NULL REFERENCES runs (id),
    resolved_at  BIGINT,
    UNIQUE (series_id, ts, method)
);
CREATE INDEX anomalies_by_ts ON anomalies (ts);

-- Values written by runs up to `run_id` are processed (see ops::process for why a run id).
CREATE TABLE processed (
    series_id BIGINT PRIMARY KEY REFERENCES series (id),
    run_id    BIGINT  NOT NULL
);

-- A refused value's variable, instant and kind (`invalid` or `duplicate`; null for records
-- that were not one value), so data quality can count per series and day what was turned away.
ALTER TABLE rejects ADD COLUMN variable TEXT;
ALTER TABLE rejects ADD COLUMN ts BIGINT;
ALTER TABLE rejects ADD COLUMN kind TEXT;
