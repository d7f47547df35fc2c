//! Weather forecasts as issued, end to end: the `forecast` operation fetches Open-Meteo's and
//! OpenWeatherMap's forecasts from the simulated upstream (real HTTP, real wire formats) and
//! stores two issues an hour apart; the forecast route and a training frame answer what was
//! forecast as known at an instant, with a lead, and refuse what cannot be answered.

use almanac::domain::{Step, Timestamp};
use serde_json::Value;

use crate::support::{client, config, serve};

async fn get(base: &str, path: &str) -> (u16, Value) {
    let response = client().get(format!("{base}{path}")).send().await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn forecasts_are_kept_as_issued_and_read_as_known() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = serve(almanac::demo::router()).await;
    let core = almanac::core::Core::open(config(
        &dir,
        upstream,
        &[
            (
                "ALMANAC__LOCATIONS__MADRID__FORECASTS",
                "[\"owm_forecast\",\"open_meteo_forecast\"]",
            ),
            ("ALMANAC__SOURCES__OWM__API_KEY", "demo"),
            ("ALMANAC__FORECASTS__RETENTION_DAYS", "1"),
            ("ALMANAC__LOCATIONS__ES_PENINSULAR__ENABLED", "true"),
        ],
    ))
    .await
    .unwrap();
    let first = Timestamp::now().floor(Step::HOUR).plus(-3_600);
    let second = first.plus(3_600);
    for now in [first, second] {
        let summary = almanac::ops::forecast::run(&core, now).await.unwrap();
        assert!(!summary.failed(), "{summary}");
        assert_eq!(summary.outcomes.len(), 2, "{summary}");
        assert!(
            summary.outcomes.iter().all(|o| o.counts.inserted > 100),
            "{summary}"
        );
    }
    let base = format!(
        "http://{}",
        serve(almanac::http::router(core.clone())).await
    );

    // The latest issue made before each hour: none for the first hour (the first issue was
    // known a second after it began), the first issue for the second hour (the second issue
    // came a second after that one began), the second issue from the third hour on.
    let (start, end) = (first, first.plus(47 * 3_600));
    let path = format!(
        "/api/v1/locations/madrid/weather/forecast?start={start}&end={end}&variables=temperature,humidity"
    )
    .replace('+', "%2B");
    let (status, latest) = get(&base, &path).await;
    assert_eq!(status, 200, "{latest}");
    let temperature = &latest["variables"]["temperature"];
    assert_eq!(temperature["unit"], "°C");
    assert_eq!(latest["time"].as_array().unwrap().len(), 48);
    // Known when each fetch ended: a second or so after the `now` it ran at.
    let instant = |v: &Value| {
        v.as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .unwrap()
            .as_second()
    };
    let within = |v: &Value, at: Timestamp| (1..60).contains(&(instant(v) - at.epoch()));
    let known = temperature["known_at"].as_array().unwrap();
    assert!(known[0].is_null(), "{latest}");
    assert!(within(&known[1], first), "{latest}");
    assert!(known[2..].iter().all(|k| within(k, second)), "{latest}");
    // Precipitation is an amount over the hour before its instant: its forecast must be known
    // before that hour began, a step earlier than the temperature's.
    let (_, rain) = get(
        &base,
        &path.replace("temperature,humidity", "precipitation"),
    )
    .await;
    let known = rain["variables"]["precipitation"]["known_at"]
        .as_array()
        .unwrap();
    assert!(known[0].is_null() && known[1].is_null(), "{rain}");
    assert!(within(&known[2], first), "{rain}");
    assert!(known[3..].iter().all(|k| within(k, second)), "{rain}");
    // OpenWeatherMap comes first where it has a value (every third hour), Open-Meteo fills in.
    let sources = temperature["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 2, "{temperature}");
    assert_eq!(sources[0], "owm_forecast");
    let by = temperature["source"].as_array().unwrap();
    // Its items fall on the 3-hour marks of UTC from the simulator's next one on: 15 or 16 of
    // these 48 hours, by the time of day the test runs.
    let times = latest["time"].as_array().unwrap();
    let owm: Vec<usize> = (0..by.len()).filter(|&i| by[i] == 0).collect();
    assert!((15..=16).contains(&owm.len()), "{by:?}");
    for i in owm {
        let at: jiff::Timestamp = times[i].as_str().unwrap().parse().unwrap();
        assert_eq!(at.as_second() % 10_800, 0, "{by:?}");
    }
    let values = temperature["values"].as_array().unwrap();
    assert!(values[0].is_null() && values[1..].iter().all(Value::is_number));

    // As known half an hour after the first issue: the first issue everywhere.
    let as_of = first.plus(1_800);
    let (status, then) = get(&base, &format!("{path}&as_of={as_of}").replace('+', "%2B")).await;
    assert_eq!(status, 200, "{then}");
    let known = then["variables"]["temperature"]["known_at"]
        .as_array()
        .unwrap();
    assert!(
        known[0].is_null() && known[1..].iter().all(|k| within(k, first)),
        "{then}"
    );

    // A lead of 24 hours: the hours less than a day after the first issue was known (a second
    // after `first`) have no forecast.
    let (_, lead) = get(&base, &format!("{path}&lead_hours=24")).await;
    let values = lead["variables"]["temperature"]["values"]
        .as_array()
        .unwrap();
    assert!(values[..25].iter().all(Value::is_null), "{values:?}");
    assert!(values[25..].iter().all(Value::is_number), "{values:?}");

    // A frame carries the forecast as a column known in advance, equal to the route's.
    let frame_path = format!(
        "/api/v1/locations/madrid/frame?start={start}&end={end}&columns=forecast.temperature,calendar.weekday"
    )
    .replace('+', "%2B");
    let (status, frame) = get(&base, &frame_path).await;
    assert_eq!(status, 200, "{frame}");
    let column = &frame["columns"][0];
    assert_eq!(column["name"], "forecast.temperature");
    assert_eq!(column["known_in_advance"], true);
    assert_eq!(column["values"], temperature["values"]);

    // Bad input: 4xx with a code.
    for (query, status, code) in [
        ("variables=nope", 400, "unknown_variable"),
        ("lead_hours=400", 400, "invalid_parameter"),
        ("start=2026-01-01", 400, "missing_parameter"),
        ("as_of=2001-01-01", 404, "nothing_as_of"),
    ] {
        let (got, body) = get(
            &base,
            &format!("/api/v1/locations/madrid/weather/forecast?{query}"),
        )
        .await;
        assert_eq!(
            (got, body["code"].as_str()),
            (status, Some(code)),
            "{query}: {body}"
        );
    }
    let (got, body) = get(&base, &format!("{frame_path}&resolution=day")).await;
    assert_eq!(
        (got, body["code"].as_str()),
        (400, Some("invalid_parameter")),
        "{body}"
    );
    let (got, body) = get(&base, &format!("{frame_path}&as_of=2001-01-01")).await;
    assert_eq!(
        (got, body["code"].as_str()),
        (404, Some("nothing_as_of")),
        "{body}"
    );
    let (got, body) = get(&base, "/api/v1/locations/es_peninsular/weather/forecast").await;
    assert_eq!(
        (got, body["code"].as_str()),
        (404, Some("no_forecasts")),
        "{body}"
    );

    // Retention (one day here): a run two days later prunes both earlier issues.
    let later = second.plus(2 * 86_400);
    almanac::ops::forecast::run(&core, later).await.unwrap();
    let (_, after) = get(&base, &path).await;
    let values = after["variables"]["temperature"]["values"]
        .as_array()
        .unwrap();
    assert!(values.iter().all(Value::is_null), "{after}");
}

/// AEMET's municipal forecast through both steps of the simulated AEMET: issued at its
/// `elaborado` (the last full hour), stored from the next hour on, its issue time served apart
/// from when almanac knew it; a location without its INE code fails with the reason.
#[tokio::test]
async fn aemet_forecasts_keep_their_issue_time() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = serve(almanac::demo::router()).await;
    let core = almanac::core::Core::open(config(
        &dir,
        upstream,
        &[
            (
                "ALMANAC__LOCATIONS__MADRID__FORECASTS",
                "[\"aemet_forecast\"]",
            ),
            ("ALMANAC__SOURCES__AEMET__API_KEY", "demo"),
        ],
    ))
    .await
    .unwrap();
    let now = Timestamp::now();
    let summary = almanac::ops::forecast::run(&core, now).await.unwrap();
    assert!(!summary.failed(), "{summary}");
    let outcome = &summary.outcomes[0];
    assert_eq!(outcome.source, "aemet_forecast");
    // 48 hours of temperature, humidity, precipitation, wind speed (and most directions).
    assert!(outcome.counts.inserted >= 4 * 48, "{summary}");
    let base = format!(
        "http://{}",
        serve(almanac::http::router(core.clone())).await
    );
    let (status, answer) = get(
        &base,
        "/api/v1/locations/madrid/weather/forecast?variables=temperature,wind_speed",
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let temperature = &answer["variables"]["temperature"];
    let issued = temperature["issued_at"].as_array().unwrap();
    let known = temperature["known_at"].as_array().unwrap();
    let first = issued.iter().position(Value::is_string).expect("a value");
    assert_eq!(
        issued[first],
        Value::String(now.floor(Step::HOUR).to_string()),
        "{answer}"
    );
    let known_at: jiff::Timestamp = known[first].as_str().unwrap().parse().unwrap();
    assert!(
        (1..60).contains(&(known_at.as_second() - now.epoch())),
        "{answer}"
    );
    assert_eq!(temperature["sources"][0], "aemet_forecast");
    let speeds = answer["variables"]["wind_speed"]["values"]
        .as_array()
        .unwrap();
    assert!(
        speeds
            .iter()
            .filter_map(Value::as_f64)
            .all(|v| (0.0..60.0).contains(&v))
    );

    // Without the municipality's code: a failed run naming what is missing, nothing stored.
    let dir = tempfile::tempdir().unwrap();
    let core = almanac::core::Core::open(config(
        &dir,
        upstream,
        &[
            (
                "ALMANAC__LOCATIONS__MADRID__FORECASTS",
                "[\"aemet_forecast\"]",
            ),
            ("ALMANAC__LOCATIONS__MADRID__AEMET_MUNICIPALITY", "99999"),
            ("ALMANAC__SOURCES__AEMET__API_KEY", "demo"),
        ],
    ))
    .await
    .unwrap();
    let summary = almanac::ops::forecast::run(&core, now).await.unwrap();
    assert!(summary.failed());
    let error = summary.outcomes[0].error.as_deref().unwrap();
    assert!(
        error.contains("No hay datos") || error.contains("no data"),
        "{error}"
    );
}
