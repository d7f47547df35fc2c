//! Load rate into the stores: 10 locations × 6 variables × 24 months of hourly values (1,051,200
//! values) in month chunks, written through `store::Batch` as `init` and `import` write them
//! (consecutive months of a location together, up to `WRITE_BATCH_ROWS`), then the same rows
//! again (the all-unchanged path); and, into a fresh store, one `Store::write_chunk` per month, to
//! show what the batching buys. On SQLite always; on PostgreSQL when
//! `ALMANAC_BENCH_POSTGRES_URL` (or `ALMANAC_TEST_POSTGRES_URL`) names a server, where the same
//! rows are then also loaded with `psql \copy` into a table partitioned the same way, in the same
//! run, for comparison. Prints figures; asserts only the counts.
//! Run: `cargo bench --bench store_load`.

use std::time::Instant;

#[path = "common/mod.rs"]
mod common;
use common::{location, psql};

use almanac::domain::{Location, TimeRange, Timestamp};
use almanac::store::{Batch, Postgres, Row, Sqlite, Store};

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let dir = tempfile::tempdir().expect("tempdir");
    println!("SQLite:");
    for (file, batched) in [("batched.db", true), ("months.db", false)] {
        let sqlite = Sqlite::open(&dir.path().join(file)).await.expect("store");
        load(&sqlite, batched).await;
    }
    let Ok(admin) = std::env::var("ALMANAC_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("ALMANAC_TEST_POSTGRES_URL"))
    else {
        println!("PostgreSQL: not run (set ALMANAC_BENCH_POSTGRES_URL)");
        return;
    };
    println!("PostgreSQL:");
    for batched in [true, false] {
        let name = format!("almanac_bench_{:08x}", fastrand::u32(..));
        let url = format!(
            "{}/{name}",
            admin.rsplit_once('/').expect("a database URL").0
        );
        psql(&admin, &format!("CREATE DATABASE {name}"));
        let postgres = Postgres::connect(&url).await.expect("postgres");
        let chunks = load(&postgres, batched).await;
        if batched {
            copy(&url, &chunks);
        }
        drop(postgres);
        psql(&admin, &format!("DROP DATABASE {name} WITH (FORCE)"));
    }
}

/// The same rows through `psql \copy` into a table partitioned like `observations`.
fn copy(url: &str, chunks: &[Vec<Row>]) {
    use std::io::Write;
    let file = tempfile::NamedTempFile::new().expect("temp file");
    let mut out = std::io::BufWriter::new(file.as_file());
    let mut months = std::collections::BTreeSet::new();
    let mut values = 0;
    for row in chunks.iter().flatten() {
        writeln!(
            out,
            "{},{},{},{},1,1",
            row.series,
            row.ts.epoch(),
            row.value,
            row.flag.code()
        )
        .expect("write");
        months.insert(Timestamp::utc_midnight(row.ts.utc_date().first_of_month()).epoch());
        values += 1;
    }
    out.flush().expect("flush");
    drop(out);
    let mut ddl = String::from(
        "CREATE TABLE copy_target (LIKE observations) PARTITION BY RANGE (ts); \
         ALTER TABLE copy_target ADD PRIMARY KEY (series_id, ts);",
    );
    for start in &months {
        let end = Timestamp::from_epoch(*start).next_month_start().epoch();
        ddl.push_str(&format!(
            " CREATE TABLE copy_target_{start} PARTITION OF copy_target FOR VALUES FROM ({start}) TO ({end});"
        ));
    }
    psql(url, &ddl);
    let started = Instant::now();
    psql(
        url,
        &format!(
            "\\copy copy_target FROM '{}' WITH (FORMAT csv)",
            file.path().display()
        ),
    );
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "psql \\copy of the same rows into the same partitioning: {values} values, {seconds:.2} s, {:.0} values/s",
        values as f64 / seconds
    );
}

/// Writes the bench rows through `store`, batched as the loaders do (then again) or a month per
/// write; returns them, a month of a location per chunk.
async fn load(store: &dyn Store, batched: bool) -> Vec<Vec<Row>> {
    let end = Timestamp::from_epoch(1_793_491_200); // 2026-11-01T00:00Z
    let window = TimeRange {
        start: end.months_before(24),
        end,
    };
    let locations: Vec<Location> = (0..10).map(|i| location(i, 0.1)).collect();
    let run = common::start(store, &locations, window).await;
    let mut locations_chunks = Vec::new();
    for location in &locations {
        let mut chunks = Vec::new();
        let ids = common::series(store, location).await;
        for month in window.split_by_month() {
            let rows = common::rows(month, &ids);
            chunks.push(rows);
        }
        locations_chunks.push(chunks);
    }
    let chunks: Vec<Vec<Row>> = locations_chunks.iter().flatten().cloned().collect();
    let values: usize = chunks.iter().map(Vec::len).sum();
    let passes: &[(&str, bool)] = if batched {
        &[
            ("first load, batched (all inserted)", true),
            ("same rows again, batched (all unchanged)", false),
        ]
    } else {
        &[("first load, a month per write (all inserted)", true)]
    };
    for &(label, expect_inserted) in passes {
        let started = Instant::now();
        let (mut inserted, mut writes) = (0, 0);
        for location_chunks in &locations_chunks {
            if batched {
                let mut batch = Batch::default();
                for rows in location_chunks {
                    batch.push(rows.clone(), Vec::new());
                    if batch.is_full() {
                        inserted += batch.write(store, run).await.expect("write").inserted;
                        writes += 1;
                    }
                }
                if batch.chunks() > 0 {
                    inserted += batch.write(store, run).await.expect("write").inserted;
                    writes += 1;
                }
            } else {
                for rows in location_chunks {
                    inserted += store
                        .write_chunk(run, rows, &[])
                        .await
                        .expect("write")
                        .inserted;
                    writes += 1;
                }
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        assert_eq!(inserted as usize, if expect_inserted { values } else { 0 });
        println!(
            "{label}: {values} values in {writes} writes, {seconds:.2} s, {:.0} values/s",
            values as f64 / seconds
        );
    }
    chunks
}
