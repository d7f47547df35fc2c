//! Open-Meteo: hourly weather for any point, from the historical archive (ERA5 reanalysis,
//! about five days late) and, for the most recent days, the forecast API. Requests ask for
//! GMT and m/s, so the parse needs no time-zone conversion beyond the echoed fixed offset.

mod forecast;
mod parse;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use forecast::{FORECAST_ID, OpenMeteoForecast};
pub use parse::{Parsed, error_reason, parse};

use crate::domain::series::WEATHER_HOURLY;
use crate::domain::{Dataset, Location, Step, TimeRange, Timestamp, Variable};
use crate::secret::Secret;
use crate::sources::Limits;
use crate::sources::upstream::{Endpoint, Upstream, UpstreamError};
use crate::sources::{Fetched, Source, SourceError};

pub const ID: &str = "open_meteo";

pub const PROVIDER: super::providers::Provider = super::providers::Provider {
    section: "open_meteo",
    ids: &[ID],
    forecasts: &[FORECAST_ID],
    secrets: &["api_key"],
};

/// The hourly variables requested, by their Open-Meteo names, in request order.
const REQUESTED: &str = "temperature_2m,precipitation,relative_humidity_2m,wind_speed_10m,wind_direction_10m,surface_pressure,weather_code";

/// The canonical variables those become, in the same order.
const VARIABLES: &[Variable] = WEATHER_HOURLY;

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Config {
    pub archive_url: String,
    pub forecast_url: String,
    /// Days before today that the archive does not have yet; those come from the forecast API.
    pub archive_lag_days: u32,
    /// Days ahead the `open_meteo_forecast` source asks for (1..=16).
    pub forecast_days: u32,
    /// The commercial key (`apikey=`), for the `customer-` hosts only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<Secret>,
    pub limits: Limits,
}

pub struct OpenMeteo {
    config: Config,
    endpoint: Endpoint,
}

impl OpenMeteo {
    pub fn new(config: Config, upstream: &Upstream) -> Self {
        let endpoint = upstream.endpoint(ID, &config.limits);
        Self { config, endpoint }
    }

    /// The archive part and the forecast part of `range`, cut where the archive ends.
    fn split(&self, range: TimeRange, now: Timestamp) -> [(Option<TimeRange>, &str); 2] {
        let horizon = now
            .floor(Step::DAY)
            .plus(-i64::from(self.config.archive_lag_days) * Step::DAY.seconds());
        let archive = TimeRange::new(Timestamp::from_epoch(i64::MIN / 4), horizon)
            .and_then(|r| r.intersect(range));
        let forecast = TimeRange::new(horizon, Timestamp::from_epoch(i64::MAX / 4))
            .and_then(|r| r.intersect(range));
        [
            (archive, &self.config.archive_url),
            (forecast, &self.config.forecast_url),
        ]
    }

    /// The request for `location`'s hourly variables over `part` (UTC days, both ends included).
    fn url(
        &self,
        base: &str,
        location: &Location,
        part: TimeRange,
    ) -> Result<reqwest::Url, SourceError> {
        let last_day = part.end.plus(-1).utc_date();
        self.request(
            base,
            location,
            &[
                ("start_date", part.start.utc_date().to_string()),
                ("end_date", last_day.to_string()),
            ],
        )
    }

    /// A request for `location`'s hourly variables, in GMT and m/s, with the `span` parameters
    /// (dates, or `forecast_days`).
    fn request(
        &self,
        base: &str,
        location: &Location,
        span: &[(&str, String)],
    ) -> Result<reqwest::Url, SourceError> {
        let mut url = reqwest::Url::parse(base)
            .map_err(|e| SourceError::Refused(format!("bad Open-Meteo URL {base}: {e}")))?;
        url.query_pairs_mut()
            .append_pair("latitude", &location.coordinates.latitude.to_string())
            .append_pair("longitude", &location.coordinates.longitude.to_string())
            .append_pair("hourly", REQUESTED);
        for (name, value) in span {
            url.query_pairs_mut().append_pair(name, value);
        }
        url.query_pairs_mut()
            .append_pair("timezone", "GMT")
            .append_pair("wind_speed_unit", "ms");
        if let Some(key) = &self.config.api_key {
            url.query_pairs_mut().append_pair("apikey", key.expose());
        }
        Ok(url)
    }

    async fn fetch_part(
        &self,
        base: &str,
        location: &Location,
        part: TimeRange,
    ) -> Result<Fetched, SourceError> {
        let url = self.url(base, location, part)?;
        let days = (part.end.ceil(Step::DAY).epoch() - part.start.floor(Step::DAY).epoch())
            / Step::DAY.seconds();
        let body = self.get(&url, days).await?;
        let parsed = parse(&body, part)?;
        Ok(Fetched::assemble(
            parsed.hourly,
            parsed.rejects,
            part,
            Step::HOUR,
            &self.variables(),
        ))
    }
}

impl OpenMeteo {
    /// One request of `days` days, Open-Meteo's refusals read from its error body.
    async fn get(&self, url: &reqwest::Url, days: i64) -> Result<bytes::Bytes, SourceError> {
        self.endpoint
            .get(url, call_weight(VARIABLES.len(), days))
            .await
            .map_err(|e| match e {
                UpstreamError::Status { status, body } if status < 500 => match error_reason(&body)
                {
                    Some(reason) => SourceError::Refused(reason),
                    None => SourceError::Upstream(UpstreamError::Status { status, body }),
                },
                other => SourceError::Upstream(other),
            })
    }
}

/// Open-Meteo's weight of one request: `max(1, v/10 · max(1, d/14))` for `v` variables over `d`
/// days (its `calculateQueryWeight`), so a year of six variables costs about 15.6 calls.
pub fn call_weight(variables: usize, days: i64) -> f64 {
    let v = variables as f64 / 10.0;
    let d = days.max(1) as f64 / 14.0;
    (v * d.max(1.0)).max(1.0)
}

#[async_trait]
impl Source for OpenMeteo {
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
        VARIABLES.iter().collect()
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
        let mut fetched = Fetched::default();
        for (part, base) in self.split(range, now) {
            let Some(part) = part else { continue };
            let mut piece = self.fetch_part(base, location, part).await?;
            fetched.observations.append(&mut piece.observations);
            fetched.rejects.append(&mut piece.rejects);
            fetched.missing += piece.missing;
        }
        Ok(fetched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_weight_follows_open_meteo() {
        assert_eq!(call_weight(6, 1), 1.0);
        assert!((call_weight(6, 31) - 1.328_571).abs() < 1e-5);
        assert!((call_weight(6, 365) - 15.642_857).abs() < 1e-5);
        assert_eq!(call_weight(20, 7), 2.0);
    }
}
