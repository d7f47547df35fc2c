//! MLflow tracking against a real tracking server (`ALMANAC_TEST_MLFLOW_URL`; `.ci/run` starts
//! MLflow 3.17.2 on loopback with a SQLite backend): a training is a run in the model's
//! experiment with its parameters, backtest metrics, tags and `model.json`; a server that does
//! not answer never stops a training.

use almanac::core::Core;
use almanac::domain::{Step, Timestamp};
use serde_json::Value;

use crate::support::{client, config, metric, serve};

/// The tracking server's URL; `None` (saying so) where none is configured, never in CI.
fn mlflow_url(test: &str) -> Option<String> {
    match std::env::var("ALMANAC_TEST_MLFLOW_URL") {
        Ok(url) => Some(url),
        Err(_) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{test}: ALMANAC_TEST_MLFLOW_URL is not set in CI"
            );
            eprintln!("NOT RUN: {test} (ALMANAC_TEST_MLFLOW_URL is not set)");
            None
        }
    }
}

/// A core holding the simulated water network's last 21 days, tracking to `url`, with the model
/// `id` (a copy of the demo's `sel_in_flow`).
async fn network(dir: &tempfile::TempDir, url: &str, id: &str) -> Core {
    let now = Timestamp::now().floor(Step::HOUR);
    let first = now.floor(Step::DAY).plus(-21 * 86_400);
    let (core, _) = crate::processing::network_from(dir, first, &[]).await;
    drop(core);
    let upstream = serve(almanac::demo::router()).await;
    let mut settings = config(dir, upstream, &[]);
    almanac::demo::water::configure(&mut settings);
    let model = settings.models["sel_in_flow"].clone();
    settings.models.insert(id.to_owned(), model);
    settings.tracking.mlflow_url = Some(url.to_owned());
    Core::open(settings).await.unwrap()
}

async fn get(url: String) -> Value {
    let body = client()
        .get(url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    serde_json::from_slice(&body).unwrap()
}

async fn post(url: String, body: Value) -> Value {
    let response = client()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

#[tokio::test]
async fn a_training_is_an_mlflow_run_with_its_parameters_metrics_and_model() {
    let Some(url) = mlflow_url("a_training_is_an_mlflow_run_with_its_parameters_metrics_and_model")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // A model id of its own: the server's experiments outlive one test run (SQLite and
    // PostgreSQL runs of the suite share the server).
    let id = format!("flow_{}", fastrand::u64(..));
    let core = network(&dir, &url, &id).await;
    let now = Timestamp::now().floor(Step::HOUR);
    let o = almanac::ops::model::train(&core, &id, now, "test")
        .await
        .unwrap();
    assert!(o.error.is_none(), "{o:?}");
    let version = core.store.versions(&id).await.unwrap().remove(0);
    let stored: Value = serde_json::from_str(&version.metrics).unwrap();

    let experiment = get(format!(
        "{url}/api/2.0/mlflow/experiments/get-by-name?experiment_name=almanac/{id}"
    ))
    .await;
    let experiment_id = experiment["experiment"]["experiment_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no experiment: {experiment}"))
        .to_owned();
    let found = post(
        format!("{url}/api/2.0/mlflow/runs/search"),
        serde_json::json!({ "experiment_ids": [experiment_id], "filter": "tags.`almanac.version` = '1'" }),
    )
    .await;
    let runs = found["runs"]
        .as_array()
        .unwrap_or_else(|| panic!("{found}"));
    assert_eq!(runs.len(), 1, "{found}");
    let run = &runs[0];
    assert_eq!(run["info"]["status"], "FINISHED");
    let pairs = |key: &str| -> Vec<(String, Value)> {
        run["data"][key]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["key"].as_str().unwrap().to_owned(), p["value"].clone()))
            .collect()
    };
    let params = pairs("params");
    let param = |k: &str| params.iter().find(|p| p.0 == k).map(|p| p.1.clone());
    assert_eq!(param("family"), Some(Value::from("mstl")), "{params:?}");
    assert_eq!(param("horizon_hours"), Some(Value::from("24")));
    assert_eq!(param("variable"), Some(Value::from("flow_rate")));
    let metrics = pairs("metrics");
    let metric_of = |k: &str| metrics.iter().find(|p| p.0 == k).and_then(|p| p.1.as_f64());
    for key in ["mae", "rmse", "mase", "coverage_80", "coverage_95"] {
        let logged = metric_of(key).unwrap_or_else(|| panic!("{key} not logged: {metrics:?}"));
        assert!(
            (logged - stored[key].as_f64().unwrap()).abs() < 1e-9,
            "{key}"
        );
    }
    let tags = pairs("tags");
    let tag = |k: &str| tags.iter().find(|p| p.0 == k).map(|p| p.1.clone());
    assert_eq!(tag("almanac.status"), Some(Value::from("champion")));
    assert_eq!(tag("almanac.kind"), Some(Value::from("train")));
    assert_eq!(
        tag("almanac.data_version"),
        Some(Value::from(version.data_version.to_string()))
    );
    // The fitted state as an artifact, read back.
    let run_id = run["info"]["run_id"].as_str().unwrap();
    let listed = get(format!(
        "{url}/api/2.0/mlflow/artifacts/list?run_id={run_id}"
    ))
    .await;
    assert!(
        listed["files"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["path"] == "model.json")),
        "{listed}"
    );
    let artifact = client()
        .get(format!(
            "{url}/get-artifact?run_id={run_id}&path=model.json"
        ))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let artifact: Value = serde_json::from_slice(&artifact).unwrap();
    assert_eq!(artifact["state"]["horizon"], 24, "{artifact}");
}

#[tokio::test]
async fn a_tracking_server_that_does_not_answer_never_stops_a_training() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let core = network(&dir, &url, "flow_untracked").await;
    let now = Timestamp::now().floor(Step::HOUR);
    let o = almanac::ops::model::train(&core, "flow_untracked", now, "test")
        .await
        .unwrap();
    assert!(o.error.is_none(), "{o:?}");
    assert_eq!(
        core.store.versions("flow_untracked").await.unwrap().len(),
        1
    );
    let text = core.metrics.render();
    let failures = metric(
        &text,
        "almanac_tracking_failures_total{model=\"flow_untracked\"}",
    );
    assert_eq!(failures, Some(1.0), "{text}");
}
