//! Red Eléctrica: electricity prices of a price zone from apidatos (no key): PVPC (indicator
//! 1001) and the day-ahead spot price (600), hourly (`time_trunc=hour`). The locations it serves
//! are price zones (`kind = "price_zone"`), named by the ids in [`ZONES`]; cities point to their
//! zone with `price_zone`.

pub mod esios;
pub mod parse;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::series::ENERGY_PRICE;
use crate::domain::{Dataset, Location, Step, TimeRange, Timestamp, Variable};
use crate::sources::Limits;
use crate::sources::upstream::{Endpoint, Upstream, UpstreamError};
use crate::sources::{Fetched, Source, SourceError};

pub const ID: &str = "ree";

pub const PROVIDER: super::providers::Provider = super::providers::Provider {
    section: "ree",
    ids: &[ID],
    forecasts: &[],
    secrets: &[],
};

/// Price-zone location ids → apidatos `geo_limit` (and the ESIOS `geo_id` of the same zone).
pub const ZONES: &[(&str, &str, u32)] = &[
    ("es_peninsular", "peninsular", 8741),
    ("es_canarias", "canarias", 8742),
    ("es_baleares", "baleares", 8743),
    ("es_ceuta", "ceuta", 8744),
    ("es_melilla", "melilla", 8745),
];

/// The hourly prices requested: PVPC and spot (`ENERGY_PRICE[0..2]`).
const VARIABLES: &[Variable] = ENERGY_PRICE.split_at(2).0;

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Config {
    /// `…/datos/mercados/precios-mercados-tiempo-real`.
    pub apidatos_url: String,
    pub limits: Limits,
}

pub struct Ree {
    config: Config,
    endpoint: Endpoint,
}

impl Ree {
    pub fn new(config: Config, upstream: &Upstream) -> Self {
        let endpoint = upstream.endpoint(ID, &config.limits);
        Self { config, endpoint }
    }

    fn url(&self, geo_limit: &str, range: TimeRange) -> Result<reqwest::Url, SourceError> {
        let base = &self.config.apidatos_url;
        let mut url = reqwest::Url::parse(base)
            .map_err(|e| SourceError::Refused(format!("bad REE URL {base}: {e}")))?;
        // apidatos reads dates as Madrid local time; the last minute of the range ends it.
        let local = |ts: Timestamp| {
            jiff::tz::TimeZone::get(parse::ZONE)
                .map(|tz| {
                    ts.to_jiff()
                        .to_zoned(tz)
                        .strftime("%Y-%m-%dT%H:%M")
                        .to_string()
                })
                .map_err(|e| SourceError::Refused(format!("time zone {}: {e}", parse::ZONE)))
        };
        url.query_pairs_mut()
            .append_pair("start_date", &local(range.start)?)
            .append_pair("end_date", &local(range.end.plus(-60))?)
            .append_pair("time_trunc", "hour")
            .append_pair("geo_trunc", "electric_system")
            .append_pair("geo_limit", geo_limit);
        Ok(url)
    }
}

#[async_trait]
impl Source for Ree {
    fn id(&self) -> &'static str {
        ID
    }

    fn dataset(&self) -> Dataset {
        Dataset::EnergyPrice
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
        _now: Timestamp,
    ) -> Result<Fetched, SourceError> {
        let Some(&(_, geo_limit, _)) = ZONES.iter().find(|(id, ..)| *id == location.id) else {
            let known: Vec<_> = ZONES.iter().map(|(id, ..)| *id).collect();
            return Err(SourceError::Refused(format!(
                "REE serves price zones ({}), not `{}`",
                known.join(", "),
                location.id
            )));
        };
        let url = self.url(geo_limit, range)?;
        let body = self.endpoint.get(&url, 1.0).await.map_err(|e| match e {
            UpstreamError::Status { status, body } if status < 500 => {
                match parse::apidatos(body.as_bytes()) {
                    Err(refused @ SourceError::Refused(_)) => refused,
                    _ => SourceError::Upstream(UpstreamError::Status { status, body }),
                }
            }
            other => SourceError::Upstream(other),
        })?;
        let payload = parse::apidatos(&body)?;
        let observations: Vec<_> = payload
            .readings
            .into_iter()
            .map(|r| r.observation)
            .filter(|o| range.contains(o.ts))
            .collect();
        Ok(Fetched::assemble(
            observations,
            payload.rejects,
            range,
            Step::HOUR,
            &self.variables(),
        ))
    }
}
