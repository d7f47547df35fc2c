//! What the store benches share: a bench location and running psql.

use std::collections::BTreeMap;

use almanac::domain::{Coordinates, Location, LocationKind};

/// The hourly weather variables every bench location gets.
pub const VARIABLES: [&str; 6] = [
    "temperature",
    "precipitation",
    "humidity",
    "wind_speed",
    "pressure",
    "weather_code",
];

/// City `i` of a bench: an enabled city in Europe/Madrid, `step` degrees of longitude apart.
pub fn location(i: usize, step: f64) -> Location {
    Location {
        id: format!("city{i}"),
        name: format!("City {i}"),
        country: "ES".into(),
        coordinates: Coordinates::new(40.0, -3.0 + i as f64 * step).expect("coordinates"),
        timezone: "Europe/Madrid".into(),
        radius_km: 20.0,
        kind: LocationKind::City,
        enabled: true,
        aliases: vec![],
        aemet_stations: vec![],
        price_zone: None,
        source_hours: Default::default(),
        sources: BTreeMap::new(),
    }
}

/// Runs `command` through psql against `url`.
pub fn psql(url: &str, command: &str) {
    let status = std::process::Command::new("psql")
        .args([url, "-q", "-v", "ON_ERROR_STOP=1", "-c", command])
        .status()
        .expect("psql");
    assert!(status.success(), "psql -c {command}");
}
