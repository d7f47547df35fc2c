//! The command line: one clap enum, one small function per subcommand. Each builds the
//! [`Core`](crate::core::Core) it needs and calls the same `ops`/`query`/`http` functions the
//! server uses.
//!
//! Rooms: this file (the clap definitions, [`run`]'s dispatch, the argument parsers and small
//! helpers the commands share), `serve.rs` (`serve`, `demo`), `load.rs` (the commands that
//! write: `init`, `ingest`, `forecast`, `rotate`, `process`, `import`, `delete`, `backfill`), `inspect.rs`
//! (what is stored and configured: `runs`, `rejects`, `gaps`, `locations`, `config`),
//! `sources.rs` (`sources list`, `kinds`, `parse`), `schedule.rs` (`schedule`).

mod backup;
mod frame;
mod inspect;
mod keys;
mod load;
mod models;
mod schedule;
mod serve;
mod sources;

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::domain::Timestamp;
use crate::{config, demo};

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
    /// Fetch each location's weather forecasts and store them as issued now.
    Forecast,
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
    /// Copy the embedded store, as it is at one instant, to a new file while it serves and
    /// loads (PostgreSQL: use pg_dump or pg_basebackup).
    Backup {
        /// The copy to make (must not exist).
        #[arg(long)]
        to: PathBuf,
    },
    /// Put a backup in place of the embedded store after checking it (integrity, schema);
    /// refused while a live process is running jobs on the store.
    Restore {
        /// The backup to restore.
        #[arg(long)]
        from: PathBuf,
        /// Restore even if a process seems to be using the store.
        #[arg(long)]
        force: bool,
    },
    /// Make an API key for the read API: prints the key (for the client) and its SHA-256
    /// digest (for `[http.api_keys]`; almanac never stores the key itself).
    ApiKey {
        /// The key's name in `[http.api_keys]` (who uses it; rate limits count per key).
        name: String,
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
    /// A training frame of one location: weather, traffic, prices, sensors, forecasts and the
    /// calendar on one hourly or daily grid (as the API's /frame).
    Frame {
        /// The location (id or alias).
        location: String,
        /// First local day (2025-05-01) or instant.
        #[arg(long)]
        start: String,
        /// Last local day, included, or instant.
        #[arg(long)]
        end: String,
        /// hour or day (the location's local days).
        #[arg(long, default_value = "hour")]
        resolution: String,
        /// `dataset.variable`, `forecast.<variable>`, `calendar` or `calendar.<column>`, comma-separated;
        /// default: everything stored and the calendar.
        #[arg(long)]
        columns: Option<String>,
        /// The frame as it could have been built at this instant.
        #[arg(long)]
        as_of: Option<String>,
        /// Forecast columns use forecasts made at least this many hours before each hour.
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=384))]
        lead_hours: u32,
        /// Fill runs of at most --max-gap missing rows: none, locf or linear.
        #[arg(long)]
        fill: Option<String>,
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=1000))]
        max_gap: u64,
        /// csv, json, arrow or parquet.
        #[arg(long, default_value = "csv")]
        format: String,
        /// Write here instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
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
    /// Forecasting models: list, train, backtest, predict, promote, rollback.
    Models {
        #[command(subcommand)]
        command: models::ModelsCommand,
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
        Command::Serve { listen } => serve::serve(config, listen).await,
        Command::Demo { listen, faults } => serve::demo(config, listen, faults).await,
        Command::Init { months } => load::init(config, months).await,
        Command::Backup { to } => backup::backup(config, &to).await,
        Command::ApiKey { name } => keys::api_key(&name),
        Command::Restore { from, force } => backup::restore(config, &from, force).await,
        Command::Ingest => load::ingest(config).await,
        Command::Forecast => load::forecast(config).await,
        Command::Process { location } => load::process(config, location).await,
        Command::Rotate { months } => load::rotate(config, months).await,
        Command::Import {
            kind,
            file,
            location,
            by_origin: _,
            at,
            units,
        } => load::import(config, &kind, &file, location.as_deref(), at, &units).await,
        Command::Locations {
            command: LocationsCommand::List,
        } => Ok(inspect::list_locations(&config)),
        Command::Locations {
            command: LocationsCommand::Nearest { lat, lon },
        } => inspect::nearest(&config, lat, lon),
        Command::Config => inspect::print_config(&config),
        Command::Sources {
            command: SourcesCommand::List,
        } => sources::list(config).await,
        Command::Runs { limit, json } => inspect::list_runs(config, limit, json).await,
        Command::Schedule => schedule::show(config).await,
        Command::Delete {
            location,
            dataset,
            variable,
            source,
            from,
            to,
        } => {
            load::delete(
                config,
                &location,
                dataset,
                variable.as_deref(),
                source.as_deref(),
                (from, to),
            )
            .await
        }
        Command::Backfill {
            dry_run,
            location,
            json,
        } => load::backfill(config, dry_run, location.as_deref(), json).await,
        Command::Gaps {
            location,
            dataset,
            source,
            from,
            to,
            json,
        } => inspect::gaps(config, location, dataset, source, (from, to), json).await,
        Command::Frame {
            location,
            start,
            end,
            resolution,
            columns,
            as_of,
            lead_hours,
            fill,
            max_gap,
            format,
            output,
        } => {
            let args = frame::FrameArgs {
                location,
                start,
                end,
                resolution,
                columns,
                as_of,
                lead_hours,
                fill,
                max_gap: max_gap as usize,
                format,
                output,
            };
            frame::frame(config, args).await
        }
        Command::Models { command } => models::run(config, command).await,
        Command::Rejects { run, json } => inspect::list_rejects(config, run, json).await,
        Command::Sources {
            command: SourcesCommand::Kinds,
        } => Ok(sources::kinds()),
        Command::Sources {
            command:
                SourcesCommand::Parse {
                    kind,
                    file,
                    at,
                    units,
                },
        } => sources::parse_payload(&config, &kind, &file, at, &units),
    }
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
