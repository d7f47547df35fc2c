//! Storage: the [`Store`] trait every backend implements and passes one conformance suite with
//! (`tests/it/store_conformance.rs`), and its types. Observations are narrow rows keyed by
//! (series, instant); a chunk of rows, its rejects and its run's counts commit in one
//! transaction, so a killed load leaves whole chunks or nothing.

pub mod backup;
mod batch;
mod block;
mod forecasts;
pub mod models;
mod pg_blocks;
mod postgres;
mod processing;
pub mod replicas;
mod rows;
mod shared;
mod shared_runs;
mod sqlite;
mod tenants;

use async_trait::async_trait;

pub use batch::{Batch, WRITE_BATCH_ROWS};
pub use forecasts::{ForecastPoint, ForecastRow, Forecasts, IssueTimes};
pub use models::Models;
pub use postgres::Postgres;
pub use processing::{AnomalyFilter, Processing, StoredAnomaly};
pub use shared::Shared;
pub use shared_runs::SharedRuns;
pub use sqlite::Sqlite;
pub use tenants::Tenants;

use crate::domain::{Counts, Dataset, Flag, Reject, RunStatus, Step, TimeRange, Timestamp};

pub type SeriesId = i64;
pub type RunId = i64;

/// A name for this process's store handle: host, process id and a random part.
fn instance_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!(
        "{host}/{}/{:06x}",
        std::process::id(),
        fastrand::u32(..1 << 24)
    )
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A bulk read (on its own connection) failed.
    #[error("database error: {0}")]
    Read(String),
    #[error("{0}")]
    Conflict(String),
    #[error("stored data cannot be read back: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether the store could not be reached (rather than refusing or failing the request):
    /// the server is down or restarting, a connection broke, or none could be had in time.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Database(error) => {
                broken_connection(error)
                    || matches!(error, sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed)
            }
            _ => false,
        }
    }
}

/// A connection that failed under the statement: I/O, a protocol break, or PostgreSQL saying
/// it is shutting down or not accepting connections (SQLSTATE class 08, 57P01–57P03).
pub(crate) fn broken_connection(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")),
        _ => false,
    }
}

/// What identifies a series, with its fixed step and canonical unit.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesKey<'a> {
    pub location: &'a str,
    pub dataset: Dataset,
    pub variable: &'a str,
    pub source: &'a str,
    pub step: Step,
    pub unit: &'a str,
}

impl SeriesKey<'_> {
    /// The id of the stored series found for this key (`what`: `series`, `forecast series`),
    /// checked against the key's step and unit: a series does not change either.
    pub(crate) fn checked(
        &self,
        what: &str,
        (id, step, unit): (SeriesId, i64, String),
    ) -> Result<SeriesId, StoreError> {
        if step != self.step.seconds() || unit != self.unit {
            return Err(StoreError::Conflict(format!(
                "{what} {}/{}/{}/{} exists with step {step}s and unit {unit}, not {}s and {}",
                self.location,
                self.dataset,
                self.variable,
                self.source,
                self.step.seconds(),
                self.unit
            )));
        }
        Ok(id)
    }
}

pub use crate::domain::rollup::DailyRollup;

/// Whose absence is noted.
#[derive(Clone, Copy, Debug)]
pub struct AbsenceKey<'a> {
    pub location: &'a str,
    pub dataset: Dataset,
    pub source: &'a str,
}

/// A range a source did not have when asked, and how often it was asked.
#[derive(Clone, Debug, PartialEq)]
pub struct Absence {
    pub source: String,
    pub range: TimeRange,
    pub attempts: u32,
    pub first_seen: Timestamp,
    pub last_tried: Timestamp,
}

impl Absence {
    /// When asking again is due: an hour after the first attempt, doubling with each one, at
    /// most a week.
    pub fn retry_at(&self) -> Timestamp {
        let wait = (3_600i64 << self.attempts.saturating_sub(1).min(20)).min(7 * 86_400);
        self.last_tried.plus(wait)
    }
}

/// A stored series.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub id: SeriesId,
    pub location: String,
    pub dataset: Dataset,
    pub variable: String,
    pub source: String,
    pub step: Step,
    pub unit: String,
}

/// One value to write.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Row {
    pub series: SeriesId,
    pub ts: Timestamp,
    pub value: f64,
    pub flag: Flag,
}

/// One stored value, with the runs that first wrote and last changed it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    pub ts: Timestamp,
    pub value: f64,
    pub flag: Flag,
    pub created_run: RunId,
    pub updated_run: RunId,
}

/// A run about to start.
#[derive(Clone, Debug)]
pub struct NewRun<'a> {
    pub operation: &'a str,
    pub location: Option<&'a str>,
    pub dataset: Option<Dataset>,
    pub source: Option<&'a str>,
    pub range: Option<TimeRange>,
    pub started_at: Timestamp,
    /// The job run this run belongs to, if a job started it.
    pub parent: Option<RunId>,
}

/// A recorded run.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Run {
    pub id: RunId,
    pub operation: String,
    pub location: Option<String>,
    pub dataset: Option<String>,
    pub source: Option<String>,
    #[serde(serialize_with = "maybe_instant")]
    pub range_start: Option<i64>,
    #[serde(serialize_with = "maybe_instant")]
    pub range_end: Option<i64>,
    pub counts: Counts,
    pub status: RunStatus,
    pub error: Option<String>,
    #[serde(serialize_with = "instant")]
    pub started_at: i64,
    #[serde(serialize_with = "maybe_instant")]
    pub finished_at: Option<i64>,
    pub parent: Option<RunId>,
    /// The process that ran it (see [`SharedRuns::instance`]).
    pub instance: Option<String>,
}

/// Epoch seconds written as every other instant of the API is: RFC 3339, UTC.
fn instant<S: serde::Serializer>(epoch: &i64, serializer: S) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&Timestamp::from_epoch(*epoch), serializer)
}

fn maybe_instant<S: serde::Serializer>(
    epoch: &Option<i64>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&epoch.map(Timestamp::from_epoch), serializer)
}

/// The first and last stored instants of a set of series and how many distinct instants hold
/// at least one value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Extent {
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    pub instants: u64,
}

/// Each series' values before its cutoff deleted, series by series; how many each lost.
async fn delete_before<S: Store + ?Sized>(
    store: &S,
    cutoffs: &[(SeriesId, Timestamp)],
) -> Result<Vec<(SeriesId, u64)>, StoreError> {
    let mut out = Vec::with_capacity(cutoffs.len());
    for &(series, cutoff) in cutoffs {
        let range = TimeRange {
            start: Timestamp::from_epoch(i64::MIN / 4),
            end: cutoff,
        };
        out.push((series, store.delete(series, range).await?));
    }
    Ok(out)
}

/// What the backends do each their own way; what they state in the same SQL is written once, in
/// the supertraits [`Shared`], [`SharedRuns`], [`Processing`], [`Forecasts`], [`Models`] and [`Tenants`].
#[async_trait]
pub trait Store:
    Forecasts + Models + Tenants + Processing + Shared + SharedRuns + Send + Sync
{
    /// Upserts `rows` on (series, instant), stores `rejects`, and adds the counts to the run, all
    /// in one transaction. Counts are per distinct (series, instant) of `rows`.
    async fn write_chunk(
        &self,
        run: RunId,
        rows: &[Row],
        rejects: &[Reject],
    ) -> Result<Counts, StoreError>;
    /// Removes a series' values in `range`; returns how many there were.
    async fn delete(&self, series: SeriesId, range: TimeRange) -> Result<u64, StoreError>;
    /// Removes every value of each listed series before its cutoff, as cheaply as the backend
    /// can, and returns how many each lost. The default deletes series by series; PostgreSQL
    /// first drops whole monthly partitions that hold only listed series, all before their
    /// cutoffs.
    async fn drop_before(
        &self,
        cutoffs: &[(SeriesId, Timestamp)],
    ) -> Result<Vec<(SeriesId, u64)>, StoreError> {
        delete_before(self, cutoffs).await
    }
    /// The values of a series in `range`, by instant.
    async fn read(&self, series: SeriesId, range: TimeRange) -> Result<Vec<Point>, StoreError>;
    /// The values of each series in `range`, by instant, in the order of `series`. The default
    /// reads series by series; PostgreSQL reads them all in one snapshot, in a few statements.
    async fn read_many(
        &self,
        series: &[SeriesId],
        range: TimeRange,
    ) -> Result<Vec<Vec<Point>>, StoreError> {
        let mut out = Vec::with_capacity(series.len());
        for &id in series {
            out.push(self.read(id, range).await?);
        }
        Ok(out)
    }
    /// Copies the whole store, as it is at one instant, to the new file `to` while it keeps
    /// serving and loading (`store::backup`). PostgreSQL's copies are made by its own tools.
    async fn backup(&self, to: &std::path::Path) -> Result<(), StoreError> {
        Err(StoreError::Conflict(format!(
            "this store is PostgreSQL: back it up with pg_dump or pg_basebackup (see the README), not into {}",
            to.display()
        )))
    }
}
