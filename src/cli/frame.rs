//! `almanac frame`: a training frame (see [`crate::query::training`]) written to a file or
//! stdout, as the API's frame route answers it: CSV (default), JSON, Arrow or Parquet. Dates
//! are the location's local days, as on the API.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::Config;
use crate::core::Core;
use crate::domain::resample::Fill;
use crate::domain::{TimeRange, Timestamp};
use crate::query::training::{self, ColumnSpec, FrameRequest, Resolution};

/// What `almanac frame` was asked for.
pub(super) struct FrameArgs {
    pub location: String,
    pub start: String,
    pub end: String,
    pub resolution: String,
    pub columns: Option<String>,
    pub as_of: Option<String>,
    pub lead_hours: u32,
    pub fill: Option<String>,
    pub max_gap: usize,
    pub format: String,
    pub output: Option<PathBuf>,
}

pub(super) async fn frame(config: Config, args: FrameArgs) -> anyhow::Result<ExitCode> {
    let core = Core::open(config).await?;
    let location = core
        .registry
        .get(&args.location)
        .filter(|l| l.enabled)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no enabled location `{}` (almanac locations list)",
                args.location
            )
        })?;
    let zone = &location.timezone;
    let at = |name: &str, raw: &str, end: bool| {
        Timestamp::parse_in(raw, end, zone).map_err(|_| {
            anyhow::anyhow!("--{name} `{raw}` is not a date (2025-05-01) or date-time (2025-05-01T06:00, optionally with Z or ±HH:MM)")
        })
    };
    let (start, end) = (
        at("start", &args.start, false)?,
        at("end", &args.end, true)?,
    );
    let range = TimeRange::new(start, end.plus(1))
        .ok_or_else(|| anyhow::anyhow!("--end is before --start"))?;
    let resolution = match args.resolution.as_str() {
        "hour" => Resolution::Hour,
        "day" => Resolution::Day,
        other => anyhow::bail!("--resolution is hour or day, not `{other}`"),
    };
    let columns = match &args.columns {
        Some(list) => ColumnSpec::parse_list(list)?,
        None => FrameRequest::default_columns(&core, location, resolution).await?,
    };
    let as_of = match &args.as_of {
        Some(raw) => Some(at("as-of", raw, false)?),
        None => None,
    };
    let request = FrameRequest {
        location,
        range,
        resolution,
        columns,
        as_of,
        lead_hours: args.lead_hours,
        fill: match args.fill.as_deref() {
            None | Some("none") => None,
            Some("locf") => Some((Fill::Locf, args.max_gap)),
            Some("linear") => Some((Fill::Linear, args.max_gap)),
            Some(other) => anyhow::bail!("--fill is none, locf or linear, not `{other}`"),
        },
    };
    let frame = training::frame(&core, &request).await?;
    let bytes = match args.format.as_str() {
        "csv" => crate::encode::csv(&frame).into_bytes(),
        "json" => serde_json::to_vec(&frame)?,
        "arrow" => crate::encode::arrow::stream(&frame),
        "parquet" => crate::encode::parquet::file(&frame),
        other => anyhow::bail!("--format is csv, json, arrow or parquet, not `{other}`"),
    };
    match &args.output {
        Some(path) => {
            std::fs::write(path, &bytes)?;
            eprintln!(
                "{}: {} rows × {} columns, {} bytes",
                path.display(),
                frame.time.len(),
                frame.columns.len() + 2,
                bytes.len()
            );
        }
        None => std::io::stdout().lock().write_all(&bytes)?,
    }
    Ok(ExitCode::SUCCESS)
}
