//! The locations of the native API: the list, one location with what is stored for each of its
//! datasets, the location a point maps to (and why), and per-variable coverage of a range.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::params::{ApiPath, ApiQuery, coordinates, date_range};
use crate::core::Core;
use crate::domain::{Dataset, Grid, Location, TimeRange, Timestamp};

/// `GET /api/v1/locations`: every enabled location (cities, sites and price zones).
pub async fn list(State(core): State<Core>) -> Json<Vec<Location>> {
    Json(core.registry.enabled().cloned().collect())
}

#[derive(Serialize)]
pub struct Detail {
    #[serde(flatten)]
    location: Location,
    /// What is stored per dataset.
    datasets: BTreeMap<Dataset, Stored>,
}

#[derive(Serialize)]
pub struct Stored {
    series: usize,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    /// Distinct instants holding at least one value.
    instants: u64,
}

fn find<'a>(core: &'a Core, id: &str) -> Result<&'a Location, ApiError> {
    core.registry.get(id).filter(|l| l.enabled).ok_or_else(|| {
        ApiError::not_found("unknown_location", format!("no enabled location `{id}`"))
    })
}

/// `GET /api/v1/locations/{id}`: one location (by id or alias) and what is stored for it.
pub async fn one(
    State(core): State<Core>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Detail>, ApiError> {
    let location = find(&core, &id)?;
    Ok(Json(Detail {
        location: location.clone(),
        datasets: stored(&core, location).await?,
    }))
}

#[derive(Serialize)]
pub struct Availability {
    location: String,
    datasets: BTreeMap<Dataset, Stored>,
}

/// `GET /api/v1/locations/{id}/availability`: per dataset, the series, first and last stored
/// instants and how many instants hold a value.
pub async fn availability(
    State(core): State<Core>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Availability>, ApiError> {
    let location = find(&core, &id)?;
    Ok(Json(Availability {
        location: location.id.clone(),
        datasets: stored(&core, location).await?,
    }))
}

async fn stored(core: &Core, location: &Location) -> Result<BTreeMap<Dataset, Stored>, ApiError> {
    let mut datasets = BTreeMap::new();
    for &dataset in Dataset::ALL {
        let series = core.store.series(&location.id, dataset).await?;
        if series.is_empty() {
            continue;
        }
        let ids: Vec<i64> = series.iter().map(|s| s.id).collect();
        let extent = crate::query::extent_of(core, &location.id, dataset, &ids).await?;
        datasets.insert(
            dataset,
            Stored {
                series: series.len(),
                first: extent.first,
                last: extent.last,
                instants: extent.instants,
            },
        );
    }
    Ok(datasets)
}

#[derive(Deserialize)]
pub struct PointQuery {
    lat: Option<String>,
    lon: Option<String>,
    latitude: Option<String>,
    longitude: Option<String>,
}

#[derive(Serialize)]
pub struct Nearest {
    location: Location,
    distance_km: f64,
    /// Whether the location's radius covers the point; data endpoints answer only then.
    covered: bool,
    /// `within_radius` or `nearest_outside_radius`.
    reason: &'static str,
    detail: String,
}

/// `GET /api/v1/locations/nearest?lat&lon` (or `latitude&longitude`): the location a point maps
/// to, its distance and why; when no radius covers the point, the nearest place, marked so.
pub async fn nearest(
    State(core): State<Core>,
    ApiQuery(query): ApiQuery<PointQuery>,
) -> Result<Json<Nearest>, ApiError> {
    let (Some(lat), Some(lon)) = (query.lat.or(query.latitude), query.lon.or(query.longitude))
    else {
        return Err(ApiError::bad_request(
            "missing_parameter",
            "give the point as `lat` and `lon` (or `latitude` and `longitude`)",
        ));
    };
    let point = coordinates(&lat, &lon)?;
    let (mapping, covered) = match core.registry.nearest(point) {
        Ok(mapping) => (mapping, true),
        Err(not_covered) => match not_covered.nearest {
            Some(mapping) => (mapping, false),
            None => {
                return Err(ApiError::not_found(
                    "location_not_covered",
                    not_covered.to_string(),
                ));
            }
        },
    };
    let l = mapping.location;
    let (reason, detail) = if covered {
        (
            "within_radius",
            format!(
                "{:.1} km from {} ({}), within its {} km radius",
                mapping.distance_km, l.name, l.id, l.radius_km
            ),
        )
    } else {
        (
            "nearest_outside_radius",
            format!(
                "no enabled location covers the point; {} ({}) is the nearest, {:.1} km away, outside its {} km radius",
                l.name, l.id, mapping.distance_km, l.radius_km
            ),
        )
    };
    Ok(Json(Nearest {
        location: l.clone(),
        distance_km: (mapping.distance_km * 1000.0).round() / 1000.0,
        covered,
        reason,
        detail,
    }))
}

#[derive(Deserialize)]
pub struct RangeQuery {
    start: Option<String>,
    end: Option<String>,
}

#[derive(Serialize)]
pub struct Coverage {
    location: String,
    start: Timestamp,
    end: Timestamp,
    datasets: BTreeMap<Dataset, Vec<VariableCoverage>>,
}

#[derive(Serialize)]
pub struct VariableCoverage {
    variable: String,
    source: String,
    step_seconds: i64,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    /// Instants of the series' grid in the range.
    expected: u64,
    present: u64,
    /// `present / expected`, 0–1 (null when nothing is expected).
    completeness: Option<f64>,
}

/// `GET /api/v1/locations/{id}/coverage[?start&end]`: per dataset, variable and source, the first
/// and last stored instants and how much of the range's grid is present (default: the `init`
/// window up to now).
pub async fn coverage(
    State(core): State<Core>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<RangeQuery>,
) -> Result<Json<Coverage>, ApiError> {
    let location = find(&core, &id)?;
    let range = match (query.start.as_deref(), query.end.as_deref()) {
        (Some(start), Some(end)) => date_range(start, end, core.config.http.max_range_days)?,
        (None, None) => {
            let now = Timestamp::now();
            TimeRange {
                start: now.months_before(core.config.init.months),
                end: now,
            }
        }
        _ => {
            return Err(ApiError::bad_request(
                "missing_parameter",
                "give both `start` and `end`, or neither (the init window)",
            ));
        }
    };
    let mut datasets: BTreeMap<Dataset, Vec<VariableCoverage>> = BTreeMap::new();
    for &dataset in Dataset::ALL {
        for series in core.store.series(&location.id, dataset).await? {
            let grid = Grid::new(
                TimeRange {
                    start: range.start.ceil(series.step),
                    end: range.end,
                },
                series.step,
            );
            let extent =
                crate::query::extent_of(&core, &location.id, dataset, &[series.id]).await?;
            let present = core.store.count_present(series.id, range).await?;
            let expected = grid.len();
            datasets.entry(dataset).or_default().push(VariableCoverage {
                variable: series.variable,
                source: series.source,
                step_seconds: series.step.seconds(),
                first: extent.first,
                last: extent.last,
                expected,
                present,
                completeness: (expected > 0)
                    .then(|| (present as f64 / expected as f64 * 10_000.0).round() / 10_000.0),
            });
        }
    }
    Ok(Json(Coverage {
        location: location.id.clone(),
        start: range.start,
        end: range.end,
        datasets,
    }))
}
