//! The seed's endpoints (Bakery IA external data service, document `001_…` Parts 4–5), with its
//! response shapes, so its existing clients work unchanged. Fields the data cannot honestly
//! fill are `null`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::cached::cached;
use super::error::ApiError;
use super::json;
use super::params::{ApiBody, ApiPath, ApiQuery, JsonFields, coordinates, named_date_range};
use crate::core::Core;
use crate::domain::{Dataset, Location, Rfc3339Days, Step, TimeRange, Timestamp, weather};

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
pub struct TrafficDataResponse<'a> {
    date: Timestamp,
    /// Vehicles per hour, mean per measurement point.
    traffic_volume: Option<i64>,
    /// Always `null`: no source counts pedestrians.
    pedestrian_count: Option<i64>,
    congestion_level: Option<&'static str>,
    average_speed: Option<f64>,
    source: Option<&'a str>,
}

/// An encoded JSON answer (bytes, as the response cache keeps them).
fn json_bytes(body: Vec<u8>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        Bytes::from(body),
    )
        .into_response()
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
        let fields = JsonFields::parse(body, "latitude, longitude, start_date, end_date")?;
        Ok(Self {
            latitude: fields.text("latitude")?,
            longitude: fields.text("longitude")?,
            start_date: fields.text("start_date")?,
            end_date: fields.text("end_date")?,
        })
    }
}

/// `GET /api/v1/external/cities`: every enabled location.
pub async fn cities(State(core): State<Core>) -> Json<Vec<CityInfoResponse>> {
    Json(core.registry.cities().map(city_info).collect())
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
    ApiPath(city_id): ApiPath<String>,
) -> Result<Json<DataAvailabilityResponse>, ApiError> {
    let location = core.registry.get(&city_id).ok_or_else(|| {
        ApiError::not_found(
            "unknown_city",
            format!("no city `{city_id}`; GET /api/v1/external/cities lists them"),
        )
    })?;
    let extent = crate::query::weather_extent(&core, location).await?;
    let traffic =
        crate::query::extent(&core, location, Dataset::Traffic, Step::QUARTER_HOUR).await?;
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
    let range = named_date_range(
        ["start_date", "end_date"],
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

/// The seed declares `tenant_id` a UUID (its services send `8a7c9f5e-1b2d-…`); anything else is
/// a client's mistake worth saying, though the id is not otherwise used.
pub(super) fn tenant(raw: &str) -> Result<(), ApiError> {
    let bytes = raw.as_bytes();
    let uuid = bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
    if uuid {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_tenant",
            format!("tenant_id `{raw}` is not a UUID (8-4-4-4-12 hexadecimal digits)"),
        ))
    }
}

/// `GET /api/v1/tenants/{tenant_id}/external/operations/historical-weather-optimized`: the
/// hourly weather of the city covering the tenant's point. The tenant id is not used: data are
/// per city, shared by every tenant in it.
pub async fn historical_weather(
    State(core): State<Core>,
    ApiPath(tenant_id): ApiPath<String>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<RangeAtPoint>,
) -> Result<Response, ApiError> {
    tenant(&tenant_id)?;
    let (location, range) = resolve(&core, query)?;
    let key = format!("seed-weather|{}|{}|{}", location.id, range.start, range.end);
    cached(
        &core,
        &headers,
        key,
        &location.id,
        Dataset::Weather,
        async {
            let frame = crate::query::weather_rows(&core, location, range, Some(&WEATHER)).await?;
            Ok(json_bytes(weather_json(location, &frame)))
        },
    )
    .await
}

/// `POST /api/v1/tenants/{tenant_id}/external/operations/weather/historical` (the seed's
/// deprecated form): the same answer, the query in a JSON body.
pub async fn historical_weather_post(
    core: State<Core>,
    tenant: ApiPath<String>,
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
    tenant: ApiPath<String>,
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
    ApiPath(tenant_id): ApiPath<String>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<RangeAtPoint>,
) -> Result<Response, ApiError> {
    tenant(&tenant_id)?;
    let (city, range) = resolve(&core, query)?;
    // A registered tenant's own measurement points once loaded, else the city's.
    let own = crate::query::tenants::traffic_location(&core, &tenant_id.to_lowercase(), city);
    let location = own.as_ref().unwrap_or(city);
    let key = format!("seed-traffic|{}|{}|{}", location.id, range.start, range.end);
    let mut response = cached(
        &core,
        &headers,
        key,
        &location.id,
        Dataset::Traffic,
        async {
            let frame = crate::query::rows(
                &core,
                location,
                Dataset::Traffic,
                Step::QUARTER_HOUR,
                range,
                Some(&TRAFFIC),
            )
            .await?;
            let columns = TRAFFIC.map(|name| frame.column(name));
            let rows: Vec<TrafficDataResponse> = frame
                .rows()
                .map(|row| traffic_response(row, &columns))
                .collect();
            Ok(json_bytes(serde_json::to_vec(&rows)?))
        },
    )
    .await?;
    if let Ok(value) = axum::http::HeaderValue::from_str(&location.id) {
        response
            .headers_mut()
            .insert("x-almanac-traffic-location", value);
    }
    Ok(response)
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

/// The variables the seed's traffic answer is made of, in [`traffic_response`]'s order.
const TRAFFIC: [&str; 3] = ["intensity", "service_level", "average_speed"];

fn traffic_response<'a>(
    row: crate::query::Row<'a>,
    columns: &[Option<usize>; 3],
) -> TrafficDataResponse<'a> {
    TrafficDataResponse {
        date: row.ts(),
        traffic_volume: row.value(columns[0]).map(|v| v.round() as i64),
        pedestrian_count: None,
        congestion_level: row.value(columns[1]).map(congestion),
        average_speed: row.value(columns[2]),
        source: Some(row.source()),
    }
}

/// The variables the seed's weather answer is made of, in [`weather_json`]'s order.
const WEATHER: [&str; 6] = [
    "temperature",
    "precipitation",
    "humidity",
    "wind_speed",
    "pressure",
    "weather_code",
];

/// The seed's weather answer (`WeatherDataResponse` in `/openapi.json`), written by hand into
/// one buffer: the keys are constants, `date` is formatted once per row (its first ten bytes are
/// `location_id`'s day) and the run times once per change. Serialized by serde's derive, the 19
/// keys and strings of every row were each scanned for escapes; this is the answer the seed's
/// training jobs ask for two years at a time.
fn weather_json(location: &Location, frame: &crate::query::Frame) -> Vec<u8> {
    let columns = WEATHER.map(|name| frame.column(name));
    let quoted = serde_json::to_string(&location.id).unwrap_or_default();
    let id = quoted
        .as_bytes()
        .get(1..quoted.len().saturating_sub(1))
        .unwrap_or_default();
    let (mut created, mut updated) = (TimeText::default(), TimeText::default());
    let mut epoch = itoa::Buffer::new();
    let mut dates = Rfc3339Days::default();
    let (mut descriptions, mut sources) = (json::Strings::default(), json::Strings::default());
    let mut numbers: [json::Numbers; 5] = Default::default();
    // The constant parts around a row's instant, with the location's id in them.
    let head = [&b"{\"id\":\""[..], id, b"-weather-"].concat();
    let middle = [&b"\",\"location_id\":\""[..], id, b"_"].concat();
    let mut out = Vec::with_capacity(frame.len() * 330 + 2);
    out.push(b'[');
    for (i, row) in frame.rows().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let ts = row.ts();
        let owned;
        let date: &[u8] = match dates.format(ts) {
            Some(text) => text,
            None => {
                owned = ts.to_string();
                owned.as_bytes()
            }
        };
        out.extend_from_slice(&head);
        out.extend_from_slice(epoch.format(ts.epoch()).as_bytes());
        out.extend_from_slice(&middle);
        out.extend_from_slice(&date[..10]);
        out.extend_from_slice(b"\",\"date\":\"");
        out.extend_from_slice(date);
        out.extend_from_slice(b"\"");
        for ((key, column), numbers) in [
            &b",\"temperature\":"[..],
            b",\"precipitation\":",
            b",\"humidity\":",
            b",\"wind_speed\":",
            b",\"pressure\":",
        ]
        .into_iter()
        .zip(columns)
        .zip(&mut numbers)
        {
            out.extend_from_slice(key);
            match row.value(column) {
                Some(value) => numbers.write(&mut out, value),
                None => out.extend_from_slice(b"null"),
            }
        }
        out.extend_from_slice(b",\"description\":");
        match row.value(columns[5]).and_then(weather::describe) {
            Some(text) => descriptions.write(&mut out, text),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"source\":");
        sources.write(&mut out, row.source());
        out.extend_from_slice(b",\"created_at\":");
        created.write(&mut out, row.created_at());
        out.extend_from_slice(b",\"updated_at\":");
        updated.write(&mut out, row.updated_at());
        out.push(b'}');
    }
    out.push(b']');
    out
}

/// An optional instant as a JSON string or `null`, formatted again only when it changes (a
/// row's run times are mostly its neighbours').
#[derive(Default)]
struct TimeText {
    last: Option<(Timestamp, String)>,
}

impl TimeText {
    fn write(&mut self, out: &mut Vec<u8>, ts: Option<Timestamp>) {
        let Some(ts) = ts else {
            out.extend_from_slice(b"null");
            return;
        };
        if self.last.as_ref().is_none_or(|(at, _)| *at != ts) {
            self.last = Some((ts, format!("\"{ts}\"")));
        }
        if let Some((_, text)) = &self.last {
            out.extend_from_slice(text.as_bytes());
        }
    }
}
