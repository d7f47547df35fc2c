//! What is stored and configured, printed: `runs`, `rejects`, `gaps`, `locations list` and
//! `nearest`, `config`.

use std::process::ExitCode;

use crate::config::Config;
use crate::core::Core;
use crate::domain::{Coordinates, Dataset, TimeRange, Timestamp};
use crate::{ops, query};

/// The holes of the selected series over `from`–`to` (both or neither; checked before the
/// store is opened), or over the init window.
pub(super) async fn gaps(
    config: Config,
    location: Option<String>,
    dataset: Option<Dataset>,
    source: Option<String>,
    (from, to): (Option<Timestamp>, Option<Timestamp>),
    json: bool,
) -> anyhow::Result<ExitCode> {
    let range = match (from, to) {
        (Some(from), Some(to)) => {
            Some(TimeRange::new(from, to).ok_or_else(|| anyhow::anyhow!("--to is before --from"))?)
        }
        (None, None) => None,
        _ => anyhow::bail!("give both --from and --to, or neither"),
    };
    let selection = ops::gaps::Selection {
        location,
        dataset,
        source,
        range,
    };
    show_gaps(config, &selection, json).await
}

async fn show_gaps(
    config: Config,
    selection: &ops::gaps::Selection,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let core = Core::open(config).await?;
    let found = ops::gaps::find(&core, selection, Timestamp::now()).await?;
    for series in &found {
        if json {
            println!("{}", serde_json::to_string(series)?);
            continue;
        }
        let share = series.present as f64 / series.expected.max(1) as f64 * 100.0;
        println!(
            "{} {} {} ({}): {}/{} present ({share:.1} %), {} gaps",
            series.location,
            series.dataset,
            series.variable,
            series.source,
            series.present,
            series.expected,
            series.gaps.len()
        );
        const SHOWN: usize = 20;
        for gap in series.gaps.iter().take(SHOWN) {
            println!(
                "    {:<9} {} → {}  {} missing",
                gap.severity.as_str(),
                gap.start,
                gap.end,
                gap.missing
            );
        }
        if series.gaps.len() > SHOWN {
            println!(
                "    … and {} more (--json lists them all)",
                series.gaps.len() - SHOWN
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn list_runs(config: Config, limit: u32, json: bool) -> anyhow::Result<ExitCode> {
    let core = Core::open(config).await?;
    let runs = query::runs::recent(&core, limit).await?;
    if json {
        for run in &runs {
            println!("{}", serde_json::to_string(run)?);
        }
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:>6} {:>6} {:<8} {:<26} {:<14} {:<13} {:<15} {:<10} {:>9} {:>8} {:>9} {:>8}",
        "run",
        "job",
        "op",
        "started",
        "location",
        "dataset",
        "source",
        "status",
        "inserted",
        "updated",
        "unchanged",
        "rejected"
    );
    for run in runs {
        println!(
            "{:>6} {:>6} {:<8} {:<26} {:<14} {:<13} {:<15} {:<10} {:>9} {:>8} {:>9} {:>8}",
            run.id,
            run.parent.map_or_else(|| "-".to_owned(), |p| p.to_string()),
            run.operation,
            Timestamp::from_epoch(run.started_at).to_string(),
            run.location.as_deref().unwrap_or("-"),
            run.dataset.as_deref().unwrap_or("-"),
            run.source.as_deref().unwrap_or("-"),
            run.status.as_str(),
            run.counts.inserted,
            run.counts.updated,
            run.counts.unchanged,
            run.counts.rejected
        );
        if let Some(error) = run.error {
            println!("{:>6} error: {error}", "");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn list_rejects(config: Config, run: i64, json: bool) -> anyhow::Result<ExitCode> {
    let core = Core::open(config).await?;
    let Some(rejects) = query::runs::rejects(&core, run).await? else {
        eprintln!("no run {run} (almanac runs lists them)");
        return Ok(ExitCode::from(1));
    };
    for reject in rejects {
        if json {
            println!(
                "{}",
                serde_json::json!({"reason": reject.reason, "record": reject.record})
            );
        } else {
            println!("{}\n    {}", reject.reason, reject.record);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn list_locations(config: &Config) -> ExitCode {
    println!(
        "{:<12} {:<20} {:<8} {:>9} {:>10} {:>7}  {:<16} sources",
        "id", "name", "enabled", "latitude", "longitude", "radius", "timezone"
    );
    for l in config.registry().all() {
        let sources: Vec<String> = l
            .sources
            .iter()
            .map(|(d, s)| format!("{d}={}", s.join(">")))
            .collect();
        println!(
            "{:<12} {:<20} {:<8} {:>9.4} {:>10.4} {:>5} km  {:<16} {}",
            l.id,
            l.name,
            l.enabled,
            l.coordinates.latitude,
            l.coordinates.longitude,
            l.radius_km,
            l.timezone_name(),
            sources.join(" ")
        );
    }
    ExitCode::SUCCESS
}

pub(super) fn nearest(config: &Config, lat: f64, lon: f64) -> anyhow::Result<ExitCode> {
    let point = Coordinates::new(lat, lon)?;
    let registry = config.registry();
    match registry.nearest(point) {
        Ok(m) => {
            println!(
                "{} ({}) at {:.2} km, within its {} km radius",
                m.location.id, m.location.name, m.distance_km, m.location.radius_km
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(not_covered) => {
            println!("not covered: {not_covered}");
            Ok(ExitCode::from(1))
        }
    }
}

pub(super) fn print_config(config: &Config) -> anyhow::Result<ExitCode> {
    print!("{}", toml::to_string_pretty(config)?);
    Ok(ExitCode::SUCCESS)
}
