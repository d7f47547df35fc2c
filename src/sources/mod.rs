//! Providers: each fetches and parses one upstream's wire format into canonical observations.
//! A source never touches the store, the cache or the clock (`now` is passed in); every request
//! goes through [`upstream`]. Adding a provider: one file, one config field, one arm in [`build`].

pub mod open_meteo;
pub mod upstream;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::config::SourcesConfig;
use crate::domain::{Dataset, Location, Observation, Reject, Step, TimeRange, Timestamp, Variable};
use upstream::{Upstream, UpstreamError};

/// What a fetch brought back for a range: values in canonical units, the records that were
/// refused with their reasons, and how many expected values the upstream did not have.
#[derive(Debug, Default)]
pub struct Fetched {
    pub observations: Vec<Observation>,
    pub rejects: Vec<Reject>,
    pub missing: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error("upstream refused the request: {0}")]
    Refused(String),
    #[error("malformed upstream payload: {0}")]
    Malformed(String),
}

impl SourceError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, SourceError::Upstream(e) if e.is_retryable())
    }
}

/// A provider adapter for one dataset at one step.
#[async_trait]
pub trait Source: Send + Sync {
    /// The id locations name it by (`open_meteo`) and every stored series carries.
    fn id(&self) -> &'static str;
    fn dataset(&self) -> Dataset;
    fn step(&self) -> Step;
    fn variables(&self) -> &'static [Variable];
    /// The values of every variable for `location` in `range` (half-open, aligned to the step).
    async fn fetch(
        &self,
        location: &Location,
        range: TimeRange,
        now: Timestamp,
    ) -> Result<Fetched, SourceError>;
}

/// The configured sources by id.
#[derive(Clone, Default)]
pub struct Sources {
    by_id: BTreeMap<&'static str, Arc<dyn Source>>,
}

impl Sources {
    pub fn get(&self, id: &str) -> Option<&Arc<dyn Source>> {
        self.by_id.get(id)
    }
}

/// Builds every configured source on the shared upstream client.
pub fn build(config: &SourcesConfig, upstream: &Upstream) -> Sources {
    let mut by_id: BTreeMap<&'static str, Arc<dyn Source>> = BTreeMap::new();
    let open_meteo = open_meteo::OpenMeteo::new(config.open_meteo.clone(), upstream);
    by_id.insert(open_meteo::ID, Arc::new(open_meteo));
    Sources { by_id }
}
