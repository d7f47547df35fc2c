//! Locations (cities, sites, stations, …) and the mapping of a point to the location that covers
//! it. A point maps to the nearest enabled location whose coverage radius contains it; a point no
//! location covers is answered as such, with the nearest candidate named, never silently guessed.

use std::collections::BTreeMap;
use std::fmt;

use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::series::Dataset;

/// Mean Earth radius (IUGG), kilometres.
const EARTH_RADIUS_KM: f64 = 6_371.008_8;

/// A validated WGS84 point.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Coordinates {
    pub latitude: f64,
    pub longitude: f64,
}

/// Why coordinates were refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CoordinateError {
    #[error("latitude must be a number between -90 and 90, got {0}")]
    Latitude(f64),
    #[error("longitude must be a number between -180 and 180, got {0}")]
    Longitude(f64),
}

impl Coordinates {
    pub fn new(latitude: f64, longitude: f64) -> Result<Self, CoordinateError> {
        if !(latitude.is_finite() && (-90.0..=90.0).contains(&latitude)) {
            return Err(CoordinateError::Latitude(latitude));
        }
        if !(longitude.is_finite() && (-180.0..=180.0).contains(&longitude)) {
            return Err(CoordinateError::Longitude(longitude));
        }
        Ok(Self {
            latitude,
            longitude,
        })
    }

    /// Great-circle (haversine) distance in kilometres.
    pub fn distance_km(self, other: Coordinates) -> f64 {
        let (lat1, lat2) = (self.latitude.to_radians(), other.latitude.to_radians());
        let dlat = lat2 - lat1;
        let dlon = (other.longitude - self.longitude).to_radians();
        let a = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
    }
}

/// What a location stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocationKind {
    City,
    Site,
    /// An electricity price zone: where price series are stored once for every city in it.
    /// Never the answer for a point.
    PriceZone,
    /// Measurement points some registered tenant uses (traffic only): made by registration,
    /// never declared in config, never the answer for a point.
    Points,
}

/// A place whose series almanac keeps, as declared in config or a sites file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Location {
    pub id: String,
    pub name: String,
    pub country: String,
    pub coordinates: Coordinates,
    /// Its IANA time zone, checked when the location was declared; served by its name.
    #[serde(serialize_with = "zone_name")]
    pub timezone: TimeZone,
    pub radius_km: f64,
    pub kind: LocationKind,
    pub enabled: bool,
    /// Other spellings that name this location in requests ("Seville" for `sevilla`).
    pub aliases: Vec<String>,
    /// AEMET station ids, nearest first (used by the AEMET source).
    pub aemet_stations: Vec<String>,
    /// The price-zone location whose prices apply here.
    pub price_zone: Option<String>,
    /// Its region (ISO 3166-2, `ES-MD`) and municipality (`madrid`) in the holiday calendars.
    pub region: Option<String>,
    pub municipality: Option<String>,
    /// Sources feeding each dataset, in priority order.
    pub sources: BTreeMap<Dataset, Vec<String>>,
    /// Weather forecast sources, in priority order.
    pub forecasts: Vec<String>,
    /// The municipality's INE code, for AEMET's municipal forecast.
    pub aemet_municipality: Option<String>,
    /// Local hours of the day a source is used in (the chocolate factory's hybrid rule): outside
    /// them, reads take the next source in the priority list. A source not named here is used at
    /// every hour.
    pub source_hours: BTreeMap<String, HourWindow>,
    /// The measurement points it reads (a `points` location); empty: every point within its
    /// radius.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub points: Vec<String>,
}

impl Location {
    /// Where it sits in the holiday calendars.
    pub fn place(&self) -> super::calendar::Place<'_> {
        super::calendar::Place {
            country: &self.country,
            region: self.region.as_deref(),
            municipality: self.municipality.as_deref(),
        }
    }

    /// The IANA name of its time zone (`Europe/Madrid`).
    pub fn timezone_name(&self) -> &str {
        self.timezone.iana_name().unwrap_or("UTC")
    }
}

fn zone_name<S: serde::Serializer>(zone: &TimeZone, out: S) -> Result<S::Ok, S::Error> {
    out.serialize_str(zone.iana_name().unwrap_or("UTC"))
}

/// Local hours `[start, end)` of a day; `end < start` wraps past midnight (`20-8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct HourWindow {
    pub start: u8,
    pub end: u8,
}

impl HourWindow {
    /// `"8-20"` or `"08:00-20:00"`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let hour = |part: &str| {
            let part = part.trim();
            let hours = part.strip_suffix(":00").unwrap_or(part);
            hours.parse::<u8>().ok().filter(|h| *h <= 24)
        };
        let (start, end) = text
            .split_once('-')
            .and_then(|(a, b)| Some((hour(a)?, hour(b)?)))
            .ok_or_else(|| format!("`{text}` is not an hour window like 8-20 or 08:00-20:00"))?;
        if start == end || start > 23 {
            return Err(format!("`{text}` is an empty hour window"));
        }
        Ok(Self {
            start,
            end: end % 24,
        })
    }

    pub fn contains(self, hour: u8) -> bool {
        if self.start < self.end {
            (self.start..self.end).contains(&hour)
        } else {
            hour >= self.start || hour < self.end
        }
    }
}

/// A point covered by a location.
#[derive(Clone, Copy, Debug)]
pub struct Mapping<'a> {
    pub location: &'a Location,
    pub distance_km: f64,
}

/// A point no enabled location covers, with the nearest enabled one for the message.
#[derive(Clone, Copy, Debug)]
pub struct NotCovered<'a> {
    pub point: Coordinates,
    pub nearest: Option<Mapping<'a>>,
}

impl fmt::Display for NotCovered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Coordinates {
            latitude,
            longitude,
        } = self.point;
        write!(
            f,
            "no enabled location covers latitude {latitude}, longitude {longitude}"
        )?;
        match self.nearest {
            Some(m) => write!(
                f,
                "; the nearest is {} ({}) at {:.1} km, outside its {} km radius",
                m.location.name, m.location.id, m.distance_km, m.location.radius_km
            ),
            None => write!(f, "; no location is enabled"),
        }
    }
}

/// Every configured location, looked up by id or alias and by point.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    locations: Vec<Location>,
}

impl Registry {
    pub fn new(locations: Vec<Location>) -> Self {
        Self { locations }
    }

    pub fn all(&self) -> &[Location] {
        &self.locations
    }

    pub fn enabled(&self) -> impl Iterator<Item = &Location> {
        self.locations.iter().filter(|l| l.enabled)
    }

    /// The location named `name`: its id or an alias, compared after trimming and lowercasing
    /// ("Madrid", "MADRID" and "madrid" are one city).
    pub fn get(&self, name: &str) -> Option<&Location> {
        let wanted = normalize(name);
        self.locations
            .iter()
            .find(|l| l.id == wanted || l.aliases.iter().any(|a| normalize(a) == wanted))
    }

    /// Enabled cities (the seed's `cities` list: not sites, not price zones).
    pub fn cities(&self) -> impl Iterator<Item = &Location> {
        self.enabled().filter(|l| l.kind == LocationKind::City)
    }

    /// Enabled places a point can map to: cities and sites, not price zones or tenants' points.
    pub fn places(&self) -> impl Iterator<Item = &Location> {
        self.enabled()
            .filter(|l| matches!(l.kind, LocationKind::City | LocationKind::Site))
    }

    /// The nearest enabled place whose radius covers `point`.
    pub fn nearest(&self, point: Coordinates) -> Result<Mapping<'_>, NotCovered<'_>> {
        let mut best_covering: Option<Mapping> = None;
        let mut best_any: Option<Mapping> = None;
        for location in self.places() {
            let distance_km = point.distance_km(location.coordinates);
            let candidate = Mapping {
                location,
                distance_km,
            };
            if best_any.is_none_or(|b| distance_km < b.distance_km) {
                best_any = Some(candidate);
            }
            if distance_km <= location.radius_km
                && best_covering.is_none_or(|b| distance_km < b.distance_km)
            {
                best_covering = Some(candidate);
            }
        }
        best_covering.ok_or(NotCovered {
            point,
            nearest: best_any,
        })
    }
}

/// Location ids are lowercase and trimmed.
pub fn normalize(name: &str) -> String {
    name.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn city(id: &str, lat: f64, lon: f64, radius_km: f64, enabled: bool) -> Location {
        Location {
            id: id.into(),
            name: id.into(),
            country: "ES".into(),
            coordinates: Coordinates::new(lat, lon).unwrap(),
            timezone: TimeZone::get("Europe/Madrid").unwrap(),
            radius_km,
            kind: LocationKind::City,
            enabled,
            aliases: vec!["Seville".into()],
            aemet_stations: vec![],
            region: None,
            municipality: None,
            price_zone: None,
            sources: BTreeMap::new(),
            forecasts: Vec::new(),
            aemet_municipality: None,
            source_hours: BTreeMap::new(),
            points: Vec::new(),
        }
    }

    #[test]
    fn hour_windows_parse_and_wrap_past_midnight() {
        let day = HourWindow::parse("08:00-20:00").unwrap();
        assert!(day.contains(8) && day.contains(19) && !day.contains(20) && !day.contains(3));
        let night = HourWindow::parse("20-8").unwrap();
        assert!(night.contains(23) && night.contains(0) && night.contains(7) && !night.contains(8));
        assert_eq!(
            HourWindow::parse("0-24").unwrap(),
            HourWindow { start: 0, end: 0 }
        );
        assert!(HourWindow::parse("0-24").unwrap().contains(13));
        for bad in ["8", "8-8", "25-3", "a-b"] {
            assert!(HourWindow::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn haversine_matches_a_known_distance() {
        // Madrid Puerta del Sol to Barcelona Plaça de Catalunya: about 505 km.
        let madrid = Coordinates::new(40.4168, -3.7038).unwrap();
        let barcelona = Coordinates::new(41.3851, 2.1734).unwrap();
        let d = madrid.distance_km(barcelona);
        assert!((d - 505.0).abs() < 3.0, "{d}");
        assert_eq!(madrid.distance_km(madrid), 0.0);
    }

    #[test]
    fn out_of_range_coordinates_are_refused() {
        assert_eq!(
            Coordinates::new(91.0, 0.0),
            Err(CoordinateError::Latitude(91.0))
        );
        assert_eq!(
            Coordinates::new(0.0, -180.5),
            Err(CoordinateError::Longitude(-180.5))
        );
        assert!(Coordinates::new(f64::NAN, 0.0).is_err());
        assert!(Coordinates::new(-90.0, 180.0).is_ok());
    }

    #[test]
    fn nearest_covering_enabled_location_wins() {
        let registry = Registry::new(vec![
            city("far", 40.0, -3.0, 200.0, true),
            city("near", 40.42, -3.70, 30.0, true),
            city("disabled", 40.4168, -3.7038, 30.0, false),
        ]);
        let m = registry
            .nearest(Coordinates::new(40.4168, -3.7038).unwrap())
            .unwrap();
        assert_eq!(m.location.id, "near");
        assert!(m.distance_km < 1.0);
    }

    #[test]
    fn uncovered_point_names_the_nearest_candidate() {
        let registry = Registry::new(vec![city("madrid", 40.4168, -3.7038, 30.0, true)]);
        let atlantic = Coordinates::new(40.0, -30.0).unwrap();
        let err = registry.nearest(atlantic).unwrap_err();
        assert_eq!(err.nearest.unwrap().location.id, "madrid");
        assert!(
            err.to_string().contains("outside its 30 km radius"),
            "{err}"
        );
        assert!(
            Registry::default()
                .nearest(atlantic)
                .unwrap_err()
                .nearest
                .is_none()
        );
    }

    #[test]
    fn lookup_by_id_or_alias_ignores_case() {
        let registry = Registry::new(vec![city("sevilla", 37.39, -5.98, 25.0, true)]);
        assert_eq!(registry.get(" SEVILLA ").unwrap().id, "sevilla");
        assert_eq!(registry.get("seville").unwrap().id, "sevilla");
        assert!(registry.get("cadiz").is_none());
    }
}
