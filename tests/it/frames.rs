//! Training frames over HTTP: a month of Madrid's weather, traffic and prices loaded from the
//! simulated upstream, then one local day as a frame (hourly and daily; JSON, CSV, Arrow and
//! Parquet), checked against the native series answers, the calendar's columns, and `as_of`.

use almanac::domain::Timestamp;
use serde_json::Value;

use crate::support::{client, loaded, serve};

async fn get(base: &str, path: &str) -> (u16, Value) {
    let response = client().get(format!("{base}{path}")).send().await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn column<'a>(frame: &'a Value, name: &str) -> &'a Value {
    frame["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no column {name}: {frame}"))
}

#[tokio::test]
async fn a_day_of_madrid_on_one_grid_with_its_calendar() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = serve(almanac::demo::router()).await;
    let core = loaded(
        &dir,
        upstream,
        &[
            ("ALMANAC__LOCATIONS__ES_PENINSULAR__ENABLED", "true"),
            (
                "ALMANAC__LOCATIONS__MADRID__SOURCES__TRAFFIC",
                "[\"madrid_traffic\"]",
            ),
        ],
    )
    .await;
    let base = format!("http://{}", serve(almanac::http::router(core)).await);
    // The last day of the previous month: a complete month, so its traffic history is there.
    let today = Timestamp::now().utc_date();
    let day = today.first_of_month().yesterday().unwrap();
    let (status, frame) = get(
        &base,
        &format!("/api/v1/locations/madrid/frame?start={day}&end={day}"),
    )
    .await;
    assert_eq!(status, 200, "{frame}");
    let rows = frame["time"].as_array().unwrap().len();
    assert!((23..=25).contains(&rows), "one local day of hours: {rows}");
    assert!(
        frame["local_time"][0]
            .as_str()
            .unwrap()
            .starts_with(&format!("{day}T00:00:00"))
    );

    // Weather as stored, traffic as the hourly means of its quarter hours, prices from the
    // price zone: each the same as the native answer for the day.
    let native = |dataset: &str, variable: &str| {
        let base = base.clone();
        let variable = variable.to_owned();
        let path = format!(
            "/api/v1/locations/madrid/{dataset}?start={day}&end={day}&resolution=hour&variables={variable}"
        );
        async move { get(&base, &path).await.1["variables"][&variable]["values"].clone() }
    };
    for (dataset, variable) in [
        ("weather", "temperature"),
        ("traffic", "intensity"),
        ("energy_price", "pvpc"),
    ] {
        let c = column(&frame, &format!("{dataset}.{variable}"));
        assert_eq!(c["known_in_advance"], false);
        assert_eq!(
            c["values"],
            native(dataset, variable).await,
            "{dataset}.{variable}"
        );
        assert!(
            c["values"].as_array().unwrap().iter().all(Value::is_number),
            "{c}"
        );
    }
    let weekday = column(&frame, "calendar.weekday");
    assert_eq!(weekday["known_in_advance"], true);
    assert_eq!(
        weekday["values"][0].as_str().unwrap(),
        format!("{:?}", day.weekday()).to_lowercase()
    );
    let periods: Vec<&str> = column(&frame, "calendar.tariff_period")["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        periods.iter().all(|p| ["P1", "P2", "P3"].contains(p)),
        "{periods:?}"
    );

    // A day's row: the mean of the day's temperatures.
    let (_, daily) = get(&base, &format!("/api/v1/locations/madrid/frame?start={day}&end={day}&resolution=day&columns=weather.temperature,calendar")).await;
    assert_eq!(daily["time"].as_array().unwrap().len(), 1, "{daily}");
    let hours: Vec<f64> = column(&frame, "weather.temperature")["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let mean = hours.iter().sum::<f64>() / hours.len() as f64;
    let day_mean = column(&daily, "weather.temperature")["values"][0]
        .as_f64()
        .unwrap();
    assert!((day_mean - mean).abs() < 0.01, "{day_mean} vs {mean}");
    assert_eq!(
        column(&daily, "calendar.tariff_period")["values"][0],
        Value::Null
    );

    // As of long before anything was loaded: nothing to build a frame from, said plainly (the
    // issue's "as_of before any data" is a 4xx, not a frame of nulls).
    let (status, before) = get(&base, &format!("/api/v1/locations/madrid/frame?start={day}&end={day}&columns=weather.temperature,calendar.weekend&as_of=2001-01-01T00:00:00Z")).await;
    assert_eq!(
        (status, before["code"].as_str()),
        (404, Some("nothing_as_of")),
        "{before}"
    );
    // As of now: everything.
    let now = Timestamp::now().plus(5).to_string();
    let (_, current) = get(&base, &format!("/api/v1/locations/madrid/frame?start={day}&end={day}&columns=weather.temperature&as_of={}", now.replace('+', "%2B"))).await;
    assert_eq!(
        column(&current, "weather.temperature")["values"],
        column(&frame, "weather.temperature")["values"],
        "{current}"
    );

    // CSV: a header and a line per row.
    let text = client()
        .get(format!("{base}/api/v1/locations/madrid/frame?start={day}&end={day}&format=csv&columns=weather.temperature,calendar.holiday"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "time,local_time,weather.temperature,calendar.holiday"
    );
    assert_eq!(lines.len(), rows + 1);

    // Arrow: an IPC stream (pyarrow and polars read it in CI, `.ci/readers.sh`).
    let arrow = client()
        .get(format!(
            "{base}/api/v1/locations/madrid/frame?start={day}&end={day}&format=arrow"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        arrow.headers()["content-type"],
        "application/vnd.apache.arrow.stream"
    );
    let bytes = arrow.bytes().await.unwrap();
    assert_eq!(
        bytes[..4],
        [0xFF; 4],
        "a message starts with the continuation marker"
    );
    assert_eq!(
        bytes[bytes.len() - 8..],
        [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0],
        "end of stream"
    );
    assert!(bytes.windows(19).any(|w| w == b"weather.temperature"));

    // Parquet: a file (polars, pandas and pyarrow read it in CI, `.ci/readers.sh`). polars
    // reads a URL's tail first: the footer's length and the magic, as a 206.
    let url = format!("{base}/api/v1/locations/madrid/frame?start={day}&end={day}&format=parquet");
    let parquet = client().get(&url).send().await.unwrap();
    assert_eq!(
        parquet.headers()["content-type"],
        "application/vnd.apache.parquet"
    );
    let bytes = parquet.bytes().await.unwrap();
    assert_eq!(bytes[..4], *b"PAR1");
    assert_eq!(bytes[bytes.len() - 4..], *b"PAR1");
    let footer = u32::from_le_bytes(bytes[bytes.len() - 8..bytes.len() - 4].try_into().unwrap());
    assert!((footer as usize) < bytes.len() - 12, "{footer}");
    assert!(bytes.windows(19).any(|w| w == b"weather.temperature"));
    let tail = client()
        .get(&url)
        .header("range", "bytes=-8")
        .send()
        .await
        .unwrap();
    assert_eq!(tail.status(), 206);
    assert_eq!(
        tail.headers()["content-range"],
        format!(
            "bytes {}-{}/{}",
            bytes.len() - 8,
            bytes.len() - 1,
            bytes.len()
        )
        .as_str()
    );
    assert_eq!(tail.bytes().await.unwrap(), bytes.slice(bytes.len() - 8..));
    let (status, body) = get(
        &base,
        &format!("/api/v1/locations/madrid/frame?start={day}&end={day}&format=xlsx"),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["detail"].as_str().unwrap().contains("parquet"),
        "{body}"
    );

    // A year the holiday calendar does not hold: said, not guessed; the weekday needs none.
    let (status, body) = get(
        &base,
        "/api/v1/locations/madrid/frame?start=2031-01-01&end=2031-01-01&columns=calendar.holiday",
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("calendar_not_available")),
        "{body}"
    );
    let (status, _) = get(
        &base,
        "/api/v1/locations/madrid/frame?start=2031-01-01&end=2031-01-01&columns=calendar.weekday",
    )
    .await;
    assert_eq!(status, 200);

    for (path, code) in [
        (
            format!("/api/v1/locations/madrid/frame?start={day}&end={day}&columns=weather.nope"),
            "unknown_variable",
        ),
        (
            format!("/api/v1/locations/madrid/frame?start={day}"),
            "missing_parameter",
        ),
        (
            format!("/api/v1/locations/madrid/frame?start={day}&end={day}&resolution=week"),
            "invalid_parameter",
        ),
        (
            format!("/api/v1/locations/madrid/frame?start={day}&end={day}&as_of=soon"),
            "invalid_date",
        ),
    ] {
        let (status, body) = get(&base, &path).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some(code)),
            "{path}: {body}"
        );
    }
}

/// The native series answer in the binary formats: an Arrow stream and a Parquet file, with
/// their content types, cached like the JSON (a second request is a 304 on its ETag), and a
/// bad format naming them.
#[tokio::test]
async fn a_series_answer_is_written_as_arrow_and_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = serve(almanac::demo::router()).await;
    let core = loaded(&dir, upstream, &[]).await;
    let base = format!("http://{}", serve(almanac::http::router(core)).await);
    let day = Timestamp::now().plus(-2 * 86_400).utc_date();
    let path =
        format!("/api/v1/locations/madrid/weather?start={day}&end={day}&variables=temperature");
    for (format, content_type) in [
        ("arrow", "application/vnd.apache.arrow.stream"),
        ("parquet", "application/vnd.apache.parquet"),
    ] {
        let url = format!("{base}{path}&format={format}");
        let response = client().get(&url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], content_type);
        let etag = response.headers()["etag"].clone();
        let body = response.bytes().await.unwrap();
        match format {
            // An IPC stream: the continuation marker, then the schema message; the end marker.
            "arrow" => {
                assert_eq!(body[..4], [0xFF; 4]);
                assert_eq!(body[body.len() - 8..], [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]);
            }
            _ => assert!(body.starts_with(b"PAR1") && body.ends_with(b"PAR1")),
        }
        let again = client()
            .get(&url)
            .header("if-none-match", etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{format}");
    }
    let (status, body) = get(&base, &format!("{path}&format=xlsx")).await;
    assert_eq!(status, 400);
    assert!(
        body["detail"].as_str().unwrap().contains("parquet"),
        "{body}"
    );
}

/// `fill` on a frame: only missing cells of series columns change, each counted in the
/// column's `filled`; the calendar is left alone; a bad fill is a 400.
#[tokio::test]
async fn a_frame_fills_short_runs_of_missing_rows_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = serve(almanac::demo::router()).await;
    let core = loaded(&dir, upstream, &[]).await;
    let base = format!("http://{}", serve(almanac::http::router(core)).await);
    // Today and tomorrow: observations stop at the last hour, so the rows after it are missing.
    let today = Timestamp::now().utc_date();
    let tomorrow = Timestamp::now().plus(86_400).utc_date();
    let path = format!(
        "/api/v1/locations/madrid/frame?start={today}&end={tomorrow}&columns=weather.temperature,calendar.weekend"
    );
    let (_, plain) = get(&base, &path).await;
    let before = column(&plain, "weather.temperature")["values"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        before.iter().any(Value::is_null),
        "the future hours are missing"
    );
    // The run after the last observation is a day or more: filled with a large max_gap only.
    let (status, filled) = get(&base, &format!("{path}&fill=locf&max_gap=1000")).await;
    assert_eq!(status, 200, "{filled}");
    let after = column(&filled, "weather.temperature");
    let after_values = after["values"].as_array().unwrap();
    let changed = before
        .iter()
        .zip(after_values)
        .filter(|(b, a)| b != a)
        .inspect(|(b, a)| assert!(b.is_null() && a.is_number(), "{b} → {a}"))
        .count();
    assert!(changed >= 24, "{changed}");
    assert_eq!(after["filled"].as_u64(), Some(changed as u64), "{after}");
    assert!(after_values.iter().all(Value::is_number), "{after}");
    let (_, short) = get(&base, &format!("{path}&fill=locf&max_gap=2")).await;
    let short = column(&short, "weather.temperature");
    assert!(
        short["values"]
            .as_array()
            .unwrap()
            .iter()
            .any(Value::is_null),
        "{short}"
    );
    assert!(column(&filled, "calendar.weekend").get("filled").is_none());
    let (status, body) = get(&base, &format!("{path}&fill=spline")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_parameter"))
    );
}
