//! A simulated AEMET OpenData that speaks the real protocol: every API path answers with the
//! envelope (`descripcion`, `estado`, `datos`, `metadatos`), refuses a request without the
//! `api_key` header with a 401 envelope, says "no data" for an unknown station inside a 200 body
//! (as AEMET does), and serves the `datos` as ISO-8859-15 Jackson-style JSON: daily values as
//! strings with decimal commas, `Ip` for a trace, precipitation over 07→07 UTC, `dir` in tens of
//! degrees, published four days late; hourly observations as numbers stamped by `fint`, the end
//! of the hour, for the last 24 hours; the municipal hourly forecast (`prediccion/especifica/
//! municipio/horaria/{INE}`) of the seed cities, issued at the last full hour, from the next
//! local hour for two days, every value a string, wind as compass point and km/h beside its
//! gust. Values come from [`super::climate`] at the station (or the municipality).

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

/// Municipalities whose forecast the simulator makes: INE code, name, latitude, longitude.
const MUNICIPALITIES: &[(&str, &str, f64, f64)] = &[
    ("28079", "Madrid", 40.4168, -3.7038),
    ("46250", "Valencia", 39.4699, -0.3763),
    ("08019", "Barcelona", 41.3851, 2.1734),
    ("41091", "Sevilla", 37.3891, -5.9845),
    ("48020", "Bilbao", 43.2630, -2.9350),
];

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
            "/aemet/api/prediccion/especifica/municipio/horaria/{code}",
            get(|Path(code): Path<String>, headers: HeaderMap| async move {
                match MUNICIPALITIES.iter().any(|(c, ..)| *c == code) {
                    true => envelope(&headers, STATIONS[0].0, &format!("forecast/{code}")),
                    false => envelope(&headers, "", ""),
                }
            }),
        )
        .route(
            "/aemet/sh/forecast/{code}",
            get(|Path(code): Path<String>| async move { forecast(&code, Timestamp::now()) }),
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

/// The municipal hourly forecast: today's and tomorrow's local hours from the next one, as
/// AEMET lays them out (a `dia` per local date, arrays of `{value, periodo}` strings).
fn forecast(code: &str, now: Timestamp) -> Response {
    let Some(&(id, name, lat, lon)) = MUNICIPALITIES.iter().find(|(c, ..)| *c == code) else {
        return (StatusCode::NOT_FOUND, "").into_response();
    };
    let Ok(zone) = jiff::tz::TimeZone::get("Europe/Madrid") else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "").into_response();
    };
    let issued = now.floor(Step::HOUR);
    let local = |ts: Timestamp| ts.to_jiff().to_zoned(zone.clone());
    let mut days: Vec<(Date, Vec<Timestamp>)> = Vec::new();
    for h in 1..=48 {
        let ts = issued.plus(h * 3_600);
        let date = local(ts).date();
        match days.last_mut() {
            Some((d, hours)) if *d == date => hours.push(ts),
            _ => days.push((date, vec![ts])),
        }
    }
    let string = |v: f64| Value::String(format!("{}", round(v, 0)));
    let dia: Vec<Value> = days
        .iter()
        .map(|(date, hours)| {
            let periodo = |ts: &Timestamp| format!("{:02}", local(*ts).hour());
            let series = |pick: &dyn Fn(&climate::Hour, Timestamp) -> Value| -> Value {
                hours
                    .iter()
                    .map(|ts| json!({"value": pick(&climate::hour(lat, lon, *ts), *ts), "periodo": periodo(ts)}))
                    .collect()
            };
            let wind: Vec<Value> = hours
                .iter()
                .flat_map(|ts| {
                    let h = climate::hour(lat, lon, *ts);
                    let kmh = round(h.wind_speed * 3.6, 0);
                    let point = ["N", "NE", "E", "SE", "S", "SO", "O", "NO"]
                        [((h.wind_direction + 22.5) / 45.0).floor() as usize % 8];
                    let point = if kmh < 1.0 { "C" } else { point };
                    [
                        json!({"direccion": [point], "velocidad": [format!("{kmh}")], "periodo": periodo(ts)}),
                        json!({"value": format!("{}", round(kmh * 1.6, 0)), "periodo": periodo(ts)}),
                    ]
                })
                .collect();
            json!({
                "estadoCielo": series(&|_, _| Value::String("12".into())),
                "precipitacion": series(&|h, _| match h.precipitation {
                    p if p > 0.0 && p < 0.1 => Value::String("Ip".into()),
                    p => Value::String(format!("{}", round(p, 1))),
                }),
                "temperatura": series(&|h, ts| {
                    let lead_days = (ts.epoch() - now.epoch()) as f64 / 86_400.0;
                    string(h.temperature + 0.8 * lead_days)
                }),
                "humedadRelativa": series(&|h, _| string(h.humidity)),
                "vientoAndRachaMax": wind,
                "fecha": format!("{date}T00:00:00"),
                "orto": "08:05",
                "ocaso": "18:00",
            })
        })
        .collect();
    let body = json!([{
        "origen": {"productor": "Agencia Estatal de Meteorología - AEMET. Gobierno de España"},
        "elaborado": local(issued).strftime("%Y-%m-%dT%H:%M:%S").to_string(),
        "nombre": name,
        "provincia": name,
        "prediccion": {"dia": dia},
        "id": id,
        "version": "1.0",
    }]);
    let text = serde_json::to_string_pretty(&body).unwrap_or_default();
    latin9(
        text.chars()
            .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
            .collect(),
    )
}
