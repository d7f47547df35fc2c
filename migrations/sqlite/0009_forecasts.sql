-- Weather forecasts as issued: every fetched forecast keeps its values per target instant beside
-- the earlier ones. `known_at` is when almanac stored it (what `as_of` and a lead compare with),
-- `issued_at` the provider's own issue time where it gives one (AEMET's `elaborado`), else the
-- fetch time. Kept `forecasts.retention_days` by `known_at`.
CREATE TABLE forecast_series (
    id           INTEGER PRIMARY KEY,
    location_id  TEXT NOT NULL REFERENCES locations (id),
    variable     TEXT NOT NULL,
    source       TEXT NOT NULL,
    step_seconds INTEGER NOT NULL CHECK (step_seconds > 0),
    unit         TEXT NOT NULL,
    UNIQUE (location_id, variable, source)
);

CREATE TABLE forecasts (
    series_id INTEGER NOT NULL REFERENCES forecast_series (id),
    ts        INTEGER NOT NULL,
    known_at  INTEGER NOT NULL,
    issued_at INTEGER NOT NULL,
    value     REAL NOT NULL,
    run_id    INTEGER NOT NULL,
    PRIMARY KEY (series_id, ts, known_at)
) WITHOUT ROWID;
CREATE INDEX forecasts_known ON forecasts (known_at);
