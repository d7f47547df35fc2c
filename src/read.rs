//! The read side: stored series assembled into the row shapes clients ask for. For each
//! variable, the location's sources are consulted in priority order and the first one holding
//! a value at an instant provides it — skipping a source outside the local hours the location
//! gives it (`source_hours`, the hybrid rule); an instant with no value anywhere produces no row.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use crate::core::Core;
use crate::domain::{Dataset, Flag, Location, Step, TimeRange, Timestamp};
use crate::store::{Extent, RunId, StoreError};

/// One instant of a dataset at a location: the values stored there, each from the first source
/// in the location's priority list that has it.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub ts: Timestamp,
    pub values: BTreeMap<&'static str, f64>,
    /// How each value came to be (observed, trace, estimated, …).
    pub flags: BTreeMap<&'static str, Flag>,
    /// Where each value came from (shared: one allocation per series, not per value).
    pub sources: BTreeMap<&'static str, Arc<str>>,
    /// The source of the first variable filled (sources rarely mix within a row).
    pub source: Option<Arc<str>>,
    /// When the row's oldest value was first written and its newest last changed.
    pub created_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
}

/// The hourly weather rows of `location` in `range`, by instant.
pub async fn weather_rows(
    core: &Core,
    location: &Location,
    range: TimeRange,
) -> Result<Vec<Row>, StoreError> {
    rows(core, location, Dataset::Weather, Step::HOUR, range).await
}

/// The rows of `dataset` at `step` for `location` in `range`, by instant.
pub async fn rows(
    core: &Core,
    location: &Location,
    dataset: Dataset,
    step: Step,
    range: TimeRange,
) -> Result<Vec<Row>, StoreError> {
    let zone = jiff::tz::TimeZone::get(&location.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    let mut reads = Vec::new();
    for series in prioritized(core, location, dataset).await? {
        let Some(variable) = dataset
            .variable(&series.variable)
            .filter(|_| series.step == step)
        else {
            continue;
        };
        let points = core.store.read(series.id, range).await?;
        let hours = location.source_hours.get(&series.source).copied();
        let source: Arc<str> = Arc::from(series.source.as_str());
        reads.push((variable.name, source, hours, points));
    }

    // The runs that wrote the values: few, though every value names two (and neighbours
    // mostly the same two).
    let mut ids: HashSet<RunId> = HashSet::new();
    for (.., points) in &reads {
        let mut last = None;
        for p in points {
            if last != Some((p.created_run, p.updated_run)) {
                last = Some((p.created_run, p.updated_run));
                ids.extend([p.created_run, p.updated_run]);
            }
        }
    }
    let ids: Vec<RunId> = ids.into_iter().collect();
    let started: HashMap<RunId, Timestamp> = core
        .store
        .runs_by_id(&ids)
        .await?
        .into_iter()
        .map(|r| (r.id, Timestamp::from_epoch(r.started_at)))
        .collect();

    // Sparse by instant: the cost follows what is stored, not how wide the request is.
    let mut at: HashMap<i64, usize> = HashMap::new();
    let mut rows: Vec<Row> = Vec::new();
    for (name, source, hours, points) in &reads {
        for point in points {
            let in_hours = hours.is_none_or(|window| {
                window.contains(point.ts.to_jiff().to_zoned(zone.clone()).hour() as u8)
            });
            if !in_hours {
                continue; // outside the hours this source is used in: the next one fills
            }
            let i = *at.entry(point.ts.epoch()).or_insert_with(|| {
                rows.push(Row {
                    ts: point.ts,
                    values: BTreeMap::new(),
                    flags: BTreeMap::new(),
                    sources: BTreeMap::new(),
                    source: None,
                    created_at: None,
                    updated_at: None,
                });
                rows.len() - 1
            });
            let row = &mut rows[i];
            if row.values.contains_key(name) {
                continue; // a preferred source already gave this variable
            }
            row.values.insert(name, point.value);
            row.flags.insert(name, point.flag);
            row.sources.insert(name, source.clone());
            row.source.get_or_insert_with(|| source.clone());
            row.created_at = min_some(row.created_at, started.get(&point.created_run).copied());
            row.updated_at = row.updated_at.max(started.get(&point.updated_run).copied());
        }
    }
    rows.sort_unstable_by_key(|r| r.ts);
    Ok(rows)
}

/// The first and last instants and the number of hours holding weather for `location`.
pub async fn weather_extent(core: &Core, location: &Location) -> Result<Extent, StoreError> {
    extent(core, location, Dataset::Weather, Step::HOUR).await
}

/// The first and last instants and the number of instants holding `dataset` at `step`.
pub async fn extent(
    core: &Core,
    location: &Location,
    dataset: Dataset,
    step: Step,
) -> Result<Extent, StoreError> {
    let ids: Vec<_> = prioritized(core, location, dataset)
        .await?
        .iter()
        .filter(|s| s.step == step)
        .map(|s| s.id)
        .collect();
    core.store.extent(&ids).await
}

/// The location's series of `dataset`, those of its preferred sources first.
async fn prioritized(
    core: &Core,
    location: &Location,
    dataset: Dataset,
) -> Result<Vec<crate::store::Series>, StoreError> {
    let order = location.sources.get(&dataset).cloned().unwrap_or_default();
    let mut series = core.store.series(&location.id, dataset).await?;
    series.retain(|s| order.contains(&s.source));
    series.sort_by_key(|s| order.iter().position(|o| *o == s.source));
    Ok(series)
}

fn min_some(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
