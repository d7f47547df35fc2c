//! Training frames: one row per step of a location's grid (hours, or its local days), columns
//! from any dataset (a city's prices from its price zone) and from the calendar, each column
//! saying its unit, its sources and whether it is known in advance (the calendar and the
//! tariff are; observations are not). Missing values stay missing. Weather forecasts as issued
//! are columns too (`forecast.temperature`, known in advance): each hour's value is the latest
//! forecast for it made at least `lead_hours` before it (see [`super::forecast`]).
//!
//! `as_of` gives the frame as it could have been built then: a value counts only if the run
//! that wrote it and the run that last changed it had both finished by that instant. A value
//! changed after it (a provisional value revised) is missing: almanac keeps the latest value
//! only, not the one it replaced, and the frame says how many such cells it left out.

use std::collections::HashMap;

use jiff::civil::Date;
use serde::Serialize;

use super::QueryError;
use crate::core::Core;
use crate::domain::calendar::Scope;
use crate::domain::energy::{self, Period};
use crate::domain::resample::{Fill, aggregate};
use crate::domain::{Aggregation, Dataset, Location, Step, TimeRange, Timestamp};
use crate::store::{Point, RunId};

pub use crate::domain::time::Resolution;

/// The calendar columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CalendarColumn {
    Weekday,
    Weekend,
    Holiday,
    HolidayScope,
    SchoolHoliday,
    /// Spain's 2.0TD period of the hour (hour resolution, locations with a price zone).
    TariffPeriod,
}

impl CalendarColumn {
    pub const ALL: [CalendarColumn; 6] = [
        CalendarColumn::Weekday,
        CalendarColumn::Weekend,
        CalendarColumn::Holiday,
        CalendarColumn::HolidayScope,
        CalendarColumn::SchoolHoliday,
        CalendarColumn::TariffPeriod,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            CalendarColumn::Weekday => "calendar.weekday",
            CalendarColumn::Weekend => "calendar.weekend",
            CalendarColumn::Holiday => "calendar.holiday",
            CalendarColumn::HolidayScope => "calendar.holiday_scope",
            CalendarColumn::SchoolHoliday => "calendar.school_holiday",
            CalendarColumn::TariffPeriod => "calendar.tariff_period",
        }
    }
}

/// One column asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnSpec {
    Series {
        dataset: Dataset,
        variable: &'static str,
    },
    Calendar(CalendarColumn),
    /// A weather variable's forecast as issued.
    Forecast {
        variable: &'static str,
    },
}

impl ColumnSpec {
    /// `weather.temperature,calendar` → the columns, each once, in the order given.
    pub fn parse_list(list: &str) -> Result<Vec<ColumnSpec>, QueryError> {
        let mut out: Vec<ColumnSpec> = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let specs: Vec<ColumnSpec> = if name == "calendar" {
                CalendarColumn::ALL.map(ColumnSpec::Calendar).to_vec()
            } else if let Some(c) = CalendarColumn::ALL.iter().find(|c| c.name() == name) {
                vec![ColumnSpec::Calendar(*c)]
            } else {
                let unknown = || {
                    QueryError::invalid(
                        "unknown_variable",
                        format!(
                            "`{name}` is not a column: give dataset.variable (weather.temperature, traffic.intensity, energy_price.pvpc, sensor.flow_rate), forecast.<weather variable> (forecast.temperature), calendar or calendar.<weekday|weekend|holiday|holiday_scope|school_holiday|tariff_period>"
                        ),
                    )
                };
                let (dataset, variable) = name.split_once('.').ok_or_else(unknown)?;
                if dataset == "forecast" {
                    let variable = Dataset::Weather
                        .variable(variable)
                        .ok_or_else(unknown)?
                        .name;
                    vec![ColumnSpec::Forecast { variable }]
                } else {
                    let dataset = Dataset::parse(dataset).ok_or_else(unknown)?;
                    let variable = dataset.variable(variable).ok_or_else(unknown)?.name;
                    vec![ColumnSpec::Series { dataset, variable }]
                }
            };
            for spec in specs {
                if !out.contains(&spec) {
                    out.push(spec);
                }
            }
        }
        if out.is_empty() {
            return Err(QueryError::invalid(
                "invalid_parameter",
                "columns names no column",
            ));
        }
        Ok(out)
    }
}

/// A frame request, parsed and checked.
pub struct FrameRequest<'a> {
    pub location: &'a Location,
    pub range: TimeRange,
    pub resolution: Resolution,
    pub columns: Vec<ColumnSpec>,
    pub as_of: Option<Timestamp>,
    /// Forecast columns use issues known at least this many hours before each hour.
    pub lead_hours: u32,
    /// Runs of at most this many missing rows of a series or forecast column filled so (the
    /// native answer's `fill`; forecast columns from earlier rows only, whatever the method);
    /// the calendar is never missing.
    pub fill: Option<(crate::domain::resample::Fill, usize)>,
}

impl FrameRequest<'_> {
    /// The columns a frame has when none are named: every variable the location (or its price
    /// zone) stores at this resolution or finer, the stored forecasts (hourly frames), then the
    /// calendar.
    pub async fn default_columns(
        core: &Core,
        location: &Location,
        resolution: Resolution,
    ) -> Result<Vec<ColumnSpec>, QueryError> {
        let mut columns = Vec::new();
        for &dataset in Dataset::ALL {
            let at = super::stored_at(core, location, dataset);
            let series = super::extent::prioritized(core, at, dataset).await?;
            for v in dataset.variables().iter().flat_map(|g| g.iter()) {
                if series
                    .iter()
                    .any(|s| s.variable == v.name && fits(s.step, resolution))
                    && v.aggregation != Aggregation::Category
                {
                    columns.push(ColumnSpec::Series {
                        dataset,
                        variable: v.name,
                    });
                }
            }
        }
        if resolution == Resolution::Hour {
            for variable in super::forecast::stored_variables(core, location).await? {
                columns.push(ColumnSpec::Forecast { variable });
            }
        }
        columns.extend(CalendarColumn::ALL.map(ColumnSpec::Calendar));
        Ok(columns)
    }
}

/// Whether values at `step` go into buckets of `resolution`.
fn fits(step: Step, resolution: Resolution) -> bool {
    match resolution {
        Resolution::Hour => step.seconds() <= 3_600,
        Resolution::Day => step.seconds() <= 86_400,
    }
}

#[derive(Serialize)]
pub struct TrainingFrame {
    pub location: String,
    pub resolution: &'static str,
    pub timezone: String,
    start: Timestamp,
    end: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    as_of: Option<Timestamp>,
    /// Cells left out because their value was changed after `as_of`.
    #[serde(skip_serializing_if = "Option::is_none")]
    revised_after_as_of: Option<u64>,
    /// Each row's start, UTC.
    pub time: Vec<Timestamp>,
    /// Each row's start in the location's time (`2025-03-30T03:00:00+02:00`), or its local
    /// date at day resolution.
    pub local_time: Vec<String>,
    pub columns: Vec<Column>,
}

#[derive(Serialize)]
pub struct Column {
    pub name: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub unit: &'static str,
    /// Known before the time it describes (the calendar, the tariff), so usable as a future
    /// regressor; observations are not.
    pub known_in_advance: bool,
    /// The sources its values came from, in priority order.
    pub sources: Vec<String>,
    pub values: Values,
    /// How many of its cells `fill` filled (when a fill was asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filled: Option<u64>,
}

#[derive(Serialize)]
#[serde(untagged)]
pub enum Values {
    Numbers(Vec<Option<f64>>),
    Text(Vec<Option<&'static str>>),
    Owned(Vec<Option<String>>),
    Flags(Vec<bool>),
}

/// The frame `request` asks for.
pub async fn frame(core: &Core, request: &FrameRequest<'_>) -> Result<TrainingFrame, QueryError> {
    let location = request.location;
    let zone = &location.timezone;
    let (time, local_time, dates) = grid(request.range, request.resolution, zone);
    let holidays_asked = request.columns.iter().any(|c| {
        matches!(
            c,
            ColumnSpec::Calendar(
                CalendarColumn::Holiday
                    | CalendarColumn::HolidayScope
                    | CalendarColumn::SchoolHoliday
            )
        )
    });
    if holidays_asked
        && let (Some(&first), Some(&last)) = (dates.first(), dates.last())
        && let Some(why) = core
            .config
            .holidays
            .not_available(&location.country, first, last)
    {
        return Err(QueryError::not_found(
            "calendar_not_available",
            format!("{why}; or leave the holiday columns out (columns=…)"),
        ));
    }
    let forecasts = request
        .columns
        .iter()
        .any(|c| matches!(c, ColumnSpec::Forecast { .. }));
    if forecasts && request.resolution != Resolution::Hour {
        return Err(QueryError::invalid(
            "invalid_parameter",
            "forecast columns are hourly (each hour takes forecasts made before it began): use resolution=hour, or leave them out",
        ));
    }
    let mut revised = 0;
    let mut columns = Vec::with_capacity(request.columns.len());
    for &spec in &request.columns {
        columns.push(match spec {
            ColumnSpec::Series { dataset, variable } => {
                let (column, left_out) =
                    series_column(core, request, dataset, variable, &time).await?;
                revised += left_out;
                column
            }
            ColumnSpec::Calendar(which) => {
                calendar_column(core, location, which, request.resolution, &time, &dates)
            }
            ColumnSpec::Forecast { variable } => {
                forecast_column(core, request, variable, &time).await?
            }
        });
    }
    if let Some((method, max_gap)) = request.fill {
        for (column, spec) in columns.iter_mut().zip(&request.columns) {
            // A forecast row is filled from earlier rows only: a later row's forecast may have
            // been made after this row's hour began.
            let (dataset, variable, method) = match *spec {
                ColumnSpec::Series { dataset, variable } => (dataset, variable, method),
                ColumnSpec::Forecast { variable } => (Dataset::Weather, variable, Fill::Locf),
                ColumnSpec::Calendar(_) => continue,
            };
            let aggregation = dataset
                .variable(variable)
                .map_or(Aggregation::Mean, |v| v.aggregation);
            if let Values::Numbers(values) = &mut column.values {
                let (out, filled) =
                    crate::domain::resample::fill(values, method, max_gap, aggregation);
                *values = out;
                column.filled = Some(filled.iter().filter(|f| **f).count() as u64);
            }
        }
    }
    let data = columns
        .iter()
        .zip(&request.columns)
        .filter(|(_, spec)| !matches!(spec, ColumnSpec::Calendar(_)));
    let mut data = data.map(|(column, _)| &column.values).peekable();
    if let Some(as_of) = request.as_of
        && data.peek().is_some()
        && data.all(|v| matches!(v, Values::Numbers(v) if v.iter().all(Option::is_none)))
    {
        return Err(QueryError::not_found(
            "nothing_as_of",
            format!(
                "none of the asked columns has a value in this range as stored by {as_of}: as_of is before the data (or the range holds none)"
            ),
        ));
    }
    Ok(TrainingFrame {
        location: location.id.clone(),
        resolution: match request.resolution {
            Resolution::Hour => "hour",
            Resolution::Day => "day",
        },
        timezone: location.timezone_name().to_owned(),
        start: request.range.start,
        end: request.range.end,
        as_of: request.as_of,
        revised_after_as_of: request.as_of.map(|_| revised),
        time,
        local_time,
        columns,
    })
}

/// One quantity on `location`'s grid at `resolution` over `range`: per step the first of
/// `variables` (of `dataset`) that has a value there — a variable and its finer successors
/// (`spot`, `spot_15min`) read as one series. What models train on and are scored against.
pub async fn quantity(
    core: &Core,
    location: &Location,
    dataset: Dataset,
    variables: &[&str],
    resolution: Resolution,
    range: TimeRange,
) -> Result<(Vec<Timestamp>, Vec<Option<f64>>), QueryError> {
    let columns = variables
        .iter()
        .map(|name| {
            let v = dataset.variable(name).ok_or_else(|| {
                QueryError::invalid(
                    "unknown_variable",
                    format!("`{name}` is not a {dataset} variable"),
                )
            })?;
            Ok(ColumnSpec::Series {
                dataset,
                variable: v.name,
            })
        })
        .collect::<Result<Vec<_>, QueryError>>()?;
    let request = FrameRequest {
        location,
        range,
        resolution,
        columns,
        as_of: None,
        lead_hours: 0,
        fill: None,
    };
    let built = frame(core, &request).await?;
    let mut values: Vec<Option<f64>> = vec![None; built.time.len()];
    for column in &built.columns {
        if let Values::Numbers(numbers) = &column.values {
            for (v, n) in values.iter_mut().zip(numbers) {
                *v = v.or(*n);
            }
        }
    }
    Ok((built.time, values))
}

impl TrainingFrame {
    /// A table of `columns` laid out on `time` (with its local labels) at a location, for the
    /// encoders: how the native series answer is written as Arrow or Parquet.
    pub fn table(
        location: &Location,
        resolution: &'static str,
        range: TimeRange,
        time: Vec<Timestamp>,
        local_time: Vec<String>,
        columns: Vec<Column>,
    ) -> Self {
        TrainingFrame {
            location: location.id.clone(),
            resolution,
            timezone: location.timezone_name().to_owned(),
            start: range.start,
            end: range.end,
            as_of: None,
            revised_after_as_of: None,
            time,
            local_time,
            columns,
        }
    }
}

/// An instant in a zone's local time with its offset (`2025-03-30T03:00:00+02:00`).
pub fn local_label(t: Timestamp, zone: &jiff::tz::TimeZone) -> String {
    t.to_jiff()
        .to_zoned(zone.clone())
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// The grid's row starts (UTC), their local labels and local dates.
fn grid(
    range: TimeRange,
    resolution: Resolution,
    zone: &jiff::tz::TimeZone,
) -> (Vec<Timestamp>, Vec<String>, Vec<Date>) {
    let mut time = Vec::new();
    let mut local = Vec::new();
    let mut dates = Vec::new();
    match resolution {
        Resolution::Hour => {
            let mut t = range.start.floor(Step::HOUR);
            while t < range.end {
                let zoned = t.to_jiff().to_zoned(zone.clone());
                time.push(t);
                local.push(local_label(t, zone));
                dates.push(zoned.date());
                t = t.plus(3_600);
            }
        }
        Resolution::Day => {
            let first = range.start.to_jiff().to_zoned(zone.clone()).date();
            let last = range.end.plus(-1).to_jiff().to_zoned(zone.clone()).date();
            for date in first
                .series(jiff::ToSpan::days(1))
                .take_while(|d| *d <= last)
            {
                let Ok(start) = date.to_zoned(zone.clone()) else {
                    continue;
                };
                time.push(Timestamp::from_jiff(start.timestamp()));
                local.push(date.to_string());
                dates.push(date);
            }
        }
    }
    (time, local, dates)
}

/// When the runs that wrote or last changed `points` finished (those still running: absent).
async fn run_finishes(core: &Core, points: &[Point]) -> Result<HashMap<RunId, i64>, QueryError> {
    // Neighbouring values mostly share their runs: only changes are collected.
    let mut ids: Vec<RunId> = Vec::new();
    for p in points {
        for run in [p.created_run, p.updated_run] {
            if ids.last() != Some(&run) {
                ids.push(run);
            }
        }
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(core
        .reader()
        .runs_by_id(&ids)
        .await?
        .into_iter()
        .filter_map(|r| r.finished_at.map(|f| (r.id, f)))
        .collect())
}

/// One variable on the grid: per row, the aggregate of the values stored in it (the first
/// source in priority order that has the instant gives it), within `as_of`.
async fn series_column(
    core: &Core,
    request: &FrameRequest<'_>,
    dataset: Dataset,
    variable: &'static str,
    time: &[Timestamp],
) -> Result<(Column, u64), QueryError> {
    let at = super::stored_at(core, request.location, dataset);
    let meta = dataset.variable(variable);
    let aggregation = meta.map_or(Aggregation::Mean, |v| v.aggregation);
    // Each source's values in instant order; the first source in priority order that has an
    // instant gives it.
    let mut kept: Vec<Vec<(i64, f64)>> = Vec::new();
    let mut sources = Vec::new();
    let mut revised = 0;
    for series in super::extent::prioritized(core, at, dataset).await? {
        if series.variable != variable || !fits(series.step, request.resolution) {
            continue;
        }
        let mut points = core.reader().read(series.id, request.range).await?;
        super::frame::in_source_hours(&mut points, at, &series.source);
        let finished = match request.as_of {
            Some(_) => run_finishes(core, &points).await?,
            None => HashMap::new(),
        };
        let mut values = Vec::with_capacity(points.len());
        // The last run looked up and whether it had finished by `as_of`.
        let mut last: Option<(RunId, bool)> = None;
        let mut by = |run: RunId, as_of: Timestamp| match last {
            Some((id, done)) if id == run => done,
            _ => {
                let done = finished.get(&run).is_some_and(|&f| f <= as_of.epoch());
                last = Some((run, done));
                done
            }
        };
        for p in points {
            if let Some(as_of) = request.as_of {
                if !by(p.created_run, as_of) {
                    continue;
                }
                if !by(p.updated_run, as_of) {
                    revised += 1;
                    continue;
                }
            }
            values.push((p.ts.epoch(), p.value));
        }
        if !values.is_empty() {
            kept.push(values);
            sources.push(series.source.clone());
        }
    }
    let instants = kept.into_iter().reduce(prefer).unwrap_or_default();
    let values = buckets(instants, time, request.range.end, aggregation);
    Ok((
        Column {
            name: format!("{dataset}.{variable}"),
            unit: meta.map_or("", |v| v.unit),
            known_in_advance: false,
            sources,
            values: Values::Numbers(values),
            filled: None,
        },
        revised,
    ))
}

/// Two lists of (instant, value) in instant order merged into one, `first`'s value where both
/// have an instant.
fn prefer(first: Vec<(i64, f64)>, later: Vec<(i64, f64)>) -> Vec<(i64, f64)> {
    let mut out = Vec::with_capacity(first.len().max(later.len()));
    let (mut a, mut b) = (first.into_iter().peekable(), later.into_iter().peekable());
    loop {
        match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if y.0 < x.0 => out.extend(b.next()),
            (Some(x), Some(y)) if y.0 == x.0 => {
                out.extend(a.next());
                b.next();
            }
            (Some(_), _) => out.extend(a.next()),
            (None, Some(_)) => out.extend(b.next()),
            (None, None) => return out,
        }
    }
}

/// Each instant's value into the row whose start is the last at or before it, aggregated.
fn buckets(
    mut instants: Vec<(i64, f64)>,
    time: &[Timestamp],
    end: Timestamp,
    aggregation: Aggregation,
) -> Vec<Option<f64>> {
    if !instants.is_sorted_by_key(|&(t, _)| t) {
        instants.sort_unstable_by_key(|&(t, _)| t);
    }
    let mut values = Vec::with_capacity(time.len());
    let mut bucket = Vec::new();
    let mut j = 0;
    for (i, start) in time.iter().enumerate() {
        let row_end = time.get(i + 1).map_or(end.epoch(), |t| t.epoch());
        while j < instants.len() && instants[j].0 < start.epoch() {
            j += 1;
        }
        bucket.clear();
        while j < instants.len() && instants[j].0 < row_end {
            bucket.push(instants[j].1);
            j += 1;
        }
        values.push(aggregate(aggregation, &bucket));
    }
    values
}

/// A weather variable's forecast as issued by `as_of` and `lead_hours` before each hour.
async fn forecast_column(
    core: &Core,
    request: &FrameRequest<'_>,
    variable: &'static str,
    time: &[Timestamp],
) -> Result<Column, QueryError> {
    let meta = Dataset::Weather.variable(variable);
    let forecast = super::forecast::variable(
        core,
        request.location,
        variable,
        request.range,
        request.as_of,
        request.lead_hours,
    )
    .await?;
    let instants = forecast.values.iter().map(|(&t, c)| (t, c.0)).collect();
    let aggregation = meta.map_or(Aggregation::Mean, |v| v.aggregation);
    Ok(Column {
        name: format!("forecast.{variable}"),
        unit: meta.map_or("", |v| v.unit),
        known_in_advance: true,
        sources: forecast.sources,
        values: Values::Numbers(buckets(instants, time, request.range.end, aggregation)),
        filled: None,
    })
}

fn calendar_column(
    core: &Core,
    location: &Location,
    which: CalendarColumn,
    resolution: Resolution,
    time: &[Timestamp],
    dates: &[Date],
) -> Column {
    let calendars = &core.config.holidays;
    let place = location.place();
    // A day's hours share its answer: looked up once per date.
    let mut days: Vec<crate::domain::calendar::Day<'_>> = Vec::with_capacity(dates.len());
    for &date in dates {
        let day = match days.last() {
            Some(last) if last.date == date => last.clone(),
            _ => calendars.day(place, date),
        };
        days.push(day);
    }
    let values = match which {
        CalendarColumn::Weekday => Values::Text(days.iter().map(|d| Some(d.weekday)).collect()),
        CalendarColumn::Weekend => Values::Flags(days.iter().map(|d| d.weekend).collect()),
        CalendarColumn::Holiday => Values::Owned(
            days.iter()
                .map(|d| d.holiday.map(|h| h.name.clone()))
                .collect(),
        ),
        CalendarColumn::HolidayScope => Values::Text(
            days.iter()
                .map(|d| {
                    d.holiday.map(|h| match h.scope {
                        Scope::National => "national",
                        Scope::Regional => "regional",
                        Scope::Local => "local",
                    })
                })
                .collect(),
        ),
        CalendarColumn::SchoolHoliday => Values::Owned(
            days.iter()
                .map(|d| d.school_holiday.map(|s| s.name.clone()))
                .collect(),
        ),
        CalendarColumn::TariffPeriod => {
            // Spain's tariff, for a location priced in a Spanish zone, by the hour (a day has
            // several periods: none at day resolution).
            let priced = location.country == "ES"
                && location.price_zone.is_some()
                && resolution == Resolution::Hour;
            let madrid = jiff::tz::TimeZone::get("Europe/Madrid").ok();
            Values::Text(
                time.iter()
                    .map(|&t| {
                        let zone = madrid.as_ref().filter(|_| priced)?;
                        Some(match energy::period(t, zone, calendars) {
                            Period::P1 => "P1",
                            Period::P2 => "P2",
                            Period::P3 => "P3",
                        })
                    })
                    .collect(),
            )
        }
    };
    Column {
        name: which.name().to_owned(),
        unit: "",
        known_in_advance: true,
        sources: vec!["calendar".to_owned()],
        values,
        filled: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_source_wins_where_both_have_an_instant() {
        let first = vec![(1, 1.0), (3, 1.0), (4, 1.0)];
        let later = vec![(0, 2.0), (3, 2.0), (5, 2.0)];
        assert_eq!(
            prefer(first, later),
            vec![(0, 2.0), (1, 1.0), (3, 1.0), (4, 1.0), (5, 2.0)]
        );
        assert_eq!(prefer(Vec::new(), vec![(7, 2.0)]), vec![(7, 2.0)]);
    }
}
