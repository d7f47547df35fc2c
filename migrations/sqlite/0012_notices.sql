-- What almanac watches for operators (`[notify]`): each topic's state between checks — observed
-- since when, the last state told and when — as JSON the store keeps and does not read, so every
-- replica tells the same once.
CREATE TABLE notices (
    topic      TEXT PRIMARY KEY,
    state      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
