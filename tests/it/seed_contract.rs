//! The seed's contract where its clients are strict: the cities list holds cities only (a
//! water site has no weather provider, which the seed's client types as a string), a tenant id
//! is a UUID, and `/health` is the liveness path the other seeds use.

use almanac::core::Core;
use serde_json::Value;

use crate::support::{client, config, serve};

async fn app() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let upstream = serve(almanac::demo::upstream::router()).await;
    let mut settings = config(&dir, upstream, &[]);
    almanac::demo::water::configure(&mut settings);
    let core = Core::open(settings).await.unwrap();
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

#[tokio::test]
async fn cities_are_cities_tenants_are_uuids_and_health_is_live() {
    let (base, _dir) = app().await;
    let (status, cities) = get(format!("{base}/api/v1/external/cities")).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = cities
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["city_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["madrid"], "sites and price zones are not cities");
    assert!(cities[0]["weather_provider"].is_string());
    let (_, locations) = get(format!("{base}/api/v1/locations")).await;
    assert!(
        locations.as_array().unwrap().len() > 1,
        "the water sites are locations, only not cities"
    );

    let query = "latitude=40.42&longitude=-3.70&start_date=2025-01-01&end_date=2025-01-01";
    for tenant in [
        "any-tenant",
        "8a7c9f5e1b2d4e3f9a8b7c6d5e4f3a2b",
        "8a7c9f5e-1b2d-4e3f-9a8b-7c6d5e4f3a2g",
    ] {
        let (status, body) = get(format!(
            "{base}/api/v1/tenants/{tenant}/external/operations/historical-weather-optimized?{query}"
        ))
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("invalid_tenant")),
            "{tenant}"
        );
    }
    let (status, _) = get(format!(
        "{base}/api/v1/tenants/8A7C9F5E-1B2D-4E3F-9A8B-7C6D5E4F3A2B/external/operations/historical-traffic-optimized?{query}"
    ))
    .await;
    assert_eq!(status, 200);

    let (status, body) = get(format!("{base}/health")).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("live")));
}
