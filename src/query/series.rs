//! The native series answer: a dataset of a location over a range as columns (one time array,
//! one value array per variable with its unit and the source of each value), raw or per hour
//! or local day, with short holes filled when asked. A city's prices come from its price zone,
//! and the answer says so.

use std::collections::BTreeMap;

use serde::Serialize;

use super::QueryError;
use crate::core::Core;
use crate::domain::resample::{self, Fill};
use crate::domain::{Aggregation, Dataset, Flag, Grid, Step, Timestamp};

/// The step a dataset is served at here: its finest regular one; none for sensor readings, whose
/// step is each site's own (see [`stored_step`]).
pub fn step_of(dataset: Dataset) -> Option<Step> {
    match dataset {
        Dataset::Traffic => Some(Step::QUARTER_HOUR),
        Dataset::Weather | Dataset::EnergyPrice => Some(Step::HOUR),
        Dataset::Sensor => None,
    }
}

/// The finest step `dataset` is stored at for `location` (hourly when nothing is stored).
pub async fn stored_step(
    core: &Core,
    location: &crate::domain::Location,
    dataset: Dataset,
) -> Result<Step, QueryError> {
    let series = core.reader().series(&location.id, dataset).await?;
    Ok(series
        .iter()
        .map(|s| s.step)
        .min_by_key(|s| s.seconds())
        .unwrap_or(Step::HOUR))
}

/// A series request, parsed and checked: what the answer depends on, and nothing else.
pub struct SeriesRequest<'a> {
    pub location: &'a crate::domain::Location,
    /// Where the values are stored (a city's prices at its price zone).
    pub stored_at: &'a crate::domain::Location,
    pub dataset: Dataset,
    /// The step of the values read; none: the finest the location stores (sensor sites).
    pub step: Option<Step>,
    pub range: crate::domain::TimeRange,
    pub variables: Vec<&'static str>,
    pub resolution: Resolution,
    /// Fill runs of at most this many missing steps so.
    pub fill: Option<(Fill, usize)>,
    /// How the answer is written: part of its identity.
    pub format: Format,
    /// CSV with a flag column after each variable.
    pub flags: bool,
}

impl SeriesRequest<'_> {
    /// The cache key: every field, by destructuring without `..`, so that a field added to the
    /// request cannot be left out of it.
    pub fn key(&self) -> String {
        let Self {
            location,
            stored_at,
            dataset,
            step,
            range,
            variables,
            resolution,
            fill,
            format,
            flags,
        } = self;
        let fill = fill.map(|(method, max_gap)| (method as u8, max_gap));
        let format = *format as u8;
        format!(
            "series|{}|{}|{dataset}|{}|{}|{}|{}|{variables:?}|{fill:?}|{format}|{flags}",
            location.id,
            stored_at.id,
            step.map_or(0, |s| s.seconds()),
            range.start.epoch(),
            range.end.epoch(),
            resolution.as_str(),
        )
    }
}

/// How a series answer is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Columnar JSON.
    Json,
    Csv,
    /// An Arrow IPC stream (see `crate::encode::arrow`).
    Arrow,
    /// A Parquet file (see `crate::encode::parquet`).
    Parquet,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    Raw,
    Hour,
    Day,
}

impl Resolution {
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Raw => "raw",
            Resolution::Hour => "hour",
            Resolution::Day => "day",
        }
    }
}

#[derive(Serialize)]
pub struct Columnar {
    location: String,
    /// The location the values are stored at when it is not `location` (a city's price zone).
    #[serde(skip_serializing_if = "Option::is_none")]
    served_from: Option<String>,
    dataset: Dataset,
    step_seconds: i64,
    resolution: &'static str,
    /// The zone whose calendar days `time` names, at `resolution=day`.
    #[serde(skip_serializing_if = "Option::is_none")]
    timezone: Option<String>,
    start: String,
    end: String,
    #[serde(skip)]
    range: crate::domain::TimeRange,
    pub time: Vec<String>,
    pub variables: BTreeMap<&'static str, Column>,
}

#[derive(Serialize)]
pub struct Column {
    unit: &'static str,
    pub values: Vec<Option<f64>>,
    /// How each value came to be (at `resolution=raw` only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<Option<Flag>>,
    sources: Vec<Option<String>>,
    /// Stored values behind each aggregated value (at `hour` and `day` only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    counts: Vec<u32>,
    /// Whether each value was filled (`fill=locf|linear` only); a filled value has no source
    /// and no flag.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filled: Vec<bool>,
}

impl Columnar {
    /// The answer as a table for the binary encoders: `time` as instants (a local day's
    /// midnight in `location`'s zone at `resolution=day`), `local_time` in the location's time,
    /// a column per variable with its unit and the sources its values came from.
    pub fn table(&self, location: &crate::domain::Location) -> super::training::TrainingFrame {
        let zone = &location.timezone;
        let day = self.resolution == Resolution::Day.as_str();
        let instant = |text: &str| {
            let parsed = match day {
                true => text
                    .parse::<jiff::civil::Date>()
                    .ok()
                    .and_then(|d| d.to_zoned(zone.clone()).ok())
                    .map(|z| z.timestamp()),
                false => text.parse::<jiff::Timestamp>().ok(),
            };
            parsed.map_or(Timestamp::from_epoch(0), Timestamp::from_jiff)
        };
        let time: Vec<Timestamp> = self.time.iter().map(|t| instant(t)).collect();
        let local_time = match day {
            true => self.time.clone(),
            false => time
                .iter()
                .map(|&t| super::training::local_label(t, zone))
                .collect(),
        };
        let columns = self
            .variables
            .iter()
            .map(|(name, column)| {
                let mut sources: Vec<String> = Vec::new();
                for source in column.sources.iter().flatten() {
                    if !sources.contains(source) {
                        sources.push(source.clone());
                    }
                }
                super::training::Column {
                    name: (*name).to_owned(),
                    unit: column.unit,
                    known_in_advance: false,
                    sources,
                    values: super::training::Values::Numbers(column.values.clone()),
                    filled: None,
                }
            })
            .collect();
        super::training::TrainingFrame::table(
            location,
            self.resolution,
            self.range,
            time,
            local_time,
            columns,
        )
    }
}

impl Column {
    /// Lays the column out on a full axis (`slots[i]` is the index of axis slot `i` in the
    /// column, if it has a value there) and fills runs of at most `max_gap` missing slots
    /// (`domain::resample::fill`), marking what was filled; a filled value has no source, flag
    /// or count.
    fn refill(
        &mut self,
        slots: &[Option<usize>],
        method: Fill,
        max_gap: usize,
        aggregation: Aggregation,
    ) {
        let values: Vec<Option<f64>> = slots
            .iter()
            .map(|s| s.and_then(|i| self.values[i]))
            .collect();
        let (values, filled) = resample::fill(&values, method, max_gap, aggregation);
        let pick = |slot: usize, s: &Option<usize>| s.filter(|_| !filled[slot]);
        self.sources = slots
            .iter()
            .enumerate()
            .map(|(k, s)| pick(k, s).and_then(|i| self.sources[i].clone()))
            .collect();
        if !self.flags.is_empty() {
            self.flags = slots
                .iter()
                .enumerate()
                .map(|(k, s)| pick(k, s).and_then(|i| self.flags[i]))
                .collect();
        }
        if !self.counts.is_empty() {
            self.counts = slots
                .iter()
                .enumerate()
                .map(|(k, s)| pick(k, s).map_or(0, |i| self.counts[i]))
                .collect();
        }
        self.values = values;
        self.filled = filled;
    }
}

/// The answer to `request`: its variables over its range, at its resolution, filled as asked.
pub async fn answer(core: &Core, request: &SeriesRequest<'_>) -> Result<Columnar, QueryError> {
    let &SeriesRequest {
        location,
        stored_at,
        dataset,
        step,
        range,
        variables: ref wanted,
        resolution,
        fill,
        ..
    } = request;
    let step = match step {
        Some(step) => step,
        None => stored_step(core, stored_at, dataset).await?,
    };
    let rows = super::rows(core, stored_at, dataset, step, range, Some(wanted)).await?;
    let mut variables: BTreeMap<&'static str, Column> = wanted
        .iter()
        .map(|&name| {
            let unit = dataset.variable(name).map_or("", |v| v.unit);
            (
                name,
                Column {
                    unit,
                    values: Vec::with_capacity(rows.len()),
                    flags: Vec::new(),
                    sources: Vec::with_capacity(rows.len()),
                    counts: Vec::new(),
                    filled: Vec::new(),
                },
            )
        })
        .collect();
    let zone = &location.timezone;
    let mut time = Vec::with_capacity(rows.len());
    // The frame holds the wanted variables only, so each of its rows has one of them.
    let columns: Vec<Option<usize>> = variables.keys().map(|name| rows.column(name)).collect();
    match resolution {
        Resolution::Raw => {
            for row in rows.rows() {
                time.push(row.ts().to_string());
                for (&i, column) in columns.iter().zip(variables.values_mut()) {
                    let cell = row.cell(i);
                    column.values.push(cell.map(|c| c.value));
                    column.flags.push(cell.map(|c| c.flag));
                    column
                        .sources
                        .push(cell.map(|c| row.source_of(c).to_string()));
                }
            }
        }
        Resolution::Hour | Resolution::Day => {
            let label = |ts: Timestamp| match resolution {
                Resolution::Day => ts.to_jiff().to_zoned(zone.clone()).date().to_string(),
                _ => ts.floor(Step::HOUR).to_string(),
            };
            let mut buckets: Vec<(String, Vec<super::Row>)> = Vec::new();
            for row in rows.rows() {
                let key = label(row.ts());
                match buckets.last_mut() {
                    Some((last, members)) if *last == key => members.push(row),
                    _ => buckets.push((key, vec![row])),
                }
            }
            for (key, members) in buckets {
                time.push(key);
                for (&i, (name, column)) in columns.iter().zip(variables.iter_mut()) {
                    let aggregation = dataset
                        .variable(name)
                        .map_or(Aggregation::Mean, |v| v.aggregation);
                    let cells: Vec<(f64, &str)> = members
                        .iter()
                        .filter_map(|r| r.cell(i).map(|c| (c.value, &**r.source_of(c))))
                        .collect();
                    let values: Vec<f64> = cells.iter().map(|c| c.0).collect();
                    column
                        .values
                        .push(resample::aggregate(aggregation, &values));
                    let mut sources: Vec<&str> = cells.iter().map(|c| c.1).collect();
                    sources.sort_unstable();
                    sources.dedup();
                    column
                        .sources
                        .push((!sources.is_empty()).then(|| sources.join("+")));
                    column.counts.push(values.len() as u32);
                }
            }
        }
    }
    if let Some((method, max_gap)) = fill {
        let axis: Vec<String> = match resolution {
            Resolution::Raw => Grid::new(range, step)
                .iter()
                .map(|t| t.to_string())
                .collect(),
            Resolution::Hour => Grid::new(range, Step::HOUR)
                .iter()
                .map(|t| t.to_string())
                .collect(),
            Resolution::Day => {
                let local = |t: Timestamp| t.to_jiff().to_zoned(zone.clone()).date();
                let (first, last) = (local(range.start), local(range.end.plus(-1)));
                std::iter::successors(Some(first), |d| d.tomorrow().ok())
                    .take_while(|d| *d <= last)
                    .map(|d| d.to_string())
                    .collect()
            }
        };
        let at: BTreeMap<&str, usize> = time
            .iter()
            .enumerate()
            .map(|(i, t)| (t.as_str(), i))
            .collect();
        let slots: Vec<Option<usize>> = axis.iter().map(|t| at.get(t.as_str()).copied()).collect();
        for (name, column) in variables.iter_mut() {
            let aggregation = dataset
                .variable(name)
                .map_or(Aggregation::Mean, |v| v.aggregation);
            column.refill(&slots, method, max_gap, aggregation);
        }
        time = axis;
    }
    Ok(Columnar {
        location: location.id.clone(),
        served_from: (stored_at.id != location.id).then(|| stored_at.id.clone()),
        dataset,
        step_seconds: step.seconds(),
        resolution: resolution.as_str(),
        timezone: (resolution == Resolution::Day).then(|| location.timezone_name().to_owned()),
        start: range.start.to_string(),
        end: range.end.to_string(),
        range,
        time,
        variables,
    })
}
