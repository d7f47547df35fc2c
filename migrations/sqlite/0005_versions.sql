-- A counter per (location, dataset), raised in the same transaction as any write that changes
-- that data set's values. Cached responses remember the version they were computed at, so an
-- answer is served from cache only while nothing under it changed, whichever process wrote.
CREATE TABLE versions (
    location_id TEXT NOT NULL,
    dataset     TEXT NOT NULL,
    version     INTEGER NOT NULL,
    PRIMARY KEY (location_id, dataset)
) WITHOUT ROWID;
