//! Runs, their rejects and job leases, in the same SQL on both backends: written once as a
//! macro expanded into each backend, the way `shared.rs` is (and asking the same of a backend).
//! The `Store` trait requires [`SharedRuns`].

use super::{NewRun, Run, RunId, StoreError};
use crate::domain::{Reject, RunStatus, Timestamp};

/// Runs, their rejects and job leases, on either backend.
#[async_trait::async_trait]
pub trait SharedRuns: Send + Sync {
    /// This handle's name in runs and leases: host, process and a random part, so two processes
    /// (or two handles in one test) never share one.
    fn instance(&self) -> &str;
    /// Starts a run owned by this handle's instance.
    async fn start_run(&self, run: &NewRun<'_>) -> Result<RunId, StoreError>;
    /// Ends a run; a job run's counts become the sums of its children's. A run marked abandoned
    /// whose process turns out to be alive is ended all the same.
    async fn finish_run(
        &self,
        run: RunId,
        status: RunStatus,
        error: Option<&str>,
        at: Timestamp,
    ) -> Result<(), StoreError>;
    /// Marks every running run of this instance alive at `at`; returns how many there are.
    async fn heartbeat(&self, at: Timestamp) -> Result<u64, StoreError>;
    /// Fails every running run whose process last said it was alive before `before` (it was
    /// killed or lost), saying so in its error; returns their ids.
    async fn abandon_stale(&self, before: Timestamp) -> Result<Vec<RunId>, StoreError>;
    /// The runs a job run started, in id order.
    async fn child_runs(&self, parent: RunId) -> Result<Vec<Run>, StoreError>;
    /// The newest finished run of `operation` (one that is not running); with `jobs_only`, only
    /// a job's own run (no location, no parent), not the runs it started.
    async fn last_run(&self, operation: &str, jobs_only: bool) -> Result<Option<Run>, StoreError>;
    /// Claims `tick` of `job` for `holder` until `until`: only if no earlier claim was for this
    /// tick or a later one, and nobody holds the job past `now`. True when claimed.
    async fn claim_lease(
        &self,
        job: &str,
        tick: Timestamp,
        holder: &str,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
    /// Extends a held lease; false when `holder` no longer holds it.
    async fn renew_lease(
        &self,
        job: &str,
        holder: &str,
        until: Timestamp,
    ) -> Result<bool, StoreError>;
    /// Lets go of a held lease (the job finished).
    async fn release_lease(&self, job: &str, holder: &str) -> Result<(), StoreError>;
    /// The most recent runs, newest first.
    async fn runs(&self, limit: u32) -> Result<Vec<Run>, StoreError>;
    /// The runs with these ids, in id order.
    async fn runs_by_id(&self, ids: &[RunId]) -> Result<Vec<Run>, StoreError>;
    /// Housekeeping: the rejects of runs finished before `rejects_before`, then the runs
    /// finished before `runs_before` that left nothing behind — no value written, changed or
    /// refused, no run of their own, no window, anomaly, forecast or model version — children
    /// before their parents. A run that wrote values stays: frames `as_of` an instant read which
    /// runs had finished by then. Returns (runs, rejects) removed.
    async fn prune_runs(
        &self,
        runs_before: Timestamp,
        rejects_before: Timestamp,
    ) -> Result<(u64, u64), StoreError>;
    /// The rejects a run recorded, oldest first.
    async fn rejects(&self, run: RunId) -> Result<Vec<Reject>, StoreError>;
}

/// The `SharedRuns` impl of `$backend`, whose sqlx database is `$db` (see `shared.rs`); it also
/// asks for an `instance: Arc<str>` field.
macro_rules! shared_runs_impl {
    ($backend:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::SharedRuns for $backend {
            fn instance(&self) -> &str {
                &self.instance
            }

            async fn start_run(
                &self,
                run: &$crate::store::NewRun<'_>,
            ) -> Result<$crate::store::RunId, $crate::store::StoreError> {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO runs (operation, location_id, dataset, source, range_start,
                         range_end, status, started_at, parent_id, instance, heartbeat_at)
                     VALUES ($1, $2, $3, $4, $5, $6, 'running', $7, $8, $9, $7) RETURNING id",
                )
                .bind(run.operation)
                .bind(run.location)
                .bind(run.dataset.map($crate::domain::Dataset::as_str))
                .bind(run.source)
                .bind(run.range.map(|r| r.start.epoch()))
                .bind(run.range.map(|r| r.end.epoch()))
                .bind(run.started_at.epoch())
                .bind(run.parent)
                .bind(&*self.instance)
                .fetch_one(&self.pool)
                .await?;
                Ok(id)
            }

            async fn finish_run(
                &self,
                run: $crate::store::RunId,
                status: $crate::domain::RunStatus,
                error: Option<&str>,
                at: $crate::domain::Timestamp,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query(
                    "UPDATE runs SET status = $1, error = $2, finished_at = $3,
                       inserted = inserted + (SELECT COALESCE(SUM(inserted), 0) FROM runs c
                         WHERE c.parent_id = runs.id),
                       updated = updated + (SELECT COALESCE(SUM(updated), 0) FROM runs c
                         WHERE c.parent_id = runs.id),
                       unchanged = unchanged + (SELECT COALESCE(SUM(unchanged), 0) FROM runs c
                         WHERE c.parent_id = runs.id),
                       rejected = rejected + (SELECT COALESCE(SUM(rejected), 0) FROM runs c
                         WHERE c.parent_id = runs.id)
                     WHERE id = $4 AND (status = 'running' OR error LIKE 'abandoned:%')",
                )
                .bind(status.as_str())
                .bind(error)
                .bind(at.epoch())
                .bind(run)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn heartbeat(
                &self,
                at: $crate::domain::Timestamp,
            ) -> Result<u64, $crate::store::StoreError> {
                let done = sqlx::query(
                    "UPDATE runs SET heartbeat_at = $1 WHERE instance = $2 AND status = 'running'",
                )
                .bind(at.epoch())
                .bind(&*self.instance)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected())
            }

            async fn abandon_stale(
                &self,
                before: $crate::domain::Timestamp,
            ) -> Result<Vec<$crate::store::RunId>, $crate::store::StoreError> {
                let ids = sqlx::query_scalar(
                    "UPDATE runs SET status = 'failed',
                       finished_at = COALESCE(heartbeat_at, started_at),
                       error = 'abandoned: its process (' || COALESCE(instance, 'unknown')
                         || ') stopped without finishing it'
                     WHERE status = 'running' AND COALESCE(heartbeat_at, started_at) < $1
                     RETURNING id",
                )
                .bind(before.epoch())
                .fetch_all(&self.pool)
                .await?;
                Ok(ids)
            }

            async fn child_runs(
                &self,
                parent: $crate::store::RunId,
            ) -> Result<Vec<$crate::store::Run>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::rows::RunRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    $crate::store::rows::run_columns!(),
                    " FROM runs WHERE parent_id = $1 ORDER BY id"
                ))
                .bind(parent)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::store::rows::run).collect()
            }

            async fn last_run(
                &self,
                operation: &str,
                jobs_only: bool,
            ) -> Result<Option<$crate::store::Run>, $crate::store::StoreError> {
                let row: Option<$crate::store::rows::RunRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    $crate::store::rows::run_columns!(),
                    " FROM runs WHERE operation = $1 AND status <> 'running'",
                    " AND ($2 = 0 OR (location_id IS NULL AND parent_id IS NULL))",
                    " ORDER BY id DESC LIMIT 1"
                ))
                .bind(operation)
                .bind(i64::from(jobs_only))
                .fetch_optional(&self.pool)
                .await?;
                row.map($crate::store::rows::run).transpose()
            }

            async fn claim_lease(
                &self,
                job: &str,
                tick: $crate::domain::Timestamp,
                holder: &str,
                until: $crate::domain::Timestamp,
                now: $crate::domain::Timestamp,
            ) -> Result<bool, $crate::store::StoreError> {
                let done = sqlx::query(
                    "INSERT INTO leases (job, tick, holder, expires_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (job) DO UPDATE SET tick = excluded.tick,
                       holder = excluded.holder, expires_at = excluded.expires_at
                     WHERE leases.tick < excluded.tick
                       AND (leases.holder IS NULL OR leases.expires_at <= $5)",
                )
                .bind(job)
                .bind(tick.epoch())
                .bind(holder)
                .bind(until.epoch())
                .bind(now.epoch())
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn renew_lease(
                &self,
                job: &str,
                holder: &str,
                until: $crate::domain::Timestamp,
            ) -> Result<bool, $crate::store::StoreError> {
                let done =
                    sqlx::query("UPDATE leases SET expires_at = $1 WHERE job = $2 AND holder = $3")
                        .bind(until.epoch())
                        .bind(job)
                        .bind(holder)
                        .execute(&self.pool)
                        .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn release_lease(
                &self,
                job: &str,
                holder: &str,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query("UPDATE leases SET holder = NULL WHERE job = $1 AND holder = $2")
                    .bind(job)
                    .bind(holder)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn runs(
                &self,
                limit: u32,
            ) -> Result<Vec<$crate::store::Run>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::rows::RunRow> = self
                    .retry(|| {
                        sqlx::query_as(concat!(
                            "SELECT ",
                            $crate::store::rows::run_columns!(),
                            " FROM runs ORDER BY id DESC LIMIT $1"
                        ))
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                    })
                    .await?;
                rows.into_iter().map($crate::store::rows::run).collect()
            }

            async fn prune_runs(
                &self,
                runs_before: $crate::domain::Timestamp,
                rejects_before: $crate::domain::Timestamp,
            ) -> Result<(u64, u64), $crate::store::StoreError> {
                let (_turn, mut tx) = self.begin_write().await?;
                let rejects = sqlx::query(
                    "DELETE FROM rejects WHERE run_id IN
                       (SELECT id FROM runs WHERE status <> 'running' AND finished_at < $1)",
                )
                .bind(rejects_before.epoch())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                let mut runs = 0;
                // Twice: a job run whose children went in the first pass goes in the second.
                for _ in 0..2 {
                    runs += sqlx::query(
                        "DELETE FROM runs WHERE id IN (
                           SELECT r.id FROM runs r
                           WHERE r.status <> 'running' AND r.finished_at < $1
                             AND r.inserted = 0 AND r.updated = 0 AND r.rejected = 0
                             AND NOT EXISTS (SELECT 1 FROM runs c WHERE c.parent_id = r.id)
                             AND NOT EXISTS (SELECT 1 FROM rejects j WHERE j.run_id = r.id)
                             AND NOT EXISTS (SELECT 1 FROM model_versions v WHERE v.run_id = r.id)
                             AND r.id NOT IN (SELECT detected_run FROM anomalies)
                             AND r.id NOT IN (SELECT run_id FROM window_metrics)
                             AND r.id NOT IN (SELECT run_id FROM forecasts))",
                    )
                    .bind(runs_before.epoch())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                }
                tx.commit().await?;
                Ok((runs, rejects))
            }

            async fn runs_by_id(
                &self,
                ids: &[$crate::store::RunId],
            ) -> Result<Vec<$crate::store::Run>, $crate::store::StoreError> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                // Every series answer asks this (when its values were written): it reads again
                // where a connection can break, as the values' own read does.
                let rows: Vec<$crate::store::rows::RunRow> = self
                    .retry(|| async {
                        let mut query = sqlx::QueryBuilder::<$db>::new(concat!(
                            "SELECT ",
                            $crate::store::rows::run_columns!(),
                            " FROM runs WHERE id IN ("
                        ));
                        let mut list = query.separated(", ");
                        for id in ids {
                            list.push_bind(*id);
                        }
                        query.push(") ORDER BY id");
                        query.build_query_as().fetch_all(&self.pool).await
                    })
                    .await?;
                rows.into_iter().map($crate::store::rows::run).collect()
            }

            async fn rejects(
                &self,
                run: $crate::store::RunId,
            ) -> Result<Vec<$crate::domain::Reject>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::rows::RejectRow> = sqlx::query_as(
                    "SELECT record, reason, variable, ts, kind FROM rejects
                     WHERE run_id = $1 ORDER BY id",
                )
                .bind(run)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map($crate::store::rows::reject).collect())
            }
        }
    };
}
pub(super) use shared_runs_impl;
