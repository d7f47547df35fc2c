//! `GET /ui`: the operator's dashboard — one page, its script and style, and uPlot (vendored at
//! 1.6.32 with its MIT license, `ui/vendor/README`); `GET /docs`: the API page, Swagger UI
//! (vendored at 5.35.0 with its Apache-2.0 license, `docs/README`) over `/openapi.json`, whose
//! "Try it out" sends requests to this server. All embedded in the binary: no CDN, no build
//! step. The pages read the public API like any client (see `ui/app.js`).

use super::params::ApiPath;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

const INDEX: &str = include_str!("ui/index.html");

/// (path under `/ui/`, content type, bytes).
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("ui/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("ui/app.css"),
    ),
    (
        "vendor/uPlot.iife.min.js",
        "text/javascript; charset=utf-8",
        include_str!("ui/vendor/uPlot.iife.min.js"),
    ),
    (
        "vendor/uPlot.min.css",
        "text/css; charset=utf-8",
        include_str!("ui/vendor/uPlot.min.css"),
    ),
    (
        "vendor/uPlot.LICENSE",
        "text/plain; charset=utf-8",
        include_str!("ui/vendor/uPlot.LICENSE"),
    ),
];

/// (path under `/docs/`, content type, bytes).
const DOCS: &[(&str, &str, &str)] = &[
    (
        "init.js",
        "text/javascript; charset=utf-8",
        include_str!("docs/init.js"),
    ),
    (
        "swagger-ui-bundle.js",
        "text/javascript; charset=utf-8",
        include_str!("docs/swagger-ui-bundle.js"),
    ),
    (
        "swagger-ui.css",
        "text/css; charset=utf-8",
        include_str!("docs/swagger-ui.css"),
    ),
    (
        "swagger-ui.LICENSE",
        "text/plain; charset=utf-8",
        include_str!("docs/swagger-ui.LICENSE"),
    ),
    (
        "swagger-ui.NOTICE",
        "text/plain; charset=utf-8",
        include_str!("docs/swagger-ui.NOTICE"),
    ),
    (
        "swagger-ui-bundle.js.LICENSE.txt",
        "text/plain; charset=utf-8",
        include_str!("docs/swagger-ui-bundle.js.LICENSE.txt"),
    ),
];

fn answer(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            // Embedded in this binary: a new build may change them.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `GET /ui`: the dashboard's page.
pub async fn index() -> Response {
    answer("text/html; charset=utf-8", INDEX)
}

/// `GET /docs`: the API page.
pub async fn docs() -> Response {
    answer("text/html; charset=utf-8", include_str!("docs/index.html"))
}

/// `GET /docs/{file}`: Swagger UI's script and style, its initialisation, the licenses.
pub async fn docs_asset(ApiPath(file): ApiPath<String>) -> Result<Response, ApiError> {
    DOCS.iter()
        .find(|(path, ..)| *path == file)
        .map(|(_, content_type, body)| answer(content_type, body))
        .ok_or_else(|| {
            ApiError::not_found(
                "unknown_route",
                format!("no API page file `{file}`; the page is at /docs"),
            )
        })
}

/// `GET /ui/{file}`: its script and style.
pub async fn asset(ApiPath(file): ApiPath<String>) -> Result<Response, ApiError> {
    find(&file)
}

/// `GET /ui/vendor/{file}`: the vendored library and its license.
pub async fn vendored(ApiPath(file): ApiPath<String>) -> Result<Response, ApiError> {
    find(&format!("vendor/{file}"))
}

fn find(file: &str) -> Result<Response, ApiError> {
    ASSETS
        .iter()
        .find(|(path, ..)| *path == file)
        .map(|(_, content_type, body)| answer(content_type, body))
        .ok_or_else(|| {
            ApiError::not_found(
                "unknown_route",
                format!("no dashboard file `{file}`; the dashboard is at /ui"),
            )
        })
}
