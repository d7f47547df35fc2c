//! How much is stored: extents (first, last, instants) of a location's dataset, kept per data
//! version (counting instants scans), and whether anything is stored at all (readiness).

use crate::core::Core;
use crate::domain::{Dataset, Location, Step};
use crate::store::{Extent, SeriesId, StoreError};

/// The first and last instants and the number of hours holding weather for `location`.
pub async fn weather_extent(core: &Core, location: &Location) -> Result<Extent, StoreError> {
    extent(core, location, Dataset::Weather, Step::HOUR).await
}

/// The first and last instants and the number of instants holding `dataset` at `step`.
pub async fn extent(
    core: &Core,
    location: &Location,
    dataset: Dataset,
    step: Step,
) -> Result<Extent, StoreError> {
    let ids: Vec<_> = prioritized(core, location, dataset)
        .await?
        .iter()
        .filter(|s| s.step == step)
        .map(|s| s.id)
        .collect();
    extent_of(core, &location.id, dataset, &ids).await
}

/// The extent of `ids`, series of `location`'s `dataset`. Counting the instants scans the
/// series, so an extent is kept with the data version it was computed at and computed again
/// only after a write changed that data (from any process).
pub async fn extent_of(
    core: &Core,
    location: &str,
    dataset: Dataset,
    ids: &[SeriesId],
) -> Result<Extent, StoreError> {
    if ids.is_empty() {
        return Ok(Extent::default());
    }
    let version = core.reader().version(location, dataset).await?;
    let key = format!("{ids:?}");
    core.extents
        .get_or(location, dataset, key, version, core.reader().extent(ids))
        .await
}

/// The data version of `location`'s `dataset`: raised by every write that changes it, from
/// any process (the response cache keys its answers by it).
pub async fn version(core: &Core, location: &str, dataset: Dataset) -> Result<i64, StoreError> {
    core.reader().version(location, dataset).await
}

/// Whether a series of `dataset` from one of the location's sources for it holds a value (an
/// index lookup per series, cheap enough for readiness probes).
pub async fn holds(core: &Core, location: &Location, dataset: Dataset) -> Result<bool, StoreError> {
    for series in prioritized(core, location, dataset).await? {
        if core.reader().last_timestamp(series.id).await?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The location's series of `dataset`, those of its preferred sources first.
pub(super) async fn prioritized(
    core: &Core,
    location: &Location,
    dataset: Dataset,
) -> Result<Vec<crate::store::Series>, StoreError> {
    let order = location.sources.get(&dataset).cloned().unwrap_or_default();
    let mut series = core.reader().series(&location.id, dataset).await?;
    series.retain(|s| order.contains(&s.source));
    series.sort_by_key(|s| order.iter().position(|o| *o == s.source));
    Ok(series)
}
