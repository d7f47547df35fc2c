//! Jobs that overlap on one store wait their turn instead of failing: the default schedule fires
//! `ingest`, `gaps` and `process` at the same tick, and SQLite once answered `database is locked`
//! to whichever tried to write second.

use std::process::{Command, Stdio};

use almanac::core::Core;
use almanac::domain::{Dataset, RunStatus, Step, TimeRange, Timestamp};
use almanac::ops::job::{self, Job};

use crate::support::{loaded, serve};

/// Holes in the last week's weather, so that the `gaps` job has something to write.
async fn punch_holes(core: &Core, round: i64) {
    let now = Timestamp::now().floor(Step::HOUR);
    for series in core.store.series("madrid", Dataset::Weather).await.unwrap() {
        let start = now.plus(-86_400 * (2 + round % 4));
        let range = TimeRange {
            start,
            end: start.plus(6 * 3_600),
        };
        core.store.delete(series.id, range).await.unwrap();
    }
}

async fn failed_runs(core: &Core) -> Vec<String> {
    core.store
        .runs(10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.status == RunStatus::Failed)
        .map(|r| format!("{} {}: {:?}", r.id, r.operation, r.error))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_jobs_at_once_in_one_process_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = serve(almanac::demo::upstream::router()).await;
    let core = loaded(&dir, upstream, &[]).await;
    for round in 0..4 {
        punch_holes(&core, round).await;
        let jobs = [Job::Ingest, Job::Gaps { days: 7 }, Job::Process].map(|job| {
            let core = core.clone();
            tokio::spawn(async move {
                let run = job::begin(&core, job, None).await.unwrap();
                job::execute(&core, job, run, None).await
            })
        });
        for (job, handle) in jobs.into_iter().enumerate() {
            let summary = handle.await.unwrap();
            let summary = summary.unwrap_or_else(|e| panic!("round {round} job {job}: {e:#}"));
            assert!(!summary.failed(), "round {round} job {job}: {summary}");
        }
    }
    let failed = failed_runs(&core).await;
    assert!(failed.is_empty(), "{failed:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_at_once_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = serve(almanac::demo::upstream::router()).await;
    let core = loaded(&dir, upstream, &[]).await;
    let env = crate::support::env(&dir, upstream, &[("ALMANAC_LOG", "warn")]);
    for round in 0..3 {
        punch_holes(&core, round).await;
        let children: Vec<_> = [&["ingest"][..], &["backfill"], &["process"]]
            .iter()
            .map(|args| {
                let mut command = Command::new(env!("CARGO_BIN_EXE_almanac"));
                if let Some(url) = crate::support::postgres_for(&dir) {
                    command.env("ALMANAC__STORE__URL", url);
                }
                command
                    .args(*args)
                    .envs(env.iter().cloned())
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let output = child.wait_with_output().unwrap();
            assert!(
                output.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    let failed = failed_runs(&core).await;
    assert!(failed.is_empty(), "{failed:#?}");
}
