//! A simulated Open-Meteo that speaks its real wire format: `/v1/archive` and `/v1/forecast`
//! with `latitude`, `longitude`, `hourly`, `start_date`, `end_date`, `timezone` (GMT or an IANA
//! zone applied as ONE fixed offset, the one valid now, as the real service does), the unit
//! parameters and `timeformat`; column-oriented `hourly` arrays with `hourly_units`; and its
//! 400 error object. Values come from [`super::climate`]. Nothing is simulated downstream of
//! the HTTP response: almanac fetches, parses and stores these exactly as the real thing.

use axum::Json;
use axum::Router;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::ToSpan;
use jiff::civil::Date;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::climate;
use crate::domain::Timestamp;

/// Open-Meteo variables the simulator serves, with the legacy spellings it echoes back.
const VARIABLES: &[&str] = &[
    "temperature_2m",
    "precipitation",
    "relative_humidity_2m",
    "relativehumidity_2m",
    "wind_speed_10m",
    "windspeed_10m",
    "wind_direction_10m",
    "surface_pressure",
    "weather_code",
    "weathercode",
];

#[derive(Deserialize)]
struct Params {
    latitude: Option<String>,
    longitude: Option<String>,
    hourly: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
    /// The forecast API's alternative to dates: today and the days after it (default 7).
    forecast_days: Option<u32>,
    timezone: Option<String>,
    wind_speed_unit: Option<String>,
    temperature_unit: Option<String>,
    precipitation_unit: Option<String>,
    timeformat: Option<String>,
}

#[derive(Clone, Copy)]
enum Api {
    Archive,
    Forecast,
}

/// The simulator's routes.
pub fn router() -> Router {
    Router::new()
        .route(
            "/v1/archive",
            get(|Query(p): Query<Params>| async move { respond(Api::Archive, p) }),
        )
        .route(
            "/v1/forecast",
            get(|Query(p): Query<Params>| async move { respond(Api::Forecast, p) }),
        )
}

fn respond(api: Api, params: Params) -> Response {
    match build(api, &params, Timestamp::now()) {
        Ok(body) => Json(body).into_response(),
        Err(reason) => (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": true, "reason": reason })),
        )
            .into_response(),
    }
}

fn build(api: Api, p: &Params, now: Timestamp) -> Result<Value, String> {
    let latitude = number(p.latitude.as_deref(), "latitude")?;
    let longitude = number(p.longitude.as_deref(), "longitude")?;
    if !(-90.0..=90.0).contains(&latitude) {
        return Err(format!(
            "Latitude must be in range of -90 to 90°. Given: {latitude}."
        ));
    }
    if !(-180.0..=180.0).contains(&longitude) {
        return Err(format!(
            "Longitude must be in range of -180 to 180°. Given: {longitude}."
        ));
    }
    let (start, end) = match (api, p.start_date.as_deref(), p.end_date.as_deref()) {
        (_, Some(start), Some(end)) => (
            start
                .parse::<Date>()
                .map_err(|_| format!("Invalid date format for 'start_date': {start}"))?,
            end.parse::<Date>()
                .map_err(|_| format!("Invalid date format for 'end_date': {end}"))?,
        ),
        (Api::Forecast, None, None) => {
            let days = p.forecast_days.unwrap_or(7);
            if !(1..=16).contains(&days) {
                return Err(format!(
                    "Forecast days is invalid. Allowed range 0 to 16. Given {days}."
                ));
            }
            let today = now.utc_date();
            let last = today
                .checked_add(i64::from(days - 1).days())
                .unwrap_or(today);
            (today, last)
        }
        _ => return Err("Both 'start_date' and 'end_date' must be set in the url".into()),
    };
    if end < start {
        return Err("End-date must be larger or equals than start-date".into());
    }
    check_allowed(api, start, end, now)?;
    let zone = p.timezone.as_deref().unwrap_or("GMT");
    let tz = jiff::tz::TimeZone::get(zone).map_err(|_| "Invalid timezone".to_string())?;
    let offset = i64::from(tz.to_offset(now.to_jiff()).seconds());
    let requested: Vec<&str> = p
        .hourly
        .as_deref()
        .unwrap_or("")
        .split(',')
        .filter(|v| !v.is_empty())
        .collect();
    if let Some(bad) = requested.iter().find(|v| !VARIABLES.contains(v)) {
        return Err(format!(
            "Cannot initialize WeatherVariable from invalid String value {bad} for key hourly"
        ));
    }
    let units = Units::from(p)?;
    let first = local_midnight(start) - offset;
    let hours = (end.since(start).map_err(|e| e.to_string())?.get_days() as i64 + 1) * 24;
    let instants: Vec<Timestamp> = (0..hours)
        .map(|h| Timestamp::from_epoch(first + h * 3_600))
        .collect();
    let weather: Vec<climate::Hour> = instants
        .iter()
        .map(|ts| climate::hour(latitude, longitude, *ts))
        .collect();

    let mut hourly = Map::new();
    let mut hourly_units = Map::new();
    let unixtime = p.timeformat.as_deref() == Some("unixtime");
    hourly_units.insert(
        "time".into(),
        json!(if unixtime { "unixtime" } else { "iso8601" }),
    );
    let times = instants.iter().map(|ts| {
        if unixtime {
            json!(ts.epoch())
        } else {
            json!(local_label(*ts, offset))
        }
    });
    hourly.insert("time".into(), Value::Array(times.collect()));
    for &name in &requested {
        let (unit, values) = column(name, &weather, &instants, api, now, &units);
        hourly_units.insert(name.into(), json!(unit));
        hourly.insert(name.into(), Value::Array(values));
    }
    Ok(json!({
        "latitude": (latitude * 10.0).round() / 10.0,
        "longitude": (longitude * 10.0).round() / 10.0,
        "generationtime_ms": 0.5,
        "utc_offset_seconds": offset,
        "timezone": zone,
        "timezone_abbreviation": if offset == 0 { "GMT".to_string() } else { format!("GMT{:+}", offset / 3_600) },
        "elevation": 0.0,
        "hourly_units": hourly_units,
        "hourly": hourly,
    }))
}

struct Units {
    fahrenheit: bool,
    inch: bool,
    wind: (&'static str, f64),
}

impl Units {
    fn from(p: &Params) -> Result<Self, String> {
        let wind = match p.wind_speed_unit.as_deref().unwrap_or("kmh") {
            "kmh" => ("km/h", 3.6),
            "ms" => ("m/s", 1.0),
            "mph" => ("mp/h", 1.0 / 0.44704),
            "kn" => ("kn", 1.0 / 0.514_444),
            other => {
                return Err(format!(
                    "Cannot initialize WindspeedUnit from invalid String value {other}"
                ));
            }
        };
        Ok(Self {
            fahrenheit: p.temperature_unit.as_deref() == Some("fahrenheit"),
            inch: p.precipitation_unit.as_deref() == Some("inch"),
            wind,
        })
    }
}

/// How a column's value is taken from a simulated hour.
type Pick<'a> = Box<dyn Fn(&climate::Hour) -> f64 + 'a>;

/// One variable's unit and values; the archive has nothing after the current hour.
fn column(
    name: &str,
    weather: &[climate::Hour],
    instants: &[Timestamp],
    api: Api,
    now: Timestamp,
    units: &Units,
) -> (&'static str, Vec<Value>) {
    let round = |v: f64, d: i32| (v * 10f64.powi(d)).round() / 10f64.powi(d);
    let (unit, pick): (&'static str, Pick<'_>) = match name {
        "temperature_2m" if units.fahrenheit => (
            "°F",
            Box::new(move |h| round(h.temperature * 9.0 / 5.0 + 32.0, 1)),
        ),
        "temperature_2m" => ("°C", Box::new(|h| h.temperature)),
        "precipitation" if units.inch => {
            ("inch", Box::new(move |h| round(h.precipitation / 25.4, 3)))
        }
        "precipitation" => ("mm", Box::new(|h| h.precipitation)),
        "relative_humidity_2m" | "relativehumidity_2m" => ("%", Box::new(|h| h.humidity)),
        "wind_speed_10m" | "windspeed_10m" => (
            units.wind.0,
            Box::new(move |h| round(h.wind_speed * units.wind.1, 2)),
        ),
        "wind_direction_10m" => ("°", Box::new(|h| h.wind_direction)),
        "surface_pressure" => ("hPa", Box::new(|h| h.pressure)),
        _ => ("wmo code", Box::new(|h| h.weather_code)),
    };
    let values = weather
        .iter()
        .zip(instants)
        .map(|(h, ts)| match api {
            Api::Archive if *ts > now => Value::Null,
            Api::Forecast if *ts > now && name == "temperature_2m" && !units.fahrenheit => {
                json!(round(h.temperature + forecast_error(*ts, now), 1))
            }
            _ => json!(pick(h)),
        })
        .collect();
    (unit, values)
}

/// A forecast's temperature error for the hour `ts` as forecast at `now`: none for the hour
/// at hand, growing with the lead (about ±0.4 °C a day ahead, ±2 °C at a week), different for
/// each issue (every three hours), so a later issue is closer to what happens.
fn forecast_error(ts: Timestamp, now: Timestamp) -> f64 {
    let lead_days = (ts.epoch() - now.epoch()) as f64 / 86_400.0;
    let seed =
        (ts.epoch() / 3_600).wrapping_mul(7_919) ^ (now.epoch() / 10_800).wrapping_mul(104_729);
    let unit = (seed.rem_euclid(1_000) as f64) / 1_000.0 - 0.5;
    unit * 0.8 * lead_days.sqrt() * lead_days.max(1.0).sqrt()
}

fn check_allowed(api: Api, start: Date, end: Date, now: Timestamp) -> Result<(), String> {
    let today = now.utc_date();
    let (first, last) = match api {
        Api::Archive => (
            Date::constant(1940, 1, 1),
            today.checked_add(1.day()).unwrap_or(today),
        ),
        Api::Forecast => (
            today.checked_sub(92.days()).unwrap_or(today),
            today.checked_add(16.days()).unwrap_or(today),
        ),
    };
    for (name, date) in [("start_date", start), ("end_date", end)] {
        if date < first || date > last {
            return Err(format!(
                "Parameter '{name}' is out of allowed range from {first} to {last}"
            ));
        }
    }
    Ok(())
}

fn number(raw: Option<&str>, name: &str) -> Result<f64, String> {
    let raw = raw.ok_or_else(|| format!("Parameter '{name}' is required"))?;
    raw.parse().map_err(|_| {
        format!("Cannot initialize Float from invalid String value {raw} for key {name}")
    })
}

fn local_midnight(date: Date) -> i64 {
    date.to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp().as_second())
        .unwrap_or(0)
}

/// `YYYY-MM-DDTHH:MM` in the response's fixed offset, as Open-Meteo prints it.
fn local_label(ts: Timestamp, offset: i64) -> String {
    let local = ts.plus(offset).to_jiff().to_zoned(jiff::tz::TimeZone::UTC);
    local.strftime("%Y-%m-%dT%H:%M").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(query: &str) -> Params {
        serde_json::from_value(serde_json::Value::Object(
            query
                .split('&')
                .map(|kv| kv.split_once('=').unwrap())
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect(),
        ))
        .unwrap()
    }

    #[test]
    fn applies_one_fixed_offset_like_the_real_service() {
        let now = Timestamp::from_epoch(1_719_792_000); // 2024-07-01, Madrid on +02:00
        let body = build(Api::Archive, &params("latitude=40.4&longitude=-3.7&hourly=temperature_2m&start_date=2024-01-10&end_date=2024-01-10&timezone=Europe/Madrid"), now).unwrap();
        assert_eq!(body["utc_offset_seconds"], 7_200);
        assert_eq!(body["hourly"]["time"][0], "2024-01-10T00:00");
        assert_eq!(body["hourly"]["time"].as_array().unwrap().len(), 24);
    }

    #[test]
    fn answers_bad_requests_with_the_error_object_reasons() {
        let now = Timestamp::from_epoch(1_719_792_000);
        let reason = |q: &str| build(Api::Archive, &params(q), now).unwrap_err();
        assert!(
            reason("latitude=91&longitude=0&start_date=2024-01-01&end_date=2024-01-01")
                .starts_with("Latitude must be in range")
        );
        assert_eq!(
            reason("latitude=1&longitude=0&start_date=2024-01-02&end_date=2024-01-01"),
            "End-date must be larger or equals than start-date"
        );
        assert!(
            reason(
                "latitude=1&longitude=0&start_date=2024-01-01&end_date=2024-01-01&hourly=snowfall_x"
            )
            .contains("snowfall_x")
        );
        assert!(
            build(
                Api::Forecast,
                &params("latitude=1&longitude=0&start_date=2020-01-01&end_date=2020-01-01"),
                now
            )
            .is_err()
        );
    }
}
