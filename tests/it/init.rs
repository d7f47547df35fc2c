//! `init` and `ingest` over real HTTP against the simulated Open-Meteo (the demo's), with
//! faults injected in front of it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use almanac::domain::{Counts, Dataset, Grid, Step, TimeRange, Timestamp};
use almanac::ops;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use indicatif::ProgressBar;

use crate::support::{core, serve};

/// Hourly weather variables Open-Meteo feeds.
const VARS: u64 = almanac::domain::series::WEATHER_HOURLY.len() as u64;

#[derive(Clone, Default)]
struct Faults {
    requests: Arc<AtomicUsize>,
    /// Answer 500 to every request after the first `healthy` ones while set.
    failing: Arc<AtomicBool>,
    healthy: usize,
}

async fn inject(State(faults): State<Faults>, request: Request, next: Next) -> Response {
    let n = faults.requests.fetch_add(1, Ordering::SeqCst);
    if faults.failing.load(Ordering::SeqCst) && n >= faults.healthy {
        return (StatusCode::INTERNAL_SERVER_ERROR, "injected").into_response();
    }
    next.run(request).await
}

async fn simulated(faults: Faults) -> std::net::SocketAddr {
    serve(almanac::demo::upstream::router().layer(middleware::from_fn_with_state(faults, inject)))
        .await
}

fn now() -> Timestamp {
    Timestamp::now().floor(Step::HOUR)
}

fn window(months: u32, now: Timestamp) -> Grid {
    Grid::new(
        TimeRange {
            start: now.months_before(months),
            end: now,
        },
        Step::HOUR,
    )
}

async fn stored(core: &almanac::core::Core, range: TimeRange) -> Vec<u64> {
    let mut counts = Vec::new();
    for series in core.store.series("madrid", Dataset::Weather).await.unwrap() {
        counts.push(core.store.count_present(series.id, range).await.unwrap());
    }
    counts
}

#[tokio::test]
async fn init_loads_the_window_and_a_second_run_fetches_nothing() {
    let faults = Faults::default();
    let dir = tempfile::tempdir().unwrap();
    let core = core(&dir, simulated(faults.clone()).await).await;
    let now = now();
    let grid = window(2, now);

    let first = ops::init::run(&core, 2, now, &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(!first.failed(), "{first}");
    assert_eq!(
        first.total(),
        Counts {
            inserted: grid.len() * VARS,
            ..Counts::default()
        }
    );
    assert_eq!(
        stored(&core, grid.range).await,
        vec![grid.len(); VARS as usize]
    );
    let requests = faults.requests.load(Ordering::SeqCst);
    assert!(
        requests >= 3,
        "three month chunks, the newest also from the forecast API: {requests}"
    );

    let second = ops::init::run(&core, 2, now, &ProgressBar::hidden())
        .await
        .unwrap();
    assert_eq!(second.total(), Counts::default(), "{second}");
    assert_eq!(second.outcomes[0].skipped, second.outcomes[0].chunks);
    assert_eq!(
        faults.requests.load(Ordering::SeqCst),
        requests,
        "nothing already complete is fetched again"
    );
}

#[tokio::test]
async fn an_init_broken_off_by_upstream_failures_completes_on_rerun_without_duplicates() {
    let faults = Faults {
        healthy: 1,
        ..Faults::default()
    };
    faults.failing.store(true, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let core = core(&dir, simulated(faults.clone()).await).await;
    let now = now();
    let grid = window(3, now);

    let broken = ops::init::run(&core, 3, now, &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(broken.failed());
    let outcome = &broken.outcomes[0];
    assert_eq!(
        outcome.failed,
        outcome.chunks - 1,
        "only the first chunk got through: {broken}"
    );
    assert!(
        outcome.error.as_deref().unwrap_or("").contains("HTTP 500"),
        "{broken}"
    );
    let partial = stored(&core, grid.range).await;
    assert!(
        partial
            .iter()
            .all(|n| *n == partial[0] && *n > 0 && *n < grid.len()),
        "whole chunks only: {partial:?}"
    );
    let runs = core.store.runs(1).await.unwrap();
    assert_eq!(runs[0].status, almanac::domain::RunStatus::Failed);

    faults.failing.store(false, Ordering::SeqCst);
    let resumed = ops::init::run(&core, 3, now, &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(!resumed.failed(), "{resumed}");
    assert_eq!(resumed.outcomes[0].skipped, 1);
    assert_eq!(
        stored(&core, grid.range).await,
        vec![grid.len(); VARS as usize]
    );
    assert_eq!(
        outcome.counts.inserted + resumed.total().inserted,
        grid.len() * VARS,
        "every value inserted exactly once"
    );
}

#[tokio::test]
async fn ingest_fetches_only_what_is_new() {
    let dir = tempfile::tempdir().unwrap();
    let core = core(&dir, simulated(Faults::default()).await).await;
    let now = now();

    let empty = ops::ingest::run(&core, now, &ProgressBar::hidden())
        .await
        .unwrap();
    assert_eq!(
        empty.total().inserted,
        48 * VARS,
        "an empty store reaches back the 48-hour lookback: {empty}"
    );

    let later = now.plus(3 * 3_600);
    let next = ops::ingest::run(&core, later, &ProgressBar::hidden())
        .await
        .unwrap();
    assert_eq!(
        next.total(),
        Counts {
            inserted: 3 * VARS,
            ..Counts::default()
        },
        "{next}"
    );
    let run = &core.store.runs(1).await.unwrap()[0];
    assert_eq!(
        (run.operation.as_str(), run.range_start, run.range_end),
        ("ingest", Some(now.epoch()), Some(later.epoch()))
    );

    let nothing = ops::ingest::run(&core, later, &ProgressBar::hidden())
        .await
        .unwrap();
    assert_eq!(nothing.total(), Counts::default());
}

#[tokio::test]
async fn impossible_upstream_values_are_rejected_with_a_reason_and_counted() {
    let now = Timestamp::from_epoch(1_735_704_000); // 2025-01-01T04:00Z
    let payload = r#"{"utc_offset_seconds":0,"hourly_units":{"time":"iso8601","temperature_2m":"°C","precipitation":"mm",
        "relative_humidity_2m":"%","wind_speed_10m":"m/s","surface_pressure":"hPa","weather_code":"wmo code"},
        "hourly":{"time":["2025-01-01T00:00","2025-01-01T01:00","2025-01-01T02:00","2025-01-01T03:00"],
        "temperature_2m":[3.1,2.8,2.5,null],"precipitation":[0,0,0,null],"relative_humidity_2m":[81,140,80,null],
        "wind_speed_10m":[2,2,2,null],"surface_pressure":[944,944,944,null],"weather_code":[3,3,3,null]}}"#;
    let router = axum::Router::new().route(
        "/v1/forecast",
        axum::routing::get(move || async move { payload }),
    );
    let dir = tempfile::tempdir().unwrap();
    let core = core(&dir, serve(router).await).await;

    let summary = ops::ingest::run(&core, now, &ProgressBar::hidden())
        .await
        .unwrap();
    let outcome = &summary.outcomes[0];
    assert_eq!(
        outcome.counts,
        Counts {
            inserted: 17,
            updated: 0,
            unchanged: 0,
            rejected: 1
        },
        "{summary}"
    );
    assert_eq!(
        outcome.missing,
        48 * VARS - 18,
        "the 30 hours the payload lacks and the null hour"
    );
    let rejects = core.store.rejects(outcome.run).await.unwrap();
    assert!(
        rejects[0].record.contains("relative_humidity_2m")
            && rejects[0].reason.contains("outside the physical range"),
        "{rejects:?}"
    );
}
