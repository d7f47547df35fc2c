//! Forecast sources: each fetches a provider's current forecast for a location as one issue —
//! the values for the hours ahead, the provider's issue time where it states one, and the
//! records it refused. What almanac stores of an issue and when it knew it is `ops::forecast`'s.

use async_trait::async_trait;

use super::SourceError;
use crate::domain::{Location, Observation, Reject, Step, Timestamp, Variable};

/// One forecast as fetched.
#[derive(Debug, Default)]
pub struct Issue {
    /// When the provider says it issued it (AEMET's `elaborado`); `None` when it does not say.
    pub issued: Option<Timestamp>,
    /// Values in canonical units, by target instant.
    pub values: Vec<Observation>,
    pub rejects: Vec<Reject>,
}

/// A provider's forecast for a place.
#[async_trait]
pub trait ForecastSource: Send + Sync {
    /// The id locations name it by in `forecasts` (`open_meteo_forecast`).
    fn id(&self) -> &'static str;
    /// The step of its values.
    fn step(&self) -> Step;
    /// The weather variables it forecasts.
    fn variables(&self) -> Vec<&'static Variable>;
    /// How far ahead it reaches, hours.
    fn horizon_hours(&self) -> u32;
    /// Whether its circuit breaker is refusing requests right now.
    fn circuit_open(&self) -> bool;
    /// Its latest forecast for `location`, as the provider sends it (hours already begun
    /// included: `ops::forecast` keeps those from `now` on).
    async fn forecast(&self, location: &Location, now: Timestamp) -> Result<Issue, SourceError>;
}
