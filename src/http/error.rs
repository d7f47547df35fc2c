//! The one error type of the API: a status, a stable machine-readable code and a message that
//! says what to fix, rendered as `{"code": …, "detail": …}` (`detail` is where the seed's FastAPI
//! clients already look). Internal errors are logged with their chain and answered generically.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::query::QueryError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    detail: &'a str,
}

impl ApiError {
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code,
            detail: detail.into(),
        }
    }

    pub fn not_found(code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code,
            detail: detail.into(),
        }
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "unavailable",
            detail: detail.into(),
        }
    }
}

/// Marks an answer the store failed (a 503, or a stale cached answer sent instead): a request
/// read from a replica is then run again on the primary.
#[derive(Clone, Copy, Debug)]
pub struct StoreFailed;

/// Seconds a client is asked to wait before trying again while the store is unreachable.
const STORE_RETRY_AFTER: &str = "5";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(Body {
                code: self.code,
                detail: &self.detail,
            }),
        )
            .into_response();
        let headers = response.headers_mut();
        match self.code {
            "store_unavailable" => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from_static(STORE_RETRY_AFTER),
                );
                response.extensions_mut().insert(StoreFailed);
            }
            // RFC 9110: a 401 names the scheme that would be accepted.
            "unauthorized" => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"almanac admin\""),
                );
            }
            _ => {}
        }
        response
    }
}

/// Anything unexpected: the store out of reach is a 503 `store_unavailable` (with
/// `Retry-After`); anything else (a bug, a corrupt row) is logged in full and answered as a
/// plain 500.
impl<E: Into<anyhow::Error>> From<E> for ApiError {
    fn from(error: E) -> Self {
        let error = error.into();
        match error.downcast_ref::<QueryError>() {
            Some(QueryError::NotFound { code, detail }) => {
                return Self::not_found(code, detail.clone());
            }
            Some(QueryError::Invalid { code, detail }) => {
                return Self::bad_request(code, detail.clone());
            }
            _ => {}
        }
        let unreachable = crate::query::unreachable(&error);
        if unreachable {
            tracing::warn!(error = format!("{error:#}"), "the store did not answer");
            return Self {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "store_unavailable",
                detail: format!("the store does not answer; try again in {STORE_RETRY_AFTER} s"),
            };
        }
        tracing::error!(error = format!("{error:#}"), "request failed");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            detail: "internal error; see the server log".into(),
        }
    }
}
