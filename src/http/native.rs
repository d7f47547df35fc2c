//! The first of almanac's own endpoints: a dataset of a location as columnar JSON (one time
//! array, one value array per variable with its unit and the source of each value). Electricity
//! prices of a city are read from its price zone, and the answer says so.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::cached::cached;
use super::error::ApiError;
use super::params::{ApiPath, ApiQuery, date_range};
use crate::core::Core;
use crate::domain::{Aggregation, Dataset, Flag, Grid, Step, Timestamp};

#[derive(Deserialize)]
pub struct SeriesQuery {
    start: Option<String>,
    end: Option<String>,
    /// Comma-separated variable names; all of the dataset's when absent.
    variables: Option<String>,
    /// `raw` (default), `hour`, or `day` (in the location's time zone).
    resolution: Option<String>,
    /// `columnar` (default; `json` is the same) or `csv`.
    format: Option<String>,
    /// `true`: CSV gets a `<variable>_flag` column after each variable.
    flags: Option<String>,
    /// `none` (default), `locf` or `linear`: fill runs of at most `max_gap` missing steps.
    fill: Option<String>,
    max_gap: Option<String>,
    /// The point, for `/api/v1/point/{dataset}`.
    lat: Option<String>,
    lon: Option<String>,
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
    time: Vec<String>,
    variables: BTreeMap<&'static str, Column>,
}

#[derive(Serialize)]
pub struct Column {
    unit: &'static str,
    values: Vec<Option<f64>>,
    /// How each value came to be (at `resolution=raw` only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    flags: Vec<Option<Flag>>,
    sources: Vec<Option<String>>,
    /// Stored values behind each aggregated value (at `hour` and `day` only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    counts: Vec<u32>,
    /// Whether each value was filled (`fill=locf|linear` only); a filled value has no source
    /// and no flag.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    filled: Vec<bool>,
}

/// The step a dataset is served at here: its finest regular one.
fn step_of(dataset: Dataset) -> Step {
    match dataset {
        Dataset::Traffic => Step::QUARTER_HOUR,
        Dataset::Weather | Dataset::EnergyPrice | Dataset::Sensor => Step::HOUR,
    }
}

#[derive(Deserialize)]
pub struct GapsQuery {
    dataset: Option<String>,
    source: Option<String>,
    start: Option<String>,
    end: Option<String>,
}

/// `GET /api/v1/locations/{id}/gaps[?dataset&source&start&end]`: every hole in the location's
/// series, with its severity; the range defaults to the `init` window.
pub async fn gaps(
    State(core): State<Core>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<GapsQuery>,
) -> Result<Json<Vec<crate::ops::gaps::SeriesGaps>>, ApiError> {
    let location = core
        .registry
        .get(&id)
        .ok_or_else(|| ApiError::not_found("unknown_location", format!("no location `{id}`")))?;
    let dataset = match query.dataset.as_deref() {
        None => None,
        Some(name) => Some(Dataset::parse(name).ok_or_else(|| {
            ApiError::bad_request("unknown_dataset", format!("no dataset `{name}`"))
        })?),
    };
    let range = match (query.start.as_deref(), query.end.as_deref()) {
        (Some(start), Some(end)) => Some(date_range(start, end, core.config.http.max_range_days)?),
        (None, None) => None,
        _ => {
            return Err(ApiError::bad_request(
                "missing_parameter",
                "give both `start` and `end`, or neither (the init window)",
            ));
        }
    };
    let selection = crate::ops::gaps::Selection {
        location: Some(location.id.clone()),
        dataset,
        source: query.source,
        range,
    };
    let found = crate::ops::gaps::find(&core, &selection, crate::domain::Timestamp::now()).await?;
    Ok(Json(found))
}

#[derive(Deserialize)]
pub struct RunsQuery {
    limit: Option<u32>,
}

/// `GET /api/v1/runs?limit=N`: the most recent runs (default 50, at most 1 000), newest first.
pub async fn runs(
    State(core): State<Core>,
    ApiQuery(query): ApiQuery<RunsQuery>,
) -> Result<Json<Vec<crate::query::runs::Run>>, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=1_000).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit must be between 1 and 1000, got {limit}"),
        ));
    }
    Ok(Json(crate::query::runs::recent(&core, limit).await?))
}

/// `GET /api/v1/runs/{id}`: one run with the runs it started (a job's) and the records it refused.
pub async fn run(
    State(core): State<Core>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<crate::query::runs::RunDetail>, ApiError> {
    let id: i64 = id.parse().map_err(|_| {
        ApiError::bad_request("invalid_run", format!("a run id is a number, got `{id}`"))
    })?;
    Ok(Json(crate::query::runs::detail(&core, id).await?))
}

/// `GET /metrics`: Prometheus text format. The per-city gauges are read from the store at scrape
/// time, so they are right whichever process wrote the data.
pub async fn metrics(State(core): State<Core>) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    // The store's health is itself a metric: when it does not answer, the per-city gauges keep
    // their last values and `almanac_store_up` says why.
    let up = crate::query::health::store_up(&core).await;
    core.metrics
        .set("almanac_store_up", &[], if up { 1.0 } else { 0.0 });
    let locations = core.registry.enabled().filter(|_| up);
    // Every dataset stored for the location, its instants over all its series whatever their
    // step (a 15- or 20-minute sensor node counts too).
    for location in locations {
        for (dataset, stored) in crate::query::locations::stored(&core, location).await? {
            let labels = [
                ("city", location.id.as_str()),
                ("data_type", dataset.as_str()),
            ];
            core.metrics.set(
                "external_city_data_records",
                &labels,
                stored.instants as f64,
            );
            if let Some(last) = stored.last {
                core.metrics.set(
                    "external_city_data_last_update_timestamp",
                    &labels,
                    last.epoch() as f64,
                );
            }
        }
    }
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        core.metrics.render(),
    )
        .into_response())
}

/// `GET /api/v1/sources`: every configured source and what it is doing.
pub async fn sources(
    State(core): State<Core>,
) -> Result<Json<Vec<crate::ops::sources::SourceStatus>>, ApiError> {
    Ok(Json(crate::ops::sources::status(&core).await?))
}

/// `GET /api/v1/locations/{id}/{dataset}?start&end[&variables][&resolution][&format]`.
pub async fn series(
    State(core): State<Core>,
    ApiPath((id, dataset)): ApiPath<(String, String)>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<SeriesQuery>,
) -> Result<Response, ApiError> {
    let location = core.registry.get(&id).ok_or_else(|| {
        ApiError::not_found(
            "unknown_location",
            format!("no location `{id}`; GET /api/v1/locations lists them"),
        )
    })?;
    answer_cached(&core, &headers, location, &dataset, query).await
}

/// `GET /api/v1/point/{dataset}?lat&lon&start&end…`: the same for the location covering a point
/// (404 `location_not_covered` naming the nearest when none does).
pub async fn series_at_point(
    State(core): State<Core>,
    ApiPath(dataset): ApiPath<String>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<SeriesQuery>,
) -> Result<Response, ApiError> {
    let (Some(lat), Some(lon)) = (query.lat.as_deref(), query.lon.as_deref()) else {
        return Err(ApiError::bad_request(
            "missing_parameter",
            "query parameters `lat` and `lon` are required",
        ));
    };
    let point = super::params::coordinates(lat, lon)?;
    let location = core
        .registry
        .nearest(point)
        .map_err(|e| ApiError::not_found("location_not_covered", e.to_string()))?
        .location;
    answer_cached(&core, &headers, location, &dataset, query).await
}

/// A series request, parsed and checked: what the answer depends on, and nothing else.
struct SeriesRequest<'a> {
    location: &'a crate::domain::Location,
    /// Where the values are stored (a city's prices at its price zone).
    stored_at: &'a crate::domain::Location,
    dataset: Dataset,
    step: Step,
    range: crate::domain::TimeRange,
    variables: Vec<&'static str>,
    resolution: Resolution,
    fill: Option<(Fill, usize)>,
    csv: bool,
    flags: bool,
}

impl SeriesRequest<'_> {
    /// The cache key: every field, by destructuring without `..`, so that a field added to the
    /// request cannot be left out of it.
    fn key(&self) -> String {
        let Self {
            location,
            stored_at,
            dataset,
            step,
            range,
            variables,
            resolution,
            fill,
            csv,
            flags,
        } = self;
        let fill = fill.map(|(method, max_gap)| (method as u8, max_gap));
        format!(
            "series|{}|{}|{dataset}|{}|{}|{}|{}|{variables:?}|{fill:?}|{csv}|{flags}",
            location.id,
            stored_at.id,
            step.seconds(),
            range.start.epoch(),
            range.end.epoch(),
            resolution.as_str(),
        )
    }
}

/// [`answer`] through the response cache, keyed by the parsed request: a bad parameter is a 400
/// whether or not a good one's answer is cached.
async fn answer_cached(
    core: &Core,
    headers: &HeaderMap,
    location: &crate::domain::Location,
    dataset: &str,
    query: SeriesQuery,
) -> Result<Response, ApiError> {
    let request = parse(core, location, dataset, &query)?;
    let id = request.stored_at.id.clone();
    cached(
        core,
        headers,
        request.key(),
        &id,
        request.dataset,
        answer(core, request),
    )
    .await
}

fn parse<'a>(
    core: &'a Core,
    location: &'a crate::domain::Location,
    dataset: &str,
    query: &SeriesQuery,
) -> Result<SeriesRequest<'a>, ApiError> {
    let dataset = Dataset::parse(dataset).ok_or_else(|| {
        let known: Vec<_> = Dataset::ALL.iter().map(|d| d.as_str()).collect();
        ApiError::bad_request(
            "unknown_dataset",
            format!("no dataset `{dataset}` (known: {})", known.join(", ")),
        )
    })?;
    let (Some(start), Some(end)) = (query.start.as_deref(), query.end.as_deref()) else {
        return Err(ApiError::bad_request(
            "missing_parameter",
            "query parameters `start` and `end` are required (ISO dates or date-times)",
        ));
    };
    let range = date_range(start, end, core.config.http.max_range_days)?;
    let step = step_of(dataset);
    let names: Vec<&'static str> = dataset
        .variables()
        .iter()
        .flat_map(|group| group.iter())
        .filter(|v| dataset.natural_step(v.name).is_none_or(|s| s == step))
        .map(|v| v.name)
        .collect();
    let variables: Vec<&'static str> = match query.variables.as_deref() {
        None => names.clone(),
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| {
                names.iter().copied().find(|v| *v == n).ok_or_else(|| {
                    ApiError::bad_request(
                        "unknown_variable",
                        format!(
                            "`{n}` is not a {dataset} variable here (known: {})",
                            names.join(", ")
                        ),
                    )
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let resolution = match query.resolution.as_deref().unwrap_or("raw") {
        "raw" => Resolution::Raw,
        "hour" => Resolution::Hour,
        "day" => Resolution::Day,
        other => {
            return Err(ApiError::bad_request(
                "invalid_parameter",
                format!("resolution is raw, hour or day, got `{other}`"),
            ));
        }
    };
    // `max_gap` is checked whether or not a fill asks for it: a bad value is never ignored.
    let max_gap = match query.max_gap.as_deref() {
        None => 3,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1_000).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_parameter",
                    format!("max_gap is a number of missing steps, 1 to 1000, got `{text}`"),
                )
            })?,
    };
    let fill = match query.fill.as_deref().unwrap_or("none") {
        "none" => None,
        "locf" => Some((Fill::Locf, max_gap)),
        "linear" => Some((Fill::Linear, max_gap)),
        other => {
            return Err(ApiError::bad_request(
                "invalid_parameter",
                format!("fill is none, locf or linear, got `{other}`"),
            ));
        }
    };
    let csv = match query.format.as_deref().unwrap_or("columnar") {
        "columnar" | "json" => false,
        "csv" => true,
        other => {
            return Err(ApiError::bad_request(
                "invalid_parameter",
                format!("format is columnar (also json) or csv, got `{other}`"),
            ));
        }
    };
    let flags = match query.flags.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_parameter",
                format!("flags is true or false, got `{other}`"),
            ));
        }
    };
    Ok(SeriesRequest {
        location,
        stored_at: crate::query::stored_at(core, location, dataset),
        dataset,
        step,
        range,
        variables,
        resolution,
        fill,
        csv,
        flags,
    })
}

async fn answer(core: &Core, request: SeriesRequest<'_>) -> Result<Response, ApiError> {
    let SeriesRequest {
        location,
        stored_at,
        dataset,
        step,
        range,
        variables: wanted,
        resolution,
        fill,
        csv: as_csv,
        flags: with_flags,
    } = request;
    let rows = crate::query::rows(core, stored_at, dataset, step, range, Some(&wanted)).await?;
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
    let zone = jiff::tz::TimeZone::get(&location.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
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
            let mut buckets: Vec<(String, Vec<crate::query::Row>)> = Vec::new();
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
                    let values: Vec<(f64, &std::sync::Arc<str>)> = members
                        .iter()
                        .filter_map(|r| r.cell(i).map(|c| (c.value, r.source_of(c))))
                        .collect();
                    column.values.push(aggregate(aggregation, &values));
                    let mut sources: Vec<&str> = values.iter().map(|(_, s)| &***s).collect();
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
        for column in variables.values_mut() {
            column.refill(&slots, method, max_gap);
        }
        time = axis;
    }
    if as_csv {
        return Ok(csv(&time, &variables, with_flags));
    }
    Ok(Json(Columnar {
        location: location.id.clone(),
        served_from: (stored_at.id != location.id).then(|| stored_at.id.clone()),
        dataset,
        step_seconds: step.seconds(),
        resolution: resolution.as_str(),
        timezone: (resolution == Resolution::Day).then(|| location.timezone.clone()),
        start: range.start.to_string(),
        end: range.end.to_string(),
        time,
        variables,
    })
    .into_response())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Fill {
    /// The last value carried forward.
    Locf,
    /// A straight line between the values either side.
    Linear,
}

impl Column {
    /// Lays the column out on a full axis (`slots[i]` is the index of axis slot `i` in the
    /// column, if it has a value there) and fills runs of at most `max_gap` missing slots, marking
    /// what was filled. Longer runs, and the ends for `linear`, stay empty.
    fn refill(&mut self, slots: &[Option<usize>], method: Fill, max_gap: usize) {
        let values: Vec<Option<f64>> = slots
            .iter()
            .map(|s| s.and_then(|i| self.values[i]))
            .collect();
        let mut sources: Vec<Option<String>> = slots
            .iter()
            .map(|s| s.and_then(|i| self.sources[i].clone()))
            .collect();
        let mut flags: Vec<Option<Flag>> = if self.flags.is_empty() {
            Vec::new()
        } else {
            slots
                .iter()
                .map(|s| s.and_then(|i| self.flags[i]))
                .collect()
        };
        let mut counts: Vec<u32> = if self.counts.is_empty() {
            Vec::new()
        } else {
            slots
                .iter()
                .map(|s| s.map_or(0, |i| self.counts[i]))
                .collect()
        };
        let mut filled = vec![false; values.len()];
        let mut out = values.clone();
        let mut i = 0;
        while i < values.len() {
            if values[i].is_some() {
                i += 1;
                continue;
            }
            let start = i;
            while i < values.len() && values[i].is_none() {
                i += 1;
            }
            let before = start.checked_sub(1).and_then(|b| values[b]);
            let after = values.get(i).copied().flatten();
            if i - start > max_gap {
                continue;
            }
            for (k, slot) in (start..i).enumerate() {
                let value = match (method, before, after) {
                    (Fill::Locf, Some(b), _) => Some(b),
                    (Fill::Linear, Some(b), Some(a)) => {
                        let t = (k + 1) as f64 / (i - start + 1) as f64;
                        Some(((b + (a - b) * t) * 1000.0).round() / 1000.0)
                    }
                    _ => None,
                };
                if value.is_some() {
                    out[slot] = value;
                    filled[slot] = true;
                    sources[slot] = None;
                    if !flags.is_empty() {
                        flags[slot] = None;
                    }
                    if !counts.is_empty() {
                        counts[slot] = 0;
                    }
                }
            }
        }
        self.values = out;
        self.flags = flags;
        self.sources = sources;
        self.counts = std::mem::take(&mut counts);
        self.filled = filled;
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Resolution {
    Raw,
    Hour,
    Day,
}

impl Resolution {
    fn as_str(self) -> &'static str {
        match self {
            Resolution::Raw => "raw",
            Resolution::Hour => "hour",
            Resolution::Day => "day",
        }
    }
}

/// One bucket's value by the variable's aggregation: levels averaged, amounts summed, a counter's
/// last reading, a category's most frequent value (the larger on a tie: weather codes grow with
/// severity).
fn aggregate(aggregation: Aggregation, values: &[(f64, &std::sync::Arc<str>)]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let round = |x: f64| (x * 1000.0).round() / 1000.0;
    Some(match aggregation {
        Aggregation::Mean => round(values.iter().map(|v| v.0).sum::<f64>() / values.len() as f64),
        Aggregation::Sum => round(values.iter().map(|v| v.0).sum()),
        Aggregation::Counter => values[values.len() - 1].0,
        Aggregation::Category => {
            let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
            for (v, _) in values {
                *counts.entry(v.round() as i64).or_default() += 1;
            }
            let most = counts.values().copied().max().unwrap_or(0);
            counts
                .into_iter()
                .filter(|(_, n)| *n == most)
                .map(|(code, _)| code)
                .max()
                .unwrap_or(0) as f64
        }
    })
}

/// The columns as CSV: `time` then one column per variable, empty where there is no value;
/// with `flags`, each followed by `<variable>_flag`: how the value came to be (`observed`,
/// `trace`, …, `filled` for a value `fill` added; empty for aggregates, which have none).
fn csv(time: &[String], variables: &BTreeMap<&'static str, Column>, flags: bool) -> Response {
    let mut out = String::from("time");
    for name in variables.keys() {
        out.push(',');
        out.push_str(name);
        if flags {
            out.push(',');
            out.push_str(name);
            out.push_str("_flag");
        }
    }
    out.push('\n');
    for (i, t) in time.iter().enumerate() {
        out.push_str(t);
        for column in variables.values() {
            out.push(',');
            if let Some(v) = column.values[i] {
                out.push_str(&v.to_string());
            }
            if flags {
                out.push(',');
                if column.filled.get(i).copied().unwrap_or(false) {
                    out.push_str("filled");
                } else if let Some(Some(flag)) = column.flags.get(i) {
                    out.push_str(flag.as_str());
                }
            }
        }
        out.push('\n');
    }
    (
        [(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")],
        out,
    )
        .into_response()
}
