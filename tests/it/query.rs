//! The query wing called directly, as the CLI and the API both do: on the simulated water
//! network (21 days from 2025-07-01 at 15 minutes, with its gap, spike, leak and refused
//! readings), each answer is the plain struct the handlers only render.

use almanac::domain::windows::Window;
use almanac::domain::{Dataset, TimeRange};
use almanac::query;
use almanac::query::series::{Resolution, SeriesRequest};

use crate::processing::{DAYS, network, start};

fn days(from: i64, count: i64) -> TimeRange {
    TimeRange {
        start: start().plus(from * 86_400),
        end: start().plus((from + count) * 86_400),
    }
}

#[tokio::test]
async fn a_node_history_joins_its_windows_and_counts_anomalies_in_them() {
    let dir = tempfile::tempdir().unwrap();
    let (core, faults) = network(&dir).await;
    let north = query::nodes::node(&core, "sel_north").unwrap();
    let rows = query::nodes::history(&core, &north, Window::Hour, days(0, i64::from(DAYS)))
        .await
        .unwrap();
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .collect();
    assert_eq!(rows.len(), DAYS as usize * 24);
    // One window an hour, in order, each with flow, pressure and a metered volume.
    assert!(
        rows.windows(2)
            .all(|w| w[0]["window_start"].as_str() < w[1]["window_start"].as_str())
    );
    assert!(
        rows.iter().all(|r| r["avg_flow_rate"].is_f64()
            && r["avg_pressure"].is_f64()
            && r["volume_basis"] == "meter_increase"),
        "{:?}",
        rows.iter().find(|r| r["volume_basis"] != "meter_increase")
    );
    // The spike's hour counts its anomaly, and only that hour of the day does.
    let spike_hour = faults.spike.floor(almanac::domain::Step::HOUR).to_string();
    let with_anomalies: Vec<&str> = rows
        .iter()
        .filter(|r| r["anomaly_count"].as_u64() > Some(0))
        .map(|r| r["window_start"].as_str().unwrap())
        .collect();
    assert!(
        with_anomalies.contains(&spike_hour.as_str()),
        "{with_anomalies:?}"
    );
    // The stuck pressure's hours are still there, complete (a flatline is no missing reading).
    assert!(
        rows.iter()
            .all(|r| r["data_completeness"].as_f64() > Some(0.0))
    );
}

#[tokio::test]
async fn a_site_series_is_read_at_its_own_step_in_its_local_days() {
    let dir = tempfile::tempdir().unwrap();
    let (core, _) = network(&dir).await;
    let south = core.registry.get("sel_south").unwrap();
    let request = |resolution| SeriesRequest {
        location: south,
        stored_at: south,
        dataset: Dataset::Sensor,
        step: query::series::step_of(Dataset::Sensor),
        range: days(9, 1),
        variables: vec!["flow_rate"],
        resolution,
        fill: None,
        format: query::series::Format::Json,
        flags: false,
    };
    let raw = serde_json::to_value(
        query::series::answer(&core, &request(Resolution::Raw))
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(raw["step_seconds"], 900);
    // Day 9 lost six hours (the gap): 72 of 96 quarter hours.
    let values = raw["variables"]["flow_rate"]["values"].as_array().unwrap();
    assert_eq!(values.iter().filter(|v| v.is_f64()).count(), 72, "{raw}");
    let hourly = serde_json::to_value(
        query::series::answer(&core, &request(Resolution::Hour))
            .await
            .unwrap(),
    )
    .unwrap();
    // The 18 hours with readings, each of four quarter hours (hours without any are left out).
    let counts = hourly["variables"]["flow_rate"]["counts"]
        .as_array()
        .unwrap();
    assert_eq!(counts.len(), 18, "{hourly}");
    assert!(counts.iter().all(|c| c.as_u64() == Some(4)), "{hourly}");
}

#[tokio::test]
async fn the_network_balance_shows_the_leak() {
    let dir = tempfile::tempdir().unwrap();
    let (core, faults) = network(&dir).await;
    let id = query::network::network_id(&core, None).unwrap();
    let answer = query::network::efficiency(&core, &id, Window::Day, days(1, i64::from(DAYS) - 2))
        .await
        .unwrap();
    let answer = serde_json::to_value(answer).unwrap();
    let mut before = Vec::new();
    let mut after = Vec::new();
    for w in answer["windows"].as_array().unwrap() {
        let Some(e) = w["efficiency_percentage"].as_f64() else {
            continue;
        };
        let start: jiff::Timestamp = w["window_start"].as_str().unwrap().parse().unwrap();
        if start.as_second() >= faults.leak_from.epoch() {
            after.push(e);
        } else {
            before.push(e);
        }
    }
    assert!(!before.is_empty() && !after.is_empty(), "{answer}");
    // 2.5 L/s of 20 lost: about 11 points less.
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(
        mean(&before) - mean(&after) > 8.0,
        "before {before:?}, after {after:?}"
    );
}

#[tokio::test]
async fn a_run_s_refused_records_and_a_run_that_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    let (core, _) = network(&dir).await;
    let runs = query::runs::recent(&core, 100).await.unwrap();
    let imports: Vec<_> = runs.iter().filter(|r| r.operation == "import").collect();
    let mut refused = 0;
    for run in &imports {
        refused += query::runs::rejects(&core, run.id)
            .await
            .unwrap()
            .unwrap()
            .len();
    }
    // The impossible pressure and the duplicate's four values.
    assert_eq!(refused, 5);
    assert!(
        query::runs::rejects(&core, 987_654)
            .await
            .unwrap()
            .is_none()
    );
    let last = query::runs::last_job(&core, "process").await.unwrap();
    assert!(
        last.is_none(),
        "process ran as an operation, not as a job: {last:?}"
    );
}
