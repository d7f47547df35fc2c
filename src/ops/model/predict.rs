//! `predict`: each model's live versions (champion and shadow) forecast from the history before
//! `now` and the forecasts are stored as issued; before that, the versions are judged on what
//! has arrived since (`judge`): a shadow promoted or retired, a degraded champion rolled back or
//! retrained. Predictions older than `forecasts.predictions_retention_days` are pruned.

use super::train::{family_of, in_scope, train};
use super::versions::{promote, reject, roll_back};
use super::{State, back, history_end, model, series};
use crate::core::Core;
use crate::domain::model::Predicted;
use crate::domain::model::lifecycle::{Live, Verdict, judge_champion, judge_shadow};
use crate::domain::{RunStatus, TimeRange, Timestamp};
use crate::ops::{Outcome, Summary};
use crate::query::models::live;
use crate::store::models::{StoredVersion, VersionStatus};

/// The `predict` job: every enabled model judged, then its live versions' forecasts stored.
pub async fn run_predict(core: &Core, now: Timestamp) -> anyhow::Result<Summary> {
    let mut summary = Summary::default();
    for (id, config) in &core.config.models {
        if !config.enabled || !in_scope(core, &config.location) {
            continue;
        }
        // A model not trained yet waits for the `train` job (a failure every hour would say
        // nothing new).
        if core.store.versions(id).await?.is_empty() {
            tracing::info!(model = %id, "not trained yet: no forecast");
            continue;
        }
        for action in judge(core, id, now).await? {
            tracing::info!(model = %id, "{action}");
        }
        summary.outcomes.push(predict(core, id, now).await?);
    }
    let days = i64::from(core.config.forecasts.predictions_retention_days);
    let pruned = core
        .store
        .drop_predictions_before(now.plus(-days * 86_400))
        .await?;
    if pruned > 0 {
        tracing::info!(values = pruned, "predictions past their retention pruned");
    }
    Ok(summary)
}

/// Stores the forecast of each live version of model `id` issued at `now`, under a run.
pub async fn predict(core: &Core, id: &str, now: Timestamp) -> anyhow::Result<Outcome> {
    let mut outcome = super::start(core, id, "predict").await?;
    let run = outcome.run;
    let result = forecast_live(core, id, now).await;
    let (status, error) = match result {
        Ok((written, notes)) => {
            outcome.counts.inserted = written;
            outcome.note = Some(notes);
            (RunStatus::Succeeded, None)
        }
        Err(error) => {
            let error = format!("{error:#}");
            tracing::warn!(model = id, %error, "prediction failed");
            outcome.failed = 1;
            outcome.note = Some("prediction failed".into());
            outcome.error = Some(error.clone());
            (RunStatus::Failed, Some(error))
        }
    };
    core.store
        .finish_run(run, status, error.as_deref(), Timestamp::now())
        .await?;
    Ok(outcome)
}

/// The live versions' forecasts written; how many values, and what was done.
async fn forecast_live(core: &Core, id: &str, now: Timestamp) -> anyhow::Result<(u64, String)> {
    let (config, location) = model(core, id)?;
    let versions = core.store.versions(id).await?;
    let live: Vec<&StoredVersion> = versions
        .iter()
        .filter(|v| v.status != VersionStatus::Retired)
        .collect();
    if live.is_empty() {
        anyhow::bail!("model `{id}` has no trained version yet (almanac models train {id})");
    }
    let end = history_end(config, location, now);
    let window = live
        .iter()
        .filter_map(|v| serde_json::from_str::<State>(&v.state).ok())
        .map(|s| s.window)
        .max()
        .unwrap_or(1);
    let (times, values) =
        series(core, config, location, back(config.resolution, end, window)).await?;
    let targets = config
        .resolution
        .starts(end, config.horizon_steps(), &location.timezone);
    let (mut written, mut notes) = (0, Vec::new());
    for version in live {
        let state: State = serde_json::from_str(&version.state)
            .map_err(|e| anyhow::anyhow!("version {} state: {e}", version.version))?;
        let family = family_of(version).ok_or_else(|| {
            anyhow::anyhow!("version {}: family `{}`", version.version, version.family)
        })?;
        let from = values.len().saturating_sub(state.window);
        let history = values[from..].to_vec();
        let steps: Vec<Timestamp> = times[from..].iter().chain(&targets).copied().collect();
        let known = super::known(core, location, &state.regressors, &steps)
            .map_err(|e| anyhow::anyhow!("version {}: {e}", version.version))?;
        let horizon = targets.len();
        let step = state.step_seconds;
        let points = tokio::task::spawn_blocking(move || {
            family
                .forecaster(step, history.len())
                .forecast_known(&history, &known, horizon)
        })
        .await?
        .map_err(|e| anyhow::anyhow!("version {}: {e}", version.version))?;
        let rows: Vec<Predicted> = targets
            .iter()
            .zip(points)
            .enumerate()
            .filter_map(|(lead, (&ts, value))| {
                let value = value?;
                let widths = state.widths.at(lead);
                Some(Predicted {
                    ts,
                    value,
                    lower_80: widths.map(|w| value - w.0),
                    upper_80: widths.map(|w| value + w.0),
                    lower_95: widths.map(|w| value - w.1),
                    upper_95: widths.map(|w| value + w.1),
                })
            })
            .collect();
        written += core.store.write_predictions(version.id, now, &rows).await?;
        notes.push(format!(
            "version {} ({}) forecast {} steps",
            version.version,
            version.status.as_str(),
            rows.len()
        ));
    }
    Ok((written, notes.join("; ")))
}

/// Judges model `id`'s shadow and champion on the actuals that arrived by `now` and acts: a
/// promotion, a retirement, a rollback or a new training. Returns what it did.
pub async fn judge(core: &Core, id: &str, now: Timestamp) -> anyhow::Result<Vec<String>> {
    let (config, location) = model(core, id)?;
    let rules = &config.rules;
    let versions = core.store.versions(id).await?;
    let champion = versions
        .iter()
        .find(|v| v.status == VersionStatus::Champion);
    let shadow = versions.iter().find(|v| v.status == VersionStatus::Shadow);
    let end = history_end(config, location, now);
    let score = |version: &StoredVersion, since: Timestamp| {
        let targets = TimeRange { start: since, end };
        let issued = TimeRange {
            start: since,
            end: now.plus(1),
        };
        let id = version.id;
        async move {
            live(core, config, location, id, targets, issued)
                .await
                .map(|s| {
                    s.map(|s| Live {
                        mae: s.mae,
                        pairs: s.pairs,
                    })
                })
        }
    };
    let mut done = Vec::new();
    if let Some(shadow) = shadow {
        let age = (now.epoch() - shadow.created_at.epoch()) as f64 / 3_600.0;
        let theirs = score(shadow, shadow.created_at).await?;
        let ours = match champion {
            Some(c) => score(c, shadow.created_at).await?,
            None => None,
        };
        match judge_shadow(rules, age, theirs, ours) {
            Verdict::Promote(why) => {
                done.push(promote(core, id, now, &why).await?);
                // The new champion is judged from now on, not on its shadow period.
                return Ok(done);
            }
            Verdict::Reject(why) => done.push(reject(core, id, now, &why).await?),
            Verdict::Wait(why) => done.push(format!("version {} waits: {why}", shadow.version)),
            Verdict::Keep | Verdict::RollBack(_) | Verdict::Retrain(_) => {}
        }
    }
    let Some(champion) = champion else {
        return Ok(done);
    };
    let metrics: serde_json::Value = serde_json::from_str(&champion.metrics).unwrap_or_default();
    let Some(backtest_mae) = metrics["mae"].as_f64() else {
        return Ok(done);
    };
    let mine = score(champion, champion.status_at).await?;
    let promoted = champion
        .previous
        .map(|_| (now.epoch() - champion.status_at.epoch()) as f64 / 3_600.0);
    match judge_champion(rules, mine, backtest_mae, promoted) {
        Verdict::RollBack(why) => {
            let did = roll_back(core, id, now, &why).await?;
            // A one-off, told once per rollback (each its own topic).
            let topic = format!("model_rolled_back:{id}:{}", now.epoch());
            let title = format!("model {id} rolled back");
            let notice = crate::ops::notify::Notice {
                topic: &topic,
                title: &title,
                detail: &did,
            };
            crate::ops::notify::check(core, notice, true, 0, true, now).await;
            done.push(did);
        }
        Verdict::Retrain(why) if shadow.is_none() => {
            let outcome = train(core, id, now, &format!("retrained: {why}")).await?;
            done.push(format!(
                "retrained ({why}): {}",
                outcome.error.or(outcome.note).unwrap_or_default()
            ));
        }
        _ => {}
    }
    Ok(done)
}
