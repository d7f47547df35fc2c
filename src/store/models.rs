//! Forecasting models' versions and their predictions, on either backend (the SQL is the same,
//! written once as a macro like `forecasts.rs`). A version's parameters, metrics and fitted state
//! are JSON the store keeps and does not read; at most one version of a model is the champion
//! and one the shadow (unique partial indexes), and status changes happen together in one
//! transaction.

use super::{RunId, StoreError};
use crate::domain::{TimeRange, Timestamp};

pub type VersionId = i64;

/// Where a version stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionStatus {
    /// Serves the model's forecasts.
    Champion,
    /// Forecasts beside the champion, scored, until promoted or retired.
    Shadow,
    Retired,
}

impl VersionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VersionStatus::Champion => "champion",
            VersionStatus::Shadow => "shadow",
            VersionStatus::Retired => "retired",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "champion" => VersionStatus::Champion,
            "shadow" => VersionStatus::Shadow,
            "retired" => VersionStatus::Retired,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "model version status `{other}`"
                )));
            }
        })
    }
}

/// A version to add.
#[derive(Clone, Debug)]
pub struct NewVersion<'a> {
    pub model: &'a str,
    pub family: &'a str,
    pub params: &'a str,
    pub train: TimeRange,
    pub data_version: i64,
    pub metrics: &'a str,
    pub state: &'a str,
    pub status: VersionStatus,
    pub created_at: Timestamp,
    pub reason: Option<&'a str>,
    pub run: Option<RunId>,
}

/// A stored version.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredVersion {
    pub id: VersionId,
    pub model: String,
    /// 1, 2, … per model.
    pub version: i64,
    pub family: String,
    pub status: VersionStatus,
    pub params: String,
    pub train: TimeRange,
    pub data_version: i64,
    pub metrics: String,
    pub state: String,
    pub created_at: Timestamp,
    /// When its status last changed, and why.
    pub status_at: Timestamp,
    pub reason: Option<String>,
    /// The champion it replaced when it was promoted.
    pub previous: Option<VersionId>,
    pub run: Option<RunId>,
}

/// A status change.
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    pub id: VersionId,
    pub status: VersionStatus,
    pub reason: String,
    /// Set the version it replaced (on promotion).
    pub previous: Option<VersionId>,
}

pub use crate::domain::model::Predicted as PredictionRow;

/// A stored prediction and when it was issued.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StoredPrediction {
    pub issued_at: Timestamp,
    pub row: PredictionRow,
}

#[async_trait::async_trait]
pub trait Models: Send + Sync {
    /// Adds a version (numbered one past the model's last), after applying `first` (e.g. the
    /// retirement of a shadow it replaces), in one transaction.
    async fn add_version(
        &self,
        version: &NewVersion<'_>,
        first: &[Transition],
    ) -> Result<StoredVersion, StoreError>;
    /// A model's versions, newest first.
    async fn versions(&self, model: &str) -> Result<Vec<StoredVersion>, StoreError>;
    /// Applies the changes together (retirements first, so a promotion never meets two
    /// champions).
    async fn transition(&self, changes: &[Transition], at: Timestamp) -> Result<(), StoreError>;
    /// Stores one issue of a version's forecast (again: replaced); returns the values written.
    async fn write_predictions(
        &self,
        version: VersionId,
        issued_at: Timestamp,
        rows: &[PredictionRow],
    ) -> Result<u64, StoreError>;
    /// The version's newest issue made by `by`: its time and values, by target instant.
    async fn latest_predictions(
        &self,
        version: VersionId,
        by: Timestamp,
    ) -> Result<Option<(Timestamp, Vec<PredictionRow>)>, StoreError>;
    /// Every issue's predictions of the version for targets in `targets`, issued in `issued`,
    /// by target then issue.
    async fn predictions(
        &self,
        version: VersionId,
        targets: TimeRange,
        issued: TimeRange,
    ) -> Result<Vec<StoredPrediction>, StoreError>;
    /// Removes every issue made before `before`; returns how many values went.
    async fn drop_predictions_before(&self, before: Timestamp) -> Result<u64, StoreError>;
}

type VersionRow = (
    i64,
    String,
    i64,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    String,
    String,
    i64,
    i64,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

pub(super) fn version(row: VersionRow) -> Result<StoredVersion, StoreError> {
    Ok(StoredVersion {
        id: row.0,
        model: row.1,
        version: row.2,
        family: row.3,
        status: VersionStatus::parse(&row.4)?,
        params: row.5,
        train: TimeRange {
            start: Timestamp::from_epoch(row.6),
            end: Timestamp::from_epoch(row.7),
        },
        data_version: row.8,
        metrics: row.9,
        state: row.10,
        created_at: Timestamp::from_epoch(row.11),
        status_at: Timestamp::from_epoch(row.12),
        reason: row.13,
        previous: row.14,
        run: row.15,
    })
}

pub(super) type PredictionTuple = (
    i64,
    i64,
    f64,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
);

pub(super) fn prediction(r: PredictionTuple) -> StoredPrediction {
    StoredPrediction {
        issued_at: Timestamp::from_epoch(r.0),
        row: PredictionRow {
            ts: Timestamp::from_epoch(r.1),
            value: r.2,
            lower_80: r.3,
            upper_80: r.4,
            lower_95: r.5,
            upper_95: r.6,
        },
    }
}

/// The `Models` impl of `$backend` (sqlx database `$db`, `$per_statement` rows of eight values at
/// most per statement).
macro_rules! models_impl {
    ($backend:ty, $db:ty, $per_statement:expr) => {
        impl $backend {
            async fn apply_transitions(
                tx: &mut sqlx::Transaction<'static, $db>,
                changes: &[$crate::store::models::Transition],
                at: $crate::domain::Timestamp,
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::models::VersionStatus;
                // Retirements first, then shadows, then champions: the unique indexes never
                // see two of a kind in between.
                let order = |s: VersionStatus| match s {
                    VersionStatus::Retired => 0,
                    VersionStatus::Shadow => 1,
                    VersionStatus::Champion => 2,
                };
                let mut changes: Vec<_> = changes.iter().collect();
                changes.sort_by_key(|c| order(c.status));
                for c in changes {
                    sqlx::query(
                        "UPDATE model_versions SET status = $1, status_at = $2, reason = $3,
                           previous_id = COALESCE($4, previous_id)
                         WHERE id = $5",
                    )
                    .bind(c.status.as_str())
                    .bind(at.epoch())
                    .bind(&c.reason)
                    .bind(c.previous)
                    .bind(c.id)
                    .execute(&mut **tx)
                    .await?;
                }
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::Models for $backend {
            async fn add_version(
                &self,
                v: &$crate::store::models::NewVersion<'_>,
                first: &[$crate::store::models::Transition],
            ) -> Result<$crate::store::models::StoredVersion, $crate::store::StoreError> {
                let (_turn, mut tx) = self.begin_write().await?;
                Self::apply_transitions(&mut tx, first, v.created_at).await?;
                // The columns in `versions` and here are those `models::version` reads.
                let row = sqlx::query_as(
                    "INSERT INTO model_versions (model_id, version, family, status, params,
                       train_start, train_end, data_version, metrics, state, created_at,
                       status_at, reason, run_id)
                     SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4, $5, $6, $7, $8, $9,
                       $10, $10, $11, $12
                     FROM model_versions WHERE model_id = $1
                     RETURNING id, model_id, version, family, status, params, train_start, train_end, data_version,
                       metrics, state, created_at, status_at, reason, previous_id, run_id",
                )
                    .bind(v.model)
                    .bind(v.family)
                    .bind(v.status.as_str())
                    .bind(v.params)
                    .bind(v.train.start.epoch())
                    .bind(v.train.end.epoch())
                    .bind(v.data_version)
                    .bind(v.metrics)
                    .bind(v.state)
                    .bind(v.created_at.epoch())
                    .bind(v.reason)
                    .bind(v.run)
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await?;
                $crate::store::models::version(row)
            }

            async fn versions(
                &self,
                model: &str,
            ) -> Result<Vec<$crate::store::models::StoredVersion>, $crate::store::StoreError> {
                let rows = self
                    .retry(|| {
                        sqlx::query_as(
                            "SELECT id, model_id, version, family, status, params, train_start, train_end, data_version,
                               metrics, state, created_at, status_at, reason, previous_id, run_id
                             FROM model_versions WHERE model_id = $1 ORDER BY version DESC",
                        )
                        .bind(model)
                        .fetch_all(&self.pool)
                    })
                    .await?;
                rows.into_iter().map($crate::store::models::version).collect()
            }

            async fn transition(
                &self,
                changes: &[$crate::store::models::Transition],
                at: $crate::domain::Timestamp,
            ) -> Result<(), $crate::store::StoreError> {
                let (_turn, mut tx) = self.begin_write().await?;
                Self::apply_transitions(&mut tx, changes, at).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn write_predictions(
                &self,
                version: $crate::store::models::VersionId,
                issued_at: $crate::domain::Timestamp,
                rows: &[$crate::store::models::PredictionRow],
            ) -> Result<u64, $crate::store::StoreError> {
                let (_turn, mut tx) = self.begin_write().await?;
                let mut written = 0;
                for batch in rows.chunks($per_statement) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO predictions (version_id, issued_at, ts, value, lower_80,
                           upper_80, lower_95, upper_95) ",
                    );
                    insert.push_values(batch, |mut b, r| {
                        b.push_bind(version)
                            .push_bind(issued_at.epoch())
                            .push_bind(r.ts.epoch())
                            .push_bind(r.value)
                            .push_bind(r.lower_80)
                            .push_bind(r.upper_80)
                            .push_bind(r.lower_95)
                            .push_bind(r.upper_95);
                    });
                    insert.push(
                        " ON CONFLICT (version_id, issued_at, ts) DO UPDATE SET
                          value = excluded.value, lower_80 = excluded.lower_80,
                          upper_80 = excluded.upper_80, lower_95 = excluded.lower_95,
                          upper_95 = excluded.upper_95",
                    );
                    written += insert.build().execute(&mut *tx).await?.rows_affected();
                }
                tx.commit().await?;
                Ok(written)
            }

            async fn latest_predictions(
                &self,
                version: $crate::store::models::VersionId,
                by: $crate::domain::Timestamp,
            ) -> Result<
                Option<(
                    $crate::domain::Timestamp,
                    Vec<$crate::store::models::PredictionRow>,
                )>,
                $crate::store::StoreError,
            > {
                let rows: Vec<$crate::store::models::PredictionTuple> = self
                    .retry(|| {
                        sqlx::query_as(
                            "SELECT issued_at, ts, value, lower_80, upper_80, lower_95, upper_95
                             FROM predictions
                             WHERE version_id = $1 AND issued_at = (
                               SELECT MAX(issued_at) FROM predictions
                               WHERE version_id = $1 AND issued_at <= $2)
                             ORDER BY ts",
                        )
                        .bind(version)
                        .bind(by.epoch())
                        .fetch_all(&self.pool)
                    })
                    .await?;
                let Some(first) = rows.first() else {
                    return Ok(None);
                };
                let issued = $crate::domain::Timestamp::from_epoch(first.0);
                Ok(Some((
                    issued,
                    rows.into_iter()
                        .map(|r| $crate::store::models::prediction(r).row)
                        .collect(),
                )))
            }

            async fn predictions(
                &self,
                version: $crate::store::models::VersionId,
                targets: $crate::domain::TimeRange,
                issued: $crate::domain::TimeRange,
            ) -> Result<Vec<$crate::store::models::StoredPrediction>, $crate::store::StoreError>
            {
                let rows: Vec<$crate::store::models::PredictionTuple> = self
                    .retry(|| {
                        sqlx::query_as(
                            "SELECT issued_at, ts, value, lower_80, upper_80, lower_95, upper_95
                             FROM predictions
                             WHERE version_id = $1 AND ts >= $2 AND ts < $3
                               AND issued_at >= $4 AND issued_at < $5
                             ORDER BY ts, issued_at",
                        )
                        .bind(version)
                        .bind(targets.start.epoch())
                        .bind(targets.end.epoch())
                        .bind(issued.start.epoch())
                        .bind(issued.end.epoch())
                        .fetch_all(&self.pool)
                    })
                    .await?;
                Ok(rows
                    .into_iter()
                    .map($crate::store::models::prediction)
                    .collect())
            }

            async fn drop_predictions_before(
                &self,
                before: $crate::domain::Timestamp,
            ) -> Result<u64, $crate::store::StoreError> {
                let (_turn, mut tx) = self.begin_write().await?;
                let done = sqlx::query("DELETE FROM predictions WHERE issued_at < $1")
                    .bind(before.epoch())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(done.rows_affected())
            }
        }
    };
}
pub(super) use models_impl;
