//! Series vocabulary: datasets, canonical variables with their units and physical ranges, the
//! observation flag, rejected records and the counts every load reports.

use std::fmt;
use std::ops::AddAssign;

use serde::{Deserialize, Serialize};

use super::time::Timestamp;

/// A family of variables with canonical units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dataset {
    Weather,
}

impl Dataset {
    pub const fn as_str(self) -> &'static str {
        match self {
            Dataset::Weather => "weather",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "weather" => Some(Dataset::Weather),
            _ => None,
        }
    }

    /// The canonical variable called `name` in this dataset.
    pub fn variable(self, name: &str) -> Option<&'static Variable> {
        match self {
            Dataset::Weather => WEATHER_HOURLY
                .iter()
                .chain(WEATHER_DAILY)
                .find(|v| v.name == name),
        }
    }
}

impl fmt::Display for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The physical quantity of a variable, which decides how upstream units convert to ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantity {
    Temperature,
    Precipitation,
    Speed,
    Percent,
    Pressure,
    Code,
}

/// A canonical variable: its name, its unit, and the range outside which a value cannot be
/// physically true and is rejected at ingestion.
#[derive(Debug, PartialEq)]
pub struct Variable {
    pub name: &'static str,
    pub unit: &'static str,
    pub quantity: Quantity,
    pub min: f64,
    pub max: f64,
}

impl Variable {
    /// `Ok` when `value` is physically possible, or the reason it is not.
    pub fn check(&self, value: f64) -> Result<f64, String> {
        if value.is_finite() && (self.min..=self.max).contains(&value) {
            Ok(value)
        } else {
            Err(format!(
                "{} {value} {} outside the physical range {}..{}",
                self.name, self.unit, self.min, self.max
            ))
        }
    }
}

const fn var(
    name: &'static str,
    unit: &'static str,
    quantity: Quantity,
    min: f64,
    max: f64,
) -> Variable {
    Variable {
        name,
        unit,
        quantity,
        min,
        max,
    }
}

/// Hourly weather, the seed's variables.
pub const WEATHER_HOURLY: &[Variable] = &[
    var("temperature", "°C", Quantity::Temperature, -90.0, 60.0),
    var("precipitation", "mm", Quantity::Precipitation, 0.0, 500.0),
    var("humidity", "%", Quantity::Percent, 0.0, 100.0),
    var("wind_speed", "m/s", Quantity::Speed, 0.0, 120.0),
    var("pressure", "hPa", Quantity::Pressure, 300.0, 1_100.0),
    var("weather_code", "wmo code", Quantity::Code, 0.0, 99.0),
];

/// Daily weather aggregates some providers send.
pub const WEATHER_DAILY: &[Variable] = &[
    var("temperature_max", "°C", Quantity::Temperature, -90.0, 60.0),
    var("temperature_min", "°C", Quantity::Temperature, -90.0, 60.0),
    var("temperature_mean", "°C", Quantity::Temperature, -90.0, 60.0),
    var(
        "apparent_temperature_max",
        "°C",
        Quantity::Temperature,
        -100.0,
        80.0,
    ),
    var(
        "apparent_temperature_min",
        "°C",
        Quantity::Temperature,
        -100.0,
        80.0,
    ),
    var(
        "precipitation_sum",
        "mm",
        Quantity::Precipitation,
        0.0,
        2_000.0,
    ),
    var("wind_speed_max", "m/s", Quantity::Speed, 0.0, 120.0),
    var("wind_gust_max", "m/s", Quantity::Speed, 0.0, 150.0),
];

/// How a stored value came to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    Observed,
    Trace,
    Estimated,
    FilledFromSecondary,
    Interpolated,
}

impl Flag {
    pub const fn code(self) -> i64 {
        match self {
            Flag::Observed => 0,
            Flag::Trace => 1,
            Flag::Estimated => 2,
            Flag::FilledFromSecondary => 3,
            Flag::Interpolated => 4,
        }
    }

    pub const fn from_code(code: i64) -> Option<Self> {
        match code {
            0 => Some(Flag::Observed),
            1 => Some(Flag::Trace),
            2 => Some(Flag::Estimated),
            3 => Some(Flag::FilledFromSecondary),
            4 => Some(Flag::Interpolated),
            _ => None,
        }
    }
}

/// One value of one canonical variable, as a source parsed it (already in canonical units).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Observation {
    pub variable: &'static str,
    pub ts: Timestamp,
    pub value: f64,
    pub flag: Flag,
}

/// An upstream record that was not stored, with the record as received and the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    pub record: String,
    pub reason: String,
}

/// What a write did, value by value: loading the same data twice reports it all `unchanged`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
}

impl AddAssign for Counts {
    fn add_assign(&mut self, other: Counts) {
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.rejected += other.rejected;
    }
}

/// Where a run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
}

impl RunStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "running" => Some(RunStatus::Running),
            "succeeded" => Some(RunStatus::Succeeded),
            "failed" => Some(RunStatus::Failed),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn physical_ranges_reject_impossible_values() {
        let humidity = Dataset::Weather.variable("humidity").unwrap();
        assert_eq!(humidity.check(55.0), Ok(55.0));
        assert!(
            humidity
                .check(101.0)
                .unwrap_err()
                .contains("outside the physical range")
        );
        assert!(humidity.check(f64::NAN).is_err());
    }

    #[test]
    fn flags_round_trip_through_their_codes() {
        for flag in [
            Flag::Observed,
            Flag::Trace,
            Flag::Estimated,
            Flag::FilledFromSecondary,
            Flag::Interpolated,
        ] {
            assert_eq!(Flag::from_code(flag.code()), Some(flag));
        }
        assert_eq!(Flag::from_code(9), None);
    }
}
