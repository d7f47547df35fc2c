//! The binary itself: `init` killed mid-way and re-run, `config`, `locations nearest`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use almanac::store::{Sqlite, Store};
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;

use crate::support::serve;

fn almanac(dir: &tempfile::TempDir, upstream: std::net::SocketAddr) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_almanac"));
    command
        .arg("--data-dir")
        .arg(dir.path())
        .env(
            "ALMANAC__SOURCES__OPEN_METEO__ARCHIVE_URL",
            format!("http://{upstream}/v1/archive"),
        )
        .env(
            "ALMANAC__SOURCES__OPEN_METEO__FORECAST_URL",
            format!("http://{upstream}/v1/forecast"),
        )
        .env("ALMANAC_LOG", "warn")
        .stdin(Stdio::null());
    command
}

async fn slow(request: Request, next: Next) -> Response {
    tokio::time::sleep(Duration::from_millis(250)).await;
    next.run(request).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_killed_mid_way_completes_on_rerun_with_no_duplicates() {
    let upstream = serve(almanac::demo::upstream::router().layer(middleware::from_fn(slow))).await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = almanac(&dir, upstream)
        .args(["init", "--months", "8"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();

    let store = loop {
        if let Ok(store) = Sqlite::open(&dir.path().join("almanac.db")).await {
            break store;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let started = Instant::now();
    while store.extent(&[1, 2, 3, 4, 5, 6, 7]).await.unwrap().instants == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no chunk was ever committed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let killed = store.runs(1).await.unwrap().remove(0);
    assert_eq!(
        killed.status,
        almanac::domain::RunStatus::Running,
        "the killed run never finished"
    );
    assert!(killed.counts.inserted > 0);

    let mut again = almanac(&dir, upstream);
    again.args(["init", "--months", "8"]);
    let rerun = tokio::task::spawn_blocking(move || again.output())
        .await
        .unwrap()
        .unwrap();
    let report = String::from_utf8_lossy(&rerun.stdout);
    assert!(
        rerun.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    assert!(report.contains(" 0 failed"), "{report}");

    let runs = store.runs(10).await.unwrap();
    let inserted: u64 = runs.iter().map(|r| r.counts.inserted).sum();
    let mut per_series = Vec::new();
    for id in 1..=almanac::domain::series::WEATHER_HOURLY.len() as i64 {
        per_series.push(store.extent(&[id]).await.unwrap().instants);
    }
    assert!(
        per_series.iter().all(|n| *n == per_series[0]),
        "no partial chunk: {per_series:?}"
    );
    assert_eq!(
        inserted,
        per_series.iter().sum::<u64>(),
        "every stored value was inserted once, by one of the two runs"
    );
    assert!(per_series[0] >= 8 * 28 * 24, "{per_series:?}");
}

#[test]
fn config_prints_the_effective_settings_with_secrets_redacted() {
    let output = Command::new(env!("CARGO_BIN_EXE_almanac"))
        .arg("config")
        .env("ALMANAC__SOURCES__OPEN_METEO__API_KEY", "very-secret")
        .env("ALMANAC__INIT__MONTHS", "12")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    assert!(
        text.contains("months = 12")
            && text.contains("[redacted]")
            && !text.contains("very-secret"),
        "{text}"
    );
}

#[test]
fn unknown_config_keys_stop_the_start_with_every_problem() {
    let output = Command::new(env!("CARGO_BIN_EXE_almanac"))
        .arg("config")
        .env("ALMANAC__HTTP__LISTN", "x")
        .env("ALMANAC__INIT__MONTHS", "many")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text.contains("http.listn") && text.contains("init.months"),
        "{text}"
    );
}

#[test]
fn locations_nearest_answers_covered_and_not_covered() {
    let run = |lat: &str, lon: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_almanac"))
            .args(["locations", "nearest", "--lat", lat, "--lon", lon])
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, out, _) = run("40.45", "-3.69");
    assert_eq!(code, Some(0));
    assert!(
        out.starts_with("madrid (Madrid) at 3.87 km, within its 30 km radius"),
        "{out}"
    );
    let (code, out, _) = run("40.0", "-30.0");
    assert_eq!(code, Some(1));
    assert!(
        out.contains("not covered") && out.contains("outside its 30 km radius"),
        "{out}"
    );
    let (code, _, err) = run("91", "0");
    assert_eq!(code, Some(2));
    assert!(err.contains("latitude must be"), "{err}");
}
