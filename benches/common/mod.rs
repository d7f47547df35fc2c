//! What the store benches share: bench locations, their series and rows, and running psql.

use std::collections::BTreeMap;

use almanac::domain::{Coordinates, Dataset, Flag, Grid, Location, LocationKind, Step, TimeRange};
use almanac::store::{NewRun, Row, RunId, SeriesId, SeriesKey, Store};

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
        timezone: jiff::tz::TimeZone::get("Europe/Madrid").unwrap(),
        radius_km: 20.0,
        kind: LocationKind::City,
        enabled: true,
        aliases: vec![],
        aemet_stations: vec![],
        region: None,
        municipality: None,
        price_zone: None,
        forecasts: Vec::new(),
        aemet_municipality: None,
        source_hours: Default::default(),
        points: Vec::new(),
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

/// Registers `locations` and starts the run the bench writes under.
pub async fn start(store: &dyn Store, locations: &[Location], window: TimeRange) -> RunId {
    store.sync_locations(locations).await.expect("locations");
    store
        .start_run(&NewRun {
            operation: "bench",
            location: None,
            dataset: None,
            source: None,
            range: Some(window),
            started_at: window.end,
            parent: None,
        })
        .await
        .expect("run")
}

/// The hourly series of [`VARIABLES`] at `location`, created on first use.
pub async fn series(store: &dyn Store, location: &Location) -> Vec<SeriesId> {
    let mut ids = Vec::new();
    for variable in VARIABLES {
        let key = SeriesKey {
            location: &location.id,
            dataset: Dataset::Weather,
            variable,
            source: "bench",
            step: Step::HOUR,
            unit: "x",
        };
        ids.push(store.ensure_series(&key).await.expect("series"));
    }
    ids
}

/// A value of each of `series` at every hour of `range`.
pub fn rows(range: TimeRange, series: &[SeriesId]) -> Vec<Row> {
    Grid::new(range, Step::HOUR)
        .iter()
        .flat_map(|ts| {
            series.iter().map(move |&series| Row {
                series,
                ts,
                value: (ts.epoch() % 997) as f64 / 10.0,
                flag: Flag::Observed,
            })
        })
        .collect()
}
