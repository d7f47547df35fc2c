//! The Abbanoa processing API on almanac's stored windows and anomalies: `/api/v1/nodes`,
//! `/api/v1/nodes/{id}/history`, `/api/v1/quality/{id}`, `/api/v1/anomalies` and
//! `/api/v1/network/efficiency`. Every figure comes from stored readings or what `process`
//! computed from them; where a figure cannot be computed it is `null` with the reason.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::params::{ApiQuery, date_range};
use crate::core::Core;
use crate::domain::anomaly::Severity;
use crate::domain::network::{self, Balance, Basis, NodeVolume, Role};
use crate::domain::quality::{self, Arrived, DayQuality};
use crate::domain::windows::{Window, WindowMetrics};
use crate::domain::{Dataset, Location, TimeRange, Timestamp};
use crate::store::{AnomalyFilter, Series, StoredAnomaly};

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

/// `GET /api/v1/nodes`: every node of every configured network.
pub async fn nodes(State(core): State<Core>) -> Json<Vec<Node>> {
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
                    timezone: l.timezone.clone(),
                    is_active: l.enabled,
                });
            }
        }
    }
    Json(out)
}

#[derive(Deserialize)]
pub struct HistoryQuery {
    start_time: Option<String>,
    end_time: Option<String>,
    time_window: Option<String>,
}

fn node(core: &Core, id: &str) -> Result<Location, ApiError> {
    core.registry
        .get(id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("unknown_node", format!("no node or location `{id}`")))
}

fn window(raw: Option<&str>) -> Result<Window, ApiError> {
    match raw {
        None => Ok(Window::Hour),
        Some(s) => Window::parse(s).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_parameter",
                format!("time_window must be 5min, 1hour or 1day, got `{s}`"),
            )
        }),
    }
}

/// `start_time`/`end_time` (dates or date-times, both ends inclusive as the seed's dates), by
/// default the last `default_days` days.
fn range(
    core: &Core,
    start: Option<&str>,
    end: Option<&str>,
    default_days: i64,
) -> Result<TimeRange, ApiError> {
    match (start, end) {
        (Some(start), Some(end)) => date_range(start, end, core.config.http.max_range_days),
        (None, None) => {
            let now = Timestamp::now();
            Ok(TimeRange {
                start: now.plus(-default_days * 86_400),
                end: now,
            })
        }
        _ => Err(ApiError::bad_request(
            "missing_parameter",
            "give both start_time and end_time, or neither",
        )),
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

/// The windows of each of a location's sensor series, by variable.
async fn windows_by_variable(
    core: &Core,
    location: &str,
    window: Window,
    range: TimeRange,
) -> Result<BTreeMap<String, (Series, Vec<WindowMetrics>)>, ApiError> {
    let mut out = BTreeMap::new();
    for s in core.store.series(location, Dataset::Sensor).await? {
        let rows = core.store.windows(s.id, window, range).await?;
        out.insert(s.variable.clone(), (s, rows));
    }
    Ok(out)
}

/// A node's volume over the window starting at `start`, by the first basis it has.
fn volume_at(
    by: &BTreeMap<String, (Series, Vec<WindowMetrics>)>,
    start: Timestamp,
) -> Option<(f64, Basis, f64)> {
    let at = |name: &str| {
        by.get(name)
            .and_then(|(_, rows)| rows.iter().find(|w| w.start == start))
    };
    if let Some(w) = at("volume") {
        return Some((w.sum?, Basis::VolumeSum, w.completeness()));
    }
    if let Some(w) = at("total_volume") {
        return Some((w.delta?, Basis::MeterIncrease, w.completeness()));
    }
    at("flow_rate").map(|w| {
        let seconds = (w.end.epoch() - w.start.epoch()) as f64;
        (
            w.mean * seconds / 1_000.0,
            Basis::FlowIntegrated,
            w.completeness(),
        )
    })
}

/// `GET /api/v1/nodes/{id}/history?start_time&end_time&time_window`: the node's windows
/// (default the last 7 days of hourly windows).
pub async fn history(
    State(core): State<Core>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<Vec<HistoryRow>>, ApiError> {
    let location = node(&core, &id)?;
    let window = window(query.time_window.as_deref())?;
    let range = range(
        &core,
        query.start_time.as_deref(),
        query.end_time.as_deref(),
        7,
    )?;
    let by = windows_by_variable(&core, &location.id, window, range).await?;
    let anomalies = anomalies_of(&core, &location.id, range).await?;
    let mut starts: BTreeMap<Timestamp, Timestamp> = BTreeMap::new();
    for (_, rows) in by.values() {
        for w in rows {
            starts.insert(w.start, w.end);
        }
    }
    let rows = starts
        .into_iter()
        .map(|(start, end)| {
            let at = |name: &str| {
                by.get(name)
                    .and_then(|(_, rows)| rows.iter().find(|w| w.start == start))
            };
            let completeness = by
                .values()
                .map(|(_, rows)| {
                    rows.iter()
                        .find(|w| w.start == start)
                        .map_or(0.0, WindowMetrics::completeness)
                })
                .fold(1.0f64, f64::min);
            let volume = volume_at(&by, start);
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
                data_completeness: completeness,
                anomaly_count: anomalies
                    .iter()
                    .filter(|a| a.anomaly.ts >= start && a.anomaly.ts < end)
                    .count() as u32,
            }
        })
        .collect();
    Ok(Json(rows))
}

async fn anomalies_of(
    core: &Core,
    location: &str,
    range: TimeRange,
) -> Result<Vec<StoredAnomaly>, ApiError> {
    Ok(core
        .store
        .anomalies(&AnomalyFilter {
            since: range.start,
            until: range.end,
            location: Some(location),
            severity: None,
            include_resolved: true,
            limit: 100_000,
        })
        .await?)
}

#[derive(Deserialize)]
pub struct QualityQuery {
    start_time: Option<String>,
    end_time: Option<String>,
}

#[derive(Serialize)]
pub struct SeriesQuality {
    dataset: Dataset,
    variable: String,
    source: String,
    step_seconds: i64,
    last_value_at: Option<Timestamp>,
    /// Whole steps since the newest value.
    staleness_steps: Option<f64>,
    days: Vec<DayQuality>,
}

#[derive(Serialize)]
pub struct QualityReport {
    node_id: String,
    check_timestamp: Timestamp,
    /// Mean of the series' daily scores; null when no day has a score.
    overall_quality_score: Option<f64>,
    formula: &'static str,
    series: Vec<SeriesQuality>,
}

const FORMULA: &str = "per series and local day: completeness × validity × (1 − flatlined/present); \
completeness = present/expected from the series' step; validity = present/(present + readings refused \
at ingestion as physically impossible)";

/// `GET /api/v1/quality/{id}?start_time&end_time`: data quality of each series of a location per
/// local day (default the last 7 days).
pub async fn quality(
    State(core): State<Core>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<QualityQuery>,
) -> Result<Json<QualityReport>, ApiError> {
    let location = node(&core, &id)?;
    let range = range(
        &core,
        query.start_time.as_deref(),
        query.end_time.as_deref(),
        7,
    )?;
    let zone = TimeZone::get(&location.timezone).unwrap_or(TimeZone::UTC);
    // Dates name the location's local days; instants, the local days they fall in.
    let as_date = |raw: Option<&str>| raw.and_then(|r| r.trim().parse::<jiff::civil::Date>().ok());
    let first = as_date(query.start_time.as_deref())
        .unwrap_or_else(|| range.start.to_jiff().to_zoned(zone.clone()).date());
    let last = as_date(query.end_time.as_deref())
        .unwrap_or_else(|| range.end.plus(-1).to_jiff().to_zoned(zone.clone()).date());
    let range = match (
        quality::day_bounds(first, &zone),
        quality::day_bounds(last, &zone),
    ) {
        (Some((start, _)), Some((_, end))) => TimeRange { start, end },
        _ => range,
    };
    let rules = quality::Rules {
        flatline_seconds: i64::from(core.config.processing.flatline_minutes) * 60,
    };
    let now = Timestamp::now();
    let mut series = Vec::new();
    for &dataset in Dataset::ALL {
        for s in core.store.series(&location.id, dataset).await? {
            // Flatlines are measured whole: read a day either side.
            let around = TimeRange {
                start: range.start.plus(-86_400),
                end: range.end.plus(86_400),
            };
            let values: Vec<Arrived> = core
                .store
                .read(s.id, around)
                .await?
                .into_iter()
                .map(|p| Arrived {
                    ts: p.ts,
                    value: p.value,
                    arrival: p.created_run,
                })
                .collect();
            let refused = core.store.refused(&s, around).await?;
            let last_value_at = core.store.last_timestamp(s.id).await?;
            series.push(SeriesQuality {
                dataset,
                variable: s.variable.clone(),
                source: s.source.clone(),
                step_seconds: s.step.seconds(),
                last_value_at,
                staleness_steps: quality::staleness(last_value_at, now, s.step),
                days: quality::daily(
                    &values,
                    Some(&refused),
                    s.step,
                    &zone,
                    (first, last),
                    &rules,
                ),
            });
        }
    }
    let scores: Vec<f64> = series
        .iter()
        .flat_map(|s| s.days.iter().map(|d| d.score))
        .collect();
    Ok(Json(QualityReport {
        node_id: location.id,
        check_timestamp: now,
        overall_quality_score: (!scores.is_empty())
            .then(|| scores.iter().sum::<f64>() / scores.len() as f64),
        formula: FORMULA,
        series,
    }))
}

#[derive(Deserialize)]
pub struct AnomaliesQuery {
    hours: Option<u32>,
    node_id: Option<String>,
    severity: Option<String>,
    include_resolved: Option<bool>,
    limit: Option<u32>,
}

/// `GET /api/v1/anomalies?hours=24&node_id&severity&include_resolved&limit`: anomalies of the
/// last `hours` (unresolved by default), newest first.
pub async fn anomalies(
    State(core): State<Core>,
    ApiQuery(query): ApiQuery<AnomaliesQuery>,
) -> Result<Json<Vec<StoredAnomaly>>, ApiError> {
    let hours = query.hours.unwrap_or(24);
    if !(1..=24 * 3_660).contains(&hours) {
        return Err(ApiError::bad_request(
            "invalid_parameter",
            format!("hours must be between 1 and 87840, got {hours}"),
        ));
    }
    let limit = query.limit.unwrap_or(100);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit must be between 1 and 10000, got {limit}"),
        ));
    }
    let severity = match query.severity.as_deref() {
        None => None,
        Some(s) => Some(Severity::parse(s).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_parameter",
                format!("severity must be medium, high or critical, got `{s}`"),
            )
        })?),
    };
    let location = match query.node_id.as_deref() {
        None => None,
        Some(id) => Some(node(&core, id)?.id),
    };
    let now = Timestamp::now();
    let found = core
        .store
        .anomalies(&AnomalyFilter {
            since: now.plus(-i64::from(hours) * 3_600),
            until: now.plus(366 * 86_400),
            location: location.as_deref(),
            severity,
            include_resolved: query.include_resolved.unwrap_or(false),
            limit,
        })
        .await?;
    Ok(Json(found))
}

#[derive(Deserialize)]
pub struct EfficiencyQuery {
    network: Option<String>,
    start_time: Option<String>,
    end_time: Option<String>,
    time_window: Option<String>,
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

/// `GET /api/v1/network/efficiency?network&start_time&end_time&time_window`: per window,
/// supplied and delivered volume and efficiency = delivered / supplied (default: the only
/// network, daily windows of the last 7 days).
pub async fn efficiency(
    State(core): State<Core>,
    ApiQuery(query): ApiQuery<EfficiencyQuery>,
) -> Result<Json<Efficiency>, ApiError> {
    let networks = &core.config.networks;
    let id = match query.network.as_deref() {
        Some(id) => id.to_owned(),
        None if networks.len() == 1 => networks.keys().next().cloned().unwrap_or_default(),
        None => {
            return Err(ApiError::bad_request(
                "missing_parameter",
                format!(
                    "name the network: one of {:?}",
                    networks.keys().collect::<Vec<_>>()
                ),
            ));
        }
    };
    let config = networks
        .get(&id)
        .ok_or_else(|| ApiError::not_found("unknown_network", format!("no network `{id}`")))?;
    let window = match query.time_window.as_deref() {
        None => Window::Day,
        Some(s) => self::window(Some(s))?,
    };
    let range = range(
        &core,
        query.start_time.as_deref(),
        query.end_time.as_deref(),
        7,
    )?;
    let mut by_node = Vec::new();
    let mut starts: BTreeMap<Timestamp, Timestamp> = BTreeMap::new();
    for (node, &role) in &config.nodes {
        let by = windows_by_variable(&core, node, window, range).await?;
        for (_, rows) in by.values() {
            for w in rows {
                starts.insert(w.start, w.end);
            }
        }
        by_node.push((node.clone(), role, by));
    }
    let windows = starts
        .into_iter()
        .map(|(start, end)| {
            let nodes = by_node
                .iter()
                .map(|(node, role, by)| {
                    let found = volume_at(by, start);
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
    Ok(Json(Efficiency {
        network: id,
        name: config.name.clone(),
        time_window: window,
        min_completeness: config.min_completeness,
        windows,
    }))
}
