//! Where a 2-year hourly training frame of Madrid spends its time: computing it
//! (`query::training::frame`: the grid, the series columns, the calendar) and writing it as JSON,
//! CSV, Arrow and Parquet. Loads 24 months of weather, prices and (one month of) traffic from
//! the simulated upstream into a fresh SQLite store first. Prints figures (best of 5); asserts
//! only that the frame has its rows.
//! Run: `cargo bench --bench frame`.

use std::time::Instant;

use almanac::core::Core;
use almanac::domain::{Step, TimeRange, Timestamp};
use almanac::query::training::{self, FrameRequest, Resolution};
use indicatif::ProgressBar;

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(run());
}

async fn run() {
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
    let core = Core::open(config).await.expect("core");
    let now = Timestamp::now().floor(Step::HOUR);
    let started = Instant::now();
    let loaded = almanac::ops::init::run(&core, 24, now, &ProgressBar::hidden())
        .await
        .expect("init");
    assert!(!loaded.failed(), "{loaded}");
    println!(
        "loaded 24 months in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let madrid = core.registry.get("madrid").expect("madrid").clone();
    let range = TimeRange {
        start: now.floor(Step::DAY).months_before(24),
        end: now.floor(Step::DAY),
    };
    let columns = FrameRequest::default_columns(&core, &madrid, Resolution::Hour)
        .await
        .expect("columns");
    let request = FrameRequest {
        location: &madrid,
        range,
        resolution: Resolution::Hour,
        columns,
        as_of: None,
        lead_hours: 0,
        fill: None,
    };
    let best = |times: &mut Vec<f64>| {
        times.sort_by(f64::total_cmp);
        times[0]
    };
    let (mut compute, mut as_of) = (Vec::new(), Vec::new());
    let mut encode: [(&str, Vec<f64>, usize); 4] = [
        ("json", Vec::new(), 0),
        ("csv", Vec::new(), 0),
        ("arrow", Vec::new(), 0),
        ("parquet", Vec::new(), 0),
    ];
    for _ in 0..5 {
        let started = Instant::now();
        let frame = training::frame(&core, &request).await.expect("frame");
        compute.push(started.elapsed().as_secs_f64() * 1000.0);
        assert!(frame.time.len() > 17_000);
        for (name, times, size) in &mut encode {
            let started = Instant::now();
            *size = match *name {
                "json" => serde_json::to_vec(&frame).expect("json").len(),
                "csv" => almanac::encode::csv(&frame).len(),
                "arrow" => almanac::encode::arrow::stream(&frame).len(),
                _ => almanac::encode::parquet::file(&frame).len(),
            };
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        let known = FrameRequest {
            as_of: Some(Timestamp::now()),
            columns: request.columns.clone(),
            ..request
        };
        let started = Instant::now();
        training::frame(&core, &known).await.expect("frame as of");
        as_of.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "2-year hourly frame, {} columns: computed in {:.1} ms; with as_of {:.1} ms",
        request.columns.len(),
        best(&mut compute),
        best(&mut as_of)
    );
    for (name, times, size) in &mut encode {
        println!("  written as {name}: {:.1} ms, {size} bytes", best(times));
    }
}
