//! `PUT|GET /api/v1/tenants/{tenant_id}/location`: a tenant registers its point (behind the
//! tenant or admin token: each registration may add series to fetch) and reads back how it was
//! mapped — its city, its measurement points and how far they are, and whether its traffic
//! answers are its points' or, for now, the city's.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::params::{ApiBody, ApiPath};
use crate::core::Core;
use crate::domain::Timestamp;
use crate::domain::tenant::Tenant;

/// The registration as answered: the record and where its traffic comes from now.
#[derive(serde::Serialize)]
pub struct Registration {
    #[serde(flatten)]
    tenant: Tenant,
    /// `points` (its own measurement points) or `city`.
    traffic: &'static str,
}

fn answer(tenant: Tenant) -> Registration {
    let own = tenant.loaded && tenant.location.is_some();
    Registration {
        tenant,
        traffic: if own { "points" } else { "city" },
    }
}

/// `PUT /api/v1/tenants/{tenant_id}/location` with `{"latitude": …, "longitude": …}`.
pub async fn put(
    State(core): State<Core>,
    ApiPath(tenant_id): ApiPath<String>,
    headers: HeaderMap,
    ApiBody(body): ApiBody,
) -> Result<Response, ApiError> {
    super::admin::authorize_tenant(&core, &headers)?;
    super::seed::tenant(&tenant_id)?;
    let invalid = |detail: String| ApiError::bad_request("invalid_body", detail);
    let value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
        invalid(format!(
            "the body is a JSON object with latitude and longitude: {e}"
        ))
    })?;
    let field = |name: &str| match value.get(name) {
        Some(serde_json::Value::Number(n)) => Ok(n.to_string()),
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        None | Some(serde_json::Value::Null) => Err(invalid(format!("`{name}` is required"))),
        Some(other) => Err(invalid(format!("`{name}` must be a number, got {other}"))),
    };
    let at = super::params::coordinates(&field("latitude")?, &field("longitude")?)?;
    let id = tenant_id.to_lowercase();
    let registered = crate::ops::tenants::register(&core, &id, at, Timestamp::now())
        .await
        .map_err(|e| ApiError::unavailable(format!("registering tenant {id}: {e:#}")))?
        .map_err(|e| ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "location_not_covered",
            detail: e.0,
        })?;
    Ok(Json(answer(registered)).into_response())
}

/// `GET /api/v1/tenants/{tenant_id}/location`.
pub async fn get(
    State(core): State<Core>,
    ApiPath(tenant_id): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Json<Registration>, ApiError> {
    super::admin::authorize_tenant(&core, &headers)?;
    super::seed::tenant(&tenant_id)?;
    let id = tenant_id.to_lowercase();
    crate::query::tenants::registration(&core, &id)
        .map(|t| Json(answer(t)))
        .ok_or_else(|| {
            ApiError::not_found(
                "unknown_tenant",
                format!("tenant {id} is not registered: PUT its location first"),
            )
        })
}
