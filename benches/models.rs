//! Forecasting models, measured: MSTL fit + predict on 36 months of hourly values and its
//! 10-origin backtest (the speed targets), then the backtest figures (MASE against the better of
//! naive and seasonal naive, overall and worst band of leads; 80 % and 95 % interval coverage)
//! on
//! - the demo's simulated spot price (24 months loaded through `init` from the simulated REE),
//!   Madrid's temperature, and each simulated water node's flow — the demo's own models;
//! - the real SIAR Linares daily temperatures in `../shared/fixtures/siar-linares`, imported
//!   through `almanac import siar`'s operation, forecast 7 days ahead;
//! - the Abbanoa hourly flows in `../shared/fixtures/abbanoa-dbdump` (its continuous aggregate,
//!   per node), forecast 24 hours ahead.
//!
//! Prints figures; asserts only that every model could be backtested.
//! Run: `cargo bench --bench models`.

use std::time::Instant;

use almanac::config::ModelConfig;
use almanac::core::Core;
use almanac::domain::model::{
    Backtest, Family, Forecaster, Known, Metrics, Mstl, Trend, backtest, baselines,
};
use almanac::domain::time::Resolution;
use almanac::domain::{Dataset, Step, Timestamp};
use indicatif::ProgressBar;

fn main() {
    speed();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(demo());
    runtime.block_on(siar());
    abbanoa();
}

fn report(name: &str, m: &Metrics, seconds: f64) {
    let f = |v: Option<f64>| v.map_or("—".to_owned(), |v| format!("{v:.3}"));
    println!(
        "{name:<32} MASE {} (worst band {}) against {:<18} coverage 80 % {} 95 % {}  ({} pairs, {:.2} s)",
        f(m.mase),
        f(m.mase_worst_band),
        m.baseline,
        f(m.coverage_80),
        f(m.coverage_95),
        m.test_samples,
        seconds
    );
}

/// A 36-month hourly series: a daily and a weekly cycle, a slow seasonal swing and AR(1) noise.
fn synthetic(n: usize) -> Vec<Option<f64>> {
    let mut state = 7u64;
    let mut noise = 0.0;
    (0..n)
        .map(|i| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            noise = 0.7 * noise + 4.0 * u;
            let t = i as f64;
            let tau = std::f64::consts::TAU;
            let weekday = if (i / 24) % 7 < 5 { 8.0 } else { 0.0 };
            Some(
                60.0 + 15.0 * (tau * t / 24.0).sin()
                    + weekday
                    + 10.0 * (tau * t / 8_760.0).cos()
                    + noise,
            )
        })
        .collect()
}

fn speed() {
    for trend in [Trend::Ets, Trend::LocalAr] {
        speed_of(&Mstl {
            periods: vec![24, 168],
            trend,
        });
    }
    speed_of(&almanac::domain::model::Forest {
        periods: vec![24, 168],
    });
}

fn speed_of(model: &dyn Forecaster) {
    let values = synthetic(36 * 730);
    let mut best = f64::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let forecast = model.forecast(&values, 168).expect("forecast");
        best = best.min(started.elapsed().as_secs_f64());
        assert_eq!(forecast.len(), 168);
    }
    println!(
        "{} fit and 168-step forecast on {} hourly values: {:.0} ms (best of 3)",
        model.name(),
        values.len(),
        best * 1000.0
    );
    let started = Instant::now();
    let shape = Backtest {
        horizon: 168,
        origins: 10,
        window: values.len(),
    };
    let e = backtest(
        &values,
        &Known::default(),
        shape,
        model,
        &baselines(3_600, values.len()),
    )
    .expect("backtest");
    report(
        &format!("synthetic 36 months, 168 h, {}", model.name()),
        &e.metrics,
        started.elapsed().as_secs_f64(),
    );
}

/// The demo's data and models, loaded as the demo loads them.
async fn demo() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [
        (
            "ALMANAC__STORE__DATA_DIR",
            dir.path().to_str().expect("utf-8 path"),
        ),
        ("ALMANAC__LOCATIONS__ES_PENINSULAR__ENABLED", "true"),
    ];
    let env = env.into_iter().map(|(k, v)| (k.to_string(), v.to_string()));
    let mut config = almanac::config::load(None, env).expect("config");
    let upstream = almanac::demo::start_upstream(0.0).await.expect("upstream");
    almanac::demo::use_upstream(&mut config, upstream);
    almanac::demo::water::configure(&mut config);
    with_ar_twins(&mut config.models);
    let core = Core::open(config).await.expect("core");
    let now = Timestamp::now().floor(Step::HOUR);
    let loaded = almanac::ops::init::run(&core, 24, now, &ProgressBar::hidden())
        .await
        .expect("init");
    assert!(!loaded.failed(), "{loaded}");
    almanac::demo::load_water(&core, dir.path(), 21)
        .await
        .expect("water");
    let started = Instant::now();
    for id in core.config.models.keys() {
        let t = Instant::now();
        let found = almanac::ops::model::evaluate(&core, id, now)
            .await
            .unwrap_or_else(|e| panic!("{id}: {e:#}"));
        report(
            &format!("demo {id}"),
            &found.evaluation.metrics,
            t.elapsed().as_secs_f64(),
        );
    }
    println!(
        "every demo model backtested in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// The real SIAR Linares daily temperatures, imported, then a 7-day model of them.
async fn siar() {
    let folder =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/siar-linares");
    let Ok(entries) = std::fs::read_dir(&folder) else {
        println!("SIAR Linares: ../shared/fixtures absent, not measured");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [(
        "ALMANAC__STORE__DATA_DIR",
        dir.path().to_str().expect("utf-8 path"),
    )];
    let env = env.into_iter().map(|(k, v)| (k.to_string(), v.to_string()));
    let mut config = almanac::config::load(None, env).expect("config");
    config.locations.insert(
        "linares".into(),
        toml::from_str(
            "name = \"Linares\"\ncountry = \"ES\"\nkind = \"site\"\nlatitude = 38.0931\nlongitude = -3.6358\ntimezone = \"Europe/Madrid\"\nradius_km = 20.0\nenabled = false\nsources = { weather = [\"siar\"] }\n",
        )
        .expect("location"),
    );
    config.models.insert(
        "linares_temperature".into(),
        ModelConfig {
            location: "linares".into(),
            dataset: Dataset::Weather,
            variable: "temperature_mean".into(),
            fill_from: Vec::new(),
            resolution: Resolution::Day,
            family: Family::Mstl,
            regressors: Vec::new(),
            horizon_hours: 168,
            training_days: 3 * 365,
            backtest_origins: 40,
            retrain_days: 7,
            rules: Default::default(),
            model_type: None,
            enabled: true,
        },
    );
    with_ar_twins(&mut config.models);
    let core = Core::open(config).await.expect("core");
    let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    files.sort();
    let options = almanac::sources::kinds::Options {
        at: None,
        units: Default::default(),
        formats: None,
    };
    for file in &files {
        let summary = almanac::ops::import::run(
            &core,
            "siar",
            file,
            almanac::ops::import::Target::Location("linares"),
            &options,
        )
        .await
        .expect("import");
        assert!(!summary.failed(), "{summary}");
    }
    // The last file ends 2025-10-31: the model is backtested as of the day after.
    let now = Timestamp::from_jiff("2025-11-01T12:00:00Z".parse().expect("instant"));
    for id in [
        "linares_temperature",
        "linares_temperature_mstl_ar",
        "linares_temperature_forest",
    ] {
        let t = Instant::now();
        let found = almanac::ops::model::evaluate(&core, id, now)
            .await
            .expect("SIAR backtest");
        report(
            &format!("SIAR Linares {id}, 7 d"),
            &found.evaluation.metrics,
            t.elapsed().as_secs_f64(),
        );
    }
}

/// The Abbanoa hourly aggregate: each node's mean flow, 24 hours ahead.
fn abbanoa() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../shared/fixtures/abbanoa-dbdump/sensor_readings_hourly_agg_2025-03-13_to_04-01.csv",
    );
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!("Abbanoa: ../shared/fixtures absent, not measured");
        return;
    };
    let mut nodes: std::collections::BTreeMap<String, Vec<(i64, f64)>> = Default::default();
    for line in text.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        let (Some(bucket), Some(node), Some(flow)) = (cells.first(), cells.get(1), cells.get(4))
        else {
            continue;
        };
        let Ok(flow) = flow.parse::<f64>() else {
            continue;
        };
        let iso = format!("{}:00", bucket.replace(' ', "T"));
        let Ok(ts) = iso.parse::<jiff::Timestamp>() else {
            continue;
        };
        nodes
            .entry(node.to_string())
            .or_default()
            .push((ts.as_second(), flow));
    }
    for (node, mut points) in nodes {
        points.sort_by_key(|p| p.0);
        let (first, last) = (points[0].0, points[points.len() - 1].0);
        let mut values = vec![None; ((last - first) / 3_600 + 1) as usize];
        for (ts, v) in points {
            values[((ts - first) / 3_600) as usize] = Some(v);
        }
        if values.iter().flatten().all(|v| *v == 0.0) {
            println!("Abbanoa node {node:<10} flow always 0: not modelled");
            continue;
        }
        let window = 14 * 24;
        for family in [Family::Mstl, Family::MstlAr, Family::Forest] {
            let model = family.forecaster(3_600, window);
            let shape = Backtest {
                horizon: 24,
                origins: 5,
                window,
            };
            let t = Instant::now();
            match backtest(
                &values,
                &Known::default(),
                shape,
                model.as_ref(),
                &baselines(3_600, window),
            ) {
                Ok(e) => report(
                    &format!("Abbanoa {node} {}", family.as_str()),
                    &e.metrics,
                    t.elapsed().as_secs_f64(),
                ),
                Err(e) => println!("Abbanoa node {node}: {e}"),
            }
        }
    }
}

/// Beside each model, the same with the other families (`<id>_mstl`, `<id>_mstl_ar`,
/// `<id>_forest`), to compare.
fn with_ar_twins(models: &mut std::collections::BTreeMap<String, ModelConfig>) {
    let twins: Vec<(String, ModelConfig)> = models
        .iter()
        .flat_map(|(id, m)| {
            [Family::Mstl, Family::MstlAr, Family::Forest]
                .into_iter()
                .filter(|f| *f != m.family)
                .map(move |family| {
                    let mut twin = m.clone();
                    twin.family = family;
                    (format!("{id}_{}", family.as_str()), twin)
                })
        })
        .collect();
    models.extend(twins);
}
