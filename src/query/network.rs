//! A network's water balance: per window (efficiency), over a recent range (metrics), and the
//! dashboard's summary of it and its nodes.

use serde::Serialize;

use super::QueryError;
use super::nodes::{Windows, newest_reading, node};
use crate::core::Core;
use crate::domain::network::{self, Balance, Basis, NodeVolume, Role};
use crate::domain::windows::Window;
use crate::domain::{Step, TimeRange, Timestamp};
use crate::store::StoredAnomaly;

/// The network `given`, or the only one when none is named.
pub fn network_id(core: &Core, given: Option<&str>) -> Result<String, QueryError> {
    let networks = &core.config.networks;
    match given {
        Some(id) if networks.contains_key(id) => Ok(id.to_owned()),
        Some(id) => Err(QueryError::not_found(
            "unknown_network",
            format!("no network `{id}`"),
        )),
        None if networks.len() == 1 => Ok(networks.keys().next().cloned().unwrap_or_default()),
        None => Err(QueryError::invalid(
            "missing_parameter",
            format!(
                "name the network: one of {:?}",
                networks.keys().collect::<Vec<_>>()
            ),
        )),
    }
}

#[derive(Serialize)]
pub struct WindowBalance {
    window_start: Timestamp,
    window_end: Timestamp,
    #[serde(flatten)]
    balance: Balance,
}

#[derive(Serialize)]
pub struct Efficiency {
    network: String,
    name: String,
    time_window: Window,
    min_completeness: f64,
    windows: Vec<WindowBalance>,
}

/// Per window over `range`: supplied and delivered volume and efficiency = delivered /
/// supplied, withheld below the network's completeness threshold.
pub async fn efficiency(
    core: &Core,
    id: &str,
    window: Window,
    range: TimeRange,
) -> Result<Efficiency, QueryError> {
    let config = &core.config.networks[id];
    let mut by_node = Vec::new();
    let mut starts = std::collections::BTreeMap::new();
    for (node, &role) in &config.nodes {
        let windows = Windows::of(core, node, window, range).await?;
        starts.extend(windows.starts());
        by_node.push((node.clone(), role, windows));
    }
    let windows = starts
        .into_iter()
        .map(|(start, end)| {
            let nodes = by_node
                .iter()
                .map(|(node, role, windows)| {
                    let found = windows.volume_at(start);
                    NodeVolume {
                        node: node.clone(),
                        role: *role,
                        volume: found.map(|v| v.0),
                        basis: found.map(|v| v.1),
                        completeness: found.map_or(0.0, |v| v.2),
                    }
                })
                .collect();
            WindowBalance {
                window_start: start,
                window_end: end,
                balance: network::balance(nodes, config.min_completeness),
            }
        })
        .collect();
    Ok(Efficiency {
        network: id.to_owned(),
        name: config.name.clone(),
        time_window: window,
        min_completeness: config.min_completeness,
        windows,
    })
}

#[derive(Serialize)]
pub struct NetworkMetrics {
    network: String,
    timestamp: Timestamp,
    time_range: String,
    start: Timestamp,
    end: Timestamp,
    total_nodes: u32,
    /// Nodes with at least one reading in the range.
    active_nodes: u32,
    /// Mean inflow over the range, L/s (sum over inflow nodes of their mean).
    total_inflow_rate: Option<f64>,
    avg_pressure: Option<f64>,
    #[serde(flatten)]
    balance: Balance,
    anomaly_count: u32,
}

/// The network over the last whole hours of `seconds` before `now` (`name` is how the
/// request named that span), from hourly windows: each node's volume summed over the hours,
/// completeness = readings present / expected over the whole range.
pub async fn metrics(
    core: &Core,
    id: &str,
    name: &str,
    seconds: i64,
    now: Timestamp,
) -> Result<NetworkMetrics, QueryError> {
    let end = now.floor(Step::HOUR);
    let range = TimeRange {
        start: end.plus(-seconds),
        end,
    };
    let config = &core.config.networks[id];
    let mut nodes = Vec::new();
    let (mut inflow_rate, mut pressures, mut active, mut anomalies) = (None, Vec::new(), 0, 0);
    for (node, &role) in &config.nodes {
        let windows = Windows::of(core, node, Window::Hour, range).await?;
        if !windows.is_empty() {
            active += 1;
        }
        let mut found: Option<(f64, Basis)> = None;
        let (mut present, mut expected) = (0u64, 0u64);
        for (basis, wanted) in Basis::ORDER {
            let Some((_, series, rows)) = windows.variables().find(|(n, _, _)| *n == wanted) else {
                continue;
            };
            let rows: Vec<_> = rows.collect();
            let total: f64 = rows.iter().filter_map(|w| basis.volume(w)).sum();
            present = rows.iter().map(|w| u64::from(w.count)).sum();
            expected = u64::from(crate::domain::windows::expected(
                range.start,
                range.end,
                series.step,
            ));
            found = Some((total, basis));
            break;
        }
        for (variable, _, rows) in windows.variables() {
            let means: Vec<f64> = rows.map(|w| w.mean).collect();
            if variable == "flow_rate" && role == Role::Inflow && !means.is_empty() {
                *inflow_rate.get_or_insert(0.0) += means.iter().sum::<f64>() / means.len() as f64;
            }
            if variable == "pressure" {
                pressures.extend(means);
            }
        }
        anomalies += super::anomalies::of(core, node, range).await?.len() as u32;
        nodes.push(NodeVolume {
            node: node.clone(),
            role,
            volume: found.map(|f| f.0),
            basis: found.map(|f| f.1),
            completeness: if expected == 0 {
                0.0
            } else {
                (present as f64 / expected as f64).min(1.0)
            },
        });
    }
    Ok(NetworkMetrics {
        network: id.to_owned(),
        timestamp: now,
        time_range: name.to_owned(),
        start: range.start,
        end: range.end,
        total_nodes: config.nodes.len() as u32,
        active_nodes: active,
        total_inflow_rate: inflow_rate,
        avg_pressure: (!pressures.is_empty())
            .then(|| pressures.iter().sum::<f64>() / pressures.len() as f64),
        balance: network::balance(nodes, config.min_completeness),
        anomaly_count: anomalies,
    })
}

#[derive(Serialize)]
pub struct DashboardNode {
    node_id: String,
    node_name: String,
    node_type: Role,
    /// The newest hourly window's means.
    flow_rate: Option<f64>,
    pressure: Option<f64>,
    window_start: Option<Timestamp>,
    /// Mean daily quality score of the node's series over the last complete local day.
    quality_score: Option<f64>,
    /// Anomalies of the last 24 hours.
    anomaly_count: u32,
}

#[derive(Serialize)]
pub struct Dashboard {
    network: NetworkMetrics,
    nodes: Vec<DashboardNode>,
    recent_anomalies: Vec<StoredAnomaly>,
    /// The newest reading of any node.
    last_update: Option<Timestamp>,
}

/// The network over the last 24 hours, each node's newest hour and yesterday's quality, and
/// the ten newest anomalies.
pub async fn dashboard(core: &Core, id: &str, now: Timestamp) -> Result<Dashboard, QueryError> {
    let network = metrics(core, id, "24h", 86_400, now).await?;
    let mut nodes = Vec::new();
    let mut recent = Vec::new();
    let mut last_update: Option<Timestamp> = None;
    for (node_id, &role) in &core.config.networks[id].nodes {
        let location = node(core, node_id)?;
        let zone = &location.timezone;
        let newest = newest_reading(core, &location).await?;
        let latest = newest.map(|ts| Window::Hour.bounds(ts, zone));
        let mut node = DashboardNode {
            node_id: location.id.clone(),
            node_name: location.name.clone(),
            node_type: role,
            flow_rate: None,
            pressure: None,
            window_start: latest.map(|l| l.0),
            quality_score: None,
            anomaly_count: 0,
        };
        last_update = last_update.max(newest);
        if let Some((start, end)) = latest {
            let windows =
                Windows::of(core, &location.id, Window::Hour, TimeRange { start, end }).await?;
            node.flow_rate = windows.at("flow_rate", start).map(|w| w.mean);
            node.pressure = windows.at("pressure", start).map(|w| w.mean);
        }
        if let Ok(yesterday) = now.to_jiff().to_zoned(zone.clone()).date().yesterday() {
            node.quality_score = super::quality::sensor_score(core, &location, yesterday).await?;
        }
        let day = TimeRange {
            start: now.plus(-86_400),
            end: now.plus(86_400),
        };
        let found = super::anomalies::of(core, &location.id, day).await?;
        node.anomaly_count = found.len() as u32;
        recent.extend(found);
        nodes.push(node);
    }
    recent.sort_by_key(|a| std::cmp::Reverse(a.anomaly.ts));
    recent.truncate(10);
    Ok(Dashboard {
        network,
        nodes,
        recent_anomalies: recent,
        last_update,
    })
}
