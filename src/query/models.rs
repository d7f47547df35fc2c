//! Forecasting models as the API shows them: the list, one model with its versions and their
//! live performance, a model's stored forecast (native, columnar), and the seeds' shapes of it
//! (`query::models::seed`).

pub mod seed;

use serde::Serialize;

use super::QueryError;
use crate::config::ModelConfig;
use crate::core::Core;
use crate::domain::model::live::{Scored, score};
use crate::domain::{Dataset, Location, TimeRange, Timestamp};
use crate::store::models::{PredictionRow, StoredVersion, VersionId, VersionStatus};

/// How version `version` of `model` did on the actuals known for `targets` (its predictions
/// issued in `issued`).
pub async fn live(
    core: &Core,
    model: &ModelConfig,
    location: &Location,
    version: VersionId,
    targets: TimeRange,
    issued: TimeRange,
) -> Result<Option<Scored>, QueryError> {
    if targets.is_empty() {
        return Ok(None);
    }
    let predictions = core.reader().predictions(version, targets, issued).await?;
    if predictions.is_empty() {
        return Ok(None);
    }
    let (time, values) = series(core, model, location, targets).await?;
    let actual = |t: Timestamp| {
        let i = time.binary_search(&t).ok()?;
        values[i]
    };
    let band = model.horizon_steps().div_ceil(6);
    Ok(score(
        predictions.iter().map(|p| (p.issued_at, p.row)),
        actual,
        model.resolution.seconds(),
        band,
    ))
}

/// The model's series on its location's grid over `range`: its variable, and its `fill_from`
/// variables where it has no value.
pub async fn series(
    core: &Core,
    model: &ModelConfig,
    location: &Location,
    range: TimeRange,
) -> Result<(Vec<Timestamp>, Vec<Option<f64>>), QueryError> {
    let names: Vec<&str> = std::iter::once(model.variable.as_str())
        .chain(model.fill_from.iter().map(String::as_str))
        .collect();
    super::training::quantity(
        core,
        location,
        model.dataset,
        &names,
        model.resolution,
        range,
    )
    .await
}

#[derive(Serialize)]
pub struct ModelSummary {
    pub id: String,
    pub location: String,
    pub dataset: Dataset,
    pub variable: String,
    pub resolution: &'static str,
    pub family: &'static str,
    pub horizon_hours: u32,
    pub enabled: bool,
    pub versions: usize,
    pub champion: Option<Version>,
    pub shadow: Option<Version>,
}

/// A version as the API shows it.
#[derive(Serialize)]
pub struct Version {
    pub version: i64,
    pub family: String,
    pub status: VersionStatus,
    pub created_at: Timestamp,
    pub status_at: Timestamp,
    pub reason: Option<String>,
    pub train_start: Timestamp,
    pub train_end: Timestamp,
    pub data_version: i64,
    pub params: serde_json::Value,
    /// The backtest's figures.
    pub metrics: serde_json::Value,
    /// The version it replaced as champion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaced: Option<i64>,
}

fn version(v: &StoredVersion, all: &[StoredVersion]) -> Version {
    Version {
        version: v.version,
        family: v.family.clone(),
        status: v.status,
        created_at: v.created_at,
        status_at: v.status_at,
        reason: v.reason.clone(),
        train_start: v.train.start,
        train_end: v.train.end,
        data_version: v.data_version,
        params: serde_json::from_str(&v.params).unwrap_or_default(),
        metrics: serde_json::from_str(&v.metrics).unwrap_or_default(),
        replaced: v
            .previous
            .and_then(|p| all.iter().find(|o| o.id == p))
            .map(|o| o.version),
    }
}

/// The configured model `id`, or 404 `unknown_model`.
pub fn config<'a>(core: &'a Core, id: &str) -> Result<(&'a ModelConfig, &'a Location), QueryError> {
    let model = core.config.models.get(id).ok_or_else(|| {
        QueryError::not_found(
            "unknown_model",
            format!(
                "no model `{id}`; configured: {}",
                core.config
                    .models
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })?;
    let location = core.registry.get(&model.location).ok_or_else(|| {
        QueryError::not_found(
            "unknown_location",
            format!("no location `{}`", model.location),
        )
    })?;
    Ok((model, location))
}

/// Model `id`'s summary from its versions (newest first).
fn summary(id: &str, m: &ModelConfig, versions: &[StoredVersion]) -> ModelSummary {
    let with = |s: VersionStatus| {
        versions
            .iter()
            .find(|v| v.status == s)
            .map(|v| version(v, versions))
    };
    ModelSummary {
        id: id.to_owned(),
        location: m.location.clone(),
        dataset: m.dataset,
        variable: m.variable.clone(),
        resolution: m.resolution.as_str(),
        family: m.family.as_str(),
        horizon_hours: m.horizon_hours,
        enabled: m.enabled,
        versions: versions.len(),
        champion: with(VersionStatus::Champion),
        shadow: with(VersionStatus::Shadow),
    }
}

/// Every configured model with its champion and shadow.
pub async fn list(core: &Core) -> Result<Vec<ModelSummary>, QueryError> {
    let mut out = Vec::new();
    for (id, m) in &core.config.models {
        let versions = core.reader().versions(id).await?;
        out.push(summary(id, m, &versions));
    }
    Ok(out)
}

#[derive(Serialize)]
pub struct ModelDetail {
    #[serde(flatten)]
    pub summary: ModelSummary,
    pub training_days: u32,
    pub backtest_origins: u32,
    pub retrain_days: u32,
    pub rules: crate::domain::model::lifecycle::Rules,
    /// Every version, newest first.
    pub all_versions: Vec<Version>,
    /// The champion's and the shadow's predictions scored on the actuals that arrived: the
    /// champion's since it became champion, the shadow's since it began.
    pub model_performance: Vec<Performance>,
}

#[derive(Serialize)]
pub struct Performance {
    pub version: i64,
    pub status: VersionStatus,
    pub since: Timestamp,
    /// `None` until an actual meets a prediction.
    pub live: Option<Scored>,
}

/// Model `id` in full, its live performance as of `now`.
pub async fn detail(core: &Core, id: &str, now: Timestamp) -> Result<ModelDetail, QueryError> {
    let (m, location) = config(core, id)?;
    let versions = core.reader().versions(id).await?;
    let end = m.resolution.floor(now, &location.timezone);
    let mut model_performance = Vec::new();
    for v in versions
        .iter()
        .filter(|v| v.status != VersionStatus::Retired)
    {
        let since = match v.status {
            VersionStatus::Champion => v.status_at,
            _ => v.created_at,
        };
        let targets = TimeRange {
            start: since.min(end),
            end,
        };
        let issued = TimeRange {
            start: since,
            end: now.plus(1),
        };
        model_performance.push(Performance {
            version: v.version,
            status: v.status,
            since,
            live: live(core, m, location, v.id, targets, issued).await?,
        });
    }
    Ok(ModelDetail {
        summary: summary(id, m, &versions),
        training_days: m.training_days,
        backtest_origins: m.backtest_origins,
        retrain_days: m.retrain_days,
        rules: m.rules,
        all_versions: versions.iter().map(|v| version(v, &versions)).collect(),
        model_performance,
    })
}

/// A model's newest stored forecast, columnar.
#[derive(Serialize)]
pub struct ModelForecast {
    pub location: String,
    pub dataset: Dataset,
    pub variable: String,
    pub unit: &'static str,
    pub model: String,
    pub version: i64,
    pub family: String,
    pub issued_at: Timestamp,
    pub horizon_hours: u32,
    pub time: Vec<Timestamp>,
    pub value: Vec<f64>,
    pub lower_80: Vec<Option<f64>>,
    pub upper_80: Vec<Option<f64>>,
    pub lower_95: Vec<Option<f64>>,
    pub upper_95: Vec<Option<f64>>,
    /// The champion's backtest figures (MAE, MASE against the better baseline, coverage).
    pub metrics: serde_json::Value,
}

/// The enabled model forecasting `variable` of `dataset` at `location` (the first by id).
pub fn model_of<'a>(
    core: &'a Core,
    location: &str,
    dataset: Dataset,
    variable: &str,
) -> Result<(&'a str, &'a ModelConfig), QueryError> {
    if dataset.variable(variable).is_none() {
        return Err(QueryError::invalid(
            "unknown_variable",
            format!("`{variable}` is not a {dataset} variable"),
        ));
    }
    core.config
        .models
        .iter()
        .find(|(_, m)| m.enabled && m.location == location && m.dataset == dataset && m.variable == variable)
        .map(|(id, m)| (id.as_str(), m))
        .ok_or_else(|| {
            QueryError::not_found(
                "no_model",
                format!("no model forecasts {dataset} {variable} at `{location}` (GET /api/v1/models lists them)"),
            )
        })
}

/// Model `id`'s champion's newest forecast issued by `now`, the first `horizon_hours` of it
/// (all of it when `None`; more than the model's horizon is 400 `horizon_too_long`).
pub async fn forecast(
    core: &Core,
    id: &str,
    horizon_hours: Option<u32>,
    now: Timestamp,
) -> Result<(ModelForecast, Vec<PredictionRow>), QueryError> {
    let (m, _) = config(core, id)?;
    let horizon = horizon_hours.unwrap_or(m.horizon_hours);
    if horizon == 0 || horizon > m.horizon_hours {
        return Err(QueryError::invalid(
            "horizon_too_long",
            format!(
                "horizon {horizon} h: model `{id}` forecasts 1 to {} hours ahead",
                m.horizon_hours
            ),
        ));
    }
    let versions = core.reader().versions(id).await?;
    let champion = versions
        .iter()
        .find(|v| v.status == VersionStatus::Champion)
        .ok_or_else(|| {
            QueryError::not_found(
                "no_forecast",
                format!("model `{id}` has no trained version yet"),
            )
        })?;
    let (issued_at, rows) = core
        .reader()
        .latest_predictions(champion.id, now)
        .await?
        .ok_or_else(|| {
            QueryError::not_found(
                "no_forecast",
                format!(
                    "model `{id}` (version {}) has made no forecast yet",
                    champion.version
                ),
            )
        })?;
    // Counted from the first step forecast (the one under way at the issue).
    let until = rows
        .first()
        .map_or(issued_at, |r| r.ts)
        .plus(i64::from(horizon) * 3_600);
    let rows: Vec<PredictionRow> = rows.into_iter().filter(|r| r.ts < until).collect();
    let unit = m.dataset.variable(&m.variable).map_or("", |v| v.unit);
    let answer = ModelForecast {
        location: m.location.clone(),
        dataset: m.dataset,
        variable: m.variable.clone(),
        unit,
        model: id.to_owned(),
        version: champion.version,
        family: champion.family.clone(),
        issued_at,
        horizon_hours: horizon,
        time: rows.iter().map(|r| r.ts).collect(),
        value: rows.iter().map(|r| r.value).collect(),
        lower_80: rows.iter().map(|r| r.lower_80).collect(),
        upper_80: rows.iter().map(|r| r.upper_80).collect(),
        lower_95: rows.iter().map(|r| r.lower_95).collect(),
        upper_95: rows.iter().map(|r| r.upper_95).collect(),
        metrics: serde_json::from_str(&champion.metrics).unwrap_or_default(),
    };
    Ok((answer, rows))
}
