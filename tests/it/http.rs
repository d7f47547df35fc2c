//! The seed's endpoints over real HTTP, on a store loaded by the real `init` from the simulated
//! Open-Meteo: shapes, values and every error the issue names.

use almanac::domain::{Step, Timestamp};
use almanac::ops;

use indicatif::ProgressBar;
use serde_json::Value;

use crate::support::{client, core, serve};

const WEATHER: &str = "/api/v1/tenants/8a7c9f5e-1b2d-4e3f-9a8b-7c6d5e4f3a2b/external/operations/historical-weather-optimized";

async fn app(load: bool) -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let core = core(&dir, serve(almanac::demo::upstream::router()).await).await;
    if load {
        let summary = ops::init::run(
            &core,
            1,
            Timestamp::now().floor(Step::HOUR),
            &ProgressBar::hidden(),
        )
        .await
        .unwrap();
        assert!(!summary.failed(), "{summary}");
    }
    (
        format!("http://{}", serve(almanac::http::router(core)).await),
        dir,
    )
}

async fn get(url: String) -> (u16, Value) {
    let response = client().get(url).send().await.unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap(),
    )
}

fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

#[tokio::test]
async fn cities_and_availability_have_the_seed_shapes() {
    let (base, _dir) = app(true).await;
    let (status, cities) = get(format!("{base}/api/v1/external/cities")).await;
    assert_eq!(status, 200);
    let madrid = &cities[0];
    let mut expected = [
        "city_id",
        "country",
        "enabled",
        "latitude",
        "longitude",
        "name",
        "radius_km",
        "traffic_provider",
        "weather_provider",
    ];
    expected.sort_unstable();
    assert_eq!(keys(madrid), expected);
    assert_eq!(
        (
            madrid["city_id"].as_str(),
            madrid["radius_km"].as_f64(),
            madrid["traffic_provider"].is_null()
        ),
        (Some("madrid"), Some(30.0), true)
    );

    let (status, availability) = get(format!(
        "{base}/api/v1/external/operations/cities/Madrid/availability"
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(availability["weather_available"], true);
    let count = availability["weather_record_count"].as_u64().unwrap();
    assert!((28 * 24..=31 * 24).contains(&count), "{count}");
    assert!(
        availability["weather_start_date"]
            .as_str()
            .unwrap()
            .ends_with(":00:00+00:00")
    );
    assert_eq!(
        (
            availability["traffic_available"].as_bool(),
            availability["traffic_record_count"].as_u64()
        ),
        (Some(false), Some(0))
    );

    let (status, error) = get(format!(
        "{base}/api/v1/external/operations/cities/atlantis/availability"
    ))
    .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (404, Some("unknown_city"))
    );
}

#[tokio::test]
async fn historical_weather_returns_hourly_rows_for_a_point_in_the_city() {
    let (base, _dir) = app(true).await;
    let day = Timestamp::now()
        .floor(Step::DAY)
        .plus(-3 * 86_400)
        .utc_date();
    let (status, rows) = get(format!(
        "{base}{WEATHER}?latitude=40.45&longitude=-3.69&start_date={day}&end_date={day}"
    ))
    .await;
    assert_eq!(status, 200);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 24, "a date-only end includes that whole day");
    let first = &rows[0];
    assert_eq!(
        first["date"].as_str().unwrap(),
        format!("{day}T00:00:00+00:00")
    );
    assert_eq!(
        first["location_id"].as_str().unwrap(),
        format!("madrid_{day}")
    );
    assert_eq!(first["source"], "open_meteo");
    for row in rows {
        let t = row["temperature"].as_f64().unwrap();
        let h = row["humidity"].as_f64().unwrap();
        assert!(
            (-20.0..45.0).contains(&t) && (0.0..=100.0).contains(&h),
            "{row}"
        );
        assert!(
            row["pressure"].as_f64().unwrap() > 900.0 && row["wind_speed"].as_f64().unwrap() >= 0.0
        );
        assert!(
            row["description"].is_string() && row["created_at"].is_string(),
            "{row}"
        );
    }
    let hours: Vec<&str> = rows.iter().map(|r| r["date"].as_str().unwrap()).collect();
    assert!(hours.windows(2).all(|w| w[0] < w[1]), "ordered by time");

    // Every field as the native endpoint (columnar, encoded on its own path) gives it.
    let next = Timestamp::utc_midnight(day).plus(86_400).utc_date();
    let (_, native) = get(format!(
        "{base}/api/v1/locations/madrid/weather?start={day}T00:00:00Z&end={next}T23:59:59Z"
    ))
    .await;
    let column = |name: &str, i: usize| native["variables"][name]["values"][i].clone();
    for (i, row) in rows.iter().enumerate() {
        let date = row["date"].as_str().unwrap();
        assert_eq!(native["time"][i].as_str(), Some(date));
        let epoch = Timestamp::from_jiff(date.parse().unwrap()).epoch();
        assert_eq!(row["id"], format!("madrid-weather-{epoch}"));
        assert_eq!(row["location_id"], format!("madrid_{}", &date[..10]));
        for name in [
            "temperature",
            "precipitation",
            "humidity",
            "wind_speed",
            "pressure",
        ] {
            assert_eq!(row[name], column(name, i), "{name} at {date}");
        }
        let code = column("weather_code", i).as_f64().unwrap();
        assert_eq!(
            row["description"].as_str(),
            almanac::domain::weather::describe(code)
        );
        assert_eq!(
            row["source"],
            native["variables"]["temperature"]["sources"][i]
        );
        let written =
            |key: &str| -> jiff::Timestamp { row[key].as_str().unwrap().parse().unwrap() };
        assert!(written("created_at") <= written("updated_at"), "{row}");
        assert_eq!(row.as_object().unwrap().len(), 12, "{row}");
    }

    let (_, narrow) = get(format!("{base}{WEATHER}?latitude=40.45&longitude=-3.69&start_date={day}T05:00:00Z&end_date={day}T07:00:00%2B00:00")).await;
    assert_eq!(
        narrow.as_array().unwrap().len(),
        3,
        "date-time ends are inclusive"
    );
}

#[tokio::test]
async fn bad_requests_get_clear_4xx_errors() {
    let (base, _dir) = app(true).await;
    let cases = [
        (
            "latitude=40.0&longitude=-30.0&start_date=2025-01-01&end_date=2025-01-02",
            404,
            "location_not_covered",
        ),
        (
            "latitude=91&longitude=-3.7&start_date=2025-01-01&end_date=2025-01-02",
            400,
            "invalid_coordinates",
        ),
        (
            "latitude=40.4&longitude=-3.7&start_date=2025-02-01&end_date=2025-01-02",
            400,
            "invalid_range",
        ),
        (
            "latitude=40.4&longitude=-3.7&start_date=last+week&end_date=2025-01-02",
            400,
            "invalid_date",
        ),
        (
            "latitude=40.4&longitude=-3.7&start_date=2025-01-01",
            400,
            "missing_parameter",
        ),
        (
            "latitude=40.4&latitude=40.5&longitude=-3.7",
            400,
            "invalid_query",
        ),
        (
            "latitude=40.4&longitude=-3.7&start_date=2000-01-01&end_date=2025-01-02",
            400,
            "range_too_large",
        ),
    ];
    for (query, status, code) in cases {
        let (got, body) = get(format!("{base}{WEATHER}?{query}")).await;
        assert_eq!(
            (got, body["code"].as_str()),
            (status, Some(code)),
            "{query}: {body}"
        );
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    let (_, body) = get(format!(
        "{base}{WEATHER}?latitude=40.4&longitude=-3.7&start_date=2000-01-01&end_date=2025-01-02"
    ))
    .await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("http.max_range_days"),
        "the error names the limit: {body}"
    );
    let (status, body) = get(format!("{base}/api/v1/nothing-here")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("unknown_route"))
    );
    let response = client()
        .post(format!("{base}/api/v1/external/cities"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
}

#[tokio::test]
async fn readiness_waits_for_data() {
    let (empty, _dir) = app(false).await;
    let (status, body) = get(format!("{empty}/health/ready")).await;
    assert_eq!(status, 503);
    assert!(
        body["reasons"][0].as_str().unwrap().contains("madrid"),
        "{body}"
    );
    assert_eq!(get(format!("{empty}/health/live")).await.0, 200);
    let (loaded, _dir) = app(true).await;
    assert_eq!(
        get(format!("{loaded}/health/ready")).await,
        (200, serde_json::json!({ "status": "ready" }))
    );
}

#[tokio::test]
async fn traffic_and_prices_are_served_from_their_providers() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = serve(almanac::demo::router()).await;
    let settings = crate::support::config(
        &dir,
        upstream,
        &[
            (
                "ALMANAC__LOCATIONS__MADRID__SOURCES__TRAFFIC",
                "[\"madrid_traffic\"]",
            ),
            ("ALMANAC__LOCATIONS__ES_PENINSULAR__ENABLED", "true"),
        ],
    );
    let core = almanac::core::Core::open(settings).await.unwrap();
    crate::support::away_from_a_quarter_boundary().await;
    let now = Timestamp::now();
    // Two months: the window holds last month whole, whatever today's date.
    let summary = ops::init::run(&core, 2, now, &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(!summary.failed(), "{summary}");
    let base = format!("http://{}", serve(almanac::http::router(core)).await);
    assert_eq!(
        get(format!("{base}/health/ready")).await,
        (200, serde_json::json!({ "status": "ready" })),
        "a price zone is ready with prices, without weather"
    );

    let (_, cities) = get(format!("{base}/api/v1/external/cities")).await;
    assert_eq!(
        cities.as_array().unwrap().len(),
        1,
        "the price zone is not a city"
    );
    assert_eq!(cities[0]["traffic_provider"], "madrid_traffic");
    let (_, availability) = get(format!(
        "{base}/api/v1/external/operations/cities/madrid/availability"
    ))
    .await;
    assert_eq!(availability["traffic_available"], true);
    // Last month from its history file, and the snapshot.
    assert!(availability["traffic_record_count"].as_u64().unwrap() > 28 * 96);

    // The last complete quarter hour, from the real-time snapshot, with its service level.
    let last = now.floor(Step::QUARTER_HOUR).plus(-900);
    let traffic = "/api/v1/tenants/8a7c9f5e-1b2d-4e3f-9a8b-7c6d5e4f3a2b/external/operations/historical-traffic-optimized";
    let (status, rows) = get(format!(
        "{base}{traffic}?latitude=40.42&longitude=-3.70&start_date={}&end_date={}",
        last.to_jiff().strftime("%Y-%m-%dT%H:%M:%SZ"),
        last.to_jiff().strftime("%Y-%m-%dT%H:%M:%SZ")
    ))
    .await;
    assert_eq!(status, 200, "{rows}");
    let row = &rows[0];
    assert_eq!(row["date"], last.to_string());
    assert!(row["traffic_volume"].as_i64().unwrap() > 0);
    assert!(row["pedestrian_count"].is_null());
    assert!(
        ["low", "medium", "high", "blocked"].contains(&row["congestion_level"].as_str().unwrap())
    );
    assert_eq!(row["source"], "madrid_traffic");

    // Madrid's prices are its price zone's.
    let day = now.floor(Step::DAY).plus(-86_400).utc_date();
    let (status, prices) = get(format!(
        "{base}/api/v1/locations/madrid/energy_price?start={day}&end={day}"
    ))
    .await;
    assert_eq!(status, 200, "{prices}");
    assert_eq!(prices["served_from"], "es_peninsular");
    assert_eq!(prices["time"].as_array().unwrap().len(), 24);
    let spot = &prices["variables"]["spot"];
    assert_eq!(spot["unit"], "€/MWh");
    let first = Timestamp::from_jiff(prices["time"][0].as_str().unwrap().parse().unwrap());
    assert_eq!(
        spot["values"][0].as_f64(),
        Some(almanac::demo::ree::spot(first))
    );
    assert_eq!(spot["sources"][0], "ree");

    let (status, sources) = get(format!("{base}/api/v1/sources")).await;
    assert_eq!(status, 200);
    let ree = sources
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "ree")
        .unwrap();
    assert_eq!(ree["circuit"], "closed");
    assert_eq!(ree["locations"][0], "es_peninsular");
    assert!(
        ree["last_success"].is_string() && ree["last_failure"].is_null(),
        "{ree}"
    );

    let metrics = crate::support::metrics_text(&base).await;
    let ree_inserted = summary
        .outcomes
        .iter()
        .find(|o| o.source == "ree")
        .unwrap()
        .counts
        .inserted;
    for line in [
        format!("external_ingestion_records_total{{city=\"es_peninsular\",data_type=\"energy_price\",source=\"ree\"}} {ree_inserted}\n"),
        format!(
            "external_city_data_records{{city=\"madrid\",data_type=\"traffic\"}} {}\n",
            availability["traffic_record_count"]
        ),
        "external_ingestion_failures_total{city=\"madrid\",data_type=\"traffic\",source=\"madrid_traffic\"} 0\n".into(),
        "almanac_store_up 1\n".into(),
        "external_upstream_circuit_open{provider=\"ree\"} 0\n".into(),
    ] {
        assert!(metrics.contains(&line), "{line} not in:\n{metrics}");
    }
    assert!(
        metrics.contains(
            "external_upstream_requests_total{provider=\"madrid_traffic\",outcome=\"ok\"}"
        ),
        "{metrics}"
    );

    let (status, runs) = get(format!("{base}/api/v1/runs?limit=2")).await;
    assert_eq!((status, runs.as_array().unwrap().len()), (200, 2));
    let id = runs[0]["id"].as_i64().unwrap();
    let (status, run) = get(format!("{base}/api/v1/runs/{id}")).await;
    assert_eq!((status, run["id"].as_i64()), (200, Some(id)));
    assert!(
        run["rejects"].is_array() && run["counts"]["inserted"].as_u64().is_some(),
        "{run}"
    );

    for (url, status, code) in [
        (
            "/api/v1/locations/madrid/pollen?start=2025-01-01&end=2025-01-02",
            400,
            "unknown_dataset",
        ),
        (
            "/api/v1/locations/madrid/traffic?start=2025-01-01&end=2025-01-02&variables=intensity,colour",
            400,
            "unknown_variable",
        ),
        ("/api/v1/locations/madrid/traffic", 400, "missing_parameter"),
        ("/api/v1/runs/abc", 400, "invalid_run"),
        ("/api/v1/runs/424242", 404, "unknown_run"),
        ("/api/v1/runs?limit=0", 400, "invalid_limit"),
        (
            "/api/v1/locations/atlantis/traffic?start=2025-01-01&end=2025-01-02",
            404,
            "unknown_location",
        ),
    ] {
        let (got, error) = get(format!("{base}{url}")).await;
        assert_eq!(
            (got, error["code"].as_str()),
            (status, Some(code)),
            "{url}: {error}"
        );
    }
}

#[tokio::test]
async fn native_locations_say_what_is_stored_and_why_a_point_maps_where_it_does() {
    let (base, _dir) = app(true).await;
    let (status, list) = get(format!("{base}/api/v1/locations")).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["madrid"], "the enabled locations only");

    let (status, madrid) = get(format!("{base}/api/v1/locations/Madrid")).await;
    assert_eq!(status, 200, "{madrid}");
    assert_eq!(madrid["id"], "madrid");
    assert_eq!(madrid["timezone"], "Europe/Madrid");
    let weather = &madrid["datasets"]["weather"];
    assert!(weather["instants"].as_u64().unwrap() > 24 * 28, "{madrid}");
    assert!(weather["first"].as_str().unwrap() < weather["last"].as_str().unwrap());

    let (status, near) = get(format!(
        "{base}/api/v1/locations/nearest?lat=40.45&lon=-3.69"
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            near["location"]["id"].as_str(),
            near["covered"].as_bool(),
            near["reason"].as_str()
        ),
        (Some("madrid"), Some(true), Some("within_radius"))
    );
    assert!(near["distance_km"].as_f64().unwrap() < 5.0, "{near}");
    let (status, paris) = get(format!(
        "{base}/api/v1/locations/nearest?latitude=48.85&longitude=2.35"
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        (paris["covered"].as_bool(), paris["reason"].as_str()),
        (Some(false), Some("nearest_outside_radius")),
        "{paris}"
    );
    assert!(paris["distance_km"].as_f64().unwrap() > 1_000.0);

    let day = Timestamp::now().plus(-2 * 86_400).utc_date();
    let (status, coverage) = get(format!(
        "{base}/api/v1/locations/madrid/coverage?start={day}&end={day}"
    ))
    .await;
    assert_eq!(status, 200, "{coverage}");
    let temperature = coverage["datasets"]["weather"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["variable"] == "temperature" && v["source"] == "open_meteo")
        .unwrap();
    assert_eq!(
        (
            temperature["expected"].as_u64(),
            temperature["present"].as_u64()
        ),
        (Some(24), Some(24)),
        "{temperature}"
    );
    assert_eq!(temperature["completeness"].as_f64(), Some(1.0));

    for (path, want, code) in [
        ("/api/v1/locations/atlantis", 404, "unknown_location"),
        (
            "/api/v1/locations/nearest?lat=91&lon=0",
            400,
            "invalid_coordinates",
        ),
        (
            "/api/v1/locations/nearest?lat=north&lon=0",
            400,
            "invalid_coordinates",
        ),
        ("/api/v1/locations/nearest?lat=40", 400, "missing_parameter"),
        (
            "/api/v1/locations/madrid/coverage?start=2026-01-01",
            400,
            "missing_parameter",
        ),
        (
            "/api/v1/locations/atlantis/coverage",
            404,
            "unknown_location",
        ),
    ] {
        let (status, body) = get(format!("{base}{path}")).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (want, Some(code)),
            "{path}: {body}"
        );
    }
}

#[tokio::test]
async fn the_seed_diagram_forms_and_legacy_posts_answer_as_the_main_endpoints() {
    let (base, _dir) = app(true).await;
    let day = Timestamp::now().plus(-3 * 86_400).utc_date();
    let query = format!("latitude=40.45&longitude=-3.69&start_date={day}&end_date={day}");
    let (_, optimized) = get(format!("{base}{WEATHER}?{query}")).await;
    assert_eq!(optimized.as_array().unwrap().len(), 24);

    for (short, long) in [
        (
            "/api/v1/cities".to_string(),
            "/api/v1/external/cities".to_string(),
        ),
        (
            "/api/v1/cities/madrid/data-availability".into(),
            "/api/v1/external/operations/cities/madrid/availability".into(),
        ),
        (
            format!(
                "/api/v1/tenants/8a7c9f5e-1b2d-4e3f-9a8b-7c6d5e4f3a2b/external/historical-weather?{query}"
            ),
            format!("{WEATHER}?{query}"),
        ),
        (
            format!(
                "/api/v1/tenants/8a7c9f5e-1b2d-4e3f-9a8b-7c6d5e4f3a2b/external/historical-traffic?{query}"
            ),
            format!(
                "/api/v1/tenants/8a7c9f5e-1b2d-4e3f-9a8b-7c6d5e4f3a2b/external/operations/historical-traffic-optimized?{query}"
            ),
        ),
    ] {
        let (status, a) = get(format!("{base}{short}")).await;
        let (_, b) = get(format!("{base}{long}")).await;
        assert_eq!(status, 200, "{short}: {a}");
        assert_eq!(a, b, "{short} answers as {long}");
    }

    let legacy = format!(
        "{base}/api/v1/tenants/8a7c9f5e-1b2d-4e3f-9a8b-7c6d5e4f3a2b/external/operations/weather/historical"
    );
    let post = |body: String| {
        let url = legacy.clone();
        async move {
            let response = client().post(url).body(body).send().await.unwrap();
            let status = response.status().as_u16();
            let value: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
            (status, value)
        }
    };
    let (status, posted) = post(format!(
        r#"{{"latitude": 40.45, "longitude": -3.69, "start_date": "{day}", "end_date": "{day}"}}"#
    ))
    .await;
    assert_eq!(status, 200, "{posted}");
    assert_eq!(posted, optimized, "numbers in a JSON body, the same rows");
    for (body, code) in [
        ("not json".to_string(), "invalid_body"),
        ("[1, 2]".into(), "invalid_body"),
        (r#"{"latitude": true}"#.into(), "invalid_body"),
        (
            format!(
                r#"{{"latitude": "x", "longitude": 0, "start_date": "{day}", "end_date": "{day}"}}"#
            ),
            "invalid_coordinates",
        ),
        (
            r#"{"latitude": 40.4, "longitude": -3.7}"#.into(),
            "missing_parameter",
        ),
    ] {
        let (status, answer) = post(body.clone()).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (400, Some(code)),
            "{body}: {answer}"
        );
    }
    let (status, answer) = post(" ".repeat(100 * 1024)).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (413, Some("body_too_large"))
    );
    assert!(
        answer["detail"]
            .as_str()
            .unwrap()
            .contains("http.max_body_kb")
    );
    let traffic = client()
        .post(format!("{base}/api/v1/tenants/8a7c9f5e-1b2d-4e3f-9a8b-7c6d5e4f3a2b/external/operations/traffic/historical"))
        .body(format!(
            r#"{{"latitude": "40.45", "longitude": "-3.69", "start_date": "{day}", "end_date": "{day}"}}"#
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(traffic.status().as_u16(), 200);
}

#[tokio::test]
async fn series_come_raw_hourly_daily_in_local_days_as_csv_and_by_point() {
    let (base, _dir) = app(true).await;
    let day = Timestamp::now().plus(-4 * 86_400).utc_date();
    let next = day.tomorrow().unwrap();
    let url = |extra: &str| {
        format!("{base}/api/v1/locations/madrid/weather?start={day}&end={next}{extra}")
    };
    let (status, raw) = get(url("")).await;
    assert_eq!(status, 200, "{raw}");
    assert_eq!(raw["resolution"], "raw");
    let times: Vec<&str> = raw["time"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(times.len(), 48);
    let column = |answer: &Value, name: &str| -> Vec<f64> {
        answer["variables"][name]["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let temperature = column(&raw, "temperature");
    let flags = raw["variables"]["temperature"]["flags"].as_array().unwrap();
    assert_eq!(flags.len(), 48);
    assert!(flags.iter().all(|f| f == "observed"), "{flags:?}");
    let precipitation = column(&raw, "precipitation");

    // Local days in Madrid (UTC+1 in this season, UTC+2 in summer): the raw hours of `next`.
    let zone = jiff::tz::TimeZone::get("Europe/Madrid").unwrap();
    let of_next: Vec<usize> = times
        .iter()
        .enumerate()
        .filter(|(_, t)| {
            let ts: jiff::Timestamp = t.parse().unwrap();
            ts.to_zoned(zone.clone()).date() == next
        })
        .map(|(i, _)| i)
        .collect();
    let (status, daily) = get(url("&resolution=day")).await;
    assert_eq!(status, 200, "{daily}");
    assert_eq!(daily["timezone"], "Europe/Madrid");
    let labels: Vec<&str> = daily["time"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let at = labels.iter().position(|l| *l == next.to_string()).unwrap();
    assert_eq!(
        labels,
        [day.to_string(), next.to_string()],
        "plain dates are the location's local days, whole"
    );
    assert_eq!(of_next.len(), 24);
    let counts = &daily["variables"]["temperature"]["counts"];
    assert_eq!(counts[at].as_u64(), Some(of_next.len() as u64));
    let mean = of_next.iter().map(|&i| temperature[i]).sum::<f64>() / of_next.len() as f64;
    let sum: f64 = of_next.iter().map(|&i| precipitation[i]).sum();
    assert!(
        (column(&daily, "temperature")[at] - mean).abs() < 0.001,
        "a level is averaged"
    );
    assert!(
        (column(&daily, "precipitation")[at] - sum).abs() < 0.001,
        "an amount is summed"
    );

    let (_, hourly) = get(url("&resolution=hour")).await;
    assert_eq!(
        column(&hourly, "temperature"),
        temperature,
        "hourly data at hour resolution"
    );

    let response = client()
        .get(url("&variables=temperature&format=csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "time,temperature");
    assert_eq!(lines.len(), 49);
    assert_eq!(lines[1], format!("{},{}", times[0], temperature[0]));

    // Two holes: 2 hours (filled) and 5 hours (longer than max_gap, left empty).
    let store = crate::support::open_store(&_dir).await.unwrap();
    let start: Timestamp = Timestamp::from_jiff(times[0].parse().unwrap());
    for series in store
        .series("madrid", almanac::domain::Dataset::Weather)
        .await
        .unwrap()
    {
        for (from, hours) in [(5, 2), (20, 5)] {
            let hole = almanac::domain::TimeRange::new(
                start.plus(from * 3600),
                start.plus((from + hours) * 3600),
            )
            .unwrap();
            store.delete(series.id, hole).await.unwrap();
        }
    }
    let (_, holed) = get(url("&variables=temperature")).await;
    assert_eq!(
        holed["time"].as_array().unwrap().len(),
        48 - 7,
        "no fill: no rows"
    );
    let (status, filled) = get(url("&variables=temperature&fill=linear&max_gap=3")).await;
    assert_eq!(status, 200, "{filled}");
    assert_eq!(
        filled["time"].as_array().unwrap().len(),
        48,
        "the full grid"
    );
    let t = &filled["variables"]["temperature"];
    let flags: Vec<bool> = t["filled"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_bool().unwrap())
        .collect();
    let filled_at: Vec<usize> = (0..48).filter(|&i| flags[i]).collect();
    assert_eq!(filled_at, [5, 6], "the 2-hour hole only");
    let expected = temperature[4] + (temperature[7] - temperature[4]) / 3.0;
    assert!((t["values"][5].as_f64().unwrap() - expected).abs() < 0.001);
    assert!(t["sources"][5].is_null() && t["sources"][4] == "open_meteo");
    assert!(t["flags"][5].is_null() && t["flags"][4] == "observed");
    assert!(
        (20..25).all(|i| t["values"][i].is_null()),
        "longer than max_gap: {t}"
    );
    // The same as CSV with flag columns: filled rows say so, stored ones say what they are.
    let text = client()
        .get(url(
            "&variables=temperature&fill=linear&max_gap=3&format=csv&flags=true",
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "time,temperature,temperature_flag");
    assert!(lines[5].ends_with(",observed"), "{}", lines[5]);
    assert!(lines[6].ends_with(",filled"), "{}", lines[6]);
    assert!(
        lines[21].ends_with(",,"),
        "a hole left empty: {}",
        lines[21]
    );
    let (_, carried) = get(url("&variables=temperature&fill=locf&max_gap=5")).await;
    let c = &carried["variables"]["temperature"];
    assert!((20..25).all(|i| c["values"][i].as_f64() == Some(temperature[19])));

    let (status, by_point) = get(format!(
        "{base}/api/v1/point/weather?lat=40.45&lon=-3.69&start={day}&end={next}"
    ))
    .await;
    assert_eq!(status, 200);
    let (_, by_id) = get(url("")).await;
    assert!(by_point == by_id, "a point in Madrid is Madrid");

    for (extra, want, code) in [
        ("&resolution=week", 400, "invalid_parameter"),
        ("&format=xml", 400, "invalid_parameter"),
        ("&variables=snow", 400, "unknown_variable"),
        ("&fill=spline", 400, "invalid_parameter"),
        ("&format=csv&flags=yes", 400, "invalid_parameter"),
        ("&fill=locf&max_gap=0", 400, "invalid_parameter"),
    ] {
        let (status, body) = get(url(extra)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (want, Some(code)),
            "{extra}: {body}"
        );
    }
    let (status, body) = get(format!(
        "{base}/api/v1/point/weather?lat=48.85&lon=2.35&start={day}&end={next}"
    ))
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("location_not_covered"))
    );
    let (status, body) = get(format!(
        "{base}/api/v1/point/weather?start={day}&end={next}"
    ))
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("missing_parameter"))
    );
}

#[tokio::test]
async fn answers_are_cached_until_a_write_touches_their_data_with_etags_and_gzip() {
    use almanac::domain::{Dataset, Flag, TimeRange};
    use almanac::store::{NewRun, Row, SeriesKey};

    let (base, dir) = app(true).await;
    let day = Timestamp::now().plus(-3 * 86_400).utc_date();
    let url =
        format!("{base}{WEATHER}?latitude=40.45&longitude=-3.69&start_date={day}&end_date={day}");
    let fetch = |headers: Vec<(&'static str, String)>| {
        let url = url.clone();
        async move {
            let mut request = client().get(url);
            for (name, value) in headers {
                request = request.header(name, value);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .map(|v| v.to_str().unwrap().to_owned())
            };
            let (cache, etag, encoding) = (
                header("x-cache"),
                header("etag"),
                header("content-encoding"),
            );
            (
                status,
                cache,
                etag,
                encoding,
                response.bytes().await.unwrap(),
            )
        }
    };
    let (status, cache, etag, _, first) = fetch(vec![]).await;
    assert_eq!((status, cache.as_deref()), (200, Some("miss")));
    let etag = etag.unwrap();
    let (_, cache, again_tag, _, second) = fetch(vec![]).await;
    assert_eq!(cache.as_deref(), Some("hit"));
    assert_eq!(
        (second, again_tag.as_deref()),
        (first.clone(), Some(etag.as_str()))
    );

    let (status, _, _, _, empty) = fetch(vec![("if-none-match", etag.clone())]).await;
    assert_eq!(
        (status, empty.len()),
        (304, 0),
        "the client holds it already"
    );
    let (status, _, _, encoding, zipped) =
        fetch(vec![("accept-encoding", "gzip, br".into())]).await;
    assert_eq!((status, encoding.as_deref()), (200, Some("gzip")));
    let mut unzipped = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&zipped[..]),
        &mut unzipped,
    )
    .unwrap();
    assert_eq!(unzipped, first);
    assert!(
        zipped.len() * 4 < first.len(),
        "{} → {}",
        first.len(),
        zipped.len()
    );

    // Writes that change nothing, or change another dataset, leave the answer cached.
    let store = crate::support::open_store(&dir).await.unwrap();
    let run = store
        .start_run(&NewRun {
            operation: "test",
            location: Some("madrid"),
            dataset: None,
            source: None,
            range: None,
            started_at: Timestamp::now(),
            parent: None,
        })
        .await
        .unwrap();
    let traffic = store
        .ensure_series(&SeriesKey {
            location: "madrid",
            dataset: Dataset::Traffic,
            variable: "intensity",
            source: "madrid_traffic",
            step: Step::QUARTER_HOUR,
            unit: "vehicles/h",
        })
        .await
        .unwrap();
    let ts = Timestamp::now().floor(Step::HOUR);
    let row = Row {
        series: traffic,
        ts,
        value: 420.0,
        flag: Flag::Observed,
    };
    store.write_chunk(run, &[row], &[]).await.unwrap();
    let (_, cache, ..) = fetch(vec![]).await;
    assert_eq!(
        cache.as_deref(),
        Some("hit"),
        "traffic does not touch weather answers"
    );
    let weather = store.series("madrid", Dataset::Weather).await.unwrap();
    let temperature = weather
        .iter()
        .find(|s| s.variable == "temperature")
        .unwrap();
    let stored = store
        .read(
            temperature.id,
            TimeRange::new(
                Timestamp::utc_midnight(day),
                Timestamp::utc_midnight(day).plus(86_400),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let same = Row {
        series: temperature.id,
        ts: stored[0].ts,
        value: stored[0].value,
        flag: stored[0].flag,
    };
    store.write_chunk(run, &[same], &[]).await.unwrap();
    let (_, cache, ..) = fetch(vec![]).await;
    assert_eq!(
        cache.as_deref(),
        Some("hit"),
        "rewriting a value unchanged invalidates nothing"
    );

    // A changed value invalidates the answer at once, from another process's handle too.
    let changed = Row {
        value: stored[0].value + 1.0,
        ..same
    };
    store.write_chunk(run, &[changed], &[]).await.unwrap();
    let (status, cache, new_tag, _, fresh) = fetch(vec![("if-none-match", etag.clone())]).await;
    assert_eq!(
        (status, cache.as_deref()),
        (200, Some("miss")),
        "the old ETag no longer matches"
    );
    assert_ne!(new_tag.unwrap(), etag);
    let rows: Value = serde_json::from_slice(&fresh).unwrap();
    assert_eq!(rows[0]["temperature"].as_f64(), Some(stored[0].value + 1.0));
}

#[tokio::test]
async fn cors_answers_configured_origins_only() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = serve(almanac::demo::upstream::router()).await;
    let config = crate::support::config(
        &dir,
        upstream,
        &[("ALMANAC__HTTP__CORS_ORIGINS", r#"["https://app.example"]"#)],
    );
    let core = almanac::core::Core::open(config).await.unwrap();
    let base = format!("http://{}", serve(almanac::http::router(core)).await);
    let cities = format!("{base}/api/v1/external/cities");
    let allow = |response: &reqwest::Response| {
        response
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned())
    };

    let ok = client()
        .get(&cities)
        .header("origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(allow(&ok).as_deref(), Some("https://app.example"));
    let other = client()
        .get(&cities)
        .header("origin", "https://elsewhere.example")
        .send()
        .await
        .unwrap();
    assert_eq!((other.status().as_u16(), allow(&other)), (200, None));

    let preflight = client()
        .request(reqwest::Method::OPTIONS, &cities)
        .header("origin", "https://app.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status().as_u16(), 204);
    assert_eq!(allow(&preflight).as_deref(), Some("https://app.example"));
    assert!(
        preflight.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("GET")
    );

    let (base, _dir) = app(false).await;
    let closed = client()
        .get(format!("{base}/api/v1/external/cities"))
        .header("origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(allow(&closed), None, "no origin is allowed by default");
}

/// Data answers are computed a turn at a time (`http.concurrent_answers`, here one): of many
/// concurrent requests for one uncomputed answer, one computes it and the others, having waited
/// their turn, find it in the cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_of_one_answer_compute_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = serve(almanac::demo::upstream::router()).await;
    let config = crate::support::config(
        &dir,
        upstream,
        &[("ALMANAC__HTTP__CONCURRENT_ANSWERS", "1")],
    );
    let core = almanac::core::Core::open(config).await.unwrap();
    let now = Timestamp::now().floor(Step::HOUR);
    let loaded = ops::init::run(&core, 1, now, &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(!loaded.failed(), "{loaded}");
    let base = format!("http://{}", serve(almanac::http::router(core)).await);
    let (start, end) = (now.plus(-30 * 86_400).utc_date(), now.utc_date());
    let url =
        format!("{base}{WEATHER}?latitude=40.45&longitude=-3.69&start_date={start}&end_date={end}");
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let url = url.clone();
        requests.spawn(async move {
            let response = client().get(url).send().await.unwrap();
            let status = response.status().as_u16();
            let cache = response.headers()["x-cache"].to_str().unwrap().to_owned();
            (status, cache, response.bytes().await.unwrap())
        });
    }
    let answers = requests.join_all().await;
    let mut caches: Vec<&str> = answers.iter().map(|(_, c, _)| c.as_str()).collect();
    caches.sort();
    assert_eq!(
        caches,
        ["hit"; 7].into_iter().chain(["miss"]).collect::<Vec<_>>()
    );
    assert!(
        answers
            .iter()
            .all(|(s, _, b)| *s == 200 && *b == answers[0].2)
    );
    assert!(answers[0].2.len() > 100_000, "a month of hourly rows");
}
