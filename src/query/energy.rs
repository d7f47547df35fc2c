//! Energy price features of a location's price zone: hourly trend, volatility and tariff
//! period, and the daily cost index (the chocolate factory's features).

use serde::Serialize;

use super::{QueryError, stored_at};
use crate::core::Core;
use crate::domain::energy::{self, DayIndex, HourFeatures};
use crate::domain::{Dataset, Location, Step, TimeRange, Timestamp};

#[derive(Serialize)]
pub struct EnergyFeatures {
    location: String,
    /// Where the prices are stored (the location's price zone).
    zone: String,
    variable: String,
    source: String,
    unit: String,
    tariff: &'static str,
    definitions: &'static str,
    hours: Vec<HourFeatures>,
    days: Vec<DayIndex>,
}

const DEFINITIONS: &str = "trend_1h = price − previous hour's; volatility_24h = standard deviation of the \
24 hourly prices ending with this one; cost_index = the local day's mean price as a percentage of the \
previous 30 days' mean; period = 2.0TD period of the local hour (P1 10–14 h and 18–22 h, P2 8–10 h, \
14–18 h and 22–24 h, P3 0–8 h, weekends and fixed national holidays P3)";

/// The features of `variable` (an hourly price) over `range` at `location`'s price zone.
pub async fn features(
    core: &Core,
    location: &Location,
    range: TimeRange,
    variable: &str,
) -> Result<EnergyFeatures, QueryError> {
    let zone_location = stored_at(core, location, Dataset::EnergyPrice);
    let known = Dataset::EnergyPrice.variable(variable).ok_or_else(|| {
        QueryError::invalid(
            "unknown_variable",
            format!("`{variable}` is not an energy_price variable (pvpc, spot, surplus, …)"),
        )
    })?;
    if Dataset::EnergyPrice.natural_step(variable) != Some(Step::HOUR) {
        return Err(QueryError::invalid(
            "unknown_variable",
            format!("the features are hourly: `{variable}` is not an hourly price"),
        ));
    }
    let series = core
        .reader()
        .series(&zone_location.id, Dataset::EnergyPrice)
        .await?
        .into_iter()
        .find(|s| s.variable == variable)
        .ok_or_else(|| {
            QueryError::not_found(
                "no_data",
                format!("no {variable} prices are stored for {}", zone_location.id),
            )
        })?;
    let zone = &zone_location.timezone;
    // Thirty-one days before the range give the first day's cost index its history.
    let read = TimeRange {
        start: range.start.plus(-31 * 86_400),
        end: range.end,
    };
    let prices: Vec<(Timestamp, f64)> = core
        .reader()
        .read(series.id, read)
        .await?
        .into_iter()
        .map(|p| (p.ts, p.value))
        .collect();
    let first = range.start.to_jiff().to_zoned(zone.clone()).date();
    let last = range.end.plus(-1).to_jiff().to_zoned(zone.clone()).date();
    Ok(EnergyFeatures {
        location: location.id.clone(),
        zone: zone_location.id.clone(),
        variable: variable.to_owned(),
        source: series.source.clone(),
        unit: known.unit.into(),
        tariff: "2.0TD",
        definitions: DEFINITIONS,
        hours: energy::hourly(&prices, range.start, zone, &core.config.holidays),
        days: energy::daily_index(&prices, (first, last), zone),
    })
}
