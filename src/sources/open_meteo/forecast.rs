//! `open_meteo_forecast`: Open-Meteo's forecast API for the next `forecast_days` days (at most
//! 16), hourly, through the same request path and budgets as the history. Open-Meteo does not
//! say when its models ran, so an issue's time is when almanac fetched it.

use std::sync::Arc;

use async_trait::async_trait;

use super::{OpenMeteo, VARIABLES, parse};
use crate::domain::{Location, Step, TimeRange, Timestamp, Variable};
use crate::sources::SourceError;
use crate::sources::forecast::{ForecastSource, Issue};

pub const FORECAST_ID: &str = "open_meteo_forecast";

/// Open-Meteo's forecast, sharing the history source's client.
pub struct OpenMeteoForecast(pub Arc<OpenMeteo>);

#[async_trait]
impl ForecastSource for OpenMeteoForecast {
    fn id(&self) -> &'static str {
        FORECAST_ID
    }

    fn step(&self) -> Step {
        Step::HOUR
    }

    fn variables(&self) -> Vec<&'static Variable> {
        VARIABLES.iter().collect()
    }

    fn horizon_hours(&self) -> u32 {
        self.0.config.forecast_days.clamp(1, 16) * 24
    }

    fn circuit_open(&self) -> bool {
        self.0.endpoint.circuit_open()
    }

    async fn forecast(&self, location: &Location, now: Timestamp) -> Result<Issue, SourceError> {
        let days = self.0.config.forecast_days.clamp(1, 16);
        let base = &self.0.config.forecast_url;
        let url = self
            .0
            .request(base, location, &[("forecast_days", days.to_string())])?;
        let body = self.0.get(&url, i64::from(days)).await?;
        // The answer starts at today's 00:00 GMT (`ops::forecast` keeps what lies ahead).
        let ahead = TimeRange {
            start: now.floor(Step::DAY),
            end: now
                .floor(Step::DAY)
                .plus(i64::from(days + 1) * Step::DAY.seconds()),
        };
        let parsed = parse(&body, ahead)?;
        Ok(Issue {
            issued: None,
            values: parsed.hourly,
            rejects: parsed.rejects,
        })
    }
}
