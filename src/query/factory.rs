//! The factory's production plan for the hours ahead: each hour's features
//! (`domain::factory`, deterministic formulas) from forecast inputs — the price from the
//! champion of the hourly energy-price model of the location's price zone, temperature and
//! humidity from the weather forecasts as issued (the location's forecast sources, latest
//! issue) — and the optimal production windows among them. Also the features of one given
//! hour (the factory's `POST /predict/…` routes), the cost index scaled by the stored prices of
//! the 30 days before.

use serde::Serialize;

use super::QueryError;
use crate::core::Core;
use crate::domain::factory::{self, Features, Window};
use crate::domain::{Dataset, Location, Step, TimeRange, Timestamp};

#[derive(Serialize)]
pub struct Hour {
    pub timestamp: Timestamp,
    pub price_eur_kwh: f64,
    pub temperature: f64,
    pub humidity: f64,
    #[serde(flatten)]
    pub features: Features,
}

#[derive(Serialize)]
pub struct Plan {
    pub location: String,
    pub hours_ahead: u32,
    /// Where each input came from: the price model (and its version) and the weather forecast
    /// sources; every feature is a formula of them.
    pub inputs: Inputs,
    pub hours: Vec<Hour>,
    /// Hours of the range some input had no forecast for.
    pub hours_missing: usize,
    /// The lowest and highest forecast price of the range: what the cost index scales by.
    pub price_range_eur_kwh: (f64, f64),
    pub optimal_windows: Vec<Window>,
    pub issued_at: Timestamp,
}

#[derive(Serialize)]
pub struct Inputs {
    pub price_model: String,
    pub price_model_version: i64,
    pub price_issued_at: Timestamp,
    pub weather_sources: Vec<String>,
}

/// The plan of the `hours` (1..=168) from the hour under way at `now`.
pub async fn plan(
    core: &Core,
    location: &Location,
    hours: u32,
    now: Timestamp,
) -> Result<Plan, QueryError> {
    let zone = super::stored_at(core, location, Dataset::EnergyPrice);
    let model = super::models::seed::price_model(core)?;
    let (m, _) = super::models::config(core, model)?;
    if m.location != zone.id {
        return Err(QueryError::not_found(
            "no_model",
            format!(
                "the price model `{model}` forecasts `{}`, not `{}`'s price zone",
                m.location, location.id
            ),
        ));
    }
    let (price, _) =
        super::models::forecast(core, model, Some(hours.min(m.horizon_hours)), now).await?;
    let start = now.floor(Step::HOUR);
    let range = TimeRange {
        start,
        end: start.plus(i64::from(hours) * 3_600),
    };
    let temperature =
        super::forecast::variable(core, location, "temperature", range, None, 0).await?;
    let humidity = super::forecast::variable(core, location, "humidity", range, None, 0).await?;
    if temperature.values.is_empty() || humidity.values.is_empty() {
        return Err(QueryError::not_found(
            "no_forecasts",
            format!(
                "no weather forecast of temperature and humidity is stored for `{}` over the next {hours} h",
                location.id
            ),
        ));
    }
    // €/MWh → €/kWh, as the factory's features take it.
    let k = if price.unit == "€/MWh" { 1e-3 } else { 1.0 };
    let prices: Vec<(Timestamp, f64)> = price
        .time
        .iter()
        .zip(&price.value)
        .filter(|(t, _)| range.contains(**t))
        .map(|(&t, &v)| (t, v * k))
        .collect();
    let (min, max) = prices
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), (_, p)| {
            (lo.min(*p), hi.max(*p))
        });
    let mut out = Vec::new();
    let mut missing = 0;
    let mut t = range.start;
    while t < range.end {
        let p = prices.iter().find(|(ts, _)| *ts == t).map(|(_, p)| *p);
        let temp = temperature.values.get(&t.epoch()).map(|v| v.0);
        let hum = humidity.values.get(&t.epoch()).map(|v| v.0);
        match (p, temp, hum) {
            (Some(p), Some(temp), Some(hum)) => out.push(Hour {
                timestamp: t,
                price_eur_kwh: p,
                temperature: temp,
                humidity: hum,
                features: factory::features(p, (min, max), temp, hum),
            }),
            _ => missing += 1,
        }
        t = t.plus(3_600);
    }
    let pairs: Vec<(Timestamp, Features)> = out.iter().map(|h| (h.timestamp, h.features)).collect();
    let mut sources = temperature.sources.clone();
    for s in humidity.sources {
        if !sources.contains(&s) {
            sources.push(s);
        }
    }
    Ok(Plan {
        location: location.id.clone(),
        hours_ahead: hours,
        inputs: Inputs {
            price_model: model.to_owned(),
            price_model_version: price.version,
            price_issued_at: price.issued_at,
            weather_sources: sources,
        },
        hours: out,
        hours_missing: missing,
        price_range_eur_kwh: (min, max),
        optimal_windows: factory::windows(&pairs),
        issued_at: now,
    })
}

/// The features of one hour at `price_eur_kwh`, `temperature`, `humidity`, the cost index
/// scaled by the stored prices (`variable` of the location's price zone) of the 30 days before
/// `now`.
pub async fn one_hour(
    core: &Core,
    location: &Location,
    price_eur_kwh: f64,
    temperature: f64,
    humidity: f64,
    now: Timestamp,
) -> Result<(Features, (f64, f64)), QueryError> {
    let zone = super::stored_at(core, location, Dataset::EnergyPrice);
    let range = TimeRange {
        start: now.plus(-30 * 86_400),
        end: now,
    };
    // PVPC, the consumer price the factory pays: hourly until 2025-10-01, quarter-hourly since.
    let (_, prices) = super::training::quantity(
        core,
        zone,
        Dataset::EnergyPrice,
        &["pvpc", "pvpc_15min"],
        crate::domain::time::Resolution::Hour,
        range,
    )
    .await?;
    let (mut lo, mut hi) = (f64::MAX, f64::MIN);
    for v in prices.iter().flatten() {
        lo = lo.min(v / 1000.0);
        hi = hi.max(v / 1000.0);
    }
    if lo > hi {
        return Err(QueryError::not_found(
            "no_data",
            format!(
                "no PVPC price is stored for `{}` in the last 30 days: the cost index needs them",
                zone.id
            ),
        ));
    }
    Ok((
        factory::features(price_eur_kwh, (lo, hi), temperature, humidity),
        (lo, hi),
    ))
}
