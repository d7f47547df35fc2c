//! Storage: the [`Store`] trait every backend implements and passes one conformance suite with
//! (`tests/it/store_conformance.rs`), and its types. Observations are narrow rows keyed by
//! (series, instant); a chunk of rows, its rejects and its run's counts commit in one
//! transaction, so a killed load leaves whole chunks or nothing.

mod batch;
mod block;
mod postgres;
mod processing;
mod rows;
mod shared;
mod sqlite;

use async_trait::async_trait;

pub use batch::{Batch, WRITE_BATCH_ROWS};
pub use postgres::Postgres;
pub use processing::{AnomalyFilter, Processing, StoredAnomaly};
pub use shared::Shared;
pub use sqlite::Sqlite;

use crate::domain::{
    Counts, Dataset, Flag, Location, Reject, RunStatus, Step, TimeRange, Timestamp,
};

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
    /// The process that ran it (see [`Store::instance`]).
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

#[async_trait]
pub trait Store: Processing + Shared + Send + Sync {
    /// Succeeds when the store answers a trivial query.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Records the configured locations (inserted or updated by id).
    async fn sync_locations(&self, locations: &[Location]) -> Result<(), StoreError>;
    /// The id of the series, created on first use; a different step or unit is a conflict.
    async fn ensure_series(&self, key: &SeriesKey<'_>) -> Result<SeriesId, StoreError>;
    /// Every series of a location's dataset.
    async fn series(&self, location: &str, dataset: Dataset) -> Result<Vec<Series>, StoreError>;
    /// This handle's name in runs and leases: host, process and a random part, so two processes
    /// (or two handles in one test) never share one.
    fn instance(&self) -> &str;
    /// Starts a run owned by this handle's instance.
    async fn start_run(&self, run: &NewRun<'_>) -> Result<RunId, StoreError>;
    /// Upserts `rows` on (series, instant), stores `rejects`, and adds the counts to the run, all
    /// in one transaction. Counts are per distinct (series, instant) of `rows`.
    async fn write_chunk(
        &self,
        run: RunId,
        rows: &[Row],
        rejects: &[Reject],
    ) -> Result<Counts, StoreError>;
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
    /// The rejects a run recorded, oldest first.
    async fn rejects(&self, run: RunId) -> Result<Vec<Reject>, StoreError>;
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
    /// A counter raised by every write that changes a value of the location's dataset (0 before
    /// any): equal versions mean equal data.
    async fn version(&self, location: &str, dataset: Dataset) -> Result<i64, StoreError>;
    /// How many values a series holds in `range`.
    async fn count_present(&self, series: SeriesId, range: TimeRange) -> Result<u64, StoreError>;
    async fn last_timestamp(&self, series: SeriesId) -> Result<Option<Timestamp>, StoreError>;
    /// The values of a series in `range`, by instant.
    async fn read(&self, series: SeriesId, range: TimeRange) -> Result<Vec<Point>, StoreError>;
    async fn extent(&self, series: &[SeriesId]) -> Result<Extent, StoreError>;
}
