//! Load rate into the embedded store: 10 locations × 6 variables × 24 months of hourly values
//! (1,051,200 values) written in month chunks through `Store::write_chunk`, as `init` does, then
//! the same rows again (the all-unchanged path). Prints figures; asserts only the counts.
//! Run: `cargo bench --bench sqlite_load`.

use std::collections::BTreeMap;
use std::time::Instant;

use almanac::domain::{
    Coordinates, Dataset, Flag, Location, LocationKind, Step, TimeRange, Timestamp,
};
use almanac::store::{NewRun, Row, SeriesKey, Sqlite, Store};

const VARIABLES: [&str; 6] = [
    "temperature",
    "precipitation",
    "humidity",
    "wind_speed",
    "pressure",
    "weather_code",
];

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Sqlite::open(&dir.path().join("bench.db"))
        .await
        .expect("store");
    let end = Timestamp::from_epoch(1_793_491_200); // 2026-11-01T00:00Z
    let window = TimeRange {
        start: end.months_before(24),
        end,
    };
    let locations: Vec<Location> = (0..10).map(location).collect();
    store.sync_locations(&locations).await.expect("locations");
    let run = store
        .start_run(&NewRun {
            operation: "bench",
            location: None,
            dataset: None,
            source: None,
            range: Some(window),
            started_at: end,
            parent: None,
        })
        .await
        .expect("run");
    let mut chunks = Vec::new();
    for location in &locations {
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
        for month in window.split_by_month() {
            let rows: Vec<Row> = almanac::domain::Grid::new(month, Step::HOUR)
                .iter()
                .flat_map(|ts| {
                    ids.iter().map(move |&series| Row {
                        series,
                        ts,
                        value: (ts.epoch() % 997) as f64 / 10.0,
                        flag: Flag::Observed,
                    })
                })
                .collect();
            chunks.push(rows);
        }
    }
    let values: usize = chunks.iter().map(Vec::len).sum();
    for (label, expect_inserted) in [
        ("first load (all inserted)", true),
        ("same rows again (all unchanged)", false),
    ] {
        let started = Instant::now();
        let mut inserted = 0;
        for rows in &chunks {
            inserted += store
                .write_chunk(run, rows, &[])
                .await
                .expect("write")
                .inserted;
        }
        let seconds = started.elapsed().as_secs_f64();
        assert_eq!(inserted as usize, if expect_inserted { values } else { 0 });
        println!(
            "{label}: {values} values in {} chunks, {seconds:.2} s, {:.0} values/s",
            chunks.len(),
            values as f64 / seconds
        );
    }
}

fn location(i: usize) -> Location {
    Location {
        id: format!("city{i}"),
        name: format!("City {i}"),
        country: "ES".into(),
        coordinates: Coordinates::new(40.0, -3.0 + i as f64 / 10.0).expect("coordinates"),
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
