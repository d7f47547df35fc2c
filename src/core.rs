//! The one bundle every caller shares: configuration, locations, store and sources, built once
//! and cheap to clone (everything inside is behind an `Arc`).

use std::sync::Arc;

use anyhow::Context;

use crate::config::Config;
use crate::domain::Registry;
use crate::metrics::Metrics;
use crate::sources::{self, Sources, upstream::Upstream};
use crate::store::{Sqlite, Store};

#[derive(Clone)]
pub struct Core {
    pub config: Arc<Config>,
    pub registry: Arc<Registry>,
    pub store: Arc<dyn Store>,
    pub sources: Sources,
    pub metrics: Arc<Metrics>,
}

impl Core {
    /// Opens the store (applying migrations), records the configured locations and builds the
    /// sources on one shared HTTP client.
    pub async fn open(config: Config) -> anyhow::Result<Self> {
        let path = config.sqlite_path();
        let store = Sqlite::open(&path)
            .await
            .with_context(|| format!("opening the store at {}", path.display()))?;
        let registry = config.registry();
        store
            .sync_locations(registry.all())
            .await
            .context("recording the configured locations")?;
        let metrics = Arc::new(Metrics::default());
        let upstream =
            Upstream::with_metrics(metrics.clone()).context("building the HTTP client")?;
        let sources = sources::build(&config.sources, &upstream);
        Ok(Self {
            config: Arc::new(config),
            registry: Arc::new(registry),
            store: Arc::new(store),
            sources,
            metrics,
        })
    }
}
