//! A small simulated water network (Selargius-like, four nodes at 15-minute cadence) with the
//! faults processing must find, written as a CSV export in the shape of Abbanoa's
//! `sensor_readings` table (`../shared/fixtures/abbanoa-dbdump/`: timestamp, node_id, temperature,
//! flow_rate, pressure, total_flow, quality_score, is_interpolated, raw_data; the last three left
//! empty, as almanac computes quality itself) at 15 minutes instead of 20, and loaded through the
//! generic sensor import like any utility's file:
//!
//! - `sel_in` (inflow, the reservoir outlet), `sel_north` and `sel_south` (outflow district
//!   meters), `sel_tank` (storage): flow (L/s) with a daily demand profile, pressure (bar),
//!   cumulative meters (m³), water temperature (°C). Normal losses are 3 % (efficiency 97 %).
//! - Faults, as days from the start: day 9 `sel_south` sends nothing for 6 hours (a gap);
//!   day 11 `sel_north`'s pressure is stuck from 02:00 to 07:00 UTC (a flatline); day 15 one `sel_north`
//!   flow reading spikes; day 13 one `sel_tank` pressure reading falls to 1.2 bar (below the
//!   2 bar service range); day 14 at 09:00 `sel_tank` sends an impossible 17.5 bar (refused at
//!   import, a validity issue); day 5 at 12:00 `sel_north` sends one reading twice (a duplicate);
//!   from day 17 on a leak adds 2.5 L/s to the inflow that no outflow
//!   meter sees.
//!
//! Noise is bounded (a sensor's rounding and jitter), so everything found is a fault.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::config::{Config, LocationConfig, ModelConfig, NetworkConfig};
use crate::domain::model::Family;
use crate::domain::model::lifecycle::Rules;
use crate::domain::network::Role;
use crate::domain::time::Resolution;
use crate::domain::{Dataset, LocationKind, Timestamp};
use crate::sources::csv_import::{Column, Format};

pub const FORMAT: &str = "water";
pub const NETWORK: &str = "selargius";
pub const NODES: [(&str, Role, f64, f64); 4] = [
    ("sel_in", Role::Inflow, 39.2540, 9.1620),
    ("sel_north", Role::Outflow, 39.2600, 9.1300),
    ("sel_south", Role::Outflow, 39.2154, 9.1384),
    ("sel_tank", Role::Storage, 39.2393, 9.1433),
];
const STEP: i64 = 900;

/// The injected faults, as instants, for tests to compare with what is found.
#[derive(Clone, Debug)]
pub struct Faults {
    /// `sel_south` readings absent in `[start, end)`.
    pub gap: (Timestamp, Timestamp),
    /// `sel_north` pressure stuck over `[start, end]` (readings).
    pub stuck: (Timestamp, Timestamp),
    /// The `sel_north` flow spike.
    pub spike: Timestamp,
    /// The `sel_tank` pressure drop.
    pub pressure_drop: Timestamp,
    /// From here on the inflow carries the leak.
    pub leak_from: Timestamp,
    /// `sel_north` sends this reading twice (the second with another value): the first is kept,
    /// the second refused as a duplicate.
    pub duplicate: Timestamp,
    /// A `sel_tank` pressure reading of 17.5 bar, beyond what the variable can physically be
    /// (0–16 bar): refused at import, counted against that day's validity.
    pub impossible: Timestamp,
}

/// Adds the network's nodes (sites in Europe/Rome), the network and the CSV format.
pub fn configure(config: &mut Config) {
    for (id, _, latitude, longitude) in NODES {
        config.locations.insert(
            id.to_owned(),
            LocationConfig {
                name: format!("Selargius {}", id.trim_start_matches("sel_")),
                country: "IT".into(),
                latitude,
                longitude,
                timezone: "Europe/Rome".into(),
                radius_km: 1.0,
                kind: LocationKind::Site,
                enabled: true,
                aliases: Vec::new(),
                aemet_stations: Vec::new(),
                region: None,
                municipality: None,
                price_zone: None,
                sources: BTreeMap::from([(Dataset::Sensor, vec![format!("csv_{FORMAT}")])]),
                forecasts: Vec::new(),
                aemet_municipality: None,
                source_hours: BTreeMap::new(),
            },
        );
    }
    config.networks.insert(
        NETWORK.into(),
        NetworkConfig {
            name: "Selargius district (simulated)".into(),
            min_completeness: 0.9,
            nodes: NODES
                .iter()
                .map(|&(id, role, ..)| (id.to_owned(), role))
                .collect(),
        },
    );
    // Each node's flow, forecast a day ahead (the processing seed's flow_prediction) from the
    // two weeks before.
    for (id, ..) in NODES {
        config.models.insert(
            format!("{id}_flow"),
            ModelConfig {
                location: id.to_owned(),
                dataset: Dataset::Sensor,
                variable: "flow_rate".into(),
                fill_from: Vec::new(),
                resolution: Resolution::Hour,
                family: Family::Mstl,
                regressors: Vec::new(),
                horizon_hours: 24,
                training_days: 14,
                backtest_origins: 6,
                retrain_days: 7,
                rules: Rules::default(),
                model_type: Some("flow_prediction".into()),
                enabled: true,
            },
        );
    }
    let column = |column: &str, unit: &str| Column {
        column: column.into(),
        unit: unit.into(),
    };
    config.sources.csv_import.formats.insert(
        FORMAT.into(),
        Format {
            dataset: Dataset::Sensor,
            delimiter: ",".into(),
            time_column: "timestamp".into(),
            node_column: Some("node_id".into()),
            timezone: "UTC".into(),
            step_minutes: 15,
            columns: BTreeMap::from([
                ("flow_rate".into(), column("flow_rate", "L/s")),
                ("pressure".into(), column("pressure", "bar")),
                ("total_volume".into(), column("total_flow", "m³")),
                ("temperature".into(), column("temperature", "°C")),
            ]),
        },
    );
}

/// `days` days of readings from `start` (a UTC midnight), and where the faults are.
pub fn readings(start: Timestamp, days: u32) -> (String, Faults) {
    let day = |d: i64, hour: i64| start.plus(d * 86_400 + hour * 3_600);
    let faults = Faults {
        gap: (day(9, 10), day(9, 16)),
        stuck: (day(11, 2), day(11, 7)),
        spike: day(15, 15),
        pressure_drop: day(13, 4),
        leak_from: day(17, 0),
        impossible: day(14, 9),
        duplicate: day(5, 12),
    };
    let mut rng = fastrand::Rng::with_seed(2_025);
    let mut csv = String::from(
        "timestamp,node_id,temperature,flow_rate,pressure,total_flow,quality_score,is_interpolated,raw_data\n",
    );
    let mut meters = [5_000.0f64, 3_000.0, 2_000.0, 800.0];
    let mut stuck_at = None;
    let steps = i64::from(days) * 86_400 / STEP;
    for i in 0..steps {
        let ts = start.plus(i * STEP);
        let hour = (ts.epoch().rem_euclid(86_400)) as f64 / 3_600.0;
        let profile = 1.0 + 0.5 * ((hour - 9.0) / 24.0 * std::f64::consts::TAU).sin();
        let north = 12.0 * profile + rng.f64() * 0.4 - 0.2;
        let south = 8.0 * profile + rng.f64() * 0.4 - 0.2;
        let leak = if ts >= faults.leak_from { 2.5 } else { 0.0 };
        let inflow = (12.0 + 8.0) * profile / 0.97 + leak + rng.f64() * 0.4 - 0.2;
        let tank = 3.0 * (hour / 24.0 * std::f64::consts::TAU).cos() + rng.f64() * 0.2 - 0.1;
        let flows = [inflow, north, south, tank];
        for (n, (id, ..)) in NODES.iter().enumerate() {
            let mut flow = flows[n];
            let mut pressure = [5.2, 4.4, 4.1, 3.6][n] + rng.f64() * 0.1 - 0.05;
            if *id == "sel_north" {
                if ts == faults.spike {
                    flow += 15.0;
                }
                if ts >= faults.stuck.0 && ts <= faults.stuck.1 {
                    pressure = *stuck_at.get_or_insert(pressure);
                }
            }
            if *id == "sel_tank" && ts == faults.pressure_drop {
                pressure = 1.2;
            }
            if *id == "sel_tank" && ts == faults.impossible {
                pressure = 17.5;
            }
            meters[n] += flow.abs() * STEP as f64 / 1_000.0;
            if *id == "sel_south" && ts >= faults.gap.0 && ts < faults.gap.1 {
                continue;
            }
            let stamp = ts.to_jiff().strftime("%Y-%m-%d %H:%M:%S+00");
            // Water warms a little through the afternoon.
            let temperature =
                19.5 + 1.0 * ((hour - 15.0) / 24.0 * std::f64::consts::TAU).cos() + rng.f64() * 0.1
                    - 0.05;
            let _ = writeln!(
                csv,
                "{stamp},{id},{temperature:.2},{flow:.2},{pressure:.3},{:.3},,,",
                meters[n]
            );
            if *id == "sel_north" && ts == faults.duplicate {
                // The logger uploads the reading again, re-sampled.
                let _ = writeln!(
                    csv,
                    "{stamp},{id},{temperature:.2},{:.2},{pressure:.3},{:.3},,,",
                    flow + 0.05,
                    meters[n]
                );
            }
        }
    }
    (csv, faults)
}
