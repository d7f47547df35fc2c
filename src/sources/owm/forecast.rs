//! `owm_forecast`: OpenWeatherMap's free 5-day forecast (`/data/2.5/forecast`), a value every 3
//! hours. Its items' precipitation is a 3-hour amount, which is not the hour's precipitation
//! almanac stores, so it is left out; OpenWeatherMap does not say when it issued the forecast.

use std::sync::Arc;

use async_trait::async_trait;

use super::source::OpenWeatherMap;
use crate::domain::{Dataset, Location, Step, Timestamp, Variable};
use crate::sources::forecast::{ForecastSource, Issue};
use crate::sources::{SourceError, pick};

pub const FORECAST_ID: &str = "owm_forecast";

/// The 5-day/3-hour forecast, sharing the current-weather source's client and budget.
pub struct OwmForecast(pub Arc<OpenWeatherMap>);

#[async_trait]
impl ForecastSource for OwmForecast {
    fn id(&self) -> &'static str {
        FORECAST_ID
    }

    fn step(&self) -> Step {
        Step::from_seconds(3 * 3_600).unwrap_or(Step::HOUR)
    }

    fn variables(&self) -> Vec<&'static Variable> {
        pick(
            Dataset::Weather,
            &["temperature", "humidity", "wind_speed", "wind_direction"],
        )
    }

    fn horizon_hours(&self) -> u32 {
        120
    }

    fn circuit_open(&self) -> bool {
        self.0.endpoint.circuit_open()
    }

    async fn forecast(&self, location: &Location, _now: Timestamp) -> Result<Issue, SourceError> {
        let payload = self
            .0
            .call(&self.0.config.forecast_url, location, &[])
            .await?;
        Ok(Issue {
            issued: None,
            values: payload
                .readings
                .into_iter()
                .map(|r| r.observation)
                .collect(),
            rejects: payload.rejects,
        })
    }
}
