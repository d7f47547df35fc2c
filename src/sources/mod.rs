//! Providers: each fetches and parses one upstream's wire format into canonical observations.
//! A source never touches the store, the cache or the clock (`now` is passed in); every request
//! goes through [`upstream`]. Each provider declares itself ([`providers::Provider`]: its config
//! section, the ids locations name it by, its secret keys); the ids config accepts and the
//! secrets it guards are derived from those declarations. Adding a provider: its module with its
//! `PROVIDER` and `Config`, one line in [`providers::ALL`], one field in [`SourcesConfig`] and
//! one arm in [`build`] (and its defaults in `config/defaults.toml`). `config` reads this
//! module's types; nothing here reads `config`.

pub mod aemet;
pub mod csv_import;
pub mod forecast;
pub mod kinds;
pub mod madrid;
pub mod meteostat;
pub mod open_meteo;
pub mod owm;
pub mod providers;
pub mod ree;
pub mod siar;
pub mod text;
pub mod upstream;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use serde::{Deserialize, Serialize};

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

impl Fetched {
    /// What a fetch of `range` at `step` brought, with the values of the `declared` variables
    /// that neither arrived nor were refused counted as missing.
    pub fn assemble(
        observations: Vec<Observation>,
        rejects: Vec<Reject>,
        range: TimeRange,
        step: Step,
        declared: &[&Variable],
    ) -> Self {
        let expected = crate::domain::Grid::new(range, step).len() * declared.len() as u64;
        let present = observations
            .iter()
            .filter(|o| declared.iter().any(|v| v.name == o.variable))
            .count() as u64;
        Fetched {
            missing: expected.saturating_sub(present + rejects.len() as u64),
            observations,
            rejects,
        }
    }
}

/// One value parsed from a payload, with the station, measurement point or price zone it belongs
/// to when a payload carries several.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading {
    pub origin: Option<String>,
    pub observation: Observation,
}

/// Everything one payload held: the values of a dataset in canonical units, sorted by origin,
/// time and variable, and the records refused with their reasons.
#[derive(Debug)]
pub struct Payload {
    pub dataset: Dataset,
    pub readings: Vec<Reading>,
    pub rejects: Vec<Reject>,
}

impl Payload {
    pub fn new(dataset: Dataset) -> Self {
        Self {
            dataset,
            readings: Vec::new(),
            rejects: Vec::new(),
        }
    }

    pub fn push(&mut self, origin: Option<&str>, observation: Observation) {
        self.readings.push(Reading {
            origin: origin.map(str::to_owned),
            observation,
        });
    }

    pub fn reject(&mut self, record: impl Into<String>, reason: impl Into<String>) {
        self.rejects.push(Reject {
            record: record.into(),
            reason: reason.into(),
            value: None,
        });
    }

    /// Refuses one value (out of its physical range, unreadable), saying which it was.
    pub fn reject_value(
        &mut self,
        record: impl Into<String>,
        reason: impl Into<String>,
        origin: Option<&str>,
        variable: &str,
        ts: crate::domain::Timestamp,
    ) {
        self.refuse(
            record,
            reason,
            origin,
            variable,
            ts,
            crate::domain::RefusedKind::Invalid,
        );
    }

    fn refuse(
        &mut self,
        record: impl Into<String>,
        reason: impl Into<String>,
        origin: Option<&str>,
        variable: &str,
        ts: crate::domain::Timestamp,
        kind: crate::domain::RefusedKind,
    ) {
        self.rejects.push(Reject {
            record: record.into(),
            reason: reason.into(),
            value: Some(crate::domain::RejectedValue {
                origin: origin.map(str::to_owned),
                variable: variable.to_owned(),
                ts,
                kind,
            }),
        });
    }

    /// Sorts the readings and keeps the first of any duplicate (origin, variable, instant).
    pub fn finish(mut self) -> Self {
        self.readings.sort_by(|a, b| {
            (&a.origin, a.observation.ts, a.observation.variable).cmp(&(
                &b.origin,
                b.observation.ts,
                b.observation.variable,
            ))
        });
        let mut duplicates = Vec::new();
        self.readings.dedup_by(|later, earlier| {
            let same = later.origin == earlier.origin
                && later.observation.ts == earlier.observation.ts
                && later.observation.variable == earlier.observation.variable;
            if same {
                duplicates.push(later.clone());
            }
            same
        });
        for d in duplicates {
            self.refuse(
                format!(
                    "{} {} at {} = {}",
                    d.origin.as_deref().unwrap_or("-"),
                    d.observation.variable,
                    d.observation.ts,
                    d.observation.value
                ),
                "a second value for the same instant; the first one is kept",
                d.origin.as_deref(),
                d.observation.variable,
                d.observation.ts,
                crate::domain::RefusedKind::Duplicate,
            );
        }
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error("upstream refused the request: {0}")]
    Refused(String),
    #[error("malformed upstream payload: {0}")]
    Malformed(String),
    /// The upstream answered that it has no data for the request (not a failure to retry now).
    #[error("upstream has no data: {0}")]
    NoData(String),
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
    /// The variables the source always sends (their series are created up front and decide
    /// whether a range is complete); others of the dataset are stored as they come.
    fn variables(&self) -> Vec<&'static Variable>;
    /// The instants this source can serve at `now` (archives reach far back; a "last 24 hours"
    /// endpoint does not). Backfill routes a gap only to a source whose reach holds it.
    fn reach(&self, now: Timestamp) -> TimeRange {
        TimeRange {
            start: Timestamp::from_epoch(i64::MIN / 4),
            end: now,
        }
    }
    /// Whether this source's circuit breaker is refusing requests right now.
    fn circuit_open(&self) -> bool;
    /// Whether it reads a city's detectors one by one (Madrid's traffic), so a location may name
    /// the ones it wants (a tenant's points).
    fn reads_points(&self) -> bool {
        false
    }
    /// The source's measurement points (id, name, kind, where), for sources that read a city's
    /// detectors one by one; `None` for the others.
    async fn measurement_points(
        &self,
    ) -> Option<Result<Vec<(String, String, String, crate::domain::Coordinates)>, SourceError>>
    {
        None
    }
    /// The values of every variable for `location` in `range` (half-open, aligned to the step).
    async fn fetch(
        &self,
        location: &Location,
        range: TimeRange,
        now: Timestamp,
    ) -> Result<Fetched, SourceError>;
}

/// The canonical variables called `names` in `dataset` (each must exist).
pub fn pick(dataset: Dataset, names: &[&str]) -> Vec<&'static Variable> {
    names
        .iter()
        .map(|name| {
            dataset
                .variable(name)
                .unwrap_or_else(|| panic!("{name} is not a {dataset} variable"))
        })
        .collect()
}

/// The provider-independent request policy every source's `limits` section holds.
pub type Limits = upstream::Policy;

/// The `[sources.*]` sections: one per provider.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct SourcesConfig {
    pub open_meteo: open_meteo::Config,
    pub aemet: aemet::source::Config,
    pub ree: ree::Config,
    pub madrid_traffic: madrid::source::Config,
    pub owm: owm::source::Config,
    pub esios: ree::esios::Config,
    pub csv_import: csv_import::Config,
}

impl SourcesConfig {
    /// The request policy of the source called `id`.
    pub fn limits(&self, id: &str) -> Option<&Limits> {
        let provider = providers::of(id)?;
        Some(match provider.section {
            "open_meteo" => &self.open_meteo.limits,
            "aemet" => &self.aemet.limits,
            "ree" => &self.ree.limits,
            "madrid_traffic" => &self.madrid_traffic.limits,
            "owm" => &self.owm.limits,
            "esios" => &self.esios.limits,
            _ => return None,
        })
    }
}

/// The configured sources by id. Cloned with every `Core` (each request's handlers and
/// middleware take one), so the map itself is shared, not copied.
#[derive(Clone, Default)]
pub struct Sources {
    by_id: Arc<BTreeMap<&'static str, Arc<dyn Source>>>,
    forecasts: Arc<BTreeMap<&'static str, Arc<dyn forecast::ForecastSource>>>,
}

impl Sources {
    pub fn get(&self, id: &str) -> Option<&Arc<dyn Source>> {
        self.by_id.get(id)
    }

    /// The traffic sources of `location` that read measurement points one by one (what a
    /// tenant's points can be fetched from), in priority order.
    pub fn reading_points(&self, location: &crate::domain::Location) -> Vec<String> {
        location
            .sources
            .get(&crate::domain::Dataset::Traffic)
            .into_iter()
            .flatten()
            .filter(|id| self.get(id).is_some_and(|s| s.reads_points()))
            .cloned()
            .collect()
    }

    /// The forecast source called `id`.
    pub fn forecast(&self, id: &str) -> Option<&Arc<dyn forecast::ForecastSource>> {
        self.forecasts.get(id)
    }

    /// Every built forecast source, by id.
    pub fn forecasts(&self) -> impl Iterator<Item = &Arc<dyn forecast::ForecastSource>> {
        self.forecasts.values()
    }

    /// Every built source, by id.
    pub fn all(&self) -> impl Iterator<Item = &Arc<dyn Source>> {
        self.by_id.values()
    }
}

/// Builds every configured source and forecast source on the shared upstream client.
pub fn build(config: &SourcesConfig, upstream: &Upstream) -> Sources {
    let mut by_id: BTreeMap<&'static str, Arc<dyn Source>> = BTreeMap::new();
    let mut forecasts: BTreeMap<&'static str, Arc<dyn forecast::ForecastSource>> = BTreeMap::new();
    let open_meteo = Arc::new(open_meteo::OpenMeteo::new(
        config.open_meteo.clone(),
        upstream,
    ));
    by_id.insert(open_meteo::ID, open_meteo.clone());
    forecasts.insert(
        open_meteo::FORECAST_ID,
        Arc::new(open_meteo::OpenMeteoForecast(open_meteo)),
    );
    let aemet = aemet::source::Client::new(config.aemet.clone(), upstream);
    by_id.insert(
        aemet::source::DAILY_ID,
        Arc::new(aemet::source::AemetDaily(aemet.clone())),
    );
    by_id.insert(
        aemet::source::HOURLY_ID,
        Arc::new(aemet::source::AemetHourly(aemet.clone())),
    );
    forecasts.insert(
        aemet::source::FORECAST_ID,
        Arc::new(aemet::source::AemetForecast(aemet)),
    );
    let ree = ree::Ree::new(config.ree.clone(), upstream);
    by_id.insert(ree::ID, Arc::new(ree));
    let esios = ree::esios::Esios::new(config.esios.clone(), upstream);
    by_id.insert(ree::esios::ID, Arc::new(esios));
    let owm = Arc::new(owm::source::OpenWeatherMap::new(
        config.owm.clone(),
        upstream,
    ));
    by_id.insert(owm::source::ID, owm.clone());
    forecasts.insert(
        owm::forecast::FORECAST_ID,
        Arc::new(owm::forecast::OwmForecast(owm)),
    );
    let traffic = madrid::source::MadridTraffic::new(config.madrid_traffic.clone(), upstream);
    by_id.insert(madrid::source::ID, Arc::new(traffic));
    Sources {
        by_id: Arc::new(by_id),
        forecasts: Arc::new(forecasts),
    }
}
