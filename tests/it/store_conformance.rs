//! The story every `Store` implementation must tell the same way. Later backends add one
//! `#[tokio::test]` that opens their store and calls [`story`].

use std::collections::BTreeMap;

use almanac::domain::{
    Coordinates, Counts, Dataset, Flag, Location, LocationKind, Reject, RunStatus, Step, TimeRange,
    Timestamp,
};
use almanac::store::{NewRun, Row, SeriesKey, Shared, SharedRuns, Sqlite, Store, StoreError};

pub fn madrid() -> Location {
    Location {
        id: "madrid".into(),
        name: "Madrid".into(),
        country: "ES".into(),
        coordinates: Coordinates::new(40.4168, -3.7038).unwrap(),
        timezone: jiff::tz::TimeZone::get("Europe/Madrid").unwrap(),
        radius_km: 30.0,
        kind: LocationKind::City,
        enabled: true,
        aliases: vec![],
        aemet_stations: vec![],
        region: None,
        municipality: None,
        price_zone: None,
        forecasts: Vec::new(),
        aemet_municipality: None,
        source_hours: Default::default(),
        points: Vec::new(),
        sources: BTreeMap::new(),
    }
}

pub fn hour(h: i64) -> Timestamp {
    Timestamp::from_epoch(1_735_689_600 + h * 3_600)
}

pub fn run_at<'a>(range: TimeRange) -> NewRun<'a> {
    NewRun {
        operation: "init",
        location: Some("madrid"),
        dataset: Some(Dataset::Weather),
        source: Some("open_meteo"),
        range: Some(range),
        started_at: hour(100),
        parent: None,
    }
}

pub fn temperature_key() -> SeriesKey<'static> {
    SeriesKey {
        location: "madrid",
        dataset: Dataset::Weather,
        variable: "temperature",
        source: "open_meteo",
        step: Step::HOUR,
        unit: "°C",
    }
}

pub async fn story(store: &dyn Store) {
    store.ping().await.unwrap();
    store.sync_locations(&[madrid()]).await.unwrap();
    store.sync_locations(&[madrid()]).await.unwrap();

    let key = temperature_key();
    let temperature = store.ensure_series(&key).await.unwrap();
    assert_eq!(
        store.ensure_series(&key).await.unwrap(),
        temperature,
        "ensure_series is idempotent"
    );
    let humidity = store
        .ensure_series(&SeriesKey {
            variable: "humidity",
            unit: "%",
            ..key.clone()
        })
        .await
        .unwrap();
    assert_ne!(humidity, temperature);
    let conflict = store
        .ensure_series(&SeriesKey {
            unit: "°F",
            ..key.clone()
        })
        .await;
    assert!(
        matches!(conflict, Err(StoreError::Conflict(_))),
        "a unit change is a conflict: {conflict:?}"
    );
    let listed: Vec<_> = store
        .series("madrid", Dataset::Weather)
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.variable, s.step))
        .collect();
    assert_eq!(
        listed,
        [
            ("temperature".to_string(), Step::HOUR),
            ("humidity".to_string(), Step::HOUR)
        ]
    );

    let day = TimeRange::new(hour(0), hour(24)).unwrap();
    let run = store.start_run(&run_at(day)).await.unwrap();
    let mut rows: Vec<Row> = (0..24)
        .map(|h| Row {
            series: temperature,
            ts: hour(h),
            value: h as f64 / 2.0,
            flag: Flag::Observed,
        })
        .collect();
    rows.push(Row {
        series: humidity,
        ts: hour(0),
        value: 80.0,
        flag: Flag::Observed,
    });
    let reject = Reject {
        record: "hourly.relative_humidity_2m[…] = 140".into(),
        reason: "outside the physical range".into(),
        value: Some(almanac::domain::RejectedValue {
            origin: None,
            variable: "humidity".into(),
            ts: hour(3),
            kind: almanac::domain::RefusedKind::Invalid,
        }),
    };
    let first = store
        .write_chunk(run, &rows, std::slice::from_ref(&reject))
        .await
        .unwrap();
    assert_eq!(
        first,
        Counts {
            inserted: 25,
            updated: 0,
            unchanged: 0,
            rejected: 1
        }
    );

    let again = store.write_chunk(run, &rows, &[]).await.unwrap();
    assert_eq!(
        again,
        Counts {
            inserted: 0,
            updated: 0,
            unchanged: 25,
            rejected: 0
        },
        "loading the same data twice inserts nothing"
    );

    let second_run = store.start_run(&run_at(day)).await.unwrap();
    let mut corrected = rows[..3].to_vec();
    corrected[0].value = 99.0;
    corrected[1].flag = Flag::Estimated;
    corrected.push(Row {
        series: temperature,
        ts: hour(24),
        value: 1.0,
        flag: Flag::Observed,
    });
    corrected.push(Row {
        series: temperature,
        ts: hour(24),
        value: 1.5,
        flag: Flag::Observed,
    });
    let third = store
        .write_chunk(second_run, &corrected, &[])
        .await
        .unwrap();
    assert_eq!(
        third,
        Counts {
            inserted: 1,
            updated: 2,
            unchanged: 1,
            rejected: 0
        },
        "a repeated instant counts once, the last value wins"
    );

    assert_eq!(store.count_present(temperature, day).await.unwrap(), 24);
    assert_eq!(
        store
            .count_present(temperature, TimeRange::new(hour(10), hour(12)).unwrap())
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store.last_timestamp(temperature).await.unwrap(),
        Some(hour(24))
    );
    assert_eq!(
        store
            .last_timestamp(
                store
                    .ensure_series(&SeriesKey {
                        variable: "pressure",
                        unit: "hPa",
                        ..key.clone()
                    })
                    .await
                    .unwrap()
            )
            .await
            .unwrap(),
        None
    );

    let points = store
        .read(temperature, TimeRange::new(hour(0), hour(25)).unwrap())
        .await
        .unwrap();
    assert_eq!(points.len(), 25);
    assert!(
        points.windows(2).all(|w| w[0].ts < w[1].ts),
        "read is ordered by instant"
    );
    assert_eq!(
        (
            points[0].value,
            points[0].created_run,
            points[0].updated_run
        ),
        (99.0, run, second_run)
    );
    assert_eq!(
        (points[1].flag, points[2].updated_run),
        (Flag::Estimated, run)
    );
    assert_eq!(
        (points[24].value, points[24].created_run),
        (1.5, second_run)
    );

    let extent = store.extent(&[temperature, humidity]).await.unwrap();
    assert_eq!(
        (extent.first, extent.last, extent.instants),
        (Some(hour(0)), Some(hour(24)), 25)
    );
    assert_eq!(store.extent(&[]).await.unwrap().instants, 0);

    store
        .finish_run(run, RunStatus::Succeeded, None, hour(101))
        .await
        .unwrap();
    store
        .finish_run(
            second_run,
            RunStatus::Failed,
            Some("upstream 503"),
            hour(102),
        )
        .await
        .unwrap();
    let runs = store.runs(10).await.unwrap();
    assert_eq!(
        runs.iter().map(|r| r.id).collect::<Vec<_>>(),
        [second_run, run],
        "newest first"
    );
    assert_eq!(
        runs[1].counts,
        Counts {
            inserted: 25,
            updated: 0,
            unchanged: 25,
            rejected: 1
        },
        "a run sums its chunks"
    );
    assert_eq!(
        (
            runs[0].status,
            runs[0].error.as_deref(),
            runs[0].finished_at
        ),
        (
            RunStatus::Failed,
            Some("upstream 503"),
            Some(hour(102).epoch())
        )
    );
    assert_eq!(
        (runs[1].range_start, runs[1].range_end),
        (Some(hour(0).epoch()), Some(hour(24).epoch()))
    );
    assert_eq!(
        store.runs_by_id(&[run]).await.unwrap()[0].started_at,
        hour(100).epoch()
    );
    assert_eq!(store.rejects(run).await.unwrap(), [reject]);
    let humidity_series = store
        .series("madrid", Dataset::Weather)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.variable == "humidity")
        .unwrap();
    assert_eq!(
        store.refused(&humidity_series, day).await.unwrap(),
        [(hour(3), almanac::domain::RefusedKind::Invalid)],
        "a refused value is found by its series"
    );
    assert!(store.rejects(second_run).await.unwrap().is_empty());

    // A first load of a range holding nothing yet (the fast path) counts an instant given twice
    // once, and keeps the last value given.
    let twice = [1.0, 2.0].map(|value| Row {
        series: temperature,
        ts: hour(100),
        value,
        flag: Flag::Observed,
    });
    let fresh = store.write_chunk(run, &twice, &[]).await.unwrap();
    assert_eq!((fresh.inserted, fresh.updated, fresh.unchanged), (1, 0, 0));
    let stored = store
        .read(temperature, TimeRange::new(hour(100), hour(101)).unwrap())
        .await
        .unwrap();
    assert_eq!(
        stored.iter().map(|p| p.value).collect::<Vec<_>>(),
        [2.0],
        "the last value given wins"
    );

    // A rollup is replaced only by one of at least as many values: fewer means part of the day
    // was dropped already (a rotation killed between two months' partitions).
    let day_of = |count: u64, mean: f64| almanac::domain::rollup::DailyRollup {
        day: "2025-01-01".parse().unwrap(),
        count,
        mean,
        min: 0.0,
        max: 1.0,
        sum: mean * count as f64,
        first: 0.0,
        last: 1.0,
    };
    let (from, to) = ("2024-12-31".parse().unwrap(), "2025-01-02".parse().unwrap());
    for (written, kept) in [((24, 0.5), 24), ((22, 0.4), 24), ((24, 0.6), 24)] {
        store
            .write_rollups(temperature, &[day_of(written.0, written.1)])
            .await
            .unwrap();
        let stored = store.rollups(temperature, from, to).await.unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].count, kept, "after writing {written:?}");
    }
    let stored = store.rollups(temperature, from, to).await.unwrap();
    assert_eq!(
        stored[0].mean, 0.6,
        "a whole day's rollup is replaced by a whole day's"
    );
}

/// Job runs and their children, heartbeats and abandoned runs, and leases, seen from two handles
/// on one database (two processes).
/// The newest finished run of an operation, a job's own or any, by one query.
async fn last_runs(store: &dyn Store) {
    assert!(store.last_run("process", false).await.unwrap().is_none());
    let start = |operation: &'static str, location: Option<&'static str>, parent| NewRun {
        operation,
        location,
        dataset: None,
        source: None,
        range: None,
        started_at: hour(1),
        parent,
    };
    let job = store
        .start_run(&start("process", None, None))
        .await
        .unwrap();
    let child = store
        .start_run(&start("process", Some("madrid"), Some(job)))
        .await
        .unwrap();
    store
        .finish_run(child, RunStatus::Succeeded, None, hour(2))
        .await
        .unwrap();
    let other = store.start_run(&start("ingest", None, None)).await.unwrap();
    store
        .finish_run(other, RunStatus::Succeeded, None, hour(2))
        .await
        .unwrap();
    let last = |jobs_only| async move {
        store
            .last_run("process", jobs_only)
            .await
            .unwrap()
            .map(|r| r.id)
    };
    assert_eq!(last(false).await, Some(child), "the job is still running");
    assert_eq!(last(true).await, None, "no finished job run of process yet");
    store
        .finish_run(job, RunStatus::Failed, Some("x"), hour(3))
        .await
        .unwrap();
    assert_eq!(last(true).await, Some(job));
    assert_eq!(last(false).await, Some(child), "the newest started (by id)");
}

pub async fn jobs_and_leases(a: &dyn Store, b: &dyn Store) {
    assert_ne!(a.instance(), b.instance());
    last_runs(a).await;
    a.sync_locations(&[madrid()]).await.unwrap();
    let series = a.ensure_series(&temperature_key()).await.unwrap();
    let job = a
        .start_run(&NewRun {
            operation: "backfill",
            location: None,
            dataset: None,
            source: None,
            range: None,
            started_at: hour(100),
            parent: None,
        })
        .await
        .unwrap();
    let child = a
        .start_run(&NewRun {
            parent: Some(job),
            ..run_at(TimeRange::new(hour(0), hour(2)).unwrap())
        })
        .await
        .unwrap();
    let row = |h: i64| Row {
        series,
        ts: hour(h),
        value: 1.5,
        flag: Flag::Observed,
    };
    assert_eq!(b.version("madrid", Dataset::Weather).await.unwrap(), 0);
    a.write_chunk(child, &[row(0), row(1)], &[]).await.unwrap();
    assert_eq!(b.version("madrid", Dataset::Weather).await.unwrap(), 1);
    a.write_chunk(child, &[row(0)], &[]).await.unwrap();
    assert_eq!(
        b.version("madrid", Dataset::Weather).await.unwrap(),
        1,
        "an unchanged value is not a change"
    );
    assert_eq!(b.version("madrid", Dataset::Traffic).await.unwrap(), 0);
    let nothing = TimeRange::new(hour(50), hour(51)).unwrap();
    a.delete(series, nothing).await.unwrap();
    assert_eq!(b.version("madrid", Dataset::Weather).await.unwrap(), 1);
    a.finish_run(child, RunStatus::Succeeded, None, hour(101))
        .await
        .unwrap();
    a.finish_run(job, RunStatus::Succeeded, None, hour(101))
        .await
        .unwrap();
    let children = b.child_runs(job).await.unwrap();
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].parent, Some(job));
    assert_eq!(children[0].instance.as_deref(), Some(a.instance()));
    let finished = b.runs_by_id(&[job]).await.unwrap().remove(0);
    assert_eq!(
        finished.counts.inserted, 2,
        "a job run counts what its children did"
    );
    a.delete(series, TimeRange::new(hour(1), hour(2)).unwrap())
        .await
        .unwrap();
    assert_eq!(
        b.version("madrid", Dataset::Weather).await.unwrap(),
        2,
        "a deletion is a change"
    );

    // A run whose process stops saying it is alive is abandoned; a live one is not.
    let killed = a
        .start_run(&run_at(TimeRange::new(hour(2), hour(3)).unwrap()))
        .await
        .unwrap();
    let alive = b
        .start_run(&run_at(TimeRange::new(hour(3), hour(4)).unwrap()))
        .await
        .unwrap();
    assert_eq!(a.heartbeat(hour(103)).await.unwrap(), 1);
    assert_eq!(b.heartbeat(hour(105)).await.unwrap(), 1);
    assert!(b.abandon_stale(hour(103)).await.unwrap().is_empty());
    assert_eq!(b.abandon_stale(hour(104)).await.unwrap(), [killed]);
    let abandoned = b.runs_by_id(&[killed, alive]).await.unwrap();
    assert_eq!(abandoned[0].status, RunStatus::Failed);
    assert_eq!(abandoned[0].finished_at, Some(hour(103).epoch()));
    assert!(
        abandoned[0]
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("abandoned") && e.contains(a.instance())),
        "{:?}",
        abandoned[0].error
    );
    assert_eq!(abandoned[1].status, RunStatus::Running);
    a.finish_run(killed, RunStatus::Succeeded, None, hour(106))
        .await
        .unwrap();
    assert_eq!(
        b.runs_by_id(&[killed]).await.unwrap()[0].status,
        RunStatus::Succeeded,
        "a process that was only slow still ends its run"
    );

    // Leases: one holder per tick, none while held, a lapsed one can be taken over.
    let t1 = hour(200);
    let (t2, t3) = (t1.plus(60), t1.plus(120));
    let claim = |store: &'static str, tick: Timestamp, now: Timestamp| {
        let handle = if store == "a" { a } else { b };
        async move {
            handle
                .claim_lease("ingest", tick, handle.instance(), now.plus(300), now)
                .await
                .unwrap()
        }
    };
    assert!(claim("a", t1, t1).await, "the first claim of a tick wins");
    assert!(!claim("b", t1, t1).await, "a tick is claimed once");
    assert!(!claim("b", t2, t2).await, "not while the job still runs");
    a.release_lease("ingest", a.instance()).await.unwrap();
    assert!(!claim("a", t1, t2).await, "a past tick is not run again");
    assert!(claim("b", t2, t2).await, "the next tick after release");
    assert!(!claim("a", t2, t2).await);
    assert!(
        !b.renew_lease("ingest", a.instance(), t2.plus(600))
            .await
            .unwrap()
    );
    assert!(
        b.renew_lease("ingest", b.instance(), t2.plus(600))
            .await
            .unwrap()
    );
    assert!(!claim("a", t3, t2.plus(599)).await, "renewed");
    assert!(
        claim("a", t3, t2.plus(600)).await,
        "a lapsed lease is taken over"
    );
    assert!(!claim("a", t1, t1).await, "and ticks before it stay done");
}

#[tokio::test]
async fn postgres_tells_the_story() {
    let Some(db) = crate::support::postgres("postgres_tells_the_story").await else {
        return;
    };
    let store = almanac::store::Postgres::connect(&db.url).await.unwrap();
    story(&store).await;
    use sqlx::Connection;
    let mut connection = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let partitions: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::TEXT FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'observations'::regclass ORDER BY 1",
    )
    .fetch_all(&mut connection)
    .await
    .unwrap();
    assert_eq!(
        partitions,
        ["observations_2025_01"],
        "values of January 2025 live in that month's partition"
    );
    connection.close().await.unwrap();
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_opened_by_many_at_once_migrates_once() {
    let Some(db) = crate::support::postgres("postgres_opened_by_many_at_once").await else {
        return;
    };
    let opens = (0..4).map(|_| {
        let url = db.url.clone();
        tokio::spawn(async move { almanac::store::Postgres::connect(&url).await.map(|_| ()) })
    });
    for open in opens.collect::<Vec<_>>() {
        open.await.unwrap().unwrap();
    }
    db.drop().await;
}

#[tokio::test]
async fn postgres_keeps_jobs_and_leases() {
    let Some(db) = crate::support::postgres("postgres_keeps_jobs_and_leases").await else {
        return;
    };
    let a = almanac::store::Postgres::connect(&db.url).await.unwrap();
    let b = almanac::store::Postgres::connect(&db.url).await.unwrap();
    jobs_and_leases(&a, &b).await;
    db.drop().await;
}

#[tokio::test]
async fn sqlite_keeps_jobs_and_leases() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("almanac.db");
    let a = Sqlite::open(&path).await.unwrap();
    let b = Sqlite::open(&path).await.unwrap();
    jobs_and_leases(&a, &b).await;
}

#[tokio::test]
async fn sqlite_tells_the_story() {
    let dir = tempfile::tempdir().unwrap();
    let store = Sqlite::open(&dir.path().join("nested/almanac.db"))
        .await
        .unwrap();
    story(&store).await;
}

#[tokio::test]
async fn sqlite_reopens_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("almanac.db");
    {
        let store = Sqlite::open(&path).await.unwrap();
        store.sync_locations(&[madrid()]).await.unwrap();
        let key = temperature_key();
        let id = store.ensure_series(&key).await.unwrap();
        let run = store
            .start_run(&run_at(TimeRange::new(hour(0), hour(1)).unwrap()))
            .await
            .unwrap();
        store
            .write_chunk(
                run,
                &[Row {
                    series: id,
                    ts: hour(0),
                    value: 1.0,
                    flag: Flag::Observed,
                }],
                &[],
            )
            .await
            .unwrap();
    }
    let store = Sqlite::open(&path).await.unwrap();
    assert_eq!(
        store.extent(&[1]).await.unwrap().instants,
        1,
        "migrations re-run safely and data stay"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_opened_by_many_at_once_migrates_once() {
    // Several processes (here: pools) opening one fresh file race to migrate it; every open
    // must succeed (the race once made a killed-`init` test fail now and then).
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("almanac.db");
        let opens: Vec<_> = (0..6)
            .map(|_| {
                let path = path.clone();
                tokio::spawn(async move { Sqlite::open(&path).await.map(|_| ()) })
            })
            .collect();
        for open in opens {
            open.await.unwrap().unwrap();
        }
    }
}

/// What `process` keeps: windows, anomalies, how far a series is processed.
pub async fn processing(store: &dyn Store) {
    use almanac::domain::anomaly::{Anomaly, Method, Severity};
    use almanac::domain::windows::{self, Window};
    use almanac::store::AnomalyFilter;

    store.sync_locations(&[madrid()]).await.unwrap();
    let series = store.ensure_series(&temperature_key()).await.unwrap();
    let day = TimeRange::new(hour(0), hour(24)).unwrap();
    let run = store.start_run(&run_at(day)).await.unwrap();
    assert_eq!(
        store.process_horizon(run).await.unwrap(),
        run,
        "its own run is left out"
    );
    assert_eq!(
        store.process_horizon(0).await.unwrap(),
        run - 1,
        "a running run holds the horizon back"
    );
    let rows: Vec<Row> = (0..24)
        .map(|h| Row {
            series,
            ts: hour(h),
            value: h as f64,
            flag: Flag::Observed,
        })
        .collect();
    store.write_chunk(run, &rows, &[]).await.unwrap();
    assert_eq!(store.changed_since(series, 0).await.unwrap(), Some(hour(0)));
    assert_eq!(store.changed_since(series, run).await.unwrap(), None);
    store.set_processed(series, run).await.unwrap();
    assert_eq!(store.processed(series).await.unwrap(), Some(run));

    let values: Vec<_> = rows.iter().map(|r| (r.ts, r.value)).collect();
    let zone = jiff::tz::TimeZone::UTC;
    let computed = windows::compute(
        &values,
        None,
        Step::HOUR,
        Window::Day,
        &zone,
        almanac::domain::Aggregation::Mean,
    );
    assert_eq!(
        store.write_windows(series, run, &computed).await.unwrap(),
        1
    );
    assert_eq!(
        store.write_windows(series, run, &computed).await.unwrap(),
        1
    );
    let back = store.windows(series, Window::Day, day).await.unwrap();
    assert_eq!(back, computed);
    assert!(
        store
            .windows(series, Window::Hour, day)
            .await
            .unwrap()
            .is_empty()
    );

    let anomaly = |h: i64, method: Method, severity: Severity| Anomaly {
        ts: hour(h),
        value: 40.0,
        expected: 20.0,
        deviation: 5.0,
        method,
        severity,
    };
    let found = [
        anomaly(3, Method::RobustZ, Severity::Critical),
        anomaly(5, Method::Threshold, Severity::Medium),
    ];
    assert_eq!(
        store
            .replace_anomalies(series, run, hour(0), &found)
            .await
            .unwrap(),
        2
    );
    let filter = AnomalyFilter {
        since: hour(0),
        until: hour(24),
        location: Some("madrid"),
        severity: Some(Severity::High),
        include_resolved: false,
        limit: 10,
    };
    let listed = store.anomalies(&filter).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].anomaly.clone(), listed[0].variable.as_str()),
        (found[0].clone(), "temperature")
    );
    let all = AnomalyFilter {
        severity: None,
        ..filter.clone()
    };
    assert_eq!(store.anomalies(&all).await.unwrap().len(), 2);
    assert!(
        store
            .anomalies(&AnomalyFilter {
                location: Some("paris"),
                ..all.clone()
            })
            .await
            .unwrap()
            .is_empty()
    );
    // Resolved ones stay through re-processing; unresolved ones are replaced.
    assert!(store.resolve_anomaly(listed[0].id, hour(30)).await.unwrap());
    assert!(!store.resolve_anomaly(listed[0].id, hour(31)).await.unwrap());
    assert_eq!(
        store
            .replace_anomalies(series, run, hour(0), &found[..1])
            .await
            .unwrap(),
        0
    );
    assert!(store.anomalies(&all).await.unwrap().is_empty());
    let with_resolved = AnomalyFilter {
        include_resolved: true,
        ..all.clone()
    };
    assert_eq!(
        store.anomalies(&with_resolved).await.unwrap()[0].resolved_at,
        Some(hour(30))
    );
    assert_eq!(store.purge_anomalies(hour(31)).await.unwrap(), 1);
    assert_eq!(store.purge_windows(hour(24)).await.unwrap(), 1);
}

#[tokio::test]
async fn sqlite_keeps_what_processing_computes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Sqlite::open(&dir.path().join("almanac.db")).await.unwrap();
    processing(&store).await;
}

#[tokio::test]
async fn postgres_keeps_what_processing_computes() {
    let Some(db) = crate::support::postgres("postgres_keeps_what_processing_computes").await else {
        return;
    };
    let store = almanac::store::Postgres::connect(&db.url).await.unwrap();
    processing(&store).await;
    db.drop().await;
}

/// Forecasts as issued: two issues of one series, read as known at several instants and with a
/// lead, then the older issue pruned.
pub async fn forecasts(store: &dyn Store) {
    use almanac::store::{ForecastRow, IssueTimes};
    store.sync_locations(&[madrid()]).await.unwrap();
    let key = SeriesKey {
        source: "open_meteo_forecast",
        ..temperature_key()
    };
    let series = store.ensure_forecast_series(&key).await.unwrap();
    assert_eq!(store.ensure_forecast_series(&key).await.unwrap(), series);
    let listed = store.forecast_series("madrid").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].source, "open_meteo_forecast");
    assert!(
        store
            .series("madrid", Dataset::Weather)
            .await
            .unwrap()
            .is_empty(),
        "a forecast series is no observation series"
    );
    let rows = |from: i64, to: i64, value: f64| -> Vec<ForecastRow> {
        (from..to)
            .map(|h| ForecastRow {
                series,
                ts: hour(h),
                value,
            })
            .collect()
    };
    let mut ids = Vec::new();
    // Issue A, known at hour 0, covers hours 1..48 with 1.0; issue B, known at hour 6 and
    // issued by the provider at hour 5, covers hours 7..54 with 2.0.
    for (known, issued, from, to, value) in [(0, 0, 1, 48, 1.0), (6, 5, 7, 54, 2.0)] {
        let run = store
            .start_run(&NewRun {
                operation: "forecast",
                source: Some("open_meteo_forecast"),
                ..run_at(TimeRange::new(hour(from), hour(to)).unwrap())
            })
            .await
            .unwrap();
        let times = IssueTimes {
            known_at: hour(known),
            issued_at: hour(issued),
        };
        let reject = Reject {
            record: "temperature = abc".into(),
            reason: "not a number".into(),
            value: None,
        };
        let counts = store
            .write_forecast(run, times, &rows(from, to, value), &[reject])
            .await
            .unwrap();
        assert_eq!(counts.inserted, (to - from) as u64);
        assert_eq!(counts.rejected, 1);
        ids.push(run);
    }
    let runs = store.runs_by_id(&ids).await.unwrap();
    assert!(
        runs.iter()
            .all(|r| r.counts.rejected == 1 && r.counts.inserted > 40)
    );
    assert_eq!(store.rejects(ids[0]).await.unwrap().len(), 1);

    let all = TimeRange::new(hour(0), hour(60)).unwrap();
    let read =
        |known_by: i64, lead: i64| store.read_forecast(series, all, hour(known_by), lead * 3_600);
    let by_3 = read(3, 0).await.unwrap();
    assert_eq!(by_3.len(), 47, "only issue A was known at hour 3");
    assert!(
        by_3.iter()
            .all(|p| p.value == 1.0 && p.issue.known_at == hour(0))
    );
    let latest = read(100, 0).await.unwrap();
    assert_eq!(latest.len(), 53, "hours 1..54");
    let at = |points: &[almanac::store::ForecastPoint], h: i64| {
        points.iter().find(|p| p.ts == hour(h)).map(|p| p.value)
    };
    assert_eq!(at(&latest, 6), Some(1.0), "B does not cover hour 6");
    assert_eq!(
        at(&latest, 7),
        Some(2.0),
        "B is the latest issue for hour 7"
    );
    assert_eq!(
        latest.iter().find(|p| p.ts == hour(7)).unwrap().issue,
        IssueTimes {
            known_at: hour(6),
            issued_at: hour(5)
        }
    );
    // A 24-hour lead: an hour takes the latest issue known 24 hours before it.
    let ahead = read(100, 24).await.unwrap();
    assert_eq!(
        at(&ahead, 23),
        None,
        "no issue was known 24 h before hour 23"
    );
    assert_eq!(at(&ahead, 24), Some(1.0));
    assert_eq!(at(&ahead, 29), Some(1.0), "B came 23 hours before hour 29");
    assert_eq!(at(&ahead, 30), Some(2.0));
    assert_eq!(at(&ahead, 48), Some(2.0));

    assert_eq!(store.drop_forecasts_before(hour(1)).await.unwrap(), 47);
    let left = read(100, 0).await.unwrap();
    assert_eq!(left.len(), 47);
    assert!(left.iter().all(|p| p.value == 2.0));
}

#[tokio::test]
async fn sqlite_keeps_forecasts_as_issued() {
    let dir = tempfile::tempdir().unwrap();
    let store = Sqlite::open(&dir.path().join("almanac.db")).await.unwrap();
    forecasts(&store).await;
}

#[tokio::test]
async fn postgres_keeps_forecasts_as_issued() {
    let Some(db) = crate::support::postgres("postgres_keeps_forecasts_as_issued").await else {
        return;
    };
    let store = almanac::store::Postgres::connect(&db.url).await.unwrap();
    forecasts(&store).await;
    db.drop().await;
}

/// Dropping what is older than each series' cutoff: counts per series, the rest kept, the data
/// versions raised. Returns the series (listed, listed, unlisted) for backend-specific checks.
pub async fn dropping_old_values(store: &dyn Store) -> [i64; 3] {
    store.sync_locations(&[madrid()]).await.unwrap();
    let temperature = store.ensure_series(&temperature_key()).await.unwrap();
    let humidity = store
        .ensure_series(&SeriesKey {
            variable: "humidity",
            unit: "%",
            ..temperature_key()
        })
        .await
        .unwrap();
    let pressure = store
        .ensure_series(&SeriesKey {
            variable: "pressure",
            unit: "hPa",
            ..temperature_key()
        })
        .await
        .unwrap();
    // Daily values from 2025-01-01 for 90 days (January, February, March to the 31st).
    let day = |d: i64| hour(24 * d);
    let range = TimeRange::new(day(0), day(90)).unwrap();
    let run = store.start_run(&run_at(range)).await.unwrap();
    let rows: Vec<Row> = [temperature, humidity]
        .into_iter()
        .flat_map(|series| {
            (0..90).map(move |d| Row {
                series,
                ts: day(d),
                value: 10.0,
                flag: Flag::Observed,
            })
        })
        .chain((59..90).map(|d| Row {
            series: pressure,
            ts: day(d),
            value: 1_000.0,
            flag: Flag::Observed,
        }))
        .collect();
    store.write_chunk(run, &rows, &[]).await.unwrap();
    let before = store.version("madrid", Dataset::Weather).await.unwrap();
    // Cut on 10 March for temperature, 20 March for humidity; pressure (March only) unlisted.
    let lost = store
        .drop_before(&[(temperature, day(68)), (humidity, day(78))])
        .await
        .unwrap();
    assert_eq!(lost, [(temperature, 68), (humidity, 78)]);
    let all = TimeRange::new(day(-10), day(100)).unwrap();
    assert_eq!(store.count_present(temperature, all).await.unwrap(), 22);
    assert_eq!(store.count_present(humidity, all).await.unwrap(), 12);
    assert_eq!(store.count_present(pressure, all).await.unwrap(), 31);
    assert!(store.version("madrid", Dataset::Weather).await.unwrap() > before);
    assert_eq!(
        store
            .drop_before(&[(temperature, day(68)), (humidity, day(78))])
            .await
            .unwrap(),
        [(temperature, 0), (humidity, 0)],
        "a second pass finds nothing"
    );
    [temperature, humidity, pressure]
}

#[tokio::test]
async fn sqlite_drops_old_values() {
    let dir = tempfile::tempdir().unwrap();
    let store = Sqlite::open(&dir.path().join("almanac.db")).await.unwrap();
    dropping_old_values(&store).await;
}

#[tokio::test]
async fn postgres_drops_whole_months_as_partitions() {
    let Some(db) = crate::support::postgres("postgres_drops_whole_months").await else {
        return;
    };
    let store = almanac::store::Postgres::connect(&db.url).await.unwrap();
    // Another process's handle that wrote into January, so knows its partition.
    let other = almanac::store::Postgres::connect(&db.url).await.unwrap();
    other.sync_locations(&[madrid()]).await.unwrap();
    let series = other.ensure_series(&temperature_key()).await.unwrap();
    let january = TimeRange::new(hour(0), hour(1)).unwrap();
    let run = other.start_run(&run_at(january)).await.unwrap();
    let first = Row {
        series,
        ts: hour(0),
        value: 10.0,
        flag: Flag::Observed,
    };
    other.write_chunk(run, &[first], &[]).await.unwrap();
    dropping_old_values(&store).await;
    use sqlx::Connection;
    let mut connection = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let partitions: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::TEXT FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'observations'::regclass ORDER BY 1",
    )
    .fetch_all(&mut connection)
    .await
    .unwrap();
    assert_eq!(
        partitions,
        ["observations_2025_03"],
        "January and February held only listed series before their cutoffs: dropped whole"
    );
    // Its handle still believes in January's partition: the write finds it gone and makes it.
    let counts = other.write_chunk(run, &[first], &[]).await.unwrap();
    assert_eq!(counts.inserted, 1);
    other.delete(series, january).await.unwrap();
    // A write into a dropped month makes its partition again.
    let series = store.ensure_series(&temperature_key()).await.unwrap();
    let run = store
        .start_run(&run_at(TimeRange::new(hour(0), hour(1)).unwrap()))
        .await
        .unwrap();
    let row = Row {
        series,
        ts: hour(0),
        value: 1.0,
        flag: Flag::Observed,
    };
    store.write_chunk(run, &[row], &[]).await.unwrap();
    assert_eq!(
        store
            .read(series, TimeRange::new(hour(0), hour(1)).unwrap())
            .await
            .unwrap()
            .len(),
        1
    );
    connection.close().await.unwrap();
    db.drop().await;
}

/// A partition holding a series that is not listed stays; only the listed series' rows go.
#[tokio::test]
async fn postgres_keeps_a_month_holding_unlisted_series() {
    let Some(db) = crate::support::postgres("postgres_keeps_unlisted_months").await else {
        return;
    };
    let store = almanac::store::Postgres::connect(&db.url).await.unwrap();
    let [temperature, _, pressure] = dropping_old_values(&store).await;
    // Pressure lives in March; cutting temperature at 1 April leaves March's partition.
    let april = hour(24 * 90);
    let lost = store.drop_before(&[(temperature, april)]).await.unwrap();
    assert_eq!(lost, [(temperature, 22)]);
    let all = TimeRange::new(hour(0), hour(24 * 100)).unwrap();
    assert_eq!(store.count_present(pressure, all).await.unwrap(), 31);
    db.drop().await;
}

/// A first load racing another writer: the chunk's range looks empty, so it goes in with COPY,
/// which then meets a row the other writer committed meanwhile; the chunk is written again
/// through the counting upsert and the counts are exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_first_load_losing_a_race_is_counted_exactly() {
    let Some(db) = crate::support::postgres("postgres_first_load_race").await else {
        return;
    };
    let store = std::sync::Arc::new(almanac::store::Postgres::connect(&db.url).await.unwrap());
    store.sync_locations(&[madrid()]).await.unwrap();
    let series = store.ensure_series(&temperature_key()).await.unwrap();
    let range = TimeRange::new(hour(0), hour(500)).unwrap();
    let run = store.start_run(&run_at(range)).await.unwrap();
    // Make the month's partition exist, then leave the range empty again.
    let probe = Row {
        series,
        ts: hour(499),
        value: 0.0,
        flag: Flag::Observed,
    };
    store.write_chunk(run, &[probe], &[]).await.unwrap();
    store.delete(series, range).await.unwrap();

    use sqlx::Connection;
    let mut other = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let mut tx = other.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO observations (series_id, ts, value, flag, created_run, updated_run)
         VALUES ($1, $2, 7.0, 0, $3, $3)",
    )
    .bind(series)
    .bind(hour(7).epoch())
    .bind(run)
    .execute(&mut *tx)
    .await
    .unwrap();
    let rows: Vec<Row> = (0..500)
        .map(|h| Row {
            series,
            ts: hour(h),
            value: h as f64,
            flag: Flag::Observed,
        })
        .collect();
    let writer = {
        let store = store.clone();
        tokio::spawn(async move { store.write_chunk(run, &rows, &[]).await })
    };
    // The writer's COPY waits on the other transaction's uncommitted key.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    tx.commit().await.unwrap();
    let counts = writer.await.unwrap().unwrap();
    assert_eq!(
        (counts.inserted, counts.updated, counts.unchanged),
        (499, 0, 1),
        "the other writer's row (the same value) counts as unchanged"
    );
    assert_eq!(store.count_present(series, range).await.unwrap(), 500);
    db.drop().await;
}

/// Two handles writing the same new chunk at once: between them every value is inserted
/// exactly once and each one's counts cover the whole chunk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_first_loads_racing_count_each_value_once() {
    let Some(db) = crate::support::postgres("postgres_first_loads_racing").await else {
        return;
    };
    let a = almanac::store::Postgres::connect(&db.url).await.unwrap();
    let b = almanac::store::Postgres::connect(&db.url).await.unwrap();
    a.sync_locations(&[madrid()]).await.unwrap();
    let series = a.ensure_series(&temperature_key()).await.unwrap();
    for round in 0..20 {
        let start = hour(round * 1_000);
        let range = TimeRange::new(start, start.plus(500 * 3_600)).unwrap();
        let run = a.start_run(&run_at(range)).await.unwrap();
        let rows: Vec<Row> = (0..500)
            .map(|h| Row {
                series,
                ts: start.plus(h * 3_600),
                value: h as f64,
                flag: Flag::Observed,
            })
            .collect();
        let (x, y) = tokio::join!(
            a.write_chunk(run, &rows, &[]),
            b.write_chunk(run, &rows, &[])
        );
        let (x, y) = (x.unwrap(), y.unwrap());
        assert_eq!(x.inserted + y.inserted, 500, "round {round}: {x:?} {y:?}");
        assert_eq!(x.inserted + x.unchanged, 500);
        assert_eq!(y.inserted + y.unchanged, 500);
        assert_eq!(a.count_present(series, range).await.unwrap(), 500);
    }
    drop((a, b));
    db.drop().await;
}

/// Tenants: a registration is kept, registering again replaces it, every one is listed by id.
async fn tenants(store: &dyn Store) {
    assert!(store.tenants().await.unwrap().is_empty());
    let at = Timestamp::from_epoch(1_700_000_000);
    store.put_tenant("b", "{\"v\":1}", at).await.unwrap();
    store.put_tenant("a", "{\"v\":1}", at).await.unwrap();
    store
        .put_tenant("b", "{\"v\":2}", at.plus(60))
        .await
        .unwrap();
    assert_eq!(
        store.tenants().await.unwrap(),
        [
            ("a".to_owned(), "{\"v\":1}".to_owned()),
            ("b".to_owned(), "{\"v\":2}".to_owned())
        ]
    );
}

#[tokio::test]
async fn sqlite_keeps_tenants() {
    let dir = tempfile::tempdir().unwrap();
    let store = Sqlite::open(&dir.path().join("almanac.db")).await.unwrap();
    tenants(&store).await;
}

#[tokio::test]
async fn postgres_keeps_tenants() {
    let Some(db) = crate::support::postgres("postgres_keeps_tenants").await else {
        return;
    };
    let store = almanac::store::Postgres::connect(&db.url).await.unwrap();
    tenants(&store).await;
    db.drop().await;
}

/// Housekeeping: of the old runs, those that left nothing behind go (a job run after its
/// children), the rest stay; old rejects go.
async fn pruning(store: &dyn Store) {
    store.sync_locations(&[madrid()]).await.unwrap();
    let temperature = store.ensure_series(&temperature_key()).await.unwrap();
    let start = |parent| NewRun {
        operation: "ingest",
        location: None,
        dataset: None,
        source: None,
        range: None,
        started_at: hour(1),
        parent,
    };
    let finish = |run, at| async move {
        store
            .finish_run(run, RunStatus::Succeeded, None, hour(at))
            .await
            .unwrap()
    };
    let wrote = store.start_run(&start(None)).await.unwrap();
    let row = Row {
        series: temperature,
        ts: hour(0),
        value: 1.0,
        flag: Flag::Observed,
    };
    store.write_chunk(wrote, &[row], &[]).await.unwrap();
    finish(wrote, 2).await;
    let empty = store.start_run(&start(None)).await.unwrap();
    finish(empty, 2).await;
    let job = store.start_run(&start(None)).await.unwrap();
    let child = store.start_run(&start(Some(job))).await.unwrap();
    finish(child, 2).await;
    finish(job, 2).await;
    let refused = store.start_run(&start(None)).await.unwrap();
    let reject = Reject {
        record: "a record".into(),
        reason: "unreadable".into(),
        value: None,
    };
    store.write_chunk(refused, &[], &[reject]).await.unwrap();
    finish(refused, 2).await;
    let recent = store.start_run(&start(None)).await.unwrap();
    finish(recent, 100).await;
    let running = store.start_run(&start(None)).await.unwrap();

    let (runs, rejects) = store.prune_runs(hour(50), hour(50)).await.unwrap();
    assert_eq!((runs, rejects), (3, 1));
    let left: Vec<_> = store
        .runs_by_id(&[wrote, empty, job, child, refused, recent, running])
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(left, [wrote, refused, recent, running]);
    // Again: nothing more to do.
    assert_eq!(store.prune_runs(hour(50), hour(50)).await.unwrap(), (0, 0));
}

#[tokio::test]
async fn sqlite_prunes_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store = Sqlite::open(&dir.path().join("almanac.db")).await.unwrap();
    pruning(&store).await;
}

#[tokio::test]
async fn postgres_prunes_runs() {
    let Some(db) = crate::support::postgres("postgres_prunes_runs").await else {
        return;
    };
    let store = almanac::store::Postgres::connect(&db.url).await.unwrap();
    pruning(&store).await;
    db.drop().await;
}
