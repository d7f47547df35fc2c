//! Forecasting models (`[models.<id>]`): `train` fits and backtests a new version on the stored
//! history, `predict` stores each live version's forecast and judges them (promotion of a
//! shadow, rollback or retraining of a champion, by `domain::model::lifecycle`). Both read the
//! model's series as a training frame reads it (`query::training`: the location's grid, source
//! priority, hourly means or local days), so a model learns from exactly what a user is served.
//!
//! A version is the family, its settings and its calibration (the interval half-widths from its
//! backtest); a prediction refits the family on the history up to the issue time, since a
//! statistical model's fitted state is a function of that history and refitting costs
//! milliseconds.

mod predict;
mod train;
mod versions;

pub use predict::{judge, predict, run_predict};
pub use train::{Evaluated, evaluate, run_train, track, train};
pub use versions::{promote, reject, roll_back};

use serde::{Deserialize, Serialize};

use crate::config::ModelConfig;
use crate::core::Core;
use crate::domain::model::{Known, Widths};
use crate::domain::time::Resolution;
use crate::domain::{Location, TimeRange, Timestamp};

/// What a version keeps beside its metrics: how to forecast again as it did.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct State {
    /// The forecaster, with its seasons (`mstl_24_168`).
    pub forecaster: String,
    pub step_seconds: i64,
    pub horizon: usize,
    /// Steps of history each fit sees.
    pub window: usize,
    pub widths: Widths,
    /// The regressors it was fitted with (`holiday`), in the order of its features.
    #[serde(default)]
    pub regressors: Vec<String>,
}

/// The model `id` from the configuration and its location.
pub fn model<'a>(core: &'a Core, id: &str) -> anyhow::Result<(&'a ModelConfig, &'a Location)> {
    let config = core
        .config
        .models
        .get(id)
        .ok_or_else(|| anyhow::anyhow!("no model `{id}` is configured"))?;
    let location = core.registry.get(&config.location).ok_or_else(|| {
        anyhow::anyhow!("model `{id}`: location `{}` is not known", config.location)
    })?;
    Ok((config, location))
}

/// Starts a run of `operation` on model `id` (source: the model's id) and its outcome.
async fn start(core: &Core, id: &str, operation: &str) -> anyhow::Result<crate::ops::Outcome> {
    let (config, _) = model(core, id)?;
    let run = core
        .store
        .start_run(&crate::store::NewRun {
            operation,
            location: Some(&config.location),
            dataset: Some(config.dataset),
            source: Some(id),
            range: None,
            started_at: Timestamp::now(),
            parent: core.scope.job,
        })
        .await?;
    Ok(crate::ops::Outcome {
        location: config.location.clone(),
        dataset: config.dataset.to_string(),
        source: id.to_owned(),
        run,
        ..crate::ops::Outcome::default()
    })
}

/// A version's backtest figures in a line: MAE, MASE against the better baseline, 80 % coverage.
pub fn figures(metrics: &serde_json::Value) -> String {
    let figure = |v: &serde_json::Value| {
        v.as_f64()
            .map_or_else(|| "—".to_owned(), |x| format!("{x:.3}"))
    };
    format!(
        "MAE {}, MASE {} against {}, 80 % coverage {}",
        figure(&metrics["mae"]),
        figure(&metrics["mase"]),
        metrics["baseline"].as_str().unwrap_or("—"),
        figure(&metrics["coverage_80"])
    )
}

/// Fails unless model `id` is configured and its location known.
pub fn exists(core: &Core, id: &str) -> anyhow::Result<()> {
    model(core, id).map(|_| ())
}

/// The end of the history at `now`: the start of the step under way (which is incomplete).
pub fn history_end(model: &ModelConfig, location: &Location, now: Timestamp) -> Timestamp {
    model.resolution.floor(now, &location.timezone)
}

/// The model's series over `range`, one value (or none) per step of the location's grid
/// (its `fill_from` variables filling the steps its variable lacks).
pub async fn series(
    core: &Core,
    model: &ModelConfig,
    location: &Location,
    range: TimeRange,
) -> anyhow::Result<(Vec<Timestamp>, Vec<Option<f64>>)> {
    crate::query::models::series(core, model, location, range)
        .await
        .map_err(|e| anyhow::anyhow!("reading the model's series: {e}"))
}

/// `regressors` (`holiday`) at each of `steps` (a history's and its horizon's), from the
/// location's calendar; fails naming a year the calendars do not hold.
pub fn known(
    core: &Core,
    location: &Location,
    regressors: &[String],
    steps: &[Timestamp],
) -> anyhow::Result<Known> {
    let mut known = Known::default();
    if regressors.is_empty() {
        return Ok(known);
    }
    let dates: Vec<jiff::civil::Date> = steps
        .iter()
        .map(|t| t.to_jiff().to_zoned(location.timezone.clone()).date())
        .collect();
    for name in regressors {
        let regressor: crate::config::Regressor =
            serde_json::from_value(serde_json::Value::String(name.clone()))
                .map_err(|_| anyhow::anyhow!("unknown regressor `{name}`"))?;
        let school = regressor == crate::config::Regressor::SchoolHoliday;
        let column = core
            .config
            .holidays
            .flags(location.place(), &dates, school)
            .map_err(|why| anyhow::anyhow!("regressor `{}`: {why}", regressor.as_str()))?;
        known.names.push(regressor.as_str().to_owned());
        known.columns.push(column);
    }
    Ok(known)
}

/// The range of `steps` steps of `resolution` ending at `end` (local days: a day more, so DST
/// days never shorten it).
pub fn back(resolution: Resolution, end: Timestamp, steps: usize) -> TimeRange {
    let extra = match resolution {
        Resolution::Hour => 0,
        Resolution::Day => 1,
    };
    TimeRange {
        start: end.plus(-((steps + extra) as i64) * resolution.seconds()),
        end,
    }
}
