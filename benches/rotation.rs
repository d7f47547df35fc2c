//! The cost of rotating one month out: 50 cities × 6 variables × 24 months of hourly values
//! (5,256,000 values), then the oldest month (November 2024, 216,000 values) removed three ways on identical
//! PostgreSQL copies (`CREATE DATABASE … TEMPLATE`): the store's `drop_before` (a partition
//! drop), the same rows deleted series by series (what rotation did before), and one
//! `DELETE … WHERE ts < cutoff`. On SQLite, `drop_before` (per-series deletes) for reference.
//! Needs `ALMANAC_BENCH_POSTGRES_URL` (or `ALMANAC_TEST_POSTGRES_URL`) for PostgreSQL. Prints
//! figures; asserts only the counts. Run: `cargo bench --bench rotation`.

use std::time::Instant;

#[path = "common/mod.rs"]
mod common;
use common::{VARIABLES, location, psql};

use almanac::domain::{Location, TimeRange, Timestamp};
use almanac::store::{Postgres, Sqlite, Store};

const CITIES: usize = 50;

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(run());
}

fn window() -> TimeRange {
    let end = Timestamp::from_epoch(1_793_491_200); // 2026-11-01T00:00Z
    TimeRange {
        start: end.months_before(24),
        end,
    }
}

async fn run() {
    let cutoff = window().start.next_month_start();
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = Sqlite::open(&dir.path().join("bench.db"))
        .await
        .expect("store");
    let series = load(&sqlite).await;
    let started = Instant::now();
    let lost = sqlite
        .drop_before(&cutoffs(&series, cutoff))
        .await
        .expect("drop");
    report("SQLite drop_before (DELETE per series)", started, &lost);

    let Ok(admin) = std::env::var("ALMANAC_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("ALMANAC_TEST_POSTGRES_URL"))
    else {
        println!("PostgreSQL: not run (set ALMANAC_BENCH_POSTGRES_URL)");
        return;
    };
    let base = admin.rsplit_once('/').expect("a database URL").0.to_owned();
    let name = format!("almanac_bench_rot_{:08x}", fastrand::u32(..));
    psql(&admin, &format!("CREATE DATABASE {name}"));
    let url = |db: &str| format!("{base}/{db}");
    let postgres = Postgres::connect(&url(&name)).await.expect("postgres");
    let series = load(&postgres).await;
    drop(postgres);
    let copies = [format!("{name}_b"), format!("{name}_c")];
    for copy in &copies {
        psql(&admin, &format!("CREATE DATABASE {copy} TEMPLATE {name}"));
    }

    let store = Postgres::connect(&url(&name)).await.expect("postgres");
    let started = Instant::now();
    let lost = store
        .drop_before(&cutoffs(&series, cutoff))
        .await
        .expect("drop");
    report("PostgreSQL drop_before (partition drop)", started, &lost);
    drop(store);
    size(&url(&name));

    let store = Postgres::connect(&url(&copies[0])).await.expect("postgres");
    let started = Instant::now();
    let mut lost = Vec::new();
    for &id in &series {
        let old = TimeRange {
            start: Timestamp::from_epoch(i64::MIN / 4),
            end: cutoff,
        };
        lost.push((id, store.delete(id, old).await.expect("delete")));
    }
    report("PostgreSQL DELETE per series", started, &lost);
    drop(store);
    size(&url(&copies[0]));

    let started = Instant::now();
    psql(
        &url(&copies[1]),
        &format!("DELETE FROM observations WHERE ts < {}", cutoff.epoch()),
    );
    println!(
        "PostgreSQL one DELETE statement (psql): {:.3} s",
        started.elapsed().as_secs_f64()
    );
    size(&url(&copies[1]));

    for db in copies.iter().chain([&name]) {
        psql(&admin, &format!("DROP DATABASE {db} WITH (FORCE)"));
    }
}

fn cutoffs(series: &[i64], cutoff: Timestamp) -> Vec<(i64, Timestamp)> {
    series.iter().map(|&s| (s, cutoff)).collect()
}

fn report(label: &str, started: Instant, lost: &[(i64, u64)]) {
    let seconds = started.elapsed().as_secs_f64();
    let values: u64 = lost.iter().map(|l| l.1).sum();
    let hours = (window().start.next_month_start().epoch() - window().start.epoch()) / 3_600;
    let month = (CITIES * VARIABLES.len()) as u64 * hours as u64;
    assert_eq!(values, month, "{label}: the oldest month of every series");
    println!("{label}: {values} values in {seconds:.3} s");
}

/// What the observations take on disk afterwards, and the dead rows left for VACUUM.
fn size(url: &str) {
    let output = std::process::Command::new("psql")
        .args([
            url,
            "-t",
            "-A",
            "-F",
            " ",
            "-c",
            "SELECT pg_size_pretty(SUM(pg_total_relation_size(i.inhrelid))), \
             SUM(COALESCE(s.n_dead_tup, 0)) FROM pg_inherits i \
             LEFT JOIN pg_stat_user_tables s ON s.relid = i.inhrelid \
             WHERE i.inhparent = 'observations'::regclass",
        ])
        .output()
        .expect("psql");
    let text = String::from_utf8_lossy(&output.stdout);
    let mut parts = text.split_whitespace();
    let (amount, unit, dead) = (parts.next(), parts.next(), parts.next());
    println!(
        "    observations afterwards: {} {} on disk, {} dead rows awaiting VACUUM",
        amount.unwrap_or("?"),
        unit.unwrap_or(""),
        dead.unwrap_or("?")
    );
}

/// Writes the 24 months, a month of every series per chunk; returns the series ids.
async fn load(store: &dyn Store) -> Vec<i64> {
    let window = window();
    let locations: Vec<Location> = (0..CITIES).map(|i| location(i, 0.01)).collect();
    let run = common::start(store, &locations, window).await;
    let mut ids = Vec::new();
    for location in &locations {
        ids.extend(common::series(store, location).await);
    }
    let started = Instant::now();
    let mut values = 0;
    for month in window.split_by_month() {
        let rows = common::rows(month, &ids);
        values += store
            .write_chunk(run, &rows, &[])
            .await
            .expect("write")
            .inserted;
    }
    println!(
        "loaded {values} values ({CITIES} cities × {} variables × 24 months) in {:.1} s",
        VARIABLES.len(),
        started.elapsed().as_secs_f64()
    );
    ids
}
