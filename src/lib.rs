//! almanac keeps external time series (weather first; traffic, prices and sensor readings to
//! come) ready to serve: it fetches them from public providers, stores them once per location,
//! and serves any range fast. Data flow one way:
//!
//! ```text
//! sources (fetch + parse) → ops (init / ingest) → store → http
//!                              ↑ the CLI, `serve` and `demo` call the same ops
//! ```
//!
//! - [`config`]: layered settings (embedded defaults, TOML file, `ALMANAC__…` environment).
//! - [`domain`]: time, gaps, locations and series as plain values and pure functions.
//! - [`sources`]: provider adapters behind one [`sources::Source`] trait, and the shared
//!   [`sources::upstream`] request policy (budgets, retries, circuit breaker, size cap).
//! - [`store`]: the [`store::Store`] trait and its SQLite implementation.
//! - [`ops`]: the operations (`init`, `ingest`) that decide what to fetch and write it.
//! - [`http`]: the axum API (the seed's endpoints, health).
//! - [`encode`]: frames as CSV, Arrow IPC and Parquet (the API's and the CLI's).
//! - [`demo`]: a simulated Open-Meteo upstream, so the whole path runs offline.
//! - [`scheduler`]: the jobs `serve` runs on cron expressions, once per tick across replicas.
//! - [`cache`]: encoded responses with their data version, ETag and gzip variant.
//! - [`tracking`]: MLflow runs of models' trainings and backtests (optional).
//! - [`core`]: the cheap-to-clone bundle of all of the above that every caller shares.

pub mod cache;
pub mod cli;
pub mod config;
pub mod core;
pub mod demo;
pub mod domain;
pub mod encode;
pub mod http;
pub mod memo;
pub mod metrics;
pub mod notify;
pub mod ops;
pub mod query;
pub mod scheduler;
pub mod secret;
pub mod sources;
pub mod store;
pub mod tracking;
