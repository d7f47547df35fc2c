//! The service's status: freshness of every enabled location's data, the last processing
//! run, and the health of store and cache.

use serde::Serialize;

use crate::core::Core;
use crate::domain::{Dataset, Timestamp};
use crate::store::{Run, StoreError};

#[derive(Clone, Serialize)]
pub struct Freshness {
    location: String,
    dataset: Dataset,
    latest_data: Option<Timestamp>,
    age_seconds: Option<i64>,
}

#[derive(Clone, Serialize)]
pub struct ProcessingStatus {
    last_run: Option<Run>,
    /// A last run older than this makes the status `stale`.
    stale_after_seconds: i64,
}

#[derive(Clone, Serialize)]
pub struct CacheStatus {
    redis_configured: bool,
    redis_errors: Option<u64>,
}

#[derive(Clone, Serialize)]
pub struct Status {
    /// `healthy`, `stale` (processing has not run for an hour) or `degraded` (the store does
    /// not answer).
    status: &'static str,
    reasons: Vec<String>,
    timestamp: Timestamp,
    store_up: bool,
    cache: CacheStatus,
    processing: ProcessingStatus,
    data_freshness: Vec<Freshness>,
    /// Each configured model's champion (the seed's `active_models`), by model id.
    active_models: std::collections::BTreeMap<String, ActiveModel>,
    /// Each scheduled job's cron expression and next tick (`None`: off), in `schedule.timezone`;
    /// `scheduler_enabled` says whether this process runs them (a replica that only answers
    /// requests does not).
    scheduler_enabled: bool,
    schedule: Vec<Tick>,
}

#[derive(Clone, Serialize)]
pub struct Tick {
    job: &'static str,
    cron: String,
    next: Option<Timestamp>,
}

/// The next tick of every configured job after `now`.
fn ticks(core: &Core, now: Timestamp) -> Vec<Tick> {
    let schedule = &core.config.schedule;
    let zone = jiff::tz::TimeZone::get(&schedule.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    schedule
        .jobs()
        .into_iter()
        .map(|(job, cron)| Tick {
            job,
            cron: cron.to_owned(),
            next: if crate::config::ScheduleConfig::is_off(cron)
                || (job == "watch" && core.notifier.is_none())
            {
                None
            } else {
                crate::domain::cron::Cron::parse(cron)
                    .ok()
                    .and_then(|c| c.next_after(now, &zone))
            },
        })
        .collect()
}

#[derive(Clone, Serialize)]
pub struct ActiveModel {
    model_type: String,
    location: String,
    /// `None` until a version is trained.
    version: Option<i64>,
    created_at: Option<Timestamp>,
    /// The champion's backtest: MAE, MASE against the better baseline, 95 % coverage.
    performance: Option<serde_json::Value>,
}

const STALE_AFTER: i64 = 3_600;

/// How long the store may take to give the status' figures before it counts as not answering
/// (the status is recomputed in the background: a hung check must not keep an old answer).
const WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

/// The status at `now`. It reads every location's extents: `http` keeps it for a second
/// (`Core::status`).
pub async fn status(core: &Core, now: Timestamp) -> Status {
    let cache = CacheStatus {
        redis_configured: core.shared.is_some(),
        redis_errors: core.shared.as_ref().map(|s| s.errors()),
    };
    let gathered = tokio::time::timeout(WITHIN, gather(core, now))
        .await
        .unwrap_or_else(|_| {
            Err(StoreError::Read(format!(
                "no answer within {} s",
                WITHIN.as_secs()
            )))
        });
    let (processing, freshness, active_models) = match gathered {
        Ok(found) => found,
        Err(error) => {
            return Status {
                status: "degraded",
                reasons: vec![format!("the store does not answer: {error}")],
                timestamp: now,
                store_up: false,
                cache,
                processing: ProcessingStatus {
                    last_run: None,
                    stale_after_seconds: STALE_AFTER,
                },
                data_freshness: Vec::new(),
                active_models: Default::default(),
                scheduler_enabled: core.config.schedule.enabled,
                schedule: ticks(core, now),
            };
        }
    };
    let mut reasons = Vec::new();
    match &processing.last_run {
        None => reasons.push("processing has never run".to_owned()),
        Some(run) if now.epoch() - run.finished_at.unwrap_or(run.started_at) > STALE_AFTER => {
            reasons.push(format!(
                "the last processing run (run {}) is more than an hour old",
                run.id
            ))
        }
        Some(_) => {}
    }
    Status {
        status: if reasons.is_empty() {
            "healthy"
        } else {
            "stale"
        },
        reasons,
        timestamp: now,
        store_up: true,
        cache,
        processing,
        data_freshness: freshness,
        active_models,
        scheduler_enabled: core.config.schedule.enabled,
        schedule: ticks(core, now),
    }
}

type Gathered = (
    ProcessingStatus,
    Vec<Freshness>,
    std::collections::BTreeMap<String, ActiveModel>,
);

/// The newest stored instant of each dataset every location stores anything of (from extents
/// kept per data version).
pub async fn newest(core: &Core) -> Result<Vec<(String, Dataset, Option<Timestamp>)>, StoreError> {
    let mut found = Vec::new();
    for location in &core.locations() {
        for &dataset in Dataset::ALL {
            let ids: Vec<i64> = core
                .reader()
                .series(&location.id, dataset)
                .await?
                .iter()
                .map(|s| s.id)
                .collect();
            if ids.is_empty() {
                continue;
            }
            let last = super::extent_of(core, &location.id, dataset, &ids)
                .await?
                .last;
            found.push((location.id.clone(), dataset, last));
        }
    }
    Ok(found)
}

async fn gather(core: &Core, now: Timestamp) -> Result<Gathered, StoreError> {
    core.reader().ping().await?;
    let last_run = core.reader().last_run("process", false).await?;
    let freshness = newest(core)
        .await?
        .into_iter()
        .map(|(location, dataset, last)| Freshness {
            location,
            dataset,
            latest_data: last,
            age_seconds: last.map(|t| now.epoch() - t.epoch()),
        })
        .collect();
    let mut active_models = std::collections::BTreeMap::new();
    for (id, model) in core.config.models.iter().filter(|(_, m)| m.enabled) {
        let versions = core.reader().versions(id).await?;
        let champion = versions
            .iter()
            .find(|v| v.status == crate::store::models::VersionStatus::Champion);
        let performance = champion.and_then(|v| {
            let m: serde_json::Value = serde_json::from_str(&v.metrics).ok()?;
            Some(serde_json::json!({
                "mae": m["mae"], "mase": m["mase"], "baseline": m["baseline"],
                "coverage_95": m["coverage_95"],
            }))
        });
        active_models.insert(
            id.clone(),
            ActiveModel {
                model_type: model.model_type(),
                location: model.location.clone(),
                version: champion.map(|v| v.version),
                created_at: champion.map(|v| v.created_at),
                performance,
            },
        );
    }
    Ok((
        ProcessingStatus {
            last_run,
            stale_after_seconds: STALE_AFTER,
        },
        freshness,
        active_models,
    ))
}
