//! The seeds' forecast answers, from almanac's models: the processing seed's
//! `/api/v1/predictions/{node_id}` and the factory's `/predict/prices/*`.

use serde::Serialize;

use super::{ModelForecast, forecast};
use crate::core::Core;
use crate::domain::{Dataset, Timestamp};
use crate::query::QueryError;

/// One row of the processing seed's predictions answer (its field names). `lower_bound` and
/// `upper_bound` are the 95 % interval; `confidence_score` is that interval's coverage measured
/// in the version's backtest (how often such an interval held the actual), not a constant.
#[derive(Serialize)]
pub struct NodePrediction {
    pub node_id: String,
    pub prediction_timestamp: Timestamp,
    pub target_timestamp: Timestamp,
    pub predicted_value: f64,
    pub lower_bound: Option<f64>,
    pub upper_bound: Option<f64>,
    pub confidence_score: Option<f64>,
    pub model_type: String,
}

/// The newest forecast of the node's model of `model_type` (default: the first model of the
/// node), its first `horizon_hours` (default 24).
pub async fn node_predictions(
    core: &Core,
    node: &str,
    model_type: Option<&str>,
    horizon_hours: Option<u32>,
    now: Timestamp,
) -> Result<Vec<NodePrediction>, QueryError> {
    if core.registry.get(node).is_none() {
        return Err(QueryError::not_found(
            "unknown_node",
            format!("no node or location `{node}`"),
        ));
    }
    let mut at_node = core
        .config
        .models
        .iter()
        .filter(|(_, m)| m.enabled && m.location == node);
    let found = match model_type {
        Some(t) => at_node.find(|(_, m)| m.model_type() == t),
        None => at_node.next(),
    };
    let Some((id, m)) = found else {
        let types: Vec<String> = core
            .config
            .models
            .values()
            .filter(|m| m.enabled && m.location == node)
            .map(|m| m.model_type())
            .collect();
        return Err(QueryError::not_found(
            "no_model",
            match (model_type, types.is_empty()) {
                (_, true) => format!("no model forecasts node `{node}`"),
                (Some(t), false) => format!(
                    "node `{node}` has no model of type `{t}`; it has: {}",
                    types.join(", ")
                ),
                (None, false) => unreachable!("a model was found"),
            },
        ));
    };
    let horizon = horizon_hours.unwrap_or(24.min(m.horizon_hours));
    let (answer, rows) = forecast(core, id, Some(horizon), now).await?;
    let coverage = answer.metrics["coverage_95"].as_f64();
    Ok(rows
        .into_iter()
        .map(|r| NodePrediction {
            node_id: node.to_owned(),
            prediction_timestamp: answer.issued_at,
            target_timestamp: r.ts,
            predicted_value: r.value,
            lower_bound: r.lower_95,
            upper_bound: r.upper_95,
            confidence_score: coverage,
            model_type: m.model_type(),
        })
        .collect())
}

/// The factory's hourly price forecast.
#[derive(Serialize)]
pub struct PriceForecast {
    pub status: &'static str,
    pub forecast_horizon: u32,
    pub model_type: String,
    pub model: String,
    pub version: i64,
    pub unit: &'static str,
    pub predictions_count: usize,
    pub predictions: Vec<PricePoint>,
    pub model_metrics: PriceMetrics,
    pub last_training: Timestamp,
    pub timestamp: Timestamp,
}

/// Prices in €/kWh, as the factory served them; the interval is the 95 % one.
#[derive(Serialize)]
pub struct PricePoint {
    pub timestamp: Timestamp,
    pub predicted_price: f64,
    pub confidence_lower: Option<f64>,
    pub confidence_upper: Option<f64>,
}

/// The champion's backtest figures, in the factory's names (errors in €/kWh).
#[derive(Serialize)]
pub struct PriceMetrics {
    pub mae: Option<f64>,
    pub rmse: Option<f64>,
    pub r2: Option<f64>,
    pub coverage_95: Option<f64>,
    pub mase: Option<f64>,
    pub baseline: Option<String>,
    pub train_samples: Option<u64>,
    pub test_samples: Option<u64>,
}

/// The price model: the first enabled hourly energy-price model.
pub fn price_model(core: &Core) -> Result<&str, QueryError> {
    core.config
        .models
        .iter()
        .find(|(_, m)| {
            m.enabled
                && m.dataset == Dataset::EnergyPrice
                && m.resolution == crate::domain::time::Resolution::Hour
        })
        .map(|(id, _)| id.as_str())
        .ok_or_else(|| {
            QueryError::not_found(
                "no_model",
                "no hourly energy-price model is configured ([models.<id>] with dataset = \"energy_price\")",
            )
        })
}

/// The price model's newest forecast, its first `hours`.
pub async fn prices(core: &Core, hours: u32, now: Timestamp) -> Result<PriceForecast, QueryError> {
    let id = price_model(core)?;
    let (answer, _) = forecast(core, id, Some(hours), now).await?;
    let versions = core.reader().versions(id).await?;
    let last_training = versions.first().map_or(answer.issued_at, |v| v.created_at);
    let family = answer.family.clone();
    Ok(price_answer(answer, family, last_training, now))
}

fn price_answer(
    answer: ModelForecast,
    model_type: String,
    last_training: Timestamp,
    now: Timestamp,
) -> PriceForecast {
    // €/MWh → €/kWh.
    let k = if answer.unit == "€/MWh" { 1e-3 } else { 1.0 };
    let metric = |name: &str| answer.metrics[name].as_f64();
    let predictions: Vec<PricePoint> = (0..answer.time.len())
        .map(|i| PricePoint {
            timestamp: answer.time[i],
            predicted_price: answer.value[i] * k,
            confidence_lower: answer.lower_95[i].map(|v| v * k),
            confidence_upper: answer.upper_95[i].map(|v| v * k),
        })
        .collect();
    PriceForecast {
        status: "success",
        forecast_horizon: answer.horizon_hours,
        model_type,
        model: answer.model.clone(),
        version: answer.version,
        unit: if k == 1.0 { answer.unit } else { "€/kWh" },
        predictions_count: predictions.len(),
        predictions,
        model_metrics: PriceMetrics {
            mae: metric("mae").map(|v| v * k),
            rmse: metric("rmse").map(|v| v * k),
            r2: metric("r2"),
            coverage_95: metric("coverage_95"),
            mase: metric("mase"),
            baseline: answer.metrics["baseline"].as_str().map(str::to_owned),
            train_samples: answer.metrics["train_samples"].as_u64(),
            test_samples: answer.metrics["test_samples"].as_u64(),
        },
        last_training,
        timestamp: now,
    }
}
