//! Jobs: an operation run on behalf of the scheduler or an admin request, recorded as a run of
//! its own (no location) whose children are the runs the operation starts. Its counts become the
//! sums of its children's when it finishes; it fails if the operation returned an error or any
//! child failed, with the whole error chain or the first child's error.

use indicatif::ProgressBar;

use super::Summary;
use crate::core::{Core, Scope};
use crate::domain::{RunStatus, TimeRange, Timestamp};
use crate::store::{NewRun, RunId};

/// What a job does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    /// Load the window (`months`), skipping complete months.
    Init { months: u32 },
    /// Current data from every source.
    Ingest,
    /// Backfill the gaps of the last `days` days.
    Gaps { days: u32 },
    /// Backfill every gap of the window.
    Backfill,
    /// Keep `months` of raw values and `rollup_months` of daily rollups.
    Rotate { months: u32, rollup_months: u32 },
    /// Windowed metrics and anomalies of what changed since the last time.
    Process,
    /// Weather forecasts, stored as issued.
    Forecast,
    /// Models due for a new version trained.
    Train,
    /// Models judged and their forecasts stored.
    Predict,
    /// What operators are told of, checked (`[notify]`).
    Watch,
}

impl Job {
    pub fn name(self) -> &'static str {
        match self {
            Job::Init { .. } => "init",
            Job::Ingest => "ingest",
            Job::Gaps { .. } => "gaps",
            Job::Backfill => "backfill",
            Job::Rotate { .. } => "rotate",
            Job::Process => "process",
            Job::Forecast => "forecast",
            Job::Train => "train",
            Job::Predict => "predict",
            Job::Watch => "watch",
        }
    }

    /// The job named `name` with its parameters from the configuration.
    pub fn configured(name: &str, core: &Core) -> Option<Job> {
        let config = &core.config;
        Some(match name {
            "init" => Job::Init {
                months: config.init.months,
            },
            "ingest" => Job::Ingest,
            "gaps" => Job::Gaps {
                days: config.schedule.recent_days,
            },
            "backfill" => Job::Backfill,
            "rotate" => Job::Rotate {
                months: config.rotate.months,
                rollup_months: config.rotate.rollup_months,
            },
            "process" => Job::Process,
            "forecast" => Job::Forecast,
            "train" => Job::Train,
            "predict" => Job::Predict,
            "watch" => Job::Watch,
            _ => return None,
        })
    }
}

/// Records the start of `job` limited to `location` (all enabled locations if `None`).
pub async fn begin(core: &Core, job: Job, location: Option<&str>) -> anyhow::Result<RunId> {
    Ok(core
        .store
        .start_run(&NewRun {
            operation: job.name(),
            location,
            dataset: None,
            source: None,
            range: None,
            started_at: Timestamp::now(),
            parent: None,
        })
        .await?)
}

/// Runs `job` under the job run `run` (from [`begin`]) and finishes that run.
pub async fn execute(
    core: &Core,
    job: Job,
    run: RunId,
    location: Option<&str>,
) -> anyhow::Result<Summary> {
    let core = core.scoped(Scope {
        job: Some(run),
        location: location.map(str::to_owned),
    });
    let result = operate(&core, job).await;
    let (status, error) = match &result {
        Ok(summary) if !summary.failed() => (RunStatus::Succeeded, None),
        Ok(summary) => (
            RunStatus::Failed,
            summary.outcomes.iter().find_map(|o| o.error.clone()),
        ),
        Err(error) => (RunStatus::Failed, Some(format!("{error:#}"))),
    };
    let now = Timestamp::now();
    core.store
        .finish_run(run, status, error.as_deref(), now)
        .await?;
    // Told when a job's run fails, and when the next run of it succeeds.
    let scope = location.map_or_else(String::new, |l| format!(":{l}"));
    let topic = format!("job_failed:{}{scope}", job.name());
    let detail = match &error {
        Some(error) => format!("run {run}: {error}"),
        None => format!("run {run} succeeded"),
    };
    let title = format!("job {}{scope} failed", job.name());
    let notice = super::notify::Notice {
        topic: &topic,
        title: &title,
        detail: &detail,
    };
    super::notify::check(&core, notice, error.is_some(), 0, false, now).await;
    result
}

async fn operate(core: &Core, job: Job) -> anyhow::Result<Summary> {
    let (now, progress) = (Timestamp::now(), ProgressBar::hidden());
    match job {
        Job::Init { months } => super::init::run(core, months, now, &progress).await,
        Job::Ingest => super::ingest::run(core, now, &progress).await,
        Job::Gaps { days } => {
            let window = TimeRange {
                start: now.plus(-i64::from(days) * 86_400),
                end: now,
            };
            let plan = super::backfill::plan(core, None, Some(window), now).await?;
            super::backfill::run(core, &plan, now, &progress).await
        }
        Job::Backfill => {
            let plan = super::backfill::plan(core, None, None, now).await?;
            super::backfill::run(core, &plan, now, &progress).await
        }
        Job::Process => super::process::run(core, now).await,
        Job::Forecast => super::forecast::run(core, now).await,
        Job::Train => super::model::run_train(core, now).await,
        Job::Predict => super::model::run_predict(core, now).await,
        Job::Watch => super::notify::watch(core, now).await,
        Job::Rotate {
            months,
            rollup_months,
        } => Ok(
            super::rotate::run(core, months, rollup_months, now, &progress)
                .await?
                .1,
        ),
    }
}
