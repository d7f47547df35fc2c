-- What almanac watches for operators (the SQLite migration 0012; `[notify]`): each topic's state
-- between checks, as JSON the store keeps and does not read, so every replica tells the same once.
CREATE TABLE notices (
    topic      TEXT PRIMARY KEY,
    state      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
