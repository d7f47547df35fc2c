//! The factory's routes from almanac's forecasts: the price model trained on a month of the
//! simulated REE prices, Madrid's weather forecasts as issued, and the production features,
//! windows and recommendations computed from them by the seed's formulas.

use almanac::domain::factory;
use almanac::domain::{Step, Timestamp};
use serde_json::{Value, json};

use crate::support::{client, loaded, serve};

async fn get(url: String) -> (u16, Value) {
    let response = client().get(url).send().await.unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap(),
    )
}

async fn post(url: String, body: Value) -> (u16, Value) {
    let response = client()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap(),
    )
}

#[tokio::test]
async fn prices_plan_windows_and_recommendations_come_from_the_forecasts() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = serve(almanac::demo::router()).await;
    let core = loaded(
        &dir,
        upstream,
        &[
            ("ALMANAC__LOCATIONS__ES_PENINSULAR__ENABLED", "true"),
            // A month of prices: two origins of a week, and the weeks before them.
            ("ALMANAC__MODELS__ES_SPOT__BACKTEST_ORIGINS", "2"),
        ],
    )
    .await;
    let now = Timestamp::now().floor(Step::HOUR);
    let forecasts = almanac::ops::forecast::run(&core, now).await.unwrap();
    assert!(!forecasts.failed(), "{forecasts}");
    let base = format!(
        "http://{}",
        serve(almanac::http::router(core.clone())).await
    );

    // Before the model is trained: a clear 404, not an empty answer.
    let (status, body) = get(format!("{base}/predict/prices/hourly?hours=24")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("no_forecast")),
        "{body}"
    );

    let trained = almanac::ops::model::train(&core, "es_spot", now, "test")
        .await
        .unwrap();
    assert!(trained.error.is_none(), "{trained:?}");
    let predicted = almanac::ops::model::predict(&core, "es_spot", now)
        .await
        .unwrap();
    assert_eq!(predicted.counts.inserted, 168, "{predicted:?}");

    let (status, prices) = get(format!("{base}/predict/prices/hourly?hours=24")).await;
    assert_eq!(status, 200, "{prices}");
    assert_eq!(prices["predictions_count"], 24);
    assert_eq!(prices["unit"], "€/kWh");
    for p in prices["predictions"].as_array().unwrap() {
        let (v, lo, hi) = (
            p["predicted_price"].as_f64().unwrap(),
            p["confidence_lower"].as_f64().unwrap(),
            p["confidence_upper"].as_f64().unwrap(),
        );
        assert!(lo <= v && v <= hi && (0.0..1.0).contains(&v), "{p}");
    }
    assert_eq!(prices["model_metrics"]["test_samples"], 336, "{prices}");
    let (status, weekly) = get(format!("{base}/predict/prices/weekly")).await;
    assert_eq!(
        (status, weekly["predictions_count"].as_u64()),
        (200, Some(168))
    );

    // The plan: every hour's features are the seed's formulas of its inputs.
    let (status, plan) = get(format!(
        "{base}/api/v1/locations/madrid/production_plan?hours=48"
    ))
    .await;
    assert_eq!(status, 200, "{plan}");
    let hours = plan["hours"].as_array().unwrap();
    assert_eq!(
        hours.len() + plan["hours_missing"].as_u64().unwrap() as usize,
        48
    );
    assert!(hours.len() >= 40, "{plan}");
    // The cost index scales by the range's forecast prices, those of hours without weather too.
    let range = (
        plan["price_range_eur_kwh"][0].as_f64().unwrap(),
        plan["price_range_eur_kwh"][1].as_f64().unwrap(),
    );
    for h in hours {
        let p = h["price_eur_kwh"].as_f64().unwrap();
        assert!(range.0 <= p && p <= range.1, "{h}");
    }
    for h in hours {
        let f = factory::features(
            h["price_eur_kwh"].as_f64().unwrap(),
            range,
            h["temperature"].as_f64().unwrap(),
            h["humidity"].as_f64().unwrap(),
        );
        let expected = serde_json::to_value(f).unwrap();
        for (k, v) in expected.as_object().unwrap() {
            // Numbers to a part in 10⁹ (serde_json parses floats to within an ulp or so).
            let same = match (h[k].as_f64(), v.as_f64()) {
                (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                _ => &h[k] == v,
            };
            assert!(
                same,
                "{k} at {} in {range:?}: {h} against {v}",
                h["timestamp"]
            );
        }
    }
    assert_eq!(plan["inputs"]["price_model"], "es_spot");
    assert_eq!(
        plan["inputs"]["weather_sources"],
        json!(["open_meteo_forecast"])
    );
    let (status, windows) = get(format!("{base}/insights/optimal-windows?days=2")).await;
    assert_eq!(status, 200, "{windows}");
    assert_eq!(windows["optimal_windows"], plan["optimal_windows"]);
    let (status, _) = get(format!("{base}/insights/optimal-windows?days=30")).await;
    assert_eq!(status, 400);

    // One hour, as the factory posted it: the cost index within the month's stored PVPC.
    let (status, score) = post(
        format!("{base}/predict/energy-optimization"),
        json!({"price_eur_kwh": 0.0, "temperature": 21.0, "humidity": 55.0}),
    )
    .await;
    assert_eq!(status, 200, "{score}");
    // The cheapest price there is, at the best temperature: cost 0, comfort 100.
    assert_eq!(score["energy_optimization_score"], 100.0);
    assert_eq!(score["recommendation"], "Optimal_Production");
    assert_eq!(score["prediction_confidence"], Value::Null);
    let (status, advice) = post(
        format!("{base}/predict/production-recommendation"),
        json!({"price_eur_kwh": 5.0, "temperature": 35.0, "humidity": 90.0}),
    )
    .await;
    assert_eq!(status, 200, "{advice}");
    assert_eq!(advice["recommendation"], "Halt_Production");
    assert_eq!(advice["urgency"], "high");
    for bad in [
        json!({"price_eur_kwh": 0.1, "temperature": 21.0, "humidity": 150.0}),
        json!({"price_eur_kwh": 0.1, "temperature": 21.0}),
        json!({"price": 0.1, "temperature": 21.0, "humidity": 50.0}),
    ] {
        let (status, body) = post(format!("{base}/predict/energy-optimization"), bad).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("invalid_body")),
            "{body}"
        );
    }
}
