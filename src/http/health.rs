//! Liveness (the process answers) and readiness (the store answers and every enabled location
//! holds data of each dataset it has sources for, i.e. `init` (or an import) has run). A price
//! zone needs prices, a utility site its sensor readings; neither needs weather.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::core::Core;

pub async fn live() -> Json<Value> {
    Json(json!({ "status": "live" }))
}

/// Readiness, answered at once from the last verdict; one at most a second old is checked again
/// in the background. A check the store does not answer within [`CHECK_WITHIN`] says so.
pub async fn ready(State(core): State<Core>) -> (StatusCode, Json<Value>) {
    let checked = core.clone();
    let check = async move {
        tokio::time::timeout(CHECK_WITHIN, crate::query::health::readiness(&checked))
            .await
            .unwrap_or_else(|_| {
                Err(vec![format!(
                    "store unreachable: no answer within {} ms",
                    CHECK_WITHIN.as_millis()
                )])
            })
    };
    let (status, mut body) = match core.readiness.get_or(check).await {
        Ok(()) => (StatusCode::OK, json!({ "status": "ready" })),
        Err(reasons) => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "status": "not_ready", "reasons": reasons }),
        ),
    };
    // Replicas skipped do not make the service unready (the primary answers their reads), but
    // readiness says which and why.
    let replicas = crate::query::health::replicas(&core);
    if !replicas.is_empty() {
        body["replicas"] = json!(replicas);
    }
    (status, Json(body))
}

const CHECK_WITHIN: std::time::Duration = std::time::Duration::from_millis(800);
