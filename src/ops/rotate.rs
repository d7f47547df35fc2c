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

pub async fn run(
    core: &Core,
    months: u32,
    rollup_months: u32,
    now: Timestamp,
    progress: &ProgressBar,
) -> anyhow::Result<(Vec<Dropped>, Summary)> {
    let mut dropped = Vec::new();
    for location in core.locations() {
        let zone = jiff::tz::TimeZone::get(&location.timezone)?;
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
        for &dataset in Dataset::ALL {
            for series in core.store.series(&location.id, dataset).await? {
                let points = core.store.read(series.id, old).await?;
                let values: Vec<(Timestamp, f64)> =
                    points.iter().map(|p| (p.ts, p.value)).collect();
                let rows = rollup::daily(&values, &zone);
                // Rollups first: if the process dies between the two, nothing is lost.
                core.store.write_rollups(series.id, &rows).await?;
                let deleted = core.store.delete(series.id, old).await?;
                let expired = core.store.delete_rollups(series.id, rollup_cutoff).await?;
                if deleted > 0 || expired > 0 {
                    dropped.push(Dropped {
                        location: location.id.clone(),
                        dataset,
                        variable: series.variable.clone(),
                        source: series.source.clone(),
                        cutoff: cutoff.to_string(),
                        values: deleted,
                        rollup_days: rows.len() as u64,
                        expired_rollups: expired,
                    });
                }
            }
        }
        core.store
            .finish_run(run, RunStatus::Succeeded, None, Timestamp::now())
            .await?;
    }
    let summary = super::init::run(core, months, now, progress).await?;
    Ok((dropped, summary))
}
