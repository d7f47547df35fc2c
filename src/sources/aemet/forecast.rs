//! AEMET's municipal hourly forecast (`prediccion/especifica/municipio/horaria/{INE code}`) →
//! canonical weather and the time it was issued. Pure: bytes in, values out; fetching it and
//! keeping forecasts apart from observations belong to the source and the store.
//!
//! Wire shape (Home Assistant's recorded `town-28065-forecast-hourly-data.json`, the
//! `aemet_opendata` library): an ISO-8859-15 `datos` body holding a list of one forecast with
//! `elaborado` (local issue time), `nombre`, `provincia`, `id` (the INE code) and `prediccion.dia`,
//! each day a `fecha` (a date, or a date-time at midnight) and arrays of `{"value", "periodo"}`,
//! every value a string: `""` is no value, `Ip` a trace of precipitation (0 mm, flagged trace, as
//! in the daily values). `vientoAndRachaMax` alternates `{"direccion": ["NO"], "velocidad":
//! ["10"], "periodo"}` (km/h; eight compass points in Spanish, `O` = oeste = west; `C` = calm,
//! stored as 0 m/s with no direction) with the gust `{"value", "periodo"}`.
//!
//! `periodo` is a wall-clock hour in the municipality's zone. AEMET does not say whether it
//! starts or ends the hour; its own six-hour probability periods do: a forecast whose hours begin
//! at `07` leaves `0107` empty and fills `0713`, so the value at `07` is the hour 07:00–08:00.
//! Levels (temperature, humidity, wind) are stamped at the start of their hour; precipitation, an
//! amount over the hour, at its end, where almanac stamps every hour's amount. In the repeated
//! autumn hour an array's first `02` is the earlier one and a second `02` the later; an hour the
//! spring change skips is refused. Values carry the flags of any upstream value (`observed`,
//! `trace` for `Ip`); that they are forecasts, and from when, is `Issued`'s to say.
//!
//! Not kept, having no canonical hourly variable: gusts, sky state (`estadoCielo`), apparent
//! temperature (`sensTermica`), snow (`nieve`, already inside `precipitacion`), the six-hour
//! probabilities of precipitation, storm and snow, sunrise and sunset.

use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};
use serde_json::{Map, Value};

use super::parse::records;
use crate::domain::{Dataset, Flag, Observation, Timestamp};
use crate::sources::text::decimal;
use crate::sources::{Payload, SourceError};

/// One forecast as AEMET issued it.
pub struct Issued {
    /// When AEMET made it (`elaborado`, local time, here in UTC); `None` if the body does not say.
    pub issued: Option<Timestamp>,
    /// The forecast values, their origin the municipality's INE code.
    pub payload: Payload,
}

/// Hourly arrays of plain values → (canonical variable, AEMET's unit).
const PLAIN: &[(&str, &str, &str)] = &[
    ("temperatura", "temperature", "°C"),
    ("humedadRelativa", "humidity", "%"),
    ("precipitacion", "precipitation", "mm"),
];

/// Compass points as AEMET writes them → degrees from north.
const COMPASS: &[(&str, f64)] = &[
    ("N", 0.0),
    ("NE", 45.0),
    ("E", 90.0),
    ("SE", 135.0),
    ("S", 180.0),
    ("SO", 225.0),
    ("O", 270.0),
    ("NO", 315.0),
];

const WIND: &str = "vientoAndRachaMax";

/// Reads a `datos` body; `zone` is the municipality's (Europe/Madrid, Atlantic/Canary for the
/// islands), in which `elaborado` and every `periodo` are written.
pub fn hourly(bytes: &[u8], zone: &TimeZone) -> Result<Issued, SourceError> {
    let forecast = match <[_; 1]>::try_from(records(bytes)?) {
        Ok([forecast]) => forecast,
        Err(found) => {
            return Err(SourceError::Malformed(format!(
                "expected one municipal forecast, found {}",
                found.len()
            )));
        }
    };
    let mut payload = Payload::new(Dataset::Weather);
    let origin = forecast.get("id").and_then(Value::as_str);
    let issued = issue_time(&forecast, zone, &mut payload);
    let days = forecast
        .get("prediccion")
        .and_then(|p| p.get("dia"))
        .and_then(Value::as_array)
        .ok_or_else(|| SourceError::Malformed("no `prediccion.dia` list".into()))?;
    for day in days {
        let Some(date) = day.get("fecha").and_then(Value::as_str).and_then(day_of) else {
            payload.reject(
                excerpt(day),
                "`fecha` is neither a date nor a date-time at midnight",
            );
            continue;
        };
        let mut sheet = Sheet {
            payload: &mut payload,
            origin,
            zone,
            date,
        };
        for &(key, variable, unit) in PLAIN {
            sheet.plain(day, key, variable, unit);
        }
        sheet.wind(day);
    }
    Ok(Issued {
        issued,
        payload: payload.finish(),
    })
}

/// `elaborado` as an instant (the earlier one in the repeated autumn hour).
fn issue_time(
    forecast: &Map<String, Value>,
    zone: &TimeZone,
    payload: &mut Payload,
) -> Option<Timestamp> {
    let text = forecast.get("elaborado").and_then(Value::as_str)?;
    let zoned = text
        .parse::<DateTime>()
        .ok()
        .and_then(|civil| civil.to_zoned(zone.clone()).ok());
    if zoned.is_none() {
        payload.reject(
            format!("elaborado = {text}"),
            "`elaborado` is not a local date-time",
        );
    }
    zoned.map(|z| Timestamp::from_jiff(z.timestamp()))
}

/// `2024-01-10` or `2024-01-10T00:00:00`.
fn day_of(fecha: &str) -> Option<Date> {
    match fecha.parse::<DateTime>() {
        Ok(civil) => (civil.time() == jiff::civil::Time::midnight()).then(|| civil.date()),
        Err(_) => fecha.parse().ok(),
    }
}

fn excerpt(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// One day of one forecast, being read into the payload.
struct Sheet<'a> {
    payload: &'a mut Payload,
    origin: Option<&'a str>,
    zone: &'a TimeZone,
    date: Date,
}

/// One object of an hourly array: the array it is in and the instant its values are stamped at.
struct Item<'v> {
    key: &'static str,
    raw: &'v Value,
    ts: Timestamp,
}

impl Sheet<'_> {
    fn plain(&mut self, day: &Value, key: &'static str, variable: &'static str, unit: &str) {
        let amount = variable == "precipitation";
        for mut item in self.hours(day, key) {
            if amount {
                item.ts = item.ts.plus(3_600);
            }
            match (cell(item.raw.get("value")), amount) {
                (Cell::Empty, _) => {}
                (Cell::Number(value), _) => self.push(&item, variable, value, unit, Flag::Observed),
                (Cell::Trace, true) => self.push(&item, variable, 0.0, unit, Flag::Trace),
                (Cell::Trace | Cell::Unreadable, _) => self.unreadable(&item, variable, "value"),
            }
        }
    }

    /// `vientoAndRachaMax`: the wind objects (the gust objects between them are skipped).
    fn wind(&mut self, day: &Value) {
        for item in self.hours(day, WIND) {
            let direction = match item.raw.get("direccion") {
                Some(Value::Array(points)) if points.len() == 1 => points[0].as_str(),
                Some(Value::String(point)) => Some(point.as_str()),
                _ => None,
            };
            match direction.map(str::trim) {
                Some("C") => {
                    self.push(&item, "wind_speed", 0.0, "m/s", Flag::Observed);
                    continue;
                }
                Some("") | None => {}
                Some(point) => match COMPASS.iter().find(|(p, _)| *p == point) {
                    Some(&(_, degrees)) => {
                        self.push(&item, "wind_direction", degrees, "°", Flag::Observed)
                    }
                    None => self.unreadable(&item, "wind_direction", "direccion"),
                },
            }
            match cell(item.raw.get("velocidad")) {
                Cell::Empty => {}
                Cell::Number(speed) => {
                    self.push(&item, "wind_speed", speed, "km/h", Flag::Observed)
                }
                Cell::Trace | Cell::Unreadable => self.unreadable(&item, "wind_speed", "velocidad"),
            }
        }
    }

    /// The objects of the array `key` with the start of the hour each names; nothing when the
    /// day has no such array. Refuses what is not a list, a bad `periodo` and a skipped hour.
    fn hours<'v>(&mut self, day: &'v Value, key: &'static str) -> Vec<Item<'v>> {
        let items = match day.get(key) {
            None => return Vec::new(),
            Some(Value::Array(items)) => items,
            Some(other) => {
                self.payload
                    .reject(excerpt(other), format!("`{key}` is not a list"));
                return Vec::new();
            }
        };
        let mut seen = Vec::new();
        let mut hours = Vec::new();
        for raw in items {
            if key == WIND && raw.get("velocidad").is_none() && raw.get("direccion").is_none() {
                continue; // a gust: its hour is its wind's, counted once
            }
            let periodo = raw
                .get("periodo")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let hour = periodo
                .parse::<i8>()
                .ok()
                .filter(|h| periodo.len() == 2 && (0..24).contains(h));
            let start = match hour {
                Some(hour) => self.start(hour, &mut seen),
                None => Err("`periodo` is not an hour 00–23".to_owned()),
            };
            match start {
                Ok(ts) => hours.push(Item { key, raw, ts }),
                Err(reason) => {
                    let record = self.record(key, raw);
                    self.payload.reject(record, reason);
                }
            }
        }
        hours
    }

    /// The instant the local `hour` of this day starts. `seen` holds the hours the array has
    /// already given: a repeated autumn hour is the earlier the first time, the later after.
    fn start(&self, hour: i8, seen: &mut Vec<i8>) -> Result<Timestamp, String> {
        let repeated = seen.contains(&hour);
        seen.push(hour);
        let civil = self.date.at(hour, 0, 0, 0);
        let offset = match self.zone.to_ambiguous_timestamp(civil).offset() {
            AmbiguousOffset::Unambiguous { offset } => offset,
            AmbiguousOffset::Fold { after, .. } if repeated => after,
            AmbiguousOffset::Fold { before, .. } => before,
            AmbiguousOffset::Gap { .. } => {
                let zone = self.zone.iana_name().unwrap_or("the zone");
                return Err(format!(
                    "{civil} does not exist in {zone} (clocks jump forward)"
                ));
            }
        };
        offset
            .to_timestamp(civil)
            .map(Timestamp::from_jiff)
            .map_err(|e| e.to_string())
    }

    /// Converts `value` from `unit`, checks its physical range, and keeps or refuses it.
    fn push(&mut self, item: &Item, variable: &'static str, value: f64, unit: &str, flag: Flag) {
        let checked = Dataset::Weather
            .variable(variable)
            .map_or(Err(format!("unknown variable {variable}")), |v| {
                v.canonical(value, unit)
            });
        let ts = item.ts;
        match checked {
            Ok(value) => self.payload.push(
                self.origin,
                Observation {
                    variable,
                    ts,
                    value,
                    flag,
                },
            ),
            Err(reason) => {
                let record = self.record(item.key, item.raw);
                self.payload
                    .reject_value(record, reason, self.origin, variable, ts);
            }
        }
    }

    fn unreadable(&mut self, item: &Item, variable: &str, field: &str) {
        let reason = format!("`{field}` is not a number (nor `Ip` for precipitation)");
        let record = self.record(item.key, item.raw);
        self.payload
            .reject_value(record, reason, self.origin, variable, item.ts);
    }

    fn record(&self, key: &str, raw: &Value) -> String {
        let origin = self.origin.unwrap_or("-");
        format!("{origin} {} {key} {}", self.date, excerpt(raw))
    }
}

/// What a `value` or `velocidad` holds.
enum Cell {
    Empty,
    Trace,
    Number(f64),
    Unreadable,
}

fn cell(value: Option<&Value>) -> Cell {
    match value {
        None | Some(Value::Null) => Cell::Empty,
        Some(Value::Number(n)) => n.as_f64().map_or(Cell::Unreadable, Cell::Number),
        Some(Value::String(s)) => match s.trim() {
            "" => Cell::Empty,
            "Ip" => Cell::Trace,
            s => decimal(s).map_or(Cell::Unreadable, Cell::Number),
        },
        Some(Value::Array(one)) if one.len() == 1 => cell(one.first()),
        Some(_) => Cell::Unreadable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn madrid() -> TimeZone {
        TimeZone::get("Europe/Madrid").unwrap()
    }

    fn fixture() -> Issued {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/aemet_forecast_hourly_28079.json"
        );
        hourly(&std::fs::read(path).unwrap(), &madrid()).unwrap()
    }

    /// A one-day forecast body, issued at `elaborado`, with the given day fields.
    fn body(elaborado: &str, fecha: &str, fields: &str) -> String {
        format!(
            r#"[ {{ "elaborado" : "{elaborado}", "nombre" : "Madrid", "provincia" : "Madrid",
            "prediccion" : {{ "dia" : [ {{ {fields}, "fecha" : "{fecha}" }} ] }},
            "id" : "28079", "version" : "1.0" }} ]"#
        )
    }

    fn value(payload: &Payload, variable: &str, time: &str) -> Option<(f64, Flag)> {
        let ts = Timestamp::from_jiff(time.parse().unwrap());
        payload
            .readings
            .iter()
            .map(|r| &r.observation)
            .find(|o| o.variable == variable && o.ts == ts)
            .map(|o| (o.value, o.flag))
    }

    #[test]
    fn the_fixture_reads_at_utc_instants_in_summer_and_winter_time() {
        let Issued { issued, payload } = fixture();
        assert_eq!(issued.unwrap().to_string(), "2024-10-25T09:06:57+00:00");
        assert!(payload.rejects.is_empty(), "{:?}", payload.rejects);
        assert_eq!(payload.readings.len(), 48 + 47 + 48 + 48 + 47);
        assert!(
            payload
                .readings
                .iter()
                .all(|r| r.origin.as_deref() == Some("28079"))
        );
        let observed = |v| Some((v, Flag::Observed));
        let cases = [
            // 25th, `fecha` a date-time: 07:00 CEST is 05:00 UTC.
            ("temperature", "2024-10-25T05:00:00Z", observed(9.0)),
            ("humidity", "2024-10-25T05:00:00Z", observed(88.0)),
            ("wind_direction", "2024-10-25T05:00:00Z", observed(45.0)),
            ("wind_speed", "2024-10-25T05:00:00Z", observed(2.5)), // 9 km/h
            // 26th, `fecha` a date; rain from 13:00 local, each hour's amount at its end.
            ("temperature", "2024-10-26T12:00:00Z", observed(14.0)),
            (
                "precipitation",
                "2024-10-26T12:00:00Z",
                Some((0.0, Flag::Trace)),
            ),
            ("precipitation", "2024-10-26T15:00:00Z", observed(2.0)),
            ("wind_direction", "2024-10-26T13:00:00Z", observed(225.0)), // SO
            ("wind_speed", "2024-10-26T13:00:00Z", observed(6.944)),     // 25 km/h, gusts 46
            ("wind_speed", "2024-10-26T02:00:00Z", observed(0.0)),       // calm
            ("wind_direction", "2024-10-26T02:00:00Z", None),
            // 27th: 02:00 is read once, in summer time; 03:00 on is winter time (UTC+1).
            ("temperature", "2024-10-26T22:00:00Z", observed(10.0)),
            ("temperature", "2024-10-27T00:00:00Z", observed(9.0)),
            ("temperature", "2024-10-27T01:00:00Z", None),
            ("temperature", "2024-10-27T02:00:00Z", observed(8.0)),
            ("temperature", "2024-10-27T05:00:00Z", observed(7.0)),
            ("humidity", "2024-10-27T04:00:00Z", None), // ""
            ("precipitation", "2024-10-27T06:00:00Z", observed(0.0)),
        ];
        for (variable, time, expected) in cases {
            assert_eq!(
                value(&payload, variable, time),
                expected,
                "{variable} {time}"
            );
        }
    }

    #[test]
    fn a_repeated_autumn_hour_is_read_twice_and_a_skipped_spring_hour_refused() {
        let temperatures = r#""temperatura" : [ {"value" : "9", "periodo" : "01"},
            {"value" : "8", "periodo" : "02"}, {"value" : "7", "periodo" : "02"},
            {"value" : "6", "periodo" : "03"} ]"#;
        let fall = body("2024-10-26T11:00:00", "2024-10-27", temperatures);
        let Issued { payload, .. } = hourly(fall.as_bytes(), &madrid()).unwrap();
        let times: Vec<_> = payload
            .readings
            .iter()
            .map(|r| r.observation.ts.to_string())
            .collect();
        let expected = ["23:00:00", "00:00:00", "01:00:00", "02:00:00"];
        let expected: Vec<_> = ["2024-10-26T", "2024-10-27T", "2024-10-27T", "2024-10-27T"]
            .iter()
            .zip(expected)
            .map(|(d, t)| format!("{d}{t}+00:00"))
            .collect();
        assert_eq!(times, expected);

        let spring = body("2024-03-30T11:00:00", "2024-03-31T00:00:00", temperatures);
        let Issued { payload, .. } = hourly(spring.as_bytes(), &madrid()).unwrap();
        assert_eq!(payload.readings.len(), 2, "01:00 CET and 03:00 CEST");
        assert_eq!(payload.rejects.len(), 2);
        assert!(
            payload
                .rejects
                .iter()
                .all(|r| r.reason.contains("does not exist"))
        );
    }

    #[test]
    fn unreadable_and_impossible_values_are_refused_and_counted() {
        let fields = r#""temperatura" : [ {"value" : "x", "periodo" : "07"},
              {"value" : "Ip", "periodo" : "08"}, {"value" : "12", "periodo" : "25"} ],
            "humedadRelativa" : [ {"value" : "140", "periodo" : "07"} ],
            "precipitacion" : [ {"value" : "0,4", "periodo" : "07"} ],
            "vientoAndRachaMax" : [ {"direccion" : ["NNE"], "velocidad" : ["fast"], "periodo" : "07"},
              {"value" : "30", "periodo" : "07"} ]"#;
        let Issued { issued, payload } = hourly(
            body("ayer", "2024-01-10T06:00:00", fields).as_bytes(),
            &madrid(),
        )
        .unwrap();
        assert_eq!(issued, None);
        let reasons: Vec<_> = payload.rejects.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "`elaborado` is not a local date-time",
                "`fecha` is neither a date nor a date-time at midnight"
            ]
        );

        let Issued { payload, .. } = hourly(
            body("2024-01-10T11:06:57", "2024-01-10", fields).as_bytes(),
            &madrid(),
        )
        .unwrap();
        let refused: Vec<_> = payload
            .rejects
            .iter()
            .map(|r| r.value.as_ref().map(|v| v.variable.as_str()))
            .collect();
        assert_eq!(
            refused,
            [
                None, // periodo 25
                Some("temperature"),
                Some("temperature"),
                Some("humidity"),
                Some("wind_direction"),
                Some("wind_speed"),
            ]
        );
        assert_eq!(
            value(&payload, "precipitation", "2024-01-10T07:00:00Z"),
            Some((0.4, Flag::Observed))
        );
        assert!(matches!(
            hourly(b"[]", &madrid()),
            Err(SourceError::Malformed(_))
        ));
    }

    #[test]
    fn an_iso_8859_15_body_is_read_in_winter_time() {
        let text = body(
            "2024-01-10T11:06:57",
            "2024-01-10T00:00:00",
            r#""temperatura" : [ {"value" : "-1", "periodo" : "07"} ]"#,
        )
        .replace("Madrid", "Málaga");
        let latin9: Vec<u8> = text.chars().map(|c| c as u32 as u8).collect();
        assert!(std::str::from_utf8(&latin9).is_err());
        let Issued { issued, payload } = hourly(&latin9, &madrid()).unwrap();
        assert_eq!(issued.unwrap().to_string(), "2024-01-10T10:06:57+00:00");
        assert_eq!(
            value(&payload, "temperature", "2024-01-10T06:00:00Z"),
            Some((-1.0, Flag::Observed))
        );
    }
}
