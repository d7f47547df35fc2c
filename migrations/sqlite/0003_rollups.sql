-- Daily rollups of raw values, written by rotation before raw values leave the window and kept
-- longer than them. `day` is the location's local calendar date (YYYY-MM-DD).
CREATE TABLE rollups (
    series_id INTEGER NOT NULL,
    day       TEXT NOT NULL,
    count     INTEGER NOT NULL,
    mean      REAL NOT NULL,
    min       REAL NOT NULL,
    max       REAL NOT NULL,
    sum       REAL NOT NULL,
    first     REAL NOT NULL,
    last      REAL NOT NULL,
    PRIMARY KEY (series_id, day)
) WITHOUT ROWID;
