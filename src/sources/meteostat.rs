//! Meteostat's JSON API (`stations/hourly`) → canonical weather. Pure: bytes in, values out.
//!
//! Quirks handled (`shared/reference/upstream-formats.md` §6): `time` is `YYYY-MM-DD hh:mm:ss`
//! in UTC (no `tz=` requested); `null` for missing; integers arrive as floats; wind in km/h.
//! Choices: `pres` is at sea level and almanac's `pressure` is at station level, and `coco` is
//! Meteostat's own condition code (1–27), not WMO: neither is stored; `prcp` is the hour's total,
//! stamped at its time like every hourly amount.

use jiff::civil::DateTime;
use serde_json::Value;

use crate::domain::{Dataset, Flag, Observation, Step, Timestamp};
use crate::sources::{Payload, SourceError};

/// Meteostat field → (canonical variable, unit).
const FIELDS: &[(&str, &str, &str)] = &[
    ("temp", "temperature", "°C"),
    ("rhum", "humidity", "%"),
    ("prcp", "precipitation", "mm"),
    ("wspd", "wind_speed", "km/h"),
    ("wdir", "wind_direction", "°"),
];

pub fn parse(bytes: &[u8]) -> Result<Payload, SourceError> {
    let body: Value = serde_json::from_slice(bytes)
        .map_err(|e| SourceError::Malformed(format!("not JSON: {e}")))?;
    if let Some(message) = body.get("message").and_then(Value::as_str) {
        return Err(SourceError::Refused(message.to_owned()));
    }
    let rows = body
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| SourceError::Malformed("no `data` array".into()))?;
    let mut payload = Payload::new(Dataset::Weather);
    for row in rows {
        let ts = row
            .get("time")
            .and_then(Value::as_str)
            .and_then(|t| DateTime::strptime("%Y-%m-%d %H:%M:%S", t).ok())
            .and_then(Timestamp::from_utc_civil);
        let Some(ts) = ts.filter(|ts| ts.is_aligned(Step::HOUR)) else {
            payload.reject(row.to_string(), "`time` is not a whole UTC hour");
            continue;
        };
        for &(key, variable, unit) in FIELDS {
            let Some(raw) = row.get(key).filter(|v| !v.is_null()) else {
                continue;
            };
            let Some(canonical) = Dataset::Weather.variable(variable) else {
                continue;
            };
            let checked = raw
                .as_f64()
                .ok_or_else(|| format!("{key} is not a number"))
                .and_then(|raw| canonical.canonical(raw, unit));
            match checked {
                Ok(value) => payload.push(
                    None,
                    Observation {
                        variable,
                        ts,
                        value,
                        flag: Flag::Observed,
                    },
                ),
                Err(reason) => payload.reject(format!("{key} at {ts} = {raw}"), reason),
            }
        }
    }
    Ok(payload.finish())
}
