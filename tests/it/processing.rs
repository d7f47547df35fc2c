//! `process` on the simulated water network: the windows, quality issues, anomalies and
//! efficiency found are exactly the faults injected (`demo::water`).

use almanac::core::Core;
use almanac::demo::water;
use almanac::domain::windows::Window;
use almanac::domain::{Dataset, Step, TimeRange, Timestamp};
use almanac::store::AnomalyFilter;

use crate::support::{config, serve};

pub const DAYS: u32 = 21;

pub fn start() -> Timestamp {
    Timestamp::from_jiff("2025-07-01T00:00:00Z".parse().unwrap())
}

/// A core holding the simulated network's 21 days from [`start`], imported and processed.
pub async fn network(dir: &tempfile::TempDir) -> (Core, water::Faults) {
    network_from(dir, start(), &[]).await
}

/// The same from `first` (a UTC midnight), with extra settings.
pub async fn network_from(
    dir: &tempfile::TempDir,
    first: Timestamp,
    extra: &[(&str, &str)],
) -> (Core, water::Faults) {
    let upstream = serve(almanac::demo::router()).await;
    let mut settings = config(dir, upstream, extra);
    water::configure(&mut settings);
    let core = Core::open(settings).await.unwrap();
    let (csv, faults) = water::readings(first, DAYS);
    let path = dir.path().join("water.csv");
    std::fs::write(&path, csv).unwrap();
    let formats = core.config.sources.csv_import.formats.clone();
    let options = almanac::sources::kinds::Options {
        at: None,
        units: Default::default(),
        formats: Some(&formats),
    };
    let summary = almanac::ops::import::run(
        &core,
        "csv:water",
        &path,
        almanac::ops::import::Target::ByOrigin,
        &options,
    )
    .await
    .unwrap();
    assert!(!summary.failed(), "{summary}");
    // The impossible pressure is refused with the tank's run; the duplicate's four values
    // (temperature, flow, pressure, meter) with the north node's.
    assert_eq!(summary.total().rejected, 5, "{summary}");
    let tank = summary
        .outcomes
        .iter()
        .find(|o| o.location == "sel_tank")
        .unwrap();
    assert_eq!(tank.counts.rejected, 1, "{summary}");
    let now = first.plus(i64::from(DAYS) * 86_400);
    let summary = almanac::ops::process::run(&core, now).await.unwrap();
    assert!(!summary.failed(), "{summary}");
    (core, faults)
}

async fn series_id(core: &Core, location: &str, variable: &str) -> i64 {
    core.store
        .series(location, Dataset::Sensor)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.variable == variable)
        .unwrap()
        .id
}

fn everything() -> TimeRange {
    TimeRange {
        start: start().plus(-86_400),
        end: start().plus(i64::from(DAYS) * 86_400),
    }
}

#[tokio::test]
async fn the_anomalies_found_are_the_injected_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (core, faults) = network(&dir).await;
    let found = core
        .store
        .anomalies(&AnomalyFilter {
            since: start(),
            until: start().plus(100 * 86_400),
            location: None,
            severity: None,
            include_resolved: true,
            limit: 10_000,
        })
        .await
        .unwrap();
    let mut spike = false;
    let mut drop = false;
    let mut leak = 0;
    for a in &found {
        let what = (a.location.as_str(), a.variable.as_str());
        match what {
            ("sel_north", "flow_rate") if a.anomaly.ts == faults.spike => spike = true,
            ("sel_tank", "pressure") if a.anomaly.ts == faults.pressure_drop => {
                assert_eq!(a.anomaly.method.as_str(), "threshold");
                assert_eq!(a.anomaly.expected, 2.0);
                drop = true;
            }
            ("sel_in", "flow_rate") if a.anomaly.ts >= faults.leak_from => leak += 1,
            _ => panic!("an anomaly that was not injected: {a:?}"),
        }
    }
    // The leak is found by the network balance (below); the inflow's level may also stand out.
    assert!(
        spike && drop,
        "spike {spike}, drop {drop}, leak {leak}: {found:#?}"
    );
}

#[tokio::test]
async fn windows_count_what_arrived_and_processing_again_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (core, faults) = network(&dir).await;
    let south = series_id(&core, "sel_south", "flow_rate").await;
    let days = core
        .store
        .windows(south, Window::Day, everything())
        .await
        .unwrap();
    // Rome days: the first starts at 22:00 UTC the day before, so 21 UTC days touch 22 local ones.
    assert_eq!(days.len(), 22);
    let gap_day = Window::Day.bounds(
        faults.gap.0,
        &jiff::tz::TimeZone::get("Europe/Rome").unwrap(),
    );
    for d in &days {
        let (count, expected) = if d.start == gap_day.0 {
            (72, 96)
        } else {
            (d.count, 96)
        };
        if d.start > start() && d.end < start().plus(i64::from(DAYS) * 86_400) {
            assert_eq!((d.count, d.expected), (count, expected), "{d:?}");
        }
    }
    let hours = core
        .store
        .windows(south, Window::Hour, everything())
        .await
        .unwrap();
    assert_eq!(hours.len(), 21 * 24 - 6);
    assert!(hours.iter().all(|h| h.count == 4 && h.expected == 4));
    // The meter is differenced: a day's increase is the day's flow, never a sum of readings.
    let meter = series_id(&core, "sel_south", "total_volume").await;
    let metered = core
        .store
        .windows(meter, Window::Hour, everything())
        .await
        .unwrap();
    let h = &metered[30];
    assert!(h.sum.is_none());
    let volume = h.delta.unwrap();
    let flow = &hours[30];
    assert_eq!(flow.start, h.start);
    assert!(
        (volume - flow.mean * 3.6).abs() < 0.5,
        "{volume} m³ vs {} L/s",
        flow.mean
    );
    // Nothing changed since: a second pass writes nothing.
    let again = almanac::ops::process::run(&core, everything().end)
        .await
        .unwrap();
    assert_eq!(again.total().inserted, 0, "{again}");
    assert!(again.outcomes.iter().all(|o| o.chunks == 0));
    // Each pass is a run per (location, dataset) with what it wrote.
    let runs = core.store.runs(50).await.unwrap();
    let process: Vec<_> = runs.iter().filter(|r| r.operation == "process").collect();
    assert_eq!(process.len(), 8);
    let written: Vec<u64> = process.iter().map(|r| r.counts.inserted).collect();
    assert!(written[..4].iter().all(|&n| n == 0), "{written:?}");
    assert!(written[4..].iter().all(|&n| n > 0), "{written:?}");
}

#[tokio::test]
async fn efficiency_quality_and_anomalies_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let (core, faults) = network(&dir).await;
    let base = format!("http://{}", serve(almanac::http::router(core)).await);
    let get = |path: String| {
        let url = format!("{base}{path}");
        async move {
            let response = crate::support::client().get(url).send().await.unwrap();
            assert_eq!(response.status(), 200);
            serde_json::from_slice::<serde_json::Value>(&response.bytes().await.unwrap()).unwrap()
        }
    };
    let body =
        get("/api/v1/network/efficiency?start_time=2025-07-02&end_time=2025-07-21".into()).await;
    let rome = jiff::tz::TimeZone::get("Europe/Rome").unwrap();
    let gap_day = Window::Day.bounds(faults.gap.0, &rome).0;
    let mut withheld = 0;
    for w in body["windows"].as_array().unwrap() {
        let start = Timestamp::from_jiff(w["window_start"].as_str().unwrap().parse().unwrap());
        let end = Timestamp::from_jiff(w["window_end"].as_str().unwrap().parse().unwrap());
        let efficiency = w["efficiency_percentage"].as_f64();
        if end > self::start().plus(i64::from(DAYS) * 86_400) {
            // The last local day has two hours of data: no figure, and it says why.
            assert!(
                w["withheld"]
                    .as_str()
                    .unwrap()
                    .contains("below 90 % complete"),
                "{w}"
            );
        } else if start == gap_day {
            assert_eq!(efficiency, None, "{w}");
            assert!(
                w["withheld"].as_str().unwrap().contains("sel_south (75 %)"),
                "{w}"
            );
            withheld += 1;
        } else if end <= faults.leak_from {
            let e = efficiency.unwrap_or_else(|| panic!("{w}"));
            assert!((96.0..98.0).contains(&e), "before the leak {e} {w}");
        } else if start >= faults.leak_from {
            let e = efficiency.unwrap_or_else(|| panic!("{w}"));
            assert!((84.0..89.0).contains(&e), "with the leak {e} {w}");
        }
    }
    assert_eq!(withheld, 1);

    let quality =
        get("/api/v1/quality/sel_north?start_time=2025-07-11&end_time=2025-07-13".into()).await;
    let pressure = quality["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["variable"] == "pressure")
        .unwrap();
    let issues: Vec<(String, String)> = pressure["days"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| {
            d["issues"].as_array().unwrap().iter().map(|i| {
                (
                    d["day"].as_str().unwrap().to_owned(),
                    i["kind"].as_str().unwrap().to_owned(),
                )
            })
        })
        .collect();
    assert_eq!(issues, [("2025-07-12".to_owned(), "flatline".to_owned())]);
    let south =
        get("/api/v1/quality/sel_south?start_time=2025-07-10&end_time=2025-07-10".into()).await;
    let flow = south["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["variable"] == "flow_rate")
        .unwrap();
    let day = &flow["days"][0];
    assert_eq!(
        (day["present"].as_u64(), day["expected"].as_u64()),
        (Some(72), Some(96))
    );
    assert_eq!(day["issues"][0]["kind"], "missing");
    assert_eq!(day["issues"][0]["count"], 24);

    // The processed data are in July 2025: nothing in the last 24 hours, all of it in a year.
    let recent = get("/api/v1/anomalies".into()).await;
    assert_eq!(recent.as_array().unwrap().len(), 0);
    let all = get("/api/v1/anomalies?hours=87840&node_id=sel_tank&severity=high".into()).await;
    assert_eq!(all.as_array().unwrap().len(), 1, "{all}");
    assert_eq!(all[0]["method"], "threshold");
    let history = get("/api/v1/nodes/sel_north/history?start_time=2025-07-16T15:00:00Z&end_time=2025-07-16T15:59:59Z".into()).await;
    assert_eq!(history.as_array().unwrap().len(), 1, "{history}");
    assert_eq!(history[0]["anomaly_count"], 1);
    assert_eq!(history[0]["volume_basis"], "meter_increase");
    let tank =
        get("/api/v1/quality/sel_tank?start_time=2025-07-15&end_time=2025-07-15".into()).await;
    let pressure = tank["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["variable"] == "pressure")
        .unwrap();
    let day = &pressure["days"][0];
    assert_eq!(
        (day["present"].as_u64(), day["rejected"].as_u64()),
        (Some(95), Some(1)),
        "{day}"
    );
    assert_eq!(day["validity"].as_f64(), Some(95.0 / 96.0));
    let kinds: Vec<&str> = day["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["missing", "out_of_range"]);
    let north =
        get("/api/v1/quality/sel_north?start_time=2025-07-06&end_time=2025-07-06".into()).await;
    for series in north["series"].as_array().unwrap() {
        let day = &series["days"][0];
        assert_eq!(day["duplicates"].as_u64(), Some(1), "{day}");
        assert_eq!(
            day["validity"].as_f64(),
            Some(1.0),
            "a duplicate is no invalid reading"
        );
        assert_eq!(day["issues"][0]["kind"], "duplicate");
    }
    let nodes = get("/api/v1/nodes".into()).await;
    assert_eq!(nodes.as_array().unwrap().len(), 4);
    // A site's readings through the native API, at the site's own step and local days (Rome:
    // 2025-07-03 is 22:00 UTC the day before to 22:00 UTC).
    let readings =
        get("/api/v1/locations/sel_north/sensor?start=2025-07-03&end=2025-07-03".into()).await;
    assert_eq!(readings["step_seconds"], 900, "{readings}");
    let time = readings["time"].as_array().unwrap();
    assert_eq!(time.len(), 96, "{readings}");
    assert_eq!(time[0], "2025-07-02T22:00:00+00:00");
    let flow = readings["variables"]["flow_rate"]["values"]
        .as_array()
        .unwrap();
    assert!(
        flow.iter().all(|v| v.as_f64().is_some_and(|f| f > 0.0)),
        "{readings}"
    );
    let days = get(
        "/api/v1/locations/sel_north/sensor?start=2025-07-03&end=2025-07-04&resolution=day".into(),
    )
    .await;
    assert_eq!(
        days["time"].as_array().unwrap().len(),
        2,
        "whole local days: {days}"
    );
}

/// The SIAR daily files' completeness matches their known missing days (`fixtures/SOURCES.md`):
/// 2001 lacks 2 March, 2005 eleven days, 2011 twenty-nine from 17 March.
#[tokio::test]
async fn siar_completeness_finds_the_known_missing_days() {
    let years = [(2001, 1), (2005, 11), (2011, 29)];
    let mut files = Vec::new();
    for (year, _) in years {
        let name = format!("siar-linares/J09_Linares_01_01_{year}_31_12_{year}.csv");
        let Some(path) = crate::support::shared_fixture(&name) else {
            return;
        };
        files.push(path);
    }
    let dir = tempfile::tempdir().unwrap();
    let upstream = serve(almanac::demo::router()).await;
    let linares = "{ name = \"Linares\", country = \"ES\", kind = \"site\", latitude = 38.0931, longitude = -3.6358, timezone = \"Europe/Madrid\", radius_km = 20.0, enabled = false, sources = { weather = [\"siar\"] } }";
    let core = Core::open(config(
        &dir,
        upstream,
        &[("ALMANAC__LOCATIONS__LINARES", linares)],
    ))
    .await
    .unwrap();
    let options = almanac::sources::kinds::Options::default();
    for file in &files {
        let summary = almanac::ops::import::run(
            &core,
            "siar",
            file,
            almanac::ops::import::Target::Location("linares"),
            &options,
        )
        .await
        .unwrap();
        assert!(!summary.failed(), "{summary}");
    }
    let base = format!("http://{}", serve(almanac::http::router(core)).await);
    for (year, missing) in years {
        let url =
            format!("{base}/api/v1/quality/linares?start_time={year}-01-01&end_time={year}-12-31");
        let response = crate::support::client().get(url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let report: serde_json::Value =
            serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        // A day is missing when no variable has a value that day.
        let mut days: std::collections::BTreeMap<String, u64> = Default::default();
        for series in report["series"].as_array().unwrap() {
            for day in series["days"].as_array().unwrap() {
                *days
                    .entry(day["day"].as_str().unwrap().to_owned())
                    .or_default() += day["present"].as_u64().unwrap();
            }
        }
        let absent: Vec<&String> = days
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(d, _)| d)
            .collect();
        assert_eq!(days.len(), if year % 4 == 0 { 366 } else { 365 });
        assert_eq!(absent.len(), missing, "{year}: {absent:?}");
        if year == 2001 {
            assert_eq!(absent, ["2001-03-02"]);
        }
        if year == 2011 {
            assert_eq!(absent[0], "2011-03-17");
        }
    }
}

/// The live views (status, latest metrics, the network's last 24 hours, the dashboard) on a
/// network whose data run up to now, and resolving an anomaly.
#[tokio::test]
async fn live_views_and_resolving_an_anomaly() {
    let dir = tempfile::tempdir().unwrap();
    let today = Timestamp::now().floor(Step::DAY);
    let first = today.plus(-i64::from(DAYS) * 86_400);
    let (core, faults) = network_from(
        &dir,
        first,
        &[("ALMANAC__HTTP__ADMIN_TOKEN", "resolve-token")],
    )
    .await;
    let base = format!("http://{}", serve(almanac::http::router(core)).await);
    let client = crate::support::client();
    let get = |path: &str| {
        let request = client.get(format!("{base}{path}"));
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: serde_json::Value =
                serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
            (status, body)
        }
    };
    let (status, body) = get("/api/v1/status").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("healthy")),
        "{body}"
    );
    let sensor_freshness = body["data_freshness"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["dataset"] == "sensor")
        .count();
    assert_eq!(sensor_freshness, 4);

    let (status, latest) = get("/api/v1/nodes/sel_north/metrics?time_window=1hour").await;
    assert_eq!(status, 200, "{latest}");
    // The last reading is at 23:45 UTC yesterday: its hour is complete.
    assert_eq!(
        latest["window_end"]
            .as_str()
            .map(|s| s.parse::<jiff::Timestamp>().unwrap()),
        Some(today.to_jiff())
    );
    assert_eq!(latest["data_completeness"].as_f64(), Some(1.0));
    assert!(
        (latest["pressure"].as_f64().unwrap() - 4.4).abs() < 0.06,
        "{latest}"
    );

    // The last 24 hours are whole hours up to now: today's hours have no data yet, so the
    // figure is withheld and says why; the leak shows in the dashboard's network all the same.
    let (status, net) = get("/api/v1/network/metrics?time_range=30d").await;
    assert_eq!(status, 200, "{net}");
    assert_eq!(
        (net["total_nodes"].as_u64(), net["active_nodes"].as_u64()),
        (Some(4), Some(4))
    );
    assert!(net["anomaly_count"].as_u64().unwrap() >= 2, "{net}");
    let (status, dash) = get("/api/v1/dashboard/summary").await;
    assert_eq!(status, 200, "{dash}");
    assert_eq!(dash["nodes"].as_array().unwrap().len(), 4);
    assert_eq!(
        dash["last_update"]
            .as_str()
            .map(|s| s.parse::<jiff::Timestamp>().unwrap()),
        Some(today.plus(-900).to_jiff()),
        "the newest reading, 23:45 yesterday"
    );
    let yesterday_scores: Vec<f64> = dash["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["quality_score"].as_f64().unwrap())
        .collect();
    assert!(yesterday_scores.iter().all(|&s| s > 0.0), "{dash}");

    // Resolve the spike: admin only, once.
    let (_, spikes) = get("/api/v1/anomalies?hours=2000&node_id=sel_north").await;
    let spike = spikes
        .as_array()
        .unwrap()
        .iter()
        .find(|a| {
            a["ts"]
                .as_str()
                .unwrap()
                .parse::<jiff::Timestamp>()
                .unwrap()
                == faults.spike.to_jiff()
        })
        .unwrap();
    let url = format!("{base}/api/v1/anomalies/{}/resolve", spike["id"]);
    let denied = client.post(&url).send().await.unwrap();
    assert_eq!(denied.status(), 401);
    let done = client
        .post(&url)
        .bearer_auth("resolve-token")
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    let again = client
        .post(&url)
        .bearer_auth("resolve-token")
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
    let (_, open) = get("/api/v1/anomalies?hours=2000&node_id=sel_north").await;
    assert!(
        open.as_array()
            .unwrap()
            .iter()
            .all(|a| a["id"] != spike["id"])
    );
    let (_, all) =
        get("/api/v1/anomalies?hours=2000&node_id=sel_north&include_resolved=true").await;
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == spike["id"] && a["resolved_at"].is_string())
    );

    // A window shorter than the nodes' 15-minute readings does not exist: a 400, not a 200
    // of nulls.
    let (status, body) = get("/api/v1/nodes/sel_north/metrics?time_window=5min").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_parameter")),
        "{body}"
    );
    // The store gauges count a site's sensor readings (their step is the series', not the
    // dataset's), with a last-update time.
    let metrics = crate::support::metrics_text(&base).await;
    let gauge = |name: &str| {
        let series = format!("{name}{{city=\"sel_north\",data_type=\"sensor\"}}");
        crate::support::metric(&metrics, &series)
            .unwrap_or_else(|| panic!("no {series}:\n{metrics}"))
    };
    assert!(gauge("external_city_data_records") > 1_000.0);
    // Every answer's latency by route template (not the raw path) and status.
    for expected in [
        "external_api_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/nodes/{id}/metrics\",status=\"400\"} 1",
        "external_api_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/status\",status=\"200\",le=\"5\"}",
        "# TYPE external_cache_hit_total counter",
    ] {
        assert!(metrics.contains(expected), "{expected} missing:\n{metrics}");
    }
    assert!(gauge("external_city_data_last_update_timestamp") > first.epoch() as f64);
}

/// Energy features over the simulated REE prices: every stored hour has its 2.0TD period and
/// the hours and days line up with the local calendar.
#[tokio::test]
async fn energy_features_of_the_stored_prices() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = serve(almanac::demo::router()).await;
    let core = crate::support::loaded(
        &dir,
        upstream,
        &[("ALMANAC__LOCATIONS__ES_PENINSULAR__ENABLED", "true")],
    )
    .await;
    let base = format!("http://{}", serve(almanac::http::router(core)).await);
    let day = Timestamp::now().plus(-3 * 86_400).utc_date();
    let url = format!(
        "{base}/api/v1/locations/madrid/energy_features?start={day}&end={day}&variable=spot"
    );
    let response = crate::support::client().get(url).send().await.unwrap();
    let status = response.status();
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["zone"].as_str(), body["tariff"].as_str()),
        (Some("es_peninsular"), Some("2.0TD"))
    );
    let hours = body["hours"].as_array().unwrap();
    assert_eq!(hours.len(), 24, "a UTC day of hourly prices");
    let madrid = jiff::tz::TimeZone::get("Europe/Madrid").unwrap();
    for h in hours {
        let ts = Timestamp::from_jiff(h["ts"].as_str().unwrap().parse().unwrap());
        let expected = format!(
            "{:?}",
            almanac::domain::energy::period(
                ts,
                &madrid,
                &almanac::domain::calendar::Calendars::embedded(),
            )
        );
        assert_eq!(h["period"].as_str(), Some(expected.as_str()));
        assert!(
            h["volatility_24h"].is_number(),
            "a month of history before: {h}"
        );
    }
    let trend = hours[1]["price"].as_f64().unwrap() - hours[0]["price"].as_f64().unwrap();
    assert!((hours[1]["trend_1h"].as_f64().unwrap() - trend).abs() < 1e-9);
}
