//! `sources list` (every configured source and its state), `sources kinds` and `sources parse`
//! (a saved payload parsed offline, as the live path parses it).

use std::process::ExitCode;

use crate::config::Config;
use crate::core::Core;
use crate::domain::Timestamp;
use crate::{ops, sources};

pub(super) async fn list(config: Config) -> anyhow::Result<ExitCode> {
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

pub(super) fn kinds() -> ExitCode {
    for kind in sources::kinds::KINDS {
        println!("{:<20} {}", kind.name, kind.describes);
    }
    ExitCode::SUCCESS
}

pub(super) fn parse_payload(
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
