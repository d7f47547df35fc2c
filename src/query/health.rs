//! Whether the service can answer: the store answers, and every enabled location holds data
//! of each dataset it has sources for (`init` or an import has run). A price zone needs
//! prices, a utility site its sensor readings; neither needs weather.

use crate::core::Core;

/// Whether the store answers at all.
pub async fn store_up(core: &Core) -> bool {
    core.store.ping().await.is_ok()
}

/// Ready, or every reason not; judged on the primary (a replica skipped makes nothing
/// unready: its reads go to the primary).
pub async fn readiness(core: &Core) -> Result<(), Vec<String>> {
    core.reads.on_primary(judge(core)).await
}

async fn judge(core: &Core) -> Result<(), Vec<String>> {
    let mut reasons = Vec::new();
    if let Err(error) = core.store.ping().await {
        reasons.push(format!("store unreachable: {error}"));
    } else {
        for location in core.registry.enabled() {
            for (&dataset, sources) in &location.sources {
                if sources.is_empty() {
                    continue;
                }
                match super::holds(core, location, dataset).await {
                    Ok(true) => {}
                    Ok(false) => reasons.push(format!(
                        "{}: no {dataset} stored yet (`almanac init` loads it; imported data \
                         comes with `almanac import`)",
                        location.id
                    )),
                    Err(error) => reasons.push(format!("{}: {error}", location.id)),
                }
            }
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(reasons)
    }
}

/// The replicas the API reads from and why any is skipped (empty without `store.read_urls`).
pub fn replicas(core: &Core) -> Vec<crate::store::replicas::ReplicaState> {
    core.reads.states()
}
