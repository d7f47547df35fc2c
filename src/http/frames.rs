//! `GET /api/v1/locations/{id}/frame`: a training frame (see [`crate::query::training`]) as
//! columnar JSON, CSV, an Arrow IPC stream or a Parquet file.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::error::ApiError;
use super::params::{ApiPath, ApiQuery, date_range, instant_in};
use crate::core::Core;
use crate::domain::Dataset;
use crate::query::training::{
    self, CalendarColumn, ColumnSpec, FrameRequest, Resolution, TrainingFrame, Values,
};

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
        Some(list) => parse_columns(list)?,
    };
    let lead_hours = query.lead_hours.unwrap_or(0);
    if lead_hours > 384 {
        return Err(ApiError::bad_request(
            "invalid_parameter",
            format!("lead_hours is 0..=384 (16 days), got {lead_hours}"),
        ));
    }
    let request = FrameRequest {
        location,
        range,
        resolution,
        columns,
        as_of,
        lead_hours,
    };
    // Computing is CPU and memory (a 2-year hourly frame is ~3 MB): a turn each, as for the
    // series answers (`http.concurrent_answers`), held until encoded.
    let _turn = core.answers.acquire().await;
    let frame = training::frame(&core, &request).await?;
    let content_type = axum::http::header::CONTENT_TYPE;
    Ok(match format {
        Format::Json => Json(frame).into_response(),
        Format::Csv => {
            ([(content_type, "text/csv; charset=utf-8")], to_csv(&frame)).into_response()
        }
        Format::Arrow => (
            [(content_type, "application/vnd.apache.arrow.stream")],
            super::arrow::stream(&frame),
        )
            .into_response(),
        Format::Parquet => (
            [(content_type, "application/vnd.apache.parquet")],
            super::parquet::file(&frame),
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

/// `weather.temperature,calendar` → the columns, each once, in the order given.
fn parse_columns(list: &str) -> Result<Vec<ColumnSpec>, ApiError> {
    let mut out: Vec<ColumnSpec> = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let specs: Vec<ColumnSpec> = if name == "calendar" {
            CalendarColumn::ALL.map(ColumnSpec::Calendar).to_vec()
        } else if let Some(c) = CalendarColumn::ALL.iter().find(|c| c.name() == name) {
            vec![ColumnSpec::Calendar(*c)]
        } else {
            let unknown = || {
                ApiError::bad_request(
                    "unknown_variable",
                    format!(
                        "`{name}` is not a column: give dataset.variable (weather.temperature, traffic.intensity, energy_price.pvpc, sensor.flow_rate), forecast.<weather variable> (forecast.temperature), calendar or calendar.<weekday|weekend|holiday|holiday_scope|school_holiday|tariff_period>"
                    ),
                )
            };
            let (dataset, variable) = name.split_once('.').ok_or_else(unknown)?;
            if dataset == "forecast" {
                let variable = Dataset::Weather
                    .variable(variable)
                    .ok_or_else(unknown)?
                    .name;
                vec![ColumnSpec::Forecast { variable }]
            } else {
                let dataset = Dataset::parse(dataset).ok_or_else(unknown)?;
                let variable = dataset.variable(variable).ok_or_else(unknown)?.name;
                vec![ColumnSpec::Series { dataset, variable }]
            }
        };
        for spec in specs {
            if !out.contains(&spec) {
                out.push(spec);
            }
        }
    }
    if out.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_parameter",
            "columns names no column",
        ));
    }
    Ok(out)
}

fn to_csv(frame: &TrainingFrame) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["time".to_owned(), "local_time".to_owned()];
    header.extend(frame.columns.iter().map(|c| c.name.clone()));
    let _ = writer.write_record(&header);
    for (i, t) in frame.time.iter().enumerate() {
        let mut record = vec![t.to_string(), frame.local_time[i].clone()];
        for column in &frame.columns {
            record.push(match &column.values {
                Values::Numbers(v) => v[i].map(|x| x.to_string()).unwrap_or_default(),
                Values::Text(v) => v[i].unwrap_or_default().to_owned(),
                Values::Owned(v) => v[i].clone().unwrap_or_default(),
                Values::Flags(v) => v[i].to_string(),
            });
        }
        let _ = writer.write_record(&record);
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}
