//! Sites files in the Weather Data Product's `sites_sample.json` shape, loaded as extra
//! locations. Both of its schemas are accepted: the first (`site_id` an integer, `lat`/`lon`)
//! and the current (`site_id` a code such as "MLA", `latitude`/`longitude`). Ids are lowercased.

use std::path::Path;

use serde::Deserialize;

use super::{SitesConfig, check_location};
use crate::domain::{Coordinates, Location, LocationKind};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Site {
    site_id: SiteId,
    name: String,
    #[serde(alias = "lat")]
    latitude: f64,
    #[serde(alias = "lon")]
    longitude: f64,
    country: String,
    timezone: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SiteId {
    Number(u64),
    Code(String),
}

/// Every site of every configured file, or every problem found in them.
pub fn load_all(config: &SitesConfig) -> Result<Vec<Location>, Vec<String>> {
    let mut locations = Vec::new();
    let mut problems = Vec::new();
    for path in &config.files {
        match load_file(path, config) {
            Ok(mut found) => locations.append(&mut found),
            Err(mut found) => problems.append(&mut found),
        }
    }
    let mut ids: Vec<&str> = locations.iter().map(|l| l.id.as_str()).collect();
    ids.sort_unstable();
    for pair in ids.windows(2).filter(|p| p[0] == p[1]) {
        problems.push(format!("site id `{}` appears more than once", pair[0]));
    }
    if problems.is_empty() {
        Ok(locations)
    } else {
        Err(problems)
    }
}

fn load_file(path: &Path, config: &SitesConfig) -> Result<Vec<Location>, Vec<String>> {
    let shown = path.display();
    let text =
        std::fs::read_to_string(path).map_err(|e| vec![format!("sites file {shown}: {e}")])?;
    let sites: Vec<Site> =
        serde_json::from_str(&text).map_err(|e| vec![format!("sites file {shown}: {e}")])?;
    let mut problems = Vec::new();
    let mut locations = Vec::new();
    for site in sites {
        let id = match site.site_id {
            SiteId::Number(n) => n.to_string(),
            SiteId::Code(code) => code.trim().to_lowercase(),
        };
        let checked = Coordinates::new(site.latitude, site.longitude)
            .map_err(|e| e.to_string())
            .and_then(|c| check_location(&site.timezone, config.radius_km).map(|z| (c, z)));
        match checked {
            Ok((coordinates, timezone)) => locations.push(Location {
                id,
                name: site.name,
                country: site.country,
                coordinates,
                timezone,
                radius_km: config.radius_km,
                kind: LocationKind::Site,
                enabled: true,
                aliases: Vec::new(),
                aemet_stations: Vec::new(),
                region: None,
                municipality: None,
                price_zone: None,
                forecasts: Vec::new(),
                aemet_municipality: None,
                source_hours: Default::default(),
                points: Vec::new(),
                sources: config.sources.clone(),
            }),
            Err(problem) => problems.push(format!("sites file {shown}, site `{id}`: {problem}")),
        }
    }
    if problems.is_empty() {
        Ok(locations)
    } else {
        Err(problems)
    }
}
