//! What each provider declares about itself, and what is derived from it: the ids a location's
//! `sources` and `forecasts` may name and the configuration keys that are secrets.

use super::{aemet, madrid, open_meteo, owm, ree};

/// A provider's declaration, beside its code (`PROVIDER` in its module).
#[derive(Debug)]
pub struct Provider {
    /// Its section of the configuration, `[sources.<section>]`.
    pub section: &'static str,
    /// The source ids locations name it by (AEMET serves two: daily values and hourly
    /// observations).
    pub ids: &'static [&'static str],
    /// The forecast source ids locations name in `forecasts`.
    pub forecasts: &'static [&'static str],
    /// Keys of its section that are secrets: read from the environment or a `_file`, never
    /// from the config file, and never empty.
    pub secrets: &'static [&'static str],
}

/// Every provider almanac fetches from.
pub const ALL: &[Provider] = &[
    open_meteo::PROVIDER,
    aemet::source::PROVIDER,
    ree::PROVIDER,
    ree::esios::PROVIDER,
    owm::source::PROVIDER,
    madrid::source::PROVIDER,
];

/// Every source id, in declaration order.
pub fn ids() -> impl Iterator<Item = &'static str> {
    ALL.iter().flat_map(|p| p.ids.iter().copied())
}

/// Every forecast source id, in declaration order.
pub fn forecast_ids() -> impl Iterator<Item = &'static str> {
    ALL.iter().flat_map(|p| p.forecasts.iter().copied())
}

/// The provider serving the source (or forecast source) called `id`.
pub fn of(id: &str) -> Option<&'static Provider> {
    ALL.iter()
        .find(|p| p.ids.contains(&id) || p.forecasts.contains(&id))
}

/// Every provider secret as a configuration key (`sources.aemet.api_key`).
pub fn secret_keys() -> impl Iterator<Item = String> {
    ALL.iter().flat_map(|p| {
        p.secrets
            .iter()
            .map(move |s| format!("sources.{}.{s}", p.section))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_name_their_provider() {
        let all: Vec<&str> = ids().chain(forecast_ids()).collect();
        let mut unique = all.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(all.len(), unique.len(), "{all:?}");
        assert_eq!(of("aemet_obs").map(|p| p.section), Some("aemet"));
        assert!(of("nowhere").is_none());
        assert_eq!(of("owm_forecast").map(|p| p.section), Some("owm"));
        assert!(secret_keys().any(|k| k == "sources.esios.token"));
    }
}
