//! Rows of consecutive chunks gathered and written together. Each [`Store::write_chunk`] is a
//! transaction with a fixed cost (on PostgreSQL, writing a month of one location's six hourly
//! variables, 4,380 rows, took ~15 ms, ~10 ms of it whatever the size; `benches/store_load.rs`),
//! so a bulk load writes about half a year of a location at once. A killed load still leaves
//! whole writes or nothing, and what it lost is fetched again.

use super::{Row, RunId, Store, StoreError};
use crate::domain::{Counts, Reject};

/// A batch is written once it holds this many rows.
pub const WRITE_BATCH_ROWS: usize = 25_000;

#[derive(Default)]
pub struct Batch {
    rows: Vec<Row>,
    rejects: Vec<Reject>,
    /// How many chunks the pending rows came from.
    chunks: u64,
}

impl Batch {
    /// Adds one chunk's rows and rejects.
    pub fn push(&mut self, rows: Vec<Row>, rejects: Vec<Reject>) {
        if self.rows.is_empty() {
            self.rows = rows;
        } else {
            self.rows.extend(rows);
        }
        self.rejects.extend(rejects);
        self.chunks += 1;
    }

    pub fn is_full(&self) -> bool {
        self.rows.len() >= WRITE_BATCH_ROWS
    }

    /// The chunks pushed since the last write.
    pub fn chunks(&self) -> u64 {
        self.chunks
    }

    /// Writes what is pending in one transaction and empties the batch, whatever the outcome.
    pub async fn write(&mut self, store: &dyn Store, run: RunId) -> Result<Counts, StoreError> {
        let (rows, rejects) = (
            std::mem::take(&mut self.rows),
            std::mem::take(&mut self.rejects),
        );
        self.chunks = 0;
        if rows.is_empty() && rejects.is_empty() {
            return Ok(Counts::default());
        }
        store.write_chunk(run, &rows, &rejects).await
    }
}
