//! What operators are told (`[notify]`), checked where it happens — a job run's outcome (by
//! `job::execute`), a model rolled back (by `model::judge`) — and by the `watch` job: every
//! location's data older than `stale_hours`, a gap of `gap_hours` in a location's dataset that
//! the `gaps` job has not healed after as long, a source's circuit open longer than
//! `circuit_minutes`, unresolved critical anomalies of the last hour. Each is a topic whose state
//! the store keeps; `domain::notify::decide` says what to tell, the notifier delivers it in the
//! background. Without a target configured nothing is checked or kept.

use super::{Outcome, Summary};
use crate::core::Core;
use crate::domain::Timestamp;
use crate::domain::notify::{Check, TopicState, decide};
use crate::notify::Message;

/// What a topic is about, as told.
pub struct Notice<'a> {
    pub topic: &'a str,
    pub title: &'a str,
    pub detail: &'a str,
}

/// One check of a topic: `observed` (the condition holds now), held `hold` seconds before it
/// fires; `once` for a one-off event. Returns whether a message was queued. A store that fails
/// costs this check only (logged), never the caller.
pub async fn check(
    core: &Core,
    notice: Notice<'_>,
    observed: bool,
    hold: i64,
    once: bool,
    now: Timestamp,
) -> bool {
    let Notice {
        topic,
        title,
        detail,
    } = notice;
    let Some(notifier) = &core.notifier else {
        return false;
    };
    let result: anyhow::Result<bool> = async {
        let previous: Option<TopicState> = match core.store.notice(topic).await? {
            Some(text) => serde_json::from_str(&text).ok(),
            None => None,
        };
        let gap = i64::from(core.config.notify.rate_limit_minutes) * 60;
        let check = Check {
            observed,
            hold,
            gap,
            once,
            now,
        };
        let (state, told) = decide(previous.as_ref(), check, detail);
        // A topic that never fired and is not firing is not worth a row.
        if previous.is_some() || observed {
            core.store
                .put_notice(topic, &serde_json::to_string(&state)?, now)
                .await?;
        }
        if let Some(state) = told {
            notifier.send(Message {
                topic: topic.to_owned(),
                state,
                title: title.to_owned(),
                detail: detail.to_owned(),
                at: now,
            });
        }
        Ok(told.is_some())
    }
    .await;
    result.unwrap_or_else(|error| {
        tracing::warn!(topic, error = %format!("{error:#}"), "a notification check failed");
        false
    })
}

/// A condition the `watch` job checks.
struct Condition {
    topic: String,
    title: String,
    detail: String,
    observed: bool,
    /// Seconds it must hold before it is told.
    hold: i64,
}

/// The `watch` job: stale data, unhealed gaps, open circuits, critical anomalies.
pub async fn watch(core: &Core, now: Timestamp) -> anyhow::Result<Summary> {
    let mut outcome = Outcome {
        location: "-".into(),
        dataset: "-".into(),
        source: "watch".into(),
        ..Outcome::default()
    };
    if core.notifier.is_none() {
        outcome.note = Some("no notify target is configured: nothing watched".into());
        return Ok(Summary {
            outcomes: vec![outcome],
        });
    }
    let settings = &core.config.notify;
    let mut conditions = Vec::new();

    // Stale data: every location's datasets by their newest stored value.
    let stale = i64::from(settings.stale_hours) * 3_600;
    for (location, dataset, last) in crate::query::status::newest(core).await? {
        let age = last.map(|t| now.epoch() - t.epoch());
        conditions.push(Condition {
            topic: format!("stale:{location}:{dataset}"),
            title: format!("{location} {dataset} data stale"),
            detail: match last {
                Some(t) => format!(
                    "newest {dataset} value of {location} is from {t}, {:.1} h ago (more than {} h)",
                    age.unwrap_or(0) as f64 / 3_600.0,
                    settings.stale_hours
                ),
                None => format!("{location} holds no {dataset} value"),
            },
            observed: age.is_none_or(|a| a > stale),
            hold: 0,
        });
    }

    // Critical gaps: within the `gaps` job's days, a stretch with no value of the dataset from
    // any of the location's sources (what the API serves), between two that have one (a
    // trailing one is stale data, told above), of `gap_hours` or more — told once it has been
    // seen for `gap_hours` (the `gaps` job runs every two hours: it had its chances).
    let critical = i64::from(settings.gap_hours) * 3_600;
    let days = core.config.schedule.recent_days;
    let window = crate::domain::TimeRange {
        start: now.plus(-i64::from(days) * 86_400),
        end: now,
    };
    for location in &core.locations() {
        for (&dataset, sources) in &location.sources {
            if sources.is_empty() {
                continue;
            }
            let step = crate::query::series::stored_step(core, location, dataset)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let frame = crate::query::rows(core, location, dataset, step, window, None).await?;
            let times: Vec<Timestamp> = frame.rows().map(|r| r.ts()).collect();
            let longest = times
                .windows(2)
                .map(|w| (w[0], w[1].epoch() - w[0].epoch() - step.seconds()))
                .max_by_key(|(_, missing)| *missing);
            let id = &location.id;
            conditions.push(Condition {
                topic: format!("gap:{id}:{dataset}"),
                title: format!("{id} {dataset}: a critical gap"),
                detail: match longest {
                    Some((after, missing)) if missing > 0 => format!(
                        "{id} {dataset}: no value for {:.1} h after {after} (the longest gap of the last {days} days)",
                        missing as f64 / 3_600.0
                    ),
                    _ => format!("{id} {dataset}: no gap in the last {days} days"),
                },
                observed: longest.is_some_and(|(_, missing)| missing >= critical),
                hold: critical,
            });
        }
    }

    // Circuits open longer than `circuit_minutes`.
    for source in super::sources::status(core).await? {
        conditions.push(Condition {
            topic: format!("circuit:{}", source.id),
            title: format!("{} circuit open", source.id),
            detail: format!(
                "source {} refuses requests after repeated failures (last error: {})",
                source.id,
                source.last_error.as_deref().unwrap_or("none recorded")
            ),
            observed: source.circuit == "open",
            hold: i64::from(settings.circuit_minutes) * 60,
        });
    }

    // Unresolved critical anomalies of the last hour, per location.
    let recent = core
        .store
        .anomalies(&crate::store::AnomalyFilter {
            since: now.plus(-3_600),
            until: now.plus(1),
            location: None,
            severity: Some(crate::domain::anomaly::Severity::Critical),
            include_resolved: false,
            limit: 1_000,
        })
        .await?;
    // Every location, so one whose anomalies stopped gets its "resolved" (a topic is kept only
    // once it was observed).
    let watched: std::collections::BTreeSet<String> = core
        .locations()
        .into_iter()
        .map(|l| l.id)
        .chain(recent.iter().map(|a| a.location.clone()))
        .collect();
    for location in watched {
        let here: Vec<_> = recent.iter().filter(|a| a.location == location).collect();
        conditions.push(Condition {
            topic: format!("anomalies:{location}"),
            title: format!("critical anomalies at {location}"),
            detail: match here.first() {
                Some(newest) => format!(
                    "{} critical anomalies at {location} in the last hour, the newest on {} at {}",
                    here.len(),
                    newest.variable,
                    newest.anomaly.ts
                ),
                None => format!("no critical anomaly at {location} in the last hour"),
            },
            observed: !here.is_empty(),
            hold: 0,
        });
    }

    let mut told = 0u32;
    for c in &conditions {
        let notice = Notice {
            topic: &c.topic,
            title: &c.title,
            detail: &c.detail,
        };
        told += u32::from(check(core, notice, c.observed, c.hold, false, now).await);
    }
    let forgotten = core
        .store
        .drop_notices_before(now.plus(-30 * 86_400))
        .await?;
    outcome.note = Some(format!(
        "{} topics checked, {told} messages queued, {forgotten} topics not checked for 30 days forgotten",
        conditions.len()
    ));
    Ok(Summary {
        outcomes: vec![outcome],
    })
}
