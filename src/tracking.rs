//! MLflow tracking over its REST API (`tracking.mlflow_url`): every training and backtest of a
//! model becomes a run in the experiment `almanac/<model id>`, with its parameters, its backtest
//! metrics (MASE per band of leads as a metric history, step = band), tags naming the version,
//! its status and the data it saw, and the version's fitted state as the artifact `model.json`.
//! The store's versions stay the record: a tracking server that fails or does not answer is
//! logged and counted (`almanac_tracking_failures_total`), never fatal, and each request gives up
//! after a few seconds.

use std::time::Duration;

use serde_json::{Value, json};

use crate::domain::Timestamp;
use crate::domain::model::Metrics;

/// A request to the tracking server gives up after this long.
const TIMEOUT: Duration = Duration::from_secs(5);

/// An MLflow tracking server.
#[derive(Clone, Debug)]
pub struct Mlflow {
    base: reqwest::Url,
    http: reqwest::Client,
}

/// What one run records.
pub struct Record<'a> {
    pub model: &'a str,
    /// `train` or `backtest`.
    pub kind: &'a str,
    /// The version a training made.
    pub version: Option<i64>,
    pub status: Option<&'a str>,
    pub params: &'a Value,
    pub metrics: &'a Metrics,
    /// The data range and version it saw.
    pub data: (Timestamp, Timestamp, i64),
    /// The fitted state (`model.json`).
    pub state: &'a Value,
    pub started: Timestamp,
}

impl Mlflow {
    /// The server at `url` (`http://host:5000`), through `http`.
    pub fn new(url: &str, http: reqwest::Client) -> anyhow::Result<Self> {
        let mut base = reqwest::Url::parse(url)
            .map_err(|e| anyhow::anyhow!("tracking.mlflow_url `{url}`: {e}"))?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        Ok(Self { base, http })
    }

    fn url(&self, path: &str) -> anyhow::Result<reqwest::Url> {
        Ok(self.base.join(path)?)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let response = request.timeout(TIMEOUT).send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        if !status.is_success() {
            anyhow::bail!(
                "MLflow answered {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            );
        }
        if body.is_empty() {
            return Ok(Value::Null);
        }
        Ok(serde_json::from_slice(&body)?)
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let request = self
            .http
            .post(self.url(path)?)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        self.send(request).await
    }

    /// The id of the experiment `name`, created (or restored) when needed.
    async fn experiment(&self, name: &str) -> anyhow::Result<String> {
        let mut url = self.url("api/2.0/mlflow/experiments/get-by-name")?;
        url.query_pairs_mut().append_pair("experiment_name", name);
        let found = self.http.get(url).timeout(TIMEOUT).send().await?;
        if found.status() == reqwest::StatusCode::NOT_FOUND {
            let created = self
                .post("api/2.0/mlflow/experiments/create", json!({ "name": name }))
                .await?;
            return id(&created["experiment_id"]);
        }
        let status = found.status();
        let body: Value = serde_json::from_slice(&found.bytes().await?)?;
        if !status.is_success() {
            anyhow::bail!("MLflow answered {status}: {body}");
        }
        let experiment = &body["experiment"];
        let experiment_id = id(&experiment["experiment_id"])?;
        if experiment["lifecycle_stage"] == "deleted" {
            self.post(
                "api/2.0/mlflow/experiments/restore",
                json!({ "experiment_id": experiment_id }),
            )
            .await?;
        }
        Ok(experiment_id)
    }

    /// Records one training or backtest as a finished run; returns its run id.
    pub async fn record(&self, r: &Record<'_>, now: Timestamp) -> anyhow::Result<String> {
        let experiment = self.experiment(&format!("almanac/{}", r.model)).await?;
        let name = match r.version {
            Some(v) => format!("{} v{v}", r.model),
            None => format!("{} {}", r.model, r.kind),
        };
        let mut tags = vec![
            tag("almanac.model", r.model),
            tag("almanac.kind", r.kind),
            tag("almanac.data_start", &r.data.0.to_string()),
            tag("almanac.data_end", &r.data.1.to_string()),
            tag("almanac.data_version", &r.data.2.to_string()),
        ];
        if let Some(v) = r.version {
            tags.push(tag("almanac.version", &v.to_string()));
        }
        if let Some(status) = r.status {
            tags.push(tag("almanac.status", status));
        }
        let created = self
            .post(
                "api/2.0/mlflow/runs/create",
                json!({
                    "experiment_id": experiment,
                    "run_name": name,
                    "start_time": r.started.epoch() * 1000,
                    "tags": tags,
                }),
            )
            .await?;
        let info = &created["run"]["info"];
        let run = id(&info["run_id"])?;
        let params: Vec<Value> = match r.params {
            Value::Object(map) => map
                .iter()
                .map(|(k, v)| {
                    let value = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    json!({ "key": k, "value": value })
                })
                .collect(),
            _ => Vec::new(),
        };
        let at = now.epoch() * 1000;
        let m = r.metrics;
        let mut metrics: Vec<Value> = [
            ("mae", Some(m.mae)),
            ("rmse", Some(m.rmse)),
            ("r2", m.r2),
            ("mase", m.mase),
            ("mase_worst_band", m.mase_worst_band),
            ("baseline_mae", Some(m.baseline_mae)),
            ("coverage_80", m.coverage_80),
            ("coverage_95", m.coverage_95),
            ("train_samples", Some(m.train_samples as f64)),
            ("test_samples", Some(m.test_samples as f64)),
            ("origins", Some(m.origins as f64)),
        ]
        .into_iter()
        .filter_map(|(k, v)| metric(k, v?, at, 0))
        .collect();
        metrics.extend(
            m.by_horizon
                .iter()
                .enumerate()
                .filter_map(|(band, b)| metric("mase_by_band", b.mase?, at, band)),
        );
        self.post(
            "api/2.0/mlflow/runs/log-batch",
            json!({ "run_id": run, "params": params, "metrics": metrics,
                    "tags": [tag("almanac.baseline", &m.baseline)] }),
        )
        .await?;
        if let Some(uri) = info["artifact_uri"].as_str()
            && let Some(path) = uri.strip_prefix("mlflow-artifacts:/")
        {
            let url = self.url(&format!(
                "api/2.0/mlflow-artifacts/artifacts/{}/model.json",
                path.trim_matches('/')
            ))?;
            let artifact = json!({ "params": r.params, "metrics": r.metrics, "state": r.state });
            self.send(self.http.put(url).body(artifact.to_string()))
                .await?;
        }
        self.post(
            "api/2.0/mlflow/runs/update",
            json!({ "run_id": run, "status": "FINISHED", "end_time": at }),
        )
        .await?;
        Ok(run)
    }
}

/// An id MLflow gives as a string (or a number, to be safe).
fn id(value: &Value) -> anyhow::Result<String> {
    match value {
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        other => anyhow::bail!("MLflow answered no id: {other}"),
    }
}

fn tag(key: &str, value: &str) -> Value {
    json!({ "key": key, "value": value })
}

/// A metric as MLflow takes it; a value that is not finite is left out (MLflow would store
/// JSON's `null` as an error and a bare NaN as 0).
fn metric(key: &str, value: f64, at: i64, step: usize) -> Option<Value> {
    value
        .is_finite()
        .then(|| json!({ "key": key, "value": value, "timestamp": at, "step": step }))
}
