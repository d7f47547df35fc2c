//! Runs: the most recent, a job's last, the records one refused, and one with the runs it
//! started and the records it refused.

use serde::Serialize;

use super::QueryError;
use crate::core::Core;
use crate::domain::Reject;
pub use crate::store::Run;

/// The `limit` most recent runs, newest first.
pub async fn recent(core: &Core, limit: u32) -> Result<Vec<Run>, QueryError> {
    Ok(core.reader().runs(limit).await?)
}

/// The newest finished run of `job` itself (no location, no parent), not of the runs it
/// started; `None` when it never ran.
pub async fn last_job(core: &Core, job: &str) -> Result<Option<Run>, QueryError> {
    Ok(core.reader().last_run(job, true).await?)
}

/// The records run `id` refused, oldest first; `None` when there is no run `id`.
pub async fn rejects(core: &Core, id: i64) -> Result<Option<Vec<Reject>>, QueryError> {
    if core.reader().runs_by_id(&[id]).await?.is_empty() {
        return Ok(None);
    }
    Ok(Some(core.reader().rejects(id).await?))
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
        .reader()
        .runs_by_id(&[id])
        .await?
        .pop()
        .ok_or_else(|| QueryError::not_found("unknown_run", format!("no run {id}")))?;
    let rejects = core
        .reader()
        .rejects(id)
        .await?
        .into_iter()
        .map(|r| RejectOut {
            reason: r.reason,
            record: r.record,
        })
        .collect();
    let children = core.reader().child_runs(id).await?;
    Ok(RunDetail {
        run,
        children,
        rejects,
    })
}
