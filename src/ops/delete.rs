//! Removing stored values (to try `gaps`/`backfill`, or drop a bad load), recorded as a run
//! like every other write: who removed what, when, and whether it went through.

use crate::core::Core;
use crate::domain::{Dataset, RunStatus, TimeRange, Timestamp};
use crate::store::{NewRun, RunId};

/// What to remove: a location's dataset over a range, optionally one variable or source.
pub struct Selection<'a> {
    pub location: &'a str,
    pub dataset: Dataset,
    pub variable: Option<&'a str>,
    pub source: Option<&'a str>,
    pub range: TimeRange,
}

/// Values removed from one series.
pub struct Deleted {
    pub variable: String,
    pub source: String,
    pub values: u64,
}

/// Removes the selected values under a `delete` run of their own, finished with its outcome.
pub async fn run(
    core: &Core,
    selection: &Selection<'_>,
    now: Timestamp,
) -> anyhow::Result<(RunId, Vec<Deleted>)> {
    let run = core
        .store
        .start_run(&NewRun {
            operation: "delete",
            location: Some(selection.location),
            dataset: Some(selection.dataset),
            source: selection.source,
            range: Some(selection.range),
            started_at: now,
            parent: core.scope.job,
        })
        .await?;
    let result = delete(core, selection).await;
    let (status, error) = match &result {
        Ok(_) => (RunStatus::Succeeded, None),
        Err(error) => (RunStatus::Failed, Some(format!("{error:#}"))),
    };
    core.store
        .finish_run(run, status, error.as_deref(), Timestamp::now())
        .await?;
    Ok((run, result?))
}

async fn delete(core: &Core, selection: &Selection<'_>) -> anyhow::Result<Vec<Deleted>> {
    let mut out = Vec::new();
    for series in core
        .store
        .series(selection.location, selection.dataset)
        .await?
    {
        if selection.variable.is_some_and(|v| v != series.variable)
            || selection.source.is_some_and(|s| s != series.source)
        {
            continue;
        }
        let values = core.store.delete(series.id, selection.range).await?;
        out.push(Deleted {
            variable: series.variable,
            source: series.source,
            values,
        });
    }
    Ok(out)
}
