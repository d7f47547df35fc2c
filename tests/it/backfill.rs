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

/// Answers 404 for one month's traffic history, as a portal that lost the file would.
async fn lose(State(month): State<String>, request: Request, next: Next) -> Response {
    if request.uri().path().ends_with(&month) {
        return axum::response::IntoResponse::into_response((
            axum::http::StatusCode::NOT_FOUND,
            "no such file",
        ));
    }
    next.run(request).await
}

#[tokio::test]
async fn what_the_upstream_does_not_have_is_deferred_with_backoff() {
    let now = Timestamp::now().floor(Step::HOUR);
    let zone = jiff::tz::TimeZone::get("Europe/Madrid").unwrap();
    let last_month = now
        .to_jiff()
        .to_zoned(zone.clone())
        .date()
        .first_of_month()
        .yesterday()
        .unwrap();
    let lost = format!("{:02}-{}.zip", last_month.month(), last_month.year());
    let upstream =
        serve(almanac::demo::router().layer(middleware::from_fn_with_state(lost.clone(), lose)))
            .await;
    let dir = tempfile::tempdir().unwrap();
    let settings = crate::support::config(
        &dir,
        upstream,
        &[
            (
                "ALMANAC__LOCATIONS__MADRID__SOURCES__TRAFFIC",
                "[\"madrid_traffic\"]",
            ),
            ("ALMANAC__LOCATIONS__MADRID__SOURCES__WEATHER", "[]"),
        ],
    );
    let core = almanac::core::Core::open(settings).await.unwrap();
    let window = TimeRange::new(now.months_before(2), now).unwrap();
    let loaded = ops::init::run(&core, 2, now, &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(!loaded.failed(), "{loaded}");

    let first = ops::backfill::plan(&core, Some("madrid"), Some(window), now)
        .await
        .unwrap();
    assert!(
        !first.parts.is_empty() && first.deferred.is_empty(),
        "{first:?}"
    );
    let summary = ops::backfill::run(&core, &first, now, &ProgressBar::hidden())
        .await
        .unwrap();
    assert_eq!(
        summary.total().inserted,
        0,
        "the file is still lost: {summary}"
    );
    let absences = core
        .store
        .absences("madrid", Dataset::Traffic)
        .await
        .unwrap();
    assert!(
        !absences.is_empty() && absences.iter().all(|a| a.attempts == 1),
        "{absences:?}"
    );

    // Asked again within the hour: deferred, not requested.
    let second = ops::backfill::plan(&core, Some("madrid"), Some(window), now)
        .await
        .unwrap();
    assert!(
        second.parts.iter().all(|p| p.source != "madrid_traffic"),
        "{second:?}"
    );
    assert_eq!(second.deferred.len(), first.parts.len());
    // After the backoff it is due again, and a second miss doubles the wait.
    let later = now.plus(3_601);
    let third = ops::backfill::plan(&core, Some("madrid"), Some(window), later)
        .await
        .unwrap();
    assert_eq!(third.parts.len(), first.parts.len());
    ops::backfill::run(&core, &third, later, &ProgressBar::hidden())
        .await
        .unwrap();
    let absences = core
        .store
        .absences("madrid", Dataset::Traffic)
        .await
        .unwrap();
    assert!(absences.iter().all(|a| a.attempts == 2), "{absences:?}");
    assert_eq!(absences[0].retry_at(), later.plus(2 * 3_600));
}
