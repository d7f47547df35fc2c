//! Reads both backends state in the same SQL (`$n` parameters, which SQLite reads as positions
//! too), written once as a macro expanded into each backend, as `processing.rs` does for what
//! `process` keeps. The `Store` trait requires [`Shared`].

use super::{Run, StoreError};

#[async_trait::async_trait]
pub trait Shared: Send + Sync {
    /// The newest finished run of `operation` (one that is not running); with `jobs_only`, only
    /// a job's own run (no location, no parent), not the runs it started.
    async fn last_run(&self, operation: &str, jobs_only: bool) -> Result<Option<Run>, StoreError>;
}

macro_rules! shared_impl {
    ($backend:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::Shared for $backend {
            async fn last_run(
                &self,
                operation: &str,
                jobs_only: bool,
            ) -> Result<Option<$crate::store::Run>, $crate::store::StoreError> {
                let row: Option<$crate::store::rows::RunRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    $crate::store::rows::run_columns!(),
                    " FROM runs WHERE operation = $1 AND status <> 'running'",
                    " AND ($2 = 0 OR (location_id IS NULL AND parent_id IS NULL))",
                    " ORDER BY id DESC LIMIT 1"
                ))
                .bind(operation)
                .bind(i64::from(jobs_only))
                .fetch_optional(&self.pool)
                .await?;
                row.map($crate::store::rows::run).transpose()
            }
        }
    };
}
pub(super) use shared_impl;
