//! The command line: one clap enum, one small function per subcommand. Each builds the
//! [`Core`] it needs and calls the same `ops`/`http` functions the server uses.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::net::TcpListener;

use crate::config::{self, Config};
use crate::core::Core;
use crate::domain::{Coordinates, Timestamp};
use crate::{demo, http, ops, sources};

#[derive(Parser)]
#[command(
    name = "almanac",
    version,
    about = "Fetches, stores, heals and serves external time series"
)]
pub struct Cli {
    /// A TOML file layered over the embedded defaults (environment variables ALMANAC__… win over both).
    #[arg(long, global = true, env = "ALMANAC_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where the embedded store keeps its file (default ./data).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Point every source at the built-in simulated upstream (offline), as `demo` does.
    #[arg(long, global = true)]
    pub demo: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve the HTTP API.
    Serve {
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Offline demo: simulated providers, the real `init` of the whole window, then `serve`.
    Demo {
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Share of upstream requests (0–1) the simulator fails at random (500, 503, 429,
        /// broken bodies, slow answers), to watch retries and breakers work.
        #[arg(long, default_value_t = 0.0)]
        faults: f64,
    },
    /// Load the rolling window for every enabled location (resumable).
    Init {
        /// Calendar months back from now (default: init.months, 24).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1200))]
        months: Option<u32>,
    },
    /// Fetch what is new since each series' last value.
    Ingest,
    /// Keep the rolling window: roll up and drop raw values older than it, load what is missing
    /// (the newest complete month).
    Rotate {
        /// The window in months (default: rotate.months, 24).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1200))]
        months: Option<u32>,
    },
    /// Windowed metrics and anomalies of every series, from what changed since the last time.
    Process {
        /// Only this location.
        #[arg(long)]
        location: Option<String>,
    },
    /// Load a saved file or export into the store, parsed as the live path parses it.
    Import {
        /// One of `almanac sources kinds` (`siar`, `csv:abbanoa`, `aemet_daily`, …).
        kind: String,
        file: PathBuf,
        /// The location every value goes to.
        #[arg(
            long,
            required_unless_present = "by_origin",
            conflicts_with = "by_origin"
        )]
        location: Option<String>,
        /// Each value goes to the location named like its station or node.
        #[arg(long)]
        by_origin: bool,
        /// When the payload was fetched (RFC 3339), for a pre-2019 pm.xml that has no time.
        #[arg(long)]
        at: Option<jiff::Timestamp>,
        /// The `units` an OpenWeatherMap body was requested in.
        #[arg(long, default_value = "standard", value_parser = ["standard", "metric", "imperial"])]
        units: String,
    },
    /// The configured locations.
    Locations {
        #[command(subcommand)]
        command: LocationsCommand,
    },
    /// Print the effective configuration (secrets redacted).
    Config,
    /// Fill the holes of every enabled location: plan requests per source by what each can
    /// serve, then fetch them (or only print the plan).
    Backfill {
        /// Print the plan and its upstream cost; fetch and write nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        location: Option<String>,
        /// The plan as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove stored values (to try `gaps` and `backfill`, or to drop a bad load).
    Delete {
        #[arg(long)]
        location: String,
        #[arg(long, value_parser = parse_dataset)]
        dataset: crate::domain::Dataset,
        /// Only this variable (default: every variable of the dataset).
        #[arg(long)]
        variable: Option<String>,
        /// Only this source's series.
        #[arg(long)]
        source: Option<String>,
        /// First day (YYYY-MM-DD) or instant (RFC 3339).
        #[arg(long, value_parser = parse_instant)]
        from: Timestamp,
        /// Last day, included, or instant (RFC 3339, excluded).
        #[arg(long, value_parser = parse_end)]
        to: Timestamp,
    },
    /// Holes in the stored series: each gap's start, end, missing count and severity.
    Gaps {
        #[arg(long)]
        location: Option<String>,
        #[arg(long, value_parser = parse_dataset)]
        dataset: Option<crate::domain::Dataset>,
        #[arg(long)]
        source: Option<String>,
        /// First day (YYYY-MM-DD) or instant (RFC 3339); default: the init window.
        #[arg(long, value_parser = parse_instant)]
        from: Option<Timestamp>,
        /// Last day, included (YYYY-MM-DD), or instant (RFC 3339, excluded).
        #[arg(long, value_parser = parse_end)]
        to: Option<Timestamp>,
        #[arg(long)]
        json: bool,
    },
    /// The scheduled jobs: their cron, next run (local and UTC) and last result.
    Schedule,
    /// Recent runs, newest first, with their counts, status and error.
    Runs {
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The upstream records a run refused, with the reason for each.
    Rejects {
        run: i64,
        #[arg(long)]
        json: bool,
    },
    /// Providers and their payloads.
    Sources {
        #[command(subcommand)]
        command: SourcesCommand,
    },
}

#[derive(Subcommand)]
pub enum SourcesCommand {
    /// Every configured source: dataset, budgets, circuit, the locations it feeds, last runs.
    List,
    /// The payload kinds `parse` reads.
    Kinds,
    /// Parse a saved upstream payload offline, exactly as the live path does, and print JSON
    /// lines: one per observation, measurement point or rejected record.
    Parse {
        /// One of `almanac sources kinds`.
        kind: String,
        file: PathBuf,
        /// When the payload was fetched (RFC 3339), for a pre-2019 pm.xml that has no time.
        #[arg(long)]
        at: Option<jiff::Timestamp>,
        /// The `units` an OpenWeatherMap body was requested in.
        #[arg(long, default_value = "standard", value_parser = ["standard", "metric", "imperial"])]
        units: String,
    },
}

#[derive(Subcommand)]
pub enum LocationsCommand {
    /// Every location, enabled or not.
    List,
    /// The location that covers a point, and its distance.
    Nearest {
        #[arg(long, allow_negative_numbers = true)]
        lat: f64,
        #[arg(long, allow_negative_numbers = true)]
        lon: f64,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut config = config::load(cli.config.as_deref(), std::env::vars())?;
    if let Some(dir) = cli.data_dir {
        config.store.data_dir = dir;
    }
    if cli.demo && !matches!(cli.command, Command::Demo { .. }) {
        let upstream = demo::start_upstream(0.0).await?;
        demo::use_upstream(&mut config, upstream);
    }
    match cli.command {
        Command::Serve { listen } => serve(config, listen).await,
        Command::Demo { listen, faults } => run_demo(config, listen, faults).await,
        Command::Init { months } => init(config, months).await,
        Command::Ingest => ingest(config).await,
        Command::Process { location } => {
            let core = Core::open(config).await?;
            if let Some(id) = &location
                && core.registry.get(id).is_none()
            {
                anyhow::bail!("no location `{id}` (almanac locations list)");
            }
            let core = core.scoped(crate::core::Scope {
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
        Command::Rotate { months } => {
            let months = months.unwrap_or(config.rotate.months);
            let rollup_months = config.rotate.rollup_months.max(months);
            let core = Core::open(config).await?;
            let (dropped, summary) =
                ops::rotate::run(&core, months, rollup_months, Timestamp::now(), &progress())
                    .await?;
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
        Command::Import {
            kind,
            file,
            location,
            by_origin: _,
            at,
            units,
        } => {
            let core = Core::open(config).await?;
            let formats = core.config.sources.csv_import.formats.clone();
            let options = sources::kinds::Options {
                at: at.map(Timestamp::from_jiff),
                units: sources::owm::parse::Units::parse(&units).unwrap_or_default(),
                formats: Some(&formats),
            };
            let target = match location.as_deref() {
                Some(id) => ops::import::Target::Location(id),
                None => ops::import::Target::ByOrigin,
            };
            let summary = ops::import::run(&core, &kind, &file, target, &options).await?;
            print!("{summary}");
            Ok(exit_code(summary.failed()))
        }
        Command::Locations {
            command: LocationsCommand::List,
        } => Ok(list_locations(&config)),
        Command::Locations {
            command: LocationsCommand::Nearest { lat, lon },
        } => nearest(&config, lat, lon),
        Command::Config => {
            print!("{}", toml::to_string_pretty(&config)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Sources {
            command: SourcesCommand::List,
        } => list_sources(config).await,
        Command::Runs { limit, json } => list_runs(config, limit, json).await,
        Command::Schedule => show_schedule(config).await,
        Command::Delete {
            location,
            dataset,
            variable,
            source,
            from,
            to,
        } => {
            let range = crate::domain::TimeRange::new(from, to)
                .ok_or_else(|| anyhow::anyhow!("--to is before --from"))?;
            let core = Core::open(config).await?;
            let selection = ops::delete::Selection {
                location: &location,
                dataset,
                variable: variable.as_deref(),
                source: source.as_deref(),
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
        Command::Backfill {
            dry_run,
            location,
            json,
        } => backfill(config, dry_run, location.as_deref(), json).await,
        Command::Gaps {
            location,
            dataset,
            source,
            from,
            to,
            json,
        } => {
            let range = match (from, to) {
                (Some(from), Some(to)) => Some(
                    crate::domain::TimeRange::new(from, to)
                        .ok_or_else(|| anyhow::anyhow!("--to is before --from"))?,
                ),
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
        Command::Rejects { run, json } => list_rejects(config, run, json).await,
        Command::Sources {
            command: SourcesCommand::Kinds,
        } => {
            for kind in sources::kinds::KINDS {
                println!("{:<20} {}", kind.name, kind.describes);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Sources {
            command:
                SourcesCommand::Parse {
                    kind,
                    file,
                    at,
                    units,
                },
        } => parse_payload(&config, &kind, &file, at, &units),
    }
}

async fn backfill(
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

fn parse_dataset(text: &str) -> Result<crate::domain::Dataset, String> {
    crate::domain::Dataset::parse(text).ok_or_else(|| {
        let known: Vec<_> = crate::domain::Dataset::ALL
            .iter()
            .map(|d| d.as_str())
            .collect();
        format!("not a dataset (known: {})", known.join(", "))
    })
}

/// A day (its midnight, UTC) or an RFC 3339 instant.
fn parse_instant(text: &str) -> Result<Timestamp, String> {
    if let Ok(date) = text.parse::<jiff::civil::Date>() {
        return Ok(Timestamp::utc_midnight(date));
    }
    text.parse::<jiff::Timestamp>()
        .map(Timestamp::from_jiff)
        .map_err(|_| "neither YYYY-MM-DD nor an RFC 3339 instant".into())
}

/// Like [`parse_instant`], but a day is included whole (the range ends at the next midnight).
fn parse_end(text: &str) -> Result<Timestamp, String> {
    let instant = parse_instant(text)?;
    Ok(if text.parse::<jiff::civil::Date>().is_ok() {
        instant.plus(86_400)
    } else {
        instant
    })
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

async fn show_schedule(config: Config) -> anyhow::Result<ExitCode> {
    let zone = jiff::tz::TimeZone::get(&config.schedule.timezone)?;
    let jobs: Vec<(&'static str, String)> = config
        .schedule
        .jobs()
        .iter()
        .map(|(job, cron)| (*job, (*cron).to_owned()))
        .collect();
    let core = Core::open(config).await?;
    let now = Timestamp::now();
    println!(
        "{:<9} {:<14} {:<27} {:<27} last",
        "job", "cron", "next (local)", "next (UTC)"
    );
    for (job, cron) in jobs {
        let next = if crate::config::ScheduleConfig::is_off(&cron) {
            None
        } else {
            crate::domain::cron::Cron::parse(&cron)
                .map_err(anyhow::Error::msg)?
                .next_after(now, &zone)
        };
        // A job's run has no location; the runs it started name it as their parent.
        let last = core
            .store
            .last_run(job, true)
            .await?
            .map(|r| {
                format!(
                    "{} at {}",
                    r.status.as_str(),
                    Timestamp::from_epoch(r.finished_at.unwrap_or(r.started_at))
                )
            })
            .unwrap_or_else(|| "never".into());
        println!(
            "{job:<9} {cron:<14} {:<27} {:<27} {last}",
            next.map(|t| t
                .to_jiff()
                .to_zoned(zone.clone())
                .strftime("%Y-%m-%d %H:%M %Z")
                .to_string())
                .unwrap_or_else(|| "never".into()),
            next.map(|t| t.to_string())
                .unwrap_or_else(|| "never".into()),
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn list_runs(config: Config, limit: u32, json: bool) -> anyhow::Result<ExitCode> {
    let core = Core::open(config).await?;
    let runs = core.store.runs(limit).await?;
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

async fn list_rejects(config: Config, run: i64, json: bool) -> anyhow::Result<ExitCode> {
    let core = Core::open(config).await?;
    if core.store.runs_by_id(&[run]).await?.is_empty() {
        eprintln!("no run {run} (almanac runs lists them)");
        return Ok(ExitCode::from(1));
    }
    for reject in core.store.rejects(run).await? {
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

async fn list_sources(config: Config) -> anyhow::Result<ExitCode> {
    let core = Core::open(config).await?;
    println!(
        "{:<16} {:<13} {:>6}  {:<32} {:<8} {:<26} {:<26} locations",
        "source", "dataset", "step", "budgets", "circuit", "last success", "last failure"
    );
    for s in ops::sources::status(&core).await? {
        println!(
            "{:<16} {:<13} {:>5}s  {:<32} {:<8} {:<26} {:<26} {}",
            s.id,
            s.dataset,
            s.step_seconds,
            s.budgets.join(" "),
            s.circuit,
            s.last_success.as_deref().unwrap_or("never"),
            s.last_failure.as_deref().unwrap_or("never"),
            s.locations.join(",")
        );
        if let Some(error) = s.last_error {
            println!("{:<16} last error: {error}", "");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_payload(
    config: &Config,
    kind: &str,
    file: &std::path::Path,
    at: Option<jiff::Timestamp>,
    units: &str,
) -> anyhow::Result<ExitCode> {
    let options = sources::kinds::Options {
        at: at.map(Timestamp::from_jiff),
        units: sources::owm::parse::Units::parse(units).unwrap_or_default(),
        formats: Some(&config.sources.csv_import.formats),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let parsed = sources::kinds::parse(kind, file, &options, &mut out);
    // A reader that stops early (`| head`) closes the pipe: not an error.
    let _ = std::io::Write::flush(&mut out);
    match parsed {
        Ok(tally) => {
            eprintln!(
                "{}: {} observations, {} points, {} rejected",
                file.display(),
                tally.observations,
                tally.points,
                tally.rejects
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            Ok(ExitCode::from(1))
        }
    }
}

async fn serve(mut config: Config, listen: Option<SocketAddr>) -> anyhow::Result<ExitCode> {
    config.http.listen = listen.unwrap_or(config.http.listen);
    let address = config.http.listen;
    let core = Core::open(config).await?;
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("binding {address}"))?;
    tracing::info!(address = %listener.local_addr()?, "serving");
    serve_with_jobs(core, listener).await?;
    Ok(ExitCode::SUCCESS)
}

/// Serves HTTP on `listener` and, unless `schedule.enabled` is off, runs the scheduled jobs
/// beside it until the server shuts down.
async fn serve_with_jobs(core: Core, listener: TcpListener) -> anyhow::Result<()> {
    let (stop, stopped) = tokio::sync::watch::channel(());
    let jobs = if core.config.schedule.enabled {
        let scheduler = crate::scheduler::Scheduler::configured(&core)?;
        let mut stopped = stopped.clone();
        Some(tokio::spawn(scheduler.run(async move {
            let _ = stopped.changed().await;
        })))
    } else {
        tracing::info!("the scheduler is off (schedule.enabled = false)");
        None
    };
    let served = http::serve(core, listener).await;
    drop(stop);
    if let Some(jobs) = jobs {
        let _ = jobs.await;
    }
    served
}

async fn run_demo(
    mut config: Config,
    listen: Option<SocketAddr>,
    faults: f64,
) -> anyhow::Result<ExitCode> {
    config.http.listen = listen.unwrap_or(config.http.listen);
    let upstream = demo::start_upstream(faults).await?;
    demo::use_upstream(&mut config, upstream);
    demo::water::configure(&mut config);
    eprintln!(
        "demo: simulated Open-Meteo, AEMET, REE and Madrid traffic on http://{upstream}; loading {} months into {}",
        config.init.months,
        config.sqlite_path().display()
    );
    let (address, months) = (config.http.listen, config.init.months);
    let core = Core::open(config).await?;
    let summary = ops::init::run(&core, months, Timestamp::now(), &progress()).await?;
    eprint!("{summary}");
    demo::load_water(&core, &core.config.store.data_dir, 21).await?;
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("binding {address}"))?;
    let bound = listener.local_addr()?;
    println!("almanac demo ready on http://{bound}");
    println!("  curl 'http://{bound}/api/v1/external/cities'");
    let yesterday = Timestamp::now().plus(-86_400).utc_date();
    println!(
        "  curl 'http://{bound}/api/v1/tenants/8a7c9f5e-1b2d-4e3f-9a8b-7c6d5e4f3a2b/external/operations/historical-weather-optimized?latitude=40.42&longitude=-3.70&start_date={yesterday}&end_date={yesterday}'"
    );
    // Traffic history comes a month at a time: a day of last month.
    let last_month = Timestamp::now().months_before(1).utc_date();
    println!(
        "  curl 'http://{bound}/api/v1/tenants/8a7c9f5e-1b2d-4e3f-9a8b-7c6d5e4f3a2b/external/operations/historical-traffic-optimized?latitude=40.42&longitude=-3.70&start_date={last_month}&end_date={last_month}'"
    );
    println!(
        "  curl 'http://{bound}/api/v1/locations/madrid/energy_price?start={yesterday}&end={yesterday}'"
    );
    println!("  curl 'http://{bound}/api/v1/network/efficiency'");
    println!("  curl 'http://{bound}/api/v1/anomalies?hours=720'");
    serve_with_jobs(core, listener).await?;
    Ok(ExitCode::SUCCESS)
}

async fn init(config: Config, months: Option<u32>) -> anyhow::Result<ExitCode> {
    let months = months.unwrap_or(config.init.months);
    let core = Core::open(config).await?;
    let summary = ops::init::run(&core, months, Timestamp::now(), &progress()).await?;
    print!("{summary}");
    Ok(exit_code(summary.failed()))
}

async fn ingest(config: Config) -> anyhow::Result<ExitCode> {
    let core = Core::open(config).await?;
    let summary = ops::ingest::run(&core, Timestamp::now(), &progress()).await?;
    print!("{summary}");
    Ok(exit_code(summary.failed()))
}

fn list_locations(config: &Config) -> ExitCode {
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

fn nearest(config: &Config, lat: f64, lon: f64) -> anyhow::Result<ExitCode> {
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

/// A progress bar on a terminal; invisible otherwise (logs and CI output stay clean).
fn progress() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let style =
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} chunks {msg} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    ProgressBar::new(0).with_style(style)
}

fn exit_code(failed: bool) -> ExitCode {
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap's own checks of the command line (conflicting names, bad defaults, …), which it
    /// otherwise makes only when a debug build parses arguments that reach the flaw.
    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
