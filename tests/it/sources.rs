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

#[tokio::test]
async fn madrid_traffic_months_come_from_history_zips_and_now_from_pm_xml() {
    use almanac::demo::madrid::{points, reading};
    let dir = tempfile::tempdir().unwrap();
    let upstream = simulated().await;
    let settings = config(
        &dir,
        upstream,
        &[
            (
                "ALMANAC__LOCATIONS__MADRID__SOURCES__TRAFFIC",
                "[\"madrid_traffic\"]",
            ),
            ("ALMANAC__LOCATIONS__MADRID__SOURCES__WEATHER", "[]"),
        ],
    );
    let core = almanac::core::Core::open(settings).await.unwrap();
    crate::support::away_from_a_quarter_boundary().await;
    let now = Timestamp::now();
    let summary = ops::init::run(&core, 1, now, &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(!summary.failed(), "{summary}");
    let series = core.store.series("madrid", Dataset::Traffic).await.unwrap();
    let id = |name: &str| series.iter().find(|s| s.variable == name).unwrap().id;
    let window = TimeRange {
        start: now.floor(Step::QUARTER_HOUR).months_before(1),
        end: now.floor(Step::QUARTER_HOUR).plus(900),
    };
    let intensity = core.store.read(id("intensity"), window).await.unwrap();
    let counted = core.store.read(id("points"), window).await.unwrap();
    assert!(!intensity.is_empty(), "{summary}");
    // Each stored value is the mean of the simulator's valid readings: recompute some.
    let detectors = points();
    for (point, count) in intensity.iter().zip(&counted).step_by(53) {
        let valid: Vec<f64> = detectors
            .iter()
            .map(|p| reading(p, point.ts))
            .filter(|r| r.error == "N")
            .map(|r| r.intensity)
            .collect();
        let mean = (valid.iter().sum::<f64>() / valid.len() as f64 * 100.0).round() / 100.0;
        assert_eq!(
            (point.value, count.value),
            (mean, valid.len() as f64),
            "{}",
            point.ts
        );
    }
    // The last complete quarter hour is there, from the real-time snapshot.
    assert_eq!(
        intensity.last().unwrap().ts,
        now.floor(Step::QUARTER_HOUR).plus(-900)
    );
    let speeds = core.store.read(id("average_speed"), window).await.unwrap();
    assert_eq!(
        speeds.len(),
        intensity.len(),
        "M-30 detectors measure speed"
    );
    // Every stored value lies in a month whose file exists or is the current quarter hour.
    let again = ops::init::run(&core, 1, now, &ProgressBar::hidden())
        .await
        .unwrap();
    assert_eq!(again.total().inserted + again.total().updated, 0, "{again}");
}

#[tokio::test]
async fn aemet_walks_both_steps_and_merges_stations_nearest_first() {
    use almanac::demo::climate;
    let dir = tempfile::tempdir().unwrap();
    let upstream = simulated().await;
    let keyless = config(
        &dir,
        upstream,
        &[(
            "ALMANAC__LOCATIONS__MADRID__SOURCES__WEATHER",
            "[\"aemet\"]",
        )],
    );
    let core = almanac::core::Core::open(keyless).await.unwrap();
    let now = Timestamp::now();
    let refused = ops::init::run(&core, 1, now, &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(refused.failed());
    assert!(format!("{refused}").contains("no AEMET key"), "{refused}");
    drop(core);

    let settings = config(
        &dir,
        upstream,
        &[
            (
                "ALMANAC__LOCATIONS__MADRID__SOURCES__WEATHER",
                "[\"aemet\", \"aemet_obs\"]",
            ),
            // An unknown station first: AEMET answers "no data" and the next one is used.
            (
                "ALMANAC__LOCATIONS__MADRID__AEMET_STATIONS",
                "[\"9999X\", \"3195\", \"3129\"]",
            ),
            ("ALMANAC__SOURCES__AEMET__API_KEY", "test-key"),
        ],
    );
    let core = almanac::core::Core::open(settings).await.unwrap();
    let summary = ops::init::run(&core, 1, now, &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(!summary.failed(), "{summary}");
    let series = core.store.series("madrid", Dataset::Weather).await.unwrap();
    let find = |source: &str, variable: &str| {
        series
            .iter()
            .find(|s| s.source == source && s.variable == variable)
            .unwrap_or_else(|| panic!("{source} {variable}"))
    };
    let window = TimeRange::new(now.months_before(2), now).unwrap();
    let tmax = core
        .store
        .read(find("aemet", "temperature_max").id, window)
        .await
        .unwrap();
    assert!(tmax.len() >= 20, "{} days", tmax.len());
    let (lat, lon) = (40.4117, -3.6781); // 3195, the first station with data
    for day in &tmax {
        let max = (0..24)
            .map(|h| climate::hour(lat, lon, day.ts.plus(h * 3_600)).temperature)
            .fold(f64::MIN, f64::max);
        assert_eq!(day.value, (max * 10.0).round() / 10.0, "{}", day.ts);
        // 3195 is second in the list: its values say they come from a secondary station.
        assert_eq!(day.flag, almanac::domain::Flag::FilledFromSecondary);
    }
    // The last four days are not published yet.
    assert!(tmax.last().unwrap().ts < now.floor(Step::DAY).plus(-4 * 86_400 + 1));
    let temperature = core
        .store
        .read(find("aemet_obs", "temperature").id, window)
        .await
        .unwrap();
    // The endpoint's 24 hours, but the one stamped at the current hour, which `init` (up to the
    // current hour, exclusive) leaves to the next `ingest`.
    assert_eq!(temperature.len(), 23);
    for hour in &temperature {
        assert_eq!(hour.value, climate::hour(lat, lon, hour.ts).temperature);
    }
}

#[tokio::test]
async fn the_hybrid_rule_takes_a_source_only_in_its_local_hours() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = simulated().await;
    let settings = config(
        &dir,
        upstream,
        &[
            (
                "ALMANAC__LOCATIONS__MADRID__SOURCES__WEATHER",
                "[\"aemet_obs\", \"open_meteo\"]",
            ),
            (
                "ALMANAC__LOCATIONS__MADRID__SOURCE_HOURS",
                "{ aemet_obs = \"08:00-20:00\" }",
            ),
            ("ALMANAC__SOURCES__AEMET__API_KEY", "test-key"),
        ],
    );
    let core = almanac::core::Core::open(settings).await.unwrap();
    let now = Timestamp::now().floor(Step::HOUR);
    let summary = ops::init::run(&core, 1, now, &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(!summary.failed(), "{summary}");
    let madrid = core.registry.get("madrid").unwrap();
    let day = TimeRange::new(now.plus(-23 * 3_600), now).unwrap();
    let frame = almanac::query::weather_rows(&core, madrid, day, None)
        .await
        .unwrap();
    assert_eq!(frame.len(), 23);
    let zone = jiff::tz::TimeZone::get("Europe/Madrid").unwrap();
    let temperature = frame.column("temperature");
    for row in frame.rows() {
        let hour = row.ts().to_jiff().to_zoned(zone.clone()).hour();
        let expected = if (8..20).contains(&hour) {
            "aemet_obs"
        } else {
            "open_meteo"
        };
        assert_eq!(
            &**row.source_of(row.cell(temperature).unwrap()),
            expected,
            "{} ({hour}h local)",
            row.ts()
        );
    }

    let bad = almanac::config::load(
        None,
        [(
            "ALMANAC__LOCATIONS__MADRID__SOURCE_HOURS".to_string(),
            "{ aemet_obs = \"9\", ree = \"1-2\" }".to_string(),
        )],
    )
    .unwrap_err()
    .to_string();
    assert!(
        bad.contains("source_hours.aemet_obs") && bad.contains("source_hours.ree"),
        "{bad}"
    );
}

#[tokio::test]
async fn openweathermap_gives_the_current_hour_and_the_time_machine_the_recent_past() {
    use almanac::demo::climate;
    let dir = tempfile::tempdir().unwrap();
    let upstream = simulated().await;
    let settings = config(
        &dir,
        upstream,
        &[
            ("ALMANAC__LOCATIONS__MADRID__SOURCES__WEATHER", "[\"owm\"]"),
            ("ALMANAC__SOURCES__OWM__API_KEY", "test-key"),
            ("ALMANAC__SOURCES__OWM__ONECALL", "true"),
            ("ALMANAC__SOURCES__OWM__MAX_HISTORY_HOURS", "6"),
        ],
    );
    let core = almanac::core::Core::open(settings).await.unwrap();
    let now = Timestamp::now();
    let summary = ops::init::run(&core, 1, now, &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(!summary.failed(), "{summary}");
    let series = core.store.series("madrid", Dataset::Weather).await.unwrap();
    let temperature = series.iter().find(|s| s.variable == "temperature").unwrap();
    let window = TimeRange::new(now.months_before(2), now.plus(3_600)).unwrap();
    let stored = core.store.read(temperature.id, window).await.unwrap();
    // Each month chunk asks the time machine for its last six hours at most: the most recent
    // hours are there, the rest of the month is left to other sources.
    assert!(
        stored.len() >= 6 && stored.len() <= 12,
        "{} hours",
        stored.len()
    );
    let (lat, lon) = (40.4168, -3.7038);
    for hour in &stored {
        let expected = climate::hour(lat, lon, hour.ts).temperature;
        assert!(
            (hour.value - expected).abs() < 1e-9,
            "{}: {} vs {expected}",
            hour.ts,
            hour.value
        );
    }
    let keyless_dir = tempfile::tempdir().unwrap();
    let keyless = config(
        &keyless_dir,
        upstream,
        &[("ALMANAC__LOCATIONS__MADRID__SOURCES__WEATHER", "[\"owm\"]")],
    );
    let no_key = almanac::core::Core::open(keyless).await.unwrap();
    let refused = ops::init::run(&no_key, 1, now, &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(
        format!("{refused}").contains("no OpenWeatherMap key"),
        "{refused}"
    );
}

#[tokio::test]
async fn esios_with_a_token_agrees_with_apidatos_hour_by_hour() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = simulated().await;
    let settings = config(
        &dir,
        upstream,
        &[
            ("ALMANAC__LOCATIONS__ES_PENINSULAR__ENABLED", "true"),
            (
                "ALMANAC__LOCATIONS__ES_PENINSULAR__SOURCES__ENERGY_PRICE",
                "[\"esios\", \"ree\"]",
            ),
            ("ALMANAC__LOCATIONS__MADRID__ENABLED", "false"),
            ("ALMANAC__SOURCES__ESIOS__TOKEN", "test-token"),
        ],
    );
    let core = almanac::core::Core::open(settings).await.unwrap();
    let now = Timestamp::now().floor(Step::HOUR);
    let summary = ops::init::run(&core, 1, now, &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(!summary.failed(), "{summary}");
    let series = core
        .store
        .series("es_peninsular", Dataset::EnergyPrice)
        .await
        .unwrap();
    let window = TimeRange::new(now.months_before(1), now).unwrap();
    let read = |source: &str, variable: &str| {
        let id = series
            .iter()
            .find(|s| s.source == source && s.variable == variable)
            .unwrap()
            .id;
        let store = core.store.clone();
        async move { store.read(id, window).await.unwrap() }
    };
    let (esios, ree) = (read("esios", "pvpc").await, read("ree", "pvpc").await);
    assert_eq!(esios.len(), Grid::new(window, Step::HOUR).len() as usize);
    let pairs: Vec<_> = esios.iter().map(|p| (p.ts, p.value)).collect();
    let other: Vec<_> = ree.iter().map(|p| (p.ts, p.value)).collect();
    assert_eq!(pairs, other);
    let zone = core.registry.get("es_peninsular").unwrap();
    let frame = almanac::query::rows(&core, zone, Dataset::EnergyPrice, Step::HOUR, window, None)
        .await
        .unwrap();
    let spot = frame.column("spot");
    assert!(
        frame
            .rows()
            .all(|r| &**r.source_of(r.cell(spot).unwrap()) == "esios"),
        "ESIOS first in the list"
    );
}
