//! The Abbanoa processing API on almanac's stored windows and anomalies: `/api/v1/nodes`,
//! `/api/v1/nodes/{id}/history`, `/api/v1/quality/{id}`, `/api/v1/anomalies` and
//! `/api/v1/network/efficiency`. Every figure comes from stored readings or what `process`
//! computed from them; where a figure cannot be computed it is `null` with the reason.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::params::{ApiPath, ApiQuery, date_range};
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
    let (basis, w) = Basis::ORDER
        .iter()
        .find_map(|&(basis, name)| at(name).map(|w| (basis, w)))?;
    Some((basis.volume(w)?, basis, w.completeness()))
}

/// `GET /api/v1/nodes/{id}/history?start_time&end_time&time_window`: the node's windows
/// (default the last 7 days of hourly windows).
pub async fn history(
    State(core): State<Core>,
    ApiPath(id): ApiPath<String>,
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
    ApiPath(id): ApiPath<String>,
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
            let last_value_at = core.store.last_timestamp(s.id).await?;
            series.push(SeriesQuality {
                dataset,
                variable: s.variable.clone(),
                source: s.source.clone(),
                step_seconds: s.step.seconds(),
                last_value_at,
                staleness_steps: quality::staleness(last_value_at, now, s.step),
                days: series_days(&core, &s, &zone, (first, last), range, &rules).await?,
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

/// The quality of one series on local days `days` spanning `range`, from its values a day
/// either side (a flatline is measured whole) and what ingestion refused.
async fn series_days(
    core: &Core,
    series: &Series,
    zone: &TimeZone,
    days: (jiff::civil::Date, jiff::civil::Date),
    range: TimeRange,
    rules: &quality::Rules,
) -> Result<Vec<DayQuality>, ApiError> {
    let around = TimeRange {
        start: range.start.plus(-86_400),
        end: range.end.plus(86_400),
    };
    let values: Vec<Arrived> = core
        .store
        .read(series.id, around)
        .await?
        .into_iter()
        .map(|p| Arrived {
            ts: p.ts,
            value: p.value,
            arrival: p.created_run,
        })
        .collect();
    let refused = core.store.refused(series, around).await?;
    Ok(quality::daily(
        &values,
        Some(&refused),
        series.step,
        zone,
        days,
        rules,
    ))
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
    let id = network_id(&core, query.network.as_deref())?;
    let config = &core.config.networks[&id];
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

#[derive(Deserialize)]
pub struct MetricsQuery {
    time_window: Option<String>,
}

/// `GET /api/v1/nodes/{id}/metrics?time_window`: the window holding the node's newest reading.
pub async fn metrics(
    State(core): State<Core>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<MetricsQuery>,
) -> Result<Json<LatestMetrics>, ApiError> {
    let location = node(&core, &id)?;
    let window = window(query.time_window.as_deref())?;
    let zone = TimeZone::get(&location.timezone).unwrap_or(TimeZone::UTC);
    let latest = newest_reading(&core, &location)
        .await?
        .map(|ts| window.bounds(ts, &zone));
    let Some((start, end)) = latest else {
        return Err(ApiError::not_found(
            "no_metrics",
            format!(
                "no {} windows for `{id}`: it has no sensor readings processed yet",
                window.as_str()
            ),
        ));
    };
    let range = TimeRange { start, end };
    let by = windows_by_variable(&core, &location.id, window, range).await?;
    let at = |name: &str| by.get(name).and_then(|(_, rows)| rows.first());
    let volume = volume_at(&by, start);
    let anomalies = anomalies_of(&core, &location.id, range).await?;
    Ok(Json(LatestMetrics {
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
        data_completeness: by
            .values()
            .filter_map(|(_, rows)| rows.first().map(WindowMetrics::completeness))
            .reduce(f64::min),
        anomaly_count: anomalies.len() as u32,
    }))
}

/// The instant of a location's newest sensor reading.
async fn newest_reading(core: &Core, location: &Location) -> Result<Option<Timestamp>, ApiError> {
    let mut newest = None;
    for s in core.store.series(&location.id, Dataset::Sensor).await? {
        newest = newest.max(core.store.last_timestamp(s.id).await?);
    }
    Ok(newest)
}

#[derive(Serialize)]
pub struct Resolved {
    id: i64,
    resolved_at: Timestamp,
}

/// `POST /api/v1/anomalies/{id}/resolve` (admin token): marks an anomaly resolved; it is kept
/// `processing.anomalies_resolved_days` more days.
pub async fn resolve(
    State(core): State<Core>,
    headers: axum::http::HeaderMap,
    ApiPath(raw): ApiPath<String>,
) -> Result<Json<Resolved>, ApiError> {
    super::admin::authorize(&core, &headers)?;
    let id: i64 = raw.parse().map_err(|_| {
        ApiError::bad_request(
            "invalid_parameter",
            format!("anomaly id `{raw}` is not a number"),
        )
    })?;
    let now = Timestamp::now();
    if core.store.resolve_anomaly(id, now).await? {
        Ok(Json(Resolved {
            id,
            resolved_at: now,
        }))
    } else {
        Err(ApiError::not_found(
            "unknown_anomaly",
            format!("no unresolved anomaly {id}"),
        ))
    }
}

#[derive(Deserialize)]
pub struct NetworkQuery {
    network: Option<String>,
    time_range: Option<String>,
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

fn network_id(core: &Core, given: Option<&str>) -> Result<String, ApiError> {
    let networks = &core.config.networks;
    match given {
        Some(id) if networks.contains_key(id) => Ok(id.to_owned()),
        Some(id) => Err(ApiError::not_found(
            "unknown_network",
            format!("no network `{id}`"),
        )),
        None if networks.len() == 1 => Ok(networks.keys().next().cloned().unwrap_or_default()),
        None => Err(ApiError::bad_request(
            "missing_parameter",
            format!(
                "name the network: one of {:?}",
                networks.keys().collect::<Vec<_>>()
            ),
        )),
    }
}

fn time_range(raw: Option<&str>) -> Result<(String, i64), ApiError> {
    let raw = raw.unwrap_or("24h");
    let seconds = match raw {
        "1h" => 3_600,
        "6h" => 6 * 3_600,
        "24h" => 86_400,
        "3d" => 3 * 86_400,
        "7d" => 7 * 86_400,
        "30d" => 30 * 86_400,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_parameter",
                format!("time_range must be one of 1h, 6h, 24h, 3d, 7d, 30d; got `{raw}`"),
            ));
        }
    };
    Ok((raw.to_owned(), seconds))
}

/// The network over `range` from hourly windows: each node's volume summed over the hours,
/// completeness = readings present / expected over the whole range.
async fn network_over(core: &Core, id: &str, range: TimeRange) -> Result<NetworkMetrics, ApiError> {
    let config = &core.config.networks[id];
    let mut nodes = Vec::new();
    let (mut inflow_rate, mut pressures, mut active, mut anomalies) = (None, Vec::new(), 0, 0);
    for (node, &role) in &config.nodes {
        let by = windows_by_variable(core, node, Window::Hour, range).await?;
        if by.values().any(|(_, rows)| !rows.is_empty()) {
            active += 1;
        }
        let mut found: Option<(f64, Basis)> = None;
        let mut present = 0u64;
        let mut expected = 0u64;
        for (basis, name) in Basis::ORDER {
            let Some((series, rows)) = by.get(name) else {
                continue;
            };
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
        if let Some((_, rows)) = by.get("flow_rate")
            && role == Role::Inflow
            && !rows.is_empty()
        {
            let mean = rows.iter().map(|w| w.mean).sum::<f64>() / rows.len() as f64;
            *inflow_rate.get_or_insert(0.0) += mean;
        }
        if let Some((_, rows)) = by.get("pressure") {
            pressures.extend(rows.iter().map(|w| w.mean));
        }
        anomalies += anomalies_of(core, node, range).await?.len() as u32;
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
        timestamp: Timestamp::now(),
        time_range: String::new(),
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

/// `GET /api/v1/network/metrics?network&time_range=1h|6h|24h|3d|7d|30d`: the network over the
/// last whole hours of the range (default 24h).
pub async fn network_metrics(
    State(core): State<Core>,
    ApiQuery(query): ApiQuery<NetworkQuery>,
) -> Result<Json<NetworkMetrics>, ApiError> {
    let id = network_id(&core, query.network.as_deref())?;
    let (name, seconds) = time_range(query.time_range.as_deref())?;
    let end = Timestamp::now().floor(crate::domain::Step::HOUR);
    let range = TimeRange {
        start: end.plus(-seconds),
        end,
    };
    let mut metrics = network_over(&core, &id, range).await?;
    metrics.time_range = name;
    Ok(Json(metrics))
}

#[derive(Serialize)]
pub struct Freshness {
    location: String,
    dataset: Dataset,
    latest_data: Option<Timestamp>,
    age_seconds: Option<i64>,
}

#[derive(Serialize)]
pub struct ProcessingStatus {
    last_run: Option<crate::store::Run>,
    /// A last run older than this makes the status `stale`.
    stale_after_seconds: i64,
}

#[derive(Serialize)]
pub struct CacheStatus {
    redis_configured: bool,
    redis_errors: Option<u64>,
}

#[derive(Serialize)]
pub struct Status {
    /// `healthy`, `stale` (processing has not run for an hour) or `degraded` (the store does
    /// not answer).
    status: &'static str,
    reasons: Vec<String>,
    timestamp: Timestamp,
    store_up: bool,
    cache: CacheStatus,
    processing: ProcessingStatus,
    data_freshness: Vec<Freshness>,
}

const STALE_AFTER: i64 = 3_600;

/// `GET /api/v1/status`: freshness of every enabled location's data, the last processing run,
/// and the health of store and cache; from an answer at most a second old (recomputed in the
/// background: it reads the last 500 runs and every location's extents).
pub async fn status(State(core): State<Core>) -> Json<serde_json::Value> {
    let computed = core.clone();
    let fresh = async move {
        let Json(status) = current_status(computed).await;
        serde_json::to_value(status).unwrap_or_default()
    };
    Json(core.status.get_or(fresh).await)
}

async fn current_status(core: Core) -> Json<Status> {
    let now = Timestamp::now();
    let cache = CacheStatus {
        redis_configured: core.shared.is_some(),
        redis_errors: core.shared.as_ref().map(|s| s.errors()),
    };
    let gathered = gather_status(&core, now).await;
    let (processing, freshness) = match gathered {
        Ok(found) => found,
        Err(error) => {
            return Json(Status {
                status: "degraded",
                reasons: vec![format!("the store does not answer: {}", error.detail)],
                timestamp: now,
                store_up: false,
                cache,
                processing: ProcessingStatus {
                    last_run: None,
                    stale_after_seconds: STALE_AFTER,
                },
                data_freshness: Vec::new(),
            });
        }
    };
    let mut reasons = Vec::new();
    match &processing.last_run {
        None => reasons.push("processing has never run".to_owned()),
        Some(run) if now.epoch() - run.finished_at.unwrap_or(run.started_at) > STALE_AFTER => {
            reasons.push(format!(
                "the last processing run (run {}) is more than an hour old",
                run.id
            ))
        }
        Some(_) => {}
    }
    Json(Status {
        status: if reasons.is_empty() {
            "healthy"
        } else {
            "stale"
        },
        reasons,
        timestamp: now,
        store_up: true,
        cache,
        processing,
        data_freshness: freshness,
    })
}

async fn gather_status(
    core: &Core,
    now: Timestamp,
) -> Result<(ProcessingStatus, Vec<Freshness>), ApiError> {
    core.store.ping().await?;
    let last_run = core
        .store
        .runs(500)
        .await?
        .into_iter()
        .find(|r| r.operation == "process" && r.status != crate::domain::RunStatus::Running);
    let mut freshness = Vec::new();
    for location in core.locations() {
        for &dataset in Dataset::ALL {
            let ids: Vec<i64> = core
                .store
                .series(&location.id, dataset)
                .await?
                .iter()
                .map(|s| s.id)
                .collect();
            if ids.is_empty() {
                continue;
            }
            let last = crate::query::extent_of(core, &location.id, dataset, &ids)
                .await?
                .last;
            freshness.push(Freshness {
                location: location.id.clone(),
                dataset,
                latest_data: last,
                age_seconds: last.map(|t| now.epoch() - t.epoch()),
            });
        }
    }
    Ok((
        ProcessingStatus {
            last_run,
            stale_after_seconds: STALE_AFTER,
        },
        freshness,
    ))
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

/// `GET /api/v1/dashboard/summary?network`: the network over the last 24 hours, each node's
/// newest hour and yesterday's quality, and the ten newest anomalies.
pub async fn dashboard(
    State(core): State<Core>,
    ApiQuery(query): ApiQuery<NetworkQuery>,
) -> Result<Json<Dashboard>, ApiError> {
    let id = network_id(&core, query.network.as_deref())?;
    let now = Timestamp::now();
    let end = now.floor(crate::domain::Step::HOUR);
    let day = TimeRange {
        start: end.plus(-86_400),
        end,
    };
    let mut network = network_over(&core, &id, day).await?;
    network.time_range = "24h".into();
    let rules = quality::Rules {
        flatline_seconds: i64::from(core.config.processing.flatline_minutes) * 60,
    };
    let mut nodes = Vec::new();
    let mut recent = Vec::new();
    let mut last_update: Option<Timestamp> = None;
    for (node_id, &role) in &core.config.networks[&id].nodes {
        let location = node(&core, node_id)?;
        let zone = TimeZone::get(&location.timezone).unwrap_or(TimeZone::UTC);
        let newest = newest_reading(&core, &location).await?;
        let latest = newest.map(|ts| Window::Hour.bounds(ts, &zone));
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
            let by =
                windows_by_variable(&core, &location.id, Window::Hour, TimeRange { start, end })
                    .await?;
            node.flow_rate = by
                .get("flow_rate")
                .and_then(|(_, r)| r.first())
                .map(|w| w.mean);
            node.pressure = by
                .get("pressure")
                .and_then(|(_, r)| r.first())
                .map(|w| w.mean);
        }
        let yesterday = now.to_jiff().to_zoned(zone.clone()).date().yesterday().ok();
        if let Some(yesterday) = yesterday
            && let Some((start, end)) = quality::day_bounds(yesterday, &zone)
        {
            let mut scores = Vec::new();
            for s in core.store.series(&location.id, Dataset::Sensor).await? {
                scores.extend(
                    series_days(
                        &core,
                        &s,
                        &zone,
                        (yesterday, yesterday),
                        TimeRange { start, end },
                        &rules,
                    )
                    .await?
                    .iter()
                    .map(|d| d.score),
                );
            }
            node.quality_score =
                (!scores.is_empty()).then(|| scores.iter().sum::<f64>() / scores.len() as f64);
        }
        let found = anomalies_of(
            &core,
            &location.id,
            TimeRange {
                start: now.plus(-86_400),
                end: now.plus(86_400),
            },
        )
        .await?;
        node.anomaly_count = found.len() as u32;
        recent.extend(found);
        nodes.push(node);
    }
    recent.sort_by_key(|a| std::cmp::Reverse(a.anomaly.ts));
    recent.truncate(10);
    Ok(Json(Dashboard {
        network,
        nodes,
        recent_anomalies: recent,
        last_update,
    }))
}

#[derive(Deserialize)]
pub struct FeaturesQuery {
    start: Option<String>,
    end: Option<String>,
    variable: Option<String>,
}

#[derive(Serialize)]
pub struct EnergyFeatures {
    location: String,
    /// Where the prices are stored (the location's price zone).
    zone: String,
    variable: String,
    source: String,
    unit: String,
    tariff: &'static str,
    definitions: &'static str,
    hours: Vec<crate::domain::energy::HourFeatures>,
    days: Vec<crate::domain::energy::DayIndex>,
}

const DEFINITIONS: &str = "trend_1h = price − previous hour's; volatility_24h = standard deviation of the \
24 hourly prices ending with this one; cost_index = the local day's mean price as a percentage of the \
previous 30 days' mean; period = 2.0TD period of the local hour (P1 10–14 h and 18–22 h, P2 8–10 h, \
14–18 h and 22–24 h, P3 0–8 h, weekends and fixed national holidays P3)";

/// `GET /api/v1/locations/{id}/energy_features?start&end&variable=pvpc`: hourly price features
/// and the daily cost index of the location's price zone (the chocolate factory's features).
pub async fn energy_features(
    State(core): State<Core>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<FeaturesQuery>,
) -> Result<Json<EnergyFeatures>, ApiError> {
    let location = core
        .registry
        .get(&id)
        .ok_or_else(|| ApiError::not_found("unknown_location", format!("no location `{id}`")))?;
    let zone_location = super::native::stored_at(&core, location, Dataset::EnergyPrice);
    let (Some(start), Some(end)) = (query.start.as_deref(), query.end.as_deref()) else {
        return Err(ApiError::bad_request(
            "missing_parameter",
            "give `start` and `end` (ISO dates or date-times)",
        ));
    };
    let range = date_range(start, end, core.config.http.max_range_days)?;
    let variable = query.variable.unwrap_or_else(|| "pvpc".into());
    let known = Dataset::EnergyPrice.variable(&variable).ok_or_else(|| {
        ApiError::bad_request(
            "unknown_variable",
            format!("`{variable}` is not an energy_price variable (pvpc, spot, surplus, …)"),
        )
    })?;
    if Dataset::EnergyPrice.natural_step(&variable) != Some(crate::domain::Step::HOUR) {
        return Err(ApiError::bad_request(
            "unknown_variable",
            format!("the features are hourly: `{variable}` is not an hourly price"),
        ));
    }
    let series = core
        .store
        .series(&zone_location.id, Dataset::EnergyPrice)
        .await?
        .into_iter()
        .find(|s| s.variable == variable)
        .ok_or_else(|| {
            ApiError::not_found(
                "no_data",
                format!("no {variable} prices are stored for {}", zone_location.id),
            )
        })?;
    let zone = TimeZone::get(&zone_location.timezone).unwrap_or(TimeZone::UTC);
    // Thirty-one days before the range give the first day's cost index its history.
    let read = TimeRange {
        start: range.start.plus(-31 * 86_400),
        end: range.end,
    };
    let prices: Vec<(Timestamp, f64)> = core
        .store
        .read(series.id, read)
        .await?
        .into_iter()
        .map(|p| (p.ts, p.value))
        .collect();
    let first = range.start.to_jiff().to_zoned(zone.clone()).date();
    let last = range.end.plus(-1).to_jiff().to_zoned(zone.clone()).date();
    Ok(Json(EnergyFeatures {
        location: location.id.clone(),
        zone: zone_location.id.clone(),
        variable,
        source: series.source.clone(),
        unit: known.unit.into(),
        tariff: "2.0TD",
        definitions: DEFINITIONS,
        hours: crate::domain::energy::hourly(&prices, range.start, &zone),
        days: crate::domain::energy::daily_index(&prices, (first, last), &zone),
    }))
}
