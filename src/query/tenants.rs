//! Registered tenants as the API reads them (registration itself is `ops::tenants`).

use crate::core::Core;
use crate::domain::Location;
use crate::domain::tenant::Tenant;

/// Tenant `id`'s registration, if it is registered.
pub fn registration(core: &Core, id: &str) -> Option<Tenant> {
    core.book().tenant(id).cloned()
}

/// Where tenant `id`'s traffic comes from: its points' location once loaded and while it lies in
/// `city`, else `None` (the city's).
pub fn traffic_location(core: &Core, id: &str, city: &Location) -> Option<Location> {
    let book = core.book();
    let tenant = book.tenant(id)?;
    if !tenant.loaded || tenant.city != city.id {
        return None;
    }
    book.location(tenant.location.as_deref()?).cloned()
}
