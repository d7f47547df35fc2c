//! The live path of each provider beyond Open-Meteo: real HTTP to the simulated upstream (the
//! demo's), real parsing, the real store.

use almanac::domain::{Dataset, Grid, Step, TimeRange, Timestamp};
use almanac::ops;
use indicatif::ProgressBar;

use crate::support::{config, serve};

async fn simulated() -> std::net::SocketAddr {
    serve(almanac::demo::router()).await
}

#[tokio::test]
async fn ree_prices_load_into_the_price_zone_once_and_hourly() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = simulated().await;
    let settings = config(
        &dir,
        upstream,
        &[
            ("ALMANAC__LOCATIONS__ES_PENINSULAR__ENABLED", "true"),
            ("ALMANAC__LOCATIONS__MADRID__ENABLED", "false"),
        ],
    );
    let core = almanac::core::Core::open(settings).await.unwrap();
    let now = Timestamp::now().floor(Step::HOUR);
    let first = ops::init::run(&core, 2, now, &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(!first.failed(), "{first}");
    let window = TimeRange {
        start: now.months_before(2),
        end: now,
    };
    let hours = Grid::new(window, Step::HOUR).len();
    let series = core
        .store
        .series("es_peninsular", Dataset::EnergyPrice)
        .await
        .unwrap();
    let names: Vec<_> = series.iter().map(|s| s.variable.as_str()).collect();
    assert_eq!(names, ["pvpc", "spot"]);
    for s in &series {
        assert_eq!(s.unit, "€/MWh");
        assert_eq!(
            core.store.count_present(s.id, window).await.unwrap(),
            hours,
            "{}",
            s.variable
        );
    }
    assert_eq!(first.total().inserted, 2 * hours);
    // Every stored price is the simulator's for that instant: the offsets were read right.
    let spot = series.iter().find(|s| s.variable == "spot").unwrap();
    for point in core
        .store
        .read(spot.id, window)
        .await
        .unwrap()
        .iter()
        .step_by(97)
    {
        assert_eq!(
            point.value,
            almanac::demo::ree::spot(point.ts),
            "{}",
            point.ts
        );
    }
    let second = ops::init::run(&core, 2, now, &ProgressBar::hidden())
        .await
        .unwrap();
    assert_eq!(
        second.total().inserted + second.total().updated,
        0,
        "{second}"
    );
    assert!(
        second.outcomes.iter().all(|o| o.chunks == o.skipped),
        "{second}"
    );
}
