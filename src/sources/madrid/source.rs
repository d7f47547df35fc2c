//! The Madrid traffic source: a location's quarter-hourly traffic from the detectors within its
//! radius. Complete local months come from the monthly history ZIP (downloaded to a temporary
//! file, streamed and aggregated as it is read); the last quarter hour comes from the real-time
//! `pm.xml`. A month whose file the
//! portal does not have yet (it publishes after the month ends) counts as missing, not failed.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::{CityAggregator, history, pm, points};
use crate::domain::series::TRAFFIC;
use crate::domain::{Dataset, Location, Observation, Reject, Step, TimeRange, Timestamp, Variable};
use crate::sources::Limits;
use crate::sources::upstream::{Endpoint, Upstream, UpstreamError};
use crate::sources::{Fetched, Source, SourceError};

pub const ID: &str = "madrid_traffic";

pub const PROVIDER: crate::sources::providers::Provider = crate::sources::providers::Provider {
    section: "madrid_traffic",
    ids: &[ID],
    forecasts: &[],
    secrets: &[],
};

/// Unreadable history rows kept one by one per month; beyond that they are counted.
const MAX_REJECTS: usize = 100;

/// Declared (and checked for completeness): intensity, occupancy, load. Speed (M-30 only),
/// service level (real-time only) and the point count are stored as they come.
const VARIABLES: &[Variable] = TRAFFIC.split_at(3).0;

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Config {
    /// The measurement-point location file (any of its three layouts).
    pub points_url: String,
    /// The real-time snapshot.
    pub pm_url: String,
    /// The monthly history ZIP, with `{month}` (two digits) and `{year}` filled in.
    pub history_url: String,
    pub limits: Limits,
}

pub struct MadridTraffic {
    config: Config,
    endpoint: Endpoint,
    points: Mutex<Option<Arc<points::Points>>>,
    /// The last local months aggregated.
    months: Mutex<Vec<(MonthKey, Arc<Vec<Observation>>)>>,
}

/// (location, year, month) of a local month's aggregate.
type MonthKey = (String, i16, i8);

impl MadridTraffic {
    pub fn new(config: Config, upstream: &Upstream) -> Self {
        let endpoint = upstream.endpoint(ID, &config.limits);
        Self {
            config,
            endpoint,
            points: Mutex::new(None),
            months: Mutex::new(Vec::new()),
        }
    }

    fn url(text: &str) -> Result<reqwest::Url, SourceError> {
        reqwest::Url::parse(text)
            .map_err(|e| SourceError::Refused(format!("bad Madrid traffic URL {text}: {e}")))
    }

    async fn points(&self) -> Result<Arc<points::Points>, SourceError> {
        let mut cached = self.points.lock().await;
        if let Some(points) = cached.as_ref() {
            return Ok(points.clone());
        }
        let body = self
            .endpoint
            .get(&Self::url(&self.config.points_url)?, 1.0)
            .await?;
        let parsed = Arc::new(points::parse(&body)?);
        *cached = Some(parsed.clone());
        Ok(parsed)
    }

    /// Ids and codes of the location's detectors: those it names (a tenant's points), or every
    /// one within its radius.
    async fn within(&self, location: &Location) -> Result<HashSet<String>, SourceError> {
        let points = self.points().await?;
        let named = |p: &points::MeasurementPoint| {
            if location.points.is_empty() {
                p.coordinates.distance_km(location.coordinates) <= location.radius_km
            } else {
                location.points.contains(&p.id)
            }
        };
        let within: HashSet<String> = points
            .points
            .iter()
            .filter(|p| named(p))
            .flat_map(|p| std::iter::once(p.id.clone()).chain(p.code.clone()))
            .collect();
        if within.is_empty() {
            return Err(SourceError::Refused(if location.points.is_empty() {
                format!(
                    "no Madrid measurement point lies within {} km of {}",
                    location.radius_km, location.id
                )
            } else {
                format!(
                    "none of {}'s measurement points ({}) is in the location file any more",
                    location.id,
                    location.points.join(", ")
                )
            }));
        }
        Ok(within)
    }

    /// The location's observations for one local month from its history file, or `None` when
    /// the portal has no file for it (yet), with the file's unreadable rows when it was read now
    /// (the first [`MAX_REJECTS`] and a count of the rest).
    async fn month(
        &self,
        location: &Location,
        within: &HashSet<String>,
        (year, month): (i16, i8),
    ) -> Result<Option<(Arc<Vec<Observation>>, Vec<Reject>)>, SourceError> {
        let key = (location.id.clone(), year, month);
        if let Some((_, hit)) = self.months.lock().await.iter().find(|(k, _)| *k == key) {
            return Ok(Some((hit.clone(), Vec::new())));
        }
        let url = self
            .config
            .history_url
            .replace("{month}", &format!("{month:02}"))
            .replace("{year}", &year.to_string());
        // Downloaded to a temporary file (a month is about 90 MB), then streamed off the
        // runtime's threads: memory stays flat whatever the file's size.
        let file = match self.endpoint.download(&Self::url(&url)?, 1.0).await {
            Ok(file) => file,
            Err(UpstreamError::Status { status: 404, .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let within = within.clone();
        let read = tokio::task::spawn_blocking(move || {
            let mut city = CityAggregator::new(within);
            let (mut rejects, mut more) = (Vec::new(), 0u64);
            history::stream_zip(file, |item| match item {
                Ok(reading) => city.add(&reading),
                Err(reject) if rejects.len() < MAX_REJECTS => rejects.push(reject),
                Err(_) => more += 1,
            })?;
            if more > 0 {
                rejects.push(Reject {
                    record: format!("{month:02}-{year}.csv"),
                    reason: format!("{more} more unreadable rows, not listed one by one"),
                    value: None,
                });
            }
            Ok::<_, SourceError>((city, rejects))
        });
        let (city, rejects) = read
            .await
            .map_err(|e| SourceError::Malformed(format!("reading the history stopped: {e}")))??;
        tracing::debug!(location = %location.id, year, month, used = city.used, invalid = city.invalid, "history month aggregated");
        let observations = Arc::new(city.finish());
        let mut months = self.months.lock().await;
        months.push((key, observations.clone()));
        if months.len() > 3 {
            months.remove(0);
        }
        Ok(Some((observations, rejects)))
    }

    async fn snapshot(
        &self,
        within: &HashSet<String>,
        now: Timestamp,
    ) -> Result<Vec<Observation>, SourceError> {
        let body = self
            .endpoint
            .get(&Self::url(&self.config.pm_url)?, 1.0)
            .await?;
        let snapshot = pm::parse(&body, Some(now))?;
        let mut city = CityAggregator::new(within.clone());
        for reading in &snapshot.readings {
            city.add(reading);
        }
        Ok(city.finish())
    }
}

/// The local (Madrid) months whose instants meet `range`, as (year, month).
fn local_months(range: TimeRange) -> Vec<(i16, i8)> {
    let zone = TimeZone::get(pm::ZONE).unwrap_or(TimeZone::UTC);
    let first = range
        .start
        .to_jiff()
        .to_zoned(zone.clone())
        .date()
        .first_of_month();
    let last = range
        .end
        .plus(-1)
        .to_jiff()
        .to_zoned(zone)
        .date()
        .first_of_month();
    let mut months = Vec::new();
    let mut at = first;
    while at <= last {
        months.push((at.year(), at.month()));
        match at.checked_add(jiff::Span::new().months(1)) {
            Ok(next) => at = next,
            Err(_) => break,
        }
    }
    months
}

#[async_trait]
impl Source for MadridTraffic {
    fn id(&self) -> &'static str {
        ID
    }

    fn dataset(&self) -> Dataset {
        Dataset::Traffic
    }

    fn step(&self) -> Step {
        Step::QUARTER_HOUR
    }

    fn variables(&self) -> Vec<&'static Variable> {
        VARIABLES.iter().collect()
    }

    fn reach(&self, now: Timestamp) -> TimeRange {
        // History files exist for local months that are over (pm.xml's last quarter hour is
        // ingest's); the current month is out of backfill's reach until it ends.
        let zone = TimeZone::get(pm::ZONE).unwrap_or(TimeZone::UTC);
        let month_start = now
            .to_jiff()
            .to_zoned(zone.clone())
            .date()
            .first_of_month()
            .to_zoned(zone)
            .map(|z| Timestamp::from_jiff(z.timestamp()))
            .unwrap_or(now);
        TimeRange {
            start: Timestamp::from_epoch(i64::MIN / 4),
            end: month_start,
        }
    }

    fn circuit_open(&self) -> bool {
        self.endpoint.circuit_open()
    }

    fn reads_points(&self) -> bool {
        true
    }

    async fn measurement_points(
        &self,
    ) -> Option<Result<Vec<(String, String, String, crate::domain::Coordinates)>, SourceError>>
    {
        Some(self.points().await.map(|points| {
            points
                .points
                .iter()
                .map(|p| (p.id.clone(), p.name.clone(), p.kind.clone(), p.coordinates))
                .collect()
        }))
    }

    async fn fetch(
        &self,
        location: &Location,
        range: TimeRange,
        now: Timestamp,
    ) -> Result<Fetched, SourceError> {
        let within = self.within(location).await?;
        let (mut observations, mut rejects) = (Vec::new(), Vec::new());
        for month in local_months(range) {
            if let Some((values, unreadable)) = self.month(location, &within, month).await? {
                observations.extend(values.iter().filter(|o| range.contains(o.ts)).copied());
                rejects.extend(unreadable);
            }
        }
        // The last complete quarter hour, which the real-time snapshot holds.
        let current = now
            .floor(Step::QUARTER_HOUR)
            .plus(-Step::QUARTER_HOUR.seconds());
        let covered = observations.iter().any(|o| o.ts == current);
        if range.contains(current) && !covered {
            observations.extend(
                self.snapshot(&within, now)
                    .await?
                    .into_iter()
                    .filter(|o| range.contains(o.ts)),
            );
        }
        observations.sort_by_key(|o| (o.ts, o.variable));
        Ok(Fetched::assemble(
            observations,
            rejects,
            range,
            Step::QUARTER_HOUR,
            &self.variables(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_ranges_meet_the_local_months_around_them() {
        let range = TimeRange::new(
            Timestamp::from_jiff("2025-10-01T00:00:00Z".parse().unwrap()),
            Timestamp::from_jiff("2025-11-01T00:00:00Z".parse().unwrap()),
        )
        .unwrap();
        // 00:00Z on 1 October is 02:00 local (October); 23:00Z on 31 October is 00:00 local on
        // 1 November.
        assert_eq!(local_months(range), vec![(2025, 10), (2025, 11)]);
    }
}
