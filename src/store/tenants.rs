//! Registered tenants and the notification topics' states, on either backend (a table each, the
//! SQL written once). A tenant's record (its point, city and nearest measurement points) and a
//! topic's state are JSON the store keeps and does not read.

use super::StoreError;
use crate::domain::Timestamp;

#[async_trait::async_trait]
pub trait Tenants: Send + Sync {
    /// Records (again: replaces) tenant `id`'s registration.
    async fn put_tenant(&self, id: &str, record: &str, at: Timestamp) -> Result<(), StoreError>;
    /// Every registered tenant: its id and record, by id.
    async fn tenants(&self) -> Result<Vec<(String, String)>, StoreError>;
    /// A notification topic's state, if it was ever checked.
    async fn notice(&self, topic: &str) -> Result<Option<String>, StoreError>;
    /// Records a topic's state.
    async fn put_notice(&self, topic: &str, state: &str, at: Timestamp) -> Result<(), StoreError>;
    /// Forgets the topics not checked since `before`; returns how many.
    async fn drop_notices_before(&self, before: Timestamp) -> Result<u64, StoreError>;
}

/// The `Tenants` impl of `$backend`.
macro_rules! tenants_impl {
    ($backend:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::Tenants for $backend {
            async fn put_tenant(
                &self,
                id: &str,
                record: &str,
                at: $crate::domain::Timestamp,
            ) -> Result<(), $crate::store::StoreError> {
                let (_turn, mut tx) = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO tenants (tenant_id, record, registered_at) VALUES ($1, $2, $3)
                     ON CONFLICT (tenant_id) DO UPDATE SET record = excluded.record,
                       registered_at = excluded.registered_at",
                )
                .bind(id)
                .bind(record)
                .bind(at.epoch())
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn tenants(&self) -> Result<Vec<(String, String)>, $crate::store::StoreError> {
                Ok(
                    sqlx::query_as("SELECT tenant_id, record FROM tenants ORDER BY tenant_id")
                        .fetch_all(&self.pool)
                        .await?,
                )
            }

            async fn notice(
                &self,
                topic: &str,
            ) -> Result<Option<String>, $crate::store::StoreError> {
                Ok(
                    sqlx::query_scalar("SELECT state FROM notices WHERE topic = $1")
                        .bind(topic)
                        .fetch_optional(&self.pool)
                        .await?,
                )
            }

            async fn put_notice(
                &self,
                topic: &str,
                state: &str,
                at: $crate::domain::Timestamp,
            ) -> Result<(), $crate::store::StoreError> {
                let (_turn, mut tx) = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO notices (topic, state, updated_at) VALUES ($1, $2, $3)
                     ON CONFLICT (topic) DO UPDATE SET state = excluded.state,
                       updated_at = excluded.updated_at",
                )
                .bind(topic)
                .bind(state)
                .bind(at.epoch())
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn drop_notices_before(
                &self,
                before: $crate::domain::Timestamp,
            ) -> Result<u64, $crate::store::StoreError> {
                let (_turn, mut tx) = self.begin_write().await?;
                let done = sqlx::query("DELETE FROM notices WHERE updated_at < $1")
                    .bind(before.epoch())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(done.rows_affected())
            }
        }
    };
}

pub(super) use tenants_impl;
