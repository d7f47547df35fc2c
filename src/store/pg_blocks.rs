//! PostgreSQL's packed blocks: the same 30-day copies of a series' rows as SQLite's, encoded
//! the same way (`block.rs`), kept in `blocks` beside the partitioned rows. The rows stay the
//! truth; a block is made when a read found its span without one, and forgotten by any write,
//! delete or partition drop touching its span, in that transaction.
//!
//! Ordering against concurrent writers (PostgreSQL runs them side by side, unlike SQLite's one
//! writer): a transaction that changes a series' rows takes that series' advisory lock
//! *shared* first (before any table lock: creating a partition locks `observations` whole),
//! and forgets the series' blocks in the spans it wrote before it commits; the packer takes
//! the lock *exclusive* — only by trying, never waiting — before it reads the rows it packs.
//! So either the writer committed before the packer read (the block holds the new rows), or
//! the packer committed before the writer's delete began (which then sees and removes the
//! block). A packer that finds a writer at the series gives up, as does one waiting over
//! `lock_timeout` for a table (a partition being made or dropped); the next read asks again.
//! One pack runs at a time per process, so packing never holds more than one of the pool's
//! connections.
//!
//! A read is one read-only snapshot: each block of the range comes packed, or as its rows
//! when it has no packed copy.

use std::sync::Arc;

use sqlx::postgres::PgPool;

use super::{Point, SeriesId, StoreError, block, rows};
use crate::domain::TimeRange;

/// The class of the two-key advisory locks on series' blocks (apart from the one-key lock
/// partition creation takes).
const LOCK_CLASS: i32 = 0x616c_6d62;

/// A series' advisory lock key (ids beyond `i32` share keys: a shared key only makes a packer
/// skip more often).
fn key(series: SeriesId) -> i32 {
    series.rem_euclid(i64::from(i32::MAX)) as i32
}

/// What a read found: the packed copies in range, and the rows of the blocks without one.
#[derive(Default)]
pub(super) struct Fetched {
    blocks: Vec<(i64, Vec<u8>)>,
    rows: Vec<rows::PointRow>,
}

/// Reads each series' `range`: their packed blocks in one statement, then the rows of the
/// blocks without one in another, in one read-only snapshot (an answer reading several series
/// sees them at one instant). Planned for its range, a statement over the partitioned rows
/// costs ~5 ms for 2 years (25 partitions); a generic plan, made once per connection and
/// pruned to the partitions in range as it runs, costs nothing per read.
pub(super) async fn fetch(
    pool: &PgPool,
    series: &[SeriesId],
    range: TimeRange,
) -> Result<Vec<Fetched>, sqlx::Error> {
    let mut fetched: Vec<Fetched> = series.iter().map(|_| Fetched::default()).collect();
    let Some((first, last)) = block::Gaps::new(range)
        .filter(|_| !series.is_empty())
        .map(|g| g.bounds())
    else {
        return Ok(fetched);
    };
    let mut tx = pool
        .begin_with(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
             SET LOCAL plan_cache_mode = force_generic_plan",
        )
        .await?;
    let blocks: Vec<(i64, i64, Vec<u8>)> = sqlx::query_as(
        "SELECT series_id, block, data FROM blocks
         WHERE series_id = ANY($1) AND block >= $2 AND block <= $3 ORDER BY series_id, block",
    )
    .bind(series)
    .bind(first)
    .bind(last)
    .fetch_all(&mut *tx)
    .await?;
    let at = |id: i64| series.iter().position(|&s| s == id);
    for (id, index, data) in blocks {
        if let Some(i) = at(id) {
            fetched[i].blocks.push((index, data));
        }
    }
    // Per series, the instants of each run of blocks without a packed copy.
    let mut gaps: (Vec<i64>, Vec<i64>, Vec<i64>) = Default::default();
    for (i, &id) in series.iter().enumerate() {
        let Some(mut walk) = block::Gaps::new(range) else {
            break;
        };
        let mut between: Vec<TimeRange> = fetched[i]
            .blocks
            .iter()
            .filter_map(|b| walk.before(b.0))
            .collect();
        between.extend(walk.rest());
        for gap in between {
            gaps.0.push(id);
            gaps.1.push(gap.start.epoch());
            gaps.2.push(gap.end.epoch());
        }
    }
    if !gaps.0.is_empty() {
        let found: Vec<(i64, i64, f64, i64, i64, i64)> = sqlx::query_as(
            "SELECT g.series_id, o.ts, o.value, o.flag, o.created_run, o.updated_run
             FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[]) AS g (series_id, start, stop)
             CROSS JOIN LATERAL (
                 SELECT ts, value, flag, created_run, updated_run FROM observations
                 WHERE series_id = g.series_id AND ts >= g.start AND ts < g.stop ORDER BY ts
             ) o",
        )
        .bind(&gaps.0)
        .bind(&gaps.1)
        .bind(&gaps.2)
        .fetch_all(&mut *tx)
        .await?;
        for (id, ts, value, flag, created, updated) in found {
            if let Some(i) = at(id) {
                fetched[i].rows.push((ts, value, flag, created, updated));
            }
        }
    }
    tx.commit().await?;
    Ok(fetched)
}

/// The points of what `fetch` found, in instant order, and the blocks that came as rows (to
/// pack).
pub(super) fn points(
    series: SeriesId,
    range: TimeRange,
    fetched: Fetched,
) -> Result<(Vec<Point>, Vec<i64>), StoreError> {
    let mut points = Vec::with_capacity(fetched.rows.len());
    for (index, data) in &fetched.blocks {
        block::decode(data, range, &mut points)
            .map_err(|e| StoreError::Corrupt(format!("block {index} of series {series}: {e}")))?;
    }
    let mut unpacked: Vec<i64> = Vec::new();
    for row in fetched.rows {
        let point = rows::point(row)?;
        let index = block::index(point.ts);
        if unpacked.last() != Some(&index) {
            unpacked.push(index);
        }
        points.push(point);
    }
    unpacked.sort_unstable();
    unpacked.dedup();
    // Never two for one instant: a block comes packed or as rows.
    points.sort_by_key(|p| p.ts);
    Ok((points, unpacked))
}

/// Takes the series' locks shared for the rest of the transaction, which is about to change
/// their rows (see the module's note).
pub(super) async fn lock_series(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    series: &[SeriesId],
) -> Result<(), StoreError> {
    let mut keys: Vec<i32> = series.iter().map(|&s| key(s)).collect();
    keys.sort_unstable();
    keys.dedup();
    if !keys.is_empty() {
        sqlx::query("SELECT pg_advisory_xact_lock_shared($1, k) FROM UNNEST($2::INT4[]) AS k")
            .bind(LOCK_CLASS)
            .bind(&keys)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Forgets the packed copies of blocks `first..=last` of each series, inside the transaction
/// that changed their rows, under the series' locks (taken here if not before).
pub(super) async fn forget(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    spans: &[(SeriesId, i64, i64)],
) -> Result<(), StoreError> {
    if spans.is_empty() {
        return Ok(());
    }
    let series: Vec<SeriesId> = spans.iter().map(|s| s.0).collect();
    lock_series(tx, &series).await?;
    let firsts: Vec<i64> = spans.iter().map(|s| s.1).collect();
    let lasts: Vec<i64> = spans.iter().map(|s| s.2).collect();
    sqlx::query(
        "DELETE FROM blocks b
         USING UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[]) AS s (series_id, first, last)
         WHERE b.series_id = s.series_id AND b.block >= s.first AND b.block <= s.last",
    )
    .bind(&series)
    .bind(&firsts)
    .bind(&lasts)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Packs blocks in the background on the primary (a replica's reads ask it too).
pub(super) struct Packer {
    pool: PgPool,
    pending: block::Pending,
    /// One pack at a time.
    turn: tokio::sync::Semaphore,
}

impl Packer {
    pub(super) fn new(pool: PgPool) -> Arc<Self> {
        Arc::new(Self {
            pool,
            pending: block::Pending::default(),
            turn: tokio::sync::Semaphore::new(1),
        })
    }

    /// Packs the series' `blocks` soon, those not already being packed.
    pub(super) fn request(self: &Arc<Self>, series: SeriesId, blocks: Vec<i64>) {
        let blocks = self.pending.claim(series, blocks);
        if blocks.is_empty() {
            return;
        }
        let packer = self.clone();
        tokio::spawn(async move {
            match packer.pack(series, &blocks).await {
                Ok(true) => {}
                Ok(false) => tracing::debug!(series, "a writer holds the series; packing later"),
                Err(StoreError::Database(sqlx::Error::Database(e)))
                    if e.code().as_deref() == Some("55P03") =>
                {
                    tracing::debug!(series, "a table was locked; packing later")
                }
                Err(error) => {
                    tracing::warn!(%error, series, "packing blocks failed; reads use the rows")
                }
            }
            packer.pending.release(series, &blocks);
        });
    }

    /// Packs `blocks` of `series` in one transaction holding the series' lock; `false` when a
    /// writer held it.
    async fn pack(&self, series: SeriesId, blocks: &[i64]) -> Result<bool, StoreError> {
        let Ok(_turn) = self.turn.acquire().await else {
            return Ok(false);
        };
        // Packing waits for no one for long: a writer holding a table gets it back soon.
        let mut tx = self
            .pool
            .begin_with("BEGIN; SET LOCAL lock_timeout = '500ms'")
            .await?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1, $2)")
            .bind(LOCK_CLASS)
            .bind(key(series))
            .fetch_one(&mut *tx)
            .await?;
        if !locked {
            return Ok(false);
        }
        // Under the lock a block that exists is fresh (a writer would have forgotten it): a
        // replica behind its primary asks for blocks the primary already has.
        let packed: Vec<i64> =
            sqlx::query_scalar("SELECT block FROM blocks WHERE series_id = $1 AND block = ANY($2)")
                .bind(series)
                .bind(blocks)
                .fetch_all(&mut *tx)
                .await?;
        for &index in blocks.iter().filter(|b| !packed.contains(b)) {
            let span = block::span(index);
            let found: Vec<rows::PointRow> = sqlx::query_as(
                "SELECT ts, value, flag, created_run, updated_run FROM observations
                 WHERE series_id = $1 AND ts >= $2 AND ts < $3 ORDER BY ts",
            )
            .bind(series)
            .bind(span.start.epoch())
            .bind(span.end.epoch())
            .fetch_all(&mut *tx)
            .await?;
            let points = found
                .into_iter()
                .map(rows::point)
                .collect::<Result<Vec<_>, _>>()?;
            if points.is_empty() {
                sqlx::query("DELETE FROM blocks WHERE series_id = $1 AND block = $2")
                    .bind(series)
                    .bind(index)
                    .execute(&mut *tx)
                    .await?;
            } else {
                sqlx::query(
                    "INSERT INTO blocks (series_id, block, data) VALUES ($1, $2, $3)
                     ON CONFLICT (series_id, block) DO NOTHING",
                )
                .bind(series)
                .bind(index)
                .bind(block::encode(&points))
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }
}
