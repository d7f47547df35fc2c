//! Request bodies, read whole before any handler runs, so that every route treats them alike:
//! an announced length over `http.max_body_kb` is a 413 before a byte is read, a body slower
//! than `http.body_timeout_secs` a 408, and a body the route has no use for (a GET with one, a
//! 404) is still read, so the connection stays usable for the client's next request. Answers
//! given before the whole body was read close the connection.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;
use crate::config::HttpConfig;

/// What [`whole`] needs of `[http]` (a small copy per request, not a `Core`).
#[derive(Clone, Copy)]
pub struct BodyLimits {
    max_body_kb: u32,
    body_timeout_secs: u32,
}

impl BodyLimits {
    pub fn of(http: &HttpConfig) -> Self {
        Self {
            max_body_kb: http.max_body_kb,
            body_timeout_secs: http.body_timeout_secs,
        }
    }
}

pub async fn whole(State(http): State<BodyLimits>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let chunked = headers.contains_key(header::TRANSFER_ENCODING);
    if announced.unwrap_or(0) == 0 && !chunked {
        return next.run(request).await;
    }
    let limit = u64::from(http.max_body_kb) * 1024;
    let too_large = || ApiError {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        code: "body_too_large",
        detail: format!(
            "the body is larger than the limit of {} kB (http.max_body_kb)",
            http.max_body_kb
        ),
    };
    if announced.is_some_and(|n| n > limit) {
        return closing(too_large());
    }
    let (parts, body) = request.into_parts();
    let within = Duration::from_secs(http.body_timeout_secs.into());
    let read = axum::body::to_bytes(body, limit as usize);
    let bytes = match tokio::time::timeout(within, read).await {
        Err(_) => {
            return closing(ApiError {
                status: StatusCode::REQUEST_TIMEOUT,
                code: "body_timeout",
                detail: format!(
                    "the body did not arrive within {} s (http.body_timeout_secs)",
                    http.body_timeout_secs
                ),
            });
        }
        Ok(Err(error)) if is_over_limit(&error) => return closing(too_large()),
        Ok(Err(error)) => {
            return closing(ApiError::bad_request(
                "invalid_body",
                format!("the body could not be read: {error}"),
            ));
        }
        Ok(Ok(bytes)) => bytes,
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn is_over_limit(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// `error`, with the connection closed after it (the rest of the body was never read).
fn closing(error: ApiError) -> Response {
    let mut response = error.into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}
