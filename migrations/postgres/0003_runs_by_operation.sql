-- The newest run of an operation (status, schedule) by an index, not a scan of recent runs.
CREATE INDEX runs_operation ON runs (operation, id);
