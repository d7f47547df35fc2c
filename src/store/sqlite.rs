//! The embedded default store: one SQLite file in WAL mode. A chunk whose range holds nothing
//! yet is inserted as it is (all inserted); any other is staged in a temporary table so that the
//! counts (inserted / updated / unchanged) come from one join instead of a statement per row,
//! then upserted in one statement.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Sqlite as Db};

use super::{Point, Row, RunId, SeriesId, Store, StoreError};
use super::{block, rows};
use crate::domain::{Counts, Reject, TimeRange};

/// How long a statement waits for another process' write lock before failing with
/// `database is locked`: writes hold it for a batch (tens of milliseconds) or a rotation's
/// delete (seconds at most).
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Rows per multi-row INSERT: 4 parameters each, well under SQLite's 32 766-parameter limit.
const ROWS_PER_STATEMENT: usize = 4_000;

#[derive(Clone)]
pub struct Sqlite {
    pool: SqlitePool,
    instance: std::sync::Arc<str>,
    readers: std::sync::Arc<Readers>,
    /// The connection data versions are read through on the calling thread (opened on first
    /// use), never waiting: see [`Sqlite::version_at_once`].
    versions: std::sync::Arc<std::sync::Mutex<Option<rusqlite::Connection>>>,
    packer: std::sync::Arc<Packer>,
    /// This process' writers, one at a time and in arrival order (see [`Sqlite::begin_write`]).
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// A write transaction with this process' write turn, held until both are dropped.
pub(super) type WriteTx = (
    tokio::sync::OwnedMutexGuard<()>,
    sqlx::Transaction<'static, Db>,
);

/// Read-only connections for bulk reads, run on blocking threads: sqlx costs about 1.5 µs per
/// row, which is most of a 24-month read; rusqlite on the same SQLite library costs a tenth.
struct Readers {
    path: std::path::PathBuf,
    idle: std::sync::Mutex<Vec<rusqlite::Connection>>,
}

impl Readers {
    /// Runs `work` on an idle connection (opening one if none is idle) and keeps it for reuse.
    fn with<T>(
        &self,
        work: impl FnOnce(&rusqlite::Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let connection = match idle {
            Some(connection) => connection,
            None => {
                let connection = rusqlite::Connection::open_with_flags(
                    &self.path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(read_error)?;
                connection.busy_timeout(BUSY_TIMEOUT).map_err(read_error)?;
                // Long reads revisit the same pages: keep them (64 MB, or the file's size,
                // whichever is less) and map the file rather than copy each page in.
                connection
                    .execute_batch("PRAGMA cache_size = -65536; PRAGMA mmap_size = 268435456;")
                    .map_err(read_error)?;
                connection
            }
        };
        let out = work(&connection)?;
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < 8
        {
            idle.push(connection);
        }
        Ok(out)
    }
}

fn read_error(error: rusqlite::Error) -> StoreError {
    StoreError::Read(error.to_string())
}

/// A series' points in a range of instants, in order.
const POINTS_IN_RANGE: &str = "SELECT ts, value, flag, created_run, updated_run FROM observations
     WHERE series_id = ? AND ts >= ? AND ts < ? ORDER BY ts";

/// A row of [`POINTS_IN_RANGE`] as a point.
fn point_of(row: &rusqlite::Row<'_>) -> Result<Point, StoreError> {
    let column = |i| row.get::<_, i64>(i).map_err(read_error);
    rows::point((
        column(0)?,
        row.get(1).map_err(read_error)?,
        column(2)?,
        column(3)?,
        column(4)?,
    ))
}

/// A series' values in `range`: packed blocks where the store has them, rows elsewhere, in one
/// snapshot. Also returns the blocks whose values came from rows, to be packed.
fn read_packed(
    connection: &rusqlite::Connection,
    series: SeriesId,
    range: TimeRange,
) -> Result<(Vec<Point>, Vec<i64>), StoreError> {
    let Some(mut gaps) = block::Gaps::new(range) else {
        return Ok((Vec::new(), Vec::new()));
    };
    let (first, last) = gaps.bounds();
    let snapshot = connection.unchecked_transaction().map_err(read_error)?;
    let mut blocks = snapshot
        .prepare(
            "SELECT block, data FROM blocks WHERE series_id = ? AND block >= ? AND block <= ?
             ORDER BY block",
        )
        .map_err(read_error)?;
    let mut stored = snapshot.prepare(POINTS_IN_RANGE).map_err(read_error)?;
    let mut points = Vec::new();
    let mut unpacked = Vec::new();
    // A part of the range without packed blocks: its values come from the rows.
    let mut from_rows = |gap: TimeRange, points: &mut Vec<Point>| {
        let mut found = stored
            .query((series, gap.start.epoch(), gap.end.epoch()))
            .map_err(read_error)?;
        while let Some(row) = found.next().map_err(read_error)? {
            let point = point_of(row)?;
            let index = block::index(point.ts);
            if unpacked.last() != Some(&index) {
                unpacked.push(index);
            }
            points.push(point);
        }
        Ok::<_, StoreError>(())
    };
    let mut found = blocks.query((series, first, last)).map_err(read_error)?;
    while let Some(row) = found.next().map_err(read_error)? {
        let index: i64 = row.get(0).map_err(read_error)?;
        if let Some(gap) = gaps.before(index) {
            from_rows(gap, &mut points)?;
        }
        let data = row.get_ref(1).map_err(read_error)?;
        let data = data
            .as_blob()
            .map_err(|e| StoreError::Corrupt(format!("block {index} of series {series}: {e}")))?;
        block::decode(data, range, &mut points)
            .map_err(|e| StoreError::Corrupt(format!("block {index} of series {series}: {e}")))?;
    }
    if let Some(gap) = gaps.rest() {
        from_rows(gap, &mut points)?;
    }
    Ok((points, unpacked))
}

/// Packs blocks in the background, on its own writing connection: each in a transaction that
/// reads the block's rows and stores their packed copy, so it matches the rows it was made
/// from (writes, serialized with it, forget it if they change them later).
struct Packer {
    path: std::path::PathBuf,
    pending: block::Pending,
    connection: std::sync::Mutex<Option<rusqlite::Connection>>,
}

impl Packer {
    /// Packs the series' `blocks` soon, those not already being packed.
    fn request(self: &std::sync::Arc<Self>, series: SeriesId, blocks: Vec<i64>) {
        let blocks = self.pending.claim(series, blocks);
        if blocks.is_empty() {
            return;
        }
        let packer = self.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(error) = packer.pack(series, &blocks) {
                tracing::warn!(%error, series, "packing blocks failed; reads use the rows");
            }
            packer.pending.release(series, &blocks);
        });
    }

    fn pack(&self, series: SeriesId, blocks: &[i64]) -> Result<(), StoreError> {
        let mut connection = self
            .connection
            .lock()
            .map_err(|_| StoreError::Read("the packing connection was poisoned".into()))?;
        if connection.is_none() {
            let opened = rusqlite::Connection::open(&self.path).map_err(read_error)?;
            opened.busy_timeout(BUSY_TIMEOUT).map_err(read_error)?;
            opened
                .execute_batch("PRAGMA synchronous = NORMAL;")
                .map_err(read_error)?;
            *connection = Some(opened);
        }
        let connection = connection.as_mut().expect("opened above");
        let tx = connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(read_error)?;
        for &index in blocks {
            let span = block::span(index);
            let mut points = Vec::new();
            let mut stored = tx.prepare(POINTS_IN_RANGE).map_err(read_error)?;
            let mut found = stored
                .query((series, span.start.epoch(), span.end.epoch()))
                .map_err(read_error)?;
            while let Some(row) = found.next().map_err(read_error)? {
                points.push(point_of(row)?);
            }
            if points.is_empty() {
                tx.execute(
                    "DELETE FROM blocks WHERE series_id = ? AND block = ?",
                    (series, index),
                )
                .map_err(read_error)?;
            } else {
                tx.execute(
                    "INSERT OR REPLACE INTO blocks (series_id, block, data) VALUES (?, ?, ?)",
                    (series, index, block::encode(&points)),
                )
                .map_err(read_error)?;
            }
        }
        tx.commit().map_err(read_error)
    }
}

impl Sqlite {
    /// Opens (creating if needed) the database file and applies pending migrations.
    ///
    /// Two processes opening a fresh file at once (a `serve` and an `init`) race: one may find
    /// the file locked while the other switches it to WAL, or fail on a migration the other just
    /// applied. Applied migrations are skipped on the next attempt, so a few tries settle it.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Conflict(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let mut attempt = 0;
        loop {
            match Self::try_open(path).await {
                Ok(store) => return Ok(store),
                Err(error) if attempt < 6 => {
                    tracing::debug!(%error, attempt, "opening the store raced another process; retrying");
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                }
                Err(error) => return Err(error),
            }
        }
    }

    async fn try_open(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        // Connections to a local file are cheap to keep: none is closed for being idle or old,
        // so no reaper runs (a process on paused time, as the scheduler's tests are, would see
        // it fire at once).
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        Ok(Self {
            pool,
            instance: super::instance_name().into(),
            readers: std::sync::Arc::new(Readers {
                path: path.to_path_buf(),
                idle: std::sync::Mutex::new(Vec::new()),
            }),
            versions: Default::default(),
            packer: std::sync::Arc::new(Packer {
                path: path.to_path_buf(),
                pending: Default::default(),
                connection: std::sync::Mutex::new(None),
            }),
            writer: Default::default(),
        })
    }

    /// Starts a transaction that writes: first this process' turn (its writers queue here rather
    /// than in SQLite's busy handler), then `BEGIN IMMEDIATE`, which takes SQLite's write lock
    /// at once, waiting up to [`BUSY_TIMEOUT`] for another process to release it. A deferred
    /// transaction takes the lock only at its first write, and one that has read by then fails
    /// at once if another wrote meanwhile (SQLITE_BUSY_SNAPSHOT, 517) or deadlocks with another
    /// reader turned writer (SQLITE_BUSY, 5): no timeout helps either.
    pub(super) async fn begin_write(&self) -> Result<WriteTx, StoreError> {
        let turn = self.writer.clone().lock_owned().await;
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok((turn, tx))
    }

    /// A data set's version read on the calling thread: a cached answer asks it on every
    /// request, and sqlx's hop to its connection thread and back cost most of such a request
    /// (`benches/nginx.sh`). It never waits — not for the connection (in use by another
    /// thread), nor for a lock (busy timeout 0; a point read in WAL mode rarely meets one) —
    /// and gives `None` instead, as when the read failed: the caller then asks through sqlx,
    /// which waits its turn or says why.
    pub(super) fn version_at_once(
        &self,
        location: &str,
        dataset: crate::domain::Dataset,
    ) -> Option<i64> {
        let mut connection = self.versions.try_lock().ok()?;
        if connection.is_none() {
            let opened = rusqlite::Connection::open_with_flags(
                &self.readers.path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .ok()?;
            opened.busy_timeout(std::time::Duration::ZERO).ok()?;
            *connection = Some(opened);
        }
        let connection = connection.as_ref()?;
        let mut statement = connection.prepare_cached(super::shared::VERSION).ok()?;
        let mut found = statement.query((location, dataset.as_str())).ok()?;
        match found.next().ok()? {
            Some(row) => row.get::<_, i64>(0).ok(),
            None => Some(0),
        }
    }

    /// Runs a read, once: the shared SQL reads through this (see `store/shared.rs`), where
    /// PostgreSQL reads again on a fresh connection when the pooled one turned out broken. A
    /// local file's connection does not break that way.
    pub(super) async fn retry<T, F, Fut>(&self, read: F) -> Result<T, sqlx::Error>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
    {
        read().await
    }
}

super::processing::processing_impl!(Sqlite);
super::shared::shared_impl!(Sqlite, sqlx::Sqlite);
super::shared_runs::shared_runs_impl!(Sqlite, sqlx::Sqlite);
super::forecasts::forecasts_impl!(Sqlite, sqlx::Sqlite, ROWS_PER_STATEMENT);
super::models::models_impl!(Sqlite, sqlx::Sqlite, ROWS_PER_STATEMENT);
super::tenants::tenants_impl!(Sqlite);

#[async_trait]
impl Store for Sqlite {
    async fn backup(&self, to: &Path) -> Result<(), StoreError> {
        if to.exists() {
            return Err(StoreError::Conflict(format!(
                "{} exists: a backup never overwrites a file",
                to.display()
            )));
        }
        // One read transaction: the copy is the store at one instant; writers go on in the WAL.
        sqlx::query("VACUUM INTO $1")
            .bind(to.to_string_lossy().into_owned())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn write_chunk(
        &self,
        run: RunId,
        rows: &[Row],
        rejects: &[Reject],
    ) -> Result<Counts, StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        // The last of equal (series, instant) wins, as `INSERT OR REPLACE` into staging does.
        let distinct: BTreeMap<(SeriesId, i64), &Row> =
            rows.iter().map(|r| ((r.series, r.ts.epoch()), r)).collect();
        let mut ids: Vec<SeriesId> = distinct.keys().map(|(series, _)| *series).collect();
        ids.dedup();
        let (total, existing, changed) =
            match insert_if_fresh(&mut tx, run, &distinct, &ids).await? {
                Some(inserted) => (inserted, 0, 0),
                None => stage_and_upsert(&mut tx, run, rows).await?,
            };
        Self::put_rejects(&mut tx, run, rejects).await?;
        let counts = Counts {
            inserted: (total - existing) as u64,
            updated: changed as u64,
            unchanged: (existing - changed) as u64,
            rejected: rejects.len() as u64,
        };
        if counts.inserted + counts.updated > 0 {
            raise_versions(&mut tx, &ids).await?;
            forget_blocks(&mut tx, block::spans(distinct.keys().copied())).await?;
        }
        sqlx::query(
            "UPDATE runs SET inserted = inserted + ?, updated = updated + ?, unchanged = unchanged + ?,
             rejected = rejected + ? WHERE id = ?",
        )
        .bind(counts.inserted as i64)
        .bind(counts.updated as i64)
        .bind(counts.unchanged as i64)
        .bind(counts.rejected as i64)
        .bind(run)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(counts)
    }

    async fn delete(&self, series: SeriesId, range: TimeRange) -> Result<u64, StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        let done =
            sqlx::query("DELETE FROM observations WHERE series_id = ? AND ts >= ? AND ts < ?")
                .bind(series)
                .bind(range.start.epoch())
                .bind(range.end.epoch())
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() > 0 {
            raise_versions(&mut tx, &[series]).await?;
            if let Some((first, last)) = block::indices(range) {
                forget_blocks(&mut tx, [(series, first, last)]).await?;
            }
        }
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    async fn read(&self, series: SeriesId, range: TimeRange) -> Result<Vec<Point>, StoreError> {
        let readers = self.readers.clone();
        let (points, unpacked) = tokio::task::spawn_blocking(move || {
            readers.with(|connection| read_packed(connection, series, range))
        })
        .await
        .map_err(|e| StoreError::Read(format!("the read did not finish: {e}")))??;
        if !unpacked.is_empty() {
            self.packer.request(series, unpacked);
        }
        Ok(points)
    }
}

type Tx<'a> = sqlx::Transaction<'a, Db>;

/// A first load goes straight into `observations`: when none of the chunk's series holds a value
/// between its first and last instant, the rows are inserted in key order and all count as
/// inserted. Returns their number, or `None` when some are already stored and the counting
/// upsert must do it. (Staging, counting and upserting cost three B-tree passes a row.)
async fn insert_if_fresh(
    tx: &mut Tx<'_>,
    run: RunId,
    rows: &BTreeMap<(SeriesId, i64), &Row>,
    ids: &[SeriesId],
) -> Result<Option<i64>, StoreError> {
    let (Some(first), Some(last)) = (
        rows.keys().map(|(_, ts)| *ts).min(),
        rows.keys().map(|(_, ts)| *ts).max(),
    ) else {
        return Ok(None);
    };
    let stored: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM observations
                        WHERE series_id IN (SELECT value FROM json_each(?1)) AND ts >= ?2 AND ts <= ?3)",
    )
    .bind(serde_json::to_string(ids).unwrap_or_default())
    .bind(first)
    .bind(last)
    .fetch_one(&mut **tx)
    .await?;
    if stored {
        return Ok(None);
    }
    let rows: Vec<&Row> = rows.values().copied().collect();
    for batch in rows.chunks(ROWS_PER_STATEMENT) {
        let mut insert = QueryBuilder::<Db>::new(
            "INSERT INTO observations (series_id, ts, value, flag, created_run, updated_run) ",
        );
        insert.push_values(batch, |mut b, row| {
            b.push_bind(row.series)
                .push_bind(row.ts.epoch())
                .push_bind(row.value)
                .push_bind(row.flag.code())
                .push_bind(run)
                .push_bind(run);
        });
        insert.build().execute(&mut **tx).await?;
    }
    Ok(Some(rows.len() as i64))
}

/// Any other chunk: rows staged in a temporary table, one join counting the new, changed and
/// unchanged ones, one upsert applying them. Returns (rows, already stored, changed).
async fn stage_and_upsert(
    tx: &mut Tx<'_>,
    run: RunId,
    rows: &[Row],
) -> Result<(i64, i64, i64), StoreError> {
    sqlx::query(
        "CREATE TEMP TABLE IF NOT EXISTS staging (series_id INTEGER NOT NULL, ts INTEGER NOT NULL,
         value REAL NOT NULL, flag INTEGER NOT NULL, PRIMARY KEY (series_id, ts)) WITHOUT ROWID",
    )
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM staging")
        .execute(&mut **tx)
        .await?;
    for batch in rows.chunks(ROWS_PER_STATEMENT) {
        let mut insert =
            QueryBuilder::<Db>::new("INSERT OR REPLACE INTO staging (series_id, ts, value, flag) ");
        insert.push_values(batch, |mut b, row| {
            b.push_bind(row.series)
                .push_bind(row.ts.epoch())
                .push_bind(row.value)
                .push_bind(row.flag.code());
        });
        insert.build().execute(&mut **tx).await?;
    }
    // CROSS JOIN makes SQLite drive from the small staging table; left to itself (a temp
    // table has no statistics) it scanned `observations`, so loads slowed as it grew.
    let (total, existing, changed): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM staging), COUNT(o.ts),
                COALESCE(SUM(o.value IS NOT s.value OR o.flag IS NOT s.flag), 0)
         FROM staging s CROSS JOIN observations o ON o.series_id = s.series_id AND o.ts = s.ts",
    )
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO observations (series_id, ts, value, flag, created_run, updated_run)
         SELECT series_id, ts, value, flag, ?1, ?1 FROM staging WHERE true
         ON CONFLICT (series_id, ts) DO UPDATE SET value = excluded.value, flag = excluded.flag,
           updated_run = excluded.updated_run
         WHERE observations.value IS NOT excluded.value OR observations.flag IS NOT excluded.flag",
    )
    .bind(run)
    .execute(&mut **tx)
    .await?;
    Ok((total, existing, changed))
}

/// Forgets the packed copies of blocks `first..=last` of each series, inside the transaction
/// that changed their rows.
async fn forget_blocks(
    tx: &mut Tx<'_>,
    spans: impl IntoIterator<Item = (SeriesId, i64, i64)>,
) -> Result<(), StoreError> {
    for (series, first, last) in spans {
        sqlx::query("DELETE FROM blocks WHERE series_id = ? AND block >= ? AND block <= ?")
            .bind(series)
            .bind(first)
            .bind(last)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Raises the data version of every (location, dataset) holding one of `series`, inside the
/// transaction that changed their values (cached answers at the old version are then stale).
async fn raise_versions(tx: &mut Tx<'_>, series: &[SeriesId]) -> Result<(), StoreError> {
    sqlx::query(concat!(
        "INSERT INTO versions (location_id, dataset, version) ",
        "SELECT DISTINCT location_id, dataset, 1 FROM series ",
        "WHERE id IN (SELECT value FROM json_each(?)) ",
        "ON CONFLICT (location_id, dataset) DO UPDATE SET version = versions.version + 1"
    ))
    .bind(serde_json::to_string(series).unwrap_or_default())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
