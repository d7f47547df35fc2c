//! `GET /api/v1/locations/{id}/weather/forecast`: the weather forecast as issued (see
//! [`crate::query::forecast`]), columnar JSON.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::error::ApiError;
use super::params::{ApiPath, ApiQuery, date_range, instant_in};
use crate::core::Core;
use crate::domain::{Dataset, Step, TimeRange, Timestamp};
use crate::query::forecast::{self, ForecastRequest};

#[derive(Deserialize)]
pub struct ForecastQuery {
    /// The location's local dates or instants; neither: from now to 16 days ahead.
    start: Option<String>,
    end: Option<String>,
    /// Comma-separated weather variables; by default every one forecast.
    variables: Option<String>,
    /// What was forecast as almanac knew it at this instant.
    as_of: Option<String>,
    /// Only forecasts issued at least this many hours before the hour (0..=384).
    lead_hours: Option<u32>,
    /// One variable (singular): almanac's model forecast of it instead (see `http::models`).
    variable: Option<String>,
    /// With `variable`: hours ahead.
    horizon: Option<u32>,
}

pub async fn weather(
    State(core): State<Core>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<ForecastQuery>,
) -> Result<Response, ApiError> {
    let location = super::locations::find(&core, &id)?;
    if query.horizon.is_some() && query.variable.is_none() {
        return Err(ApiError::bad_request(
            "invalid_parameter",
            "`horizon` applies to a model's forecast: give it with `variable`",
        ));
    }
    if let Some(variable) = &query.variable {
        if query.variables.is_some() || query.as_of.is_some() || query.lead_hours.is_some() {
            return Err(ApiError::bad_request(
                "invalid_parameter",
                "`variable` asks for almanac's model forecast (with `horizon`); `variables`, `as_of` and `lead_hours` for the providers' forecasts as issued: not both",
            ));
        }
        return super::models::model_forecast(
            &core,
            location,
            Dataset::Weather,
            variable,
            query.horizon,
        )
        .await;
    }
    let zone = &location.timezone;
    let range = match (query.start.as_deref(), query.end.as_deref()) {
        (Some(start), Some(end)) => date_range(start, end, core.config.http.max_range_days, zone)?,
        (None, None) => {
            let now = Timestamp::now().floor(Step::HOUR);
            TimeRange {
                start: now,
                end: now.plus(16 * 86_400),
            }
        }
        _ => {
            return Err(ApiError::bad_request(
                "missing_parameter",
                "give both `start` and `end`, or neither (from now to 16 days ahead)",
            ));
        }
    };
    let variables = match query.variables.as_deref() {
        None => Vec::new(),
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|name| {
                Dataset::Weather
                    .variable(name)
                    .map(|v| v.name)
                    .ok_or_else(|| {
                        ApiError::bad_request(
                            "unknown_variable",
                            format!("`{name}` is not a weather variable (temperature, precipitation, humidity, wind_speed, wind_direction, pressure, …)"),
                        )
                    })
            })
            .collect::<Result<_, _>>()?,
    };
    let lead_hours = super::params::lead_hours(query.lead_hours)?;
    let as_of = match query.as_of.as_deref() {
        Some(raw) => Some(instant_in("as_of", raw, zone)?),
        None => None,
    };
    let request = ForecastRequest {
        location,
        range,
        variables,
        as_of,
        lead_hours,
    };
    Ok(Json(forecast::answer(&core, &request).await?).into_response())
}
