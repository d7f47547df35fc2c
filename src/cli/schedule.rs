//! `schedule`: the configured jobs with their cron, next run (local and UTC) and last result.

use std::process::ExitCode;

use crate::config::Config;
use crate::core::Core;
use crate::domain::Timestamp;
use crate::query;

pub(super) async fn show(config: Config) -> anyhow::Result<ExitCode> {
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
        let last = query::runs::last_job(&core, job)
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
