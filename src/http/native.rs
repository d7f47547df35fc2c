//! The first of almanac's own endpoints: a dataset of a location as columnar JSON (one time
//! array, one value array per variable with its unit and the source of each value). Electricity
//! prices of a city are read from its price zone, and the answer says so.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::cached::cached;
use super::error::ApiError;
use super::params::{ApiPath, ApiQuery, date_range};
use crate::core::Core;
use crate::domain::Dataset;
use crate::query::series::{self, Column, Format, Resolution, SeriesRequest};

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
        (Some(start), Some(end)) => Some(date_range(
            start,
            end,
            core.config.http.max_range_days,
            &location.timezone,
        )?),
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
    // A configured location, or the measurement points of registered tenants.
    let location = core.location(&id).ok_or_else(|| {
        ApiError::not_found(
            "unknown_location",
            format!("no location `{id}`; GET /api/v1/locations lists them"),
        )
    })?;
    answer_cached(&core, &headers, &location, &dataset, query).await
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

/// The series answer through the response cache, keyed by the parsed request: a bad parameter is a 400
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
    let compute = async {
        let answer = series::answer(core, &request).await?;
        let content_type = axum::http::header::CONTENT_TYPE;
        Ok(match request.format {
            Format::Csv => csv(&answer.time, &answer.variables, request.flags),
            Format::Json => Json(answer).into_response(),
            Format::Arrow => (
                [(content_type, "application/vnd.apache.arrow.stream")],
                crate::encode::arrow::stream(&answer.table(location)),
            )
                .into_response(),
            Format::Parquet => (
                [(content_type, "application/vnd.apache.parquet")],
                crate::encode::parquet::file(&answer.table(location)),
            )
                .into_response(),
        })
    };
    cached(core, headers, request.key(), &id, request.dataset, compute).await
}

/// The request's parameters, checked, as the query wing's [`SeriesRequest`].
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
    let range = date_range(
        start,
        end,
        core.config.http.max_range_days,
        &location.timezone,
    )?;
    let step = series::step_of(dataset);
    let names: Vec<&'static str> = dataset
        .variables()
        .iter()
        .flat_map(|group| group.iter())
        .filter(|v| match (dataset.natural_step(v.name), step) {
            (Some(natural), Some(step)) => natural == step,
            _ => true,
        })
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
    let fill = super::params::fill(query.fill.as_deref(), query.max_gap.as_deref())?;
    let format = match query.format.as_deref().unwrap_or("columnar") {
        "columnar" | "json" => Format::Json,
        "csv" => Format::Csv,
        "arrow" => Format::Arrow,
        "parquet" => Format::Parquet,
        other => {
            return Err(ApiError::bad_request(
                "invalid_parameter",
                format!("format is columnar (also json), csv, arrow or parquet, got `{other}`"),
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
        format,
        flags,
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
