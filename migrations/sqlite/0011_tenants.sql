-- Registered tenants (`PUT /api/v1/tenants/{id}/location`): each tenant's point, its city and
-- the measurement points nearest it, as JSON the store keeps and does not read. Tenants with the
-- same points share one location (kind `points`), whose series are fetched once.
CREATE TABLE tenants (
    tenant_id     TEXT PRIMARY KEY,
    record        TEXT NOT NULL,
    registered_at INTEGER NOT NULL
);
