//! Forecasting models: `GET /api/v1/models`, `/api/v1/models/{id}`, a series' model forecast
//! (`/api/v1/locations/{id}/{dataset}/forecast`), the processing seed's
//! `/api/v1/predictions/{node_id}`, the factory's `/predict/prices/*`, and the admin actions
//! `POST /api/v1/admin/models/{id}/{train|backtest|predict|promote|rollback}` (synchronous,
//! behind the admin token, under the lease of the job that does the same).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::params::{ApiPath, ApiQuery};
use crate::core::Core;
use crate::domain::{Dataset, Timestamp};
use crate::ops;
use crate::query::models::{self, seed};
use crate::scheduler::{self, Leases, StoreLeases};

pub async fn list(State(core): State<Core>) -> Result<Response, ApiError> {
    let models = models::list(&core).await?;
    Ok(Json(serde_json::json!({ "count": models.len(), "models": models })).into_response())
}

pub async fn one(
    State(core): State<Core>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    Ok(Json(models::detail(&core, &id, Timestamp::now()).await?).into_response())
}

#[derive(Deserialize)]
pub struct ForecastQuery {
    variable: Option<String>,
    /// Hours ahead (default: the model's horizon).
    horizon: Option<u32>,
}

/// A series' model forecast; on `weather`, the providers' forecasts answer unless `variable`
/// (one, singular) asks for the model's.
pub async fn series_forecast(
    State(core): State<Core>,
    ApiPath((id, dataset)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<ForecastQuery>,
) -> Result<Response, ApiError> {
    let location = super::locations::find(&core, &id)?;
    let dataset = Dataset::parse(&dataset).ok_or_else(|| {
        ApiError::not_found(
            "unknown_dataset",
            format!("no dataset `{dataset}`: weather, traffic, energy_price or sensor"),
        )
    })?;
    let variable = query.variable.as_deref().ok_or_else(|| {
        ApiError::bad_request("missing_parameter", "give `variable`, the series forecast")
    })?;
    model_forecast(&core, location, dataset, variable, query.horizon).await
}

/// The stored forecast of the model of `variable` of `dataset` at `location` (or its price zone).
pub(super) async fn model_forecast(
    core: &Core,
    location: &crate::domain::Location,
    dataset: Dataset,
    variable: &str,
    horizon: Option<u32>,
) -> Result<Response, ApiError> {
    let at = crate::query::stored_at(core, location, dataset);
    let (model, _) = models::model_of(core, &at.id, dataset, variable)?;
    let (answer, _) = models::forecast(core, model, horizon, Timestamp::now()).await?;
    Ok(Json(answer).into_response())
}

#[derive(Deserialize)]
pub struct PredictionsQuery {
    model_type: Option<String>,
    horizon_hours: Option<u32>,
}

pub async fn node_predictions(
    State(core): State<Core>,
    ApiPath(node): ApiPath<String>,
    ApiQuery(query): ApiQuery<PredictionsQuery>,
) -> Result<Response, ApiError> {
    let rows = seed::node_predictions(
        &core,
        &node,
        query.model_type.as_deref(),
        query.horizon_hours,
        Timestamp::now(),
    )
    .await?;
    Ok(Json(rows).into_response())
}

#[derive(Deserialize)]
pub struct HoursQuery {
    hours: Option<u32>,
}

pub async fn prices_hourly(
    State(core): State<Core>,
    ApiQuery(query): ApiQuery<HoursQuery>,
) -> Result<Response, ApiError> {
    let hours = query.hours.unwrap_or(24);
    if !(1..=168).contains(&hours) {
        return Err(ApiError::bad_request(
            "invalid_parameter",
            format!("hours must be 1..=168, got {hours}"),
        ));
    }
    Ok(Json(seed::prices(&core, hours, Timestamp::now()).await?).into_response())
}

pub async fn prices_weekly(State(core): State<Core>) -> Result<Response, ApiError> {
    Ok(Json(seed::prices(&core, 168, Timestamp::now()).await?).into_response())
}

/// The factory's model status: the price model in full.
pub async fn prices_status(State(core): State<Core>) -> Result<Response, ApiError> {
    let id = seed::price_model(&core)?;
    Ok(Json(models::detail(&core, id, Timestamp::now()).await?).into_response())
}

/// The factory's training route: the price model trained now (admin token).
pub async fn prices_train(
    State(core): State<Core>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = seed::price_model(&core)?.to_owned();
    act(core, &headers, &id, "train").await
}

#[derive(Serialize)]
struct Acted {
    model: String,
    action: String,
    result: serde_json::Value,
}

/// `POST /api/v1/admin/models/{id}/{action}`.
pub async fn admin(
    State(core): State<Core>,
    ApiPath((id, action)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    act(core, &headers, &id, &action).await
}

async fn act(
    core: Core,
    headers: &HeaderMap,
    id: &str,
    action: &str,
) -> Result<Response, ApiError> {
    super::admin::authorize(&core, headers)?;
    models::config(&core, id)?;
    // The lease of the job that does the same, so a request never runs beside it.
    let lease = match action {
        "train" | "backtest" => "train",
        "predict" | "promote" | "rollback" => "predict",
        _ => {
            return Err(ApiError::not_found(
                "unknown_action",
                format!("no action `{action}`: train, backtest, predict, promote or rollback"),
            ));
        }
    };
    let leases = StoreLeases::of(&core);
    let now = Timestamp::now();
    let until = now.plus(scheduler::LEASE.as_secs() as i64);
    if !leases.claim(lease, now, until, now).await? {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            code: "job_running",
            detail: format!("the {lease} job is running; try again when it has finished"),
        });
    }
    let why = "requested through the admin API";
    let done: anyhow::Result<serde_json::Value> = async {
        Ok(match action {
            "train" => {
                let outcome = ops::model::train(&core, id, now, why).await?;
                match outcome.error {
                    Some(error) => serde_json::json!({ "run": outcome.run, "failed": error }),
                    None => serde_json::json!({ "run": outcome.run, "trained": outcome.note }),
                }
            }
            "backtest" => {
                let found = ops::model::evaluate(&core, id, now).await?;
                ops::model::track(&core, id, None, &found, now).await;
                serde_json::json!({ "metrics": found.evaluation.metrics, "params": found.params })
            }
            "predict" => {
                let outcome = ops::model::predict(&core, id, now).await?;
                serde_json::json!({ "run": outcome.run, "values": outcome.counts.inserted,
                    "note": outcome.note, "error": outcome.error })
            }
            "promote" => serde_json::json!(ops::model::promote(&core, id, now, why).await?),
            _ => serde_json::json!(ops::model::roll_back(&core, id, now, why).await?),
        })
    }
    .await;
    leases.release(lease).await?;
    match done {
        Ok(result) => Ok(Json(Acted {
            model: id.to_owned(),
            action: action.to_owned(),
            result,
        })
        .into_response()),
        // The store out of reach is a 503 as anywhere; anything else is why the action could
        // not be done (nothing to promote, too little history to backtest).
        Err(error) if crate::query::unreachable(&error) => Err(error.into()),
        Err(error) => Err(ApiError {
            status: StatusCode::CONFLICT,
            code: "model_action_failed",
            detail: format!("{error:#}"),
        }),
    }
}
