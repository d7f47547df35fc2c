//! A simulated AEMET OpenData that speaks the real protocol: every API path answers with the
//! envelope (`descripcion`, `estado`, `datos`, `metadatos`), refuses a request without the
//! `api_key` header with a 401 envelope, says "no data" for an unknown station inside a 200 body
//! (as AEMET does), and serves the `datos` as ISO-8859-15 Jackson-style JSON: daily values as
//! strings with decimal commas, `Ip` for a trace, precipitation over 07→07 UTC, `dir` in tens of
//! degrees, published four days late; hourly observations as numbers stamped by `fint`, the end
//! of the hour, for the last 24 hours. Values come from [`super::climate`] at the station.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::civil::Date;
use serde_json::{Value, json};

use super::climate::{self, round};
use crate::domain::{Step, Timestamp};

/// The base URL the AEMET source is configured with, relative to the simulator.
pub const BASE: &str = "/aemet/api";

/// Days AEMET's climatological values lag behind.
const DELAY_DAYS: i64 = 4;

/// Stations the simulator knows: id, name, latitude, longitude.
pub const STATIONS: &[(&str, &str, f64, f64)] = &[
    ("3195", "MADRID, RETIRO", 40.4117, -3.6781),
    ("3129", "MADRID AEROPUERTO", 40.4667, -3.5556),
    ("3196", "MADRID, CUATRO VIENTOS", 40.3758, -3.7869),
];

pub fn router() -> Router {
    Router::new()
        .route(
            "/aemet/api/valores/climatologicos/diarios/datos/fechaini/{ini}/fechafin/{fin}/estacion/{station}",
            get(|Path((ini, fin, station)): Path<(String, String, String)>, headers: HeaderMap| async move {
                envelope(&headers, &station, &format!("daily/{station}/{ini}/{fin}"))
            }),
        )
        .route(
            "/aemet/api/observacion/convencional/datos/estacion/{station}",
            get(|Path(station): Path<String>, headers: HeaderMap| async move {
                envelope(&headers, &station, &format!("obs/{station}"))
            }),
        )
        .route(
            "/aemet/sh/daily/{station}/{ini}/{fin}",
            get(|Path((station, ini, fin)): Path<(String, String, String)>| async move {
                daily(&station, &ini, &fin, Timestamp::now())
            }),
        )
        .route(
            "/aemet/sh/obs/{station}",
            get(|Path(station): Path<String>| async move { observations(&station, Timestamp::now()) }),
        )
}

fn station(id: &str) -> Option<&'static (&'static str, &'static str, f64, f64)> {
    STATIONS.iter().find(|(s, ..)| *s == id)
}

fn envelope(headers: &HeaderMap, station_id: &str, datos: &str) -> Response {
    if headers.get("api_key").is_none() {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"descripcion": "API key invalido", "estado": 401})),
        )
            .into_response();
    }
    if station(station_id).is_none() {
        return axum::Json(json!({
            "descripcion": "No hay datos que satisfagan esos criterios", "estado": 404
        }))
        .into_response();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    axum::Json(json!({
        "descripcion": "exito",
        "estado": 200,
        "datos": format!("http://{host}/aemet/sh/{datos}"),
        "metadatos": format!("http://{host}/aemet/sh/metadatos"),
    }))
    .into_response()
}

/// AEMET's layout: `[ {\n  "key" : "value",\n …} ]`, ISO-8859-15, no trailing newline.
fn jackson(records: &[Vec<(&str, Value)>]) -> Vec<u8> {
    let objects: Vec<String> = records
        .iter()
        .map(|fields| {
            let lines: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("  \"{k}\" : {v}"))
                .collect();
            format!("{{\n{}\n}}", lines.join(",\n"))
        })
        .collect();
    let text = format!("[ {} ]", objects.join(", "));
    // ISO-8859-15 and Latin-1 agree on every character the simulator writes.
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect()
}

fn comma(value: f64, decimals: usize) -> Value {
    Value::String(format!("{value:.decimals$}").replace('.', ","))
}

fn latin9(body: Vec<u8>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain;charset=ISO-8859-15")],
        body,
    )
        .into_response()
}

fn daily(station_id: &str, ini: &str, fin: &str, now: Timestamp) -> Response {
    let Some(&(id, name, lat, lon)) = station(station_id) else {
        return (StatusCode::NOT_FOUND, "").into_response();
    };
    let day = |text: &str| text.get(..10).and_then(|d| d.parse::<Date>().ok());
    let (Some(first), Some(last)) = (day(ini), day(fin)) else {
        return (StatusCode::BAD_REQUEST, "bad dates").into_response();
    };
    let published = now.floor(Step::DAY).plus(-DELAY_DAYS * 86_400);
    let mut records = Vec::new();
    let mut date = first;
    while date <= last {
        let start = Timestamp::utc_midnight(date);
        if start >= published {
            break;
        }
        let hours: Vec<climate::Hour> = (0..24)
            .map(|h| climate::hour(lat, lon, start.plus(h * 3_600)))
            .collect();
        let temps: Vec<f64> = hours.iter().map(|h| h.temperature).collect();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let max = |v: &[f64]| v.iter().copied().fold(f64::MIN, f64::max);
        let min = |v: &[f64]| v.iter().copied().fold(f64::MAX, f64::min);
        // 07→07 UTC: the hours ending at 08:00 … 07:00 the next day.
        let rain: f64 = (8..32)
            .map(|h| climate::hour(lat, lon, start.plus(h * 3_600)).precipitation)
            .sum();
        let winds: Vec<f64> = hours.iter().map(|h| h.wind_speed).collect();
        let gust_hour = hours
            .iter()
            .max_by(|a, b| a.wind_speed.total_cmp(&b.wind_speed))
            .expect("24 hours");
        let humidity: Vec<f64> = hours.iter().map(|h| h.humidity).collect();
        let pressure: Vec<f64> = hours.iter().map(|h| h.pressure - 90.0).collect();
        let prec = match round(rain, 1) {
            r if r > 0.0 && r < 0.1 => Value::String("Ip".into()),
            r if r == 0.0 && rain > 0.0 => Value::String("Ip".into()),
            r => comma(r, 1),
        };
        records.push(vec![
            ("fecha", Value::String(date.to_string())),
            ("indicativo", Value::String(id.into())),
            ("nombre", Value::String(name.into())),
            ("provincia", Value::String("MADRID".into())),
            ("altitud", Value::String("667".into())),
            ("tmed", comma(mean(&temps), 1)),
            ("prec", prec),
            ("tmin", comma(min(&temps), 1)),
            ("horatmin", Value::String("05:40".into())),
            ("tmax", comma(max(&temps), 1)),
            ("horatmax", Value::String("Varias".into())),
            (
                "dir",
                Value::String(format!(
                    "{:02}",
                    (gust_hour.wind_direction / 10.0).round() as i64 % 36
                )),
            ),
            ("velmedia", comma(mean(&winds), 1)),
            ("racha", comma(max(&winds) * 1.6, 1)),
            ("horaracha", Value::String("14:10".into())),
            ("presMax", comma(max(&pressure), 1)),
            ("horaPresMax", Value::String("10".into())),
            ("presMin", comma(min(&pressure), 1)),
            ("horaPresMin", Value::String("17".into())),
            ("hrMedia", comma(mean(&humidity).round(), 0)),
            ("hrMax", comma(max(&humidity), 0)),
            ("horaHrMax", Value::String("Varias".into())),
            ("hrMin", comma(min(&humidity), 0)),
            ("horaHrMin", Value::String("15:00".into())),
        ]);
        date = match date.tomorrow() {
            Ok(next) => next,
            Err(_) => break,
        };
    }
    latin9(jackson(&records))
}

fn observations(station_id: &str, now: Timestamp) -> Response {
    let Some(&(id, name, lat, lon)) = station(station_id) else {
        return (StatusCode::NOT_FOUND, "").into_response();
    };
    let last = now.floor(Step::HOUR);
    let records: Vec<Vec<(&str, Value)>> = (0..24)
        .rev()
        .map(|back| {
            let fint = last.plus(-back * 3_600);
            let h = climate::hour(lat, lon, fint);
            vec![
                ("idema", Value::String(id.into())),
                ("lon", json!(lon)),
                (
                    "fint",
                    Value::String(fint.to_jiff().strftime("%Y-%m-%dT%H:%M:%S").to_string()),
                ),
                ("prec", json!(h.precipitation)),
                ("alt", json!(667.0)),
                ("vmax", json!(round(h.wind_speed * 1.5, 1))),
                ("vv", json!(h.wind_speed)),
                ("dv", json!(h.wind_direction)),
                ("lat", json!(lat)),
                ("ubi", Value::String(name.into())),
                ("pres", json!(round(h.pressure - 90.0, 1))),
                ("hr", json!(h.humidity)),
                ("ta", json!(h.temperature)),
            ]
        })
        .collect();
    latin9(jackson(&records))
}
