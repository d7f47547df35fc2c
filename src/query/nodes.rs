//! The nodes of the configured networks and their processed windows: the list, a node's
//! history and its newest window.

use std::collections::BTreeMap;

use serde::Serialize;

use super::QueryError;
use crate::core::Core;
use crate::domain::network::{Basis, Role};
use crate::domain::windows::{Window, WindowMetrics};
use crate::domain::{Dataset, Location, TimeRange, Timestamp};
use crate::store::Series;

#[derive(Serialize)]
pub struct Node {
    node_id: String,
    node_name: String,
    node_type: Role,
    network: String,
    latitude: f64,
    longitude: f64,
    timezone: String,
    is_active: bool,
}

/// Every node of every configured network.
pub fn nodes(core: &Core) -> Vec<Node> {
    let mut out = Vec::new();
    for (network, config) in &core.config.networks {
        for (id, &role) in &config.nodes {
            if let Some(l) = core.registry.get(id) {
                out.push(Node {
                    node_id: l.id.clone(),
                    node_name: l.name.clone(),
                    node_type: role,
                    network: network.clone(),
                    latitude: l.coordinates.latitude,
                    longitude: l.coordinates.longitude,
                    timezone: l.timezone_name().to_owned(),
                    is_active: l.enabled,
                });
            }
        }
    }
    out
}

/// The node (or any location) `id`.
pub fn node(core: &Core, id: &str) -> Result<Location, QueryError> {
    core.registry
        .get(id)
        .cloned()
        .ok_or_else(|| QueryError::not_found("unknown_node", format!("no node or location `{id}`")))
}

/// A location's windows of each sensor series, by variable, each found by its start in one
/// lookup (joining them window by window costs n log n, not n²) and iterated in time order (so
/// sums over them are the same on every request).
pub(super) struct Windows {
    by: BTreeMap<String, (Series, BTreeMap<Timestamp, WindowMetrics>)>,
}

impl Windows {
    pub(super) async fn of(
        core: &Core,
        location: &str,
        window: Window,
        range: TimeRange,
    ) -> Result<Self, QueryError> {
        let mut by = BTreeMap::new();
        for s in core.reader().series(location, Dataset::Sensor).await? {
            let rows = core.reader().windows(s.id, window, range).await?;
            let rows = rows.into_iter().map(|w| (w.start, w)).collect();
            by.insert(s.variable.clone(), (s, rows));
        }
        Ok(Self { by })
    }

    /// `variable`'s window starting at `start`.
    pub(super) fn at(&self, variable: &str, start: Timestamp) -> Option<&WindowMetrics> {
        self.by.get(variable)?.1.get(&start)
    }

    /// Every window start of any variable, with its end, in order.
    pub(super) fn starts(&self) -> BTreeMap<Timestamp, Timestamp> {
        let mut starts = BTreeMap::new();
        for (_, rows) in self.by.values() {
            for w in rows.values() {
                starts.insert(w.start, w.end);
            }
        }
        starts
    }

    /// Each variable's series and its windows, in time order.
    pub(super) fn variables(
        &self,
    ) -> impl Iterator<Item = (&str, &Series, impl Iterator<Item = &WindowMetrics>)> {
        self.by
            .iter()
            .map(|(name, (series, rows))| (name.as_str(), series, rows.values()))
    }

    pub(super) fn is_empty(&self) -> bool {
        self.by.values().all(|(_, rows)| rows.is_empty())
    }

    /// The least complete of the variables at `start` (a missing window counts as empty).
    pub(super) fn completeness_at(&self, start: Timestamp) -> f64 {
        self.by
            .values()
            .map(|(_, rows)| rows.get(&start).map_or(0.0, WindowMetrics::completeness))
            .fold(1.0, f64::min)
    }

    /// The volume over the window starting at `start` by the first basis the node has, with
    /// that basis and its window's completeness.
    pub(super) fn volume_at(&self, start: Timestamp) -> Option<(f64, Basis, f64)> {
        let (basis, w) = Basis::ORDER
            .iter()
            .find_map(|&(basis, name)| self.at(name, start).map(|w| (basis, w)))?;
        Some((basis.volume(w)?, basis, w.completeness()))
    }
}

#[derive(Serialize)]
pub struct HistoryRow {
    window_start: Timestamp,
    window_end: Timestamp,
    avg_flow_rate: Option<f64>,
    min_flow_rate: Option<f64>,
    max_flow_rate: Option<f64>,
    avg_pressure: Option<f64>,
    min_pressure: Option<f64>,
    max_pressure: Option<f64>,
    avg_temperature: Option<f64>,
    /// m³ over the window (see `volume_basis`).
    total_volume: Option<f64>,
    volume_basis: Option<Basis>,
    /// The least complete of the node's series in the window.
    data_completeness: f64,
    anomaly_count: u32,
}

/// The node's `window`s over `range`, each with its anomalies.
pub async fn history(
    core: &Core,
    location: &Location,
    window: Window,
    range: TimeRange,
) -> Result<Vec<HistoryRow>, QueryError> {
    let windows = Windows::of(core, &location.id, window, range).await?;
    let anomalies = super::anomalies::of(core, &location.id, range).await?;
    let mut times: Vec<Timestamp> = anomalies.iter().map(|a| a.anomaly.ts).collect();
    times.sort_unstable();
    let count_in = |start: Timestamp, end: Timestamp| {
        (times.partition_point(|t| *t < end) - times.partition_point(|t| *t < start)) as u32
    };
    let rows = windows
        .starts()
        .into_iter()
        .map(|(start, end)| {
            let at = |name: &str| windows.at(name, start);
            let volume = windows.volume_at(start);
            HistoryRow {
                window_start: start,
                window_end: end,
                avg_flow_rate: at("flow_rate").map(|w| w.mean),
                min_flow_rate: at("flow_rate").map(|w| w.min),
                max_flow_rate: at("flow_rate").map(|w| w.max),
                avg_pressure: at("pressure").map(|w| w.mean),
                min_pressure: at("pressure").map(|w| w.min),
                max_pressure: at("pressure").map(|w| w.max),
                avg_temperature: at("temperature").map(|w| w.mean),
                total_volume: volume.map(|v| v.0),
                volume_basis: volume.map(|v| v.1),
                data_completeness: windows.completeness_at(start),
                anomaly_count: count_in(start, end),
            }
        })
        .collect();
    Ok(rows)
}

#[derive(Serialize)]
pub struct LatestMetrics {
    node_id: String,
    node_name: String,
    time_window: Window,
    /// The newest window of the node's newest reading.
    window_start: Option<Timestamp>,
    window_end: Option<Timestamp>,
    flow_rate: Option<f64>,
    pressure: Option<f64>,
    temperature: Option<f64>,
    total_volume: Option<f64>,
    volume_basis: Option<Basis>,
    data_completeness: Option<f64>,
    anomaly_count: u32,
}

/// The node's `window` holding its newest reading.
pub async fn latest(
    core: &Core,
    location: &Location,
    window: Window,
) -> Result<LatestMetrics, QueryError> {
    // A window shorter than every series' step holds one reading or none: no such windows are
    // kept, and a window of nulls would look like an answer.
    let series = core.reader().series(&location.id, Dataset::Sensor).await?;
    if let Some(slowest) = series.iter().map(|s| s.step.seconds()).min()
        && series.iter().all(|s| !window.applies_to(s.step))
    {
        return Err(QueryError::invalid(
            "invalid_parameter",
            format!(
                "time_window {} is shorter than `{}`'s readings (one every {} min or more): ask for a longer window",
                window.as_str(),
                location.id,
                slowest / 60
            ),
        ));
    }
    let zone = &location.timezone;
    let latest = newest_reading(core, location)
        .await?
        .map(|ts| window.bounds(ts, zone));
    let Some((start, end)) = latest else {
        return Err(QueryError::not_found(
            "no_metrics",
            format!(
                "no {} windows for `{}`: it has no sensor readings processed yet",
                window.as_str(),
                location.id
            ),
        ));
    };
    let range = TimeRange { start, end };
    let windows = Windows::of(core, &location.id, window, range).await?;
    let at = |name: &str| windows.at(name, start);
    let volume = windows.volume_at(start);
    let anomalies = super::anomalies::of(core, &location.id, range).await?;
    Ok(LatestMetrics {
        node_id: location.id.clone(),
        node_name: location.name.clone(),
        time_window: window,
        window_start: Some(start),
        window_end: Some(end),
        flow_rate: at("flow_rate").map(|w| w.mean),
        pressure: at("pressure").map(|w| w.mean),
        temperature: at("temperature").map(|w| w.mean),
        total_volume: volume.map(|v| v.0),
        volume_basis: volume.map(|v| v.1),
        data_completeness: windows
            .variables()
            .filter_map(|(name, _, _)| windows.at(name, start).map(WindowMetrics::completeness))
            .reduce(f64::min),
        anomaly_count: anomalies.len() as u32,
    })
}

/// The instant of a location's newest sensor reading.
pub(super) async fn newest_reading(
    core: &Core,
    location: &Location,
) -> Result<Option<Timestamp>, QueryError> {
    let mut newest = None;
    for s in core.reader().series(&location.id, Dataset::Sensor).await? {
        newest = newest.max(core.reader().last_timestamp(s.id).await?);
    }
    Ok(newest)
}
