//! The locations of the native API: the list, one location with what is stored for each of its
//! datasets, the location a point maps to (and why), and per-variable coverage of a range.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::params::{ApiPath, ApiQuery, coordinates, date_range};
use crate::core::Core;
use crate::domain::{Dataset, Location, TimeRange, Timestamp};
use crate::query::locations::{Coverage, Stored};

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

pub(super) fn find<'a>(core: &'a Core, id: &str) -> Result<&'a Location, ApiError> {
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
        datasets: crate::query::locations::stored(&core, location).await?,
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
        datasets: crate::query::locations::stored(&core, location).await?,
    }))
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
        (Some(start), Some(end)) => date_range(
            start,
            end,
            core.config.http.max_range_days,
            &location.timezone,
        )?,
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
    Ok(Json(
        crate::query::locations::coverage(&core, location, range).await?,
    ))
}

/// `GET /api/v1/locations/{id}/calendar[?start&end]`: each local day with its weekday, weekend,
/// the holiday that holds there (national, regional or local, with its source), the school
/// holiday it falls in and whether the calendars know that year; by default every day of the
/// years they hold.
pub async fn calendar(
    State(core): State<Core>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<RangeQuery>,
) -> Result<axum::response::Response, ApiError> {
    let location = find(&core, &id)?;
    let zone = &location.timezone;
    let range = match (query.start.as_deref(), query.end.as_deref()) {
        (Some(start), Some(end)) => {
            let r = date_range(start, end, core.config.http.max_range_days, zone)?;
            let date = |ts: Timestamp| ts.to_jiff().to_zoned(zone.clone()).date();
            Some((date(r.start), date(r.end.plus(-1))))
        }
        (None, None) => None,
        _ => {
            return Err(ApiError::bad_request(
                "missing_parameter",
                "give both `start` and `end`, or neither (every day of the calendars' years)",
            ));
        }
    };
    let answer = crate::query::calendar::days(&core, location, range)?;
    Ok(axum::response::IntoResponse::into_response(Json(answer)))
}
