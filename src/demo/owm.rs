//! A simulated OpenWeatherMap: current weather (`/owm/data/2.5/weather`), the 5-day/3-hour
//! forecast (`/owm/data/2.5/forecast`: `cod` a string there, `rain.3h`, `dt_txt`) and the One
//! Call 3.0 time machine (`/owm/data/3.0/onecall/timemachine`) in their real shapes — `cod` as an integer,
//! `rain` only when it rains, sea-level `pressure` beside `grnd_level`, condition ids — and the
//! real 401 body for a missing key. `units` is honoured (Kelvin by default). Values come from
//! [`super::climate`].

use axum::Json;
use axum::Router;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::climate::{self, round};
use crate::domain::{Step, Timestamp};

pub const CURRENT_PATH: &str = "/owm/data/2.5/weather";
pub const TIMEMACHINE_PATH: &str = "/owm/data/3.0/onecall/timemachine";
pub const FORECAST_PATH: &str = "/owm/data/2.5/forecast";

#[derive(Deserialize)]
struct Params {
    lat: Option<f64>,
    lon: Option<f64>,
    appid: Option<String>,
    units: Option<String>,
    dt: Option<i64>,
}

pub fn router() -> Router {
    Router::new()
        .route(
            CURRENT_PATH,
            get(|Query(p): Query<Params>| async move { current(&p, Timestamp::now()) }),
        )
        .route(
            FORECAST_PATH,
            get(|Query(p): Query<Params>| async move { forecast(&p, Timestamp::now()) }),
        )
        .route(
            TIMEMACHINE_PATH,
            get(|Query(p): Query<Params>| async move { timemachine(&p, Timestamp::now()) }),
        )
}

fn refuse(p: &Params) -> Option<Response> {
    if p.appid.as_deref().is_none_or(str::is_empty) {
        return Some(
            (
                StatusCode::UNAUTHORIZED,
                Json(json!({"cod": 401, "message": "Invalid API key. Please see https://openweathermap.org/faq#error401 for more info."})),
            )
                .into_response(),
        );
    }
    if p.lat.is_none() || p.lon.is_none() {
        return Some(
            (
                StatusCode::BAD_REQUEST,
                Json(json!({"cod": "400", "message": "Nothing to geocode"})),
            )
                .into_response(),
        );
    }
    None
}

/// A conversion from a canonical value to the requested units.
type Convert = fn(f64) -> f64;

/// Temperature and speed in the requested units.
fn units(p: &Params) -> (Convert, Convert) {
    match p.units.as_deref() {
        Some("metric") => (|c| c, |s| s),
        Some("imperial") => (
            |c| round(c * 9.0 / 5.0 + 32.0, 2),
            |s| round(s / 0.44704, 2),
        ),
        _ => (|c| round(c + 273.15, 2), |s| s),
    }
}

fn condition(code: f64) -> (i64, &'static str) {
    match code as i64 {
        0 => (800, "Clear"),
        1..=3 => (803, "Clouds"),
        45 | 48 => (741, "Fog"),
        51..=67 | 80..=82 => (500, "Rain"),
        71..=77 | 85 | 86 => (600, "Snow"),
        _ => (211, "Thunderstorm"),
    }
}

fn current(p: &Params, now: Timestamp) -> Response {
    if let Some(refusal) = refuse(p) {
        return refusal;
    }
    let (lat, lon) = (p.lat.unwrap_or_default(), p.lon.unwrap_or_default());
    // Observed a few minutes before the request, as OWM's stations report.
    let dt = now.plus(-240);
    let h = climate::hour(lat, lon, dt.floor(Step::HOUR));
    let (t, s) = units(p);
    let (id, main) = condition(h.weather_code);
    let mut body = json!({
        "coord": {"lon": lon, "lat": lat},
        "weather": [{"id": id, "main": main, "description": main.to_lowercase(), "icon": "10d"}],
        "base": "stations",
        "main": {"temp": t(h.temperature), "feels_like": t(h.temperature - 1.0),
                 "pressure": round(h.pressure + 80.0, 0), "humidity": h.humidity,
                 "sea_level": round(h.pressure + 80.0, 0), "grnd_level": h.pressure},
        "visibility": 10000,
        "wind": {"speed": s(h.wind_speed), "deg": h.wind_direction},
        "clouds": {"all": 40},
        "dt": dt.epoch(),
        "timezone": 3600, "id": 3117735, "name": "Madrid", "cod": 200
    });
    if h.precipitation > 0.0 {
        body["rain"] = json!({"1h": h.precipitation});
    }
    Json(body).into_response()
}

/// Forty items, every three hours (00, 03, … UTC) from the next such hour; each value is the
/// climate's, the temperature off by an error growing with the lead.
fn forecast(p: &Params, now: Timestamp) -> Response {
    if let Some(refusal) = refuse(p) {
        return refusal;
    }
    let (lat, lon) = (p.lat.unwrap_or_default(), p.lon.unwrap_or_default());
    let (t, s) = units(p);
    let three_hours = Step::from_seconds(3 * 3_600).unwrap_or(Step::HOUR);
    let first = now.ceil(three_hours);
    let list: Vec<Value> = (0..40)
        .map(|i| {
            let dt = first.plus(i * 3 * 3_600);
            let h = climate::hour(lat, lon, dt);
            let lead_days = (dt.epoch() - now.epoch()) as f64 / 86_400.0;
            let error = ((dt.epoch() / 3_600 % 7) as f64 - 3.0) * 0.15 * lead_days;
            let (id, main) = condition(h.weather_code);
            let rain: f64 = (0..3)
                .map(|k| climate::hour(lat, lon, dt.plus(-k * 3_600)).precipitation)
                .sum();
            let mut item = json!({
                "dt": dt.epoch(),
                "main": {"temp": t(round(h.temperature + error, 2)), "feels_like": t(h.temperature - 1.0),
                         "temp_min": t(h.temperature), "temp_max": t(h.temperature),
                         "pressure": round(h.pressure + 80.0, 0), "sea_level": round(h.pressure + 80.0, 0),
                         "grnd_level": h.pressure, "humidity": h.humidity, "temp_kf": 0},
                "weather": [{"id": id, "main": main, "description": main.to_lowercase(), "icon": "10d"}],
                "clouds": {"all": 40},
                "wind": {"speed": s(h.wind_speed), "deg": h.wind_direction, "gust": s(h.wind_speed * 1.5)},
                "visibility": 10000,
                "pop": if rain > 0.0 { 0.8 } else { 0.0 },
                "sys": {"pod": "d"},
                "dt_txt": dt.to_jiff().strftime("%Y-%m-%d %H:%M:%S").to_string()
            });
            if rain > 0.0 {
                item["rain"] = json!({"3h": round(rain, 2)});
            }
            item
        })
        .collect();
    Json(json!({
        "cod": "200", "message": 0, "cnt": list.len(), "list": list,
        "city": {"id": 3117735, "name": "Madrid", "coord": {"lat": lat, "lon": lon},
                 "country": "ES", "timezone": 3600, "sunrise": 0, "sunset": 0}
    }))
    .into_response()
}

fn timemachine(p: &Params, now: Timestamp) -> Response {
    if let Some(refusal) = refuse(p) {
        return refusal;
    }
    let Some(dt) = p.dt.map(Timestamp::from_epoch).filter(|dt| *dt <= now) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"cod": 400, "message": "requested time is in the future"})),
        )
            .into_response();
    };
    let (lat, lon) = (p.lat.unwrap_or_default(), p.lon.unwrap_or_default());
    let hour = dt.floor(Step::HOUR);
    let h = climate::hour(lat, lon, hour);
    // The hour's amount is the next stamp's "preceding hour" in the climate model.
    let rain = climate::hour(lat, lon, hour.plus(3_600)).precipitation;
    let (t, s) = units(p);
    let (id, main) = condition(h.weather_code);
    let mut item = json!({
        "dt": hour.epoch(), "temp": t(h.temperature), "feels_like": t(h.temperature - 1.0),
        "pressure": round(h.pressure + 80.0, 0), "humidity": h.humidity, "dew_point": t(h.temperature - 4.0),
        "clouds": 40, "visibility": 10000, "wind_speed": s(h.wind_speed), "wind_deg": h.wind_direction,
        "weather": [{"id": id, "main": main, "description": main.to_lowercase(), "icon": "10d"}]
    });
    if rain > 0.0 {
        item["rain"] = json!({"1h": rain});
    }
    let body: Value = json!({"lat": lat, "lon": lon, "timezone": "Europe/Madrid", "timezone_offset": 3600, "data": [item]});
    Json(body).into_response()
}
