//! The HTTP API (axum): the seed's endpoints, health, and JSON errors for everything else,
//! unknown routes and methods included. Handlers only read: they never fetch upstream.

mod access;
mod admin;
mod body;
mod cached;
mod error;
mod factory;
mod forecast;
mod frames;
mod health;
mod json;
mod locations;
mod models;
mod native;
mod params;
mod processing;
mod range;
mod seed;
mod serve;
mod tenants;
mod ui;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::State;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;

pub use error::ApiError;
pub use serve::{Limits, serve_until};

use crate::core::Core;
use crate::metrics::Metrics;

pub fn router(core: Core) -> Router {
    Router::new()
        .route("/api/v1/external/cities", get(seed::cities))
        .route(
            "/api/v1/external/operations/cities/{city_id}/availability",
            get(seed::availability),
        )
        .route(
            "/api/v1/tenants/{tenant_id}/external/operations/historical-weather-optimized",
            get(seed::historical_weather),
        )
        .route(
            "/api/v1/tenants/{tenant_id}/external/operations/historical-traffic-optimized",
            get(seed::historical_traffic),
        )
        .route(
            "/api/v1/tenants/{tenant_id}/external/operations/weather/historical",
            post(seed::historical_weather_post),
        )
        .route(
            "/api/v1/tenants/{tenant_id}/external/operations/traffic/historical",
            post(seed::historical_traffic_post),
        )
        .route(
            "/api/v1/tenants/{tenant_id}/location",
            get(tenants::get).put(tenants::put),
        )
        // The short forms of the seed's architecture diagram.
        .route("/api/v1/cities", get(seed::cities))
        .route(
            "/api/v1/cities/{city_id}/data-availability",
            get(seed::availability),
        )
        .route(
            "/api/v1/tenants/{tenant_id}/external/historical-weather",
            get(seed::historical_weather),
        )
        .route(
            "/api/v1/tenants/{tenant_id}/external/historical-traffic",
            get(seed::historical_traffic),
        )
        .route("/api/v1/locations", get(locations::list))
        .route("/api/v1/locations/nearest", get(locations::nearest))
        .route("/api/v1/locations/{id}", get(locations::one))
        .route(
            "/api/v1/locations/{id}/availability",
            get(locations::availability),
        )
        .route("/api/v1/locations/{id}/coverage", get(locations::coverage))
        .route("/api/v1/locations/{id}/calendar", get(locations::calendar))
        .route("/api/v1/locations/{id}/frame", get(frames::frame))
        .route(
            "/api/v1/locations/{id}/weather/forecast",
            get(forecast::weather),
        )
        .route(
            "/api/v1/locations/{id}/{dataset}/forecast",
            get(models::series_forecast),
        )
        .route("/api/v1/locations/{id}/gaps", get(native::gaps))
        .route(
            "/api/v1/locations/{id}/energy_features",
            get(processing::energy_features),
        )
        .route("/api/v1/locations/{id}/{dataset}", get(native::series))
        .route("/api/v1/point/{dataset}", get(native::series_at_point))
        .route("/api/v1/sources", get(native::sources))
        .route("/api/v1/runs", get(native::runs))
        .route("/api/v1/runs/{id}", get(native::run))
        .route("/api/v1/admin/{job}", post(admin::start))
        .route("/api/v1/admin/models/{id}/{action}", post(models::admin))
        .route("/api/v1/models", get(models::list))
        .route("/api/v1/models/{id}", get(models::one))
        .route(
            "/api/v1/predictions/{node_id}",
            get(models::node_predictions),
        )
        // The factory's price forecast (its paths; training and status under both names its
        // code and its docs used).
        .route("/predict/prices/hourly", get(models::prices_hourly))
        .route("/predict/prices/weekly", get(models::prices_weekly))
        .route(
            "/predict/prices/models/price-forecast/status",
            get(models::prices_status),
        )
        .route(
            "/predict/prices/models/price-forecast/train",
            post(models::prices_train),
        )
        .route("/predict/prices/train", post(models::prices_train))
        // The factory's production features (formulas of forecast prices and weather).
        .route("/api/v1/locations/{id}/production_plan", get(factory::plan))
        .route("/insights/optimal-windows", get(factory::optimal_windows))
        .route(
            "/predict/energy-optimization",
            post(factory::energy_optimization),
        )
        .route(
            "/predict/production-recommendation",
            post(factory::production_recommendation),
        )
        // The Abbanoa processing API.
        .route("/api/v1/nodes", get(processing::nodes))
        .route("/api/v1/nodes/{id}/history", get(processing::history))
        .route("/api/v1/quality/{id}", get(processing::quality))
        .route("/api/v1/anomalies", get(processing::anomalies))
        .route("/api/v1/network/efficiency", get(processing::efficiency))
        .route("/api/v1/nodes/{id}/metrics", get(processing::metrics))
        .route("/api/v1/anomalies/{id}/resolve", post(processing::resolve))
        .route("/api/v1/network/metrics", get(processing::network_metrics))
        .route("/api/v1/status", get(processing::status))
        .route("/api/v1/dashboard/summary", get(processing::dashboard))
        .route("/metrics", get(native::metrics))
        .route("/openapi.json", get(openapi))
        .route("/docs", get(ui::docs))
        .route("/docs/{file}", get(ui::docs_asset))
        .route("/ui", get(ui::index))
        .route("/ui/{file}", get(ui::asset))
        .route("/ui/vendor/{file}", get(ui::vendored))
        .route("/health/live", get(health::live))
        // The processing and factory seeds' liveness path.
        .route("/health", get(health::live))
        .route("/health/ready", get(health::ready))
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(axum::extract::DefaultBodyLimit::max(
            core.config.http.max_body_kb as usize * 1024,
        ))
        .layer(middleware::from_fn_with_state(
            core.clone(),
            consistent_reads,
        ))
        .layer(middleware::from_fn(range::ranges))
        .layer(middleware::from_fn_with_state(
            body::BodyLimits::of(&core.config.http),
            body::whole,
        ))
        .layer(middleware::from_fn_with_state(
            Arc::new(access::Access::of(&core.config.http, core.metrics.clone())),
            access::check,
        ))
        .layer(middleware::from_fn_with_state(
            Arc::new(core.config.http.cors_origins.clone()),
            cors,
        ))
        .layer(middleware::from_fn_with_state(core.metrics.clone(), trace))
        .with_state(core)
}

/// CORS for the origins in `http.cors_origins` (`"*"` for any): an allowed origin's requests get
/// `Access-Control-Allow-Origin` (and may read `ETag`), its preflights a 204 naming the methods
/// and headers the API takes. Other origins get no CORS headers, so browsers keep them out.
async fn cors(State(origins): State<Arc<Vec<String>>>, request: Request, next: Next) -> Response {
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let allowed = origin.filter(|o| origins.iter().any(|a| a == "*" || a == o));
    let Some(origin) = allowed else {
        return next.run(request).await;
    };
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if preflight {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    let value = if origins.iter().any(|a| a == "*") {
        HeaderValue::from_static("*")
    } else {
        HeaderValue::from_str(&origin).unwrap_or(HeaderValue::from_static("null"))
    };
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    headers.append(header::VARY, HeaderValue::from_static("origin"));
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("etag, location"),
    );
    if preflight {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type, if-none-match"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
    response
}

/// Every read a GET or HEAD request makes goes to one store (a replica or the primary); other
/// methods (actions, and the seed's POST forms) and the runs (`/api/v1/runs…`, read right after
/// starting a job) go to the primary. A request that failed while it read from a replica — the
/// store unreachable (a replica that went down since its last check, which is then skipped) or
/// any other server error (a query a standby cancelled) — runs again on the primary.
async fn consistent_reads(State(core): State<Core>, request: Request, next: Next) -> Response {
    if !crate::query::reads_replicas(&core) {
        return next.run(request).await;
    }
    let on_replica = matches!(*request.method(), Method::GET | Method::HEAD)
        && !request.uri().path().starts_with("/api/v1/runs");
    if !on_replica {
        return crate::query::on_primary(&core, next.run(request)).await;
    }
    let (parts, body) = request.into_parts();
    let again = parts.clone();
    let first = next.clone().run(Request::from_parts(parts, body));
    let (response, replica) = crate::query::consistent(first).await;
    let Some(replica) = replica else {
        return response;
    };
    let unreachable = response.extensions().get::<error::StoreFailed>().is_some();
    if !unreachable && !response.status().is_server_error() {
        return response;
    }
    let retry = next.run(Request::from_parts(again, axum::body::Body::empty()));
    crate::query::on_primary_after(&core, unreachable.then_some(replica), retry).await
}

/// The OpenAPI document of every route (`tests/it/openapi.rs` checks it against the answers).
pub const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

/// Serves until Ctrl-C or SIGTERM, then lets requests in flight finish.
pub async fn serve(core: Core, listener: TcpListener) -> anyhow::Result<()> {
    let limits = Limits::of(&core.config.http);
    serve_until(listener, router(core), limits, shutdown()).await;
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

async fn unknown_route(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(
        "unknown_route",
        format!("no route for {method} {}", uri.path()),
    )
}

async fn wrong_method(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError {
        status: axum::http::StatusCode::METHOD_NOT_ALLOWED,
        code: "method_not_allowed",
        detail: format!("{} does not accept {method}", uri.path()),
    }
}

/// A span per request (method, route template, path) around everything its handler logs, one
/// line when it is answered (status and latency), and the latency in
/// `external_api_request_duration_seconds` by method, route template and status.
async fn trace(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_string());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_owned();
    let started = Instant::now();
    // Whatever the handler logs (a store error behind a 500) carries the request it served.
    let span = tracing::info_span!("request", %method, route, path);
    let response = tracing::Instrument::instrument(next.run(request), span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status();
    metrics.observe(
        "external_api_request_duration_seconds",
        &[
            ("method", method.as_str()),
            ("route", &route),
            ("status", status.as_str()),
        ],
        elapsed.as_secs_f64(),
    );
    let micros = elapsed.as_micros() as u64;
    span.in_scope(|| tracing::info!(status = status.as_u16(), micros, "answered"));
    response
}
