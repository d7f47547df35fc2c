//! Runs: the most recent, and one with the runs it started and the records it refused.

use serde::Serialize;

use super::QueryError;
use crate::core::Core;
pub use crate::store::Run;

/// The `limit` most recent runs, newest first.
pub async fn recent(core: &Core, limit: u32) -> Result<Vec<Run>, QueryError> {
    Ok(core.store.runs(limit).await?)
}

#[derive(Serialize)]
pub struct RunDetail {
    #[serde(flatten)]
    run: Run,
    /// The runs a job run started (empty for other runs).
    children: Vec<Run>,
    rejects: Vec<RejectOut>,
}

#[derive(Serialize)]
pub struct RejectOut {
    reason: String,
    record: String,
}

/// Run `id` with the runs it started (a job's) and the records it refused.
pub async fn detail(core: &Core, id: i64) -> Result<RunDetail, QueryError> {
    let run = core
        .store
        .runs_by_id(&[id])
        .await?
        .pop()
        .ok_or_else(|| QueryError::not_found("unknown_run", format!("no run {id}")))?;
    let rejects = core
        .store
        .rejects(id)
        .await?
        .into_iter()
        .map(|r| RejectOut {
            reason: r.reason,
            record: r.record,
        })
        .collect();
    let children = core.store.child_runs(id).await?;
    Ok(RunDetail {
        run,
        children,
        rejects,
    })
}
