//! Open-Meteo's JSON wire format → canonical observations. Pure: bytes in, values out.
//!
//! Quirks handled (see `shared/reference/upstream-formats.md` §1): times are local strings with
//! no offset (or unix seconds with `timeformat=unixtime`) and ONE fixed `utc_offset_seconds`
//! applies to the whole response, so UTC = local − offset for every element and tzdata is never
//! consulted; columns are parallel arrays with `null` where data are missing; units are echoed in
//! `*_units` and depend on the request; legacy names (`windspeed_10m`) come back as sent; several
//! `models=` suffix every key with the model name; strings (`sunrise`) sit beside numbers.

use std::collections::BTreeMap;

use jiff::civil::{Date, DateTime};
use serde::Deserialize;
use serde_json::Value;

use crate::domain::{Dataset, Flag, Observation, Reject, Step, TimeRange, Timestamp, Variable};
use crate::sources::SourceError;

/// Open-Meteo hourly names → canonical weather variables (legacy spellings included).
const HOURLY: &[(&str, &str)] = &[
    ("temperature_2m", "temperature"),
    ("precipitation", "precipitation"),
    ("relative_humidity_2m", "humidity"),
    ("relativehumidity_2m", "humidity"),
    ("wind_speed_10m", "wind_speed"),
    ("windspeed_10m", "wind_speed"),
    ("wind_direction_10m", "wind_direction"),
    ("winddirection_10m", "wind_direction"),
    ("surface_pressure", "pressure"),
    ("weather_code", "weather_code"),
    ("weathercode", "weather_code"),
];

/// Open-Meteo daily names → canonical daily weather variables.
const DAILY: &[(&str, &str)] = &[
    ("temperature_2m_max", "temperature_max"),
    ("temperature_2m_min", "temperature_min"),
    ("temperature_2m_mean", "temperature_mean"),
    ("apparent_temperature_max", "apparent_temperature_max"),
    ("apparent_temperature_min", "apparent_temperature_min"),
    ("precipitation_sum", "precipitation_sum"),
    ("wind_speed_10m_max", "wind_speed_max"),
    ("windspeed_10m_max", "wind_speed_max"),
    ("wind_gusts_10m_max", "wind_gust_max"),
    ("windgusts_10m_max", "wind_gust_max"),
];

/// A parsed response.
#[derive(Debug, Default)]
pub struct Parsed {
    pub hourly: Vec<Observation>,
    pub daily: Vec<Observation>,
    pub rejects: Vec<Reject>,
    /// Columns present but not stored, with the reason (not ours, a model-specific column, text).
    pub ignored: Vec<String>,
}

#[derive(Deserialize)]
struct Wire {
    #[serde(default)]
    utc_offset_seconds: i64,
    #[serde(default)]
    hourly_units: BTreeMap<String, String>,
    hourly: Option<BTreeMap<String, Vec<Value>>>,
    #[serde(default)]
    daily_units: BTreeMap<String, String>,
    daily: Option<BTreeMap<String, Vec<Value>>>,
    #[serde(default)]
    error: bool,
    reason: Option<String>,
}

/// Parses a single-location response, keeping only values whose instant lies in `keep`.
pub fn parse(bytes: &[u8], keep: TimeRange) -> Result<Parsed, SourceError> {
    let wire: Wire = match serde_json::from_slice(bytes) {
        Ok(wire) => wire,
        Err(_) if serde_json::from_slice::<Vec<Value>>(bytes).is_ok() => {
            return Err(SourceError::Malformed(
                "a multi-location array where one location was requested".into(),
            ));
        }
        Err(e) => {
            return Err(SourceError::Malformed(format!(
                "not an Open-Meteo response: {e}"
            )));
        }
    };
    if wire.error {
        return Err(SourceError::Refused(
            wire.reason.unwrap_or_else(|| "no reason given".into()),
        ));
    }
    let mut parsed = Parsed::default();
    if let Some(block) = &wire.hourly {
        let ctx = Block {
            name: "hourly",
            step: Step::HOUR,
            names: HOURLY,
            units: &wire.hourly_units,
            offset: wire.utc_offset_seconds,
        };
        parsed.hourly = ctx.parse(block, keep, &mut parsed.rejects, &mut parsed.ignored)?;
    }
    if let Some(block) = &wire.daily {
        let ctx = Block {
            name: "daily",
            step: Step::DAY,
            names: DAILY,
            units: &wire.daily_units,
            offset: wire.utc_offset_seconds,
        };
        parsed.daily = ctx.parse(block, keep, &mut parsed.rejects, &mut parsed.ignored)?;
    }
    Ok(parsed)
}

/// The body's `reason` when it is Open-Meteo's error object.
pub fn error_reason(body: &str) -> Option<String> {
    let wire: Wire = serde_json::from_str(body).ok()?;
    wire.error.then(|| wire.reason.unwrap_or_default())
}

struct Block<'a> {
    name: &'static str,
    step: Step,
    names: &'static [(&'static str, &'static str)],
    units: &'a BTreeMap<String, String>,
    offset: i64,
}

impl Block<'_> {
    fn parse(
        &self,
        columns: &BTreeMap<String, Vec<Value>>,
        keep: TimeRange,
        rejects: &mut Vec<Reject>,
        ignored: &mut Vec<String>,
    ) -> Result<Vec<Observation>, SourceError> {
        let name = self.name;
        let times = columns
            .get("time")
            .ok_or_else(|| SourceError::Malformed(format!("{name} block has no `time` array")))?;
        let times = times
            .iter()
            .map(|t| self.instant(t))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(w) = times
            .windows(2)
            .find(|w| w[1].epoch() - w[0].epoch() != self.step.seconds())
        {
            return Err(SourceError::Malformed(format!(
                "{name} times are not {}s apart: {} then {}",
                self.step.seconds(),
                w[0],
                w[1]
            )));
        }
        let mut observations = Vec::new();
        for (key, values) in columns.iter().filter(|(k, _)| *k != "time") {
            if values.len() != times.len() {
                return Err(SourceError::Malformed(format!(
                    "{name}.{key} has {} values for {} times",
                    values.len(),
                    times.len()
                )));
            }
            let Some(variable) = self.variable(key, ignored) else {
                continue;
            };
            let unit = self.units.get(key).map(String::as_str).unwrap_or("");
            for (&ts, value) in times
                .iter()
                .zip(values)
                .filter(|(ts, _)| keep.contains(**ts))
            {
                match to_value(value, variable, unit) {
                    Ok(Some(value)) => observations.push(Observation {
                        variable: variable.name,
                        ts,
                        value,
                        flag: Flag::Observed,
                    }),
                    Ok(None) => {}
                    Err(reason) => rejects.push(Reject {
                        record: format!("{name}.{key}[{ts}] = {value}"),
                        reason,
                        value: Some(crate::domain::RejectedValue {
                            origin: None,
                            variable: variable.name.to_owned(),
                            ts,
                            kind: crate::domain::RefusedKind::Invalid,
                        }),
                    }),
                }
            }
        }
        observations.sort_by_key(|o| (o.ts, o.variable));
        Ok(observations)
    }

    /// The canonical variable of a column, or `None` (and why, in `ignored`).
    fn variable(&self, key: &str, ignored: &mut Vec<String>) -> Option<&'static Variable> {
        if let Some((_, canonical)) = self.names.iter().find(|(k, _)| *k == key) {
            return Dataset::Weather.variable(canonical);
        }
        let model = self
            .names
            .iter()
            .filter_map(|(k, _)| key.strip_prefix(k)?.strip_prefix('_'))
            .next();
        ignored.push(match model {
            Some(model) => format!(
                "{}.{key}: model-specific column ({model}); only the default model is stored",
                self.name
            ),
            None => format!("{}.{key}: not a variable almanac stores", self.name),
        });
        None
    }

    /// A `time` element as a UTC instant: local civil time minus the response's one offset.
    fn instant(&self, value: &Value) -> Result<Timestamp, SourceError> {
        let bad = || {
            SourceError::Malformed(format!(
                "{} time {value} is neither ISO 8601 nor unix seconds",
                self.name
            ))
        };
        if let Some(seconds) = value.as_i64() {
            return Ok(Timestamp::from_epoch(seconds));
        }
        let text = value.as_str().ok_or_else(bad)?;
        let civil: DateTime = match text.parse::<DateTime>() {
            Ok(dt) => dt,
            Err(_) => text
                .parse::<Date>()
                .map_err(|_| bad())?
                .to_datetime(jiff::civil::Time::midnight()),
        };
        let utc = civil.to_zoned(jiff::tz::TimeZone::UTC).map_err(|_| bad())?;
        Ok(Timestamp::from_epoch(
            utc.timestamp().as_second() - self.offset,
        ))
    }
}

/// A cell as a canonical value: `Ok(None)` for `null`, `Err(reason)` for anything unusable.
fn to_value(value: &Value, variable: &Variable, unit: &str) -> Result<Option<f64>, String> {
    if value.is_null() {
        return Ok(None);
    }
    let raw = value
        .as_f64()
        .ok_or_else(|| format!("{} is not a number", variable.name))?;
    variable.canonical(raw, unit).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: TimeRange = TimeRange {
        start: Timestamp::from_epoch(i64::MIN / 4),
        end: Timestamp::from_epoch(i64::MAX / 4),
    };

    #[test]
    fn nulls_are_missing_strings_and_impossible_values_are_rejected() {
        let body = br#"{"utc_offset_seconds":0,"hourly_units":{"time":"iso8601","temperature_2m":"\u00b0C","relative_humidity_2m":"%"},
            "hourly":{"time":["2024-01-01T00:00","2024-01-01T01:00","2024-01-01T02:00"],
            "temperature_2m":[1.5,null,"x"],"relative_humidity_2m":[50,140,60]}}"#;
        let parsed = parse(body, ALL).unwrap();
        let values: Vec<_> = parsed
            .hourly
            .iter()
            .map(|o| (o.variable, o.ts.epoch() % 86_400 / 3_600, o.value))
            .collect();
        assert_eq!(
            values,
            [
                ("humidity", 0, 50.0),
                ("temperature", 0, 1.5),
                ("humidity", 2, 60.0)
            ]
        );
        let reasons: Vec<_> = parsed.rejects.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(reasons.len(), 2);
        assert!(
            reasons[0].contains("outside the physical range"),
            "{reasons:?}"
        );
        assert!(reasons[1].contains("not a number"), "{reasons:?}");
    }

    #[test]
    fn ragged_or_irregular_blocks_are_malformed() {
        let ragged =
            br#"{"hourly":{"time":["2024-01-01T00:00","2024-01-01T01:00"],"temperature_2m":[1]}}"#;
        assert!(
            matches!(parse(ragged, ALL), Err(SourceError::Malformed(m)) if m.contains("1 values for 2 times"))
        );
        let irregular = br#"{"hourly":{"time":["2024-01-01T00:00","2024-01-01T03:00"]}}"#;
        assert!(matches!(
            parse(irregular, ALL),
            Err(SourceError::Malformed(_))
        ));
        assert!(matches!(
            parse(b"<html>", ALL),
            Err(SourceError::Malformed(_))
        ));
        assert!(
            matches!(parse(b"[{},{}]", ALL), Err(SourceError::Malformed(m)) if m.contains("multi-location"))
        );
    }

    #[test]
    fn error_objects_become_refusals() {
        let body =
            r#"{"error":true,"reason":"Latitude must be in range of -90 to 90°. Given: 91.0."}"#;
        assert!(
            matches!(parse(body.as_bytes(), ALL), Err(SourceError::Refused(r)) if r.contains("Latitude"))
        );
        assert_eq!(
            error_reason(body).as_deref(),
            Some("Latitude must be in range of -90 to 90°. Given: 91.0.")
        );
        assert_eq!(error_reason("{}"), None);
    }
}
