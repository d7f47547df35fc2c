//! The binary itself: `init` killed mid-way and re-run, `config`, `locations nearest`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;

use crate::support::serve;

fn almanac(dir: &tempfile::TempDir, upstream: std::net::SocketAddr) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_almanac"));
    if let Some(url) = crate::support::postgres_for(dir) {
        command.env("ALMANAC__STORE__URL", url);
    }
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
        .env("ALMANAC__LOCATIONS__ES_PENINSULAR__ENABLED", "false")
        .env("ALMANAC__LOCATIONS__MADRID__SOURCES__TRAFFIC", "[]")
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
    let log = dir.path().join("stderr.log");
    let mut child = almanac(&dir, upstream)
        .args(["init", "--months", "8"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();

    let store = loop {
        if let Ok(store) = crate::support::open_store(&dir).await {
            break store;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let started = Instant::now();
    while store.extent(&[1, 2, 3, 4, 5, 6, 7]).await.unwrap().instants == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no chunk was ever committed; the child said: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
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
fn an_empty_admin_token_stops_serve_before_it_listens() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_almanac"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("ALMANAC__STORE__DATA_DIR", dir.path())
        .env("ALMANAC__HTTP__ADMIN_TOKEN", "")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("http.admin_token is set but empty"), "{text}");
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

#[test]
fn sources_list_shows_every_source_and_its_budgets() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_almanac"))
        .args([
            "--data-dir",
            dir.path().to_str().unwrap(),
            "sources",
            "list",
        ])
        .env("ALMANAC_LOG", "warn")
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    for id in ["open_meteo", "aemet", "aemet_obs", "ree", "madrid_traffic"] {
        assert!(
            text.lines().any(|l| l.starts_with(id)),
            "{id} missing:\n{text}"
        );
    }
    let open_meteo = text.lines().find(|l| l.starts_with("open_meteo")).unwrap();
    assert!(
        open_meteo.contains("600/60s 5000/3600s 10000/86400s"),
        "{open_meteo}"
    );
    assert!(
        open_meteo.contains("never") && open_meteo.contains("closed"),
        "{open_meteo}"
    );
}

fn parse(args: &[&str]) -> (bool, Vec<serde_json::Value>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_almanac"))
        .args(["sources", "parse"])
        .args(args)
        .env("ALMANAC_LOG", "warn")
        .output()
        .unwrap();
    let lines = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (
        output.status.success(),
        lines,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn sources_parse_prints_observations_and_rejects_as_json_lines() {
    let history = crate::support::own_fixture("madrid_history_2025-10_sample.csv");
    let (ok, lines, stderr) = parse(&["madrid_history", history.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let intensity: Vec<_> = lines
        .iter()
        .filter(|l| l["variable"] == "intensity")
        .map(|l| {
            (
                l["point"].as_str().unwrap(),
                l["time"].as_str().unwrap(),
                l["value"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        intensity,
        vec![
            ("1001", "2025-10-25T23:45:00+00:00", 1200.0),
            ("1001", "2025-10-26T00:00:00+00:00", 1100.0),
            ("1001", "2025-10-26T01:00:00+00:00", 1050.0),
            ("1001", "2025-10-26T02:00:00+00:00", 900.0),
            ("3409", "2025-10-25T23:45:00+00:00", 320.0),
        ]
    );
    let rejects: Vec<_> = lines.iter().filter_map(|l| l["reject"].as_str()).collect();
    assert_eq!(rejects.len(), 2, "{rejects:?}");
    assert!(rejects.iter().any(|r| r.contains("error = S")));
    assert!(rejects.iter().any(|r| r.contains("not a number")));
    assert!(stderr.contains("2 rejected"), "{stderr}");

    // The same rows from inside a ZIP, streamed.
    let dir = tempfile::tempdir().unwrap();
    let zip_path = dir.path().join("10-2025.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    zip.start_file("10-2025.csv", zip::write::SimpleFileOptions::default())
        .unwrap();
    std::io::Write::write_all(&mut zip, &std::fs::read(&history).unwrap()).unwrap();
    zip.finish().unwrap();
    let (ok, zipped, stderr) = parse(&["madrid_history", zip_path.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert_eq!(zipped, lines);

    let (ok, _, stderr) = parse(&["no_such_kind", history.to_str().unwrap()]);
    assert!(!ok && stderr.contains("almanac sources kinds"), "{stderr}");
    let (ok, _, stderr) = parse(&["ree_apidatos", history.to_str().unwrap()]);
    assert!(!ok && stderr.contains("malformed"), "{stderr}");
}

#[test]
fn sources_parse_prints_an_aemet_forecast_with_its_issue_time() {
    let forecast = crate::support::own_fixture("aemet_forecast_hourly_28079.json");
    let (ok, lines, stderr) = parse(&["aemet_forecast_hourly", forecast.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("238 observations, 0 points, 0 rejected"),
        "{stderr}"
    );
    assert!(
        lines
            .iter()
            .all(|l| l["issued"] == "2024-10-25T09:06:57+00:00" && l["municipality"] == "28079")
    );
    let at = |variable: &str, time: &str| {
        lines
            .iter()
            .find(|l| l["variable"] == variable && l["time"] == time)
            .map(|l| {
                (
                    l["value"].as_f64().unwrap(),
                    l["unit"].as_str().unwrap(),
                    l["flag"].as_str().unwrap(),
                )
            })
    };
    assert_eq!(
        at("temperature", "2024-10-27T02:00:00+00:00"),
        Some((8.0, "°C", "observed"))
    );
    assert_eq!(
        at("precipitation", "2024-10-26T12:00:00+00:00"),
        Some((0.0, "mm", "trace"))
    );
    assert_eq!(
        at("wind_speed", "2024-10-26T13:00:00+00:00"),
        Some((6.944, "m/s", "observed"))
    );
}

#[test]
fn sources_parse_reads_recorded_payloads_of_every_provider() {
    let cases = [
        (
            "ree_apidatos",
            "ree/aiopvpc__PRICES_APIDATOS_2021_10_31.json",
            50,
            0,
        ),
        (
            "aemet_observations",
            "aemet/homeassistant__station-3195-data_observacion_convencional.json",
            92,
            0,
        ),
        (
            "csv:abbanoa",
            "abbanoa-dbdump/sensor_readings_2025-07-17_to_20.csv",
            9216,
            0,
        ),
        (
            "madrid_points",
            "madrid-traffic/azazeln28__pmed_ubicacion_2016_cp1252_crlf.csv",
            0,
            3868,
        ),
    ];
    for (kind, file, observations, rejects) in cases {
        let Some(path) = crate::support::shared_fixture(file) else {
            return;
        };
        let (ok, lines, stderr) = parse(&[kind, path.to_str().unwrap()]);
        assert!(ok, "{kind}: {stderr}");
        let seen = lines.iter().filter(|l| l.get("variable").is_some()).count();
        let refused = lines.iter().filter(|l| l.get("reject").is_some()).count();
        assert_eq!((seen, refused), (observations, rejects), "{kind}");
    }
    let Some(pm) = crate::support::shared_fixture(
        "madrid-traffic/sentinel__pm_xml_snapshot_2018-02_old_format.xml",
    ) else {
        return;
    };
    let (ok, _, stderr) = parse(&["madrid_pm", pm.to_str().unwrap()]);
    assert!(!ok && stderr.contains("no <fecha_hora>"), "{stderr}");
    let (ok, lines, stderr) = parse(&[
        "madrid_pm",
        pm.to_str().unwrap(),
        "--at",
        "2018-02-24T10:07:00Z",
    ]);
    assert!(ok, "{stderr}");
    assert_eq!(lines[0]["time"], "2018-02-24T09:45:00+00:00");
}

#[test]
fn import_then_runs_and_rejects_show_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("almanac.toml");
    std::fs::write(
        &config,
        "[locations.linares]\nname = \"Linares\"\ncountry = \"ES\"\nkind = \"site\"\nlatitude = 38.0931\nlongitude = -3.6358\ntimezone = \"Europe/Madrid\"\nradius_km = 20.0\nenabled = false\nsources = { weather = [\"siar\"] }\n",
    )
    .unwrap();
    // A SIAR export as the station writes it (UTF-16LE, `;`, decimal commas), one row broken.
    let siar = dir.path().join("linares.csv");
    let text = "IdProvincia;IdEstacion;Fecha;Año;Dia;Temp Media (ºC);Precipitación (mm)\r\n\
                23;17;01/01/2022;2022;1;9,54;0\r\n\
                23;17;02/01/2022;2022;2;8,1;x\r\n";
    let bytes: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    std::fs::write(&siar, bytes).unwrap();
    let almanac = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_almanac"))
            .arg("--data-dir")
            .arg(dir.path())
            .arg("--config")
            .arg(&config)
            .args(args)
            .env("ALMANAC_LOG", "warn")
            .output()
            .unwrap()
    };
    let imported = almanac(&[
        "import",
        "siar",
        siar.to_str().unwrap(),
        "--location",
        "linares",
    ]);
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let summary = String::from_utf8_lossy(&imported.stdout);
    assert!(
        summary.contains("3 inserted") && summary.contains("1 rejected"),
        "{summary}"
    );

    let runs = almanac(&["runs", "--json"]);
    let run: serde_json::Value = serde_json::from_str(
        String::from_utf8_lossy(&runs.stdout)
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (run["operation"].as_str(), run["source"].as_str()),
        (Some("import"), Some("siar"))
    );
    assert_eq!(run["counts"]["rejected"], 1);
    let id = run["id"].to_string();
    let rejects = almanac(&["rejects", &id, "--json"]);
    let reject: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&rejects.stdout).trim()).unwrap();
    assert!(
        reject["reason"]
            .as_str()
            .unwrap()
            .contains("not a decimal number"),
        "{reject}"
    );
    assert!(
        reject["record"].as_str().unwrap().contains("02/01/2022")
            || reject["record"].as_str().unwrap().contains("2022-01-02"),
        "{reject}"
    );
    assert_eq!(almanac(&["rejects", "4242"]).status.code(), Some(1));
}

#[test]
fn the_whole_cycle_runs_offline_with_demo() {
    let dir = tempfile::tempdir().unwrap();
    let almanac = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_almanac"))
            .arg("--demo")
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            // A one-month window keeps the backfill to what this test deletes.
            .env("ALMANAC__INIT__MONTHS", "1")
            .env("ALMANAC_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    almanac(&["init"]);
    let day = almanac::domain::Timestamp::now()
        .plus(-10 * 86_400)
        .utc_date()
        .to_string();
    let deleted = almanac(&[
        "delete",
        "--location",
        "madrid",
        "--dataset",
        "weather",
        "--source",
        "open_meteo",
        "--from",
        &day,
        "--to",
        &day,
    ]);
    assert!(deleted.ends_with("168 values deleted\n"), "{deleted}");
    // The removal is a run like every other write, with what it covered.
    let runs = almanac(&["runs", "--json"]);
    let delete_run = runs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|r| r["operation"] == "delete")
        .unwrap_or_else(|| panic!("no delete run in:\n{runs}"));
    assert_eq!(
        (
            delete_run["status"].as_str(),
            delete_run["location"].as_str(),
            delete_run["source"].as_str()
        ),
        (Some("succeeded"), Some("madrid"), Some("open_meteo"))
    );
    let gaps = almanac(&[
        "gaps",
        "--location",
        "madrid",
        "--dataset",
        "weather",
        "--source",
        "open_meteo",
        "--from",
        &day,
        "--to",
        &day,
        "--json",
    ]);
    for line in gaps.lines() {
        let series: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            (
                series["present"].as_u64(),
                series["gaps"][0]["missing"].as_u64()
            ),
            (Some(0), Some(24))
        );
    }
    let plan = almanac(&["backfill", "--dry-run", "--location", "madrid"]);
    let part = format!("madrid weather from open_meteo: {day}T00:00:00+00:00");
    assert!(plan.contains(&part), "{plan}");
    assert_eq!(
        almanac(&[
            "gaps",
            "--location",
            "madrid",
            "--dataset",
            "weather",
            "--source",
            "open_meteo",
            "--from",
            &day,
            "--to",
            &day,
            "--json"
        ]),
        gaps,
        "a dry run changes nothing"
    );
    let done = almanac(&["backfill", "--location", "madrid"]);
    assert!(done.contains("168 inserted"), "{done}");
    let healed = almanac(&[
        "gaps",
        "--location",
        "madrid",
        "--dataset",
        "weather",
        "--source",
        "open_meteo",
        "--from",
        &day,
        "--to",
        &day,
        "--json",
    ]);
    assert!(
        healed.lines().all(|l| l.contains("\"gaps\":[]")),
        "{healed}"
    );
}

#[test]
fn schedule_lists_the_jobs_and_refuses_a_bad_cron() {
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[(&str, &str)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_almanac"));
        command
            .args(["--data-dir", dir.path().to_str().unwrap(), "schedule"])
            .env("ALMANAC_LOG", "warn");
        for (k, v) in extra {
            command.env(k, v);
        }
        command.output().unwrap()
    };
    let ok = run(&[]);
    assert!(ok.status.success());
    let text = String::from_utf8(ok.stdout).unwrap();
    for (job, cron) in [
        ("ingest", "*/15 * * * *"),
        ("gaps", "0 */2 * * *"),
        ("backfill", "0 1 * * *"),
        ("rotate", "0 2 1 * *"),
    ] {
        let line = text
            .lines()
            .find(|l| l.starts_with(job))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(line.contains(cron) && line.ends_with("never"), "{line}");
    }
    let bad = run(&[("ALMANAC__SCHEDULE__ROTATE", "\"0 25 1 * *\"")]);
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("schedule.rotate") && stderr.contains("hour"),
        "{stderr}"
    );
    let off = run(&[("ALMANAC__SCHEDULE__ROTATE", "off")]);
    assert!(
        off.status.success(),
        "{}",
        String::from_utf8_lossy(&off.stderr)
    );
    let text = String::from_utf8(off.stdout).unwrap();
    let rotate = text.lines().find(|l| l.starts_with("rotate")).unwrap();
    assert!(
        rotate.contains("off") && !rotate.contains("2026-"),
        "an off job has no next run: {rotate}"
    );
}

/// `almanac forecast` stores the forecasts as issued now; `almanac frame` writes a frame with
/// them, as CSV to stdout and as Parquet to a file, and refuses bad input with a reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forecast_then_frame_writes_csv_and_parquet() {
    let upstream = serve(almanac::demo::upstream::router()).await;
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let output = almanac(&dir, upstream).args(args).output().unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (ok, out, err) = run(&["forecast"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("madrid/open_meteo_forecast"), "{out}");
    let tomorrow = almanac::domain::Timestamp::now()
        .plus(86_400)
        .utc_date()
        .to_string();
    let (ok, csv, err) = run(&[
        "frame",
        "madrid",
        "--start",
        &tomorrow,
        "--end",
        &tomorrow,
        "--columns",
        "forecast.temperature,calendar.weekday",
    ]);
    assert!(ok, "{err}");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("time,local_time,forecast.temperature,calendar.weekday")
    );
    let rows: Vec<&str> = lines.collect();
    assert!((23..=25).contains(&rows.len()), "{csv}");
    assert!(
        rows.iter().all(|r| r
            .split(',')
            .nth(2)
            .is_some_and(|t| t.parse::<f64>().is_ok())),
        "{csv}"
    );
    let file = dir.path().join("frame.parquet");
    let (ok, _, err) = run(&[
        "frame",
        "madrid",
        "--start",
        &tomorrow,
        "--end",
        &tomorrow,
        "--format",
        "parquet",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let bytes = std::fs::read(&file).unwrap();
    assert!(bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"));
    for (args, reason) in [
        (
            &["frame", "madrid", "--start", "soon", "--end", &tomorrow][..],
            "not a date",
        ),
        (
            &[
                "frame", "atlantis", "--start", &tomorrow, "--end", &tomorrow,
            ][..],
            "no enabled location",
        ),
        (
            &[
                "frame",
                "madrid",
                "--start",
                &tomorrow,
                "--end",
                &tomorrow,
                "--columns",
                "weather.nope",
            ][..],
            "not a column",
        ),
        (
            &[
                "frame", "madrid", "--start", &tomorrow, "--end", &tomorrow, "--format", "xlsx",
            ][..],
            "--format is",
        ),
    ] {
        let (ok, _, err) = run(args);
        assert!(!ok && err.contains(reason), "{args:?}: {err}");
    }
}
