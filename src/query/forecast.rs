//! Weather forecasts as issued: per hour of a range, what was forecast for it — by the latest
//! issue almanac had stored by `as_of` (no `as_of`: by now) and at least `lead` before the hour
//! (so an hour already past shows the last forecast made before it, never one made after). An
//! amount over the preceding step (precipitation, stamped at the end of its hour) describes a
//! time that began a step earlier: its forecast must be known a step earlier too. A location's
//! forecast sources are taken in its `forecasts` order: an hour's value comes from the first
//! that forecast it.

use std::collections::HashMap;

use serde::Serialize;

use super::QueryError;
use crate::core::Core;
use crate::domain::{Dataset, Location, Step, TimeRange, Timestamp};
use crate::store::IssueTimes;

/// A forecast request, parsed and checked.
pub struct ForecastRequest<'a> {
    pub location: &'a Location,
    pub range: TimeRange,
    pub variables: Vec<&'static str>,
    pub as_of: Option<Timestamp>,
    /// Only issues known at least this long before the hour they forecast.
    pub lead_hours: u32,
}

/// One variable's forecast on the hours of a range.
pub struct Forecast {
    /// The forecast value of each instant that has one, with its issue and source.
    pub values: HashMap<i64, (f64, IssueTimes, usize)>,
    /// The sources that gave values, in priority order (the `usize` above indexes it).
    pub sources: Vec<String>,
}

/// The forecast of `variable` at `location` for `range`.
pub async fn variable(
    core: &Core,
    location: &Location,
    variable: &str,
    range: TimeRange,
    as_of: Option<Timestamp>,
    lead_hours: u32,
) -> Result<Forecast, QueryError> {
    let mut series = core.reader().forecast_series(&location.id).await?;
    series.retain(|s| s.variable == variable);
    let rank = |source: &str| {
        location
            .forecasts
            .iter()
            .position(|s| s == source)
            .unwrap_or(usize::MAX)
    };
    series.sort_by_key(|s| rank(&s.source));
    let known_by = as_of.unwrap_or(Timestamp::from_epoch(i64::MAX / 4));
    let mut out = Forecast {
        values: HashMap::new(),
        sources: Vec::new(),
    };
    let amount = Dataset::Weather
        .variable(variable)
        .is_some_and(|v| v.aggregation == crate::domain::Aggregation::Sum);
    for s in series {
        let lead = i64::from(lead_hours) * 3_600 + if amount { s.step.seconds() } else { 0 };
        let points = core
            .reader()
            .read_forecast(s.id, range, known_by, lead)
            .await?;
        let index = out.sources.len();
        let mut used = false;
        for p in points {
            if let std::collections::hash_map::Entry::Vacant(e) = out.values.entry(p.ts.epoch()) {
                e.insert((p.value, p.issue, index));
                used = true;
            }
        }
        if used {
            out.sources.push(s.source);
        }
    }
    Ok(out)
}

/// The variables with a stored forecast at `location`, in the dataset's order.
pub async fn stored_variables(
    core: &Core,
    location: &Location,
) -> Result<Vec<&'static str>, QueryError> {
    let series = core.reader().forecast_series(&location.id).await?;
    Ok(Dataset::Weather
        .variables()
        .iter()
        .flat_map(|g| g.iter())
        .map(|v| v.name)
        .filter(|name| series.iter().any(|s| s.variable == *name))
        .collect())
}

/// The answer of `GET /api/v1/locations/{id}/weather/forecast`: columnar, one row per hour.
#[derive(Serialize)]
pub struct ForecastAnswer {
    location: String,
    timezone: String,
    start: Timestamp,
    end: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    as_of: Option<Timestamp>,
    lead_hours: u32,
    step_seconds: i64,
    time: Vec<Timestamp>,
    variables: std::collections::BTreeMap<&'static str, Column>,
}

#[derive(Serialize)]
struct Column {
    unit: &'static str,
    sources: Vec<String>,
    values: Vec<Option<f64>>,
    /// When the provider issued each value's forecast (or almanac fetched it, where the
    /// provider does not say).
    issued_at: Vec<Option<Timestamp>>,
    /// When almanac stored each value's forecast: what `as_of` and `lead_hours` compare.
    known_at: Vec<Option<Timestamp>>,
    source: Vec<Option<usize>>,
}

/// The forecast `request` asks for (no variables named: every one stored); 404 `no_forecasts`
/// when the location has no forecast source or nothing is stored yet.
pub async fn answer(
    core: &Core,
    request: &ForecastRequest<'_>,
) -> Result<ForecastAnswer, QueryError> {
    let location = request.location;
    if location.forecasts.is_empty() {
        return Err(QueryError::not_found(
            "no_forecasts",
            format!(
                "{} has no forecast sources (set `forecasts` on the location, e.g. [\"open_meteo_forecast\"])",
                location.id
            ),
        ));
    }
    let names = match request.variables.is_empty() {
        false => request.variables.clone(),
        true => stored_variables(core, location).await?,
    };
    if names.is_empty() {
        return Err(QueryError::not_found(
            "no_forecasts",
            format!(
                "no forecast of {} is stored yet: the `forecast` job fetches them (every 3 hours by default; now: almanac forecast)",
                location.id
            ),
        ));
    }
    let start = request.range.start.floor(Step::HOUR);
    let time: Vec<Timestamp> = (0..)
        .map(|h| start.plus(h * 3_600))
        .take_while(|t| *t < request.range.end)
        .collect();
    let mut variables = std::collections::BTreeMap::new();
    for name in names {
        let forecast = variable(
            core,
            location,
            name,
            request.range,
            request.as_of,
            request.lead_hours,
        )
        .await?;
        let cell = |t: &Timestamp| forecast.values.get(&t.epoch());
        variables.insert(
            name,
            Column {
                unit: Dataset::Weather.variable(name).map_or("", |v| v.unit),
                values: time.iter().map(|t| cell(t).map(|c| c.0)).collect(),
                issued_at: time
                    .iter()
                    .map(|t| cell(t).map(|c| c.1.issued_at))
                    .collect(),
                known_at: time.iter().map(|t| cell(t).map(|c| c.1.known_at)).collect(),
                source: time.iter().map(|t| cell(t).map(|c| c.2)).collect(),
                sources: forecast.sources,
            },
        );
    }
    if let Some(as_of) = request.as_of
        && variables
            .values()
            .all(|c: &Column| c.values.iter().all(Option::is_none))
    {
        return Err(QueryError::not_found(
            "nothing_as_of",
            format!(
                "no forecast for this range had been stored by {as_of}: as_of is before the forecasts (or none covers the range)"
            ),
        ));
    }
    Ok(ForecastAnswer {
        location: location.id.clone(),
        timezone: location.timezone_name().to_owned(),
        start: request.range.start,
        end: request.range.end,
        as_of: request.as_of,
        lead_hours: request.lead_hours,
        step_seconds: 3_600,
        time,
        variables,
    })
}
