//! `train`: a new version of a model, fitted and backtested on the stored history, under a run of
//! its own. The first version becomes the champion; later ones run in shadow (replacing an
//! earlier shadow) until `predict` judges them. Too little history fails the run with how much
//! there is and how much is needed; the champion keeps serving.

use super::{State, back, history_end, model, series};
use crate::core::Core;
use crate::domain::model::{
    Backtest, Evaluation, Family, backtest, baselines, periods_held, seasons,
};
use crate::domain::{RunStatus, TimeRange, Timestamp};
use crate::ops::{Outcome, Summary};
use crate::store::RunId;
use crate::store::models::{NewVersion, StoredVersion, Transition, VersionStatus};

/// The `train` job: every enabled model whose newest version is `retrain_days` old (or that has
/// none) gets a new one.
pub async fn run_train(core: &Core, now: Timestamp) -> anyhow::Result<Summary> {
    let mut summary = Summary::default();
    for (id, config) in &core.config.models {
        if !config.enabled || !in_scope(core, &config.location) {
            continue;
        }
        let versions = core.store.versions(id).await?;
        let due = versions.first().is_none_or(|newest| {
            newest
                .created_at
                .plus(i64::from(config.retrain_days) * 86_400)
                <= now
        });
        if due {
            summary
                .outcomes
                .push(train(core, id, now, "scheduled").await?);
        }
    }
    Ok(summary)
}

/// Whether a job looks at a model at `location`: the location is enabled and in the
/// invocation's scope (a job limited to one location).
pub(super) fn in_scope(core: &Core, location: &str) -> bool {
    core.registry.get(location).is_some_and(|l| l.enabled)
        && core.scope.location.as_deref().is_none_or(|l| l == location)
}

/// Trains a new version of model `id` on the history before `now`; `why` is recorded with it.
pub async fn train(core: &Core, id: &str, now: Timestamp, why: &str) -> anyhow::Result<Outcome> {
    let mut outcome = super::start(core, id, "train").await?;
    let run = outcome.run;
    let (status, error) = match fit(core, id, now, why, run).await {
        Ok(version) => {
            outcome.note = Some(describe(&version));
            (RunStatus::Succeeded, None)
        }
        Err(error) => {
            let error = format!("{error:#}");
            tracing::warn!(model = id, %error, "training failed");
            outcome.failed = 1;
            outcome.note = Some("training failed".into());
            outcome.error = Some(error.clone());
            (RunStatus::Failed, Some(error))
        }
    };
    core.metrics.add(
        "almanac_model_trainings_total",
        &[
            ("model", id),
            ("result", if error.is_some() { "failed" } else { "ok" }),
        ],
        1.0,
    );
    core.store
        .finish_run(run, status, error.as_deref(), Timestamp::now())
        .await?;
    Ok(outcome)
}

/// A backtested fit, not yet stored.
pub struct Evaluated {
    pub evaluation: Evaluation,
    pub state: State,
    pub params: serde_json::Value,
    pub train: TimeRange,
    pub data_version: i64,
}

/// Fits and backtests model `id` on the history before `now`, storing nothing (`almanac
/// models backtest`; `train` stores what this finds).
pub async fn evaluate(core: &Core, id: &str, now: Timestamp) -> anyhow::Result<Evaluated> {
    let (config, location) = model(core, id)?;
    let step = config.resolution.seconds();
    let horizon = config.horizon_steps();
    let origins = config.backtest_origins as usize;
    let window = (i64::from(config.training_days) * 86_400 / step) as usize;
    let test = horizon * origins;
    if let Some(regressor) = config.regressors.first() {
        // Before reading anything: a location without a calendar cannot give holidays.
        core.config
            .holidays
            .check(location.place())
            .map_err(|why| anyhow::anyhow!("`{id}`: regressor `{}`: {why}", regressor.as_str()))?;
    }
    let end = history_end(config, location, now);
    let data_version = core.store.version(&config.location, config.dataset).await?;
    // Each backtest fit sees `window` steps before its origin, like the final one.
    let range = back(config.resolution, end, window + test);
    let (time, values) = series(core, config, location, range).await?;
    let present = values.iter().flatten().count();
    let first_value = values.iter().position(Option::is_some);
    let held = first_value.map_or(0, |f| values.len() - f);
    let min_train = 2 * seasons(step).first().copied().unwrap_or(2);
    if held < test + min_train {
        let from = first_value.map_or("nothing stored".to_owned(), |f| format!("from {}", time[f]));
        anyhow::bail!(
            "too little history to train `{id}`: {present} values over {held} steps ({from}); \
             needed: {} steps ({origins} backtest origins × {horizon} steps ahead, and {min_train} before them)",
            test + min_train
        );
    }
    let first_value = first_value.unwrap_or(0);
    let values = values[first_value..].to_vec();
    let regressors: Vec<String> = config
        .regressors
        .iter()
        .map(|r| r.as_str().to_owned())
        .collect();
    let known = super::known(core, location, &regressors, &time[first_value..])
        .map_err(|e| anyhow::anyhow!("`{id}`: {e}"))?;
    let fitted_on = window.min(values.len() - test);
    let forecaster = config.family.forecaster(step, fitted_on);
    let name = forecaster.name();
    let against = baselines(step, fitted_on);
    let shape = Backtest {
        horizon,
        origins,
        window,
    };
    // Fitting is CPU work: off the runtime's threads.
    let evaluation = tokio::task::spawn_blocking(move || {
        backtest(&values, &known, shape, forecaster.as_ref(), &against)
    })
    .await?
    .map_err(|e| anyhow::anyhow!("backtest of `{id}`: {e}"))?;
    let params = serde_json::json!({
        "family": config.family,
        "forecaster": name,
        "seasons": periods_held(step, fitted_on),
        "resolution": config.resolution,
        "horizon_hours": config.horizon_hours,
        "training_days": config.training_days,
        "backtest_origins": config.backtest_origins,
        "dataset": config.dataset,
        "variable": config.variable,
        "fill_from": config.fill_from,
        "regressors": regressors,
        "location": config.location,
    });
    Ok(Evaluated {
        state: State {
            forecaster: name,
            step_seconds: step,
            horizon,
            window,
            widths: evaluation.widths.clone(),
            regressors,
        },
        evaluation,
        params,
        train: TimeRange {
            start: time[first_value],
            end,
        },
        data_version,
    })
}

async fn fit(
    core: &Core,
    id: &str,
    now: Timestamp,
    why: &str,
    run: RunId,
) -> anyhow::Result<StoredVersion> {
    let (config, _) = model(core, id)?;
    let found = evaluate(core, id, now).await?;
    let existing = core.store.versions(id).await?;
    let has_champion = existing.iter().any(|v| v.status == VersionStatus::Champion);
    let status = if has_champion {
        VersionStatus::Shadow
    } else {
        VersionStatus::Champion
    };
    let first: Vec<Transition> = existing
        .iter()
        .filter(|v| v.status == VersionStatus::Shadow)
        .map(|v| Transition {
            id: v.id,
            status: VersionStatus::Retired,
            reason: "replaced in shadow by a newer version".into(),
            previous: None,
        })
        .collect();
    let reason = match status {
        VersionStatus::Champion => format!("{why}; the model's first champion"),
        _ => format!("{why}; in shadow beside the champion"),
    };
    let metrics = &found.evaluation.metrics;
    let version = core
        .store
        .add_version(
            &NewVersion {
                model: id,
                family: config.family.as_str(),
                params: &found.params.to_string(),
                train: found.train,
                data_version: found.data_version,
                metrics: &serde_json::to_string(metrics)?,
                state: &serde_json::to_string(&found.state)?,
                status,
                created_at: now,
                reason: Some(&reason),
                run: Some(run),
            },
            &first,
        )
        .await?;
    tracing::info!(model = id, version = version.version, status = version.status.as_str(), mase = ?metrics.mase, "model trained");
    track(core, id, Some(&version), &found, now).await;
    Ok(version)
}

/// Records a training (with the version it made) or a backtest in MLflow when tracking is on;
/// a failure is logged and counted, never returned.
pub async fn track(
    core: &Core,
    id: &str,
    version: Option<&StoredVersion>,
    found: &Evaluated,
    started: Timestamp,
) {
    let Some(mlflow) = &core.tracking else {
        return;
    };
    let state = serde_json::to_value(&found.state).unwrap_or_default();
    let record = crate::tracking::Record {
        model: id,
        kind: if version.is_some() {
            "train"
        } else {
            "backtest"
        },
        version: version.map(|v| v.version),
        status: version.map(|v| v.status.as_str()),
        params: &found.params,
        metrics: &found.evaluation.metrics,
        data: (found.train.start, found.train.end, found.data_version),
        state: &state,
        started,
    };
    match mlflow.record(&record, Timestamp::now()).await {
        Ok(run) => tracing::info!(model = id, run, "recorded in MLflow"),
        Err(error) => {
            tracing::warn!(
                model = id,
                error = format!("{error:#}"),
                "MLflow tracking failed; the store keeps the version"
            );
            core.metrics
                .add("almanac_tracking_failures_total", &[("model", id)], 1.0);
        }
    }
}

fn describe(version: &StoredVersion) -> String {
    let metrics: serde_json::Value = serde_json::from_str(&version.metrics).unwrap_or_default();
    format!(
        "version {} ({}, {}): {}",
        version.version,
        version.family,
        version.status.as_str(),
        super::figures(&metrics)
    )
}

/// The family a stored version was trained as.
pub(super) fn family_of(version: &StoredVersion) -> Option<Family> {
    Family::ALL
        .into_iter()
        .find(|f| f.as_str() == version.family)
}
