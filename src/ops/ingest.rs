//! `ingest`: fetches what is new since each (location, source)'s last stored value, up to now.
//! A pair with nothing stored yet reaches back `ingest.lookback_hours`. Tenants first: those the
//! provider could not map are mapped again, points not loaded are loaded (`ops::tenants`).

use indicatif::ProgressBar;

use super::{Outcome, Summary, load};
use crate::core::Core;
use crate::domain::{TimeRange, Timestamp};

pub async fn run(core: &Core, now: Timestamp, progress: &ProgressBar) -> anyhow::Result<Summary> {
    let lookback = i64::from(core.config.ingest.lookback_hours) * 3_600;
    let mut summary = Summary::default();
    if core.scope.location.is_none()
        && let Err(error) = super::tenants::resume(core, now).await
    {
        // Tenants wait for the next run; the configured locations' ingest goes on.
        tracing::warn!(error = %format!("{error:#}"), "resuming tenants' registrations failed");
    }
    let mut targets = Vec::new();
    for location in core.locations() {
        let sources = location.sources.values().flatten();
        for source in sources.filter_map(|id| core.sources.get(id)) {
            let step = source.step();
            let series = load::series_ids(core, &location, source.as_ref()).await?;
            let mut lasts = Vec::new();
            for (_, id) in &series {
                lasts.push(core.store.last_timestamp(*id).await?);
            }
            // The series furthest behind decides; one that is empty sends us back the lookback.
            let oldest_last = lasts
                .into_iter()
                .collect::<Option<Vec<_>>>()
                .and_then(|l| l.into_iter().min());
            let end = now.floor(step);
            let start = match oldest_last {
                Some(last) => last.plus(step.seconds()),
                None => end.plus(-lookback).ceil(step),
            };
            let Some(range) = TimeRange::new(start, end).filter(|r| !r.is_empty()) else {
                summary.outcomes.push(Outcome {
                    location: location.id.clone(),
                    dataset: source.dataset().to_string(),
                    source: source.id().to_string(),
                    ..Outcome::default()
                });
                continue;
            };
            targets.push(load::Target {
                location: location.clone(),
                source: source.clone(),
                series,
                range,
            });
        }
    }
    let outcomes = load::run_all(core, "ingest", targets, now, false, progress).await;
    summary.outcomes.extend(outcomes);
    progress.finish_and_clear();
    Ok(summary)
}
