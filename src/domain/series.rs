//! Series vocabulary: datasets, canonical variables with their units and physical ranges, the
//! observation flag, rejected records and the counts every load reports.

use std::fmt;
use std::ops::AddAssign;

use serde::{Deserialize, Serialize};

use super::time::{Step, Timestamp};

/// A family of variables with canonical units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dataset {
    Weather,
    Traffic,
    EnergyPrice,
    Sensor,
}

impl Dataset {
    pub const ALL: &'static [Dataset] = &[
        Dataset::Weather,
        Dataset::Traffic,
        Dataset::EnergyPrice,
        Dataset::Sensor,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Dataset::Weather => "weather",
            Dataset::Traffic => "traffic",
            Dataset::EnergyPrice => "energy_price",
            Dataset::Sensor => "sensor",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|d| d.as_str() == s)
    }

    /// Every canonical variable of the dataset, whatever its step.
    pub fn variables(self) -> &'static [&'static [Variable]] {
        match self {
            Dataset::Weather => &[WEATHER_HOURLY, WEATHER_DAILY],
            Dataset::Traffic => &[TRAFFIC],
            Dataset::EnergyPrice => &[ENERGY_PRICE],
            Dataset::Sensor => &[SENSOR],
        }
    }

    /// The step a variable's series has by nature, or `None` where it depends on the source
    /// (sensor readings come at whatever cadence their loggers keep).
    pub fn natural_step(self, name: &str) -> Option<Step> {
        match self {
            Dataset::Weather if WEATHER_DAILY.iter().any(|v| v.name == name) => Some(Step::DAY),
            Dataset::Weather => Some(Step::HOUR),
            Dataset::Traffic => Some(Step::QUARTER_HOUR),
            Dataset::EnergyPrice if name.ends_with("_15min") => Some(Step::QUARTER_HOUR),
            Dataset::EnergyPrice => Some(Step::HOUR),
            Dataset::Sensor => None,
        }
    }

    /// The canonical variable called `name` in this dataset.
    pub fn variable(self, name: &str) -> Option<&'static Variable> {
        self.variables()
            .iter()
            .flat_map(|group| group.iter())
            .find(|v| v.name == name)
    }
}

impl fmt::Display for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How values of a variable combine over a longer window (daily rollups, resampling).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// A level or a rate: averaged (temperature, flow, price).
    Mean,
    /// An amount per interval: summed (precipitation, volume delivered).
    Sum,
    /// A cumulative counter (a meter reading): differenced, never summed.
    Counter,
    /// A category (a weather code): the most severe or most frequent, never averaged.
    Category,
    /// A direction in degrees from north: averaged as vectors (350° and 10° average to 0°, not
    /// 180°), never as numbers.
    Direction,
}

/// A canonical variable: its name, its unit, how it aggregates, and the range outside which a
/// value cannot be physically true and is rejected at ingestion.
#[derive(Debug, PartialEq)]
pub struct Variable {
    pub name: &'static str,
    pub unit: &'static str,
    pub aggregation: Aggregation,
    pub min: f64,
    pub max: f64,
    pub description: &'static str,
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

    /// `value` given in `unit`, converted to this variable's unit and range-checked.
    pub fn canonical(&self, value: f64, unit: &str) -> Result<f64, String> {
        let converted = super::units::convert(value, unit, self.unit).ok_or_else(|| {
            format!(
                "unit `{unit}` cannot be converted to {} for {}",
                self.unit, self.name
            )
        })?;
        self.check(converted)
    }
}

const fn var(
    name: &'static str,
    unit: &'static str,
    aggregation: Aggregation,
    (min, max): (f64, f64),
    description: &'static str,
) -> Variable {
    Variable {
        name,
        unit,
        aggregation,
        min,
        max,
        description,
    }
}

use Aggregation::{Category, Counter, Direction, Mean, Sum};

const TEMPERATURE: (f64, f64) = (-90.0, 60.0);
const PERCENT: (f64, f64) = (0.0, 100.0);
const DEGREES: (f64, f64) = (0.0, 360.0);
const PRICE: (f64, f64) = (-500.0, 10_000.0);

/// Hourly weather, the seed's variables. An hourly value is stamped at the end of its hour for
/// amounts (precipitation over the preceding hour) and at the instant for levels.
pub const WEATHER_HOURLY: &[Variable] = &[
    var(
        "temperature",
        "°C",
        Mean,
        TEMPERATURE,
        "air temperature at 2 m",
    ),
    var(
        "precipitation",
        "mm",
        Sum,
        (0.0, 500.0),
        "precipitation over the preceding hour",
    ),
    var("humidity", "%", Mean, PERCENT, "relative humidity at 2 m"),
    var(
        "wind_speed",
        "m/s",
        Mean,
        (0.0, 120.0),
        "wind speed at 10 m",
    ),
    var(
        "wind_direction",
        "°",
        Direction,
        DEGREES,
        "wind direction at 10 m, from north",
    ),
    var(
        "pressure",
        "hPa",
        Mean,
        (300.0, 1_100.0),
        "air pressure at station level",
    ),
    var(
        "weather_code",
        "wmo code",
        Category,
        (0.0, 99.0),
        "WMO weather code",
    ),
];

/// Daily weather. A daily value is stamped at 00:00 UTC of the calendar date its provider
/// labels it with (in the provider's own day definition, given in the description).
pub const WEATHER_DAILY: &[Variable] = &[
    var(
        "temperature_max",
        "°C",
        Mean,
        TEMPERATURE,
        "daily maximum temperature",
    ),
    var(
        "temperature_min",
        "°C",
        Mean,
        TEMPERATURE,
        "daily minimum temperature",
    ),
    var(
        "temperature_mean",
        "°C",
        Mean,
        TEMPERATURE,
        "daily mean temperature",
    ),
    var(
        "apparent_temperature_max",
        "°C",
        Mean,
        (-100.0, 80.0),
        "daily maximum apparent temperature",
    ),
    var(
        "apparent_temperature_min",
        "°C",
        Mean,
        (-100.0, 80.0),
        "daily minimum apparent temperature",
    ),
    var(
        "precipitation_sum",
        "mm",
        Sum,
        (0.0, 2_000.0),
        "precipitation over the calendar day",
    ),
    var(
        "precipitation_day_07utc",
        "mm",
        Sum,
        (0.0, 2_000.0),
        "precipitation from 07:00 UTC on the date to 07:00 UTC the next day (AEMET's climatological day)",
    ),
    var(
        "wind_speed_mean",
        "m/s",
        Mean,
        (0.0, 120.0),
        "daily mean wind speed",
    ),
    var(
        "wind_speed_max",
        "m/s",
        Mean,
        (0.0, 120.0),
        "daily maximum wind speed",
    ),
    var(
        "wind_gust_max",
        "m/s",
        Mean,
        (0.0, 150.0),
        "daily maximum gust",
    ),
    var(
        "wind_gust_direction",
        "°",
        Direction,
        DEGREES,
        "direction of the daily maximum gust",
    ),
    var(
        "wind_direction_mean",
        "°",
        Direction,
        DEGREES,
        "daily mean wind direction",
    ),
    var(
        "humidity_mean",
        "%",
        Mean,
        PERCENT,
        "daily mean relative humidity",
    ),
    var(
        "humidity_max",
        "%",
        Mean,
        PERCENT,
        "daily maximum relative humidity",
    ),
    var(
        "humidity_min",
        "%",
        Mean,
        PERCENT,
        "daily minimum relative humidity",
    ),
    var(
        "pressure_max",
        "hPa",
        Mean,
        (300.0, 1_100.0),
        "daily maximum station pressure",
    ),
    var(
        "pressure_min",
        "hPa",
        Mean,
        (300.0, 1_100.0),
        "daily minimum station pressure",
    ),
    var(
        "sunshine_duration",
        "h",
        Sum,
        (0.0, 24.0),
        "hours of sunshine",
    ),
    var(
        "radiation_sum",
        "MJ/m²",
        Sum,
        (0.0, 50.0),
        "global solar radiation over the day",
    ),
    var(
        "et0",
        "mm",
        Sum,
        (0.0, 30.0),
        "reference evapotranspiration (Penman-Monteith)",
    ),
];

/// Road traffic of a city at 15 minutes: the mean over the valid measurement points within the
/// city's radius (see `sources::madrid`).
pub const TRAFFIC: &[Variable] = &[
    var(
        "intensity",
        "veh/h",
        Mean,
        (0.0, 20_000.0),
        "vehicles per hour, mean per measurement point",
    ),
    var(
        "occupancy",
        "%",
        Mean,
        PERCENT,
        "share of time a detector is occupied, mean over points",
    ),
    var(
        "load",
        "0-100",
        Mean,
        // Documented 0–100, but real snapshots carry overloaded points up to ~200.
        (0.0, 250.0),
        "load index (100 = capacity), mean over points",
    ),
    var(
        "average_speed",
        "km/h",
        Mean,
        (0.0, 250.0),
        "mean speed over the points that measure it (M-30)",
    ),
    var(
        "service_level",
        "0-3",
        Mean,
        (0.0, 3.0),
        "mean service level: 0 fluid, 1 slow, 2 queues, 3 congestion",
    ),
    var(
        "points",
        "count",
        Mean,
        (0.0, 100_000.0),
        "measurement points whose valid readings make the value",
    ),
];

/// Electricity prices of a price zone, hourly until the market moved to 15-minute periods on
/// 2025-10-01 and quarter-hourly since (the `_15min` variables).
pub const ENERGY_PRICE: &[Variable] = &[
    var(
        "pvpc",
        "€/MWh",
        Mean,
        PRICE,
        "PVPC 2.0TD consumer price (REE indicator 1001)",
    ),
    var(
        "spot",
        "€/MWh",
        Mean,
        PRICE,
        "day-ahead spot market price (REE indicator 600)",
    ),
    var(
        "surplus",
        "€/MWh",
        Mean,
        PRICE,
        "price of self-consumption surplus energy (ESIOS 1739)",
    ),
    var(
        "pvpc_15min",
        "€/MWh",
        Mean,
        PRICE,
        "PVPC at 15-minute resolution",
    ),
    var(
        "spot_15min",
        "€/MWh",
        Mean,
        PRICE,
        "spot price at 15-minute resolution",
    ),
];

/// Utility sensor readings (water networks and the like).
pub const SENSOR: &[Variable] = &[
    var(
        "flow_rate",
        "L/s",
        Mean,
        (-100_000.0, 100_000.0),
        "instantaneous flow",
    ),
    var("pressure", "bar", Mean, (0.0, 16.0), "water pressure"),
    var(
        "temperature",
        "°C",
        Mean,
        (-50.0, 60.0),
        "water temperature",
    ),
    var(
        "volume",
        "m³",
        Sum,
        (0.0, 1e9),
        "volume delivered over the interval",
    ),
    var(
        "total_volume",
        "m³",
        Counter,
        (0.0, 1e12),
        "cumulative meter reading",
    ),
    var("level", "m", Mean, (-1_000.0, 10_000.0), "water level"),
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
    /// The name the API uses (as serialized).
    pub const fn as_str(self) -> &'static str {
        match self {
            Flag::Observed => "observed",
            Flag::Trace => "trace",
            Flag::Estimated => "estimated",
            Flag::FilledFromSecondary => "filled_from_secondary",
            Flag::Interpolated => "interpolated",
        }
    }

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
    /// Which value it would have been, when the record was one value refused as impossible
    /// (data quality counts these per series and day as the readings that were not valid).
    pub value: Option<RejectedValue>,
}

/// The variable and instant of a refused value, the station or node it came from, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectedValue {
    pub origin: Option<String>,
    pub variable: String,
    pub ts: Timestamp,
    pub kind: RefusedKind,
}

/// Why a value was refused, as data quality counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusedKind {
    /// Impossible or unreadable: counts against validity.
    Invalid,
    /// A second value for an instant that already had one.
    Duplicate,
}

impl RefusedKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            RefusedKind::Invalid => "invalid",
            RefusedKind::Duplicate => "duplicate",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "invalid" => Some(RefusedKind::Invalid),
            "duplicate" => Some(RefusedKind::Duplicate),
            _ => None,
        }
    }
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
