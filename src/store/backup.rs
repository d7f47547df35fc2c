//! Backup and restore of the embedded store. A backup is SQLite's `VACUUM INTO`: one read
//! transaction, so the copy holds exactly what the store held at one instant while it keeps
//! serving and loading (writers go on in the WAL). A restore checks the copy — SQLite's
//! integrity check, and a schema no newer than this almanac's — and refuses a store a running
//! process is using, then puts the copy in place of the store file (its WAL and shared-memory
//! files removed first: an old WAL must never be replayed onto another database).
//! PostgreSQL is backed up with its own tools (`pg_dump`, `pg_basebackup`; see the README).

use std::path::Path;
use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use super::StoreError;
use crate::domain::Timestamp;

/// What a checked copy holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    pub schema_version: i64,
    pub values: i64,
    pub runs: i64,
}

async fn read_only(path: &Path) -> Result<sqlx::SqlitePool, StoreError> {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
        .read_only(true)
        .create_if_missing(false);
    Ok(SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?)
}

/// Checks the store copy at `path`: integrity, a schema this almanac knows, what it holds.
pub async fn check(path: &Path) -> Result<Checked, StoreError> {
    if !path.is_file() {
        return Err(StoreError::Conflict(format!(
            "{} is not a file",
            path.display()
        )));
    }
    let pool = read_only(path).await?;
    let integrity: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&pool)
        .await?;
    if integrity != ["ok"] {
        return Err(StoreError::Corrupt(format!(
            "{} fails SQLite's integrity check: {}",
            path.display(),
            integrity.join("; ")
        )));
    }
    let schema_version: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(&pool)
            .await
            .map_err(|_| {
                StoreError::Corrupt(format!("{} is not an almanac store", path.display()))
            })?;
    let schema_version = schema_version.unwrap_or(0);
    let known = sqlx::migrate!("migrations/sqlite")
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0);
    if schema_version > known {
        return Err(StoreError::Conflict(format!(
            "{} has schema version {schema_version}, newer than this almanac's {known}: restore it with a newer almanac",
            path.display()
        )));
    }
    let values = sqlx::query_scalar("SELECT COUNT(*) FROM observations")
        .fetch_one(&pool)
        .await?;
    let runs = sqlx::query_scalar("SELECT COUNT(*) FROM runs")
        .fetch_one(&pool)
        .await?;
    pool.close().await;
    Ok(Checked {
        schema_version,
        values,
        runs,
    })
}

/// Restores the copy `from` as the store `to`, after [`check`]ing it. Refused while a process
/// has a running run it said was alive in the last `alive_secs` (it is using the store), unless
/// `force`.
pub async fn restore(
    from: &Path,
    to: &Path,
    force: bool,
    now: Timestamp,
    alive_secs: i64,
) -> Result<Checked, StoreError> {
    let checked = check(from).await?;
    if to.is_file() && !force {
        let pool = read_only(to).await?;
        let busy: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM runs WHERE status = 'running' AND heartbeat_at >= $1",
        )
        .bind(now.epoch() - alive_secs)
        .fetch_one(&pool)
        .await
        .unwrap_or(0);
        pool.close().await;
        if busy > 0 {
            return Err(StoreError::Conflict(format!(
                "{} is in use: {busy} runs are running in a live process; stop it (or pass --force)",
                to.display()
            )));
        }
    }
    let io = |what: &str, e: std::io::Error| StoreError::Conflict(format!("{what}: {e}"));
    if let Some(dir) = to.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| io(&format!("creating {}", dir.display()), e))?;
    }
    let staged = to.with_extension("restoring");
    std::fs::copy(from, &staged).map_err(|e| io("copying the backup", e))?;
    std::fs::File::open(&staged)
        .and_then(|f| f.sync_all())
        .map_err(|e| io("syncing the copy", e))?;
    for suffix in ["-wal", "-shm"] {
        let side = std::path::PathBuf::from(format!("{}{suffix}", to.display()));
        match std::fs::remove_file(&side) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&format!("removing {}", side.display()), e)),
        }
    }
    std::fs::rename(&staged, to).map_err(|e| io("putting the copy in place", e))?;
    Ok(checked)
}
