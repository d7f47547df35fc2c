//! The shared loading path: a range of one (location, source) cut into month chunks, each
//! fetched and written atomically under one run. A chunk whose every series is already complete
//! is skipped when asked, which makes `init` resumable. A failing chunk is recorded and the next
//! one is tried; the run fails if any chunk did.

use std::sync::Arc;

use anyhow::Context;
use indicatif::ProgressBar;

use super::Outcome;
use crate::core::Core;
use crate::domain::{Grid, Location, Reject, RunStatus, TimeRange, Timestamp};
use crate::sources::Source;
use crate::store::{NewRun, Row, SeriesId, SeriesKey};

/// One (location, source) pair, its series (from [`series_ids`]) and the range to load.
pub struct Target<'a> {
    pub location: &'a Location,
    pub source: &'a Arc<dyn Source>,
    pub series: Vec<(&'static str, SeriesId)>,
    pub range: TimeRange,
}

/// The series ids of every variable a source writes for a location, in the source's order.
pub async fn series_ids(
    core: &Core,
    location: &Location,
    source: &dyn Source,
) -> anyhow::Result<Vec<(&'static str, SeriesId)>> {
    let mut ids = Vec::new();
    for variable in source.variables() {
        let key = SeriesKey {
            location: &location.id,
            dataset: source.dataset(),
            variable: variable.name,
            source: source.id(),
            step: source.step(),
            unit: variable.unit,
        };
        ids.push((variable.name, core.store.ensure_series(&key).await?));
    }
    Ok(ids)
}

/// Loads `target` under a new run of `operation`; `skip_complete` skips chunks already whole.
pub async fn run(
    core: &Core,
    operation: &str,
    target: &Target<'_>,
    now: Timestamp,
    skip_complete: bool,
    progress: &ProgressBar,
) -> anyhow::Result<Outcome> {
    let (location, source) = (target.location, target.source.as_ref());
    let series = &target.series;
    let new_run = NewRun {
        operation,
        location: Some(&location.id),
        dataset: Some(source.dataset()),
        source: Some(source.id()),
        range: Some(target.range),
        started_at: Timestamp::now(),
    };
    let mut outcome = Outcome {
        location: location.id.clone(),
        dataset: source.dataset().to_string(),
        source: source.id().to_string(),
        run: core.store.start_run(&new_run).await?,
        ..Outcome::default()
    };
    for chunk in target.range.split_by_month() {
        outcome.chunks += 1;
        progress.set_message(format!("{} {}", location.id, chunk.start.utc_date()));
        if skip_complete && is_complete(core, series, chunk, source).await? {
            outcome.skipped += 1;
        } else if let Err(error) = load_chunk(core, series, &mut outcome, target, chunk, now).await
        {
            tracing::warn!(location = %location.id, source = source.id(), chunk = %chunk.start, error = format!("{error:#}"), "chunk failed");
            outcome.failed += 1;
            outcome.error.get_or_insert_with(|| format!("{error:#}"));
        }
        progress.inc(1);
    }
    let status = if outcome.failed == 0 {
        RunStatus::Succeeded
    } else {
        RunStatus::Failed
    };
    core.store
        .finish_run(
            outcome.run,
            status,
            outcome.error.as_deref(),
            Timestamp::now(),
        )
        .await?;
    Ok(outcome)
}

async fn is_complete(
    core: &Core,
    series: &[(&str, SeriesId)],
    chunk: TimeRange,
    source: &dyn Source,
) -> anyhow::Result<bool> {
    let expected = Grid::new(chunk, source.step()).len();
    for (_, id) in series {
        if core.store.count_present(*id, chunk).await? < expected {
            return Ok(false);
        }
    }
    Ok(true)
}

async fn load_chunk(
    core: &Core,
    series: &[(&str, SeriesId)],
    outcome: &mut Outcome,
    target: &Target<'_>,
    chunk: TimeRange,
    now: Timestamp,
) -> anyhow::Result<()> {
    let source = target.source;
    let fetched = source
        .fetch(target.location, chunk, now)
        .await
        .with_context(|| {
            format!(
                "fetching {} from {} for {}",
                chunk.start.utc_date(),
                source.id(),
                target.location.id
            )
        })?;
    let mut rejects = fetched.rejects;
    let mut rows = Vec::with_capacity(fetched.observations.len());
    for o in fetched.observations {
        match series.iter().find(|(name, _)| *name == o.variable) {
            Some((_, id)) => rows.push(Row {
                series: *id,
                ts: o.ts,
                value: o.value,
                flag: o.flag,
            }),
            None => rejects.push(Reject {
                record: format!("{} {} = {}", o.variable, o.ts, o.value),
                reason: format!(
                    "variable `{}` is not one {} declares",
                    o.variable,
                    source.id()
                ),
            }),
        }
    }
    let counts = core
        .store
        .write_chunk(outcome.run, &rows, &rejects)
        .await
        .context("writing the chunk")?;
    outcome.counts += counts;
    outcome.missing += fetched.missing;
    Ok(())
}
