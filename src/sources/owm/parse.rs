//! OpenWeatherMap's wire formats → canonical weather. Pure: bytes in, values out.
//!
//! Quirks handled (`shared/reference/upstream-formats.md` §3): units depend on the request's
//! `units` and are not echoed (Kelvin by default); `cod` is an integer or a string; `rain` and
//! `snow` appear only when it falls (absent = 0 mm), as `{"1h": …}` per hour but as a bare number
//! per day; integers and floats mix. Choices: One Call's `pressure` is at sea level and
//! almanac's `pressure` is at station level, so only the current-weather `grnd_level` is stored;
//! OWM condition ids are not WMO codes and are not stored as `weather_code`; an hour's amount is
//! stamped at the end of its hour, an instantaneous value at its time, and the current
//! observation at its nearest whole hour; a day's values at 00:00 UTC of its local date.

use std::collections::HashSet;

use serde_json::Value;

use crate::domain::{Dataset, Flag, Observation, Step, Timestamp};
use crate::sources::upstream::UpstreamError;
use crate::sources::{Payload, SourceError};

/// The request's `units`, which decide what the numbers mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Units {
    /// Kelvin, m/s (OpenWeatherMap's default).
    #[default]
    Standard,
    /// °C, m/s.
    Metric,
    /// °F, mph.
    Imperial,
}

impl Units {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "standard" => Some(Units::Standard),
            "metric" => Some(Units::Metric),
            "imperial" => Some(Units::Imperial),
            _ => None,
        }
    }

    fn temperature(self) -> &'static str {
        match self {
            Units::Standard => "K",
            Units::Metric => "°C",
            Units::Imperial => "°F",
        }
    }

    fn speed(self) -> &'static str {
        match self {
            Units::Imperial => "mph",
            _ => "m/s",
        }
    }
}

/// The status a body declares in `cod` (integer or string), as an error when it is not 200.
pub fn status(body: &Value) -> Result<(), SourceError> {
    let cod = match body.get("cod") {
        None => return Ok(()),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        Some(_) => None,
    };
    let message = body
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("no message")
        .to_owned();
    match cod {
        Some(200) => Ok(()),
        Some(401) => Err(SourceError::Refused(format!("API key refused: {message}"))),
        Some(404) => Err(SourceError::NoData(message)),
        Some(429) => Err(SourceError::Upstream(UpstreamError::RateLimited {
            retry_after: None,
            body: message,
        })),
        Some(code @ 500..=599) => Err(SourceError::Upstream(UpstreamError::Status {
            status: code as u16,
            body: message,
        })),
        Some(code) => Err(SourceError::Refused(format!("cod {code}: {message}"))),
        None => Err(SourceError::Malformed(format!(
            "`cod` is not a status: {body}"
        ))),
    }
}

/// Any OpenWeatherMap body: current weather (`/data/2.5/weather`), a forecast list item, or a
/// One Call 3.0 body (`current`, `hourly`, `daily`, or the time machine's `data`).
pub fn parse(bytes: &[u8], units: Units) -> Result<Payload, SourceError> {
    let body: Value = serde_json::from_slice(bytes)
        .map_err(|e| SourceError::Malformed(format!("not JSON: {e}")))?;
    status(&body)?;
    let mut out = Out {
        payload: Payload::new(Dataset::Weather),
        units,
        measured: HashSet::new(),
        role: Role::Alone,
    };
    if body.get("main").is_some() {
        out.current_weather(&body);
    } else if body.get("list").is_some() {
        for item in body["list"].as_array().into_iter().flatten() {
            out.current_weather(item);
        }
    } else {
        let offset = body
            .get("timezone_offset")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if let Some(current) = body.get("current") {
            out.hour(current, Moment::Nearest);
        }
        for key in ["hourly", "data"] {
            for item in body
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                out.hour(item, Moment::Exact);
            }
        }
        for item in body
            .get("daily")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.day(item, offset);
        }
        if body.get("dt").is_some() && body.get("temp").is_some() {
            out.hour(&body, Moment::Nearest); // a bare One Call `current` object
        }
    }
    Ok(out.payload.finish())
}

#[derive(Clone, Copy)]
enum Moment {
    /// `dt` is on the hour (One Call hourly, time machine).
    Exact,
    /// `dt` is the measurement time: stamped at the nearest hour.
    Nearest,
}

struct Out {
    payload: Payload,
    units: Units,
    /// What the current observation gave: the hourly forecast for the same hour yields to it.
    measured: HashSet<(&'static str, Timestamp)>,
    role: Role,
}

/// How the values being pushed relate to One Call's current observation.
#[derive(Clone, Copy)]
enum Role {
    /// The current observation itself.
    Measured,
    /// An hourly entry, which yields to the measured values of the same hour.
    Forecast,
    /// Anything else.
    Alone,
}

impl Out {
    fn push(&mut self, variable: &'static str, ts: Timestamp, raw: Option<f64>, unit: &str) {
        let Some(raw) = raw else { return };
        match self.role {
            Role::Measured => {
                self.measured.insert((variable, ts));
            }
            Role::Forecast if self.measured.contains(&(variable, ts)) => return,
            Role::Forecast | Role::Alone => {}
        }
        let Some(canonical) = Dataset::Weather.variable(variable) else {
            return;
        };
        match canonical.canonical(raw, unit) {
            Ok(value) => self.payload.push(
                None,
                Observation {
                    variable,
                    ts,
                    value,
                    flag: Flag::Observed,
                },
            ),
            Err(reason) => self
                .payload
                .reject(format!("{variable} at {ts} = {raw} {unit}"), reason),
        }
    }

    fn instant(&mut self, item: &Value, moment: Moment) -> Option<Timestamp> {
        let Some(dt) = item.get("dt").and_then(Value::as_i64) else {
            self.payload.reject(item.to_string(), "no `dt`");
            return None;
        };
        let ts = Timestamp::from_epoch(dt);
        match moment {
            Moment::Nearest => Some(Timestamp::from_epoch(dt + 1_800).floor(Step::HOUR)),
            Moment::Exact if ts.is_aligned(Step::HOUR) => Some(ts),
            Moment::Exact => {
                self.payload
                    .reject(item.to_string(), format!("`dt` {ts} is not on the hour"));
                None
            }
        }
    }

    /// Rain plus snow over the hour: `{"1h": mm}` objects, absent when nothing fell.
    fn hour_amount(item: &Value) -> Option<f64> {
        let part = |key: &str| match item.get(key) {
            None => Some(0.0),
            Some(v) => v.get("1h").and_then(Value::as_f64),
        };
        Some(part("rain")? + part("snow")?)
    }

    /// A One Call hour (`current`, `hourly[]`, time machine `data[]`).
    fn hour(&mut self, item: &Value, moment: Moment) {
        let Some(ts) = self.instant(item, moment) else {
            return;
        };
        self.role = match moment {
            Moment::Nearest => Role::Measured,
            Moment::Exact => Role::Forecast,
        };
        let (t, s) = (self.units.temperature(), self.units.speed());
        let number = |key: &str| item.get(key).and_then(Value::as_f64);
        self.push("temperature", ts, number("temp"), t);
        self.push("humidity", ts, number("humidity"), "%");
        self.push("wind_speed", ts, number("wind_speed"), s);
        self.push("wind_direction", ts, number("wind_deg"), "°");
        let amount_at = match moment {
            Moment::Exact => ts.plus(3_600), // the hour starting at dt, stamped at its end
            Moment::Nearest => ts,           // the hour before the observation
        };
        self.push("precipitation", amount_at, Self::hour_amount(item), "mm");
    }

    /// `/data/2.5/weather` or a forecast list item: values under `main` and `wind`.
    fn current_weather(&mut self, item: &Value) {
        let Some(ts) = self.instant(item, Moment::Nearest) else {
            return;
        };
        self.role = Role::Alone;
        let (t, s) = (self.units.temperature(), self.units.speed());
        let main = |key: &str| {
            item.get("main")
                .and_then(|m| m.get(key))
                .and_then(Value::as_f64)
        };
        let wind = |key: &str| {
            item.get("wind")
                .and_then(|m| m.get(key))
                .and_then(Value::as_f64)
        };
        self.push("temperature", ts, main("temp"), t);
        self.push("humidity", ts, main("humidity"), "%");
        self.push("pressure", ts, main("grnd_level"), "hPa");
        self.push("wind_speed", ts, wind("speed"), s);
        self.push("wind_direction", ts, wind("deg"), "°");
        // Only an hourly amount is an hour's precipitation (forecast items carry `3h`).
        let three_hourly = ["rain", "snow"]
            .iter()
            .any(|k| item.get(*k).is_some_and(|v| v.get("3h").is_some()));
        if !three_hourly {
            self.push("precipitation", ts, Self::hour_amount(item), "mm");
        }
    }

    /// A One Call day: stamped at 00:00 UTC of its local date (`dt` + `timezone_offset`).
    fn day(&mut self, item: &Value, offset: i64) {
        self.role = Role::Alone;
        let Some(dt) = item.get("dt").and_then(Value::as_i64) else {
            self.payload.reject(item.to_string(), "no `dt`");
            return;
        };
        let ts = Timestamp::from_epoch(dt + offset).floor(Step::DAY);
        let (t, s) = (self.units.temperature(), self.units.speed());
        let temp = |key: &str| {
            item.get("temp")
                .and_then(|m| m.get(key))
                .and_then(Value::as_f64)
        };
        let number = |key: &str| item.get(key).and_then(Value::as_f64);
        self.push("temperature_max", ts, temp("max"), t);
        self.push("temperature_min", ts, temp("min"), t);
        self.push("wind_speed_max", ts, number("wind_speed"), s);
        self.push("wind_gust_max", ts, number("wind_gust"), s);
        let sum = number("rain").unwrap_or(0.0) + number("snow").unwrap_or(0.0);
        self.push("precipitation_sum", ts, Some(sum), "mm");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cod_is_an_integer_or_a_string() {
        let refused = br#"{"cod":401, "message": "Invalid API key. Please see https://openweathermap.org/faq#error401 for more info."}"#;
        assert!(
            matches!(parse(refused, Units::Standard), Err(SourceError::Refused(m)) if m.contains("Invalid API key"))
        );
        let missing = br#"{"cod":"404","message":"city not found"}"#;
        assert!(matches!(
            parse(missing, Units::Standard),
            Err(SourceError::NoData(_))
        ));
        let limited = br#"{"cod":429, "message": "Your account is temporary blocked due to exceeding of requests limitation of your subscription type."}"#;
        assert!(parse(limited, Units::Standard).unwrap_err().is_retryable());
        assert!(matches!(
            parse(
                br#"{"cod":"400","message":"wrong latitude"}"#,
                Units::Standard
            ),
            Err(SourceError::Refused(_))
        ));
        assert!(matches!(
            parse(b"[1", Units::Standard),
            Err(SourceError::Malformed(_))
        ));
    }

    #[test]
    fn kelvin_read_as_celsius_is_caught_by_the_physical_range() {
        let body = br#"{"dt":1729868400,"temp":288.35,"humidity":88}"#;
        let payload = parse(body, Units::Metric).unwrap();
        assert!(
            payload.rejects[0]
                .reason
                .contains("outside the physical range")
        );
        let payload = parse(body, Units::Standard).unwrap();
        assert_eq!(payload.readings.len(), 3, "temperature, humidity, 0 mm");
    }
}
