//! The one bundle every caller shares: configuration, locations, store and sources, built once
//! and cheap to clone (everything inside is behind an `Arc`).

use std::sync::{Arc, Weak};
use std::time::Duration;

use anyhow::Context;

use crate::cache::{ResponseCache, Shared};
use crate::config::Config;
use crate::domain::{Location, Registry, Timestamp};
use crate::metrics::Metrics;
use crate::sources::{self, Sources, upstream::Upstream};
use crate::store::replicas::Reads;
use crate::store::{Postgres, RunId, Sqlite, Store};

/// How often a process says its running runs are alive.
const HEARTBEAT: Duration = Duration::from_secs(20);
/// A running run whose process has been silent this long is taken as abandoned (killed).
pub const STALE_AFTER: Duration = Duration::from_secs(120);

#[derive(Clone)]
pub struct Core {
    pub config: Arc<Config>,
    pub registry: Arc<Registry>,
    /// The primary store: every write, lease and migration, and what operations read.
    pub store: Arc<dyn Store>,
    /// Where the API's reads go (the primary, or replicas while they keep up).
    pub reads: Arc<Reads>,
    pub sources: Sources,
    pub metrics: Arc<Metrics>,
    pub cache: Arc<ResponseCache>,
    /// The Redis layer of the cache, when `redis.url` is set.
    pub shared: Option<Arc<Shared>>,
    /// Turns to compute a data answer (`http.concurrent_answers`).
    pub answers: Arc<tokio::sync::Semaphore>,
    /// Extents of series sets by data version (see [`crate::query::extent_of`]).
    pub extents: Arc<crate::memo::Versioned<crate::store::Extent>>,
    /// The last readiness verdict: ready, or the reasons not (`/health/ready`).
    pub readiness: Arc<crate::memo::Recent<Result<(), Vec<String>>>>,
    /// The last `/api/v1/status` answer.
    pub status: Arc<crate::memo::Recent<serde_json::Value>>,
    /// Where operators are told of failures, when `[notify]` names a target.
    pub notifier: Option<Arc<crate::notify::Notifier>>,
    /// The MLflow tracking server, when `tracking.mlflow_url` is set.
    pub tracking: Option<Arc<crate::tracking::Mlflow>>,
    /// Registered tenants and their points' locations (the store's `tenants`, loaded at open;
    /// registration adds to both).
    pub tenants: Arc<std::sync::RwLock<crate::domain::tenant::Book>>,
    /// What the operations called with this handle are limited to.
    pub scope: Scope,
}

/// What one invocation covers: the job run its runs belong to (a scheduled or admin-triggered
/// job), and the one location it is limited to, if any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    pub job: Option<RunId>,
    pub location: Option<String>,
}

/// `http.concurrent_answers`, 0 meaning one per core.
fn concurrent_answers(config: &Config) -> usize {
    match config.http.concurrent_answers {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n as usize,
    }
}

impl Core {
    /// Opens the store (applying migrations), records the configured locations and builds the
    /// sources on one shared HTTP client.
    pub async fn open(config: Config) -> anyhow::Result<Self> {
        let postgres = match &config.store.url {
            Some(url) => Some(
                Postgres::connect_verified(url.expose(), config.store.ca_file.as_deref())
                    .await
                    .context("connecting to PostgreSQL (store.url)")?,
            ),
            None => None,
        };
        let store: Arc<dyn Store> = match &postgres {
            Some(postgres) => Arc::new(postgres.clone()),
            None => {
                let path = config.sqlite_path();
                Arc::new(
                    Sqlite::open(&path)
                        .await
                        .with_context(|| format!("opening the store at {}", path.display()))?,
                )
            }
        };
        let reads = match (config.store.replica_urls(), &postgres) {
            (urls, Some(postgres)) if !urls.is_empty() => {
                let max_lag =
                    std::time::Duration::from_secs(config.store.max_replica_lag_secs.into());
                let reads = Reads::with_replicas(
                    store.clone(),
                    postgres,
                    &urls,
                    config.store.ca_file.as_deref(),
                    max_lag,
                )
                .await
                .context("store.read_urls")?;
                Arc::new(reads)
            }
            // Config refuses replicas without a PostgreSQL primary.
            _ => Arc::new(Reads::primary(store.clone())),
        };
        let registry = config.registry();
        let abandoned = store
            .abandon_stale(Timestamp::now().plus(-(STALE_AFTER.as_secs() as i64)))
            .await
            .context("closing the runs of stopped processes")?;
        if !abandoned.is_empty() {
            tracing::warn!(runs = ?abandoned, "marked runs of stopped processes as abandoned");
        }
        keep_alive(Arc::downgrade(&store));
        store
            .sync_locations(registry.all())
            .await
            .context("recording the configured locations")?;
        let metrics = Arc::new(Metrics::default());
        if !reads.states().is_empty() {
            let every = std::time::Duration::from_secs(config.store.replica_check_secs.into());
            crate::store::replicas::watch(&reads, every, metrics.clone());
        }
        let upstream =
            Upstream::with_metrics(metrics.clone()).context("building the HTTP client")?;
        let sources = sources::build(&config.sources, &upstream);
        let tracking = match &config.tracking.mlflow_url {
            Some(url) => Some(Arc::new(crate::tracking::Mlflow::new(
                url,
                upstream.client(),
            )?)),
            None => None,
        };
        let notifier =
            crate::notify::Notifier::start(&config.notify, upstream.client(), metrics.clone())?;
        let cache = Arc::new(ResponseCache::new(
            config.http.cache_mb as usize * 1024 * 1024,
        ));
        let tenants = load_tenants(store.as_ref(), &registry, &sources).await?;
        store
            .sync_locations(&tenants.locations().cloned().collect::<Vec<_>>())
            .await
            .context("recording the tenants' locations")?;
        let shared = match &config.redis.url {
            Some(url) => Some(Arc::new(
                Shared::new(
                    url.expose(),
                    std::time::Duration::from_millis(config.redis.timeout_ms),
                    config.redis.ca_file.as_deref(),
                )
                .context("redis.url is not a Redis URL (or redis.ca_file is not a PEM CA)")?,
            )),
            None => None,
        };
        Ok(Self {
            answers: Arc::new(tokio::sync::Semaphore::new(concurrent_answers(&config))),
            config: Arc::new(config),
            registry: Arc::new(registry),
            store,
            sources,
            metrics,
            cache,
            shared,
            reads,
            extents: Default::default(),
            readiness: Arc::new(crate::memo::Recent::new(std::time::Duration::from_secs(1))),
            status: Arc::new(crate::memo::Recent::new(std::time::Duration::from_secs(1))),
            tracking,
            notifier,
            tenants: Arc::new(std::sync::RwLock::new(tenants)),
            scope: Scope::default(),
        })
    }

    /// The store the query wing reads from: a replica in use, else the primary; the same one
    /// throughout a request (see [`crate::store::replicas`]).
    pub fn reader(&self) -> Arc<dyn Store> {
        self.reads.store()
    }

    /// The same handle, limited to `scope`.
    pub fn scoped(&self, scope: Scope) -> Self {
        Self {
            scope,
            ..self.clone()
        }
    }

    /// The enabled locations within the scope: the configured ones, then the points some
    /// registered tenant uses.
    pub fn locations(&self) -> Vec<Location> {
        let only = self.scope.location.as_deref();
        let book = self.book();
        self.registry
            .enabled()
            .chain(book.locations())
            .filter(|l| only.is_none_or(|id| id == l.id))
            .cloned()
            .collect()
    }

    /// The location `id`: configured (by id or alias) or a tenant's points.
    pub fn location(&self, id: &str) -> Option<Location> {
        self.registry
            .get(id)
            .cloned()
            .or_else(|| self.book().location(id).cloned())
    }

    /// The registered tenants, as they stand.
    pub fn book(&self) -> std::sync::RwLockReadGuard<'_, crate::domain::tenant::Book> {
        // A panic while holding the lock cannot leave the book half-written (`Book::put` is
        // one insert after checks), so a poisoned lock is still read.
        self.tenants
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The registered tenants, each with its points' location rebuilt from its city as configured
/// now; a tenant whose city is gone keeps its record and the city's answer.
async fn load_tenants(
    store: &dyn Store,
    registry: &Registry,
    sources: &Sources,
) -> anyhow::Result<crate::domain::tenant::Book> {
    use crate::domain::tenant::{Book, Tenant, points_location};
    let mut book = Book::default();
    for (id, record) in store.tenants().await.context("reading the tenants")? {
        let tenant: Tenant = match serde_json::from_str(&record) {
            Ok(t) => t,
            Err(error) => {
                tracing::warn!(tenant = %id, %error, "an unreadable tenant record is skipped");
                continue;
            }
        };
        let location = registry.get(&tenant.city).and_then(|city| {
            let traffic = sources.reading_points(city);
            (!tenant.points.is_empty() && !traffic.is_empty())
                .then(|| points_location(city, &tenant.points, traffic))
        });
        book.put(tenant, location);
    }
    Ok(book)
}

/// Marks this process's running runs alive every [`HEARTBEAT`] until the store is dropped, so
/// that any process can tell them from runs whose process was killed.
fn keep_alive(store: Weak<dyn Store>) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(HEARTBEAT);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(store) = store.upgrade() else { break };
            if let Err(error) = store.heartbeat(Timestamp::now()).await {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "could not record the heartbeat of running runs"
                );
            }
        }
    });
}
