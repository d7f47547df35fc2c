//! Stored anomalies: listed by filter, a location's within a range, and resolved.

use serde::Serialize;

use super::QueryError;
use crate::core::Core;
use crate::domain::{TimeRange, Timestamp};
pub use crate::store::{AnomalyFilter, StoredAnomaly};

/// Anomalies matching `filter`, newest first.
pub async fn list(
    core: &Core,
    filter: &AnomalyFilter<'_>,
) -> Result<Vec<StoredAnomaly>, QueryError> {
    Ok(core.reader().anomalies(filter).await?)
}

/// Every anomaly of `location` within `range`, resolved or not.
pub(super) async fn of(
    core: &Core,
    location: &str,
    range: TimeRange,
) -> Result<Vec<StoredAnomaly>, QueryError> {
    list(
        core,
        &AnomalyFilter {
            since: range.start,
            until: range.end,
            location: Some(location),
            severity: None,
            include_resolved: true,
            limit: 100_000,
        },
    )
    .await
}

#[derive(Serialize)]
pub struct Resolved {
    id: i64,
    resolved_at: Timestamp,
}

/// Marks anomaly `id` resolved at `now` (it is kept `processing.anomalies_resolved_days` more
/// days).
pub async fn resolve(core: &Core, id: i64, now: Timestamp) -> Result<Resolved, QueryError> {
    if core.store.resolve_anomaly(id, now).await? {
        Ok(Resolved {
            id,
            resolved_at: now,
        })
    } else {
        Err(QueryError::not_found(
            "unknown_anomaly",
            format!("no unresolved anomaly {id}"),
        ))
    }
}
