//! What `process` keeps: windowed metrics, anomalies and how far each series is processed. The
//! SQL is the same on both backends (`$n` parameters, which SQLite reads as positions too), so
//! the methods are written once, as a macro expanded into each backend's inherent impl; the
//! `Store` impls forward to them.

use serde::Serialize;

use super::{RunId, SeriesId, StoreError};
use crate::domain::Timestamp;
use crate::domain::anomaly::{Anomaly, Method, Severity};
use crate::domain::windows::{Window, WindowMetrics};

/// A stored anomaly with the series it belongs to.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoredAnomaly {
    pub id: i64,
    pub series: SeriesId,
    pub location: String,
    pub dataset: String,
    pub variable: String,
    pub source: String,
    #[serde(flatten)]
    pub anomaly: Anomaly,
    pub detected_run: RunId,
    pub resolved_at: Option<Timestamp>,
}

/// Which anomalies to list.
#[derive(Clone, Debug)]
pub struct AnomalyFilter<'a> {
    pub since: Timestamp,
    pub until: Timestamp,
    pub location: Option<&'a str>,
    /// This severity and above.
    pub severity: Option<Severity>,
    pub include_resolved: bool,
    pub limit: u32,
}

pub(super) fn severity_rank(s: Severity) -> i64 {
    match s {
        Severity::Medium => 1,
        Severity::High => 2,
        Severity::Critical => 3,
    }
}

pub(super) type WindowRow = (
    String,
    i64,
    i64,
    i64,
    i64,
    f64,
    f64,
    f64,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    f64,
);

pub(super) fn window(row: WindowRow) -> Result<WindowMetrics, StoreError> {
    let (kind, start, end, count, expected, mean, min, max, variance, sum, delta, last) = row;
    Ok(WindowMetrics {
        window: Window::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("window kind `{kind}`")))?,
        start: Timestamp::from_epoch(start),
        end: Timestamp::from_epoch(end),
        count: count as u32,
        expected: expected as u32,
        mean,
        min,
        max,
        variance,
        sum,
        delta,
        last,
    })
}

#[derive(sqlx::FromRow)]
pub(super) struct AnomalyRow {
    id: i64,
    series_id: i64,
    location_id: String,
    dataset: String,
    variable: String,
    source: String,
    ts: i64,
    method: String,
    value: f64,
    expected: f64,
    deviation: f64,
    severity: i64,
    detected_run: i64,
    resolved_at: Option<i64>,
}

pub(super) fn anomaly(row: AnomalyRow) -> Result<StoredAnomaly, StoreError> {
    let severity = match row.severity {
        1 => Severity::Medium,
        2 => Severity::High,
        3 => Severity::Critical,
        other => return Err(StoreError::Corrupt(format!("anomaly severity {other}"))),
    };
    Ok(StoredAnomaly {
        id: row.id,
        series: row.series_id,
        location: row.location_id,
        dataset: row.dataset,
        variable: row.variable,
        source: row.source,
        anomaly: Anomaly {
            ts: Timestamp::from_epoch(row.ts),
            value: row.value,
            expected: row.expected,
            deviation: row.deviation,
            method: Method::parse(&row.method)
                .ok_or_else(|| StoreError::Corrupt(format!("anomaly method `{}`", row.method)))?,
            severity,
        },
        detected_run: row.detected_run,
        resolved_at: row.resolved_at.map(Timestamp::from_epoch),
    })
}

/// What `process` stores and reads, on either backend.
#[async_trait::async_trait]
pub trait Processing: Send + Sync {
    /// The newest run whose writes are all committed: one before the oldest run still running
    /// (other than `exclude`, the caller's own), or the newest run when none is.
    async fn process_horizon(&self, exclude: RunId) -> Result<RunId, StoreError>;
    /// The earliest instant of a series written or changed by a run after `after`.
    async fn changed_since(
        &self,
        series: SeriesId,
        after: RunId,
    ) -> Result<Option<Timestamp>, StoreError>;
    /// The run up to which a series' writes are processed.
    async fn processed(&self, series: SeriesId) -> Result<Option<RunId>, StoreError>;
    async fn set_processed(&self, series: SeriesId, upto: RunId) -> Result<(), StoreError>;
    /// Writes (or replaces) windowed metrics of a series; returns how many.
    async fn write_windows(
        &self,
        series: SeriesId,
        run: RunId,
        rows: &[WindowMetrics],
    ) -> Result<u64, StoreError>;
    /// A series' windows of one length starting in `range`, by start.
    async fn windows(
        &self,
        series: SeriesId,
        window: Window,
        range: crate::domain::TimeRange,
    ) -> Result<Vec<WindowMetrics>, StoreError>;
    /// Removes windows ending at or before `before`.
    async fn purge_windows(&self, before: Timestamp) -> Result<u64, StoreError>;
    /// Replaces a series' unresolved anomalies from `from` on with `found` (resolved ones stay
    /// as marked); returns how many were new.
    async fn replace_anomalies(
        &self,
        series: SeriesId,
        run: RunId,
        from: Timestamp,
        found: &[Anomaly],
    ) -> Result<u64, StoreError>;
    /// Anomalies matching `filter`, newest first.
    async fn anomalies(&self, filter: &AnomalyFilter<'_>)
    -> Result<Vec<StoredAnomaly>, StoreError>;
    /// Marks an anomaly resolved; false when there is no such unresolved anomaly.
    async fn resolve_anomaly(&self, id: i64, at: Timestamp) -> Result<bool, StoreError>;
    /// Removes anomalies resolved before `resolved_before`.
    async fn purge_anomalies(&self, resolved_before: Timestamp) -> Result<u64, StoreError>;
    /// The instants of a series' values refused at ingestion in `range` (by the runs that loaded
    /// its location, dataset and source), once per instant and kind however often re-imported.
    async fn refused(
        &self,
        series: &super::Series,
        range: crate::domain::TimeRange,
    ) -> Result<Vec<(Timestamp, crate::domain::RefusedKind)>, StoreError>;
    /// Adds rows a derived computation wrote to a run's `inserted` count.
    async fn count_derived(&self, run: RunId, rows: u64) -> Result<(), StoreError>;
}

/// The `Processing` impl of a backend type with a `pool` field: the SQL is the same on both.
macro_rules! processing_impl {
    ($backend:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::Processing for $backend {
            async fn process_horizon(
                &self,
                exclude: $crate::store::RunId,
            ) -> Result<$crate::store::RunId, $crate::store::StoreError> {
                let running: Option<i64> = sqlx::query_scalar(
                    "SELECT MIN(id) FROM runs WHERE status = 'running' AND id <> $1",
                )
                .bind(exclude)
                .fetch_one(&self.pool)
                .await?;
                let last: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM runs")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(match running {
                    Some(id) => id - 1,
                    None => last.unwrap_or(0),
                })
            }

            async fn changed_since(
                &self,
                series: $crate::store::SeriesId,
                after: $crate::store::RunId,
            ) -> Result<Option<$crate::domain::Timestamp>, $crate::store::StoreError> {
                let first: Option<i64> = sqlx::query_scalar(
                    "SELECT MIN(ts) FROM observations WHERE series_id = $1 AND updated_run > $2",
                )
                .bind(series)
                .bind(after)
                .fetch_one(&self.pool)
                .await?;
                Ok(first.map($crate::domain::Timestamp::from_epoch))
            }

            async fn processed(
                &self,
                series: $crate::store::SeriesId,
            ) -> Result<Option<$crate::store::RunId>, $crate::store::StoreError> {
                Ok(
                    sqlx::query_scalar("SELECT run_id FROM processed WHERE series_id = $1")
                        .bind(series)
                        .fetch_optional(&self.pool)
                        .await?,
                )
            }

            async fn set_processed(
                &self,
                series: $crate::store::SeriesId,
                upto: $crate::store::RunId,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query(
                    "INSERT INTO processed (series_id, run_id) VALUES ($1, $2)
                     ON CONFLICT (series_id) DO UPDATE SET run_id = excluded.run_id",
                )
                .bind(series)
                .bind(upto)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn write_windows(
                &self,
                series: $crate::store::SeriesId,
                run: $crate::store::RunId,
                rows: &[$crate::domain::windows::WindowMetrics],
            ) -> Result<u64, $crate::store::StoreError> {
                let (_turn, mut tx) = self.begin_write().await?;
                for r in rows {
                    sqlx::query(
                        "INSERT INTO window_metrics (series_id, kind, start_ts, end_ts, count,
                             expected, mean, min, max, variance, sum, delta, last, run_id)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                         ON CONFLICT (series_id, kind, start_ts) DO UPDATE SET
                             end_ts = excluded.end_ts, count = excluded.count,
                             expected = excluded.expected, mean = excluded.mean,
                             min = excluded.min, max = excluded.max,
                             variance = excluded.variance, sum = excluded.sum,
                             delta = excluded.delta, last = excluded.last,
                             run_id = excluded.run_id",
                    )
                    .bind(series)
                    .bind(r.window.as_str())
                    .bind(r.start.epoch())
                    .bind(r.end.epoch())
                    .bind(i64::from(r.count))
                    .bind(i64::from(r.expected))
                    .bind(r.mean)
                    .bind(r.min)
                    .bind(r.max)
                    .bind(r.variance)
                    .bind(r.sum)
                    .bind(r.delta)
                    .bind(r.last)
                    .bind(run)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(rows.len() as u64)
            }

            async fn windows(
                &self,
                series: $crate::store::SeriesId,
                window: $crate::domain::windows::Window,
                range: $crate::domain::TimeRange,
            ) -> Result<Vec<$crate::domain::windows::WindowMetrics>, $crate::store::StoreError>
            {
                let rows: Vec<$crate::store::processing::WindowRow> = sqlx::query_as(
                    "SELECT kind, start_ts, end_ts, count, expected, mean, min, max, variance,
                         sum, delta, last
                     FROM window_metrics
                     WHERE series_id = $1 AND kind = $2 AND start_ts >= $3 AND start_ts < $4
                     ORDER BY start_ts",
                )
                .bind(series)
                .bind(window.as_str())
                .bind(range.start.epoch())
                .bind(range.end.epoch())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map($crate::store::processing::window)
                    .collect()
            }

            async fn purge_windows(
                &self,
                before: $crate::domain::Timestamp,
            ) -> Result<u64, $crate::store::StoreError> {
                let done = sqlx::query("DELETE FROM window_metrics WHERE end_ts <= $1")
                    .bind(before.epoch())
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }

            async fn replace_anomalies(
                &self,
                series: $crate::store::SeriesId,
                run: $crate::store::RunId,
                from: $crate::domain::Timestamp,
                found: &[$crate::domain::anomaly::Anomaly],
            ) -> Result<u64, $crate::store::StoreError> {
                let (_turn, mut tx) = self.begin_write().await?;
                sqlx::query(
                    "DELETE FROM anomalies
                     WHERE series_id = $1 AND ts >= $2 AND resolved_at IS NULL",
                )
                .bind(series)
                .bind(from.epoch())
                .execute(&mut *tx)
                .await?;
                let mut inserted = 0;
                for a in found {
                    let done = sqlx::query(
                        "INSERT INTO anomalies (series_id, ts, method, value, expected,
                             deviation, severity, detected_run)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                         ON CONFLICT (series_id, ts, method) DO NOTHING",
                    )
                    .bind(series)
                    .bind(a.ts.epoch())
                    .bind(a.method.as_str())
                    .bind(a.value)
                    .bind(a.expected)
                    .bind(a.deviation)
                    .bind($crate::store::processing::severity_rank(a.severity))
                    .bind(run)
                    .execute(&mut *tx)
                    .await?;
                    inserted += done.rows_affected();
                }
                tx.commit().await?;
                Ok(inserted)
            }

            async fn anomalies(
                &self,
                filter: &$crate::store::processing::AnomalyFilter<'_>,
            ) -> Result<Vec<$crate::store::processing::StoredAnomaly>, $crate::store::StoreError>
            {
                let rows: Vec<$crate::store::processing::AnomalyRow> = sqlx::query_as(
                    "SELECT a.id, a.series_id, s.location_id, s.dataset, s.variable, s.source,
                         a.ts, a.method, a.value, a.expected, a.deviation, a.severity,
                         a.detected_run, a.resolved_at
                     FROM anomalies a JOIN series s ON s.id = a.series_id
                     WHERE a.ts >= $1 AND a.ts < $2
                       AND (CAST($3 AS TEXT) IS NULL OR s.location_id = $3)
                       AND a.severity >= $4
                       AND ($5 OR a.resolved_at IS NULL)
                     ORDER BY a.ts DESC, a.id DESC
                     LIMIT $6",
                )
                .bind(filter.since.epoch())
                .bind(filter.until.epoch())
                .bind(filter.location)
                .bind(
                    filter
                        .severity
                        .map($crate::store::processing::severity_rank)
                        .unwrap_or(1),
                )
                .bind(filter.include_resolved)
                .bind(i64::from(filter.limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map($crate::store::processing::anomaly)
                    .collect()
            }

            async fn resolve_anomaly(
                &self,
                id: i64,
                at: $crate::domain::Timestamp,
            ) -> Result<bool, $crate::store::StoreError> {
                let done = sqlx::query(
                    "UPDATE anomalies SET resolved_at = $1 WHERE id = $2 AND resolved_at IS NULL",
                )
                .bind(at.epoch())
                .bind(id)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn refused(
                &self,
                series: &$crate::store::Series,
                range: $crate::domain::TimeRange,
            ) -> Result<
                Vec<($crate::domain::Timestamp, $crate::domain::RefusedKind)>,
                $crate::store::StoreError,
            > {
                let found: Vec<(i64, String)> = sqlx::query_as(
                    "SELECT DISTINCT j.ts, j.kind FROM rejects j JOIN runs r ON r.id = j.run_id
                     WHERE r.location_id = $1 AND r.dataset = $2 AND r.source = $3
                       AND j.variable = $4 AND j.ts >= $5 AND j.ts < $6
                       AND j.kind IS NOT NULL
                     ORDER BY j.ts, j.kind",
                )
                .bind(&series.location)
                .bind(series.dataset.as_str())
                .bind(&series.source)
                .bind(&series.variable)
                .bind(range.start.epoch())
                .bind(range.end.epoch())
                .fetch_all(&self.pool)
                .await?;
                Ok(found
                    .into_iter()
                    .filter_map(|(ts, kind)| {
                        Some((
                            $crate::domain::Timestamp::from_epoch(ts),
                            $crate::domain::RefusedKind::parse(&kind)?,
                        ))
                    })
                    .collect())
            }

            async fn count_derived(
                &self,
                run: $crate::store::RunId,
                rows: u64,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query("UPDATE runs SET inserted = inserted + $1 WHERE id = $2")
                    .bind(rows as i64)
                    .bind(run)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn purge_anomalies(
                &self,
                resolved_before: $crate::domain::Timestamp,
            ) -> Result<u64, $crate::store::StoreError> {
                let done = sqlx::query("DELETE FROM anomalies WHERE resolved_at < $1")
                    .bind(resolved_before.epoch())
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }
        }
    };
}
pub(super) use processing_impl;
