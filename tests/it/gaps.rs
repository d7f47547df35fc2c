//! `gaps`: holes in stored series found against the expected grid, with their severity, from the
//! operation and over HTTP.

use almanac::domain::{Dataset, Flag, Step, TimeRange, Timestamp};
use almanac::ops::gaps::{Selection, Severity, find};
use almanac::store::{NewRun, Row, SeriesKey};

use crate::support::{client, core, serve};

#[tokio::test]
async fn holes_are_found_with_their_length_and_severity() {
    let dir = tempfile::tempdir().unwrap();
    let core = core(&dir, serve(almanac::demo::router()).await).await;
    let start = Timestamp::from_jiff("2025-03-01T00:00:00Z".parse().unwrap());
    let day = TimeRange::new(start, start.plus(2 * 86_400)).unwrap();
    let key = SeriesKey {
        location: "madrid",
        dataset: Dataset::Weather,
        variable: "temperature",
        source: "open_meteo",
        step: Step::HOUR,
        unit: "°C",
    };
    let series = core.store.ensure_series(&key).await.unwrap();
    let run = core
        .store
        .start_run(&NewRun {
            operation: "test",
            location: Some("madrid"),
            dataset: Some(Dataset::Weather),
            source: Some("open_meteo"),
            range: Some(day),
            started_at: Timestamp::now(),
            parent: None,
        })
        .await
        .unwrap();
    // 48 hours with three holes: hour 3 (1 h), hours 10–13 (4 h), hours 20–39 (20 h).
    let missing = |h: i64| h == 3 || (10..14).contains(&h) || (20..40).contains(&h);
    let rows: Vec<Row> = (0..48)
        .filter(|h| !missing(*h))
        .map(|h| Row {
            series,
            ts: start.plus(h * 3_600),
            value: 10.0,
            flag: Flag::Observed,
        })
        .collect();
    core.store.write_chunk(run, &rows, &[]).await.unwrap();

    let selection = Selection {
        location: Some("madrid".into()),
        dataset: Some(Dataset::Weather),
        source: None,
        range: Some(day),
    };
    let found = find(&core, &selection, Timestamp::now()).await.unwrap();
    assert_eq!(found.len(), 1);
    let series = &found[0];
    assert_eq!((series.expected, series.present), (48, 48 - 25));
    let holes: Vec<_> = series
        .gaps
        .iter()
        .map(|g| (g.start.as_str(), g.missing, g.severity))
        .collect();
    assert_eq!(
        holes,
        [
            ("2025-03-01T03:00:00+00:00", 1, Severity::Minor),
            ("2025-03-01T10:00:00+00:00", 4, Severity::Moderate),
            ("2025-03-01T20:00:00+00:00", 20, Severity::Critical),
        ]
    );

    let base = format!("http://{}", serve(almanac::http::router(core)).await);
    let response = client()
        .get(format!(
            "{base}/api/v1/locations/madrid/gaps?dataset=weather&start=2025-03-01T00:00:00Z&end=2025-03-02T23:59:59Z"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body[0]["gaps"][2]["severity"], "critical");
    assert_eq!(body[0]["gaps"][2]["end"], "2025-03-02T16:00:00+00:00");
    let bad = client()
        .get(format!(
            "{base}/api/v1/locations/madrid/gaps?start=2025-03-01"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}
