//! Loads of several locations at once (`loads.parallel`): each provider stays within its
//! in-flight cap, a location whose upstream fails never stops the others, and what one run
//! loads is whole whatever the interleaving.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use almanac::domain::{Dataset, Grid, Step, TimeRange, Timestamp};
use almanac::ops;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use indicatif::ProgressBar;

use crate::support::{config, serve};

/// Requests in flight at the simulated upstream now and at most.
#[derive(Clone, Default)]
struct InFlight {
    now: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
}

/// Every answer takes 40 ms; Valencia's (its latitude) always fail.
async fn slow(State(flight): State<InFlight>, request: Request, next: Next) -> Response {
    if request
        .uri()
        .query()
        .is_some_and(|q| q.contains("latitude=39.4699"))
    {
        return (StatusCode::INTERNAL_SERVER_ERROR, "injected").into_response();
    }
    let running = flight.now.fetch_add(1, Ordering::SeqCst) + 1;
    flight.most.fetch_max(running, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(40)).await;
    let response = next.run(request).await;
    flight.now.fetch_sub(1, Ordering::SeqCst);
    response
}

const CITIES: [&str; 4] = ["madrid", "valencia", "sevilla", "bilbao"];

#[tokio::test]
async fn locations_load_at_once_within_the_providers_cap_and_a_failing_one_stops_none() {
    let flight = InFlight::default();
    let upstream = serve(
        almanac::demo::upstream::router()
            .layer(middleware::from_fn_with_state(flight.clone(), slow)),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut extra = vec![
        ("ALMANAC__LOADS__PARALLEL", "4"),
        ("ALMANAC__SOURCES__OPEN_METEO__LIMITS__MAX_IN_FLIGHT", "2"),
    ];
    for city in &CITIES[1..] {
        let name: &'static str =
            format!("ALMANAC__LOCATIONS__{}__ENABLED", city.to_uppercase()).leak();
        extra.push((name, "true"));
    }
    let core = almanac::core::Core::open(config(&dir, upstream, &extra))
        .await
        .unwrap();
    let now = Timestamp::now().floor(Step::HOUR);
    let grid = Grid::new(
        TimeRange {
            start: now.months_before(2),
            end: now,
        },
        Step::HOUR,
    );

    let summary = ops::init::run(&core, 2, now, &ProgressBar::hidden())
        .await
        .unwrap();
    let most = flight.most.load(Ordering::SeqCst);
    assert_eq!(
        most, 2,
        "the provider's cap is 2 and four loads wanted more"
    );
    assert!(summary.failed(), "{summary}");
    for city in CITIES {
        let outcome = summary
            .outcomes
            .iter()
            .find(|o| o.location == city)
            .unwrap_or_else(|| panic!("{city} has an outcome: {summary}"));
        let mut counts = Vec::new();
        for series in core.store.series(city, Dataset::Weather).await.unwrap() {
            counts.push(
                core.store
                    .count_present(series.id, grid.range)
                    .await
                    .unwrap(),
            );
        }
        if city == "valencia" {
            assert_eq!(outcome.failed, outcome.chunks, "{summary}");
            assert!(
                outcome.error.as_deref().unwrap_or("").contains("HTTP 500"),
                "{summary}"
            );
            assert!(counts.iter().all(|n| *n == 0), "{counts:?}");
        } else {
            assert_eq!(outcome.failed, 0, "{summary}");
            assert!(
                !counts.is_empty() && counts.iter().all(|n| *n == grid.len()),
                "{city} whole despite Valencia: {counts:?}"
            );
        }
    }

    // With one load at a time, one request at a time whatever the provider allows.
    flight.most.store(0, Ordering::SeqCst);
    let mut one = (*core.config).clone();
    one.loads.parallel = 1;
    let serial = almanac::core::Core::open(one).await.unwrap();
    let later = now.plus(6 * 3_600);
    let ingest = ops::ingest::run(&serial, later, &ProgressBar::hidden())
        .await
        .unwrap();
    assert_eq!(flight.most.load(Ordering::SeqCst), 1, "{ingest}");
    let healthy: Vec<_> = ingest
        .outcomes
        .iter()
        .filter(|o| o.location != "valencia")
        .collect();
    assert_eq!(healthy.len(), 3, "{ingest}");
    assert!(
        healthy
            .iter()
            .all(|o| o.failed == 0 && o.counts.inserted > 0),
        "{ingest}"
    );
}
