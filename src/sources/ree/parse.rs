//! Red Eléctrica's wire formats → canonical prices. Pure: bytes in, values out.
//!
//! Quirks handled (`shared/reference/upstream-formats.md` §5): series are chosen by their `id`
//! (1001 PVPC, 600 spot), never by their localized title; timestamps carry their own offset, so
//! the 25-value autumn day and the 23-value spring day need no tzdata; values are hourly until
//! the market moved to 15-minute periods on 2025-10-01 and quarter-hourly since, which the
//! spacing of the values tells (quarter-hourly values go to the `_15min` variables); ESIOS
//! interleaves one series per geography; the public ESIOS archive labels hours `00-01`…`24-25`
//! with decimal-comma strings, in row order from local midnight.

use jiff::civil::Date;
use serde::Deserialize;
use serde_json::Value;

use crate::domain::{Dataset, Flag, Observation, Step, Timestamp};
use crate::sources::text::decimal;
use crate::sources::{Payload, SourceError};

/// The time zone REE's local days are in.
pub const ZONE: &str = "Europe/Madrid";

/// REE/ESIOS indicator ids almanac stores → (hourly variable, quarter-hourly variable).
const INDICATORS: &[(&str, &str, &str)] = &[
    ("1001", "pvpc", "pvpc_15min"),
    ("600", "spot", "spot_15min"),
    ("1739", "surplus", "surplus"),
];

fn indicator(id: &str) -> Option<(&'static str, &'static str)> {
    INDICATORS
        .iter()
        .find(|(i, ..)| *i == id)
        .map(|&(_, hourly, quarter)| (hourly, quarter))
}

/// One series as parsed, before its step is known.
struct Raw {
    origin: Option<String>,
    indicator: String,
    values: Vec<(Timestamp, f64, String)>,
}

/// `apidatos.ree.es/…/datos/mercados/precios-mercados-tiempo-real`.
pub fn apidatos(bytes: &[u8]) -> Result<Payload, SourceError> {
    #[derive(Deserialize)]
    struct Wire {
        included: Option<Vec<Included>>,
        errors: Option<Vec<Value>>,
    }
    #[derive(Deserialize)]
    struct Included {
        id: String,
        attributes: Attributes,
    }
    #[derive(Deserialize)]
    struct Attributes {
        #[serde(default)]
        values: Vec<Value>,
    }
    let wire: Wire = serde_json::from_slice(bytes)
        .map_err(|e| SourceError::Malformed(format!("not an apidatos body: {e}")))?;
    if let Some(errors) = wire.errors {
        return Err(refusal(&errors));
    }
    let included = wire
        .included
        .ok_or_else(|| SourceError::Malformed("apidatos body without `included`".into()))?;
    let mut payload = Payload::new(Dataset::EnergyPrice);
    let mut raws = Vec::new();
    for series in included {
        if indicator(&series.id).is_none() {
            continue;
        }
        let mut raw = Raw {
            origin: None,
            indicator: series.id.clone(),
            values: Vec::new(),
        };
        for item in series.attributes.values {
            let record = format!("{}: {item}", series.id);
            match (
                item.get("datetime").and_then(Value::as_str).map(instant),
                item.get("value").and_then(Value::as_f64),
            ) {
                (Some(Ok(ts)), Some(value)) => raw.values.push((ts, value, record)),
                (Some(Err(reason)), _) => payload.reject(record, reason),
                (None, _) => payload.reject(record, "no `datetime`"),
                (_, None) => payload.reject(record, "`value` is not a number"),
            }
        }
        raws.push(raw);
    }
    for raw in raws {
        settle(raw, &mut payload);
    }
    Ok(payload.finish())
}

/// `api.esios.ree.es/indicators/{id}`: one indicator, values interleaved per geography. The
/// origin of a value is its `geo_id`.
pub fn esios_indicator(bytes: &[u8]) -> Result<Payload, SourceError> {
    #[derive(Deserialize)]
    struct Wire {
        indicator: Option<Indicator>,
        errors: Option<Vec<Value>>,
        message: Option<String>,
    }
    #[derive(Deserialize)]
    struct Indicator {
        id: i64,
        #[serde(default)]
        values: Vec<Value>,
    }
    let wire: Wire = serde_json::from_slice(bytes)
        .map_err(|e| SourceError::Malformed(format!("not an ESIOS indicator body: {e}")))?;
    if let Some(errors) = wire.errors {
        return Err(refusal(&errors));
    }
    let Some(indicator_body) = wire.indicator else {
        return Err(match wire.message {
            Some(message) => SourceError::Refused(message),
            None => SourceError::Malformed("ESIOS body without `indicator`".into()),
        });
    };
    let id = indicator_body.id.to_string();
    if indicator(&id).is_none() {
        return Err(SourceError::Malformed(format!(
            "indicator {id} is not one almanac stores (1001 PVPC, 600 spot, 1739 surplus)"
        )));
    }
    let mut payload = Payload::new(Dataset::EnergyPrice);
    let mut by_geo: Vec<Raw> = Vec::new();
    for item in indicator_body.values {
        let record = item.to_string();
        let geo = item
            .get("geo_id")
            .and_then(Value::as_i64)
            .map(|g| g.to_string());
        // `datetime` with its offset, not `datetime_utc`: on the autumn day ESIOS stamps both
        // 02:00+02:00 and 02:00+01:00 as 00:00Z in `datetime_utc` (seen in the recorded day).
        let when = item
            .get("datetime")
            .or_else(|| item.get("datetime_utc"))
            .and_then(Value::as_str)
            .map(instant);
        let value = item.get("value").and_then(Value::as_f64);
        let (ts, value) = match (when, value) {
            (Some(Ok(ts)), Some(value)) => (ts, value),
            (Some(Err(reason)), _) => {
                payload.reject(record, reason);
                continue;
            }
            (None, _) => {
                payload.reject(record, "no `datetime`");
                continue;
            }
            (_, None) => {
                payload.reject(record, "`value` is not a number");
                continue;
            }
        };
        let series = match by_geo.iter_mut().position(|r| r.origin == geo) {
            Some(i) => &mut by_geo[i],
            None => {
                by_geo.push(Raw {
                    origin: geo.clone(),
                    indicator: id.clone(),
                    values: Vec::new(),
                });
                by_geo.last_mut().expect("just pushed")
            }
        };
        series.values.push((ts, value, record));
    }
    for raw in by_geo {
        settle(raw, &mut payload);
    }
    Ok(payload.finish())
}

/// The public ESIOS archive 70 (`archives/70/download_json`): `{"PVPC":[{"Dia","Hora","PCB",
/// "CYM",…}]}`. Rows are the hours of one local day in order (23 in spring, 25 in autumn, whose
/// extra hour is labelled `24-25`), so row n starts n hours after local midnight; a day whose
/// row count is not its length in hours is refused. `PCB` (peninsula, Canaries, Balearics) and
/// `CYM` (Ceuta, Melilla) are the consumer prices, kept as origins; the other columns are their
/// components.
pub fn esios_archive(bytes: &[u8]) -> Result<Payload, SourceError> {
    #[derive(Deserialize)]
    struct Wire {
        #[serde(rename = "PVPC")]
        pvpc: Vec<serde_json::Map<String, Value>>,
    }
    let wire: Wire = serde_json::from_slice(bytes)
        .map_err(|e| SourceError::Malformed(format!("not an ESIOS archive body: {e}")))?;
    let zone = jiff::tz::TimeZone::get(ZONE)
        .map_err(|e| SourceError::Malformed(format!("time zone {ZONE}: {e}")))?;
    let mut payload = Payload::new(Dataset::EnergyPrice);
    let mut days: Vec<(String, Vec<&serde_json::Map<String, Value>>)> = Vec::new();
    for row in &wire.pvpc {
        let day = row.get("Dia").and_then(Value::as_str).unwrap_or_default();
        match days.last_mut() {
            Some((d, rows)) if d == day => rows.push(row),
            _ => days.push((day.to_owned(), vec![row])),
        }
    }
    for (day, rows) in days {
        let start = match Date::strptime("%d/%m/%Y", &day)
            .ok()
            .and_then(|d| d.to_zoned(zone.clone()).ok())
        {
            Some(start) => start,
            None => {
                for row in rows {
                    payload.reject(
                        Value::Object(row.clone()).to_string(),
                        "`Dia` is not dd/mm/yyyy",
                    );
                }
                continue;
            }
        };
        let hours = start
            .tomorrow()
            .map(|next| (next.timestamp().as_second() - start.timestamp().as_second()) / 3_600)
            .unwrap_or(24);
        if rows.len() as i64 != hours {
            for row in rows.iter() {
                payload.reject(
                    Value::Object((*row).clone()).to_string(),
                    format!("{day} has {hours} hours in {ZONE} but {} rows", rows.len()),
                );
            }
            continue;
        }
        let midnight = start.timestamp().as_second();
        for (n, row) in rows.iter().enumerate() {
            let ts = Timestamp::from_epoch(midnight + n as i64 * 3_600);
            for zone_column in ["PCB", "CYM"] {
                let Some(cell) = row.get(zone_column) else {
                    continue;
                };
                let record = format!(
                    "{day} {} {zone_column} = {cell}",
                    row.get("Hora").and_then(Value::as_str).unwrap_or("?")
                );
                let value = cell.as_str().and_then(decimal);
                match value.map(|v| check("pvpc", v)) {
                    Some(Ok(value)) => payload.push(
                        Some(zone_column),
                        Observation {
                            variable: "pvpc",
                            ts,
                            value,
                            flag: Flag::Observed,
                        },
                    ),
                    Some(Err(reason)) => payload.reject(record, reason),
                    None => payload.reject(record, "not a decimal number"),
                }
            }
        }
    }
    Ok(payload.finish())
}

/// Decides a series' step from the spacing of its values and stores it under the hourly or
/// the quarter-hourly variable.
fn settle(mut raw: Raw, payload: &mut Payload) {
    let Some((hourly, quarter)) = indicator(&raw.indicator) else {
        return;
    };
    raw.values.sort_by_key(|(ts, ..)| *ts);
    let quarterly = raw
        .values
        .windows(2)
        .any(|w| w[1].0.epoch() - w[0].0.epoch() == Step::QUARTER_HOUR.seconds())
        || raw
            .values
            .iter()
            .any(|(ts, ..)| !ts.is_aligned(Step::HOUR) && ts.is_aligned(Step::QUARTER_HOUR));
    let (variable, step) = if quarterly {
        (quarter, Step::QUARTER_HOUR)
    } else {
        (hourly, Step::HOUR)
    };
    for (ts, value, record) in raw.values {
        if !ts.is_aligned(step) {
            payload.reject(record, format!("{ts} is not on the {variable} grid"));
            continue;
        }
        match check(variable, value) {
            Ok(value) => payload.push(
                raw.origin.as_deref(),
                Observation {
                    variable,
                    ts,
                    value,
                    flag: Flag::Observed,
                },
            ),
            Err(reason) => payload.reject(record, reason),
        }
    }
}

fn check(variable: &str, value: f64) -> Result<f64, String> {
    Dataset::EnergyPrice
        .variable(variable)
        .map_or(Err(format!("unknown variable {variable}")), |v| {
            v.check(value)
        })
}

/// An instant with its offset (`2021-10-31T02:00:00.000+01:00`, `2021-10-30T22:00:00Z`).
fn instant(text: &str) -> Result<Timestamp, String> {
    text.parse::<jiff::Timestamp>()
        .map(|t| Timestamp::from_epoch(t.as_second()))
        .map_err(|_| format!("`{text}` is not a date-time with an offset"))
}

/// A JSON:API `errors` array as a refusal naming what the upstream said.
fn refusal(errors: &[Value]) -> SourceError {
    let said: Vec<String> = errors
        .iter()
        .map(|e| {
            ["status", "title", "detail"]
                .iter()
                .filter_map(|k| {
                    e.get(*k)
                        .map(|v| v.as_str().map_or(v.to_string(), str::to_owned))
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    SourceError::Refused(said.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarter_hour_spacing_selects_the_15min_variable() {
        let body = br#"{"data":{},"included":[{"id":"600","attributes":{"values":[
            {"value":80.5,"datetime":"2025-10-02T00:00:00.000+02:00"},
            {"value":81.0,"datetime":"2025-10-02T00:15:00.000+02:00"},
            {"value":79.0,"datetime":"2025-10-02T00:20:00.000+02:00"}]}}]}"#;
        let payload = apidatos(body).unwrap();
        let got: Vec<_> = payload
            .readings
            .iter()
            .map(|r| {
                (
                    r.observation.variable,
                    r.observation.ts.epoch(),
                    r.observation.value,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("spot_15min", 1_759_356_000, 80.5),
                ("spot_15min", 1_759_356_900, 81.0)
            ]
        );
        assert!(
            payload.rejects[0]
                .reason
                .contains("not on the spot_15min grid")
        );
    }

    #[test]
    fn errors_are_refusals_and_garbage_is_malformed() {
        let body = br#"{"errors":[{"code":500,"status":"500","title":"Internal server error","detail":"too many values"}]}"#;
        let err = apidatos(body).unwrap_err().to_string();
        assert!(
            err.contains("refused") && err.contains("too many values"),
            "{err}"
        );
        assert!(matches!(
            apidatos(b"<html>"),
            Err(SourceError::Malformed(_))
        ));
        assert!(matches!(
            esios_indicator(b"{}"),
            Err(SourceError::Malformed(_))
        ));
    }
}
