//! ESIOS, Red Eléctrica's system-operator API, as a second price source when a token is
//! configured: indicator 1001 (PVPC) for the zone's geography and 600 (spot) for Spain, from
//! `/indicators/{id}` with the `x-api-key` header. Values are read by their offset-bearing
//! `datetime` (ESIOS's `datetime_utc` is wrong on the autumn day; see `parse.rs`).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{ZONES, parse};
use crate::domain::{Dataset, Location, Step, TimeRange, Timestamp, Variable};
use crate::secret::Secret;
use crate::sources::Limits;
use crate::sources::upstream::{Endpoint, Upstream, UpstreamError};
use crate::sources::{Fetched, Source, SourceError, pick};

pub const ID: &str = "esios";

pub const PROVIDER: crate::sources::providers::Provider = crate::sources::providers::Provider {
    section: "esios",
    ids: &[ID],
    forecasts: &[],
    secrets: &["token"],
};

/// ESIOS's geography for the spot price of every Spanish zone (indicator 600 is per country).
const SPAIN: u32 = 3;

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Config {
    /// `https://api.esios.ree.es`.
    pub base_url: String,
    /// From `ALMANAC__SOURCES__ESIOS__TOKEN` or `token_file`, never from the file itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    pub limits: Limits,
}

pub struct Esios {
    config: Config,
    endpoint: Endpoint,
}

impl Esios {
    pub fn new(config: Config, upstream: &Upstream) -> Self {
        let endpoint = upstream.endpoint(ID, &config.limits);
        Self { config, endpoint }
    }

    async fn indicator(
        &self,
        id: u32,
        geo: u32,
        range: TimeRange,
    ) -> Result<crate::sources::Payload, SourceError> {
        let token = self.config.token.as_ref().ok_or_else(no_token)?;
        let base = format!(
            "{}/indicators/{id}",
            self.config.base_url.trim_end_matches('/')
        );
        let mut url = reqwest::Url::parse(&base)
            .map_err(|e| SourceError::Refused(format!("bad ESIOS URL: {e}")))?;
        let utc = |ts: Timestamp| ts.to_jiff().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        url.query_pairs_mut()
            .append_pair("start_date", &utc(range.start))
            .append_pair("end_date", &utc(range.end.plus(-1)))
            .append_pair("geo_ids[]", &geo.to_string());
        let headers = [
            ("x-api-key", token.expose()),
            (
                "accept",
                "application/json; application/vnd.esios-api-v1+json",
            ),
        ];
        let answer = self
            .endpoint
            .get_with(&url, 1.0, &headers, &|_| Ok(()))
            .await
            .map_err(|e| match e {
                UpstreamError::Status {
                    status: 401 | 403,
                    body,
                } => SourceError::Refused(format!("ESIOS token refused: {body}")),
                other => SourceError::Upstream(other),
            })?;
        parse::esios_indicator(&answer.body)
    }
}

fn no_token() -> SourceError {
    SourceError::Refused(
        "no ESIOS token: set ALMANAC__SOURCES__ESIOS__TOKEN or sources.esios.token_file".into(),
    )
}

#[async_trait]
impl Source for Esios {
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
        pick(Dataset::EnergyPrice, &["pvpc", "spot"])
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
        if self.config.token.is_none() {
            return Err(no_token());
        }
        let Some(&(_, _, geo)) = ZONES.iter().find(|(id, ..)| *id == location.id) else {
            return Err(SourceError::Refused(format!(
                "ESIOS serves price zones, not `{}`",
                location.id
            )));
        };
        let mut fetched = Fetched::default();
        for (indicator, geo) in [(1001, geo), (600, SPAIN)] {
            let payload = self.indicator(indicator, geo, range).await?;
            let wanted = geo.to_string();
            fetched.rejects.extend(payload.rejects);
            fetched.observations.extend(
                payload
                    .readings
                    .into_iter()
                    .filter(|r| r.origin.as_deref() == Some(wanted.as_str()))
                    .map(|r| r.observation)
                    .filter(|o| range.contains(o.ts)),
            );
        }
        fetched.observations.sort_by_key(|o| (o.ts, o.variable));
        Ok(Fetched::assemble(
            fetched.observations,
            fetched.rejects,
            range,
            Step::HOUR,
            &self.variables(),
        ))
    }
}
