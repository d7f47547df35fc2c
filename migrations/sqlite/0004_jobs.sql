-- Scheduled and admin-triggered jobs. A job is itself a run (no location) whose children are the
-- runs it started; `instance` names the process that runs a run and `heartbeat_at` is the last
-- time that process said it was alive, so a run whose process died can be told from one that is
-- still going.
ALTER TABLE runs ADD COLUMN parent_id INTEGER REFERENCES runs (id);
ALTER TABLE runs ADD COLUMN instance TEXT;
ALTER TABLE runs ADD COLUMN heartbeat_at INTEGER;
CREATE INDEX runs_parent ON runs (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX runs_running ON runs (status) WHERE status = 'running';

-- One row per scheduled job: the last tick some replica claimed, who holds it and until when.
-- A tick is claimed only if it is later than the last one and nobody holds an unexpired lease,
-- so each tick runs once across replicas and a job still running is not started again.
CREATE TABLE leases (
    job        TEXT PRIMARY KEY,
    tick       INTEGER NOT NULL,
    holder     TEXT,
    expires_at INTEGER NOT NULL
);
