//! The commands that load, change or process what is stored: `init`, `ingest`, `rotate`,
//! `process`, `import`, `delete`, `backfill`. Each prints the operation's summary and fails
//! (exit code 1) when any of its runs did.

use std::path::Path;
use std::process::ExitCode;

use super::{exit_code, progress};
use crate::config::Config;
use crate::core::{Core, Scope};
use crate::domain::{Dataset, TimeRange, Timestamp};
use crate::{ops, sources};

pub(super) async fn init(config: Config, months: Option<u32>) -> anyhow::Result<ExitCode> {
    let months = months.unwrap_or(config.init.months);
    let core = Core::open(config).await?;
    let summary = ops::init::run(&core, months, Timestamp::now(), &progress()).await?;
    print!("{summary}");
    Ok(exit_code(summary.failed()))
}

pub(super) async fn ingest(config: Config) -> anyhow::Result<ExitCode> {
    let core = Core::open(config).await?;
    let summary = ops::ingest::run(&core, Timestamp::now(), &progress()).await?;
    print!("{summary}");
    Ok(exit_code(summary.failed()))
}

pub(super) async fn forecast(config: Config) -> anyhow::Result<ExitCode> {
    let core = Core::open(config).await?;
    let summary = ops::forecast::run(&core, Timestamp::now()).await?;
    for o in &summary.outcomes {
        println!(
            "{}/{} (run {}): {} values stored as issued now, {} rejected{}",
            o.location,
            o.source,
            o.run,
            o.counts.inserted,
            o.counts.rejected,
            o.error
                .as_deref()
                .map(|e| format!("; error: {e}"))
                .unwrap_or_default()
        );
    }
    if summary.outcomes.is_empty() {
        println!("nothing to do: no enabled location names a forecast source (`forecasts`)");
    }
    Ok(exit_code(summary.failed()))
}

pub(super) async fn process(config: Config, location: Option<String>) -> anyhow::Result<ExitCode> {
    let core = Core::open(config).await?;
    if let Some(id) = &location
        && core.registry.get(id).is_none()
    {
        anyhow::bail!("no location `{id}` (almanac locations list)");
    }
    let core = core.scoped(Scope {
        job: None,
        location,
    });
    let summary = ops::process::run(&core, Timestamp::now()).await?;
    for o in &summary.outcomes {
        println!(
            "{}/{} (run {}): {} series processed, {} unchanged; {} windows and new anomalies written{}",
            o.location,
            o.dataset,
            o.run,
            o.chunks,
            o.skipped,
            o.counts.inserted,
            o.error
                .as_deref()
                .map(|e| format!("; error: {e}"))
                .unwrap_or_default()
        );
    }
    Ok(exit_code(summary.failed()))
}

pub(super) async fn rotate(config: Config, months: Option<u32>) -> anyhow::Result<ExitCode> {
    let months = months.unwrap_or(config.rotate.months);
    let rollup_months = config.rotate.rollup_months;
    let core = Core::open(config).await?;
    let (dropped, summary) =
        ops::rotate::run(&core, months, rollup_months, Timestamp::now(), &progress()).await?;
    for d in &dropped {
        println!(
            "{} {} {} ({}): {} values before {} rolled into {} days and dropped; {} expired rollups",
            d.location,
            d.dataset,
            d.variable,
            d.source,
            d.values,
            d.cutoff,
            d.rollup_days,
            d.expired_rollups
        );
    }
    print!("{summary}");
    Ok(exit_code(summary.failed()))
}

/// Loads `file`, read as `kind`, into `location` (or, without one, into the location each
/// value's station or node is named like).
pub(super) async fn import(
    config: Config,
    kind: &str,
    file: &Path,
    location: Option<&str>,
    at: Option<jiff::Timestamp>,
    units: &str,
) -> anyhow::Result<ExitCode> {
    let core = Core::open(config).await?;
    let formats = core.config.sources.csv_import.formats.clone();
    let options = sources::kinds::Options {
        at: at.map(Timestamp::from_jiff),
        units: sources::owm::parse::Units::parse(units).unwrap_or_default(),
        formats: Some(&formats),
    };
    let target = match location {
        Some(id) => ops::import::Target::Location(id),
        None => ops::import::Target::ByOrigin,
    };
    let summary = ops::import::run(&core, kind, file, target, &options).await?;
    print!("{summary}");
    Ok(exit_code(summary.failed()))
}

/// Removes the values of `dataset` at `location` between `from` and `to` (checked before the
/// store is opened), of one variable or source when given.
pub(super) async fn delete(
    config: Config,
    location: &str,
    dataset: Dataset,
    variable: Option<&str>,
    source: Option<&str>,
    (from, to): (Timestamp, Timestamp),
) -> anyhow::Result<ExitCode> {
    let range = TimeRange::new(from, to).ok_or_else(|| anyhow::anyhow!("--to is before --from"))?;
    let core = Core::open(config).await?;
    let selection = ops::delete::Selection {
        location,
        dataset,
        variable,
        source,
        range,
    };
    let (run, deleted) = ops::delete::run(&core, &selection, Timestamp::now()).await?;
    let mut total = 0;
    for d in deleted {
        println!(
            "{location} {dataset} {} ({}): {} values deleted",
            d.variable, d.source, d.values
        );
        total += d.values;
    }
    println!("run {run}");
    println!("{total} values deleted");
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn backfill(
    config: Config,
    dry_run: bool,
    location: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let core = Core::open(config).await?;
    let now = Timestamp::now();
    let plan = ops::backfill::plan(&core, location, None, now).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
    } else {
        for p in &plan.parts {
            println!(
                "{} {} from {}: {} → {}  {} missing, {} request(s)",
                p.location, p.dataset, p.source, p.start, p.end, p.missing, p.requests
            );
        }
        for u in &plan.unreachable {
            println!(
                "{} {}: {} → {}  {} missing, no listed source reaches them",
                u.location, u.dataset, u.start, u.end, u.missing
            );
        }
        for d in &plan.deferred {
            println!(
                "{} {} from {}: {} → {}  not there when last asked ({} attempt(s)); next try after {}",
                d.location, d.dataset, d.source, d.start, d.end, d.attempts, d.retry_at
            );
        }
        println!(
            "plan: {} part(s), {} upstream request(s), {} deferred",
            plan.parts.len(),
            plan.requests(),
            plan.deferred.len()
        );
    }
    if dry_run {
        return Ok(ExitCode::SUCCESS);
    }
    let summary = ops::backfill::run(&core, &plan, now, &progress()).await?;
    if summary.outcomes.is_empty() {
        println!("{}", plan.why_nothing());
    } else {
        print!("{summary}");
    }
    Ok(exit_code(summary.failed()))
}
