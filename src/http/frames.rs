//! `GET /api/v1/locations/{id}/frame`: a training frame (see [`crate::query::training`]) as
//! columnar JSON, CSV, an Arrow IPC stream or a Parquet file.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::error::ApiError;
use super::params::{ApiPath, ApiQuery, date_range, instant_in};
use crate::core::Core;
use crate::query::training::{self, ColumnSpec, FrameRequest, Resolution};

#[derive(Deserialize)]
pub struct FrameQuery {
    start: Option<String>,
    end: Option<String>,
    /// `hour` (default) or `day` (the location's local days).
    resolution: Option<String>,
    /// Comma-separated `dataset.variable` names, `calendar` (every calendar column) or
    /// `calendar.<column>`; by default everything the location stores, and the calendar.
    columns: Option<String>,
    /// The frame as it could have been built at this instant.
    as_of: Option<String>,
    /// Forecast columns use forecasts issued at least this many hours before each hour (0..=384).
    lead_hours: Option<u32>,
    /// `none` (default), `locf` or `linear`: runs of at most `max_gap` missing rows filled.
    fill: Option<String>,
    max_gap: Option<String>,
    /// `json` (default; columnar), `csv`, `arrow` (an Arrow IPC stream) or `parquet`.
    format: Option<String>,
}

pub async fn frame(
    State(core): State<Core>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<FrameQuery>,
) -> Result<Response, ApiError> {
    let location = super::locations::find(&core, &id)?;
    let zone = &location.timezone;
    let (Some(start), Some(end)) = (query.start.as_deref(), query.end.as_deref()) else {
        return Err(ApiError::bad_request(
            "missing_parameter",
            "query parameters `start` and `end` are required (the location's local dates, or instants)",
        ));
    };
    let range = date_range(start, end, core.config.http.max_range_days, zone)?;
    let resolution = match query.resolution.as_deref().unwrap_or("hour") {
        "hour" => Resolution::Hour,
        "day" => Resolution::Day,
        other => {
            return Err(ApiError::bad_request(
                "invalid_parameter",
                format!("resolution is hour or day, got `{other}`"),
            ));
        }
    };
    let format = match query.format.as_deref().unwrap_or("json") {
        "json" | "columnar" => Format::Json,
        "csv" => Format::Csv,
        "arrow" => Format::Arrow,
        "parquet" => Format::Parquet,
        other => {
            return Err(ApiError::bad_request(
                "invalid_parameter",
                format!("format is json, csv, arrow or parquet, got `{other}`"),
            ));
        }
    };
    let as_of = match query.as_of.as_deref() {
        Some(raw) => Some(instant_in("as_of", raw, zone)?),
        None => None,
    };
    let columns = match query.columns.as_deref() {
        None => FrameRequest::default_columns(&core, location, resolution).await?,
        Some(list) => ColumnSpec::parse_list(list)?,
    };
    let lead_hours = super::params::lead_hours(query.lead_hours)?;
    let fill = super::params::fill(query.fill.as_deref(), query.max_gap.as_deref())?;
    let request = FrameRequest {
        location,
        range,
        resolution,
        columns,
        as_of,
        lead_hours,
        fill,
    };
    // Computing is CPU and memory (a 2-year hourly frame is ~3 MB): a turn each, as for the
    // series answers (`http.concurrent_answers`), held until encoded.
    let _turn = core.answers.acquire().await;
    let frame = training::frame(&core, &request).await?;
    let content_type = axum::http::header::CONTENT_TYPE;
    Ok(match format {
        Format::Json => Json(frame).into_response(),
        Format::Csv => (
            [(content_type, "text/csv; charset=utf-8")],
            crate::encode::csv(&frame),
        )
            .into_response(),
        Format::Arrow => (
            [(content_type, "application/vnd.apache.arrow.stream")],
            crate::encode::arrow::stream(&frame),
        )
            .into_response(),
        Format::Parquet => (
            [(content_type, "application/vnd.apache.parquet")],
            crate::encode::parquet::file(&frame),
        )
            .into_response(),
    })
}

enum Format {
    Json,
    Csv,
    Arrow,
    Parquet,
}
