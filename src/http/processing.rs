//! The Abbanoa processing API on almanac's stored windows and anomalies: `/api/v1/nodes`,
//! `/api/v1/nodes/{id}/history`, `/api/v1/quality/{id}`, `/api/v1/anomalies`,
//! `/api/v1/network/…`, `/api/v1/status`, `/api/v1/dashboard/summary`, and the energy
//! features. Each handler parses its parameters and calls one query (`crate::query`); every
//! figure comes from stored readings or what `process` computed from them.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use super::error::ApiError;
use super::params::{ApiPath, ApiQuery, date_range};
use crate::core::Core;
use crate::domain::anomaly::Severity;
use crate::domain::windows::Window;
use crate::domain::{TimeRange, Timestamp};
use crate::query::QueryError;
use crate::query::anomalies::{AnomalyFilter, Resolved, StoredAnomaly};
use crate::query::energy::EnergyFeatures;
use crate::query::network::{Dashboard, Efficiency, NetworkMetrics, network_id};
use crate::query::nodes::{HistoryRow, LatestMetrics, Node, node};
use crate::query::quality::QualityReport;

#[derive(Deserialize)]
pub struct HistoryQuery {
    start_time: Option<String>,
    end_time: Option<String>,
    time_window: Option<String>,
}

fn window(raw: Option<&str>) -> Result<Window, ApiError> {
    match raw {
        None => Ok(Window::Hour),
        Some(s) => Window::parse(s).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_parameter",
                format!("time_window must be 5min, 1hour or 1day, got `{s}`"),
            )
        }),
    }
}

/// `start_time`/`end_time` (dates or date-times, both ends inclusive as the seed's dates), by
/// default the last `default_days` days.
fn range(
    core: &Core,
    start: Option<&str>,
    end: Option<&str>,
    default_days: i64,
) -> Result<TimeRange, ApiError> {
    match (start, end) {
        (Some(start), Some(end)) => super::params::named_date_range(
            ["start_time", "end_time"],
            start,
            end,
            core.config.http.max_range_days,
        ),
        (None, None) => {
            let now = Timestamp::now();
            Ok(TimeRange {
                start: now.plus(-default_days * 86_400),
                end: now,
            })
        }
        _ => Err(ApiError::bad_request(
            "missing_parameter",
            "give both start_time and end_time, or neither",
        )),
    }
}

/// `GET /api/v1/nodes`: every node of every configured network.
pub async fn nodes(State(core): State<Core>) -> Json<Vec<Node>> {
    Json(crate::query::nodes::nodes(&core))
}

/// `GET /api/v1/nodes/{id}/history?start_time&end_time&time_window`: the node's windows
/// (default the last 7 days of hourly windows).
pub async fn history(
    State(core): State<Core>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<Vec<HistoryRow>>, ApiError> {
    let location = node(&core, &id)?;
    let window = window(query.time_window.as_deref())?;
    let range = range(
        &core,
        query.start_time.as_deref(),
        query.end_time.as_deref(),
        7,
    )?;
    Ok(Json(
        crate::query::nodes::history(&core, &location, window, range).await?,
    ))
}

#[derive(Deserialize)]
pub struct QualityQuery {
    start_time: Option<String>,
    end_time: Option<String>,
}

/// `GET /api/v1/quality/{id}?start_time&end_time`: data quality of each series of a location per
/// local day (default the last 7 days). Dates name the location's local days; instants, the
/// local days they fall in.
pub async fn quality(
    State(core): State<Core>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<QualityQuery>,
) -> Result<Json<QualityReport>, ApiError> {
    let location = node(&core, &id)?;
    let range = range(
        &core,
        query.start_time.as_deref(),
        query.end_time.as_deref(),
        7,
    )?;
    let zone = &location.timezone;
    let as_date = |raw: Option<&str>| raw.and_then(|r| r.trim().parse::<jiff::civil::Date>().ok());
    let first = as_date(query.start_time.as_deref())
        .unwrap_or_else(|| range.start.to_jiff().to_zoned(zone.clone()).date());
    let last = as_date(query.end_time.as_deref())
        .unwrap_or_else(|| range.end.plus(-1).to_jiff().to_zoned(zone.clone()).date());
    let now = Timestamp::now();
    Ok(Json(
        crate::query::quality::report(&core, &location, (first, last), now).await?,
    ))
}

#[derive(Deserialize)]
pub struct AnomaliesQuery {
    hours: Option<u32>,
    node_id: Option<String>,
    severity: Option<String>,
    include_resolved: Option<bool>,
    limit: Option<u32>,
}

/// `GET /api/v1/anomalies?hours=24&node_id&severity&include_resolved&limit`: anomalies of the
/// last `hours` (unresolved by default), newest first.
pub async fn anomalies(
    State(core): State<Core>,
    ApiQuery(query): ApiQuery<AnomaliesQuery>,
) -> Result<Json<Vec<StoredAnomaly>>, ApiError> {
    let hours = query.hours.unwrap_or(24);
    if !(1..=24 * 3_660).contains(&hours) {
        return Err(ApiError::bad_request(
            "invalid_parameter",
            format!("hours must be between 1 and 87840, got {hours}"),
        ));
    }
    let limit = query.limit.unwrap_or(100);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit must be between 1 and 10000, got {limit}"),
        ));
    }
    let severity = match query.severity.as_deref() {
        None => None,
        Some(s) => Some(Severity::parse(s).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_parameter",
                format!("severity must be medium, high or critical, got `{s}`"),
            )
        })?),
    };
    let location = match query.node_id.as_deref() {
        None => None,
        Some(id) => Some(node(&core, id)?.id),
    };
    let now = Timestamp::now();
    let filter = AnomalyFilter {
        since: now.plus(-i64::from(hours) * 3_600),
        until: now.plus(366 * 86_400),
        location: location.as_deref(),
        severity,
        include_resolved: query.include_resolved.unwrap_or(false),
        limit,
    };
    Ok(Json(crate::query::anomalies::list(&core, &filter).await?))
}

#[derive(Deserialize)]
pub struct EfficiencyQuery {
    network: Option<String>,
    start_time: Option<String>,
    end_time: Option<String>,
    time_window: Option<String>,
}

/// `GET /api/v1/network/efficiency?network&start_time&end_time&time_window`: per window,
/// supplied and delivered volume and efficiency = delivered / supplied (default: the only
/// network, daily windows of the last 7 days).
pub async fn efficiency(
    State(core): State<Core>,
    ApiQuery(query): ApiQuery<EfficiencyQuery>,
) -> Result<Json<Efficiency>, ApiError> {
    let id = network_id(&core, query.network.as_deref())?;
    let window = match query.time_window.as_deref() {
        None => Window::Day,
        Some(s) => self::window(Some(s))?,
    };
    let range = range(
        &core,
        query.start_time.as_deref(),
        query.end_time.as_deref(),
        7,
    )?;
    Ok(Json(
        crate::query::network::efficiency(&core, &id, window, range).await?,
    ))
}

#[derive(Deserialize)]
pub struct MetricsQuery {
    time_window: Option<String>,
}

/// `GET /api/v1/nodes/{id}/metrics?time_window`: the window holding the node's newest reading.
pub async fn metrics(
    State(core): State<Core>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<MetricsQuery>,
) -> Result<Json<LatestMetrics>, ApiError> {
    let location = node(&core, &id)?;
    let window = window(query.time_window.as_deref())?;
    Ok(Json(
        crate::query::nodes::latest(&core, &location, window).await?,
    ))
}

/// `POST /api/v1/anomalies/{id}/resolve` (admin token): marks an anomaly resolved; it is kept
/// `processing.anomalies_resolved_days` more days.
pub async fn resolve(
    State(core): State<Core>,
    headers: axum::http::HeaderMap,
    ApiPath(raw): ApiPath<String>,
) -> Result<Json<Resolved>, ApiError> {
    super::admin::authorize(&core, &headers)?;
    let id: i64 = raw.parse().map_err(|_| {
        ApiError::bad_request(
            "invalid_parameter",
            format!("anomaly id `{raw}` is not a number"),
        )
    })?;
    Ok(Json(
        crate::query::anomalies::resolve(&core, id, Timestamp::now()).await?,
    ))
}

#[derive(Deserialize)]
pub struct NetworkQuery {
    network: Option<String>,
    time_range: Option<String>,
}

fn time_range(raw: Option<&str>) -> Result<(&str, i64), ApiError> {
    let raw = raw.unwrap_or("24h");
    let seconds = match raw {
        "1h" => 3_600,
        "6h" => 6 * 3_600,
        "24h" => 86_400,
        "3d" => 3 * 86_400,
        "7d" => 7 * 86_400,
        "30d" => 30 * 86_400,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_parameter",
                format!("time_range must be one of 1h, 6h, 24h, 3d, 7d, 30d; got `{raw}`"),
            ));
        }
    };
    Ok((raw, seconds))
}

/// `GET /api/v1/network/metrics?network&time_range=1h|6h|24h|3d|7d|30d`: the network over the
/// last whole hours of the range (default 24h).
pub async fn network_metrics(
    State(core): State<Core>,
    ApiQuery(query): ApiQuery<NetworkQuery>,
) -> Result<Json<NetworkMetrics>, ApiError> {
    let id = network_id(&core, query.network.as_deref())?;
    let (name, seconds) = time_range(query.time_range.as_deref())?;
    let now = Timestamp::now();
    Ok(Json(
        crate::query::network::metrics(&core, &id, name, seconds, now).await?,
    ))
}

/// `GET /api/v1/status`: freshness of every enabled location's data, the last processing run,
/// and the health of store and cache; from an answer at most a second old (recomputed in the
/// background).
pub async fn status(State(core): State<Core>) -> Json<serde_json::Value> {
    let computed = core.clone();
    let fresh = async move {
        let status = crate::query::status::status(&computed, Timestamp::now()).await;
        serde_json::to_value(status).unwrap_or_default()
    };
    Json(core.status.get_or(fresh).await)
}

/// `GET /api/v1/dashboard/summary?network`: the network over the last 24 hours, each node's
/// newest hour and yesterday's quality, and the ten newest anomalies.
pub async fn dashboard(
    State(core): State<Core>,
    ApiQuery(query): ApiQuery<NetworkQuery>,
) -> Result<Json<Dashboard>, ApiError> {
    let id = network_id(&core, query.network.as_deref())?;
    let now = Timestamp::now();
    Ok(Json(
        crate::query::network::dashboard(&core, &id, now).await?,
    ))
}

#[derive(Deserialize)]
pub struct FeaturesQuery {
    start: Option<String>,
    end: Option<String>,
    variable: Option<String>,
}

/// `GET /api/v1/locations/{id}/energy_features?start&end&variable=pvpc`: hourly price features
/// and the daily cost index of the location's price zone (the chocolate factory's features).
pub async fn energy_features(
    State(core): State<Core>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<FeaturesQuery>,
) -> Result<Json<EnergyFeatures>, ApiError> {
    let location = core
        .registry
        .get(&id)
        .ok_or_else(|| QueryError::not_found("unknown_location", format!("no location `{id}`")))?;
    let (Some(start), Some(end)) = (query.start.as_deref(), query.end.as_deref()) else {
        return Err(ApiError::bad_request(
            "missing_parameter",
            "give `start` and `end` (ISO dates or date-times)",
        ));
    };
    let range = date_range(
        start,
        end,
        core.config.http.max_range_days,
        &location.timezone,
    )?;
    let variable = query.variable.as_deref().unwrap_or("pvpc");
    Ok(Json(
        crate::query::energy::features(&core, location, range, variable).await?,
    ))
}
