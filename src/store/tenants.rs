//! Registered tenants, on either backend (one table, the SQL written once). A tenant's record
//! (its point, city and nearest measurement points) is JSON the store keeps and does not read.

use super::StoreError;
use crate::domain::Timestamp;

#[async_trait::async_trait]
pub trait Tenants: Send + Sync {
    /// Records (again: replaces) tenant `id`'s registration.
    async fn put_tenant(&self, id: &str, record: &str, at: Timestamp) -> Result<(), StoreError>;
    /// Every registered tenant: its id and record, by id.
    async fn tenants(&self) -> Result<Vec<(String, String)>, StoreError>;
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
        }
    };
}

pub(super) use tenants_impl;
