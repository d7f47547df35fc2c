//! Every live provider against the same faults, injected in front of the simulated upstream
//! over real HTTP: each failure must come out as the right typed error (or, where the provider
//! says "no data", as an empty answer), never as a panic or a silent success with wrong data.

use std::time::Duration;

use almanac::demo::faults::{Fault, Faults, inject};
use almanac::domain::{Step, TimeRange, Timestamp};
use almanac::sources::SourceError;
use almanac::sources::upstream::UpstreamError;
use axum::middleware;

use crate::support::{config, serve};

/// The error's kind, as the table below names it.
fn kind(result: &Result<almanac::sources::Fetched, SourceError>) -> &'static str {
    match result {
        Ok(fetched) if fetched.observations.is_empty() => "empty",
        Ok(_) => "data",
        Err(SourceError::Refused(_)) => "refused",
        Err(SourceError::NoData(_)) => "no_data",
        Err(SourceError::Malformed(_)) => "malformed",
        Err(SourceError::Upstream(e)) => match e {
            UpstreamError::Status { status, .. } if *status >= 500 => "server_error",
            UpstreamError::Status { .. } => "refused",
            UpstreamError::RateLimited { .. } => "rate_limited",
            UpstreamError::Timeout => "timeout",
            UpstreamError::Body(_) => "broken_body",
            UpstreamError::Connect(_) => "connect",
            UpstreamError::TooLarge { .. } => "too_large",
            UpstreamError::CircuitOpen(_) => "circuit_open",
            UpstreamError::OverBudget(_) => "over_budget",
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_provider_maps_every_fault_to_its_typed_error() {
    let faults = Faults::default();
    let upstream = serve(
        almanac::demo::router().layer(middleware::from_fn_with_state(faults.clone(), inject)),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(
        &dir,
        upstream,
        &[
            ("ALMANAC__SOURCES__AEMET__API_KEY", "test-key"),
            ("ALMANAC__SOURCES__OWM__API_KEY", "test-key"),
            ("ALMANAC__SOURCES__OWM__ONECALL", "true"),
            ("ALMANAC__SOURCES__ESIOS__TOKEN", "test-token"),
            ("ALMANAC__LOCATIONS__ES_PENINSULAR__ENABLED", "true"),
        ],
    );
    let s = &mut settings.sources;
    for limits in [
        &mut s.open_meteo.limits,
        &mut s.aemet.limits,
        &mut s.ree.limits,
        &mut s.madrid_traffic.limits,
        &mut s.owm.limits,
        &mut s.esios.limits,
    ] {
        limits.retries = 1;
        limits.backoff_initial_ms = 5;
        limits.timeout_secs = 1;
        limits.max_retry_after_secs = 5;
        limits.breaker_failures = 1_000;
    }
    let core = almanac::core::Core::open(settings).await.unwrap();
    // Ranges are taken afresh for every request: the test outlasts a quarter hour's boundary.
    fn hours(now: Timestamp, _: i64) -> TimeRange {
        TimeRange::new(
            now.floor(Step::HOUR).plus(-3 * 3_600),
            now.floor(Step::HOUR),
        )
        .unwrap()
    }
    fn last_quarter(now: Timestamp, _: i64) -> TimeRange {
        let end = now.floor(Step::QUARTER_HOUR);
        TimeRange::new(end.plus(-900), end).unwrap()
    }
    fn days_ago(now: Timestamp, days: i64) -> TimeRange {
        let day = now.floor(Step::DAY).plus(-days * 86_400);
        TimeRange::new(day, day.plus(86_400)).unwrap()
    }
    /// The range of case `n` at `now`.
    type Range = fn(Timestamp, i64) -> TimeRange;
    // (source, location, range, answer to a 401, answer to a 404).
    let providers: [(&str, &str, Range, &str, &str); 8] = [
        (
            "esios",
            "es_peninsular",
            |now, _| days_ago(now, 2),
            "refused",
            "refused",
        ),
        ("owm", "madrid", hours, "refused", "refused"),
        (
            "open_meteo",
            "madrid",
            |now, _| days_ago(now, 10),
            "refused",
            "refused",
        ),
        (
            "aemet",
            "madrid",
            |now, _| days_ago(now, 10),
            "refused",
            "empty",
        ),
        ("aemet_obs", "madrid", hours, "refused", "empty"),
        (
            "ree",
            "es_peninsular",
            |now, _| days_ago(now, 2),
            "refused",
            "refused",
        ),
        (
            "madrid_traffic",
            "madrid",
            last_quarter,
            "refused",
            "refused",
        ),
        // A past month's history ZIP, downloaded to a file: in each case a month not asked for
        // before, as the source caches months (the points file is cached by now too).
        (
            "madrid_traffic",
            "madrid",
            |now, n| days_ago(now, 40 + 31 * n),
            "refused",
            "empty",
        ),
    ];
    for (id, location, range, unauthorized, not_found) in providers {
        let source = core.sources.get(id).unwrap();
        let location = core.registry.get(location).unwrap();
        let cases = [
            (None, "data"),
            (Some(Fault::Status(500)), "server_error"),
            (Some(Fault::Status(503)), "server_error"),
            (Some(Fault::Status(401)), unauthorized),
            (Some(Fault::Status(404)), not_found),
            (
                Some(Fault::RateLimited {
                    retry_after_secs: 0,
                }),
                "rate_limited",
            ),
            (Some(Fault::Slow(Duration::from_millis(1_500))), "timeout"),
            (Some(Fault::Truncated), "broken_body"),
            (Some(Fault::Garbage), "malformed"),
        ];
        for (n, (fault, expected)) in (0..).zip(cases) {
            faults.set(fault);
            let now = Timestamp::now();
            let result = source.fetch(location, range(now, n), now).await;
            assert_eq!(
                kind(&result),
                expected,
                "{id} under {fault:?}: {:?}",
                result.err()
            );
        }
        faults.set(None);
    }
}
