//! Backup and restore of the embedded store: a backup taken while a writer commits batch after
//! batch restores to a store that passes the integrity check and holds exactly the batches that
//! had committed at the backup's instant — whole, none half; a store in use is not replaced; a
//! damaged copy is refused.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use almanac::domain::{Flag, RunStatus, TimeRange, Timestamp};
use almanac::store::{NewRun, Row, Shared, SharedRuns, Sqlite, Store, backup};

use crate::store_conformance::{hour, madrid, temperature_key};

const BATCH: i64 = 500;

fn new_run() -> NewRun<'static> {
    NewRun {
        operation: "ingest",
        location: None,
        dataset: None,
        source: None,
        range: None,
        started_at: Timestamp::now(),
        parent: None,
    }
}

#[tokio::test]
async fn a_backup_under_write_load_restores_to_its_instant() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Sqlite::open(&dir.path().join("almanac.db")).await.unwrap());
    store.sync_locations(&[madrid()]).await.unwrap();
    let series = store.ensure_series(&temperature_key()).await.unwrap();

    // The writer: batch k is BATCH values of value k, one transaction, each its own run.
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let writer = {
        let (store, stop, done) = (store.clone(), stop.clone(), done.clone());
        tokio::spawn(async move {
            let mut k = 0i64;
            while !stop.load(Ordering::SeqCst) {
                let run = store.start_run(&new_run()).await.unwrap();
                let rows: Vec<Row> = (0..BATCH)
                    .map(|i| Row {
                        series,
                        ts: hour(k * BATCH + i),
                        value: k as f64,
                        flag: Flag::Observed,
                    })
                    .collect();
                store.write_chunk(run, &rows, &[]).await.unwrap();
                store
                    .finish_run(run, RunStatus::Succeeded, None, Timestamp::now())
                    .await
                    .unwrap();
                k += 1;
                done.store(k as u64, Ordering::SeqCst);
            }
        })
    };
    while done.load(Ordering::SeqCst) < 5 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let copy = dir.path().join("copy.db");
    store.backup(&copy).await.unwrap();
    let at_backup = done.load(Ordering::SeqCst);
    while done.load(Ordering::SeqCst) < at_backup + 5 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    stop.store(true, Ordering::SeqCst);
    writer.await.unwrap();
    let written = done.load(Ordering::SeqCst) as i64;

    // A backup never overwrites.
    assert!(store.backup(&copy).await.is_err());

    let checked = backup::check(&copy).await.unwrap();
    assert_eq!(
        checked.values % BATCH,
        0,
        "a batch half in the copy: {checked:?}"
    );
    let batches = checked.values / BATCH;
    assert!(
        (5..written).contains(&batches),
        "{batches} batches in the copy, {written} written in all"
    );

    // Restored in place of another store: exactly those batches, every value of each.
    let other = tempfile::tempdir().unwrap();
    let target = other.path().join("almanac.db");
    let old = Sqlite::open(&target).await.unwrap();
    drop(old);
    let restored = backup::restore(&copy, &target, false, Timestamp::now(), 120)
        .await
        .unwrap();
    assert_eq!(restored, checked);
    let back = Sqlite::open(&target).await.unwrap();
    let all = TimeRange::new(hour(0), hour(written * BATCH)).unwrap();
    let points = back.read(series, all).await.unwrap();
    assert_eq!(points.len() as i64, batches * BATCH);
    for (i, p) in points.iter().enumerate() {
        assert_eq!(p.ts, hour(i as i64));
        assert_eq!(p.value, (i as i64 / BATCH) as f64);
    }
    // The runs that wrote them are there too (one more if one had started, not finished).
    assert!(
        (batches..=batches + 1).contains(&checked.runs),
        "{} runs for {batches} batches",
        checked.runs
    );

    // A store a live process is running jobs on is not replaced, unless forced.
    let running = back.start_run(&new_run()).await.unwrap();
    back.heartbeat(Timestamp::now()).await.unwrap();
    let refused = backup::restore(&copy, &target, false, Timestamp::now(), 120)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("in use"), "{refused}");
    back.finish_run(running, RunStatus::Succeeded, None, Timestamp::now())
        .await
        .unwrap();
    drop(back);

    // A damaged copy is refused, and the store is left as it was.
    let damaged = dir.path().join("damaged.db");
    let mut bytes = std::fs::read(&copy).unwrap();
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 4096] {
        *b ^= 0x5a;
    }
    std::fs::write(&damaged, bytes).unwrap();
    assert!(backup::check(&damaged).await.is_err());
    assert!(
        backup::restore(&damaged, &target, true, Timestamp::now(), 120)
            .await
            .is_err()
    );
    std::fs::write(dir.path().join("nothing.db"), b"not a database").unwrap();
    assert!(backup::check(&dir.path().join("nothing.db")).await.is_err());
}
