//! A simulated OpenWeatherMap: current weather (`/owm/data/2.5/weather`) and the One Call 3.0
//! time machine (`/owm/data/3.0/onecall/timemachine`) in their real shapes — `cod` as an integer,
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
