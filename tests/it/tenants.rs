//! Tenant-local traffic: a tenant registers its point, is mapped to Madrid and to the detectors
//! nearest it, their history is loaded in the background, and the seed's traffic answer for that
//! tenant then comes from its own points; an unregistered tenant keeps the city's answer.

use std::time::Duration;

use almanac::core::Core;
use almanac::domain::Timestamp;
use serde_json::{Value, json};

use crate::support::{client, config, serve};

const TOKEN: &str = "tenant-s3cret";
const TENANT: &str = "8A7C9F5E-1B2D-4E3F-9A8B-7C6D5E4F3A2B";
const NEIGHBOUR: &str = "11111111-2222-4333-8444-555555555555";
const STRANGER: &str = "99999999-2222-4333-8444-555555555555";
/// 90 m west of the simulated detector 1000 (1.6 km east of the Puerta del Sol).
const AT: (f64, f64) = (40.4168, -3.6860);

fn settings(upstream: std::net::SocketAddr, dir: &tempfile::TempDir) -> almanac::config::Config {
    config(
        dir,
        upstream,
        &[
            ("ALMANAC__HTTP__TENANT_TOKEN", TOKEN),
            ("ALMANAC__TENANTS__RADIUS_KM", "1.5"),
            ("ALMANAC__TENANTS__MAX_POINTS", "3"),
            ("ALMANAC__INIT__MONTHS", "2"),
            (
                "ALMANAC__LOCATIONS__MADRID__SOURCES__TRAFFIC",
                "[\"madrid_traffic\"]",
            ),
        ],
    )
}

async fn put(base: &str, tenant: &str, body: Value, token: Option<&str>) -> (u16, Value) {
    let mut request = client()
        .put(format!("{base}/api/v1/tenants/{tenant}/location"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap(),
    )
}

async fn registration(base: &str, tenant: &str) -> (u16, Value) {
    let response = client()
        .get(format!("{base}/api/v1/tenants/{tenant}/location"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap(),
    )
}

/// The seed's traffic answer for `tenant` over the previous local month's first week: the
/// location that answered (header) and the rows.
async fn traffic(base: &str, tenant: &str) -> (String, Vec<Value>) {
    let first = Timestamp::now()
        .utc_date()
        .first_of_month()
        .yesterday()
        .unwrap()
        .first_of_month();
    let last = first.checked_add(jiff::ToSpan::days(6)).unwrap();
    let response = client()
        .get(format!(
            "{base}/api/v1/tenants/{tenant}/external/operations/historical-traffic-optimized?latitude={}&longitude={}&start_date={first}&end_date={last}",
            AT.0, AT.1
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let location = response.headers()["x-almanac-traffic-location"]
        .to_str()
        .unwrap()
        .to_owned();
    (
        location,
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap(),
    )
}

#[tokio::test]
async fn a_registered_tenant_gets_its_own_points() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = serve(almanac::demo::router()).await;
    let core = Core::open(settings(upstream, &dir)).await.unwrap();
    let now = Timestamp::now().floor(almanac::domain::Step::HOUR);
    let init = almanac::ops::init::run(&core, 2, now, &indicatif::ProgressBar::hidden())
        .await
        .unwrap();
    assert!(!init.failed(), "{init}");
    let base = format!(
        "http://{}",
        serve(almanac::http::router(core.clone())).await
    );
    let here = json!({"latitude": AT.0, "longitude": AT.1});

    // Behind a token; bad input is refused with its reason.
    assert_eq!(put(&base, TENANT, here.clone(), None).await.0, 401);
    assert_eq!(put(&base, TENANT, here.clone(), Some("wrong")).await.0, 401);
    let (status, body) = put(&base, "not-a-uuid", here.clone(), Some(TOKEN)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_tenant"))
    );
    let (status, body) = put(&base, TENANT, json!({"latitude": 40.4}), Some(TOKEN)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_body")),
        "{body}"
    );
    let (status, body) = put(
        &base,
        TENANT,
        json!({"latitude": 95, "longitude": 0}),
        Some(TOKEN),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_coordinates")),
        "{body}"
    );
    let (status, body) = put(
        &base,
        TENANT,
        json!({"latitude": 0.0, "longitude": 0.0}),
        Some(TOKEN),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("location_not_covered")),
        "{body}"
    );
    assert_eq!(registration(&base, TENANT).await.0, 404);

    // Mapped to Madrid and to its nearest detectors, nearest first, within the radius.
    let (status, first) = put(&base, TENANT, here.clone(), Some(TOKEN)).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["city"], "madrid");
    assert_eq!(first["tenant_id"], TENANT.to_lowercase());
    let points = first["points"].as_array().unwrap();
    assert!(!points.is_empty() && points.len() <= 3, "{first}");
    assert_eq!(points[0]["id"], "1000", "{first}");
    assert!(points[0]["distance_km"].as_f64().unwrap() < 0.15, "{first}");
    let distances: Vec<f64> = points
        .iter()
        .map(|p| p["distance_km"].as_f64().unwrap())
        .collect();
    assert!(distances.windows(2).all(|w| w[0] <= w[1]) && distances.iter().all(|d| *d <= 1.5));
    let location = first["location"].as_str().unwrap().to_owned();
    assert!(location.starts_with("madrid-points-"), "{first}");

    // Its history loads in the background; meanwhile (and for anyone else) the city answers.
    let mut loaded = first.clone();
    for _ in 0..600 {
        if loaded["traffic"] == "points" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        loaded = registration(&base, TENANT).await.1;
    }
    assert_eq!(loaded["traffic"], "points", "{loaded}");

    let (own, rows) = traffic(&base, TENANT).await;
    assert_eq!(own, location);
    // A week of quarter hours, less the simulated portal's own gaps.
    assert!((600..=7 * 96).contains(&rows.len()), "{} rows", rows.len());
    let (city, city_rows) = traffic(&base, STRANGER).await;
    assert_eq!(city, "madrid");
    // The city's mean covers the quarter hours its few points miss (the simulated detectors'
    // faults): gaps stay gaps, never filled from the city.
    assert_eq!(city_rows.len(), 7 * 96);
    let volumes = |rows: &[Value]| -> Vec<Option<i64>> {
        rows.iter().map(|r| r["traffic_volume"].as_i64()).collect()
    };
    assert!(
        volumes(&rows).iter().all(Option::is_some),
        "its points have every quarter hour"
    );
    assert_ne!(
        volumes(&rows),
        volumes(&city_rows),
        "its own points, not the city's mean"
    );

    // The same point again changes nothing; a neighbour with the same points shares them, at once.
    let (_, again) = put(&base, TENANT, here.clone(), Some(TOKEN)).await;
    assert_eq!(again, loaded);
    let near = json!({"latitude": AT.0 + 0.0005, "longitude": AT.1});
    let (_, neighbour) = put(&base, NEIGHBOUR, near, Some(TOKEN)).await;
    assert_eq!(neighbour["location"], location.as_str(), "{neighbour}");
    assert_eq!(neighbour["traffic"], "points", "{neighbour}");

    // The points' series are served natively too, and the registrations outlive a restart.
    let native = client()
        .get(format!(
            "{base}/api/v1/locations/{location}/traffic?start=2020-01-01&end=2020-01-02"
        ))
        .send()
        .await
        .unwrap();
    assert_ne!(native.status(), 404);
    drop(core);
    let reopened = Core::open(settings(upstream, &dir)).await.unwrap();
    let kept = almanac::query::tenants::registration(&reopened, &TENANT.to_lowercase()).unwrap();
    assert!(kept.loaded && kept.location.as_deref() == Some(location.as_str()));
    assert!(reopened.locations().iter().any(|l| l.id == location));
}

#[tokio::test]
async fn a_provider_down_never_fails_the_registration() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = serve(almanac::demo::router()).await;
    let settings_for = settings;
    let mut settings = settings_for(upstream, &dir);
    // Nothing listens on port 9 of loopback: the points file cannot be read.
    settings.sources.madrid_traffic.points_url = "http://127.0.0.1:9/points.csv".into();
    settings.sources.madrid_traffic.limits.retries = 0;
    let core = Core::open(settings).await.unwrap();
    let base = format!("http://{}", serve(almanac::http::router(core)).await);
    let (status, body) = put(
        &base,
        TENANT,
        json!({"latitude": AT.0, "longitude": AT.1}),
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["traffic"].as_str(), body["pending"].as_bool()),
        (Some("city"), Some(true))
    );
    assert!(
        body["note"].as_str().unwrap().contains("could not be read"),
        "{body}"
    );
    let (location, _) = traffic(&base, TENANT).await;
    assert_eq!(location, "madrid");

    // With the provider back, the next ingest maps the tenant again.
    let healed = Core::open(settings_for(upstream, &dir)).await.unwrap();
    let now = Timestamp::now().floor(almanac::domain::Step::HOUR);
    almanac::ops::ingest::run(&healed, now, &indicatif::ProgressBar::hidden())
        .await
        .unwrap();
    let tenant = almanac::query::tenants::registration(&healed, &TENANT.to_lowercase()).unwrap();
    assert!(!tenant.pending && !tenant.points.is_empty(), "{tenant:?}");
}
