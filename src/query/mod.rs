//! The query wing: every answer the API or the CLI gives is computed here from parsed values
//! and returned as plain structs; `http` and `cli` only parse, call one function and render.
//!
//! Rooms: `frame` (stored series assembled into rows, by source priority), `extent` (how much
//! is stored, per data version), and the processing API's: `nodes` (the networks' nodes and
//! their windows), `quality`, `anomalies`, `network` (balance, efficiency, dashboard),
//! `status`, `energy` (price features); `forecast` (weather forecasts as issued); `models` (forecasting models, their versions, live
//! performance and stored forecasts, and the seeds' shapes of them); `locations` (what is stored, coverage), `runs`,
//! `health` (readiness).

pub mod anomalies;
pub mod calendar;
pub mod energy;
mod error;
pub mod extent;
pub mod factory;
pub mod forecast;
pub mod frame;
pub mod health;
pub mod locations;
pub mod models;
pub mod network;
pub mod nodes;
pub mod quality;
pub mod runs;
pub mod series;
pub mod status;
pub mod tenants;
pub mod training;

pub use error::QueryError;

/// Runs one request: every read it makes goes to the same store (one replica, or the primary;
/// see [`crate::store::replicas`]), so an answer never mixes a replica's older state with a
/// newer one. Returns which replica answered, if one did.
pub async fn consistent<F: std::future::Future>(work: F) -> (F::Output, Option<usize>) {
    crate::store::replicas::pinned(work).await
}

/// Whether `store.read_urls` names replicas.
pub fn reads_replicas(core: &crate::core::Core) -> bool {
    core.reads.has_replicas()
}

/// A request failed on a replica: skip the replica if it was unreachable (`failed`), and run
/// `work` (the request again) on the primary.
pub async fn on_primary_after<F: std::future::Future>(
    core: &crate::core::Core,
    failed: Option<usize>,
    work: F,
) -> F::Output {
    if let Some(replica) = failed {
        core.reads.failed(replica);
    }
    core.reads.on_primary(work).await
}

/// Runs `work` (a request) with every read on the primary.
pub async fn on_primary<F: std::future::Future>(core: &crate::core::Core, work: F) -> F::Output {
    core.reads.on_primary(work).await
}
pub use error::unreachable;
pub use extent::{extent, extent_of, holds, version, weather_extent};
pub use frame::{Cell, Frame, Row, rows, weather_rows};

use crate::core::Core;
use crate::domain::{Dataset, Location};

/// Where `dataset` of `location` is stored: a city's prices at its price zone, the rest at it.
pub fn stored_at<'a>(core: &'a Core, location: &'a Location, dataset: Dataset) -> &'a Location {
    match (dataset, &location.price_zone) {
        (Dataset::EnergyPrice, Some(zone)) => core.registry.get(zone).unwrap_or(location),
        _ => location,
    }
}
