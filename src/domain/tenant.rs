//! Tenants (the bakery seed's "automatic location context"): a tenant's point, the city covering
//! it and the measurement points nearest it within a radius. Tenants whose nearest points are
//! the same share one location of kind `points` (`madrid-points-<hash>`), so each set of points
//! is fetched and stored once however many tenants use it.

use serde::{Deserialize, Serialize};

use super::{Coordinates, Dataset, Location, LocationKind, Timestamp};

/// A measurement point near a tenant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NearPoint {
    pub id: String,
    pub name: String,
    /// `urban`, `m30`.
    pub kind: String,
    pub latitude: f64,
    pub longitude: f64,
    /// From the tenant's point.
    pub distance_km: f64,
}

/// A registered tenant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tenant {
    pub tenant_id: String,
    pub latitude: f64,
    pub longitude: f64,
    /// The city covering its point.
    pub city: String,
    /// Its nearest measurement points, nearest first; none: its traffic is the city's.
    pub points: Vec<NearPoint>,
    /// The radius the points were looked for in, km.
    pub radius_km: f64,
    /// The location holding its points' series (`None` without points).
    pub location: Option<String>,
    /// Whether that location's history has been loaded (until then the city answers).
    pub loaded: bool,
    /// Whether the provider could not say where its points are: mapped again by the next job.
    #[serde(default)]
    pub pending: bool,
    /// Why its traffic is the city's, when it is.
    pub note: Option<String>,
    pub registered_at: Timestamp,
}

impl Tenant {
    pub fn coordinates(&self) -> Coordinates {
        Coordinates {
            latitude: self.latitude,
            longitude: self.longitude,
        }
    }
}

/// Every registered tenant and the locations of their points (only those some tenant uses).
#[derive(Clone, Debug, Default)]
pub struct Book {
    tenants: std::collections::BTreeMap<String, Tenant>,
    locations: std::collections::BTreeMap<String, Location>,
    /// Locations whose history is being loaded now.
    loading: std::collections::BTreeSet<String>,
}

impl Book {
    /// Adds (or replaces) `tenant`, with its points' location; drops a location no tenant uses
    /// any more (a tenant that moved).
    pub fn put(&mut self, tenant: Tenant, location: Option<Location>) {
        if let Some(location) = location {
            self.locations.insert(location.id.clone(), location);
        }
        self.tenants.insert(tenant.tenant_id.clone(), tenant);
        let used: std::collections::BTreeSet<&String> = self
            .tenants
            .values()
            .filter_map(|t| t.location.as_ref())
            .collect();
        self.locations.retain(|id, _| used.contains(id));
    }

    /// Notes that `location`'s history is being loaded; `false` if it already was.
    pub fn start_loading(&mut self, location: &str) -> bool {
        self.loading.insert(location.to_owned())
    }

    pub fn done_loading(&mut self, location: &str) {
        self.loading.remove(location);
    }

    pub fn tenant(&self, id: &str) -> Option<&Tenant> {
        self.tenants.get(id)
    }

    pub fn tenants(&self) -> impl Iterator<Item = &Tenant> {
        self.tenants.values()
    }

    pub fn location(&self, id: &str) -> Option<&Location> {
        self.locations.get(id)
    }

    pub fn locations(&self) -> impl Iterator<Item = &Location> {
        self.locations.values()
    }
}

/// The `max` points of `candidates` (id, name, kind, where) nearest `at` within `radius_km`,
/// nearest first (ties by id, so a registration is repeatable).
pub fn nearest<'a>(
    candidates: impl Iterator<Item = (&'a str, &'a str, &'a str, Coordinates)>,
    at: Coordinates,
    radius_km: f64,
    max: usize,
) -> Vec<NearPoint> {
    let mut near: Vec<NearPoint> = candidates
        .map(|(id, name, kind, c)| NearPoint {
            id: id.to_owned(),
            name: name.to_owned(),
            kind: kind.to_owned(),
            latitude: c.latitude,
            longitude: c.longitude,
            distance_km: at.distance_km(c),
        })
        .filter(|p| p.distance_km <= radius_km)
        .collect();
    near.sort_by(|a, b| {
        a.distance_km
            .total_cmp(&b.distance_km)
            .then_with(|| a.id.cmp(&b.id))
    });
    near.dedup_by(|a, b| a.id == b.id);
    near.truncate(max);
    near
}

/// The id of the location holding `points` of `city`: the same for every tenant with the same
/// points, whatever their order (a 64-bit FNV-1a of the sorted ids).
pub fn location_id(city: &str, points: &[NearPoint]) -> String {
    let mut ids: Vec<&str> = points.iter().map(|p| p.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in ids.join(",").bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{city}-points-{hash:016x}")
}

/// The location of `points` in `city`, fed by `traffic` (the city's traffic sources that read
/// measurement points): at the points' centroid, its radius reaching the farthest of them.
pub fn points_location(city: &Location, points: &[NearPoint], traffic: Vec<String>) -> Location {
    let n = points.len().max(1) as f64;
    let centre = Coordinates {
        latitude: points.iter().map(|p| p.latitude).sum::<f64>() / n,
        longitude: points.iter().map(|p| p.longitude).sum::<f64>() / n,
    };
    let radius_km = points
        .iter()
        .map(|p| {
            centre.distance_km(Coordinates {
                latitude: p.latitude,
                longitude: p.longitude,
            })
        })
        .fold(0.05, f64::max);
    let ids: Vec<String> = points.iter().map(|p| p.id.clone()).collect();
    Location {
        id: location_id(&city.id, points),
        name: format!("{}: measurement points {}", city.name, ids.join(", ")),
        country: city.country.clone(),
        coordinates: centre,
        timezone: city.timezone.clone(),
        radius_km,
        kind: LocationKind::Points,
        enabled: true,
        aliases: Vec::new(),
        aemet_stations: Vec::new(),
        price_zone: None,
        region: city.region.clone(),
        municipality: city.municipality.clone(),
        source_hours: city
            .source_hours
            .iter()
            .filter(|(s, _)| traffic.contains(s))
            .map(|(s, w)| (s.clone(), *w))
            .collect(),
        sources: [(Dataset::Traffic, traffic)].into_iter().collect(),
        forecasts: Vec::new(),
        aemet_municipality: None,
        points: ids,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(latitude: f64, longitude: f64) -> Coordinates {
        Coordinates {
            latitude,
            longitude,
        }
    }

    #[test]
    fn the_nearest_points_within_the_radius_nearest_first() {
        let sol = at(40.4169, -3.7035);
        let points = [
            ("far", "Far", "urban", at(40.4500, -3.7035)), // ~3.7 km
            ("b", "B", "urban", at(40.4178, -3.7035)),     // ~0.10 km
            ("a", "A", "m30", at(40.4160, -3.7035)),       // ~0.10 km: a tie, by id
            ("c", "C", "urban", at(40.4200, -3.7035)),     // ~0.34 km
        ];
        let near = nearest(
            points.iter().map(|(i, n, k, c)| (*i, *n, *k, *c)),
            sol,
            1.0,
            2,
        );
        let ids: Vec<&str> = near.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert!((near[0].distance_km - 0.100).abs() < 0.01, "{near:?}");
        assert!(
            nearest(
                points.iter().map(|(i, n, k, c)| (*i, *n, *k, *c)),
                sol,
                0.05,
                3
            )
            .is_empty()
        );
    }

    #[test]
    fn tenants_with_the_same_points_share_a_location() {
        let p = |id: &str| NearPoint {
            id: id.into(),
            name: id.into(),
            kind: "urban".into(),
            latitude: 40.4,
            longitude: -3.7,
            distance_km: 0.1,
        };
        assert_eq!(
            location_id("madrid", &[p("1001"), p("2002")]),
            location_id("madrid", &[p("2002"), p("1001")])
        );
        assert_ne!(
            location_id("madrid", &[p("1001")]),
            location_id("madrid", &[p("1002")])
        );
        assert!(location_id("madrid", &[p("1")]).starts_with("madrid-points-"));
    }
}
