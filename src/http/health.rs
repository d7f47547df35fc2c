//! Liveness (the process answers) and readiness (the store answers and every enabled location
//! has weather data, i.e. `init` has run).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::core::Core;
use crate::read;

pub async fn live() -> Json<Value> {
    Json(json!({ "status": "live" }))
}

pub async fn ready(State(core): State<Core>) -> (StatusCode, Json<Value>) {
    let mut reasons = Vec::new();
    if let Err(error) = core.store.ping().await {
        reasons.push(format!("store unreachable: {error}"));
    } else {
        for location in core.registry.enabled() {
            match read::weather_extent(&core, location).await {
                Ok(extent) if extent.instants > 0 => {}
                Ok(_) => reasons.push(format!(
                    "{}: no weather loaded yet (run `almanac init`)",
                    location.id
                )),
                Err(error) => reasons.push(format!("{}: {error}", location.id)),
            }
        }
    }
    if reasons.is_empty() {
        (StatusCode::OK, Json(json!({ "status": "ready" })))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "not_ready", "reasons": reasons })),
        )
    }
}
