//! `backfill`: holes deleted from a loaded store come back exactly, from the upstream, under
//! backfill runs; a dry run touches neither upstream nor store; a second backfill fetches nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use almanac::domain::{Dataset, Step, TimeRange, Timestamp};
use almanac::ops;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use indicatif::ProgressBar;

use crate::support::{core, serve};

async fn count(State(hits): State<Arc<AtomicUsize>>, request: Request, next: Next) -> Response {
    hits.fetch_add(1, Ordering::SeqCst);
    next.run(request).await
}

#[tokio::test]
async fn deleted_ranges_come_back_exactly_and_a_dry_run_changes_nothing() {
    let hits = Arc::new(AtomicUsize::new(0));
    let upstream =
        serve(almanac::demo::router().layer(middleware::from_fn_with_state(hits.clone(), count)))
            .await;
    let dir = tempfile::tempdir().unwrap();
    let core = core(&dir, upstream).await;
    let now = Timestamp::now().floor(Step::HOUR);
    let loaded = ops::init::run(&core, 2, now, &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(!loaded.failed(), "{loaded}");
    let window = TimeRange::new(now.months_before(2), now).unwrap();
    let series = core.store.series("madrid", Dataset::Weather).await.unwrap();
    let snapshot = async |id| core.store.read(id, window).await.unwrap();
    let mut before = Vec::new();
    for s in &series {
        before.push(snapshot(s.id).await);
    }

    // Three holes: 5 hours of temperature, a day of everything, 2 hours of humidity.
    let at = |days: i64, hours: i64| now.floor(Step::DAY).plus(-days * 86_400 + hours * 3_600);
    let id = |name: &str| series.iter().find(|s| s.variable == name).unwrap().id;
    let holes = [
        (
            vec![id("temperature")],
            TimeRange::new(at(40, 3), at(40, 8)).unwrap(),
        ),
        (
            series.iter().map(|s| s.id).collect(),
            TimeRange::new(at(20, 0), at(19, 0)).unwrap(),
        ),
        (
            vec![id("humidity")],
            TimeRange::new(at(7, 22), at(6, 0)).unwrap(),
        ),
    ];
    let mut deleted = 0;
    for (ids, range) in &holes {
        for id in ids {
            deleted += core.store.delete(*id, *range).await.unwrap();
        }
    }
    assert_eq!(deleted, 5 + 24 * series.len() as u64 + 2);

    let requests = hits.load(Ordering::SeqCst);
    let runs = core.store.runs(1_000).await.unwrap().len();
    let plan = ops::backfill::plan(&core, Some("madrid"), Some(window), now)
        .await
        .unwrap();
    let parts: Vec<_> = plan
        .parts
        .iter()
        .map(|p| (p.source, p.start.clone(), p.missing))
        .collect();
    assert_eq!(
        parts,
        vec![
            ("open_meteo", at(40, 3).to_string(), 5),
            ("open_meteo", at(20, 0).to_string(), 24),
            ("open_meteo", at(7, 22).to_string(), 2),
        ]
    );
    assert!(plan.unreachable.is_empty(), "{:?}", plan.unreachable);
    assert_eq!(
        hits.load(Ordering::SeqCst),
        requests,
        "planning asks the upstream nothing"
    );
    assert_eq!(
        core.store.runs(1_000).await.unwrap().len(),
        runs,
        "and writes nothing"
    );

    let summary = ops::backfill::run(&core, &plan, now, &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(!summary.failed(), "{summary}");
    assert_eq!(summary.total().inserted, deleted, "{summary}");
    assert_eq!(summary.total().updated, 0);
    let backfill_runs: Vec<i64> = summary.outcomes.iter().map(|o| o.run).collect();
    for (s, old) in series.iter().zip(&before) {
        let now_stored = snapshot(s.id).await;
        let values = |points: &[almanac::store::Point]| {
            points
                .iter()
                .map(|p| (p.ts, p.value, p.flag))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            values(&now_stored),
            values(old),
            "{} restored exactly",
            s.variable
        );
        for point in &now_stored {
            let in_hole = holes
                .iter()
                .any(|(ids, range)| ids.contains(&s.id) && range.contains(point.ts));
            assert_eq!(
                backfill_runs.contains(&point.created_run),
                in_hole,
                "{} at {}: written by a backfill run exactly when it was in a hole",
                s.variable,
                point.ts
            );
        }
    }

    let again = ops::backfill::plan(&core, Some("madrid"), Some(window), now)
        .await
        .unwrap();
    assert!(again.parts.is_empty(), "{:?}", again.parts);
}
