//! A node's history (`GET /api/v1/nodes/{id}/history`, `query::nodes::history`): the simulated
//! water network's readings (15 minutes, four nodes) imported and processed into an embedded
//! store, then one node's hourly windows read over 30, 60 and 90 days. Each window is found by
//! its start in one lookup per variable, so the time grows with the number of windows, not its
//! square: the figure per window stays flat as the range grows.
//!
//!   cargo bench --bench node_history

use std::time::Instant;

use almanac::core::Core;
use almanac::demo::water;
use almanac::domain::windows::Window;
use almanac::domain::{TimeRange, Timestamp};

const DAYS: u32 = 90;

fn main() {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run());
}

async fn run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let env = [
        ("ALMANAC__STORE__DATA_DIR", dir.path().display().to_string()),
        ("ALMANAC__SCHEDULE__ENABLED", "false".into()),
        ("ALMANAC__LOCATIONS__MADRID__ENABLED", "false".into()),
        ("ALMANAC__LOCATIONS__ES_PENINSULAR__ENABLED", "false".into()),
    ];
    let mut config = almanac::config::load(None, env.into_iter().map(|(k, v)| (k.to_owned(), v)))
        .expect("config");
    water::configure(&mut config);
    let core = Core::open(config).await.expect("store");
    let now = Timestamp::now().floor(almanac::domain::Step::DAY);
    let first = now.plus(-i64::from(DAYS) * 86_400);
    let (csv, _) = water::readings(first, DAYS);
    let path = dir.path().join("water.csv");
    std::fs::write(&path, csv).expect("csv");
    let formats = core.config.sources.csv_import.formats.clone();
    let options = almanac::sources::kinds::Options {
        at: None,
        units: Default::default(),
        formats: Some(&formats),
    };
    let started = Instant::now();
    almanac::ops::import::run(
        &core,
        "csv:water",
        &path,
        almanac::ops::import::Target::ByOrigin,
        &options,
    )
    .await
    .expect("import");
    almanac::ops::process::run(&core, now)
        .await
        .expect("process");
    println!(
        "{DAYS} days of the water network imported and processed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let node = almanac::query::nodes::node(&core, "sel_north").expect("node");
    for days in [30, 60, 90] {
        let range = TimeRange {
            start: now.plus(-days * 86_400),
            end: now,
        };
        let mut times = Vec::new();
        let mut rows = 0;
        for _ in 0..15 {
            let started = Instant::now();
            rows = almanac::query::nodes::history(&core, &node, Window::Hour, range)
                .await
                .expect("history")
                .len();
            times.push(started.elapsed().as_secs_f64() * 1_000.0);
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        println!(
            "history of {days} days: {rows} hourly windows in {median:.2} ms (median of 15), {:.2} µs a window",
            median * 1_000.0 / rows.max(1) as f64
        );
    }
}
