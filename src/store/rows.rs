//! Stored rows as both stores read them back, and their conversion into the store's types: the
//! SQL differs between SQLite and PostgreSQL (placeholders, types), what comes back does not.

use super::{Absence, DailyRollup, Point, Run, Series, StoreError};
use crate::domain::{Counts, Dataset, Flag, RunStatus, Step, TimeRange, Timestamp};

/// The columns of `runs` that [`RunRow`] reads, in its order.
macro_rules! run_columns {
    () => {
        "id, operation, location_id, dataset, source, range_start, range_end, inserted, updated, \
         unchanged, rejected, status, error, started_at, finished_at, parent_id, instance"
    };
}
pub(super) use run_columns;

/// A `runs` row as stored.
#[derive(sqlx::FromRow)]
pub(super) struct RunRow {
    id: i64,
    operation: String,
    location_id: Option<String>,
    dataset: Option<String>,
    source: Option<String>,
    range_start: Option<i64>,
    range_end: Option<i64>,
    inserted: i64,
    updated: i64,
    unchanged: i64,
    rejected: i64,
    status: String,
    error: Option<String>,
    started_at: i64,
    finished_at: Option<i64>,
    parent_id: Option<i64>,
    instance: Option<String>,
}

pub(super) fn run(row: RunRow) -> Result<Run, StoreError> {
    let status = RunStatus::parse(&row.status)
        .ok_or_else(|| StoreError::Corrupt(format!("run {} has status {}", row.id, row.status)))?;
    Ok(Run {
        id: row.id,
        operation: row.operation,
        location: row.location_id,
        dataset: row.dataset,
        source: row.source,
        range_start: row.range_start,
        range_end: row.range_end,
        counts: Counts {
            inserted: row.inserted as u64,
            updated: row.updated as u64,
            unchanged: row.unchanged as u64,
            rejected: row.rejected as u64,
        },
        status,
        error: row.error,
        started_at: row.started_at,
        finished_at: row.finished_at,
        parent: row.parent_id,
        instance: row.instance,
    })
}

/// `id, location_id, variable, source, step_seconds, unit` of a series of `dataset`.
pub(super) type SeriesRow = (i64, String, String, String, i64, String);

pub(super) fn series(
    (id, location, variable, source, step, unit): SeriesRow,
    dataset: Dataset,
) -> Result<Series, StoreError> {
    let step = Step::from_seconds(step)
        .ok_or_else(|| StoreError::Corrupt(format!("series {id} has step {step}")))?;
    Ok(Series {
        id,
        location,
        dataset,
        variable,
        source,
        step,
        unit,
    })
}

/// `source, range_start, range_end, attempts, first_seen, last_tried` of an absence.
pub(super) type AbsenceRow = (String, i64, i64, i64, i64, i64);

pub(super) fn absence((source, start, end, attempts, first, last): AbsenceRow) -> Absence {
    Absence {
        source,
        range: TimeRange {
            start: Timestamp::from_epoch(start),
            end: Timestamp::from_epoch(end),
        },
        attempts: attempts as u32,
        first_seen: Timestamp::from_epoch(first),
        last_tried: Timestamp::from_epoch(last),
    }
}

/// `day, count, mean, min, max, sum, first, last` of a daily rollup.
pub(super) type RollupRow = (String, i64, f64, f64, f64, f64, f64, f64);

pub(super) fn rollup(
    (day, count, mean, min, max, sum, first, last): RollupRow,
) -> Result<DailyRollup, StoreError> {
    Ok(DailyRollup {
        day: day
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("rollup day {day}")))?,
        count: count as u64,
        mean,
        min,
        max,
        sum,
        first,
        last,
    })
}

/// `ts, value, flag, created_run, updated_run` of an observation.
pub(super) type PointRow = (i64, f64, i64, i64, i64);

pub(super) fn point(
    (ts, value, flag, created_run, updated_run): PointRow,
) -> Result<Point, StoreError> {
    let flag =
        Flag::from_code(flag).ok_or_else(|| StoreError::Corrupt(format!("flag code {flag}")))?;
    Ok(Point {
        ts: Timestamp::from_epoch(ts),
        value,
        flag,
        created_run,
        updated_run,
    })
}

/// `record, reason, variable, ts, kind` of a reject.
pub(super) type RejectRow = (String, String, Option<String>, Option<i64>, Option<String>);

pub(super) fn reject((record, reason, variable, ts, kind): RejectRow) -> crate::domain::Reject {
    let kind = kind.as_deref().and_then(crate::domain::RefusedKind::parse);
    crate::domain::Reject {
        record,
        reason,
        value: variable.zip(ts).zip(kind).map(|((variable, ts), kind)| {
            crate::domain::RejectedValue {
                origin: None,
                variable,
                ts: Timestamp::from_epoch(ts),
                kind,
            }
        }),
    }
}
