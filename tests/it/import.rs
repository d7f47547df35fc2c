//! `import`: saved files into the store, parsed exactly as the live path parses them.

use almanac::domain::{Dataset, TimeRange, Timestamp};
use almanac::ops::import::{self, Target};
use almanac::sources::kinds::Options;

use crate::support::{config, serve, shared_fixture};

const LINARES: &str = "{ name = \"Linares\", country = \"ES\", kind = \"site\", latitude = 38.0931, longitude = -3.6358, timezone = \"Europe/Madrid\", radius_km = 20.0, enabled = false, sources = { weather = [\"siar\"] } }";

fn node(id: &str) -> String {
    format!(
        "{{ name = \"Node {id}\", country = \"IT\", kind = \"site\", latitude = 39.2154, longitude = 9.1384, timezone = \"Europe/Rome\", radius_km = 1.0, enabled = false, sources = {{ sensor = [\"csv_abbanoa\"] }} }}"
    )
}

#[tokio::test]
async fn siar_files_and_sensor_exports_import_once() {
    let (Some(siar), Some(sensors)) = (
        shared_fixture("siar-linares/J17_Linares_01_01_2022_31_12_2022.csv"),
        shared_fixture("abbanoa-dbdump/sensor_readings_2025-07-17_to_20.csv"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let upstream = serve(almanac::demo::router()).await;
    let (a, b) = (node("211514"), node("215542"));
    let settings = config(
        &dir,
        upstream,
        &[
            ("ALMANAC__LOCATIONS__LINARES", LINARES),
            ("ALMANAC__LOCATIONS__211514", &a),
            ("ALMANAC__LOCATIONS__215542", &b),
        ],
    );
    let core = almanac::core::Core::open(settings).await.unwrap();
    let formats = core.config.sources.csv_import.formats.clone();
    let options = Options {
        formats: Some(&formats),
        ..Options::default()
    };

    let first = import::run(&core, "siar", &siar, Target::Location("linares"), &options)
        .await
        .unwrap();
    assert_eq!(first.total().inserted, 4_349, "{first}");
    let again = import::run(&core, "siar", &siar, Target::Location("linares"), &options)
        .await
        .unwrap();
    assert_eq!(
        (
            again.total().inserted,
            again.total().updated,
            again.total().unchanged
        ),
        (0, 0, 4_349)
    );
    let series = core
        .store
        .series("linares", Dataset::Weather)
        .await
        .unwrap();
    let et0 = series.iter().find(|s| s.variable == "et0").unwrap();
    assert_eq!(
        (et0.source.as_str(), et0.step.seconds(), et0.unit.as_str()),
        ("siar", 86_400, "mm")
    );
    let year = TimeRange::new(
        Timestamp::from_jiff("2022-01-01T00:00:00Z".parse().unwrap()),
        Timestamp::from_jiff("2023-01-01T00:00:00Z".parse().unwrap()),
    )
    .unwrap();
    // 360 rows; 329 carry an EtPMon value (25 rows are empty, 6 more lack just ET0).
    assert_eq!(core.store.count_present(et0.id, year).await.unwrap(), 329);

    // Each node's readings go to the location named like it; the other six nodes have none.
    let result = import::run(&core, "csv:abbanoa", &sensors, Target::ByOrigin, &options)
        .await
        .unwrap();
    assert_eq!(result.outcomes.len(), 2, "{result}");
    for outcome in &result.outcomes {
        assert_eq!(outcome.counts.inserted, 288 * 4, "{result}");
    }
    assert_eq!(
        result.total().rejected,
        6 * 288 * 4,
        "the readings of nodes without a location"
    );
    let rejects = core.store.rejects(result.outcomes[0].run).await.unwrap();
    assert!(
        rejects[0].reason.contains("no location is named"),
        "{:?}",
        rejects[0]
    );
    let flow = core.store.series("211514", Dataset::Sensor).await.unwrap();
    let names: Vec<_> = flow
        .iter()
        .map(|s| (s.variable.as_str(), s.step.seconds()))
        .collect();
    assert_eq!(
        names,
        [
            ("flow_rate", 1_200),
            ("pressure", 1_200),
            ("temperature", 1_200),
            ("total_volume", 1_200)
        ]
    );

    let unknown = import::run(&core, "siar", &siar, Target::Location("atlantis"), &options).await;
    assert!(
        unknown
            .unwrap_err()
            .to_string()
            .contains("no location `atlantis`")
    );
}
