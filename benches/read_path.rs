//! Where an uncached read of 24 months of hourly Madrid weather spends its time: the store's
//! per-series reads, the merge into rows (`query::rows`), and the seed endpoint's JSON. Loads the
//! window from the simulated upstream first. On SQLite, then on PostgreSQL when
//! `ALMANAC_BENCH_POSTGRES_URL` (or `ALMANAC_TEST_POSTGRES_URL`) names a server. Prints figures;
//! asserts only that data are there.
//! Run: `cargo bench --bench read_path`.

use std::time::Instant;

#[path = "common/mod.rs"]
#[allow(dead_code)] // only `psql` is used here
mod common;

use almanac::core::Core;
use almanac::domain::{Dataset, Step, TimeRange, Timestamp};
use indicatif::ProgressBar;

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    println!("SQLite:");
    measure(None).await;
    let Ok(admin) = std::env::var("ALMANAC_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("ALMANAC_TEST_POSTGRES_URL"))
    else {
        println!("PostgreSQL: not run (set ALMANAC_BENCH_POSTGRES_URL)");
        return;
    };
    let name = format!("almanac_bench_{:08x}", fastrand::u32(..));
    let url = format!(
        "{}/{name}",
        admin.rsplit_once('/').expect("a database URL").0
    );
    common::psql(&admin, &format!("CREATE DATABASE {name}"));
    println!("PostgreSQL:");
    measure(Some(&url)).await;
    common::psql(&admin, &format!("DROP DATABASE {name} WITH (FORCE)"));
}

/// Loads the window into a fresh store (SQLite, or the PostgreSQL database at `postgres`) and
/// times reading it back.
async fn measure(postgres: Option<&str>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut env = vec![
        (
            "ALMANAC__STORE__DATA_DIR",
            dir.path().to_str().expect("utf-8 path"),
        ),
        ("ALMANAC__LOCATIONS__MADRID__SOURCES__TRAFFIC", "[]"),
        ("ALMANAC__LOCATIONS__ES_PENINSULAR__ENABLED", "false"),
    ];
    if let Some(url) = postgres {
        env.push(("ALMANAC__STORE__URL", url));
    }
    let env = env.into_iter().map(|(k, v)| (k.to_string(), v.to_string()));
    let mut config = almanac::config::load(None, env).expect("config");
    let upstream = almanac::demo::start_upstream(0.0).await.expect("upstream");
    almanac::demo::use_upstream(&mut config, upstream);
    let core = Core::open(config).await.expect("core");
    let now = Timestamp::now().floor(Step::HOUR);
    let loaded = almanac::ops::init::run(&core, 24, now, &ProgressBar::hidden())
        .await
        .expect("init");
    assert!(!loaded.failed(), "{loaded}");
    let madrid = core.registry.get("madrid").expect("madrid").clone();
    let range = TimeRange {
        start: now.months_before(24),
        end: now,
    };

    let mut uncached = (*core.config).clone();
    uncached.http.cache_mb = 0;
    let app = Core::open(uncached).await.expect("core");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, almanac::http::router(app)).await });
    let url = format!(
        "http://{address}/api/v1/tenants/8a7c9f5e-1b2d-4e3f-9a8b-7c6d5e4f3a2b/external/operations/historical-weather-optimized?latitude=40.42&longitude=-3.7&start_date={}&end_date={}",
        range.start.utc_date(),
        range.end.plus(-1).utc_date()
    );
    almanac::sources::upstream::install_crypto();
    #[allow(
        clippy::disallowed_methods,
        reason = "a client of the server under test"
    )]
    let http = reqwest::Client::new();
    for round in 0..3 {
        let started = Instant::now();
        let body = http
            .get(&url)
            .send()
            .await
            .expect("request")
            .bytes()
            .await
            .expect("body");
        println!(
            "round {round}: one uncached 2-year request, alone: {:.0} ms for {} bytes",
            started.elapsed().as_secs_f64() * 1000.0,
            body.len()
        );
    }
    println!(
        "packed blocks after those reads: {}",
        core.store.packed_blocks().await.expect("blocks")
    );
    under_load(&http, &url).await;

    let series = core
        .store
        .series("madrid", Dataset::Weather)
        .await
        .expect("series");
    let hourly: Vec<_> = series.iter().filter(|s| s.step == Step::HOUR).collect();
    for round in 0..3 {
        let started = Instant::now();
        let mut points = 0;
        for s in &hourly {
            points += core.store.read(s.id, range).await.expect("read").len();
        }
        let store_ms = started.elapsed().as_secs_f64() * 1000.0;

        let started = Instant::now();
        let rows = almanac::query::rows(&core, &madrid, Dataset::Weather, Step::HOUR, range, None)
            .await
            .expect("rows");
        let rows_ms = started.elapsed().as_secs_f64() * 1000.0;
        assert!(rows.len() > 17_000);
        println!(
            "round {round}: store.read of {} hourly series: {points} points in {store_ms:.0} ms ({:.2} µs/point); \
             query::rows (same reads + merge + runs): {} rows in {rows_ms:.0} ms",
            hourly.len(),
            store_ms * 1000.0 / points as f64,
            rows.len()
        );
    }
}

/// 8 connections asking the uncached 2-year answer 20 times each: requests/s and latency
/// percentiles (the answers queue for `http.concurrent_answers` turns, one per core).
async fn under_load(http: &reqwest::Client, url: &str) {
    const CONNECTIONS: usize = 8;
    const EACH: usize = 20;
    let started = Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..CONNECTIONS {
        let (http, url) = (http.clone(), url.to_owned());
        clients.spawn(async move {
            let mut took = Vec::with_capacity(EACH);
            for _ in 0..EACH {
                let sent = Instant::now();
                let response = http.get(&url).send().await.expect("request");
                assert!(response.status().is_success(), "{}", response.status());
                response.bytes().await.expect("body");
                took.push(sent.elapsed().as_secs_f64() * 1000.0);
            }
            took
        });
    }
    let mut took: Vec<f64> = clients.join_all().await.into_iter().flatten().collect();
    let elapsed = started.elapsed().as_secs_f64();
    took.sort_by(f64::total_cmp);
    let at = |q: f64| took[((took.len() - 1) as f64 * q).round() as usize];
    println!(
        "{CONNECTIONS} connections, {} uncached 2-year requests: {:.1} req/s, p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        took.len(),
        took.len() as f64 / elapsed,
        at(0.5),
        at(0.99),
        at(1.0)
    );
}
