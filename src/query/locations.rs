//! What is stored for a location: per dataset its series and extent, and per series how much of
//! a range's grid is present.

use std::collections::BTreeMap;

use serde::Serialize;

use super::QueryError;
use crate::core::Core;
use crate::domain::{Dataset, Grid, Location, TimeRange, Timestamp};

#[derive(Serialize)]
pub struct Stored {
    pub series: usize,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    /// Distinct instants holding at least one value.
    pub instants: u64,
}

/// Per dataset the location has series of: how many, and their extent.
pub async fn stored(
    core: &Core,
    location: &Location,
) -> Result<BTreeMap<Dataset, Stored>, QueryError> {
    let mut datasets = BTreeMap::new();
    for &dataset in Dataset::ALL {
        let series = core.reader().series(&location.id, dataset).await?;
        if series.is_empty() {
            continue;
        }
        let ids: Vec<i64> = series.iter().map(|s| s.id).collect();
        let extent = super::extent_of(core, &location.id, dataset, &ids).await?;
        datasets.insert(
            dataset,
            Stored {
                series: series.len(),
                first: extent.first,
                last: extent.last,
                instants: extent.instants,
            },
        );
    }
    Ok(datasets)
}

#[derive(Serialize)]
pub struct Coverage {
    location: String,
    start: Timestamp,
    end: Timestamp,
    datasets: BTreeMap<Dataset, Vec<VariableCoverage>>,
}

#[derive(Serialize)]
pub struct VariableCoverage {
    variable: String,
    source: String,
    step_seconds: i64,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    /// Instants of the series' grid in the range.
    expected: u64,
    present: u64,
    /// `present / expected`, 0–1 (null when nothing is expected).
    completeness: Option<f64>,
}

/// Per dataset, variable and source: the first and last stored instants and how much of
/// `range`'s grid is present.
pub async fn coverage(
    core: &Core,
    location: &Location,
    range: TimeRange,
) -> Result<Coverage, QueryError> {
    let mut datasets: BTreeMap<Dataset, Vec<VariableCoverage>> = BTreeMap::new();
    for &dataset in Dataset::ALL {
        for series in core.reader().series(&location.id, dataset).await? {
            let grid = Grid::new(
                TimeRange {
                    start: range.start.ceil(series.step),
                    end: range.end,
                },
                series.step,
            );
            let extent = super::extent_of(core, &location.id, dataset, &[series.id]).await?;
            let present = core.reader().count_present(series.id, range).await?;
            let expected = grid.len();
            datasets.entry(dataset).or_default().push(VariableCoverage {
                variable: series.variable,
                source: series.source,
                step_seconds: series.step.seconds(),
                first: extent.first,
                last: extent.last,
                expected,
                present,
                completeness: (expected > 0)
                    .then(|| (present as f64 / expected as f64 * 10_000.0).round() / 10_000.0),
            });
        }
    }
    Ok(Coverage {
        location: location.id.clone(),
        start: range.start,
        end: range.end,
        datasets,
    })
}
