-- Forecasting models (config `[models.<id>]`): each training makes a version with its family,
-- parameters, training range, the data version it saw, its backtest metrics and its fitted state
-- (JSON). At most one champion and one shadow per model; `previous_id` is the champion a
-- promoted version replaced (what a rollback restores).
CREATE TABLE model_versions (
    id           INTEGER PRIMARY KEY,
    model_id     TEXT NOT NULL,
    version      INTEGER NOT NULL,
    family       TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('champion', 'shadow', 'retired')),
    params       TEXT NOT NULL,
    train_start  INTEGER NOT NULL,
    train_end    INTEGER NOT NULL,
    data_version INTEGER NOT NULL,
    metrics      TEXT NOT NULL,
    state        TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    status_at    INTEGER NOT NULL,
    reason       TEXT,
    previous_id  INTEGER REFERENCES model_versions (id),
    run_id       INTEGER,
    UNIQUE (model_id, version)
);
CREATE UNIQUE INDEX model_champion ON model_versions (model_id) WHERE status = 'champion';
CREATE UNIQUE INDEX model_shadow ON model_versions (model_id) WHERE status = 'shadow';

-- Each version's forecasts as issued: point and 80 %/95 % bounds per target instant.
CREATE TABLE predictions (
    version_id INTEGER NOT NULL REFERENCES model_versions (id),
    issued_at  INTEGER NOT NULL,
    ts         INTEGER NOT NULL,
    value      REAL NOT NULL,
    lower_80   REAL,
    upper_80   REAL,
    lower_95   REAL,
    upper_95   REAL,
    PRIMARY KEY (version_id, issued_at, ts)
) WITHOUT ROWID;
CREATE INDEX predictions_issued ON predictions (issued_at);
CREATE INDEX predictions_target ON predictions (version_id, ts);
