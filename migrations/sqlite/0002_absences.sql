-- Ranges a source was asked for and did not have: backfill waits before asking again, longer
-- after each attempt, instead of requesting them on every run.
CREATE TABLE absences (
    location_id TEXT NOT NULL,
    dataset     TEXT NOT NULL,
    source      TEXT NOT NULL,
    range_start INTEGER NOT NULL,
    range_end   INTEGER NOT NULL,
    attempts    INTEGER NOT NULL,
    first_seen  INTEGER NOT NULL,
    last_tried  INTEGER NOT NULL,
    PRIMARY KEY (location_id, dataset, source, range_start, range_end)
);
