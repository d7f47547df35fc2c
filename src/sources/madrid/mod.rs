//! Madrid road traffic (Informo / datos.madrid.es): the real-time `pm.xml` snapshot, the
//! measurement-point location files and the monthly 15-minute history, all read into per-point
//! readings, then aggregated into the city's traffic series.
//!
//! **Aggregation rule.** For each quarter hour, a city's `intensity`, `occupancy`, `load` and
//! `service_level` are the mean over the measurement points within the city's radius whose
//! reading is valid (`error` = `N`) and carries that value; `average_speed` is the mean over the
//! points that measure speed (M-30 detectors, speed > 0); `points` is how many points made the
//! intensity. A mean per point, not a sum, so the figure does not jump when detectors come and
//! go. Readings flagged `E` (quality not optimal) or `S` (not integrated) are left out, and say
//! why in the rejects. A real-time snapshot stands for the last complete quarter hour.

pub mod history;
pub mod pm;
pub mod points;
pub mod source;
pub mod utm;

use std::collections::{BTreeMap, HashSet};

use crate::domain::{Dataset, Flag, Observation, Step, Timestamp};
use crate::sources::Payload;

/// One detector's reading for one period, values as Madrid publishes them (veh/h, %, 0–100,
/// km/h, 0–3). `valid` is Madrid's own verdict (`error` = `N`).
#[derive(Clone, Debug, PartialEq)]
pub struct PointReading {
    pub point: String,
    pub ts: Timestamp,
    pub intensity: Option<f64>,
    pub occupancy: Option<f64>,
    pub load: Option<f64>,
    pub average_speed: Option<f64>,
    pub service_level: Option<f64>,
    pub error: String,
}

impl PointReading {
    pub fn is_valid(&self) -> bool {
        self.error == "N"
    }

    fn values(&self) -> [(&'static str, Option<f64>); 5] {
        [
            ("intensity", self.intensity),
            ("occupancy", self.occupancy),
            ("load", self.load),
            ("average_speed", self.average_speed.filter(|s| *s > 0.0)),
            ("service_level", self.service_level),
        ]
    }

    /// Adds this reading to a per-point payload (what `sources parse` prints): its values when
    /// valid, a reject saying why when not.
    pub fn add_to(&self, payload: &mut Payload) {
        if !self.is_valid() {
            payload.reject(
                format!(
                    "point {} at {}: error = {}",
                    self.point, self.ts, self.error
                ),
                match self.error.as_str() {
                    "E" => "Madrid flags the reading's quality as not optimal (error = E)",
                    "S" => "Madrid flags a sample as wrong, not integrated (error = S)",
                    _ => "no valid `error` code (N, E or S)",
                },
            );
            return;
        }
        for (variable, value) in self.values() {
            let Some(value) = value else { continue };
            match check(variable, value) {
                Ok(value) => payload.push(
                    Some(&self.point),
                    Observation {
                        variable,
                        ts: self.ts,
                        value,
                        flag: Flag::Observed,
                    },
                ),
                Err(reason) => payload.reject(
                    format!("point {} at {}: {variable} = {value}", self.point, self.ts),
                    reason,
                ),
            }
        }
    }
}

fn check(variable: &str, value: f64) -> Result<f64, String> {
    match Dataset::Traffic.variable(variable) {
        Some(v) => v.check(value),
        None => Err(format!("unknown variable {variable}")),
    }
}

#[derive(Default, Clone, Copy)]
struct Sum {
    total: f64,
    count: u32,
}

/// Folds point readings into a city's quarter-hourly means. Memory grows with the number of
/// quarter hours seen (≤ 2 976 in a month), never with the number of readings.
pub struct CityAggregator {
    within: HashSet<String>,
    periods: BTreeMap<Timestamp, [Sum; 5]>,
    pub used: u64,
    pub invalid: u64,
    pub outside: u64,
}

impl CityAggregator {
    /// An aggregator counting only the points in `within` (those inside the city's radius).
    pub fn new(within: HashSet<String>) -> Self {
        Self {
            within,
            periods: BTreeMap::new(),
            used: 0,
            invalid: 0,
            outside: 0,
        }
    }

    pub fn add(&mut self, reading: &PointReading) {
        if !self.within.contains(&reading.point) {
            self.outside += 1;
            return;
        }
        if !reading.is_valid() {
            self.invalid += 1;
            return;
        }
        self.used += 1;
        let sums = self
            .periods
            .entry(reading.ts.floor(Step::QUARTER_HOUR))
            .or_default();
        for (sum, (variable, value)) in sums.iter_mut().zip(reading.values()) {
            if let Some(value) = value.filter(|v| check(variable, *v).is_ok()) {
                sum.total += value;
                sum.count += 1;
            }
        }
    }

    /// The city's observations, sorted by time and variable.
    pub fn finish(self) -> Vec<Observation> {
        const NAMES: [&str; 5] = [
            "intensity",
            "occupancy",
            "load",
            "average_speed",
            "service_level",
        ];
        let mut observations = Vec::new();
        for (ts, sums) in self.periods {
            let mut at = |variable: &'static str, value: f64| {
                observations.push(Observation {
                    variable,
                    ts,
                    value,
                    flag: Flag::Observed,
                })
            };
            for (name, sum) in NAMES.iter().zip(sums) {
                if sum.count > 0 {
                    at(
                        name,
                        (sum.total / f64::from(sum.count) * 100.0).round() / 100.0,
                    );
                }
            }
            if sums[0].count > 0 {
                at("points", f64::from(sums[0].count));
            }
        }
        observations.sort_by_key(|o| (o.ts, o.variable));
        observations
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(point: &str, intensity: f64, speed: Option<f64>, error: &str) -> PointReading {
        PointReading {
            point: point.into(),
            ts: Timestamp::from_epoch(1_000 * 900 + 120),
            intensity: Some(intensity),
            occupancy: Some(10.0),
            load: Some(20.0),
            average_speed: speed,
            service_level: None,
            error: error.into(),
        }
    }

    #[test]
    fn the_city_is_the_mean_of_valid_points_within_its_radius() {
        let mut city = CityAggregator::new(["a", "b", "c"].map(String::from).into());
        city.add(&reading("a", 100.0, None, "N"));
        city.add(&reading("b", 300.0, Some(60.0), "N"));
        city.add(&reading("c", 9_000.0, None, "S"));
        city.add(&reading("far", 9_000.0, None, "N"));
        assert_eq!((city.used, city.invalid, city.outside), (2, 1, 1));
        let got: Vec<_> = city
            .finish()
            .into_iter()
            .map(|o| (o.ts.epoch(), o.variable, o.value))
            .collect();
        let ts = 1_000 * 900;
        assert_eq!(
            got,
            vec![
                (ts, "average_speed", 60.0),
                (ts, "intensity", 200.0),
                (ts, "load", 20.0),
                (ts, "occupancy", 10.0),
                (ts, "points", 2.0),
            ]
        );
    }
}
