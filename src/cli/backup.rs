//! `almanac backup --to FILE` and `almanac restore --from FILE [--force]` (see `store::backup`).

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use crate::config::Config;
use crate::core::Core;
use crate::domain::Timestamp;
use crate::store::backup;

pub(super) async fn backup(config: Config, to: &Path) -> anyhow::Result<ExitCode> {
    let core = Core::open(config).await?;
    let started = Instant::now();
    core.store.backup(to).await?;
    let copy = backup::check(to).await?;
    println!(
        "{}: {} values, {} runs, schema {} ({:.1} MB in {:.1} s); restore with `almanac restore --from {}`",
        to.display(),
        copy.values,
        copy.runs,
        copy.schema_version,
        std::fs::metadata(to).map_or(0.0, |m| m.len() as f64 / 1e6),
        started.elapsed().as_secs_f64(),
        to.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn restore(config: Config, from: &Path, force: bool) -> anyhow::Result<ExitCode> {
    if config.store.url.is_some() {
        anyhow::bail!(
            "store.url names a PostgreSQL store: restore it with pg_restore or from a base backup (see the README)"
        );
    }
    let to = config.sqlite_path();
    let alive = crate::core::STALE_AFTER.as_secs() as i64;
    let restored = backup::restore(from, &to, force, Timestamp::now(), alive).await?;
    // Opening applies the migrations a copy from an older almanac lacks.
    Core::open(config).await?;
    println!(
        "{} restored from {}: {} values, {} runs, schema {}",
        to.display(),
        from.display(),
        restored.values,
        restored.runs,
        restored.schema_version
    );
    Ok(ExitCode::SUCCESS)
}
