//! Tenant registration (the bakery seed's "automatic location context"): a tenant's point is
//! mapped to the city covering it and to the measurement points nearest it (`[tenants]`
//! `radius_km`, `max_points`); tenants with the same points share one location of kind
//! `points`, whose history `init` loads in the background and which `ingest`, `gaps`,
//! `backfill` and `rotate` then keep like any other. Until it is loaded — or when no point is
//! near, or the provider cannot say where its points are — the tenant's traffic is the city's.
//!
//! Registration never fails on a provider error: the tenant is recorded with the reason and
//! mapped again by the next `ingest` job (or the next registration).

use crate::core::{Core, Scope};
use crate::domain::tenant::{Tenant, nearest, points_location};
use crate::domain::{Coordinates, Dataset, Location, Timestamp};

/// Why a tenant cannot be registered: its point is outside every city.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotCovered(pub String);

/// Registers (or registers again) tenant `id` at `at`, and starts loading its points' history
/// in the background. The same point again changes nothing; a new point maps it afresh.
pub async fn register(
    core: &Core,
    id: &str,
    at: Coordinates,
    now: Timestamp,
) -> anyhow::Result<Result<Tenant, NotCovered>> {
    let registered = enroll(core, id, at, now).await?;
    if let Ok(tenant) = &registered
        && let Some(location) = tenant.location.as_ref().filter(|_| !tenant.loaded)
    {
        start_loading(core, location.clone(), now);
    }
    Ok(registered)
}

/// [`register`] without the background load: for a caller that runs `init` over every
/// location itself next (the demo), then calls [`mark_loaded`].
pub async fn enroll(
    core: &Core,
    id: &str,
    at: Coordinates,
    now: Timestamp,
) -> anyhow::Result<Result<Tenant, NotCovered>> {
    let city = match core.registry.nearest(at) {
        Ok(mapping) => mapping.location.clone(),
        Err(e) => return Ok(Err(NotCovered(e.to_string()))),
    };
    if let Some(known) = core.book().tenant(id)
        && known.coordinates() == at
        && known.city == city.id
        && !known.pending
    {
        return Ok(Ok(known.clone()));
    }
    let (tenant, location) = map(core, id, at, &city, now).await;
    if let Some(location) = &location {
        core.store
            .sync_locations(std::slice::from_ref(location))
            .await?;
    }
    core.store
        .put_tenant(id, &serde_json::to_string(&tenant)?, now)
        .await?;
    put(core, tenant.clone(), location);
    Ok(Ok(tenant))
}

/// The tenant's record and its points' location: the points within the radius, nearest first,
/// from the first of the city's traffic sources that reads points one by one.
async fn map(
    core: &Core,
    id: &str,
    at: Coordinates,
    city: &Location,
    now: Timestamp,
) -> (Tenant, Option<Location>) {
    let settings = &core.config.tenants;
    let mut tenant = Tenant {
        tenant_id: id.to_owned(),
        latitude: at.latitude,
        longitude: at.longitude,
        city: city.id.clone(),
        points: Vec::new(),
        radius_km: settings.radius_km,
        location: None,
        loaded: false,
        pending: false,
        note: None,
        registered_at: now,
    };
    let traffic = core.sources.reading_points(city);
    let Some(source) = traffic.first().and_then(|s| core.sources.get(s)) else {
        tenant.note = Some(format!(
            "{}'s traffic sources do not read measurement points one by one: its traffic is the city's",
            city.id
        ));
        return (tenant, None);
    };
    let points = match source.measurement_points().await {
        Some(Ok(points)) => points,
        Some(Err(error)) => {
            tracing::warn!(tenant = id, %error, "measurement points not available; the tenant gets the city's traffic for now");
            tenant.pending = true;
            tenant.note = Some(format!(
                "{}'s measurement points could not be read ({error}): the city's traffic until the next ingest maps the tenant again",
                source.id()
            ));
            return (tenant, None);
        }
        None => Vec::new(),
    };
    tenant.points = nearest(
        points
            .iter()
            .map(|(id, name, kind, c)| (id.as_str(), name.as_str(), kind.as_str(), *c)),
        at,
        settings.radius_km,
        settings.max_points,
    );
    if tenant.points.is_empty() {
        tenant.note = Some(format!(
            "no measurement point of {} lies within {} km: its traffic is the city's",
            source.id(),
            settings.radius_km
        ));
        return (tenant, None);
    }
    let location = points_location(city, &tenant.points, traffic);
    tenant.location = Some(location.id.clone());
    // Another tenant with the same points may have loaded them already.
    tenant.loaded = core
        .book()
        .tenants()
        .any(|t| t.location.as_ref() == Some(&location.id) && t.loaded);
    (tenant, Some(location))
}

fn put(core: &Core, tenant: Tenant, location: Option<Location>) {
    core.tenants
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .put(tenant, location);
}

/// Loads the history of the points' location `location` in the background (once at a time),
/// then marks its tenants loaded; a failure leaves them on the city's traffic, and the next
/// `ingest` job starts the load again.
fn start_loading(core: &Core, location: String, now: Timestamp) {
    if !core
        .tenants
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .start_loading(&location)
    {
        return;
    }
    let core = core.scoped(Scope {
        job: None,
        location: Some(location.clone()),
    });
    tokio::spawn(async move {
        let months = core.config.init.months;
        let progress = indicatif::ProgressBar::hidden();
        let result = super::init::run(&core, months, now, &progress).await;
        let done = match &result {
            Ok(summary) if !summary.failed() => mark_loaded(&core, &location, now).await,
            Ok(summary) => Err(anyhow::anyhow!("{summary}")),
            Err(e) => Err(anyhow::anyhow!("{e:#}")),
        };
        if let Err(error) = done {
            tracing::warn!(%location, %error, "loading a tenant's measurement points failed; its tenants keep the city's traffic");
        } else {
            tracing::info!(%location, months, "tenant measurement points loaded");
        }
        core.tenants
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .done_loading(&location);
    });
}

/// Reads the loaded window of `location`'s series once, so the store prepares its read path
/// (SQLite packs a block the first time it is read from rows) before the first tenant's answer
/// rather than during it. A failure only costs that first answer some speed.
async fn warm(core: &Core, location: &str, now: Timestamp) {
    let window = crate::domain::TimeRange {
        start: now.months_before(core.config.init.months),
        end: now,
    };
    let series = match core.store.series(location, Dataset::Traffic).await {
        Ok(series) => series,
        Err(error) => {
            tracing::debug!(%location, %error, "warming a tenant location skipped");
            return;
        }
    };
    for s in series {
        if let Err(error) = core.store.read(s.id, window).await {
            tracing::debug!(%location, %error, "warming a tenant location's series failed");
        }
    }
}

/// Marks every tenant of `location` loaded (its history loaded up to `now`), in the store and
/// in memory, once its read path is warm.
pub async fn mark_loaded(core: &Core, location: &str, now: Timestamp) -> anyhow::Result<()> {
    warm(core, location, now).await;
    let tenants: Vec<Tenant> = core
        .book()
        .tenants()
        .filter(|t| t.location.as_deref() == Some(location) && !t.loaded)
        .cloned()
        .collect();
    for mut tenant in tenants {
        tenant.loaded = true;
        core.store
            .put_tenant(
                &tenant.tenant_id,
                &serde_json::to_string(&tenant)?,
                tenant.registered_at,
            )
            .await?;
        put(core, tenant, None);
    }
    Ok(())
}

/// What a job does for tenants first: maps again those whose provider could not say where its
/// points are, and loads the points' locations not loaded (a load cut short by a restart).
pub async fn resume(core: &Core, now: Timestamp) -> anyhow::Result<()> {
    let book: Vec<Tenant> = core.book().tenants().cloned().collect();
    for tenant in &book {
        if tenant.pending {
            if let Err(NotCovered(why)) =
                register(core, &tenant.tenant_id, tenant.coordinates(), now).await?
            {
                tracing::warn!(tenant = %tenant.tenant_id, %why, "a pending tenant is no longer covered");
            }
        } else if let Some(location) = tenant.location.as_ref().filter(|_| !tenant.loaded) {
            start_loading(core, location.clone(), now);
        }
    }
    Ok(())
}
