//! Liveness (the process answers) and readiness (the store answers and every enabled location
//! holds data of each dataset it has sources for, i.e. `init` (or an import) has run). A price
//! zone needs prices, a utility site its sensor readings; neither needs weather.

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
            for (&dataset, sources) in &location.sources {
                if sources.is_empty() {
                    continue;
                }
                match read::holds(&core, location, dataset).await {
                    Ok(true) => {}
                    Ok(false) => reasons.push(format!(
                        "{}: no {dataset} stored yet (`almanac init` loads it; imported data \
                         comes with `almanac import`)",
                        location.id
                    )),
                    Err(error) => reasons.push(format!("{}: {error}", location.id)),
                }
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
