//! Weather forecasts as issued: each fetched forecast is kept whole beside the earlier ones, so a
//! reader can ask what was forecast for an hour as known at any instant (`known_by`), or at least
//! some lead before the hour. The SQL is the same on both backends, written once as a macro like
//! `shared.rs`; the macro also gives each backend `put_rejects`, the refused records' insert
//! every write path shares.

use super::{Series, SeriesId, SeriesKey, StoreError};
use crate::domain::{Counts, Reject, TimeRange, Timestamp};

/// One forecast value to write: the series (see [`Forecasts::ensure_forecast_series`]), the
/// instant it is for, the value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ForecastRow {
    pub series: SeriesId,
    pub ts: Timestamp,
    pub value: f64,
}

/// When an issue was known to almanac (stored) and when its provider issued it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IssueTimes {
    pub known_at: Timestamp,
    pub issued_at: Timestamp,
}

/// A stored forecast value and the issue it came from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ForecastPoint {
    pub ts: Timestamp,
    pub value: f64,
    pub issue: IssueTimes,
}

/// Forecast series and their issues, on either backend.
#[async_trait::async_trait]
pub trait Forecasts: Send + Sync {
    /// The id of a forecast series (its `dataset` is the dataset forecast), created on first use;
    /// a different step or unit is a conflict.
    async fn ensure_forecast_series(&self, key: &SeriesKey<'_>) -> Result<SeriesId, StoreError>;
    /// Every forecast series of a location.
    async fn forecast_series(&self, location: &str) -> Result<Vec<Series>, StoreError>;
    /// Stores one issue's values and refused records and adds their counts to the run, in one
    /// transaction. Storing the same issue again (same series, instant and `known_at`) replaces
    /// its values.
    async fn write_forecast(
        &self,
        run: super::RunId,
        issue: IssueTimes,
        rows: &[ForecastRow],
        rejects: &[Reject],
    ) -> Result<Counts, StoreError>;
    /// Per instant of `range`, the value of the latest issue known by `known_by` and at least
    /// `lead_seconds` before the instant; instants no such issue covers are absent.
    async fn read_forecast(
        &self,
        series: SeriesId,
        range: TimeRange,
        known_by: Timestamp,
        lead_seconds: i64,
    ) -> Result<Vec<ForecastPoint>, StoreError>;
    /// Removes every issue known before `before`; returns how many values went.
    async fn drop_forecasts_before(&self, before: Timestamp) -> Result<u64, StoreError>;
}

/// The `Forecasts` impl of `$backend` (sqlx database `$db`, `$per_statement` rows of six values
/// at most per statement), and its `put_rejects`.
macro_rules! forecasts_impl {
    ($backend:ty, $db:ty, $per_statement:expr) => {
        impl $backend {
            /// Inserts refused records under `run` in an open transaction.
            pub(super) async fn put_rejects(
                tx: &mut sqlx::Transaction<'static, $db>,
                run: $crate::store::RunId,
                rejects: &[$crate::domain::Reject],
            ) -> Result<(), $crate::store::StoreError> {
                for batch in rejects.chunks($per_statement) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO rejects (run_id, record, reason, variable, ts, kind) ",
                    );
                    insert.push_values(batch, |mut b, r| {
                        b.push_bind(run)
                            .push_bind(&r.record)
                            .push_bind(&r.reason)
                            .push_bind(r.value.as_ref().map(|v| v.variable.clone()))
                            .push_bind(r.value.as_ref().map(|v| v.ts.epoch()))
                            .push_bind(r.value.as_ref().map(|v| v.kind.as_str()));
                    });
                    insert.build().execute(&mut **tx).await?;
                }
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::Forecasts for $backend {
            async fn ensure_forecast_series(
                &self,
                key: &$crate::store::SeriesKey<'_>,
            ) -> Result<$crate::store::SeriesId, $crate::store::StoreError> {
                sqlx::query(
                    "INSERT INTO forecast_series (location_id, variable, source, step_seconds, unit)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (location_id, variable, source) DO NOTHING",
                )
                .bind(key.location)
                .bind(key.variable)
                .bind(key.source)
                .bind(key.step.seconds())
                .bind(key.unit)
                .execute(&self.pool)
                .await?;
                let found: (i64, i64, String) = sqlx::query_as(
                    "SELECT id, step_seconds, unit FROM forecast_series
                     WHERE location_id = $1 AND variable = $2 AND source = $3",
                )
                .bind(key.location)
                .bind(key.variable)
                .bind(key.source)
                .fetch_one(&self.pool)
                .await?;
                key.checked("forecast series", found)
            }

            async fn forecast_series(
                &self,
                location: &str,
            ) -> Result<Vec<$crate::store::Series>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::rows::SeriesRow> = self
                    .retry(|| {
                        sqlx::query_as(
                            "SELECT id, location_id, variable, source, step_seconds, unit
                             FROM forecast_series WHERE location_id = $1 ORDER BY id",
                        )
                        .bind(location)
                        .fetch_all(&self.pool)
                    })
                    .await?;
                rows.into_iter()
                    .map(|row| $crate::store::rows::series(row, $crate::domain::Dataset::Weather))
                    .collect()
            }

            async fn write_forecast(
                &self,
                run: $crate::store::RunId,
                issue: $crate::store::IssueTimes,
                rows: &[$crate::store::ForecastRow],
                rejects: &[$crate::domain::Reject],
            ) -> Result<$crate::domain::Counts, $crate::store::StoreError> {
                let (_turn, mut tx) = self.begin_write().await?;
                let mut written = 0;
                for batch in rows.chunks($per_statement) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO forecasts (series_id, ts, known_at, issued_at, value, run_id) ",
                    );
                    insert.push_values(batch, |mut b, r| {
                        b.push_bind(r.series)
                            .push_bind(r.ts.epoch())
                            .push_bind(issue.known_at.epoch())
                            .push_bind(issue.issued_at.epoch())
                            .push_bind(r.value)
                            .push_bind(run);
                    });
                    insert.push(
                        " ON CONFLICT (series_id, ts, known_at) DO UPDATE SET
                          issued_at = excluded.issued_at, value = excluded.value,
                          run_id = excluded.run_id",
                    );
                    written += insert.build().execute(&mut *tx).await?.rows_affected();
                }
                Self::put_rejects(&mut tx, run, rejects).await?;
                let counts = $crate::domain::Counts {
                    inserted: written,
                    rejected: rejects.len() as u64,
                    ..Default::default()
                };
                sqlx::query(
                    "UPDATE runs SET inserted = inserted + $1, rejected = rejected + $2
                     WHERE id = $3",
                )
                .bind(counts.inserted as i64)
                .bind(counts.rejected as i64)
                .bind(run)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(counts)
            }

            async fn read_forecast(
                &self,
                series: $crate::store::SeriesId,
                range: $crate::domain::TimeRange,
                known_by: $crate::domain::Timestamp,
                lead_seconds: i64,
            ) -> Result<Vec<$crate::store::ForecastPoint>, $crate::store::StoreError> {
                // The latest eligible issue per instant, found in the primary key's order
                // (series, instant, known_at), then its value.
                let rows: Vec<(i64, f64, i64, i64)> = self
                    .retry(|| {
                        sqlx::query_as(
                            "WITH latest AS (
                                 SELECT ts, MAX(known_at) AS known_at FROM forecasts
                                 WHERE series_id = $1 AND ts >= $2 AND ts < $3
                                   AND known_at <= $4 AND known_at <= ts - $5
                                 GROUP BY ts)
                             SELECT f.ts, f.value, f.known_at, f.issued_at
                             FROM latest l JOIN forecasts f
                               ON f.series_id = $1 AND f.ts = l.ts AND f.known_at = l.known_at
                             ORDER BY f.ts",
                        )
                        .bind(series)
                        .bind(range.start.epoch())
                        .bind(range.end.epoch())
                        .bind(known_by.epoch())
                        .bind(lead_seconds)
                        .fetch_all(&self.pool)
                    })
                    .await?;
                Ok(rows
                    .into_iter()
                    .map(|(ts, value, known_at, issued_at)| $crate::store::ForecastPoint {
                        ts: $crate::domain::Timestamp::from_epoch(ts),
                        value,
                        issue: $crate::store::IssueTimes {
                            known_at: $crate::domain::Timestamp::from_epoch(known_at),
                            issued_at: $crate::domain::Timestamp::from_epoch(issued_at),
                        },
                    })
                    .collect())
            }

            async fn drop_forecasts_before(
                &self,
                before: $crate::domain::Timestamp,
            ) -> Result<u64, $crate::store::StoreError> {
                let (_turn, mut tx) = self.begin_write().await?;
                let done = sqlx::query("DELETE FROM forecasts WHERE known_at < $1")
                    .bind(before.epoch())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(done.rows_affected())
            }
        }
    };
}
pub(super) use forecasts_impl;
