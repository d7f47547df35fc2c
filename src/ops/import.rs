//! `import`: loads a saved file or export (SIAR daily CSVs, a utility's sensor export in a declared
//! CSV format, any saved upstream payload) into the store, exactly as the live path parses it.
//! Values go to one location, or, for files carrying several stations or nodes, each to the
//! location named like its origin. One run per (location, dataset, source); rows are written in
//! batches of whole calendar months ([`Batch`]), each one transaction; re-importing the same file
//! changes nothing. The source id of
//! imported series is the kind (`siar`, `csv_<format>`), which a location's priority list names.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;

use super::{Outcome, Summary};
use crate::core::Core;
use crate::domain::{Dataset, Reject, RunStatus, Step, TimeRange, Timestamp};
use crate::sources::Reading;
use crate::sources::kinds::{self, Options};
use crate::store::{Batch, NewRun, Row, SeriesKey};

/// Where imported values go.
pub enum Target<'a> {
    /// Every value to this location.
    Location(&'a str),
    /// Each value to the location whose id is its origin (station, node), lowercased.
    ByOrigin,
}

pub async fn run(
    core: &Core,
    kind: &str,
    path: &Path,
    target: Target<'_>,
    options: &Options<'_>,
) -> anyhow::Result<Summary> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let payload = kinds::payload(kind, &bytes, options)?;
    let source = kinds::source_id(kind);
    let step = match kind.strip_prefix("csv:") {
        Some(name) => options.formats.and_then(|f| f.get(name)).map(|f| f.step()),
        None => None,
    };
    let dataset = payload.dataset;
    let mut by_location: BTreeMap<String, Vec<Reading>> = BTreeMap::new();
    let mut unplaced = Vec::new();
    for reading in payload.readings {
        let id = match &target {
            Target::Location(id) => Some((*id).to_owned()),
            Target::ByOrigin => reading.origin.as_deref().map(str::to_lowercase),
        };
        match id.and_then(|id| core.registry.get(&id).map(|l| l.id.clone())) {
            Some(id) => by_location.entry(id).or_default().push(reading),
            None => unplaced.push(reading),
        }
    }
    if let Target::Location(id) = target
        && core.registry.get(id).is_none()
    {
        anyhow::bail!("no location `{id}` (almanac locations list)");
    }
    let mut rejects = payload.rejects;
    for reading in unplaced {
        rejects.push(Reject {
            record: format!(
                "{} {} at {} = {}",
                reading.origin.as_deref().unwrap_or("-"),
                reading.observation.variable,
                reading.observation.ts,
                reading.observation.value
            ),
            reason: "no location is named like this value's station or node".into(),
            value: None,
        });
    }
    // A refused value goes with its node's location (data quality counts it there); other
    // refused records with the first location imported.
    let mut by_origin: BTreeMap<String, Vec<Reject>> = BTreeMap::new();
    rejects.retain(|r| {
        let home = match (&target, r.value.as_ref()) {
            (Target::Location(id), Some(_)) => Some((*id).to_owned()),
            (Target::ByOrigin, Some(v)) => v.origin.as_deref().map(str::to_lowercase),
            _ => None,
        }
        .and_then(|id| core.registry.get(&id).map(|l| l.id.clone()))
        .filter(|id| by_location.contains_key(id));
        match home {
            Some(id) => {
                by_origin.entry(id).or_default().push(r.clone());
                false
            }
            None => true,
        }
    });
    let mut summary = Summary::default();
    let mut first = true;
    for (location, readings) in by_location {
        let mut leftover = if first {
            std::mem::take(&mut rejects)
        } else {
            Vec::new()
        };
        leftover.extend(by_origin.remove(&location).unwrap_or_default());
        first = false;
        summary
            .outcomes
            .push(write(core, &location, dataset, &source, step, readings, leftover).await?);
    }
    if !rejects.is_empty() {
        anyhow::bail!(
            "nothing to import: {} records refused, the first because {}",
            rejects.len(),
            rejects[0].reason
        );
    }
    Ok(summary)
}

async fn write(
    core: &Core,
    location: &str,
    dataset: Dataset,
    source: &str,
    step: Option<Step>,
    readings: Vec<Reading>,
    rejects: Vec<Reject>,
) -> anyhow::Result<Outcome> {
    let first = readings.iter().map(|r| r.observation.ts).min();
    let last = readings.iter().map(|r| r.observation.ts).max();
    let range = first
        .zip(last)
        .and_then(|(a, b)| TimeRange::new(a, b.plus(1)));
    let run = core
        .store
        .start_run(&NewRun {
            operation: "import",
            location: Some(location),
            dataset: Some(dataset),
            source: Some(source),
            range,
            started_at: Timestamp::now(),
            parent: core.scope.job,
        })
        .await?;
    let mut series = BTreeMap::new();
    let mut months: BTreeMap<jiff::civil::Date, Vec<Row>> = BTreeMap::new();
    for reading in readings {
        let o = reading.observation;
        let Some(variable) = dataset.variable(o.variable) else {
            continue;
        };
        let id = match series.get(o.variable) {
            Some(id) => *id,
            None => {
                let key = SeriesKey {
                    location,
                    dataset,
                    variable: variable.name,
                    source,
                    step: dataset
                        .natural_step(variable.name)
                        .or(step)
                        .unwrap_or(Step::HOUR),
                    unit: variable.unit,
                };
                let id = core.store.ensure_series(&key).await?;
                series.insert(variable.name, id);
                id
            }
        };
        months
            .entry(o.ts.utc_date().first_of_month())
            .or_default()
            .push(Row {
                series: id,
                ts: o.ts,
                value: o.value,
                flag: o.flag,
            });
    }
    let mut outcome = Outcome {
        location: location.to_owned(),
        dataset: dataset.to_string(),
        source: source.to_owned(),
        run,
        ..Outcome::default()
    };
    let mut batch = Batch::default();
    batch.push(Vec::new(), rejects);
    for rows in months.into_values() {
        outcome.chunks += 1;
        batch.push(rows, Vec::new());
        if batch.is_full() {
            outcome.counts += batch.write(core.store.as_ref(), run).await?;
        }
    }
    outcome.counts += batch.write(core.store.as_ref(), run).await?;
    core.store
        .finish_run(run, RunStatus::Succeeded, None, Timestamp::now())
        .await?;
    Ok(outcome)
}
