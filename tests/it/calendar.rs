//! Holiday calendars: the embedded Spanish one served per location, a file adding a year,
//! and a location naming a region no calendar has refused at start.

use crate::support::{client, config, serve};

async fn get(base: &str, path: &str) -> (u16, serde_json::Value) {
    let response = client().get(format!("{base}{path}")).send().await.unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap(),
    )
}

#[tokio::test]
async fn a_location_s_days_carry_their_holidays_and_where_they_come_from() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = serve(almanac::demo::router()).await;
    let extra = dir.path().join("holidays-2028.toml");
    std::fs::write(
        &extra,
        "country = \"ES\"\n[[holiday]]\ndate = \"2028-01-01\"\nname = \"Año Nuevo\"\nscope = \"national\"\nsource = \"a test\"\n",
    )
    .unwrap();
    let files = format!("[\"{}\"]", extra.display());
    let settings = config(&dir, upstream, &[("ALMANAC__CALENDARS__FILES", &files)]);
    let core = almanac::core::Core::open(settings).await.unwrap();
    let base = format!("http://{}", serve(almanac::http::router(core)).await);

    let (status, body) = get(
        &base,
        "/api/v1/locations/madrid/calendar?start=2025-05-14&end=2025-05-16",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["region"].as_str(), body["municipality"].as_str()),
        (Some("ES-MD"), Some("madrid"))
    );
    let days = body["days"].as_array().unwrap();
    assert_eq!(days.len(), 3, "{body}");
    assert_eq!(days[0]["holiday"], serde_json::Value::Null);
    let isidro = &days[1];
    assert_eq!(
        (isidro["date"].as_str(), isidro["weekday"].as_str()),
        (Some("2025-05-15"), Some("thursday"))
    );
    assert_eq!(isidro["holiday"]["scope"], "local");
    assert!(
        isidro["holiday"]["name"]
            .as_str()
            .unwrap()
            .contains("Isidro"),
        "{isidro}"
    );
    assert!(!isidro["holiday"]["source"].as_str().unwrap().is_empty());

    // Every day of the years held, the added one included; a year not held says so.
    let (_, all) = get(&base, "/api/v1/locations/madrid/calendar").await;
    let years: Vec<i64> = all["years"]
        .as_array()
        .unwrap()
        .iter()
        .map(|y| y.as_i64().unwrap())
        .collect();
    assert_eq!(years, [2024, 2025, 2026, 2027, 2028]);
    assert_eq!(
        all["days"].as_array().unwrap().len(),
        366 + 365 + 365 + 365 + 366
    );
    let (status, later) = get(
        &base,
        "/api/v1/locations/madrid/calendar?start=2031-01-01&end=2031-01-01",
    )
    .await;
    assert_eq!(
        (status, later["code"].as_str()),
        (404, Some("calendar_not_available")),
        "{later}"
    );
    assert!(
        later["detail"]
            .as_str()
            .unwrap()
            .starts_with("calendar not available for 2031"),
        "{later}"
    );

    let (status, body) = get(&base, "/api/v1/locations/madrid/calendar?start=2025-05-14").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("missing_parameter"))
    );
}

#[test]
fn a_location_in_a_region_no_calendar_has_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let addr = "127.0.0.1:9".parse().unwrap();
    let env = crate::support::env(
        &dir,
        addr,
        &[("ALMANAC__LOCATIONS__MADRID__REGION", "ES-XX")],
    );
    let error = almanac::config::load(None, env).unwrap_err();
    let text = error.problems.join("\n");
    assert!(
        text.contains("locations.madrid: no holiday calendar for region `ES-XX`"),
        "{text}"
    );
}
