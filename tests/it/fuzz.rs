//! Random and malformed requests at every route never get a 5xx: path segments, query values
//! and bodies drawn from plausible, boundary and garbage values, with random methods.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::support::{client, loaded, serve};

/// Every route, with `{}` for its path parameters.
const ROUTES: &[&str] = &[
    "/api/v1/external/cities",
    "/api/v1/cities",
    "/api/v1/external/operations/cities/{}/availability",
    "/api/v1/cities/{}/data-availability",
    "/api/v1/tenants/{}/external/operations/historical-weather-optimized",
    "/api/v1/tenants/{}/external/historical-weather",
    "/api/v1/tenants/{}/external/operations/historical-traffic-optimized",
    "/api/v1/tenants/{}/external/historical-traffic",
    "/api/v1/tenants/{}/external/operations/weather/historical",
    "/api/v1/tenants/{}/external/operations/traffic/historical",
    "/api/v1/locations",
    "/api/v1/locations/nearest",
    "/api/v1/locations/{}",
    "/api/v1/locations/{}/availability",
    "/api/v1/locations/{}/coverage",
    "/api/v1/locations/{}/gaps",
    "/api/v1/locations/{}/{}",
    "/api/v1/point/{}",
    "/api/v1/sources",
    "/api/v1/runs",
    "/api/v1/runs/{}",
    "/api/v1/admin/{}",
    "/metrics",
    "/health/live",
    "/health/ready",
    "/openapi.json",
    "/docs",
    "/api/v1/{}",
];

const PARAMETERS: &[&str] = &[
    "latitude",
    "longitude",
    "lat",
    "lon",
    "start_date",
    "end_date",
    "start",
    "end",
    "variables",
    "resolution",
    "fill",
    "max_gap",
    "format",
    "dataset",
    "source",
    "limit",
    "x",
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("madrid".to_string()),
        Just("weather".to_string()),
        Just("energy_price".to_string()),
        Just("temperature,humidity".to_string()),
        Just("day".to_string()),
        Just("linear".to_string()),
        Just("csv".to_string()),
        Just(String::new()),
        Just("NaN".to_string()),
        Just("1e309".to_string()),
        Just("-0".to_string()),
        Just("99999999999999999999".to_string()),
        Just("2026-02-30".to_string()),
        Just("0001-01-01".to_string()),
        Just("9999-12-31T23:59:59Z".to_string()),
        (-200.0f64..200.0).prop_map(|x| format!("{x:.3}")),
        (0i64..5_000).prop_map(|d| {
            let day = jiff::civil::date(2020, 1, 1) + jiff::Span::new().days(d);
            day.to_string()
        }),
        any::<i64>().prop_map(|n| n.to_string()),
        "[a-z_]{1,12}",
        "\\PC{0,16}",
    ]
}

#[derive(Debug, Clone)]
struct Call {
    method: &'static str,
    route: &'static str,
    segments: Vec<String>,
    query: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

fn call() -> impl Strategy<Value = Call> {
    (
        prop::sample::select(vec!["GET", "GET", "GET", "POST", "PUT", "DELETE"]),
        prop::sample::select(ROUTES),
        prop::collection::vec(value(), 2),
        prop::collection::vec((prop::sample::select(PARAMETERS), value()), 0..7),
        prop_oneof![
            Just(Vec::new()),
            Just(br#"{"latitude": 40.4, "longitude": -3.7, "start_date": "2026-01-01", "end_date": "2026-01-02"}"#.to_vec()),
            Just(br#"{"location": "madrid", "months": 1}"#.to_vec()),
            prop::collection::vec(any::<u8>(), 0..64),
        ],
    )
        .prop_map(|(method, route, segments, query, body)| Call {
            method,
            route,
            segments,
            query,
            body,
        })
}

/// Percent-encodes everything but unreserved characters.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn random_requests_never_get_a_server_error() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let base = runtime.block_on(async {
        let upstream = serve(almanac::demo::upstream::router()).await;
        let core = loaded(&dir, upstream, &[]).await;
        format!("http://{}", serve(almanac::http::router(core)).await)
    });
    let http = client();
    let mut runner = TestRunner::new(Config {
        cases: 400,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&call(), |call| {
            let mut path = call.route.to_string();
            for segment in &call.segments {
                path = path.replacen("{}", &encode(segment), 1);
            }
            let query: Vec<String> = call
                .query
                .iter()
                .map(|(k, v)| format!("{k}={}", encode(v)))
                .collect();
            let url = format!("{base}{path}?{}", query.join("&"));
            let method = reqwest::Method::from_bytes(call.method.as_bytes()).unwrap();
            let (status, body) = runtime.block_on(async {
                let response = http
                    .request(method, &url)
                    .body(call.body.clone())
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                (status, response.text().await.unwrap_or_default())
            });
            prop_assert!(status < 500, "{} {url} → {status}: {body}", call.method);
            if status >= 400 {
                let error: serde_json::Value = serde_json::from_str(&body).map_err(|_| {
                    TestCaseError::fail(format!("{url} → {status}, not JSON: {body}"))
                })?;
                prop_assert!(
                    error["code"].is_string() && error["detail"].is_string(),
                    "{url} → {status}: {body}"
                );
            }
            Ok(())
        })
        .unwrap();
}
