//! The AEMET sources: `aemet` (daily climatological values, the history) and `aemet_obs` (hourly
//! conventional observations, the last 24 hours). Both walk AEMET's two steps — the envelope,
//! then its `datos` URL — with the key in the `api_key` header, read the status from the HTTP
//! code, the `aemet_estado` header and the body's `estado` (a refusal found in any is retried or
//! reported like an HTTP one), and log the `Remaining-request-count` AEMET returns.
//!
//! `aemet_forecast` is AEMET's municipal hourly forecast (`prediccion/especifica/municipio/
//! horaria/{INE}`, two days ahead) of the location's `aemet_municipality`, issued at its
//! `elaborado`.
//!
//! A location names its stations nearest first (`aemet_stations`). Each value comes from the
//! first station that has it; a value from a later station is flagged `filled_from_secondary`.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::parse;
use crate::domain::{Dataset, Flag, Location, Observation, Step, TimeRange, Timestamp, Variable};
use crate::secret::Secret;
use crate::sources::Limits;
use crate::sources::upstream::{Answer, Endpoint, Upstream, UpstreamError};
use crate::sources::{Fetched, Payload, Source, SourceError, pick};

pub const DAILY_ID: &str = "aemet";
pub const HOURLY_ID: &str = "aemet_obs";
pub const FORECAST_ID: &str = "aemet_forecast";

pub const PROVIDER: crate::sources::providers::Provider = crate::sources::providers::Provider {
    section: "aemet",
    ids: &[DAILY_ID, HOURLY_ID],
    forecasts: &[FORECAST_ID],
    secrets: &["api_key"],
};

/// Days AEMET's daily climatological values come after the day.
const PUBLICATION_DELAY_DAYS: i64 = 4;

/// How far back the observation endpoint reaches.
const OBSERVATION_HOURS: i64 = 24;

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Config {
    /// `https://opendata.aemet.es/opendata/api`.
    pub base_url: String,
    /// From `ALMANAC__SOURCES__AEMET__API_KEY` or `api_key_file`, never from the file itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<Secret>,
    pub limits: Limits,
}

/// The shared request path of both AEMET sources.
pub struct Client {
    config: Config,
    endpoint: Endpoint,
}

impl Client {
    pub fn new(config: Config, upstream: &Upstream) -> Arc<Self> {
        let endpoint = upstream.endpoint(DAILY_ID, &config.limits);
        Arc::new(Self { config, endpoint })
    }

    /// Both steps for one API path: the envelope, then the `datos` body.
    async fn datos(&self, path: &str) -> Result<bytes::Bytes, SourceError> {
        let key = self.config.api_key.as_ref().ok_or_else(|| {
            SourceError::Refused(
                "no AEMET key: set ALMANAC__SOURCES__AEMET__API_KEY or sources.aemet.api_key_file"
                    .into(),
            )
        })?;
        let url = format!("{}{path}", self.config.base_url.trim_end_matches('/'));
        let url = reqwest::Url::parse(&url)
            .map_err(|e| SourceError::Refused(format!("bad AEMET URL: {e}")))?;
        let headers = [("api_key", key.expose()), ("accept", "application/json")];
        let answer = self
            .endpoint
            .get_with(&url, 1.0, &headers, &retryable_in_body)
            .await
            .map_err(|e| match e {
                UpstreamError::Status { status, body } if status < 500 => {
                    match parse::envelope(status, None, body.as_bytes()) {
                        Err(reason @ (SourceError::NoData(_) | SourceError::Refused(_))) => reason,
                        _ => SourceError::Upstream(UpstreamError::Status { status, body }),
                    }
                }
                other => SourceError::Upstream(other),
            })?;
        if let Some(remaining) = answer.headers.get("remaining-request-count") {
            tracing::debug!(remaining = ?remaining, "AEMET quota");
        }
        let envelope = envelope_check(&answer)?;
        let datos = reqwest::Url::parse(&envelope.datos)
            .map_err(|e| SourceError::Malformed(format!("`datos` is not a URL: {e}")))?;
        Ok(self
            .endpoint
            .get_with(&datos, 1.0, &headers, &|_| Ok(()))
            .await?
            .body)
    }
}

/// The envelope of a 2xx answer, with the refusals AEMET puts in its header or body surfaced as
/// the upstream errors they stand for.
fn envelope_check(answer: &Answer) -> Result<parse::Envelope, SourceError> {
    let header = answer
        .headers
        .get("aemet_estado")
        .and_then(|v| v.to_str().ok());
    parse::envelope(200, header, &answer.body)
}

/// A 2xx answer whose header or body says 429 or 5xx fails the attempt, to be retried; other
/// refusals (no data, bad key) are read from the envelope afterwards.
fn retryable_in_body(answer: &Answer) -> Result<(), UpstreamError> {
    match envelope_check(answer) {
        Err(SourceError::Upstream(error)) => Err(error),
        _ => Ok(()),
    }
}

/// Keeps, for every (variable, instant), the value of the first station that has one, flagging
/// values from later stations as filled from a secondary source.
fn merge_stations(
    stations: &[String],
    payloads: Vec<Payload>,
    range: TimeRange,
) -> (Vec<Observation>, Vec<crate::domain::Reject>) {
    let mut chosen: std::collections::BTreeMap<(Timestamp, &'static str), Observation> =
        std::collections::BTreeMap::new();
    let mut rejects = Vec::new();
    for (rank, payload) in payloads.into_iter().enumerate() {
        rejects.extend(payload.rejects);
        for reading in payload.readings {
            let from_station = reading.origin.as_ref() == stations.get(rank);
            let o = reading.observation;
            if !from_station || !range.contains(o.ts) {
                continue;
            }
            chosen.entry((o.ts, o.variable)).or_insert(Observation {
                flag: if rank == 0 || o.flag != Flag::Observed {
                    o.flag
                } else {
                    Flag::FilledFromSecondary
                },
                ..o
            });
        }
    }
    (chosen.into_values().collect(), rejects)
}

fn stations(location: &Location) -> Result<&[String], SourceError> {
    if location.aemet_stations.is_empty() {
        return Err(SourceError::Refused(format!(
            "{} names no AEMET station (aemet_stations)",
            location.id
        )));
    }
    Ok(&location.aemet_stations)
}

/// Daily climatological values.
pub struct AemetDaily(pub Arc<Client>);

#[async_trait]
impl Source for AemetDaily {
    fn id(&self) -> &'static str {
        DAILY_ID
    }

    fn dataset(&self) -> Dataset {
        Dataset::Weather
    }

    fn step(&self) -> Step {
        Step::DAY
    }

    fn circuit_open(&self) -> bool {
        self.0.endpoint.circuit_open()
    }

    fn reach(&self, now: Timestamp) -> TimeRange {
        // Daily values are published about four days late.
        TimeRange {
            start: Timestamp::from_epoch(i64::MIN / 4),
            end: now.floor(Step::DAY).plus(-PUBLICATION_DELAY_DAYS * 86_400),
        }
    }

    fn variables(&self) -> Vec<&'static Variable> {
        pick(
            Dataset::Weather,
            &[
                "temperature_mean",
                "temperature_max",
                "temperature_min",
                "precipitation_day_07utc",
            ],
        )
    }

    async fn fetch(
        &self,
        location: &Location,
        range: TimeRange,
        _now: Timestamp,
    ) -> Result<Fetched, SourceError> {
        let stations = stations(location)?;
        let last = range.end.plus(-1);
        let mut payloads = Vec::new();
        for station in stations {
            let path = format!(
                "/valores/climatologicos/diarios/datos/fechaini/{}T00:00:00UTC/fechafin/{}T23:59:59UTC/estacion/{station}",
                range.start.utc_date(),
                last.utc_date()
            );
            match self.0.datos(&path).await {
                Ok(body) => payloads.push(parse::daily(&body)?),
                // A station without data for the range: the next one may have it.
                Err(SourceError::NoData(_)) => payloads.push(Payload::new(Dataset::Weather)),
                Err(e) => return Err(e),
            }
        }
        let (observations, rejects) = merge_stations(stations, payloads, range);
        Ok(Fetched::assemble(
            observations,
            rejects,
            range,
            Step::DAY,
            &self.variables(),
        ))
    }
}

/// Hourly conventional observations (the last 24 hours only).
pub struct AemetHourly(pub Arc<Client>);

#[async_trait]
impl Source for AemetHourly {
    fn id(&self) -> &'static str {
        HOURLY_ID
    }

    fn dataset(&self) -> Dataset {
        Dataset::Weather
    }

    fn step(&self) -> Step {
        Step::HOUR
    }

    fn circuit_open(&self) -> bool {
        self.0.endpoint.circuit_open()
    }

    fn variables(&self) -> Vec<&'static Variable> {
        pick(
            Dataset::Weather,
            &["temperature", "precipitation", "humidity", "pressure"],
        )
    }

    fn reach(&self, now: Timestamp) -> TimeRange {
        TimeRange {
            start: now.plus(-OBSERVATION_HOURS * 3_600).ceil(Step::HOUR),
            end: now,
        }
    }

    async fn fetch(
        &self,
        location: &Location,
        range: TimeRange,
        now: Timestamp,
    ) -> Result<Fetched, SourceError> {
        let stations = stations(location)?;
        let reach = TimeRange::new(now.plus(-OBSERVATION_HOURS * 3_600).ceil(Step::HOUR), now)
            .and_then(|r| r.intersect(range));
        let Some(reach) = reach.filter(|r| !r.is_empty()) else {
            // Older than the endpoint's 24 hours: nothing to ask for.
            return Ok(Fetched::assemble(
                Vec::new(),
                Vec::new(),
                range,
                Step::HOUR,
                &self.variables(),
            ));
        };
        let mut payloads = Vec::new();
        for station in stations {
            let path = format!("/observacion/convencional/datos/estacion/{station}");
            match self.0.datos(&path).await {
                Ok(body) => payloads.push(parse::observations(&body)?),
                Err(SourceError::NoData(_)) => payloads.push(Payload::new(Dataset::Weather)),
                Err(e) => return Err(e),
            }
        }
        let (observations, rejects) = merge_stations(stations, payloads, reach);
        Ok(Fetched::assemble(
            observations,
            rejects,
            range,
            Step::HOUR,
            &self.variables(),
        ))
    }
}

/// AEMET's municipal hourly forecast for the location's `aemet_municipality`.
pub struct AemetForecast(pub Arc<Client>);

#[async_trait]
impl crate::sources::forecast::ForecastSource for AemetForecast {
    fn id(&self) -> &'static str {
        FORECAST_ID
    }

    fn step(&self) -> Step {
        Step::HOUR
    }

    fn variables(&self) -> Vec<&'static Variable> {
        pick(
            Dataset::Weather,
            &[
                "temperature",
                "precipitation",
                "humidity",
                "wind_speed",
                "wind_direction",
            ],
        )
    }

    fn horizon_hours(&self) -> u32 {
        72
    }

    fn circuit_open(&self) -> bool {
        self.0.endpoint.circuit_open()
    }

    async fn forecast(
        &self,
        location: &Location,
        _now: Timestamp,
    ) -> Result<crate::sources::forecast::Issue, SourceError> {
        let code = location.aemet_municipality.as_deref().ok_or_else(|| {
            SourceError::Refused(format!(
                "{} names no aemet_municipality (its INE code) for AEMET's forecast",
                location.id
            ))
        })?;
        let path = format!("/prediccion/especifica/municipio/horaria/{code}");
        let body = self.0.datos(&path).await?;
        let issued = super::forecast::hourly(&body, &location.timezone)?;
        Ok(crate::sources::forecast::Issue {
            issued: issued.issued,
            values: issued
                .payload
                .readings
                .into_iter()
                .map(|r| r.observation)
                .collect(),
            rejects: issued.payload.rejects,
        })
    }
}
