//! Packed blocks (`store/block.rs`; PostgreSQL's ordering in `store/pg_blocks.rs`): both stores
//! read exactly what the rows hold, whatever the range, once blocks are packed and after
//! writes, deletes and rotation inside them; on PostgreSQL also while writers race the packer.

use std::collections::BTreeMap;
use std::sync::Arc;

use almanac::domain::{Flag, TimeRange, Timestamp};
use almanac::store::{Postgres, Row, SeriesId, Shared, SharedRuns, Sqlite, Store};

use crate::store_conformance::{hour, madrid, run_at, temperature_key};

/// What the rows hold: instant → (value, flag, created run, updated run).
type Model = BTreeMap<i64, (f64, Flag, i64, i64)>;

/// How many blocks the model's instants fall in.
fn blocks_of(model: &Model) -> u64 {
    let mut blocks: Vec<i64> = model.keys().map(|ts| ts.div_euclid(30 * 86_400)).collect();
    blocks.dedup();
    blocks.len() as u64
}

/// Waits until the store holds `n` packed blocks (they are packed in the background).
async fn packed(store: &dyn Store, n: u64) {
    for _ in 0..500 {
        if store.packed_blocks().await.unwrap() == n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!(
        "{} packed blocks after 10 s, not {n}",
        store.packed_blocks().await.unwrap()
    );
}

async fn check(store: &dyn Store, series: SeriesId, model: &Model, range: TimeRange) {
    let want: Vec<(i64, f64, Flag, i64, i64)> = model
        .range(range.start.epoch()..range.end.epoch())
        .map(|(&ts, &(v, f, c, u))| (ts, v, f, c, u))
        .collect();
    let got: Vec<(i64, f64, Flag, i64, i64)> = store
        .read(series, range)
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.ts.epoch(), p.value, p.flag, p.created_run, p.updated_run))
        .collect();
    assert_eq!(got, want, "read of {range:?}");
}

async fn reads_as_rows(store: &dyn Store) {
    store.sync_locations(&[madrid()]).await.unwrap();
    let series = store.ensure_series(&temperature_key()).await.unwrap();
    let everything = TimeRange::new(hour(-50), hour(2_450)).unwrap();
    let mut model = Model::new();
    let first = store.start_run(&run_at(everything)).await.unwrap();
    let rows: Vec<Row> = (0..2_400)
        .map(|h| Row {
            series,
            ts: hour(h),
            value: h as f64 / 10.0,
            flag: if h % 7 == 0 {
                Flag::Estimated
            } else {
                Flag::Observed
            },
        })
        .collect();
    store.write_chunk(first, &rows, &[]).await.unwrap();
    for r in &rows {
        model.insert(r.ts.epoch(), (r.value, r.flag, first, first));
    }
    let blocks = blocks_of(&model);
    let ranges = [
        everything,
        TimeRange::new(hour(17), hour(1_500)).unwrap(),
        TimeRange::new(hour(719), hour(721)).unwrap(),
        TimeRange::new(hour(2_399), hour(3_000)).unwrap(),
        TimeRange::new(hour(-10), hour(0)).unwrap(),
    ];
    assert_eq!(store.packed_blocks().await.unwrap(), 0);
    check(store, series, &model, everything).await;
    packed(store, blocks).await;
    for range in ranges {
        check(store, series, &model, range).await;
    }

    // Values changed inside a packed block, one new beside them: the block is forgotten with the
    // write, so the next read has them.
    let second = store.start_run(&run_at(everything)).await.unwrap();
    let changed: Vec<Row> = (700..710)
        .chain([2_400])
        .map(|h| Row {
            series,
            ts: hour(h),
            value: -1.0,
            flag: Flag::Interpolated,
        })
        .collect();
    store.write_chunk(second, &changed, &[]).await.unwrap();
    for r in &changed {
        let created = model.get(&r.ts.epoch()).map_or(second, |v| v.2);
        model.insert(r.ts.epoch(), (r.value, r.flag, created, second));
    }
    assert!(store.packed_blocks().await.unwrap() < blocks);
    for range in ranges {
        check(store, series, &model, range).await;
    }
    packed(store, blocks_of(&model)).await;
    check(store, series, &model, everything).await;

    // A delete inside packed blocks forgets them as well.
    let gone = TimeRange::new(hour(1_000), hour(1_100)).unwrap();
    assert_eq!(store.delete(series, gone).await.unwrap(), 100);
    model.retain(|&ts, _| !gone.contains(Timestamp::from_epoch(ts)));
    for range in ranges {
        check(store, series, &model, range).await;
    }
    packed(store, blocks_of(&model)).await;
    for range in ranges {
        check(store, series, &model, range).await;
    }

    // Rotation forgets the blocks it empties or cuts. The cutoff is 1 March: on PostgreSQL
    // only the drops of January's and February's partitions remove values (and must forget
    // blocks 669–671, the last of which also holds early March).
    let cutoff = hour(1_416);
    assert_eq!(cutoff.to_string(), "2025-03-01T00:00:00+00:00");
    let lost: u64 = store
        .drop_before(&[(series, cutoff)])
        .await
        .unwrap()
        .iter()
        .map(|l| l.1)
        .sum();
    let before = model.len();
    model.retain(|&ts, _| ts >= cutoff.epoch());
    assert_eq!(lost, (before - model.len()) as u64);
    assert_eq!(
        store.packed_blocks().await.unwrap(),
        blocks_of(&model) - 1,
        "the blocks before the cutoff and the one it cuts are forgotten"
    );
    for range in ranges {
        check(store, series, &model, range).await;
    }
    packed(store, blocks_of(&model)).await;
    for range in ranges {
        check(store, series, &model, range).await;
    }
}

#[tokio::test]
async fn sqlite_reads_packed_blocks_exactly_as_rows() {
    let dir = tempfile::tempdir().unwrap();
    let store = Sqlite::open(&dir.path().join("almanac.db")).await.unwrap();
    reads_as_rows(&store).await;
}

#[tokio::test]
async fn postgres_reads_packed_blocks_exactly_as_rows() {
    let Some(db) = crate::support::postgres("postgres_reads_packed_blocks_exactly_as_rows").await
    else {
        return;
    };
    let store = Postgres::connect(&db.url).await.unwrap();
    reads_as_rows(&store).await;
    drop(store);
    db.drop().await;
}

const HOURS: i64 = 1_600;
const ROUNDS: i64 = 25;

/// Writes `round` as the value of every hour of `parity` (0 even, 1 odd).
async fn write(store: &Postgres, series: SeriesId, parity: i64, round: i64) {
    let everything = TimeRange::new(hour(0), hour(HOURS)).unwrap();
    let run = store.start_run(&run_at(everything)).await.unwrap();
    let rows: Vec<Row> = (0..HOURS)
        .filter(|h| h % 2 == parity)
        .map(|h| Row {
            series,
            ts: hour(h),
            value: round as f64,
            flag: Flag::Observed,
        })
        .collect();
    store.write_chunk(run, &rows, &[]).await.unwrap();
}

/// Two writers raise the values of their own instants (even and odd hours) round after round,
/// and a third adds and deletes values in new months (creating partitions), while two readers
/// read everything, each read asking for the blocks to be packed: no write fails (no deadlock
/// with the packer), a read never sees an instant's value go back (a block packed from rows a
/// writer was replacing and kept past its write would), and at the end the packed blocks hold
/// the last round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_blocks_stay_exact_while_writers_race_the_packer() {
    let Some(db) =
        crate::support::postgres("postgres_blocks_stay_exact_while_writers_race_the_packer").await
    else {
        return;
    };
    let store = Arc::new(Postgres::connect(&db.url).await.unwrap());
    store.sync_locations(&[madrid()]).await.unwrap();
    let series = store.ensure_series(&temperature_key()).await.unwrap();
    let everything = TimeRange::new(hour(0), hour(HOURS)).unwrap();
    write(&store, series, 0, 0).await;
    write(&store, series, 1, 0).await;
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers: Vec<_> = (0..2)
        .map(|parity| {
            let store = store.clone();
            tokio::spawn(async move {
                for round in 1..=ROUNDS {
                    write(&store, series, parity, round).await;
                }
            })
        })
        .collect();
    // Meanwhile the same series gets a month after the read range, one new month each round
    // (each write creates a partition, locking `observations` whole while packers read it),
    // and loses it again.
    let store_ = store.clone();
    writers.push(tokio::spawn(async move {
        for round in 1..=ROUNDS {
            let at = hour(HOURS + round * 800);
            let range = TimeRange::new(at, at.plus(3_600)).unwrap();
            let run = store_.start_run(&run_at(range)).await.unwrap();
            let row = Row {
                series,
                ts: at,
                value: 1.0,
                flag: Flag::Observed,
            };
            store_.write_chunk(run, &[row], &[]).await.unwrap();
            assert_eq!(store_.delete(series, range).await.unwrap(), 1);
        }
    }));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (store, done) = (store.clone(), done.clone());
            tokio::spawn(async move {
                let mut seen = vec![0.0; HOURS as usize];
                let mut reads = 0;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let points = store.read(series, everything).await.unwrap();
                    assert_eq!(points.len(), HOURS as usize, "every instant, every read");
                    for (h, p) in points.iter().enumerate() {
                        assert_eq!(p.ts, hour(h as i64));
                        assert!(
                            p.value >= seen[h],
                            "hour {h} went back from {} to {} (read {reads})",
                            seen[h],
                            p.value
                        );
                        seen[h] = p.value;
                    }
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    for reader in readers {
        assert!(reader.await.unwrap() > 0);
    }
    let blocks = {
        let mut b: Vec<i64> = (0..HOURS)
            .map(|h| hour(h).epoch().div_euclid(30 * 86_400))
            .collect();
        b.dedup();
        b.len() as u64
    };
    // Reads until every block is packed (a packer finding a writer at the series gives up).
    for _ in 0..500 {
        store.read(series, everything).await.unwrap();
        if store.packed_blocks().await.unwrap() == blocks {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(store.packed_blocks().await.unwrap(), blocks);
    let last = store.read(series, everything).await.unwrap();
    assert_eq!(last.len(), HOURS as usize);
    assert!(
        last.iter().all(|p| p.value == ROUNDS as f64),
        "packed blocks hold the last round"
    );
    drop(store);
    db.drop().await;
}
