//! The factory's production features: `GET /api/v1/locations/{id}/production_plan` and the
//! factory's `GET /insights/optimal-windows` (from forecasts: the price model and the weather
//! forecasts as issued), and its `POST /predict/energy-optimization` and
//! `POST /predict/production-recommendation` (the same formulas on one given hour).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::error::ApiError;
use super::params::{ApiBody, ApiPath, ApiQuery};
use crate::core::Core;
use crate::domain::factory::Recommendation;
use crate::domain::{Location, Timestamp};
use crate::query::factory;

#[derive(Deserialize)]
pub struct PlanQuery {
    hours: Option<u32>,
}

pub async fn plan(
    State(core): State<Core>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<PlanQuery>,
) -> Result<Response, ApiError> {
    let location = super::locations::find(&core, &id)?;
    let hours = query.hours.unwrap_or(48);
    if !(1..=168).contains(&hours) {
        return Err(ApiError::bad_request(
            "invalid_parameter",
            format!("hours must be 1..=168 (the price model's week), got {hours}"),
        ));
    }
    Ok(Json(factory::plan(&core, location, hours, Timestamp::now()).await?).into_response())
}

#[derive(Deserialize)]
pub struct WindowsQuery {
    days: Option<u32>,
    location: Option<String>,
}

/// The factory's `optimal-windows?days=1..7` (its own route took 1..14; the price model
/// forecasts a week).
pub async fn optimal_windows(
    State(core): State<Core>,
    ApiQuery(query): ApiQuery<WindowsQuery>,
) -> Result<Response, ApiError> {
    let days = query.days.unwrap_or(2);
    if !(1..=7).contains(&days) {
        return Err(ApiError::bad_request(
            "invalid_parameter",
            format!("days must be 1..=7 (the price model forecasts a week), got {days}"),
        ));
    }
    let location = factory_location(&core, query.location.as_deref())?;
    let plan = factory::plan(&core, location, days * 24, Timestamp::now()).await?;
    Ok(Json(json!({
        "location": plan.location,
        "days": days,
        "optimal_windows": plan.optimal_windows,
        "hours_considered": plan.hours.len(),
        "hours_missing": plan.hours_missing,
        "inputs": plan.inputs,
        "timestamp": plan.issued_at,
    }))
    .into_response())
}

/// The location named, or the first enabled city with a price zone.
fn factory_location<'a>(core: &'a Core, id: Option<&str>) -> Result<&'a Location, ApiError> {
    match id {
        Some(id) => Ok(super::locations::find(core, id)?),
        None => core
            .registry
            .cities()
            .find(|l| l.price_zone.is_some())
            .ok_or_else(|| {
                ApiError::not_found(
                    "unknown_location",
                    "no enabled city with a price zone: name one with `location`",
                )
            }),
    }
}

/// One hour's inputs, as the factory posted them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HourBody {
    price_eur_kwh: f64,
    temperature: f64,
    humidity: f64,
    location: Option<String>,
}

fn hour_body(body: &[u8]) -> Result<HourBody, ApiError> {
    let hour: HourBody = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(
            "invalid_body",
            format!("the body is a JSON object {{\"price_eur_kwh\", \"temperature\", \"humidity\"}} (numbers; optional \"location\"): {e}"),
        )
    })?;
    let checks = [
        ("price_eur_kwh", hour.price_eur_kwh, -1.0, 10.0),
        ("temperature", hour.temperature, -60.0, 60.0),
        ("humidity", hour.humidity, 0.0, 100.0),
    ];
    for (name, value, lo, hi) in checks {
        if !(lo..=hi).contains(&value) {
            return Err(ApiError::bad_request(
                "invalid_body",
                format!("{name} must be within {lo}..={hi}, got {value}"),
            ));
        }
    }
    Ok(hour)
}

/// The posted hour, its features, the 30-day price range they were scaled by, and now.
async fn hour_features(
    core: &Core,
    body: &[u8],
) -> Result<
    (
        HourBody,
        crate::domain::factory::Features,
        (f64, f64),
        Timestamp,
    ),
    ApiError,
> {
    let hour = hour_body(body)?;
    let location = factory_location(core, hour.location.as_deref())?;
    let now = Timestamp::now();
    let (f, range) = factory::one_hour(
        core,
        location,
        hour.price_eur_kwh,
        hour.temperature,
        hour.humidity,
        now,
    )
    .await?;
    Ok((hour, f, range, now))
}

pub async fn energy_optimization(
    State(core): State<Core>,
    ApiBody(body): ApiBody,
) -> Result<Response, ApiError> {
    let (hour, f, (lo, hi), now) = hour_features(&core, &body).await?;
    Ok(Json(json!({
        "energy_optimization_score": f.energy_optimization_score,
        // A formula, not a model's estimate: there is no confidence to give.
        "prediction_confidence": null,
        "features_used": features_used(&hour, &f, (lo, hi)),
        "recommendation": f.production_recommendation,
        "timestamp": now,
    }))
    .into_response())
}

pub async fn production_recommendation(
    State(core): State<Core>,
    ApiBody(body): ApiBody,
) -> Result<Response, ApiError> {
    let (hour, f, range, now) = hour_features(&core, &body).await?;
    let urgency = match f.production_recommendation {
        Recommendation::Halt => "high",
        Recommendation::Reduced => "medium",
        Recommendation::Moderate | Recommendation::Optimal => "low",
    };
    Ok(Json(json!({
        "recommendation": f.production_recommendation,
        "confidence": null,
        "chocolate_production_index": f.chocolate_production_index,
        "reasoning": {
            "energy_cost": f.energy_cost_index,
            "temperature_stress": 100.0 - f.temperature_comfort_index,
            "humidity_stress": f.humidity_stress_factor,
        },
        "urgency": urgency,
        "features_used": features_used(&hour, &f, range),
        "timestamp": now,
    }))
    .into_response())
}

fn features_used(
    hour: &HourBody,
    f: &crate::domain::factory::Features,
    (lo, hi): (f64, f64),
) -> serde_json::Value {
    json!({
        "price_eur_kwh": hour.price_eur_kwh,
        "temperature": hour.temperature,
        "humidity": hour.humidity,
        "temperature_comfort_index": f.temperature_comfort_index,
        "humidity_stress_factor": f.humidity_stress_factor,
        "energy_cost_index": f.energy_cost_index,
        "quality_risk_factor": f.quality_risk_factor,
        "price_range_30d_eur_kwh": [lo, hi],
    })
}
