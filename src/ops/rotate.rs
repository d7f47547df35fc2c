//! `rotate`: keeps the rolling window of raw values. For every enabled location, values older
//! than the window (cut at a local midnight, so whole local days leave together) are first
//! rolled up into daily rows in the location's time zone, then dropped; rollups older than their
//! own, longer retention are dropped too. Then the window is loaded as `init` does, which fetches
//! the newest complete month and anything else missing. Run twice, the second run changes
//! nothing.

use indicatif::ProgressBar;
use serde::Serialize;

use super::Summary;
use crate::core::Core;
use crate::domain::{Dataset, RunStatus, TimeRange, Timestamp, rollup};
use crate::store::NewRun;

/// What rotation did to one series.
#[derive(Clone, Debug, Serialize)]
pub struct Dropped {
    pub location: String,
    pub dataset: Dataset,
    pub variable: String,
    pub source: String,
    /// Values before this instant left the raw store.
    pub cutoff: String,
    pub values: u64,
    pub rollup_days: u64,
    pub expired_rollups: u64,
}

/// Keeps `months` of raw values and `rollup_months` (`rotate.rollup_months`) of daily rollups,
/// never fewer than the raw window: a shorter one would expire the rollups of the very days
/// being dropped.
pub async fn run(
    core: &Core,
    months: u32,
    rollup_months: u32,
    now: Timestamp,
    progress: &ProgressBar,
) -> anyhow::Result<(Vec<Dropped>, Summary)> {
    let rollup_months = rollup_months.max(months);
    // Every series' rollups first, location by location; then the raw values of all of them go
    // in one call, so a store that can drop a whole month at once (PostgreSQL's partitions) does.
    let mut runs = Vec::new();
    let mut cutoffs = Vec::new();
    let mut about = std::collections::BTreeMap::new();
    for location in &core.locations() {
        let zone = location.timezone.clone();
        let local_midnight = |ts: Timestamp| -> anyhow::Result<Timestamp> {
            let day = ts.to_jiff().to_zoned(zone.clone()).date();
            Ok(Timestamp::from_jiff(
                day.to_zoned(zone.clone())?.timestamp(),
            ))
        };
        let cutoff = local_midnight(now.months_before(months))?;
        let rollup_cutoff = now
            .months_before(rollup_months)
            .to_jiff()
            .to_zoned(zone.clone())
            .date();
        let old = TimeRange {
            start: Timestamp::from_epoch(i64::MIN / 4),
            end: cutoff,
        };
        let run = core
            .store
            .start_run(&NewRun {
                operation: "rotate",
                location: Some(&location.id),
                dataset: None,
                source: None,
                range: Some(old),
                started_at: Timestamp::now(),
                parent: core.scope.job,
            })
            .await?;
        runs.push(run);
        for &dataset in Dataset::ALL {
            for series in core.store.series(&location.id, dataset).await? {
                let points = core.store.read(series.id, old).await?;
                let values: Vec<(Timestamp, f64)> =
                    points.iter().map(|p| (p.ts, p.value)).collect();
                let rows = rollup::daily(&values, &zone);
                // Rollups first: if the process dies before the drop, nothing is lost.
                core.store.write_rollups(series.id, &rows).await?;
                let expired = core.store.delete_rollups(series.id, rollup_cutoff).await?;
                cutoffs.push((series.id, cutoff));
                about.insert(
                    series.id,
                    Dropped {
                        location: location.id.clone(),
                        dataset,
                        variable: series.variable.clone(),
                        source: series.source.clone(),
                        cutoff: cutoff.to_string(),
                        values: 0,
                        rollup_days: rows.len() as u64,
                        expired_rollups: expired,
                    },
                );
            }
        }
    }
    let lost = core.store.drop_before(&cutoffs).await;
    let status = if lost.is_ok() {
        RunStatus::Succeeded
    } else {
        RunStatus::Failed
    };
    let error = lost.as_ref().err().map(|e| e.to_string());
    for run in runs {
        core.store
            .finish_run(run, status, error.as_deref(), Timestamp::now())
            .await?;
    }
    let mut dropped = Vec::new();
    for (series, values) in lost? {
        if let Some(mut d) = about.remove(&series) {
            d.values = values;
            if d.values > 0 || d.expired_rollups > 0 {
                dropped.push(d);
            }
        }
    }
    let mut summary = super::init::run(core, months, now, progress).await?;
    summary.outcomes.push(prune(core, now).await?);
    Ok((dropped, summary))
}

/// Housekeeping (`[housekeeping]`): runs that left nothing behind and rejects, past their
/// retention.
async fn prune(core: &Core, now: Timestamp) -> anyhow::Result<super::Outcome> {
    let keep = &core.config.housekeeping;
    let (runs, rejects) = core
        .store
        .prune_runs(
            now.plus(-i64::from(keep.runs_days) * 86_400),
            now.plus(-i64::from(keep.rejects_days) * 86_400),
        )
        .await?;
    Ok(super::Outcome {
        location: "-".into(),
        dataset: "-".into(),
        source: "housekeeping".into(),
        note: Some(format!(
            "{runs} runs older than {} days that left nothing behind and {rejects} rejects older than {} days removed",
            keep.runs_days, keep.rejects_days
        )),
        ..super::Outcome::default()
    })
}
