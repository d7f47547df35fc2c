//! `forecast`: fetches each enabled location's forecast sources (its `forecasts`, in order) and
//! stores each answer as one issue, beside the earlier ones, under a run of its own.
//!
//! Time runs from `now` (the job's start) by the clock of this process: a fetch starts at `now`
//! plus the time the run has taken so far, and only the issue's values for instants from then on
//! are kept (what a provider sends for earlier hours of the day is no forecast any more). The
//! issue is known from the whole second after its write begins (`now` plus the run's time so
//! far, rounded up; the write of one issue takes milliseconds), so an `as_of` before then never
//! sees it, however many fetches came before it in the same run. Then issues older than
//! `forecasts.retention_days` are pruned.

use super::{Outcome, Summary};
use crate::core::Core;
use crate::domain::{Dataset, Location, Reject, RunStatus, TimeRange, Timestamp};
use crate::sources::forecast::ForecastSource;
use crate::store::{ForecastRow, IssueTimes, NewRun, SeriesId, SeriesKey};

pub async fn run(core: &Core, now: Timestamp) -> anyhow::Result<Summary> {
    let clock = Clock {
        now,
        started: std::time::Instant::now(),
    };
    let mut summary = Summary::default();
    for location in &core.locations() {
        for id in &location.forecasts {
            let Some(source) = core.sources.forecast(id) else {
                continue;
            };
            summary
                .outcomes
                .push(issue(core, location, source.as_ref(), &clock).await?);
        }
    }
    let retention = i64::from(core.config.forecasts.retention_days) * 86_400;
    let pruned = core
        .store
        .drop_forecasts_before(now.plus(-retention))
        .await?;
    if pruned > 0 {
        tracing::info!(
            values = pruned,
            "forecast issues past their retention pruned"
        );
    }
    Ok(summary)
}

/// `now`, moved on by this process' clock since the run began.
struct Clock {
    now: Timestamp,
    started: std::time::Instant,
}

impl Clock {
    /// The current instant, its fraction of a second dropped.
    fn at(&self) -> Timestamp {
        self.now.plus(self.started.elapsed().as_secs() as i64)
    }

    /// The first whole second after this instant.
    fn after(&self) -> Timestamp {
        self.at().plus(1)
    }
}

/// One source's forecast for one location, fetched and stored as one issue.
async fn issue(
    core: &Core,
    location: &Location,
    source: &dyn ForecastSource,
    clock: &Clock,
) -> anyhow::Result<Outcome> {
    let now = clock.at();
    let ahead = TimeRange {
        start: now,
        end: now.plus(i64::from(source.horizon_hours()) * 3_600),
    };
    let run = core
        .store
        .start_run(&NewRun {
            operation: "forecast",
            location: Some(&location.id),
            dataset: Some(Dataset::Weather),
            source: Some(source.id()),
            range: Some(ahead),
            started_at: Timestamp::now(),
            parent: core.scope.job,
        })
        .await?;
    let mut outcome = Outcome {
        location: location.id.clone(),
        dataset: "weather_forecast".into(),
        source: source.id().into(),
        run,
        chunks: 1,
        ..Outcome::default()
    };
    let stored = match source.forecast(location, now).await {
        Ok(fetched) => {
            // A provider's clock ahead of ours never makes an issue later than its arrival.
            let issued_at = fetched.issued.map_or(now, |t| t.min(now));
            match rows(core, location, source, fetched, now).await {
                Ok((rows, rejects)) => {
                    let times = IssueTimes {
                        known_at: clock.after(),
                        issued_at,
                    };
                    let written = core.store.write_forecast(run, times, &rows, &rejects).await;
                    written.map_err(anyhow::Error::from)
                }
                Err(error) => Err(error),
            }
        }
        Err(error) => Err(anyhow::Error::from(error).context(format!(
            "forecast from {} for {}",
            source.id(),
            location.id
        ))),
    };
    let status = match stored {
        Ok(counts) => {
            outcome.counts = counts;
            RunStatus::Succeeded
        }
        Err(error) => {
            tracing::warn!(location = %location.id, source = source.id(), error = format!("{error:#}"), "forecast failed");
            outcome.failed = 1;
            outcome.error = Some(format!("{error:#}"));
            RunStatus::Failed
        }
    };
    let labels = [
        ("city", location.id.as_str()),
        ("data_type", "weather_forecast"),
        ("source", source.id()),
    ];
    core.metrics.add(
        "external_ingestion_records_total",
        &labels,
        outcome.counts.inserted as f64,
    );
    core.metrics.add(
        "external_ingestion_failures_total",
        &labels,
        outcome.failed as f64,
    );
    core.store
        .finish_run(run, status, outcome.error.as_deref(), Timestamp::now())
        .await?;
    Ok(outcome)
}

/// The issue's values from `from` on as rows of their series (created on first sight), one per
/// (series, instant), and the refused records, with values of no weather variable among them.
async fn rows(
    core: &Core,
    location: &Location,
    source: &dyn ForecastSource,
    fetched: crate::sources::forecast::Issue,
    from: Timestamp,
) -> anyhow::Result<(Vec<ForecastRow>, Vec<Reject>)> {
    let mut rejects = fetched.rejects;
    let mut ids: Vec<(&'static str, SeriesId)> = Vec::new();
    let mut rows = Vec::with_capacity(fetched.values.len());
    for o in fetched.values.into_iter().filter(|o| o.ts >= from) {
        let known = ids.iter().find(|(name, _)| *name == o.variable);
        let id = match known {
            Some(&(_, id)) => id,
            None => {
                let Some(variable) = Dataset::Weather.variable(o.variable) else {
                    rejects.push(Reject {
                        record: format!("{} {} = {}", o.variable, o.ts, o.value),
                        reason: format!("`{}` is not a weather variable", o.variable),
                        value: None,
                    });
                    continue;
                };
                let key = SeriesKey {
                    location: &location.id,
                    dataset: Dataset::Weather,
                    variable: variable.name,
                    source: source.id(),
                    step: source.step(),
                    unit: variable.unit,
                };
                let id = core.store.ensure_forecast_series(&key).await?;
                ids.push((variable.name, id));
                id
            }
        };
        rows.push(ForecastRow {
            series: id,
            ts: o.ts,
            value: o.value,
        });
    }
    // Parsers drop a second value for the same instant already; a write must not see one.
    rows.sort_by_key(|r| (r.series, r.ts));
    rows.dedup_by_key(|r| (r.series, r.ts));
    Ok((rows, rejects))
}
