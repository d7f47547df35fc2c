//! `process`: windowed metrics and anomalies for every series of the locations in scope,
//! incrementally: a series is looked at again only from the earliest instant some run wrote or
//! changed since it was last processed, and from there the windows (whole local days) and the
//! anomalies are computed again and replace what was stored. Re-running changes nothing.
//!
//! "Since it was last processed" is a run id, not a time: values carry the run that last wrote
//! them. A run still writing when `process` looks may commit more values later under its own
//! (older) id, so a series is marked processed only up to the run before the oldest one still
//! running; whatever that run adds later is found next time.
//!
//! Each (location, dataset) is one run of operation `process`; its `inserted` count is the
//! windows written plus the new anomalies.

use jiff::tz::TimeZone;

use super::{Outcome, Summary};
use crate::core::Core;
use crate::domain::anomaly::{self, Bounds};
use crate::domain::windows::{self, Window};
use crate::domain::{Counts, Dataset, RunStatus, TimeRange, Timestamp};
use crate::store::{NewRun, RunId, Series};

/// The reference the anomaly methods look back over (four weeks of one time of day, for a
/// series with a weekly profile, plus a day).
const HISTORY_DAYS: i64 = 29;

pub async fn run(core: &Core, now: Timestamp) -> anyhow::Result<Summary> {
    let mut summary = Summary::default();
    for location in &core.locations() {
        let zone = location.timezone.clone();
        for &dataset in Dataset::ALL {
            let series = core.store.series(&location.id, dataset).await?;
            if series.is_empty() {
                continue;
            }
            let run = core
                .store
                .start_run(&NewRun {
                    operation: "process",
                    location: Some(&location.id),
                    dataset: Some(dataset),
                    source: None,
                    range: None,
                    started_at: Timestamp::now(),
                    parent: core.scope.job,
                })
                .await?;
            let mut outcome = Outcome {
                location: location.id.clone(),
                dataset: dataset.to_string(),
                source: "-".into(),
                run,
                ..Outcome::default()
            };
            let result = process_all(core, run, &series, &zone, now, &mut outcome).await;
            let (status, error) = match &result {
                Ok(()) => (RunStatus::Succeeded, None),
                Err(e) => (RunStatus::Failed, Some(format!("{e:#}"))),
            };
            outcome.error = error.clone();
            core.store
                .finish_run(run, status, error.as_deref(), Timestamp::now())
                .await?;
            summary.outcomes.push(outcome);
        }
    }
    if core.scope.location.is_none() {
        let config = &core.config.processing;
        core.store
            .purge_windows(now.plus(-i64::from(config.metrics_days) * 86_400))
            .await?;
        core.store
            .purge_anomalies(now.plus(-i64::from(config.anomalies_resolved_days) * 86_400))
            .await?;
    }
    Ok(summary)
}

async fn process_all(
    core: &Core,
    run: RunId,
    series: &[Series],
    zone: &TimeZone,
    now: Timestamp,
    outcome: &mut Outcome,
) -> anyhow::Result<()> {
    let horizon = core
        .store
        .process_horizon(core.scope.job.unwrap_or(run))
        .await?;
    for s in series {
        let done = core.store.processed(s.id).await?.unwrap_or(0);
        let Some(changed) = core.store.changed_since(s.id, done).await? else {
            outcome.skipped += 1;
            continue;
        };
        let written = process_one(core, run, s, zone, changed, now).await?;
        core.store.count_derived(run, written).await?;
        outcome.chunks += 1;
        outcome.counts += Counts {
            inserted: written,
            ..Counts::default()
        };
        if horizon > done {
            core.store.set_processed(s.id, horizon).await?;
        }
    }
    Ok(())
}

/// Recomputes one series from the local day holding `changed` (or the retention floor); returns
/// the rows written.
async fn process_one(
    core: &Core,
    run: RunId,
    series: &Series,
    zone: &TimeZone,
    changed: Timestamp,
    now: Timestamp,
) -> anyhow::Result<u64> {
    let config = &core.config.processing;
    let floor = now.plus(-i64::from(config.metrics_days) * 86_400);
    let from = Window::Day.bounds(changed.max(floor), zone).0;
    let history = TimeRange {
        start: from.plus(-HISTORY_DAYS * 86_400),
        end: Timestamp::from_epoch(i64::MAX / 2),
    };
    let points = core.store.read(series.id, history).await?;
    let values: Vec<(Timestamp, f64)> = points.iter().map(|p| (p.ts, p.value)).collect();
    let first = values.partition_point(|&(ts, _)| ts < from);
    let before = first.checked_sub(1).map(|i| values[i]);
    let aggregation = series
        .dataset
        .variable(&series.variable)
        .map_or(crate::domain::Aggregation::Mean, |v| v.aggregation);
    // A category (a weather code) or a direction (wind, from north) has no mean, minimum or
    // deviation worth storing: 359° and 1° are neighbours.
    if matches!(
        aggregation,
        crate::domain::Aggregation::Category | crate::domain::Aggregation::Direction
    ) {
        return Ok(0);
    }
    let mut rows = Vec::new();
    for window in Window::ALL {
        if window.applies_to(series.step) {
            rows.extend(windows::compute(
                &values[first..],
                before,
                series.step,
                window,
                zone,
                aggregation,
            ));
        }
    }
    let mut written = core.store.write_windows(series.id, run, &rows).await?;
    let bounds = config
        .bounds
        .get(&series.dataset)
        .and_then(|b| b.get(&series.variable))
        .map(|b| Bounds {
            min: b.min,
            max: b.max,
            severity: b.severity,
        });
    let settings = anomaly::Settings {
        step: series.step,
        zone,
        min_points: config.min_points as usize,
        bounds,
        flatline_seconds: i64::from(config.flatline_minutes) * 60,
        materiality: config.materiality,
    };
    // A cumulative meter only grows: its anomalies are in what it measures over windows
    // (network balances), not in its readings.
    let found = if aggregation == crate::domain::Aggregation::Counter {
        Vec::new()
    } else {
        anomaly::detect(&values, from, &settings)
    };
    written += core
        .store
        .replace_anomalies(series.id, run, from, &found)
        .await?;
    Ok(written)
}
