//! Status changes of a model's versions, shared by the `predict` job's judgement, the CLI and
//! the admin routes: a shadow promoted or retired, a champion rolled back to the version it
//! replaced. Each is one transaction.

use crate::core::Core;
use crate::domain::Timestamp;
use crate::store::models::{StoredVersion, Transition, VersionStatus};

/// Makes the shadow of model `id` its champion (the champion retires); returns what it did.
pub async fn promote(core: &Core, id: &str, now: Timestamp, why: &str) -> anyhow::Result<String> {
    super::exists(core, id)?;
    let versions = core.store.versions(id).await?;
    let shadow = find(&versions, VersionStatus::Shadow)
        .ok_or_else(|| anyhow::anyhow!("model `{id}` has no version in shadow to promote"))?;
    let champion = find(&versions, VersionStatus::Champion);
    let mut changes = vec![Transition {
        id: shadow.id,
        status: VersionStatus::Champion,
        reason: format!("promoted: {why}"),
        previous: champion.map(|c| c.id),
    }];
    if let Some(c) = champion {
        changes.push(Transition {
            id: c.id,
            status: VersionStatus::Retired,
            reason: format!("replaced by version {}", shadow.version),
            previous: None,
        });
    }
    core.store.transition(&changes, now).await?;
    Ok(format!("version {} promoted: {why}", shadow.version))
}

/// Retires the shadow of model `id`.
pub async fn reject(core: &Core, id: &str, now: Timestamp, why: &str) -> anyhow::Result<String> {
    super::exists(core, id)?;
    let versions = core.store.versions(id).await?;
    let shadow = find(&versions, VersionStatus::Shadow)
        .ok_or_else(|| anyhow::anyhow!("model `{id}` has no version in shadow"))?;
    core.store
        .transition(
            &[Transition {
                id: shadow.id,
                status: VersionStatus::Retired,
                reason: format!("not promoted: {why}"),
                previous: None,
            }],
            now,
        )
        .await?;
    Ok(format!("version {} not promoted: {why}", shadow.version))
}

/// Puts back the version the champion of model `id` replaced (the champion retires).
pub async fn roll_back(core: &Core, id: &str, now: Timestamp, why: &str) -> anyhow::Result<String> {
    super::exists(core, id)?;
    let versions = core.store.versions(id).await?;
    let champion = find(&versions, VersionStatus::Champion)
        .ok_or_else(|| anyhow::anyhow!("model `{id}` has no champion"))?;
    let previous = champion
        .previous
        .and_then(|p| versions.iter().find(|v| v.id == p))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "version {} of `{id}` replaced no other: nothing to roll back to",
                champion.version
            )
        })?;
    core.store
        .transition(
            &[
                Transition {
                    id: champion.id,
                    status: VersionStatus::Retired,
                    reason: format!("rolled back: {why}"),
                    previous: None,
                },
                Transition {
                    id: previous.id,
                    status: VersionStatus::Champion,
                    reason: format!("restored: version {} rolled back", champion.version),
                    previous: None,
                },
            ],
            now,
        )
        .await?;
    Ok(format!(
        "version {} rolled back to version {}: {why}",
        champion.version, previous.version
    ))
}

fn find(versions: &[StoredVersion], status: VersionStatus) -> Option<&StoredVersion> {
    versions.iter().find(|v| v.status == status)
}
