//! `PUT|GET /api/v1/tenants/{tenant_id}/location`: a tenant registers its point (behind the
//! tenant or admin token: each registration may add series to fetch) and reads back how it was
//! mapped — its city, its measurement points and how far they are, and whether its traffic
//! answers are its points' or, for now, the city's.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::params::{ApiBody, ApiPath, JsonFields};
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
    let fields = JsonFields::parse(&body, "latitude and longitude")?;
    let field = |name: &str| {
        fields
            .text(name)?
            .ok_or_else(|| ApiError::bad_request("invalid_body", format!("`{name}` is required")))
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
