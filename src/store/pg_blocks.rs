//! PostgreSQL's packed blocks: the same 30-day copies of a series' rows as SQLite's, encoded
//! the same way (`block.rs`), kept in `blocks` beside the partitioned rows. The rows stay the
//! truth; a block is made when a read found its span without one, and forgotten by any write,
//! delete or partition drop touching its span, in that transaction.
//!
//! Ordering against concurrent writers (PostgreSQL runs them side by side, unlike SQLite's one
//! writer): a transaction that changes a series' rows takes that series' advisory lock
//! *shared* before it forgets the series' blocks; the packer takes it *exclusive* — only by
//! trying, never waiting — before it reads the rows it packs. So either the writer committed
//! before the packer read (the block holds the new rows), or the packer committed before the
//! writer's delete began (which then sees and removes the block). A packer that finds a writer
//! at the series gives up; the next read asks again.
//!
//! A read is one statement (one snapshot): each block of the range comes packed, or as its
//! rows when it has no packed copy.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

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

/// What a read returns per block: the block, its packed copy, or one of its rows.
type ReadRow = (
    i64,
    Option<Vec<u8>>,
    Option<i64>,
    Option<f64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// The blocks of `range` (`$4..=$5`): each packed copy, or the block's rows in range when it
/// has none (the lateral scan is skipped for packed blocks).
const READ: &str = "SELECT g.block, b.data, o.ts, o.value, o.flag, o.created_run, o.updated_run
     FROM generate_series($4::BIGINT, $5::BIGINT) AS g (block)
     LEFT JOIN blocks b ON b.series_id = $1 AND b.block = g.block
     LEFT JOIN LATERAL (
         SELECT ts, value, flag, created_run, updated_run FROM observations
         WHERE b.data IS NULL AND series_id = $1
           AND ts >= GREATEST($2, g.block * $6) AND ts < LEAST($3, (g.block + 1) * $6)
         ORDER BY ts
     ) o ON true";

/// Fetches `READ`'s rows for a series' `range`, `None` for an empty range.
pub(super) async fn fetch(
    pool: &PgPool,
    series: SeriesId,
    range: TimeRange,
) -> Result<Vec<ReadRow>, sqlx::Error> {
    let Some((first, last)) = block::indices(range) else {
        return Ok(Vec::new());
    };
    sqlx::query_as(READ)
        .bind(series)
        .bind(range.start.epoch())
        .bind(range.end.epoch())
        .bind(first)
        .bind(last)
        .bind(block::SPAN_SECONDS)
        .fetch_all(pool)
        .await
}

/// The points of `fetch`'s rows in instant order, and the blocks that came as rows (to pack).
pub(super) fn points(
    series: SeriesId,
    range: TimeRange,
    mut fetched: Vec<ReadRow>,
) -> Result<(Vec<Point>, Vec<i64>), StoreError> {
    // One statement's rows come in the plan's order, not necessarily by block.
    fetched.sort_by_key(|r| (r.0, r.2));
    let mut points = Vec::with_capacity(fetched.len());
    let mut unpacked = Vec::new();
    for (index, data, ts, value, flag, created, updated) in fetched {
        match (data, ts, value, flag, created, updated) {
            (Some(data), ..) => block::decode(&data, range, &mut points).map_err(|e| {
                StoreError::Corrupt(format!("block {index} of series {series}: {e}"))
            })?,
            (None, Some(ts), Some(value), Some(flag), Some(created), Some(updated)) => {
                points.push(rows::point((ts, value, flag, created, updated))?);
                if unpacked.last() != Some(&index) {
                    unpacked.push(index);
                }
            }
            // A block without a packed copy nor rows in range.
            _ => {}
        }
    }
    Ok((points, unpacked))
}

/// Forgets the packed copies of blocks `first..=last` of each series, inside the transaction
/// that changed their rows, after taking the series' locks shared (see the module's note).
pub(super) async fn forget(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    spans: &[(SeriesId, i64, i64)],
) -> Result<(), StoreError> {
    if spans.is_empty() {
        return Ok(());
    }
    let mut keys: Vec<i32> = spans.iter().map(|s| key(s.0)).collect();
    keys.sort_unstable();
    keys.dedup();
    sqlx::query("SELECT pg_advisory_xact_lock_shared($1, k) FROM UNNEST($2::INT4[]) AS k")
        .bind(LOCK_CLASS)
        .bind(&keys)
        .execute(&mut **tx)
        .await?;
    let series: Vec<i64> = spans.iter().map(|s| s.0).collect();
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
    /// Blocks being packed, so that concurrent reads ask once.
    pending: Mutex<HashSet<(SeriesId, i64)>>,
}

impl Packer {
    pub(super) fn new(pool: PgPool) -> Arc<Self> {
        Arc::new(Self {
            pool,
            pending: Mutex::default(),
        })
    }

    /// Packs the series' `blocks` soon, those not already being packed.
    pub(super) fn request(self: &Arc<Self>, series: SeriesId, blocks: Vec<i64>) {
        let blocks: Vec<i64> = match self.pending.lock() {
            Ok(mut pending) => blocks
                .into_iter()
                .filter(|&b| pending.insert((series, b)))
                .collect(),
            Err(_) => return,
        };
        if blocks.is_empty() {
            return;
        }
        let packer = self.clone();
        tokio::spawn(async move {
            match packer.pack(series, &blocks).await {
                Ok(true) => {}
                Ok(false) => tracing::debug!(series, "a writer holds the series; packing later"),
                Err(error) => {
                    tracing::warn!(%error, series, "packing blocks failed; reads use the rows")
                }
            }
            if let Ok(mut pending) = packer.pending.lock() {
                for b in &blocks {
                    pending.remove(&(series, *b));
                }
            }
        });
    }

    /// Packs `blocks` of `series` in one transaction holding the series' lock; `false` when a
    /// writer held it.
    async fn pack(&self, series: SeriesId, blocks: &[i64]) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1, $2)")
            .bind(LOCK_CLASS)
            .bind(key(series))
            .fetch_one(&mut *tx)
            .await?;
        if !locked {
            return Ok(false);
        }
        for &index in blocks {
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
                     ON CONFLICT (series_id, block) DO UPDATE SET data = excluded.data",
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
