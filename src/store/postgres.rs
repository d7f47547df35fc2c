//! The production store: PostgreSQL, behind the same [`Store`] trait and conformance suite as
//! SQLite. Observations are partitioned by UTC calendar month of `ts`; a write creates the
//! partitions its rows need first (under an advisory lock, so concurrent writers do not race).
//! Migrations run at connect; sqlx's PostgreSQL migrator holds an advisory lock meanwhile, so
//! replicas starting together migrate once.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::Postgres as Db;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgSslMode};

use super::block;
use super::pg_blocks::{self, Packer};
use super::{Point, Row, RunId, SeriesId, Store, StoreError};
use crate::domain::{Counts, Reject, TimeRange, Timestamp};

/// Rows per multi-row INSERT: 4 parameters each, under PostgreSQL's 65 535-parameter limit.
const ROWS_PER_STATEMENT: usize = 8_000;

#[derive(Clone)]
pub struct Postgres {
    pool: PgPool,
    instance: std::sync::Arc<str>,
    /// Months whose partition this handle knows to exist (a partition is never dropped while
    /// a handle writes to it).
    partitions: std::sync::Arc<std::sync::Mutex<std::collections::BTreeSet<(i16, i8)>>>,
    /// Packs the blocks reads find without a packed copy, on the primary (`pg_blocks.rs`).
    packer: std::sync::Arc<Packer>,
}

impl Postgres {
    /// Starts a transaction that writes. PostgreSQL locks rows, not the database, so there is
    /// no turn to take (the unit is SQLite's write turn, see `Sqlite::begin_write`).
    pub(super) async fn begin_write(
        &self,
    ) -> Result<((), sqlx::Transaction<'static, sqlx::Postgres>), StoreError> {
        Ok(((), self.pool.begin().await?))
    }

    /// Runs a read again, once, when its connection turned out broken (the server restarted, or
    /// terminated that connection, since the pool last used it): the pool hands out a fresh one.
    pub(super) async fn retry<T, F, Fut>(&self, read: F) -> Result<T, sqlx::Error>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
    {
        match read().await {
            Err(error) if super::broken_connection(&error) => {
                tracing::debug!(%error, "a pooled connection was broken; reading again on another");
                read().await
            }
            done => done,
        }
    }

    /// A data set's version without a round trip: PostgreSQL has none.
    pub(super) fn version_at_once(
        &self,
        _location: &str,
        _dataset: crate::domain::Dataset,
    ) -> Option<i64> {
        None
    }

    /// Connects to `url` and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_verified(url, None).await
    }

    /// Connects to `url`, its certificate checked against `ca_file` when given (`verify-full`
    /// unless the URL names another `sslmode`), and applies pending migrations.
    pub async fn connect_verified(url: &str, ca_file: Option<&Path>) -> Result<Self, StoreError> {
        let options = connect_options(url, ca_file)?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(Self {
            packer: Packer::new(pool.clone()),
            pool,
            instance: super::instance_name().into(),
            partitions: Default::default(),
        })
    }

    /// A read-only handle on a streaming replica at `url`: no migrations (the primary's reach
    /// it by replication), connections made when first needed, so a replica down at start
    /// delays nothing. Its lag is read by [`Postgres::replica_lag`]. Blocks its reads find
    /// unpacked are packed on `primary`.
    pub fn replica(
        url: &str,
        ca_file: Option<&Path>,
        primary: &Postgres,
    ) -> Result<Self, StoreError> {
        let options = connect_options(url, ca_file)?;
        // A replica that hangs must not hold a request (and its computing turn) for long: a
        // statement over 10 s fails, and the request runs again on the primary.
        let options = options.options([("statement_timeout", "10s")]);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(2))
            .connect_lazy_with(options);
        Ok(Self {
            packer: primary.packer.clone(),
            pool,
            instance: super::instance_name().into(),
            partitions: Default::default(),
        })
    }

    /// How far a replica's data are behind its primary, seconds: 0 when it has replayed all it
    /// received, else the time since the last transaction it replayed committed; 0 for a server
    /// that is not a replica at all (a primary named as a read URL: as fresh as can be). `None`
    /// for a replica not streaming from its primary: whatever it replayed, it may be falling
    /// behind without knowing it.
    pub async fn replica_lag(&self) -> Result<Option<f64>, StoreError> {
        // Without pg_read_all_stats a role sees the receiver's row but not its status.
        let lag: Option<f64> = sqlx::query_scalar(
            "SELECT CASE
                 WHEN NOT pg_is_in_recovery() THEN 0::float8
                 WHEN NOT EXISTS (SELECT 1 FROM pg_stat_wal_receiver
                                  WHERE COALESCE(status, 'streaming') = 'streaming') THEN NULL
                 WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0::float8
                 ELSE GREATEST(COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0), 0)::float8
             END",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(lag)
    }

    /// Creates the monthly partitions of `observations` that rows at `instants` fall in and this
    /// handle does not know of; returns them (to be remembered once the transaction commits).
    async fn ensure_partitions(
        &self,
        tx: &mut sqlx::Transaction<'_, Db>,
        instants: impl Iterator<Item = Timestamp>,
    ) -> Result<Vec<(i16, i8)>, StoreError> {
        let mut months = std::collections::BTreeSet::new();
        for ts in instants {
            let date = ts.utc_date();
            months.insert((date.year(), date.month()));
        }
        if let Ok(known) = self.partitions.lock() {
            months.retain(|m| !known.contains(m));
        }
        if months.is_empty() {
            return Ok(Vec::new());
        }
        // One writer at a time creates partitions; IF NOT EXISTS alone races.
        sqlx::query("SELECT pg_advisory_xact_lock(7283190451)")
            .execute(&mut **tx)
            .await?;
        let created: Vec<(i16, i8)> = months.iter().copied().collect();
        for (year, month) in months {
            let (start, end) = month_bounds(year, month)?;
            // Only numbers go into this statement (DDL takes no parameters).
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "CREATE TABLE IF NOT EXISTS observations_{year:04}_{month:02} PARTITION OF observations \
                 FOR VALUES FROM ({}) TO ({})",
                start.epoch(),
                end.epoch()
            )))
            .execute(&mut **tx)
            .await?;
        }
        Ok(created)
    }
}

impl Postgres {
    /// [`Store::write_chunk`], first loads through `COPY` when `copy` is set.
    async fn write_chunk_once(
        &self,
        run: RunId,
        rows: &[Row],
        rejects: &[Reject],
        copy: bool,
    ) -> Result<Counts, StoreError> {
        let mut tx = self.pool.begin().await?;
        // The last of equal (series, instant) wins, as in SQLite's INSERT OR REPLACE (and one
        // statement may not touch a row twice).
        let distinct: BTreeMap<(SeriesId, i64), &Row> =
            rows.iter().map(|r| ((r.series, r.ts.epoch()), r)).collect();
        let rows: Vec<&Row> = distinct.into_values().collect();
        // The distinct series (`= ANY` probes an index once per element).
        let mut ids: Vec<i64> = rows.iter().map(|r| r.series).collect();
        ids.sort_unstable();
        ids.dedup();
        // Before any table lock (creating a partition locks `observations` whole): a packer
        // holding a series' lock may be waiting for one (see `pg_blocks.rs`).
        pg_blocks::lock_series(&mut tx, &ids).await?;
        let created = self
            .ensure_partitions(&mut tx, rows.iter().map(|r| r.ts))
            .await?;
        let copied = if copy {
            self.copy_if_fresh(&mut tx, run, &rows, &ids).await?
        } else {
            None
        };
        // The rows go as four arrays; every CTE sees the table as it was before the upsert, so
        // `existing` tells new, changed and unchanged rows apart in the same statement. The
        // upsert itself compares with the latest committed rows (a concurrent writer's, which
        // the counts' snapshot may not see): how many it wrote says whether anything changed.
        let (total, existing, changed, wrote): (i64, i64, i64, i64) = match copied {
            Some(n) => (n, 0, 0, n),
            None => {
                let series: Vec<i64> = rows.iter().map(|r| r.series).collect();
                let instants: Vec<i64> = rows.iter().map(|r| r.ts.epoch()).collect();
                let values: Vec<f64> = rows.iter().map(|r| r.value).collect();
                let flags: Vec<i64> = rows.iter().map(|r| r.flag.code()).collect();
                sqlx::query_as(
            "WITH input AS (
                 SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::DOUBLE PRECISION[], $4::BIGINT[])
                     AS t (series_id, ts, value, flag)
             ), existing AS (
                 SELECT i.value, i.flag, o.value AS old_value, o.flag AS old_flag
                 FROM input i JOIN observations o ON o.series_id = i.series_id AND o.ts = i.ts
             ), upsert AS (
                 INSERT INTO observations (series_id, ts, value, flag, created_run, updated_run)
                 SELECT series_id, ts, value, flag, $5, $5 FROM input
                 ON CONFLICT (series_id, ts) DO UPDATE SET value = excluded.value, flag = excluded.flag,
                   updated_run = excluded.updated_run
                 WHERE observations.value IS DISTINCT FROM excluded.value
                    OR observations.flag IS DISTINCT FROM excluded.flag
                 RETURNING 1
             )
             SELECT (SELECT COUNT(*) FROM input), (SELECT COUNT(*) FROM existing),
                    (SELECT COUNT(*) FROM existing
                     WHERE old_value IS DISTINCT FROM value OR old_flag IS DISTINCT FROM flag),
                    (SELECT COUNT(*) FROM upsert)",
        )
        .bind(&series)
        .bind(&instants)
        .bind(&values)
        .bind(&flags)
        .bind(run)
        .fetch_one(&mut *tx)
        .await?
            }
        };
        Self::put_rejects(&mut tx, run, rejects).await?;
        let counts = Counts {
            inserted: (total - existing) as u64,
            updated: changed as u64,
            unchanged: (existing - changed) as u64,
            rejected: rejects.len() as u64,
        };
        if counts.inserted + counts.updated > 0 || wrote > 0 {
            raise_versions(&mut tx, &ids).await?;
            let spans = block::spans(rows.iter().map(|r| (r.series, r.ts.epoch())));
            pg_blocks::forget(&mut tx, &spans).await?;
        }
        sqlx::query(
            "UPDATE runs SET inserted = inserted + $1, updated = updated + $2, unchanged = unchanged + $3,
             rejected = rejected + $4 WHERE id = $5",
        )
        .bind(counts.inserted as i64)
        .bind(counts.updated as i64)
        .bind(counts.unchanged as i64)
        .bind(counts.rejected as i64)
        .bind(run)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if let Ok(mut known) = self.partitions.lock() {
            known.extend(created);
        }
        Ok(counts)
    }

    /// A first load goes in with `COPY`: when none of the chunk's series holds a value between
    /// its first and last instant, the rows are copied and all count as inserted. Returns their
    /// number, or `None` when some are already stored and the counting upsert must do it. A
    /// concurrent writer storing some meanwhile makes the copy fail on the key; the caller then
    /// writes the chunk again, without this path.
    async fn copy_if_fresh(
        &self,
        tx: &mut sqlx::Transaction<'_, Db>,
        run: RunId,
        rows: &[&Row],
        ids: &[i64],
    ) -> Result<Option<i64>, StoreError> {
        let (Some(first), Some(last)) = (
            rows.iter().map(|r| r.ts).min(),
            rows.iter().map(|r| r.ts).max(),
        ) else {
            return Ok(None);
        };
        let stored: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM observations
                            WHERE series_id = ANY($1) AND ts >= $2 AND ts <= $3)",
        )
        .bind(ids)
        .bind(first.epoch())
        .bind(last.epoch())
        .fetch_one(&mut **tx)
        .await?;
        if stored {
            return Ok(None);
        }
        // COPY's binary format: a header, then per row the field count and each field as its
        // length and big-endian bytes, then -1.
        let mut data = Vec::with_capacity(19 + rows.len() * 74 + 2);
        data.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        data.extend_from_slice(&0i32.to_be_bytes());
        data.extend_from_slice(&0i32.to_be_bytes());
        for r in rows {
            data.extend_from_slice(&6i16.to_be_bytes());
            for field in [
                r.series.to_be_bytes(),
                r.ts.epoch().to_be_bytes(),
                r.value.to_be_bytes(),
                r.flag.code().to_be_bytes(),
                run.to_be_bytes(),
                run.to_be_bytes(),
            ] {
                data.extend_from_slice(&8i32.to_be_bytes());
                data.extend_from_slice(&field);
            }
        }
        data.extend_from_slice(&(-1i16).to_be_bytes());
        let mut copy = tx
            .copy_in_raw(
                "COPY observations (series_id, ts, value, flag, created_run, updated_run) \
                 FROM STDIN (FORMAT binary)",
            )
            .await?;
        copy.send(data).await?;
        Ok(Some(copy.finish().await? as i64))
    }

    /// The months whose partition exists and ends at or before `before`, oldest first.
    async fn partitions_before(&self, before: Timestamp) -> Result<Vec<(i16, i8)>, StoreError> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT c.relname::TEXT FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'observations'::regclass ORDER BY 1",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut months = Vec::new();
        for name in names {
            let Some((year, month)) = name
                .strip_prefix("observations_")
                .and_then(|ym| ym.split_once('_'))
                .and_then(|(y, m)| Some((y.parse::<i16>().ok()?, m.parse::<i8>().ok()?)))
            else {
                continue;
            };
            let Ok((_, end)) = month_bounds(year, month) else {
                continue;
            };
            if end <= before {
                months.push((year, month));
            }
        }
        Ok(months)
    }

    /// Drops one month's partition if every series in it is listed (their values there are all
    /// before their cutoffs, as the month ends before the earliest cutoff); returns what each
    /// series lost, or nothing when the partition stays. Versions of the data sets it held are
    /// raised in the same transaction, under the lock partition creation takes.
    async fn drop_partition(
        &self,
        year: i16,
        month: i8,
        listed: &std::collections::BTreeMap<SeriesId, u64>,
    ) -> Result<Vec<(SeriesId, u64)>, StoreError> {
        let table = format!("observations_{year:04}_{month:02}");
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(7283190451)")
            .execute(&mut *tx)
            .await?;
        // No writer adds a series to the month between the count below and the drop (one
        // waiting meanwhile finds the partition gone, and creates it again).
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "LOCK TABLE {table} IN SHARE MODE"
        )))
        .execute(&mut *tx)
        .await?;
        // Only numbers go into the table name.
        let held: Vec<(i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT series_id, COUNT(*) FROM {table} GROUP BY series_id"
        )))
        .fetch_all(&mut *tx)
        .await?;
        if held.iter().any(|(s, _)| !listed.contains_key(s)) {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = held.iter().map(|h| h.0).collect();
        raise_versions(&mut tx, &ids).await?;
        let (start, end) = month_bounds(year, month)?;
        let (first, last) = (block::index(start), block::index(end.plus(-1)));
        let spans: Vec<_> = ids.iter().map(|&s| (s, first, last)).collect();
        pg_blocks::forget(&mut tx, &spans).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {table}")))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if let Ok(mut known) = self.partitions.lock() {
            known.remove(&(year, month));
        }
        Ok(held.into_iter().map(|(s, n)| (s, n as u64)).collect())
    }
}

super::processing::processing_impl!(Postgres);
super::shared::shared_impl!(Postgres, sqlx::Postgres);
super::shared_runs::shared_runs_impl!(Postgres, sqlx::Postgres);
super::forecasts::forecasts_impl!(Postgres, sqlx::Postgres, ROWS_PER_STATEMENT);
super::models::models_impl!(Postgres, sqlx::Postgres, ROWS_PER_STATEMENT);
super::tenants::tenants_impl!(Postgres);

#[async_trait]
impl Store for Postgres {
    async fn write_chunk(
        &self,
        run: RunId,
        rows: &[Row],
        rejects: &[Reject],
    ) -> Result<Counts, StoreError> {
        let mut copy = true;
        let mut forgot = false;
        loop {
            match self.write_chunk_once(run, rows, rejects, copy).await {
                // A concurrent writer got there first: count through the upsert.
                Err(StoreError::Database(sqlx::Error::Database(e)))
                    if copy && e.is_unique_violation() =>
                {
                    copy = false;
                }
                // No partition for a row: another process dropped a month this handle knew
                // of. Forget what it knew and create what is needed.
                Err(StoreError::Database(sqlx::Error::Database(e)))
                    if !forgot && e.code().as_deref() == Some("23514") =>
                {
                    if let Ok(mut known) = self.partitions.lock() {
                        known.clear();
                    }
                    forgot = true;
                }
                done => return done,
            }
        }
    }

    async fn drop_before(
        &self,
        cutoffs: &[(SeriesId, Timestamp)],
    ) -> Result<Vec<(SeriesId, u64)>, StoreError> {
        let mut lost: std::collections::BTreeMap<SeriesId, u64> =
            cutoffs.iter().map(|&(s, _)| (s, 0)).collect();
        if let Some(before) = cutoffs.iter().map(|c| c.1).min() {
            for (year, month) in self.partitions_before(before).await? {
                for (series, rows) in self.drop_partition(year, month, &lost).await? {
                    *lost.entry(series).or_default() += rows;
                }
            }
        }
        // What is left before each cutoff: the month a cutoff falls in, and partitions that
        // also hold series not listed.
        for (series, rows) in super::delete_before(self, cutoffs).await? {
            *lost.entry(series).or_default() += rows;
        }
        Ok(lost.into_iter().collect())
    }

    async fn delete(&self, series: SeriesId, range: TimeRange) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        pg_blocks::lock_series(&mut tx, &[series]).await?;
        let done =
            sqlx::query("DELETE FROM observations WHERE series_id = $1 AND ts >= $2 AND ts < $3")
                .bind(series)
                .bind(range.start.epoch())
                .bind(range.end.epoch())
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() > 0 {
            raise_versions(&mut tx, &[series]).await?;
            if let Some((first, last)) = block::indices(range) {
                pg_blocks::forget(&mut tx, &[(series, first, last)]).await?;
            }
        }
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    async fn read(&self, series: SeriesId, range: TimeRange) -> Result<Vec<Point>, StoreError> {
        let mut read = self.read_many(&[series], range).await?;
        Ok(read.pop().unwrap_or_default())
    }

    async fn read_many(
        &self,
        series: &[SeriesId],
        range: TimeRange,
    ) -> Result<Vec<Vec<Point>>, StoreError> {
        let mut distinct = series.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        let fetched = self
            .retry(|| pg_blocks::fetch(&self.pool, &distinct, range))
            .await?;
        let mut read = std::collections::HashMap::with_capacity(distinct.len());
        for (&id, fetched) in distinct.iter().zip(fetched) {
            let (points, unpacked) = pg_blocks::points(id, range, fetched)?;
            if !unpacked.is_empty() {
                self.packer.request(id, unpacked);
            }
            read.insert(id, points);
        }
        // In the order asked, a series asked twice given twice.
        let mut out = Vec::with_capacity(series.len());
        for (i, id) in series.iter().enumerate() {
            out.push(if series[i + 1..].contains(id) {
                read.get(id).cloned().unwrap_or_default()
            } else {
                read.remove(id).unwrap_or_default()
            });
        }
        Ok(out)
    }
}

/// The first instant of a UTC calendar month and of the next.
fn month_bounds(year: i16, month: i8) -> Result<(Timestamp, Timestamp), StoreError> {
    let start =
        jiff::civil::Date::new(year, month, 1).map_err(|e| StoreError::Conflict(e.to_string()))?;
    let end = start
        .checked_add(jiff::Span::new().months(1))
        .map_err(|e| StoreError::Conflict(e.to_string()))?;
    Ok((Timestamp::utc_midnight(start), Timestamp::utc_midnight(end)))
}

/// `url`'s options, its certificate checked against `ca_file` when given (`verify-full` unless
/// the URL names another `sslmode`).
fn connect_options(url: &str, ca_file: Option<&Path>) -> Result<PgConnectOptions, StoreError> {
    let mut options = PgConnectOptions::from_str(url)?;
    if let Some(ca) = ca_file {
        options = options.ssl_root_cert(ca);
        if !url.contains("sslmode=") {
            options = options.ssl_mode(PgSslMode::VerifyFull);
        }
    }
    Ok(options)
}

/// Raises the data version of every (location, dataset) holding one of `series`, inside the
/// transaction that changed their values (cached answers at the old version are then stale).
async fn raise_versions(
    tx: &mut sqlx::Transaction<'_, Db>,
    series: &[SeriesId],
) -> Result<(), StoreError> {
    sqlx::query(concat!(
        "INSERT INTO versions (location_id, dataset, version) ",
        "SELECT DISTINCT location_id, dataset, 1 FROM series WHERE id = ANY($1) ",
        "ON CONFLICT (location_id, dataset) DO UPDATE SET version = versions.version + 1"
    ))
    .bind(series)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
