//! Data quality of each series of a location per local day.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;

use super::QueryError;
use crate::core::Core;
use crate::domain::quality::{self, Arrived, DayQuality};
use crate::domain::{Dataset, Location, TimeRange, Timestamp};
use crate::store::Series;

#[derive(Serialize)]
pub struct SeriesQuality {
    dataset: Dataset,
    variable: String,
    source: String,
    step_seconds: i64,
    last_value_at: Option<Timestamp>,
    /// Whole steps since the newest value.
    staleness_steps: Option<f64>,
    days: Vec<DayQuality>,
}

#[derive(Serialize)]
pub struct QualityReport {
    node_id: String,
    check_timestamp: Timestamp,
    /// Mean of the series' daily scores; null when no day has a score.
    overall_quality_score: Option<f64>,
    formula: &'static str,
    series: Vec<SeriesQuality>,
}

const FORMULA: &str = "per series and local day: completeness × validity × (1 − flatlined/present); \
completeness = present/expected from the series' step; validity = present/(present + readings refused \
at ingestion as physically impossible)";

/// The quality of every series of `location` on its local days `first` to `last`.
pub async fn report(
    core: &Core,
    location: &Location,
    (first, last): (Date, Date),
    now: Timestamp,
) -> Result<QualityReport, QueryError> {
    let zone = &location.timezone;
    let range = match (
        quality::day_bounds(first, zone),
        quality::day_bounds(last, zone),
    ) {
        (Some((start, _)), Some((_, end))) => TimeRange { start, end },
        _ => {
            return Err(QueryError::invalid(
                "invalid_range",
                format!(
                    "{first} to {last} are not days of {}",
                    location.timezone_name()
                ),
            ));
        }
    };
    let rules = rules(core);
    let mut series = Vec::new();
    for &dataset in Dataset::ALL {
        for s in core.reader().series(&location.id, dataset).await? {
            let last_value_at = core.reader().last_timestamp(s.id).await?;
            series.push(SeriesQuality {
                dataset,
                variable: s.variable.clone(),
                source: s.source.clone(),
                step_seconds: s.step.seconds(),
                last_value_at,
                staleness_steps: quality::staleness(last_value_at, now, s.step),
                days: series_days(core, &s, zone, (first, last), range, &rules).await?,
            });
        }
    }
    let scores: Vec<f64> = series
        .iter()
        .flat_map(|s| s.days.iter().map(|d| d.score))
        .collect();
    Ok(QualityReport {
        node_id: location.id.clone(),
        check_timestamp: now,
        overall_quality_score: mean(&scores),
        formula: FORMULA,
        series,
    })
}

/// The mean daily score of `location`'s sensor series on its local day `day`.
pub(super) async fn sensor_score(
    core: &Core,
    location: &Location,
    day: Date,
) -> Result<Option<f64>, QueryError> {
    let zone = &location.timezone;
    let Some((start, end)) = quality::day_bounds(day, zone) else {
        return Ok(None);
    };
    let rules = rules(core);
    let mut scores = Vec::new();
    for s in core.reader().series(&location.id, Dataset::Sensor).await? {
        let days = series_days(core, &s, zone, (day, day), TimeRange { start, end }, &rules);
        scores.extend(days.await?.iter().map(|d| d.score));
    }
    Ok(mean(&scores))
}

fn rules(core: &Core) -> quality::Rules {
    quality::Rules {
        flatline_seconds: i64::from(core.config.processing.flatline_minutes) * 60,
    }
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// The quality of one series on local days `days` spanning `range`, from its values a day
/// either side (a flatline is measured whole) and what ingestion refused.
async fn series_days(
    core: &Core,
    series: &Series,
    zone: &TimeZone,
    days: (Date, Date),
    range: TimeRange,
    rules: &quality::Rules,
) -> Result<Vec<DayQuality>, QueryError> {
    let around = TimeRange {
        start: range.start.plus(-86_400),
        end: range.end.plus(86_400),
    };
    let values: Vec<Arrived> = core
        .reader()
        .read(series.id, around)
        .await?
        .into_iter()
        .map(|p| Arrived {
            ts: p.ts,
            value: p.value,
            arrival: p.created_run,
        })
        .collect();
    let refused = core.reader().refused(series, around).await?;
    Ok(quality::daily(
        &values,
        Some(&refused),
        series.step,
        zone,
        days,
        rules,
    ))
}
