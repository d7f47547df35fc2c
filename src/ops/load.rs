//! The shared loading path: a range of one (location, source) cut into month chunks, each
//! fetched, and written atomically under one run in batches of consecutive chunks
//! ([`Batch`]). A chunk whose every series is already complete is skipped when asked, which makes
//! `init` resumable. A failing chunk is recorded and the next one is tried; the run fails if any
//! chunk did.

use std::sync::Arc;

use anyhow::Context;
use indicatif::ProgressBar;

use super::Outcome;
use crate::core::Core;
use crate::domain::{Grid, Location, Reject, RunStatus, TimeRange, Timestamp, Variable};
use crate::sources::Source;
use crate::store::{Batch, NewRun, Row, SeriesId, SeriesKey};

/// One (location, source) pair, its series (from [`series_ids`]) and the range to load.
pub struct Target {
    pub location: Location,
    pub source: Arc<dyn Source>,
    pub series: Vec<(&'static str, SeriesId)>,
    pub range: TimeRange,
}

impl Target {
    /// The outcome of a load that could not even record its run (the store refused it).
    pub fn failed(&self, error: &str) -> Outcome {
        Outcome {
            location: self.location.id.clone(),
            dataset: self.source.dataset().to_string(),
            source: self.source.id().to_string(),
            failed: 1,
            error: Some(error.to_owned()),
            ..Outcome::default()
        }
    }
}

/// Loads every target, `loads.parallel` at once (each provider still within its budget and
/// in-flight cap: those are the source's own); outcomes in the targets' order. A target that
/// fails outright is an outcome with its error; the others go on.
pub async fn run_all(
    core: &Core,
    operation: &'static str,
    targets: Vec<Target>,
    now: Timestamp,
    skip_complete: bool,
    progress: &ProgressBar,
) -> Vec<Outcome> {
    let limit = core.config.loads.parallel as usize;
    let labels: Vec<Outcome> = targets.iter().map(|t| t.failed("")).collect();
    let each = super::parallel::each(limit, targets, |target| {
        let (core, progress) = (core.clone(), progress.clone());
        async move {
            match run(&core, operation, &target, now, skip_complete, &progress).await {
                Ok(outcome) => outcome,
                Err(error) => {
                    tracing::warn!(location = %target.location.id, source = target.source.id(), error = format!("{error:#}"), "{operation} failed");
                    target.failed(&format!("{error:#}"))
                }
            }
        }
    });
    each.await
        .into_iter()
        .zip(labels)
        .map(|(result, label)| {
            result.unwrap_or_else(|why| Outcome {
                error: Some(why),
                ..label
            })
        })
        .collect()
}

/// The series ids of every variable a source declares for a location, in the source's order.
pub async fn series_ids(
    core: &Core,
    location: &Location,
    source: &dyn Source,
) -> anyhow::Result<Vec<(&'static str, SeriesId)>> {
    let mut ids = Vec::new();
    for variable in source.variables() {
        ids.push((
            variable.name,
            series_id(core, location, source, variable).await?,
        ));
    }
    Ok(ids)
}

/// The series of one variable from one source at one location, created on first use. Its step
/// is the variable's own where it has one (a price's `_15min`), the source's otherwise.
async fn series_id(
    core: &Core,
    location: &Location,
    source: &dyn Source,
    variable: &Variable,
) -> anyhow::Result<SeriesId> {
    let key = SeriesKey {
        location: &location.id,
        dataset: source.dataset(),
        variable: variable.name,
        source: source.id(),
        step: source
            .dataset()
            .natural_step(variable.name)
            .unwrap_or(source.step()),
        unit: variable.unit,
    };
    Ok(core.store.ensure_series(&key).await?)
}

/// Loads `target` under a new run of `operation`; `skip_complete` skips chunks already whole.
pub async fn run(
    core: &Core,
    operation: &str,
    target: &Target,
    now: Timestamp,
    skip_complete: bool,
    progress: &ProgressBar,
) -> anyhow::Result<Outcome> {
    let started = std::time::Instant::now();
    let (location, source) = (&target.location, target.source.as_ref());
    let series = &target.series;
    let new_run = NewRun {
        operation,
        location: Some(&location.id),
        dataset: Some(source.dataset()),
        source: Some(source.id()),
        range: Some(target.range),
        started_at: Timestamp::now(),
        parent: core.scope.job,
    };
    let mut outcome = Outcome {
        location: location.id.clone(),
        dataset: source.dataset().to_string(),
        source: source.id().to_string(),
        run: core.store.start_run(&new_run).await?,
        ..Outcome::default()
    };
    let mut batch = Batch::default();
    let chunks = target.range.split_by_month();
    let last = chunks.len().saturating_sub(1);
    for (i, chunk) in chunks.into_iter().enumerate() {
        outcome.chunks += 1;
        progress.set_message(format!("{} {}", location.id, chunk.start.utc_date()));
        if skip_complete && is_complete(core, series, chunk, source).await? {
            outcome.skipped += 1;
        } else {
            match fetch_chunk(core, series, target, chunk, now).await {
                Ok((rows, rejects, missing)) => {
                    batch.push(rows, rejects);
                    outcome.missing += missing;
                }
                Err(error) => {
                    tracing::warn!(location = %location.id, source = source.id(), chunk = %chunk.start, error = format!("{error:#}"), "chunk failed");
                    outcome.failed += 1;
                    outcome.error.get_or_insert_with(|| format!("{error:#}"));
                }
            }
        }
        if batch.is_full() || (i == last && batch.chunks() > 0) {
            let chunks = batch.chunks();
            match batch.write(core.store.as_ref(), outcome.run).await {
                Ok(counts) => outcome.counts += counts,
                Err(error) => {
                    tracing::warn!(location = %location.id, source = source.id(), chunks, error = %error, "writing chunks failed");
                    outcome.failed += chunks;
                    outcome
                        .error
                        .get_or_insert_with(|| format!("writing the chunks: {error}"));
                }
            }
        }
        progress.inc(1);
    }
    let labels = [
        ("city", location.id.as_str()),
        ("data_type", source.dataset().as_str()),
        ("source", source.id()),
    ];
    let written = outcome.counts.inserted + outcome.counts.updated;
    core.metrics
        .add("external_ingestion_records_total", &labels, written as f64);
    core.metrics.add(
        "external_ingestion_failures_total",
        &labels,
        outcome.failed as f64,
    );
    core.metrics.observe(
        "external_ingestion_duration_seconds",
        &labels,
        started.elapsed().as_secs_f64(),
    );
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
    for (name, id) in series {
        let step = source.dataset().natural_step(name).unwrap_or(source.step());
        if core.store.count_present(*id, chunk).await? < Grid::new(chunk, step).len() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Fetches one chunk: its rows, its rejects and how many values the source said were missing.
async fn fetch_chunk(
    core: &Core,
    series: &[(&str, SeriesId)],
    target: &Target,
    chunk: TimeRange,
    now: Timestamp,
) -> anyhow::Result<(Vec<Row>, Vec<Reject>, u64)> {
    let source = &target.source;
    let fetched = source
        .fetch(&target.location, chunk, now)
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
    // Variables of the dataset the source does not declare up front (a price's `_15min` once
    // the market moved to quarter hours) get their series on first sight.
    let mut extra: Vec<(&'static str, SeriesId)> = Vec::new();
    for o in fetched.observations {
        let known = series
            .iter()
            .chain(&extra)
            .find(|(name, _)| *name == o.variable)
            .map(|(_, id)| *id);
        let id = match known {
            Some(id) => Some(id),
            None => match source.dataset().variable(o.variable) {
                Some(variable) => {
                    let id = series_id(core, &target.location, source.as_ref(), variable).await?;
                    extra.push((variable.name, id));
                    Some(id)
                }
                None => None,
            },
        };
        match id {
            Some(id) => rows.push(Row {
                series: id,
                ts: o.ts,
                value: o.value,
                flag: o.flag,
            }),
            None => rejects.push(Reject {
                record: format!("{} {} = {}", o.variable, o.ts, o.value),
                reason: format!("`{}` is not a {} variable", o.variable, source.dataset()),
                value: None,
            }),
        }
    }
    Ok((rows, rejects, fetched.missing))
}
