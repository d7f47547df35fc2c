//! `almanac models list|train|backtest|predict|promote|rollback`.

use std::process::ExitCode;

use super::exit_code;
use crate::config::Config;
use crate::core::Core;
use crate::domain::Timestamp;
use crate::ops;
use crate::query;

#[derive(clap::Subcommand)]
pub enum ModelsCommand {
    /// Every configured model, its champion and shadow with their backtest figures.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Train a new version now (every enabled model when none is named).
    Train { model: Option<String> },
    /// Fit and backtest now and print the figures; nothing is stored.
    Backtest { model: String },
    /// Judge the versions and store each live version's forecast now (every model when none
    /// is named).
    Predict { model: Option<String> },
    /// Make the shadow version the champion now.
    Promote { model: String },
    /// Put back the version the champion replaced.
    Rollback { model: String },
}

pub(super) async fn run(config: Config, command: ModelsCommand) -> anyhow::Result<ExitCode> {
    let core = Core::open(config).await?;
    let now = Timestamp::now();
    let named = |model: &Option<String>| -> anyhow::Result<Vec<String>> {
        Ok(match model {
            Some(id) => {
                ops::model::exists(&core, id)?;
                vec![id.clone()]
            }
            None => core
                .config
                .models
                .iter()
                .filter(|(_, m)| m.enabled)
                .map(|(id, _)| id.clone())
                .collect(),
        })
    };
    let why = "requested from the command line";
    match command {
        ModelsCommand::List { json } => {
            let models = query::models::list(&core).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&models)?);
                return Ok(ExitCode::SUCCESS);
            }
            if models.is_empty() {
                println!("no model is configured ([models.<id>])");
            }
            for m in models {
                println!(
                    "{} — {} {}.{} at {}, {} h ahead ({}), {} versions",
                    m.id,
                    m.family,
                    m.dataset,
                    m.variable,
                    m.location,
                    m.horizon_hours,
                    m.resolution,
                    m.versions
                );
                for (role, v) in [("champion", &m.champion), ("shadow", &m.shadow)] {
                    if let Some(v) = v {
                        println!(
                            "  {role}: version {} trained {} — {}",
                            v.version,
                            v.created_at,
                            ops::model::figures(&v.metrics)
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ModelsCommand::Train { model } => {
            let mut failed = false;
            for id in named(&model)? {
                let o = ops::model::train(&core, &id, now, why).await?;
                failed |= o.error.is_some();
                match o.error {
                    Some(error) => println!("{id} (run {}): failed: {error}", o.run),
                    None => println!("{id} (run {}): {}", o.run, o.note.unwrap_or_default()),
                }
            }
            Ok(exit_code(failed))
        }
        ModelsCommand::Backtest { model } => {
            let found = ops::model::evaluate(&core, &model, now).await?;
            ops::model::track(&core, &model, None, &found, now).await;
            println!(
                "{}",
                serde_json::to_string_pretty(&found.evaluation.metrics)?
            );
            Ok(ExitCode::SUCCESS)
        }
        ModelsCommand::Predict { model } => {
            let mut failed = false;
            for id in named(&model)? {
                for action in ops::model::judge(&core, &id, now).await? {
                    println!("{id}: {action}");
                }
                let o = ops::model::predict(&core, &id, now).await?;
                failed |= o.error.is_some();
                match o.error {
                    Some(error) => println!("{id} (run {}): failed: {error}", o.run),
                    None => println!(
                        "{id} (run {}): {} values stored; {}",
                        o.run,
                        o.counts.inserted,
                        o.note.unwrap_or_default()
                    ),
                }
            }
            Ok(exit_code(failed))
        }
        ModelsCommand::Promote { model } => {
            println!("{}", ops::model::promote(&core, &model, now, why).await?);
            Ok(ExitCode::SUCCESS)
        }
        ModelsCommand::Rollback { model } => {
            println!("{}", ops::model::roll_back(&core, &model, now, why).await?);
            Ok(ExitCode::SUCCESS)
        }
    }
}
