//! The OpenWeatherMap source (`owm`): the current observation (`/data/2.5/weather`) for the hour
//! nearest now, and, when a One Call 3.0 subscription is configured, the time machine
//! (`/data/3.0/onecall/timemachine`, one call per hour) for at most `max_history_hours` of the
//! most recent past hours; older hours are left to other sources. Requests ask for
//! `units=metric`; the key goes in `appid` and never reaches a log (errors drop the URL).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::parse::{self, Units};
use crate::domain::{Dataset, Grid, Location, Step, TimeRange, Timestamp, Variable};
use crate::secret::Secret;
use crate::sources::Limits;
use crate::sources::upstream::{Endpoint, Upstream, UpstreamError};
use crate::sources::{Fetched, Source, SourceError, pick};

pub const ID: &str = "owm";

pub const PROVIDER: crate::sources::providers::Provider = crate::sources::providers::Provider {
    section: "owm",
    ids: &[ID],
    forecasts: &[super::forecast::FORECAST_ID],
    secrets: &["api_key"],
};

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Config {
    /// `https://api.openweathermap.org/data/2.5/weather`.
    pub current_url: String,
    /// `https://api.openweathermap.org/data/3.0/onecall/timemachine`.
    pub timemachine_url: String,
    /// `https://api.openweathermap.org/data/2.5/forecast` (5 days, every 3 hours).
    pub forecast_url: String,
    /// Whether the key has the One Call 3.0 ("One Call by Call") subscription the time machine needs.
    pub onecall: bool,
    /// The most past hours one fetch asks the time machine for (each is one paid call).
    pub max_history_hours: u32,
    /// From `ALMANAC__SOURCES__OWM__API_KEY` or `api_key_file`, never from the file itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<Secret>,
    pub limits: Limits,
}

fn no_key() -> SourceError {
    SourceError::Refused(
        "no OpenWeatherMap key: set ALMANAC__SOURCES__OWM__API_KEY or sources.owm.api_key_file"
            .into(),
    )
}

pub struct OpenWeatherMap {
    pub(super) config: Config,
    pub(super) endpoint: Endpoint,
}

impl OpenWeatherMap {
    pub fn new(config: Config, upstream: &Upstream) -> Self {
        let endpoint = upstream.endpoint(ID, &config.limits);
        Self { config, endpoint }
    }

    pub(super) async fn call(
        &self,
        base: &str,
        location: &Location,
        extra: &[(&str, String)],
    ) -> Result<crate::sources::Payload, SourceError> {
        let key = self.config.api_key.as_ref().ok_or_else(no_key)?;
        let mut url = reqwest::Url::parse(base)
            .map_err(|e| SourceError::Refused(format!("bad OpenWeatherMap URL: {e}")))?;
        url.query_pairs_mut()
            .append_pair("lat", &location.coordinates.latitude.to_string())
            .append_pair("lon", &location.coordinates.longitude.to_string())
            .append_pair("units", "metric")
            .append_pair("appid", key.expose());
        for (name, value) in extra {
            url.query_pairs_mut().append_pair(name, value);
        }
        let body = self.endpoint.get(&url, 1.0).await.map_err(|e| match e {
            // OWM's refusals carry their reason in a JSON body with `cod`.
            UpstreamError::Status { status, body } if status < 500 => {
                match serde_json::from_str(&body).map(|v| parse::status(&v)) {
                    Ok(Err(reason)) => reason,
                    _ => SourceError::Upstream(UpstreamError::Status { status, body }),
                }
            }
            other => SourceError::Upstream(other),
        })?;
        parse::parse(&body, Units::Metric)
    }
}

#[async_trait]
impl Source for OpenWeatherMap {
    fn id(&self) -> &'static str {
        ID
    }

    fn dataset(&self) -> Dataset {
        Dataset::Weather
    }

    fn step(&self) -> Step {
        Step::HOUR
    }

    fn variables(&self) -> Vec<&'static Variable> {
        pick(Dataset::Weather, &["temperature", "humidity", "wind_speed"])
    }

    fn reach(&self, now: Timestamp) -> TimeRange {
        let history = if self.config.onecall {
            i64::from(self.config.max_history_hours) * 3_600
        } else {
            3_600
        };
        TimeRange {
            start: now.floor(Step::HOUR).plus(-history),
            end: now,
        }
    }

    fn circuit_open(&self) -> bool {
        self.endpoint.circuit_open()
    }

    async fn fetch(
        &self,
        location: &Location,
        range: TimeRange,
        now: Timestamp,
    ) -> Result<Fetched, SourceError> {
        if self.config.api_key.is_none() {
            return Err(no_key());
        }
        let mut fetched = Fetched::default();
        let current_hour = Timestamp::from_epoch(now.epoch() + 1_800).floor(Step::HOUR);
        if range.contains(current_hour) {
            let payload = self.call(&self.config.current_url, location, &[]).await?;
            fetched.rejects.extend(payload.rejects);
            fetched.observations.extend(
                payload
                    .readings
                    .into_iter()
                    .map(|r| r.observation)
                    .filter(|o| range.contains(o.ts)),
            );
        }
        if self.config.onecall {
            let past: Vec<Timestamp> = Grid::new(range, Step::HOUR)
                .iter()
                .filter(|ts| *ts < current_hour)
                .collect();
            let recent = past
                .iter()
                .rev()
                .take(self.config.max_history_hours as usize);
            for hour in recent {
                let dt = [("dt", hour.epoch().to_string())];
                let payload = self
                    .call(&self.config.timemachine_url, location, &dt)
                    .await?;
                fetched.rejects.extend(payload.rejects);
                fetched.observations.extend(
                    payload
                        .readings
                        .into_iter()
                        .map(|r| r.observation)
                        .filter(|o| range.contains(o.ts)),
                );
            }
        }
        fetched.observations.sort_by_key(|o| (o.ts, o.variable));
        fetched.observations.dedup_by_key(|o| (o.ts, o.variable));
        Ok(Fetched::assemble(
            fetched.observations,
            fetched.rejects,
            range,
            Step::HOUR,
            &self.variables(),
        ))
    }
}
