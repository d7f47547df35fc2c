//! AEMET OpenData's wire formats → canonical weather. Pure: bytes in, values out.
//!
//! Quirks handled (`shared/reference/upstream-formats.md` §2): every request first returns an
//! envelope whose status lives in the HTTP code, the body's `estado` and the `aemet_estado`
//! header, and the data come from its `datos` URL; `datos` bodies are ISO-8859-15, not UTF-8;
//! daily climatological values are all strings with decimal commas, and keys are absent rather
//! than null; `Ip` (trace, < 0.1 mm) is 0 with the trace flag; `Acum` (a total spread over several
//! days) has no daily value and is kept as a reject saying so; `Varias` stands for "several
//! times"; `dir` is in tens of degrees with 99 (variable) and 88 (no data) meaning no direction;
//! the precipitation day runs 07→07 UTC, so it is its own variable; hourly observations are JSON
//! numbers stamped by `fint`, the end of the hour, in UTC.

use jiff::civil::{Date, DateTime};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::domain::{Dataset, Flag, Observation, Step, Timestamp};
use crate::sources::text::{decimal, latin9};
use crate::sources::upstream::UpstreamError;
use crate::sources::{Payload, SourceError};

/// The first step's answer: where the data are.
#[derive(Debug, PartialEq, Eq)]
pub struct Envelope {
    pub datos: String,
    pub metadatos: Option<String>,
}

/// Reads a first-step answer. `status` is the HTTP code and `header` the `aemet_estado` header
/// when present; a refusal in any of the three places wins over a 200 in the others.
pub fn envelope(status: u16, header: Option<&str>, body: &[u8]) -> Result<Envelope, SourceError> {
    #[derive(Deserialize)]
    struct Wire {
        descripcion: Option<String>,
        estado: Option<Value>,
        datos: Option<String>,
        metadatos: Option<String>,
    }
    let wire: Option<Wire> = serde_json::from_str(&decode(body)).ok();
    let described = wire
        .as_ref()
        .and_then(|w| w.descripcion.clone())
        .unwrap_or_else(|| "no description".into());
    let body_estado = wire.as_ref().and_then(|w| match &w.estado {
        Some(Value::Number(n)) => n.as_u64().map(|n| n as u16),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    });
    let header_estado = header.and_then(|h| h.trim().parse::<u16>().ok());
    let code = [Some(status), header_estado, body_estado]
        .into_iter()
        .flatten()
        .find(|c| *c != 200)
        .unwrap_or(200);
    match code {
        200 => {}
        404 => return Err(SourceError::NoData(described)),
        401 | 403 => {
            return Err(SourceError::Refused(format!(
                "API key refused: {described}"
            )));
        }
        429 => {
            return Err(SourceError::Upstream(UpstreamError::RateLimited {
                retry_after: None,
                body: described,
            }));
        }
        code => {
            return Err(SourceError::Upstream(UpstreamError::Status {
                status: code,
                body: described,
            }));
        }
    }
    let wire = wire.ok_or_else(|| SourceError::Malformed("the envelope is not JSON".into()))?;
    let datos = wire
        .datos
        .ok_or_else(|| SourceError::Malformed(format!("envelope without `datos`: {described}")))?;
    Ok(Envelope {
        datos,
        metadatos: wire.metadatos,
    })
}

/// A `datos` body as text: UTF-8 when it is valid UTF-8 (re-encoded recordings), ISO-8859-15
/// otherwise (what AEMET sends).
fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => latin9(bytes),
    }
}

/// A `datos` body as its list of JSON objects.
pub(super) fn records(bytes: &[u8]) -> Result<Vec<Map<String, Value>>, SourceError> {
    let text = decode(bytes);
    serde_json::from_str(&text)
        .map_err(|e| SourceError::Malformed(format!("not a list of AEMET records: {e}")))
}

/// Daily climatological fields → (canonical variable, how to read the string).
const DAILY: &[(&str, &str, Reading)] = &[
    ("tmed", "temperature_mean", Reading::Decimal),
    ("tmax", "temperature_max", Reading::Decimal),
    ("tmin", "temperature_min", Reading::Decimal),
    ("prec", "precipitation_day_07utc", Reading::Precipitation),
    ("velmedia", "wind_speed_mean", Reading::Decimal),
    ("racha", "wind_gust_max", Reading::Decimal),
    ("dir", "wind_gust_direction", Reading::TensOfDegrees),
    ("hrMedia", "humidity_mean", Reading::Decimal),
    ("hrMax", "humidity_max", Reading::Decimal),
    ("hrMin", "humidity_min", Reading::Decimal),
    ("presMax", "pressure_max", Reading::Decimal),
    ("presMin", "pressure_min", Reading::Decimal),
    ("sol", "sunshine_duration", Reading::Decimal),
];

/// Fields holding a time of day (UTC `HH:MM`, a whole hour, or `Varias`).
const TIMES: &[&str] = &[
    "horatmin",
    "horatmax",
    "horaracha",
    "horaPresMax",
    "horaPresMin",
    "horaHrMax",
    "horaHrMin",
    "horapintmax",
];

#[derive(Clone, Copy)]
enum Reading {
    Decimal,
    Precipitation,
    TensOfDegrees,
}

/// `valores/climatologicos/diarios/datos/…`: one record per station and day.
pub fn daily(bytes: &[u8]) -> Result<Payload, SourceError> {
    let mut payload = Payload::new(Dataset::Weather);
    for record in records(bytes)? {
        let text = |key: &str| record.get(key).and_then(Value::as_str);
        let raw = || Value::Object(record.clone()).to_string();
        let Some(station) = text("indicativo") else {
            payload.reject(raw(), "no `indicativo`");
            continue;
        };
        let Some(day) = text("fecha").and_then(|f| f.parse::<Date>().ok()) else {
            payload.reject(raw(), "`fecha` is not a date");
            continue;
        };
        let ts = Timestamp::utc_midnight(day);
        for key in TIMES {
            if let Some(time) = text(key)
                && !is_time_of_day(time)
            {
                payload.reject(
                    format!("{station} {day} {key} = {time}"),
                    format!("{key} is neither HH:MM, an hour nor `Varias`"),
                );
            }
        }
        for &(key, variable, reading) in DAILY {
            let Some(cell) = record.get(key) else {
                continue; // absent: AEMET has no value for that day
            };
            let excerpt = format!("{station} {day} {key} = {cell}");
            let Some(cell) = cell.as_str() else {
                payload.reject(excerpt, format!("{key} is not a string"));
                continue;
            };
            let (value, flag) = match (reading, cell.trim()) {
                (Reading::Precipitation, "Ip") => (0.0, Flag::Trace),
                (Reading::Precipitation, "Acum") => {
                    payload.reject(
                        excerpt,
                        "precipitation accumulated over several days (`Acum`): no daily value",
                    );
                    continue;
                }
                (Reading::TensOfDegrees, "99" | "88") => continue, // variable / no direction
                (Reading::TensOfDegrees, cell) => match decimal(cell) {
                    Some(tens) if (0.0..=36.0).contains(&tens) => (tens * 10.0, Flag::Observed),
                    _ => {
                        payload.reject(excerpt, "dir is not tens of degrees (0–36, 88, 99)");
                        continue;
                    }
                },
                (_, cell) => match decimal(cell) {
                    Some(value) => (value, Flag::Observed),
                    None => {
                        payload.reject(excerpt, format!("{key} is not a decimal number"));
                        continue;
                    }
                },
            };
            push_checked(&mut payload, station, variable, ts, value, flag, excerpt);
        }
    }
    Ok(payload.finish())
}

/// Hourly conventional-observation fields → canonical variables (AEMET's units are ours).
const HOURLY: &[(&str, &str)] = &[
    ("ta", "temperature"),
    ("prec", "precipitation"),
    ("hr", "humidity"),
    ("vv", "wind_speed"),
    ("dv", "wind_direction"),
    ("pres", "pressure"),
];

/// `observacion/convencional/…`: one record per station and hour, stamped at the end of the
/// hour (`fint`, UTC), which is where almanac stamps an hour's amount too.
pub fn observations(bytes: &[u8]) -> Result<Payload, SourceError> {
    let mut payload = Payload::new(Dataset::Weather);
    for record in records(bytes)? {
        let raw = || Value::Object(record.clone()).to_string();
        let Some(station) = record.get("idema").and_then(Value::as_str) else {
            payload.reject(raw(), "no `idema`");
            continue;
        };
        let Some(ts) = record
            .get("fint")
            .and_then(Value::as_str)
            .and_then(|f| f.parse::<DateTime>().ok())
            .and_then(Timestamp::from_utc_civil)
        else {
            payload.reject(raw(), "`fint` is not a date-time");
            continue;
        };
        if !ts.is_aligned(Step::HOUR) {
            payload.reject(raw(), format!("`fint` {ts} is not the end of an hour"));
            continue;
        }
        for &(key, variable) in HOURLY {
            let Some(cell) = record.get(key) else {
                continue; // the station has no such sensor
            };
            let excerpt = format!("{station} {ts} {key} = {cell}");
            match cell.as_f64() {
                Some(value) => push_checked(
                    &mut payload,
                    station,
                    variable,
                    ts,
                    value,
                    Flag::Observed,
                    excerpt,
                ),
                None => payload.reject(excerpt, format!("{key} is not a number")),
            }
        }
    }
    Ok(payload.finish())
}

fn push_checked(
    payload: &mut Payload,
    station: &str,
    variable: &'static str,
    ts: Timestamp,
    value: f64,
    flag: Flag,
    excerpt: String,
) {
    let checked = Dataset::Weather
        .variable(variable)
        .map_or(Err(format!("unknown variable {variable}")), |v| {
            v.check(value)
        });
    match checked {
        Ok(value) => payload.push(
            Some(station),
            Observation {
                variable,
                ts,
                value,
                flag,
            },
        ),
        Err(reason) => payload.reject(excerpt, reason),
    }
}

/// `HH:MM`, a bare hour (`"11"`, `"24"`: pressure extremes are rounded to the hour) or `Varias`.
fn is_time_of_day(text: &str) -> bool {
    let text = text.trim();
    if text == "Varias" {
        return true;
    }
    let mut parts = text.split(':');
    let hour = parts.next().and_then(|h| h.parse::<u8>().ok());
    let minute = match parts.next() {
        Some(m) => m.len() == 2 && m.parse::<u8>().is_ok_and(|m| m < 60),
        None => true,
    };
    hour.is_some_and(|h| h <= 24) && minute && parts.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_status_is_read_from_code_header_and_body() {
        let ok = br#"{"descripcion":"exito","estado":200,"datos":"https://x/sh/1","metadatos":"https://x/sh/2"}"#;
        assert_eq!(envelope(200, None, ok).unwrap().datos, "https://x/sh/1");
        let none = br#"{"descripcion":"No hay datos que satisfagan esos criterios","estado":404}"#;
        assert!(
            matches!(envelope(200, None, none), Err(SourceError::NoData(d)) if d.starts_with("No hay datos"))
        );
        assert!(matches!(
            envelope(404, None, none),
            Err(SourceError::NoData(_))
        ));
        assert!(matches!(
            envelope(200, Some("401"), ok),
            Err(SourceError::Refused(_))
        ));
        let limited = envelope(
            200,
            None,
            br#"{"descripcion":"Too many API requests","estado":429}"#,
        );
        assert!(limited.unwrap_err().is_retryable());
        assert!(matches!(
            envelope(200, None, b"<html>"),
            Err(SourceError::Malformed(_))
        ));
    }

    #[test]
    fn sentinels_and_missing_keys_in_daily_values() {
        let body = r#"[ {
  "fecha" : "2024-01-02", "indicativo" : "3195", "nombre" : "MADRID, RETIRO",
  "tmed" : "5,4", "prec" : "Ip", "dir" : "99", "racha" : "7,2", "horaracha" : "Varias",
  "presMax" : "944,1", "horaPresMax" : "11", "sol" : "8,3"
}, {
  "fecha" : "2024-01-03", "indicativo" : "3195", "prec" : "Acum", "dir" : "27",
  "tmax" : "61,0", "horatmax" : "25:99"
} ]"#;
        let payload = daily(&latin9_bytes(body)).unwrap();
        let got: Vec<_> = payload
            .readings
            .iter()
            .map(|r| {
                (
                    r.observation.variable,
                    r.observation.value,
                    r.observation.flag,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("precipitation_day_07utc", 0.0, Flag::Trace),
                ("pressure_max", 944.1, Flag::Observed),
                ("sunshine_duration", 8.3, Flag::Observed),
                ("temperature_mean", 5.4, Flag::Observed),
                ("wind_gust_max", 7.2, Flag::Observed),
                ("wind_gust_direction", 270.0, Flag::Observed),
            ]
        );
        let reasons: Vec<_> = payload.rejects.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(reasons.iter().any(|r| r.contains("Acum")));
        assert!(reasons.iter().any(|r| r.contains("physical range")));
        assert!(reasons.iter().any(|r| r.contains("horatmax")));
    }

    fn latin9_bytes(text: &str) -> Vec<u8> {
        text.chars().map(|c| c as u32 as u8).collect()
    }
}
