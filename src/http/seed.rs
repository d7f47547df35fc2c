//! The seed's endpoints (Bakery IA external data service, document `001_…` Parts 4–5), with its
//! response shapes, so its existing clients work unchanged. Fields the data cannot honestly
//! fill are `null`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::cached::cached;
use super::error::ApiError;
use super::params::{ApiBody, ApiQuery, coordinates, date_range};
use crate::core::Core;
use crate::domain::{Dataset, Location, Step, TimeRange, weather};
use crate::read;

#[derive(Serialize)]
pub struct CityInfoResponse {
    city_id: String,
    name: String,
    country: String,
    latitude: f64,
    longitude: f64,
    radius_km: f64,
    weather_provider: Option<String>,
    /// `null` where no traffic source feeds the city.
    traffic_provider: Option<String>,
    enabled: bool,
}

#[derive(Serialize)]
pub struct DataAvailabilityResponse {
    city_id: String,
    city_name: String,
    weather_available: bool,
    weather_start_date: Option<String>,
    weather_end_date: Option<String>,
    weather_record_count: u64,
    traffic_available: bool,
    traffic_start_date: Option<String>,
    traffic_end_date: Option<String>,
    traffic_record_count: u64,
}

#[derive(Serialize)]
pub struct TrafficDataResponse {
    date: String,
    /// Vehicles per hour, mean per measurement point.
    traffic_volume: Option<i64>,
    /// Always `null`: no source counts pedestrians.
    pedestrian_count: Option<i64>,
    congestion_level: Option<&'static str>,
    average_speed: Option<f64>,
    source: Option<String>,
}

#[derive(Serialize)]
pub struct WeatherDataResponse {
    id: String,
    location_id: String,
    date: String,
    temperature: Option<f64>,
    precipitation: Option<f64>,
    humidity: Option<f64>,
    wind_speed: Option<f64>,
    pressure: Option<f64>,
    description: Option<&'static str>,
    source: Option<String>,
    created_at: Option<String>,
    updated_at: Option<String>,
}

/// The query of the historical endpoints; everything arrives as text and is checked by hand so
/// each problem gets its own message.
#[derive(Deserialize)]
pub struct RangeAtPoint {
    latitude: Option<String>,
    longitude: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
}

impl RangeAtPoint {
    /// The legacy POST body: a JSON object with the same four fields, numbers or strings.
    fn from_json(body: &[u8]) -> Result<Self, ApiError> {
        let invalid = |detail: String| ApiError::bad_request("invalid_body", detail);
        let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
            invalid(format!(
                "the body is a JSON object with latitude, longitude, start_date, end_date: {e}"
            ))
        })?;
        let object = value
            .as_object()
            .ok_or_else(|| invalid("the body must be a JSON object".into()))?;
        let field = |name: &str| -> Result<Option<String>, ApiError> {
            match object.get(name) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(text)) => Ok(Some(text.clone())),
                Some(serde_json::Value::Number(number)) => Ok(Some(number.to_string())),
                Some(other) => Err(invalid(format!(
                    "`{name}` must be a string or a number, got {other}"
                ))),
            }
        };
        Ok(Self {
            latitude: field("latitude")?,
            longitude: field("longitude")?,
            start_date: field("start_date")?,
            end_date: field("end_date")?,
        })
    }
}

/// `GET /api/v1/external/cities`: every enabled location.
pub async fn cities(State(core): State<Core>) -> Json<Vec<CityInfoResponse>> {
    Json(core.registry.places().map(city_info).collect())
}

fn city_info(location: &Location) -> CityInfoResponse {
    CityInfoResponse {
        city_id: location.id.clone(),
        name: location.name.clone(),
        country: location.country.clone(),
        latitude: location.coordinates.latitude,
        longitude: location.coordinates.longitude,
        radius_km: location.radius_km,
        weather_provider: first_source(location, Dataset::Weather),
        traffic_provider: first_source(location, Dataset::Traffic),
        enabled: location.enabled,
    }
}

fn first_source(location: &Location, dataset: Dataset) -> Option<String> {
    location
        .sources
        .get(&dataset)
        .and_then(|s| s.first().cloned())
}

/// `GET /api/v1/external/operations/cities/{city_id}/availability`.
pub async fn availability(
    State(core): State<Core>,
    Path(city_id): Path<String>,
) -> Result<Json<DataAvailabilityResponse>, ApiError> {
    let location = core.registry.get(&city_id).ok_or_else(|| {
        ApiError::not_found(
            "unknown_city",
            format!("no city `{city_id}`; GET /api/v1/external/cities lists them"),
        )
    })?;
    let extent = read::weather_extent(&core, location).await?;
    let traffic = read::extent(&core, location, Dataset::Traffic, Step::QUARTER_HOUR).await?;
    Ok(Json(DataAvailabilityResponse {
        city_id: location.id.clone(),
        city_name: location.name.clone(),
        weather_available: extent.instants > 0,
        weather_start_date: extent.first.map(|t| t.to_string()),
        weather_end_date: extent.last.map(|t| t.to_string()),
        weather_record_count: extent.instants,
        traffic_available: traffic.instants > 0,
        traffic_start_date: traffic.first.map(|t| t.to_string()),
        traffic_end_date: traffic.last.map(|t| t.to_string()),
        traffic_record_count: traffic.instants,
    }))
}

/// The city covering the query's point and the range asked for.
fn resolve(core: &Core, query: RangeAtPoint) -> Result<(&Location, TimeRange), ApiError> {
    let required = |value: Option<String>, name: &str| {
        value.ok_or_else(|| {
            ApiError::bad_request(
                "missing_parameter",
                format!("query parameter `{name}` is required"),
            )
        })
    };
    let point = coordinates(
        &required(query.latitude, "latitude")?,
        &required(query.longitude, "longitude")?,
    )?;
    let range = date_range(
        &required(query.start_date, "start_date")?,
        &required(query.end_date, "end_date")?,
        core.config.http.max_range_days,
    )?;
    let location = core
        .registry
        .nearest(point)
        .map_err(|e| ApiError::not_found("location_not_covered", e.to_string()))?
        .location;
    Ok((location, range))
}

/// `GET /api/v1/tenants/{tenant_id}/external/operations/historical-weather-optimized`: the
/// hourly weather of the city covering the tenant's point. The tenant id is not used: data are
/// per city, shared by every tenant in it.
pub async fn historical_weather(
    State(core): State<Core>,
    Path(_tenant_id): Path<String>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<RangeAtPoint>,
) -> Result<Response, ApiError> {
    let (location, range) = resolve(&core, query)?;
    let key = format!("seed-weather|{}|{}|{}", location.id, range.start, range.end);
    cached(
        &core,
        &headers,
        key,
        &location.id,
        Dataset::Weather,
        async {
            let rows = read::weather_rows(&core, location, range).await?;
            let body: Vec<WeatherDataResponse> = rows
                .into_iter()
                .map(|row| weather_response(location, row))
                .collect();
            Ok(Json(body).into_response())
        },
    )
    .await
}

/// `POST /api/v1/tenants/{tenant_id}/external/operations/weather/historical` (the seed's
/// deprecated form): the same answer, the query in a JSON body.
pub async fn historical_weather_post(
    core: State<Core>,
    tenant: Path<String>,
    headers: HeaderMap,
    ApiBody(body): ApiBody,
) -> Result<Response, ApiError> {
    let query = RangeAtPoint::from_json(&body)?;
    historical_weather(core, tenant, headers, ApiQuery(query)).await
}

/// `POST /api/v1/tenants/{tenant_id}/external/operations/traffic/historical`: as
/// [`historical_traffic`], the query in a JSON body.
pub async fn historical_traffic_post(
    core: State<Core>,
    tenant: Path<String>,
    headers: HeaderMap,
    ApiBody(body): ApiBody,
) -> Result<Response, ApiError> {
    let query = RangeAtPoint::from_json(&body)?;
    historical_traffic(core, tenant, headers, ApiQuery(query)).await
}

/// `GET /api/v1/tenants/{tenant_id}/external/operations/historical-traffic-optimized`: the
/// quarter-hourly traffic of the city covering the tenant's point.
pub async fn historical_traffic(
    State(core): State<Core>,
    Path(_tenant_id): Path<String>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<RangeAtPoint>,
) -> Result<Response, ApiError> {
    let (location, range) = resolve(&core, query)?;
    let key = format!("seed-traffic|{}|{}|{}", location.id, range.start, range.end);
    cached(
        &core,
        &headers,
        key,
        &location.id,
        Dataset::Traffic,
        async {
            let rows =
                read::rows(&core, location, Dataset::Traffic, Step::QUARTER_HOUR, range).await?;
            let body: Vec<TrafficDataResponse> = rows.into_iter().map(traffic_response).collect();
            Ok(Json(body).into_response())
        },
    )
    .await
}

/// The seed's congestion level from Madrid's service level (0 fluid … 3 congestion); `null`
/// where only history is stored, which carries no service level.
fn congestion(service_level: f64) -> &'static str {
    match service_level.round() as i64 {
        i64::MIN..=0 => "low",
        1 => "medium",
        2 => "high",
        _ => "blocked",
    }
}

fn traffic_response(row: read::Row) -> TrafficDataResponse {
    let value = |name: &str| row.values.get(name).copied();
    TrafficDataResponse {
        date: row.ts.to_string(),
        traffic_volume: value("intensity").map(|v| v.round() as i64),
        pedestrian_count: None,
        congestion_level: value("service_level").map(congestion),
        average_speed: value("average_speed"),
        source: row.source.map(|s| s.to_string()),
    }
}

fn weather_response(location: &Location, row: read::Row) -> WeatherDataResponse {
    let value = |name: &str| row.values.get(name).copied();
    let date = row.ts.to_string();
    WeatherDataResponse {
        id: format!("{}-weather-{}", location.id, row.ts.epoch()),
        // `date` starts with the UTC day (YYYY-MM-DD).
        location_id: format!("{}_{}", location.id, &date[..10]),
        date,
        temperature: value("temperature"),
        precipitation: value("precipitation"),
        humidity: value("humidity"),
        wind_speed: value("wind_speed"),
        pressure: value("pressure"),
        description: value("weather_code").and_then(weather::describe),
        source: row.source.map(|s| s.to_string()),
        created_at: row.created_at.map(|t| t.to_string()),
        updated_at: row.updated_at.map(|t| t.to_string()),
    }
}
