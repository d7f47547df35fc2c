//! The OpenAPI document against the server: every route the router declares is documented,
//! every documented operation is called here, and every answer's status is documented with a
//! body that matches its schema (checked by a small JSON Schema subset: `$ref`, `allOf`, `type`,
//! `enum`, `properties`, `required`, `additionalProperties`, `items`).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::{client, loaded, serve};

const TOKEN: &str = "openapi-test-token";

fn resolve<'a>(doc: &'a Value, mut node: &'a Value) -> &'a Value {
    while let Some(reference) = node.get("$ref").and_then(Value::as_str) {
        node = reference
            .trim_start_matches("#/")
            .split('/')
            .fold(doc, |at, key| &at[key]);
        assert!(!node.is_null(), "unresolved {reference}");
    }
    node
}

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        other => panic!("schema type {other} unknown to this checker"),
    }
}

/// Every way `value` breaks `schema`, with where.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    for part in schema["allOf"].as_array().into_iter().flatten() {
        check(doc, part, value, at, errors);
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !types.is_empty() && !types.iter().any(|t| type_matches(t, value)) {
        errors.push(format!("{at}: {value} is not {types:?}"));
        return;
    }
    if let Some(options) = schema["enum"].as_array()
        && !options.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {options:?}"));
    }
    if let Some(object) = value.as_object() {
        for required in schema["required"].as_array().into_iter().flatten() {
            let key = required.as_str().unwrap();
            if !object.contains_key(key) {
                errors.push(format!("{at}: `{key}` is missing"));
            }
        }
        let properties = schema["properties"].as_object();
        for (key, item) in object {
            match properties.and_then(|p| p.get(key)) {
                Some(property) => check(doc, property, item, &format!("{at}.{key}"), errors),
                None => match &schema["additionalProperties"] {
                    Value::Bool(false) => errors.push(format!("{at}: `{key}` is not documented")),
                    extra @ Value::Object(_) => {
                        check(doc, extra, item, &format!("{at}.{key}"), errors)
                    }
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        // The first elements say enough; long series would only slow the test.
        for (i, item) in array.iter().take(30).enumerate() {
            check(doc, items, item, &format!("{at}[{i}]"), errors);
        }
    }
}

/// The paths `src/http/mod.rs` routes, in OpenAPI's spelling.
fn routed_paths() -> BTreeSet<String> {
    let source =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/http/mod.rs")).unwrap();
    let mut paths = BTreeSet::new();
    let mut rest = source.as_str();
    while let Some(at) = rest.find(".route(") {
        rest = &rest[at + 7..];
        let start = rest.find('"').unwrap() + 1;
        let end = start + rest[start..].find('"').unwrap();
        paths.insert(rest[start..end].to_owned());
    }
    paths
}

#[tokio::test]
async fn every_route_is_documented_and_answers_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = serve(almanac::demo::upstream::router()).await;
    let core = loaded(&dir, upstream, &[("ALMANAC__HTTP__ADMIN_TOKEN", TOKEN)]).await;
    let now = almanac::domain::Timestamp::now().floor(almanac::domain::Step::HOUR);
    let forecasts = almanac::ops::forecast::run(&core, now).await.unwrap();
    assert!(!forecasts.failed(), "{forecasts}");
    let trained = almanac::ops::model::train(&core, "madrid_temperature", now, "test")
        .await
        .unwrap();
    assert!(trained.error.is_none(), "{trained:?}");
    let predicted = almanac::ops::model::predict(&core, "madrid_temperature", now)
        .await
        .unwrap();
    assert!(predicted.error.is_none(), "{predicted:?}");
    let base = format!("http://{}", serve(almanac::http::router(core)).await);
    // The processing routes also answer from a core holding the simulated water network up to
    // today (calls to it are written `@net/…`).
    let net_dir = tempfile::tempdir().unwrap();
    let first = now.floor(almanac::domain::Step::DAY).plus(-21 * 86_400);
    let (net_core, faults) =
        crate::processing::network_from(&net_dir, first, &[("ALMANAC__HTTP__ADMIN_TOKEN", TOKEN)])
            .await;
    let spike = net_core
        .store
        .anomalies(&almanac::store::AnomalyFilter {
            since: faults.spike,
            until: faults.spike.plus(1),
            location: Some("sel_north"),
            severity: None,
            include_resolved: false,
            limit: 1,
        })
        .await
        .unwrap()[0]
        .id;
    for step in ["train", "predict"] {
        let o = match step {
            "train" => almanac::ops::model::train(&net_core, "sel_in_flow", now, "test").await,
            _ => almanac::ops::model::predict(&net_core, "sel_in_flow", now).await,
        }
        .unwrap();
        assert!(o.error.is_none(), "{o:?}");
    }
    let net_base = format!("http://{}", serve(almanac::http::router(net_core)).await);

    let response = client()
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap();
    let doc: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let documented: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        routed_paths(),
        documented,
        "the router's paths and the document's"
    );

    let day = now.plus(-2 * 86_400).utc_date();
    let point = format!("latitude=40.45&longitude=-3.69&start_date={day}&end_date={day}");
    let range = format!("start={day}&end={day}");
    let weather_body = format!(
        r#"{{"latitude": 40.45, "longitude": -3.69, "start_date": "{day}", "end_date": "{day}"}}"#
    );
    let seed = "/api/v1/tenants/8a7c9f5e-1b2d-4e3f-9a8b-7c6d5e4f3a2b/external";
    // (method, documented path, concrete path and query, body, expected status)
    let calls: Vec<(&str, &str, String, Option<String>, u16)> = vec![
        (
            "get",
            "/api/v1/external/cities",
            "/api/v1/external/cities".into(),
            None,
            200,
        ),
        ("get", "/api/v1/cities", "/api/v1/cities".into(), None, 200),
        (
            "get",
            "/api/v1/external/operations/cities/{city_id}/availability",
            "/api/v1/external/operations/cities/Madrid/availability".into(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/external/operations/cities/{city_id}/availability",
            "/api/v1/external/operations/cities/atlantis/availability".into(),
            None,
            404,
        ),
        (
            "get",
            "/api/v1/cities/{city_id}/data-availability",
            "/api/v1/cities/madrid/data-availability".into(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/tenants/{tenant_id}/external/operations/historical-weather-optimized",
            format!("{seed}/operations/historical-weather-optimized?{point}"),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/tenants/{tenant_id}/external/operations/historical-weather-optimized",
            format!(
                "{seed}/operations/historical-weather-optimized?latitude=100&longitude=0&start_date={day}&end_date={day}"
            ),
            None,
            400,
        ),
        (
            "get",
            "/api/v1/tenants/{tenant_id}/external/operations/historical-weather-optimized",
            format!(
                "/api/v1/tenants/any-tenant/external/operations/historical-weather-optimized?{point}"
            ),
            None,
            400,
        ),
        (
            "get",
            "/api/v1/tenants/{tenant_id}/external/operations/historical-weather-optimized",
            format!(
                "{seed}/operations/historical-weather-optimized?latitude=48.85&longitude=2.35&start_date={day}&end_date={day}"
            ),
            None,
            404,
        ),
        (
            "get",
            "/api/v1/tenants/{tenant_id}/external/historical-weather",
            format!("{seed}/historical-weather?{point}"),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/tenants/{tenant_id}/external/operations/historical-traffic-optimized",
            format!("{seed}/operations/historical-traffic-optimized?{point}"),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/tenants/{tenant_id}/external/historical-traffic",
            format!("{seed}/historical-traffic?{point}"),
            None,
            200,
        ),
        (
            "post",
            "/api/v1/tenants/{tenant_id}/external/operations/weather/historical",
            format!("{seed}/operations/weather/historical"),
            Some(weather_body.clone()),
            200,
        ),
        (
            "post",
            "/api/v1/tenants/{tenant_id}/external/operations/weather/historical",
            format!("{seed}/operations/weather/historical"),
            Some("{".into()),
            400,
        ),
        (
            "post",
            "/api/v1/tenants/{tenant_id}/external/operations/traffic/historical",
            format!("{seed}/operations/traffic/historical"),
            Some(weather_body),
            200,
        ),
        (
            "get",
            "/api/v1/locations",
            "/api/v1/locations".into(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/locations/nearest",
            "/api/v1/locations/nearest?lat=40.4&lon=-3.7".into(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/locations/nearest",
            "/api/v1/locations/nearest?lat=x&lon=-3.7".into(),
            None,
            400,
        ),
        (
            "get",
            "/api/v1/locations/{id}",
            "/api/v1/locations/madrid".into(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/locations/{id}",
            "/api/v1/locations/atlantis".into(),
            None,
            404,
        ),
        (
            "get",
            "/api/v1/locations/{id}/availability",
            "/api/v1/locations/madrid/availability".into(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/locations/{id}/availability",
            "/api/v1/locations/atlantis/availability".into(),
            None,
            404,
        ),
        (
            "get",
            "/api/v1/locations/{id}/coverage",
            format!("/api/v1/locations/madrid/coverage?{range}"),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/locations/{id}/coverage",
            "/api/v1/locations/madrid/coverage?start=soon&end=later".into(),
            None,
            400,
        ),
        (
            "get",
            "/api/v1/locations/{id}/calendar",
            "/api/v1/locations/madrid/calendar?start=2025-12-20&end=2026-01-07".into(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/locations/{id}/calendar",
            "/api/v1/locations/madrid/calendar?start=2025-12-20".into(),
            None,
            400,
        ),
        (
            "get",
            "/api/v1/locations/{id}/frame",
            format!("/api/v1/locations/madrid/frame?{range}"),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/locations/{id}/frame",
            format!("/api/v1/locations/madrid/frame?{range}&columns=weather.nope"),
            None,
            400,
        ),
        (
            "get",
            "/api/v1/locations/{id}/weather/forecast",
            "/api/v1/locations/madrid/weather/forecast?variables=temperature,humidity".into(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/locations/{id}/weather/forecast",
            "/api/v1/locations/madrid/weather/forecast?variables=snowfall_depth".into(),
            None,
            400,
        ),
        (
            "get",
            "/api/v1/locations/{id}/weather/forecast",
            "/api/v1/locations/madrid/weather/forecast?as_of=2001-01-01".into(),
            None,
            404,
        ),
        (
            "get",
            "/api/v1/locations/{id}/gaps",
            "/api/v1/locations/madrid/gaps?dataset=weather".into(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/locations/{id}/gaps",
            "/api/v1/locations/madrid/gaps?dataset=snow".into(),
            None,
            400,
        ),
        (
            "get",
            "/api/v1/locations/{id}/{dataset}",
            format!("/api/v1/locations/madrid/weather?{range}&resolution=day&fill=linear"),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/locations/{id}/{dataset}",
            format!("/api/v1/locations/madrid/weather?{range}&format=csv"),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/locations/{id}/{dataset}",
            "/api/v1/locations/madrid/weather".into(),
            None,
            400,
        ),
        (
            "get",
            "/api/v1/locations/{id}/{dataset}",
            format!("/api/v1/locations/atlantis/weather?{range}"),
            None,
            404,
        ),
        (
            "get",
            "/api/v1/point/{dataset}",
            format!("/api/v1/point/weather?lat=40.4&lon=-3.7&{range}"),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/point/{dataset}",
            format!("/api/v1/point/weather?lat=48.85&lon=2.35&{range}"),
            None,
            404,
        ),
        (
            "get",
            "/api/v1/sources",
            "/api/v1/sources".into(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/runs",
            "/api/v1/runs?limit=5".into(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/nodes",
            "@net/api/v1/nodes".into(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/nodes/{id}/metrics",
            "@net/api/v1/nodes/sel_in/metrics?time_window=1day".into(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/nodes/{id}/history",
            "@net/api/v1/nodes/sel_north/history".into(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/quality/{id}",
            "@net/api/v1/quality/sel_south".into(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/anomalies",
            "@net/api/v1/anomalies?hours=1000&include_resolved=true".into(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/network/efficiency",
            "@net/api/v1/network/efficiency?time_window=1hour".into(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/network/metrics",
            "@net/api/v1/network/metrics?time_range=7d".into(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/dashboard/summary",
            "@net/api/v1/dashboard/summary".into(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/status",
            "@net/api/v1/status".into(),
            None,
            200,
        ),
        (
            "post",
            "/api/v1/anomalies/{id}/resolve",
            format!("@net/api/v1/anomalies/{spike}/resolve"),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/nodes/{id}/metrics",
            "/api/v1/nodes/madrid/metrics".into(),
            None,
            404,
        ),
        (
            "get",
            "/api/v1/nodes/{id}/metrics",
            "/api/v1/nodes/madrid/metrics?time_window=1week".into(),
            None,
            400,
        ),
        (
            "get",
            "/api/v1/network/metrics",
            "/api/v1/network/metrics".into(),
            None,
            400,
        ),
        (
            "get",
            "/api/v1/network/metrics",
            "/api/v1/network/metrics?network=atlantis".into(),
            None,
            404,
        ),
        ("get", "/api/v1/status", "/api/v1/status".into(), None, 200),
        (
            "get",
            "/api/v1/dashboard/summary",
            "/api/v1/dashboard/summary".into(),
            None,
            400,
        ),
        (
            "get",
            "/api/v1/dashboard/summary",
            "/api/v1/dashboard/summary?network=atlantis".into(),
            None,
            404,
        ),
        (
            "get",
            "/api/v1/locations/{id}/energy_features",
            // This test's upstream has weather only; the features are tested in `processing`.
            format!("/api/v1/locations/madrid/energy_features?{range}"),
            None,
            404,
        ),
        (
            "get",
            "/api/v1/locations/{id}/energy_features",
            format!("/api/v1/locations/madrid/energy_features?{range}&variable=pvpc_15min"),
            None,
            400,
        ),
        (
            "get",
            "/api/v1/locations/{id}/energy_features",
            format!("/api/v1/locations/atlantis/energy_features?{range}"),
            None,
            404,
        ),
        (
            "post",
            "/api/v1/anomalies/{id}/resolve",
            "/api/v1/anomalies/1/resolve".into(),
            None,
            404,
        ),
        (
            "post",
            "/api/v1/anomalies/{id}/resolve",
            "/api/v1/anomalies/first/resolve".into(),
            None,
            400,
        ),
        ("get", "/api/v1/nodes", "/api/v1/nodes".into(), None, 200),
        (
            "get",
            "/api/v1/nodes/{id}/history",
            "/api/v1/nodes/madrid/history?time_window=1day".into(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/nodes/{id}/history",
            "/api/v1/nodes/madrid/history?time_window=week".into(),
            None,
            400,
        ),
        (
            "get",
            "/api/v1/nodes/{id}/history",
            "/api/v1/nodes/atlantis/history".into(),
            None,
            404,
        ),
        (
            "get",
            "/api/v1/quality/{id}",
            "/api/v1/quality/madrid".into(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/quality/{id}",
            "/api/v1/quality/madrid?start_time=2025-01-01".into(),
            None,
            400,
        ),
        (
            "get",
            "/api/v1/quality/{id}",
            "/api/v1/quality/atlantis".into(),
            None,
            404,
        ),
        (
            "get",
            "/api/v1/anomalies",
            "/api/v1/anomalies?hours=48&severity=high".into(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/anomalies",
            "/api/v1/anomalies?severity=extreme".into(),
            None,
            400,
        ),
        (
            "get",
            "/api/v1/anomalies",
            "/api/v1/anomalies?node_id=atlantis".into(),
            None,
            404,
        ),
        (
            "get",
            "/api/v1/network/efficiency",
            "/api/v1/network/efficiency".into(),
            None,
            400,
        ),
        (
            "get",
            "/api/v1/network/efficiency",
            "/api/v1/network/efficiency?network=atlantis".into(),
            None,
            404,
        ),
        (
            "get",
            "/api/v1/runs",
            "/api/v1/runs?limit=0".into(),
            None,
            400,
        ),
        (
            "get",
            "/api/v1/runs/{id}",
            "/api/v1/runs/1".into(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/runs/{id}",
            "/api/v1/runs/first".into(),
            None,
            400,
        ),
        (
            "get",
            "/api/v1/runs/{id}",
            "/api/v1/runs/99999".into(),
            None,
            404,
        ),
        (
            "post",
            "/api/v1/admin/{job}",
            "/api/v1/admin/gaps".into(),
            Some(r#"{"location": "madrid", "days": 1}"#.into()),
            202,
        ),
        (
            "post",
            "/api/v1/admin/{job}",
            "/api/v1/admin/reboot".into(),
            None,
            404,
        ),
        (
            "post",
            "/api/v1/admin/{job}",
            "/api/v1/admin/init".into(),
            Some(r#"{"weeks": 2}"#.into()),
            400,
        ),
        ("get", "/api/v1/models", "/api/v1/models".into(), None, 200),
        (
            "get",
            "/api/v1/models/{id}",
            "/api/v1/models/madrid_temperature".into(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/models/{id}",
            "/api/v1/models/atlantis".into(),
            None,
            404,
        ),
        (
            "get",
            "/api/v1/locations/{id}/{dataset}/forecast",
            "@net/api/v1/locations/sel_in/sensor/forecast?variable=flow_rate&horizon=6".into(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/locations/{id}/{dataset}/forecast",
            "@net/api/v1/locations/sel_in/sensor/forecast?variable=flow_rate&horizon=100".into(),
            None,
            400,
        ),
        (
            "get",
            "/api/v1/locations/{id}/{dataset}/forecast",
            "@net/api/v1/locations/sel_in/sensor/forecast?variable=pressure".into(),
            None,
            404,
        ),
        (
            "get",
            "/api/v1/locations/{id}/weather/forecast",
            "/api/v1/locations/madrid/weather/forecast?variable=temperature&horizon=12".into(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/locations/{id}/weather/forecast",
            "/api/v1/locations/madrid/weather/forecast?variable=temperature&variables=temperature"
                .into(),
            None,
            400,
        ),
        (
            "get",
            "/api/v1/predictions/{node_id}",
            "@net/api/v1/predictions/sel_in?model_type=flow_prediction&horizon_hours=12".into(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/predictions/{node_id}",
            "@net/api/v1/predictions/sel_in?horizon_hours=500".into(),
            None,
            400,
        ),
        (
            "get",
            "/api/v1/predictions/{node_id}",
            "@net/api/v1/predictions/sel_in?model_type=pressure_prediction".into(),
            None,
            404,
        ),
        (
            "get",
            "/predict/prices/hourly",
            "/predict/prices/hourly?hours=24".into(),
            None,
            404,
        ),
        (
            "get",
            "/predict/prices/hourly",
            "/predict/prices/hourly?hours=500".into(),
            None,
            400,
        ),
        (
            "get",
            "/predict/prices/weekly",
            "/predict/prices/weekly".into(),
            None,
            404,
        ),
        (
            "get",
            "/predict/prices/models/price-forecast/status",
            "/predict/prices/models/price-forecast/status".into(),
            None,
            200,
        ),
        (
            "post",
            "/predict/prices/models/price-forecast/train",
            "/predict/prices/models/price-forecast/train".into(),
            None,
            401,
        ),
        (
            "post",
            "/predict/prices/train",
            "/predict/prices/train".into(),
            None,
            401,
        ),
        (
            "post",
            "/api/v1/admin/models/{id}/{action}",
            "/api/v1/admin/models/madrid_temperature/backtest".into(),
            None,
            200,
        ),
        (
            "post",
            "/api/v1/admin/models/{id}/{action}",
            "/api/v1/admin/models/madrid_temperature/explode".into(),
            None,
            404,
        ),
        (
            "get",
            "/api/v1/locations/{id}/production_plan",
            "/api/v1/locations/madrid/production_plan?hours=24".into(),
            None,
            404,
        ),
        (
            "get",
            "/api/v1/locations/{id}/production_plan",
            "/api/v1/locations/madrid/production_plan?hours=500".into(),
            None,
            400,
        ),
        (
            "get",
            "/insights/optimal-windows",
            "/insights/optimal-windows?days=2".into(),
            None,
            404,
        ),
        (
            "get",
            "/insights/optimal-windows",
            "/insights/optimal-windows?days=30".into(),
            None,
            400,
        ),
        (
            "post",
            "/predict/energy-optimization",
            "/predict/energy-optimization".into(),
            Some(r#"{"price_eur_kwh": 0.1, "temperature": 21, "humidity": 50}"#.into()),
            404,
        ),
        (
            "post",
            "/predict/energy-optimization",
            "/predict/energy-optimization".into(),
            Some(r#"{"price_eur_kwh": 0.1, "temperature": 21}"#.into()),
            400,
        ),
        (
            "post",
            "/predict/production-recommendation",
            "/predict/production-recommendation".into(),
            Some(r#"{"price_eur_kwh": 0.1, "temperature": 21, "humidity": 50}"#.into()),
            404,
        ),
        (
            "post",
            "/predict/production-recommendation",
            "/predict/production-recommendation".into(),
            Some(r#"{"price_eur_kwh": 0.1, "temperature": 21, "humidity": 500}"#.into()),
            400,
        ),
        // 20 km north of the Puerta del Sol: in Madrid, no detector within the radius, so the
        // tenant gets the city's traffic and nothing loads in the background.
        (
            "put",
            "/api/v1/tenants/{tenant_id}/location",
            "/api/v1/tenants/8a7c9f5e-1b2d-4e3f-9a8b-7c6d5e4f3a2b/location".into(),
            Some(r#"{"latitude": 40.60, "longitude": -3.70}"#.into()),
            200,
        ),
        (
            "put",
            "/api/v1/tenants/{tenant_id}/location",
            "/api/v1/tenants/8a7c9f5e-1b2d-4e3f-9a8b-7c6d5e4f3a2b/location".into(),
            Some(r#"{"latitude": 0, "longitude": 0}"#.into()),
            422,
        ),
        (
            "get",
            "/api/v1/tenants/{tenant_id}/location",
            "/api/v1/tenants/8a7c9f5e-1b2d-4e3f-9a8b-7c6d5e4f3a2b/location".into(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/tenants/{tenant_id}/location",
            "/api/v1/tenants/00000000-1b2d-4e3f-9a8b-7c6d5e4f3a2b/location".into(),
            None,
            404,
        ),
        ("get", "/metrics", "/metrics".into(), None, 200),
        ("get", "/health/live", "/health/live".into(), None, 200),
        ("get", "/health", "/health".into(), None, 200),
        ("get", "/health/ready", "/health/ready".into(), None, 200),
        ("get", "/openapi.json", "/openapi.json".into(), None, 200),
        ("get", "/ui", "/ui".into(), None, 200),
        ("get", "/ui/{file}", "/ui/app.js".into(), None, 200),
        ("get", "/ui/{file}", "/ui/nope.js".into(), None, 404),
        (
            "get",
            "/ui/vendor/{file}",
            "/ui/vendor/uPlot.iife.min.js".into(),
            None,
            200,
        ),
        ("get", "/docs", "/docs".into(), None, 200),
        ("get", "/docs/{file}", "/docs/init.js".into(), None, 200),
    ];

    let mut called = BTreeSet::new();
    let mut errors = Vec::new();
    for (method, path, url, body, want) in &calls {
        called.insert((path.to_string(), method.to_string()));
        let (base, url) = match url.strip_prefix("@net") {
            Some(rest) => (&net_base, rest),
            None => (&base, url.as_str()),
        };
        let mut request = match *method {
            "post" => client().post(format!("{base}{url}")),
            "put" => client().put(format!("{base}{url}")),
            _ => client().get(format!("{base}{url}")),
        };
        if path.starts_with("/api/v1/admin")
            || path.ends_with("/resolve")
            || path.ends_with("/location")
        {
            request = request.bearer_auth(TOKEN);
        }
        if let Some(body) = body {
            request = request.body(body.clone());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = response.bytes().await.unwrap();
        if status != *want {
            errors.push(format!(
                "{method} {url}: {status}, wanted {want}: {}",
                String::from_utf8_lossy(&bytes)
            ));
            continue;
        }
        let operation = &doc["paths"][*path][*method];
        let documented = resolve(&doc, &operation["responses"][status.to_string()]);
        if documented.is_null() {
            errors.push(format!(
                "{method} {path}: status {status} is not documented"
            ));
            continue;
        }
        let Some(media) = documented["content"].get(&content_type) else {
            errors.push(format!(
                "{method} {url}: {content_type} is not documented for {status}"
            ));
            continue;
        };
        if content_type == "application/json" {
            let value: Value = serde_json::from_slice(&bytes).unwrap();
            check(
                &doc,
                &media["schema"],
                &value,
                &format!("{method} {url}"),
                &mut errors,
            );
        }
    }
    let documented_operations: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (path.clone(), method.clone()))
        })
        .collect();
    let uncalled: Vec<_> = documented_operations.difference(&called).collect();
    assert!(
        uncalled.is_empty(),
        "documented but not called here: {uncalled:?}"
    );
    assert!(
        errors.is_empty(),
        "{} problems:\n{}",
        errors.len(),
        errors.join("\n")
    );
}

#[test]
fn the_checker_finds_what_it_should() {
    let doc: Value = serde_json::from_str(almanac::http::OPENAPI).unwrap();
    let error = &doc["components"]["schemas"]["Error"];
    let mut errors = Vec::new();
    check(
        &doc,
        error,
        &serde_json::json!({"code": "x", "detail": "y"}),
        "ok",
        &mut errors,
    );
    assert!(errors.is_empty(), "{errors:?}");
    check(
        &doc,
        error,
        &serde_json::json!({"code": 1, "extra": true}),
        "bad",
        &mut errors,
    );
    assert_eq!(errors.len(), 3, "{errors:?}");
}

/// The document passes a real OpenAPI validator (`openapi-spec-validator`, which `.ci/run`
/// installs); where it is not installed the test says so and, outside CI, passes.
#[test]
fn the_document_passes_the_openapi_validator() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/http/openapi.json");
    let output = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator", path])
        .output();
    let available = output
        .as_ref()
        .is_ok_and(|o| !String::from_utf8_lossy(&o.stderr).contains("No module named"));
    if !available {
        assert!(
            std::env::var("CI").is_err(),
            "openapi-spec-validator is not installed (pip install openapi-spec-validator)"
        );
        eprintln!("NOT RUN: the OpenAPI validator (pip install openapi-spec-validator)");
        return;
    }
    let output = output.unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
