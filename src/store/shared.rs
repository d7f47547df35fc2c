//! What both backends state in the same SQL (`$n` parameters, which SQLite reads as positions
//! too), written once as a macro expanded into each backend, as `processing.rs` does for what
//! `process` keeps: locations, series, absences, rollups and reads of stored values
//! (`shared_runs.rs` does runs and leases). The `Store` trait requires [`Shared`].
//!
//! The macro asks of a backend type a `pool` field, the sqlx database it speaks (for
//! `QueryBuilder`), and two methods: `begin_write`, the transaction a write takes (SQLite's
//! first takes the process' write turn), and `retry`, which runs a read (PostgreSQL runs it
//! once more when its pooled connection turned out broken; SQLite runs it once).

use super::{Absence, AbsenceKey, DailyRollup, Extent, Series, SeriesId, SeriesKey, StoreError};
use crate::domain::{Dataset, Location, TimeRange, Timestamp};

/// Locations, series, absences, rollups and reads of stored values, on either backend.
#[async_trait::async_trait]
pub trait Shared: Send + Sync {
    /// Succeeds when the store answers a trivial query.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Records the configured locations (inserted or updated by id).
    async fn sync_locations(&self, locations: &[Location]) -> Result<(), StoreError>;
    /// The id of the series, created on first use; a different step or unit is a conflict.
    async fn ensure_series(&self, key: &SeriesKey<'_>) -> Result<SeriesId, StoreError>;
    /// Every series of a location's dataset.
    async fn series(&self, location: &str, dataset: Dataset) -> Result<Vec<Series>, StoreError>;
    /// Notes that `source` was asked for `range` of a location's dataset and did not have all of
    /// it (one more attempt if it was noted before).
    async fn record_absence(
        &self,
        absence: &AbsenceKey<'_>,
        range: TimeRange,
        at: Timestamp,
    ) -> Result<(), StoreError>;
    /// Every noted absence of a location's dataset.
    async fn absences(&self, location: &str, dataset: Dataset) -> Result<Vec<Absence>, StoreError>;
    /// Writes a series' daily rollups, replacing a stored one only by one of at least as many
    /// values: raw values leave the store only through rotation, so fewer means some of the day
    /// were dropped already (a rotation killed between dropping one UTC month's partition and
    /// the next, a local day spanning both), and the stored rollup is the whole day's.
    async fn write_rollups(&self, series: SeriesId, rows: &[DailyRollup])
    -> Result<(), StoreError>;
    /// A series' daily rollups for local days `from..=to`.
    async fn rollups(
        &self,
        series: SeriesId,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
    ) -> Result<Vec<DailyRollup>, StoreError>;
    /// Removes a series' rollups of local days before `before`; returns how many there were.
    async fn delete_rollups(
        &self,
        series: SeriesId,
        before: jiff::civil::Date,
    ) -> Result<u64, StoreError>;
    /// A counter raised by every write that changes a value of the location's dataset (0 before
    /// any): equal versions mean equal data.
    async fn version(&self, location: &str, dataset: Dataset) -> Result<i64, StoreError>;
    /// How many values a series holds in `range`.
    async fn count_present(&self, series: SeriesId, range: TimeRange) -> Result<u64, StoreError>;
    async fn last_timestamp(&self, series: SeriesId) -> Result<Option<Timestamp>, StoreError>;
    async fn extent(&self, series: &[SeriesId]) -> Result<Extent, StoreError>;
    /// How many packed blocks the store holds (see `store/block.rs`).
    async fn packed_blocks(&self) -> Result<u64, StoreError>;
}

/// A data set's version (`Shared::version`), absent before its first write.
pub(super) const VERSION: &str =
    "SELECT version FROM versions WHERE location_id = $1 AND dataset = $2";

/// The `Shared` impl of `$backend`, whose sqlx database is `$db` (see the module's doc).
macro_rules! shared_impl {
    ($backend:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::Shared for $backend {
            async fn ping(&self) -> Result<(), $crate::store::StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn sync_locations(
                &self,
                locations: &[$crate::domain::Location],
            ) -> Result<(), $crate::store::StoreError> {
                let (_turn, mut tx) = self.begin_write().await?;
                for l in locations {
                    sqlx::query(
                        "INSERT INTO locations (id, name, country, kind, latitude, longitude,
                             timezone, radius_km, enabled)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                         ON CONFLICT (id) DO UPDATE SET name = excluded.name,
                           country = excluded.country, kind = excluded.kind,
                           latitude = excluded.latitude, longitude = excluded.longitude,
                           timezone = excluded.timezone, radius_km = excluded.radius_km,
                           enabled = excluded.enabled",
                    )
                    .bind(&l.id)
                    .bind(&l.name)
                    .bind(&l.country)
                    .bind(
                        serde_json::to_value(l.kind)
                            .ok()
                            .and_then(|v| v.as_str().map(String::from)),
                    )
                    .bind(l.coordinates.latitude)
                    .bind(l.coordinates.longitude)
                    .bind(l.timezone_name())
                    .bind(l.radius_km)
                    .bind(l.enabled)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn ensure_series(
                &self,
                key: &$crate::store::SeriesKey<'_>,
            ) -> Result<$crate::store::SeriesId, $crate::store::StoreError> {
                sqlx::query(
                    "INSERT INTO series (location_id, dataset, variable, source, step_seconds, unit)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (location_id, dataset, variable, source) DO NOTHING",
                )
                .bind(key.location)
                .bind(key.dataset.as_str())
                .bind(key.variable)
                .bind(key.source)
                .bind(key.step.seconds())
                .bind(key.unit)
                .execute(&self.pool)
                .await?;
                let found: (i64, i64, String) = sqlx::query_as(
                    "SELECT id, step_seconds, unit FROM series
                     WHERE location_id = $1 AND dataset = $2 AND variable = $3 AND source = $4",
                )
                .bind(key.location)
                .bind(key.dataset.as_str())
                .bind(key.variable)
                .bind(key.source)
                .fetch_one(&self.pool)
                .await?;
                key.checked("series", found)
            }

            async fn series(
                &self,
                location: &str,
                dataset: $crate::domain::Dataset,
            ) -> Result<Vec<$crate::store::Series>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::rows::SeriesRow> = self
                    .retry(|| {
                        sqlx::query_as(
                            "SELECT id, location_id, variable, source, step_seconds, unit
                             FROM series WHERE location_id = $1 AND dataset = $2 ORDER BY id",
                        )
                        .bind(location)
                        .bind(dataset.as_str())
                        .fetch_all(&self.pool)
                    })
                    .await?;
                rows.into_iter()
                    .map(|row| $crate::store::rows::series(row, dataset))
                    .collect()
            }

            async fn record_absence(
                &self,
                absence: &$crate::store::AbsenceKey<'_>,
                range: $crate::domain::TimeRange,
                at: $crate::domain::Timestamp,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query(
                    "INSERT INTO absences (location_id, dataset, source, range_start, range_end,
                         attempts, first_seen, last_tried)
                     VALUES ($1, $2, $3, $4, $5, 1, $6, $7)
                     ON CONFLICT (location_id, dataset, source, range_start, range_end)
                     DO UPDATE SET attempts = absences.attempts + 1,
                       last_tried = excluded.last_tried",
                )
                .bind(absence.location)
                .bind(absence.dataset.as_str())
                .bind(absence.source)
                .bind(range.start.epoch())
                .bind(range.end.epoch())
                .bind(at.epoch())
                .bind(at.epoch())
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn absences(
                &self,
                location: &str,
                dataset: $crate::domain::Dataset,
            ) -> Result<Vec<$crate::store::Absence>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::rows::AbsenceRow> = sqlx::query_as(
                    "SELECT source, range_start, range_end, attempts, first_seen, last_tried
                     FROM absences WHERE location_id = $1 AND dataset = $2 ORDER BY range_start",
                )
                .bind(location)
                .bind(dataset.as_str())
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map($crate::store::rows::absence).collect())
            }

            async fn write_rollups(
                &self,
                series: $crate::store::SeriesId,
                rows: &[$crate::store::DailyRollup],
            ) -> Result<(), $crate::store::StoreError> {
                let (_turn, mut tx) = self.begin_write().await?;
                for row in rows {
                    sqlx::query(
                        "INSERT INTO rollups (series_id, day, count, mean, min, max, sum, first,
                             last)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                         ON CONFLICT (series_id, day) DO UPDATE SET count = excluded.count,
                             mean = excluded.mean, min = excluded.min, max = excluded.max,
                             sum = excluded.sum, first = excluded.first, last = excluded.last
                         WHERE excluded.count >= rollups.count",
                    )
                    .bind(series)
                    .bind(row.day.to_string())
                    .bind(row.count as i64)
                    .bind(row.mean)
                    .bind(row.min)
                    .bind(row.max)
                    .bind(row.sum)
                    .bind(row.first)
                    .bind(row.last)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn rollups(
                &self,
                series: $crate::store::SeriesId,
                from: jiff::civil::Date,
                to: jiff::civil::Date,
            ) -> Result<Vec<$crate::store::DailyRollup>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::rows::RollupRow> = self
                    .retry(|| {
                        sqlx::query_as(
                            "SELECT day, count, mean, min, max, sum, first, last FROM rollups
                             WHERE series_id = $1 AND day >= $2 AND day <= $3 ORDER BY day",
                        )
                        .bind(series)
                        .bind(from.to_string())
                        .bind(to.to_string())
                        .fetch_all(&self.pool)
                    })
                    .await?;
                rows.into_iter().map($crate::store::rows::rollup).collect()
            }

            async fn delete_rollups(
                &self,
                series: $crate::store::SeriesId,
                before: jiff::civil::Date,
            ) -> Result<u64, $crate::store::StoreError> {
                let done = sqlx::query("DELETE FROM rollups WHERE series_id = $1 AND day < $2")
                    .bind(series)
                    .bind(before.to_string())
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }

            async fn packed_blocks(&self) -> Result<u64, $crate::store::StoreError> {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM blocks")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(n as u64)
            }

            async fn version(
                &self,
                location: &str,
                dataset: $crate::domain::Dataset,
            ) -> Result<i64, $crate::store::StoreError> {
                if let Some(version) = self.version_at_once(location, dataset) {
                    return Ok(version);
                }
                let version: Option<i64> = self
                    .retry(|| {
                        sqlx::query_scalar($crate::store::shared::VERSION)
                            .bind(location)
                            .bind(dataset.as_str())
                            .fetch_optional(&self.pool)
                    })
                    .await?;
                Ok(version.unwrap_or(0))
            }

            async fn count_present(
                &self,
                series: $crate::store::SeriesId,
                range: $crate::domain::TimeRange,
            ) -> Result<u64, $crate::store::StoreError> {
                let n: i64 = self
                    .retry(|| {
                        sqlx::query_scalar(
                            "SELECT COUNT(*) FROM observations
                             WHERE series_id = $1 AND ts >= $2 AND ts < $3",
                        )
                        .bind(series)
                        .bind(range.start.epoch())
                        .bind(range.end.epoch())
                        .fetch_one(&self.pool)
                    })
                    .await?;
                Ok(n as u64)
            }

            async fn last_timestamp(
                &self,
                series: $crate::store::SeriesId,
            ) -> Result<Option<$crate::domain::Timestamp>, $crate::store::StoreError> {
                let last: Option<i64> = self
                    .retry(|| {
                        sqlx::query_scalar("SELECT MAX(ts) FROM observations WHERE series_id = $1")
                            .bind(series)
                            .fetch_one(&self.pool)
                    })
                    .await?;
                Ok(last.map($crate::domain::Timestamp::from_epoch))
            }

            async fn extent(
                &self,
                series: &[$crate::store::SeriesId],
            ) -> Result<$crate::store::Extent, $crate::store::StoreError> {
                if series.is_empty() {
                    return Ok($crate::store::Extent::default());
                }
                let mut query = sqlx::QueryBuilder::<$db>::new(
                    "SELECT MIN(ts), MAX(ts), COUNT(DISTINCT ts) FROM observations
                     WHERE series_id IN (",
                );
                let mut ids = query.separated(", ");
                for id in series {
                    ids.push_bind(*id);
                }
                query.push(")");
                let (first, last, instants): (Option<i64>, Option<i64>, i64) =
                    query.build_query_as().fetch_one(&self.pool).await?;
                Ok($crate::store::Extent {
                    first: first.map($crate::domain::Timestamp::from_epoch),
                    last: last.map($crate::domain::Timestamp::from_epoch),
                    instants: instants as u64,
                })
            }
        }
    };
}
pub(super) use shared_impl;
