//! Configuration: the effective settings of one process. Defaults are embedded in the binary
//! (`defaults.toml`), then an optional TOML file, then `ALMANAC__SECTION__KEY` environment
//! variables (see [`load`]). Every problem — unknown keys, bad values, invalid locations — is
//! collected and reported at once at start-up. Unknown keys are found with `serde_ignored` over
//! the merged document rather than `deny_unknown_fields`, which would stop at the first one.

mod load;
mod models;
mod sites;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use crate::secret::Secret;
pub use crate::sources::{Limits, SourcesConfig};
pub use load::{ConfigError, load};
pub use models::{ModelConfig, Regressor, TrackingConfig};

use crate::domain::{Coordinates, Dataset, HourWindow, Location, LocationKind, Registry};

/// The whole configuration, as `almanac config` prints it.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Config {
    pub store: StoreConfig,
    #[serde(default)]
    pub redis: RedisConfig,
    pub http: HttpConfig,
    pub init: InitConfig,
    pub ingest: IngestConfig,
    pub loads: LoadsConfig,
    pub forecasts: ForecastsConfig,
    pub rotate: RotateConfig,
    pub schedule: ScheduleConfig,
    pub processing: ProcessingConfig,
    /// Networks of metered nodes (water districts), by id.
    #[serde(default)]
    pub networks: BTreeMap<String, NetworkConfig>,
    pub sites: SitesConfig,
    pub sources: SourcesConfig,
    pub locations: BTreeMap<String, LocationConfig>,
    /// Locations read from `sites.files`, filled by [`load`].
    #[serde(skip)]
    pub site_locations: Vec<Location>,
    #[serde(default)]
    pub calendars: CalendarsConfig,
    /// Forecasting models of stored series, by id.
    #[serde(default)]
    pub models: BTreeMap<String, ModelConfig>,
    #[serde(default)]
    pub tracking: TrackingConfig,
    #[serde(default)]
    pub tenants: TenantsConfig,
    #[serde(default)]
    pub notify: NotifyConfig,
    #[serde(default)]
    pub housekeeping: HousekeepingConfig,
    /// The embedded holiday calendars and those of `calendars.files`, filled by [`load`].
    #[serde(skip)]
    pub holidays: crate::domain::calendar::Calendars,
}

/// What the `rotate` job prunes besides values (`[housekeeping]`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct HousekeepingConfig {
    /// Runs that left nothing behind (no value, window, anomaly, forecast, version or reject:
    /// the `watch` job's, failed fetches') are kept this many days. The processing seed kept its
    /// logs 7.
    pub runs_days: u32,
    /// Refused upstream records are kept this many days after their run.
    pub rejects_days: u32,
}

impl Default for HousekeepingConfig {
    fn default() -> Self {
        Self {
            runs_days: 30,
            rejects_days: 30,
        }
    }
}

/// Where operators are told of failures (`[notify]`) and when.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct NotifyConfig {
    /// A Slack-compatible incoming webhook (a secret).
    pub slack_url: Option<Secret>,
    /// A generic JSON webhook (a secret): `{service, topic, state, title, detail, at}`.
    pub webhook_url: Option<Secret>,
    /// At most one message per topic this often, minutes.
    pub rate_limit_minutes: u32,
    /// A location's dataset whose newest value is older than this is stale, hours.
    pub stale_hours: u32,
    /// A source's circuit open this long is told, minutes.
    pub circuit_minutes: u32,
    /// A gap this long in a location's dataset (no value from any of its sources) within the
    /// `gaps` job's days, still there this long after it was first seen, is told, hours (the
    /// factory's "critical" is beyond 12).
    pub gap_hours: u32,
    /// Each delivery's timeout, seconds; failed deliveries are retried this many times, the
    /// first after `backoff_ms`, doubling.
    pub timeout_secs: u32,
    pub retries: u32,
    pub backoff_ms: u32,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            slack_url: None,
            webhook_url: None,
            rate_limit_minutes: 15,
            stale_hours: 24,
            circuit_minutes: 30,
            gap_hours: 12,
            timeout_secs: 5,
            retries: 3,
            backoff_ms: 1_000,
        }
    }
}

/// How a registered tenant is mapped to measurement points (the bakery seed's "automatic
/// location context").
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct TenantsConfig {
    /// Points farther than this from the tenant are not its own, km.
    #[serde(default = "default_tenant_radius")]
    pub radius_km: f64,
    /// The nearest this many points within the radius are its own.
    #[serde(default = "default_tenant_points")]
    pub max_points: usize,
}

impl Default for TenantsConfig {
    fn default() -> Self {
        Self {
            radius_km: default_tenant_radius(),
            max_points: default_tenant_points(),
        }
    }
}

fn default_tenant_radius() -> f64 {
    0.5
}
fn default_tenant_points() -> usize {
    3
}

/// Holiday calendars beyond the embedded ones (`calendars/*.toml`): files in the same format
/// adding a year, a region or a municipality, checked at start.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct CalendarsConfig {
    #[serde(default)]
    pub files: Vec<PathBuf>,
}

/// The shared response cache: answers computed by one replica are found by the others. Redis
/// is optional and never required: when it does not answer, requests are served from the local
/// cache and the store.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct RedisConfig {
    /// `redis://…` (a secret); unset: no shared cache.
    #[serde(default)]
    pub url: Option<Secret>,
    /// The start of every key almanac writes (several deployments can share one Redis).
    #[serde(default = "default_redis_prefix")]
    pub prefix: String,
    /// How long a Redis call may take before it counts as failed (and Redis is left alone for
    /// a few seconds); 1..=10000.
    #[serde(default = "default_redis_timeout_ms")]
    pub timeout_ms: u64,
    /// The CA (PEM) a `rediss://` server's certificate must chain to, instead of the system's
    /// roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: None,
            prefix: default_redis_prefix(),
            timeout_ms: default_redis_timeout_ms(),
            ca_file: None,
        }
    }
}

fn default_redis_prefix() -> String {
    "almanac".into()
}

fn default_redis_timeout_ms() -> u64 {
    150
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct StoreConfig {
    pub data_dir: PathBuf,
    /// A PostgreSQL URL (`postgres://…`, a secret); when set, the store is PostgreSQL and
    /// `data_dir` is not used. TLS as libpq spells it: `?sslmode=verify-full` (or `require`,
    /// `verify-ca`) and `sslrootcert=`.
    #[serde(default)]
    pub url: Option<Secret>,
    /// The CA (PEM) PostgreSQL's certificate must chain to; without an `sslmode` in the URL it
    /// means `verify-full` (the certificate and the host name checked).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// PostgreSQL streaming replicas the API reads from, comma-separated URLs (a secret);
    /// writes, leases and migrations stay on `url`.
    #[serde(default)]
    pub read_urls: Option<Secret>,
    /// A replica further behind the primary than this is skipped until it catches up, seconds.
    #[serde(default = "default_max_replica_lag_secs")]
    pub max_replica_lag_secs: u32,
    /// How often each replica's lag is asked, seconds.
    #[serde(default = "default_replica_check_secs")]
    pub replica_check_secs: u32,
}

fn default_max_replica_lag_secs() -> u32 {
    30
}

fn default_replica_check_secs() -> u32 {
    5
}

impl StoreConfig {
    /// The replicas' URLs (`read_urls`, comma-separated).
    pub fn replica_urls(&self) -> Vec<&str> {
        self.read_urls
            .as_ref()
            .map(|s| {
                s.expose()
                    .split(',')
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct HttpConfig {
    pub listen: SocketAddr,
    /// Bearer token of the admin routes (a secret); without one they are disabled.
    #[serde(default)]
    pub admin_token: Option<Secret>,
    /// Bearer token a tenant service may register tenants with (`PUT
    /// /api/v1/tenants/{id}/location`) beside the admin token (a secret; unset: admin only).
    #[serde(default)]
    pub tenant_token: Option<Secret>,
    /// Memory for cached responses, MiB (0 turns the cache off).
    pub cache_mb: u32,
    /// The longest range a request may ask for, days.
    pub max_range_days: u32,
    /// Origins allowed to call the API from a browser (`"*"`: any); none by default.
    pub cors_origins: Vec<String>,
    /// The largest request body, kB.
    pub max_body_kb: u32,
    /// Data answers computed at once (reads and encoding, on a cache miss); more wait their turn
    /// in arrival order. 0: one per core.
    pub concurrent_answers: u32,
    /// Open client connections at most; past it, new ones wait in the listen backlog.
    pub max_connections: u32,
    /// How long a connection may take to send a request's head (request line and headers),
    /// seconds; an idle keep-alive connection is closed after as long.
    pub header_timeout_secs: u32,
    /// How long a request's body may take to arrive, seconds.
    pub body_timeout_secs: u32,
    /// A connection whose answer cannot be written for this long (a client that stopped
    /// reading) is closed, seconds.
    pub idle_timeout_secs: u32,
    /// API keys of the read API by name, each as the SHA-256 digest of the key (64 hex
    /// digits); none: the read API is open.
    #[serde(default)]
    pub api_keys: BTreeMap<String, String>,
    /// Requests a minute each client may make (by API key when keys are configured, else by
    /// address); 0: no limit.
    pub rate_limit_per_minute: u32,
    /// Requests a client may make at once before its per-minute pace applies; 0: a minute's
    /// worth.
    pub rate_limit_burst: u32,
    /// Whether a client's address is the last `X-Forwarded-For` entry (behind a proxy that
    /// appends it) rather than the connection's peer.
    pub forwarded_for: bool,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct InitConfig {
    pub months: u32,
}

/// When `serve` runs each job: cron expressions evaluated in `timezone`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ScheduleConfig {
    /// Whether `serve` runs the jobs (off for replicas that only answer requests).
    pub enabled: bool,
    pub timezone: String,
    /// How far back the `gaps` job looks, days.
    pub recent_days: u32,
    /// Current data from every source.
    pub ingest: String,
    /// Gap check with backfill of recent gaps.
    pub gaps: String,
    /// Full backfill of the window.
    pub backfill: String,
    /// Rotation of the window.
    pub rotate: String,
    /// Windowed metrics and anomalies (`process`).
    pub process: String,
    /// Weather forecasts, stored as issued (`forecast`).
    pub forecast: String,
    /// Models due for a new version trained (`train`).
    pub train: String,
    /// Every model's forecast made and stored, versions judged (`predict`).
    pub predict: String,
    /// What operators are told of checked (`watch`, `[notify]`): stale data, open circuits,
    /// critical anomalies.
    #[serde(default = "default_watch")]
    pub watch: String,
}

fn default_watch() -> String {
    "*/5 * * * *".into()
}

/// What `process` computes and keeps.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ProcessingConfig {
    /// Windowed metrics are kept (and computed) this many days back.
    pub metrics_days: u32,
    /// A resolved anomaly is kept this many days after its resolution; unresolved ones stay.
    pub anomalies_resolved_days: u32,
    /// A rolling reference needs this many values before a value is scored against it.
    pub min_points: u32,
    /// Equal consecutive readings lasting this long are a flatline (a stuck sensor).
    pub flatline_minutes: u32,
    /// The least spread a reference is taken to have, as a share of the series' typical level.
    pub materiality: f64,
    /// Static bounds per dataset and variable: a value outside them is an anomaly.
    #[serde(default)]
    pub bounds: BTreeMap<Dataset, BTreeMap<String, BoundsConfig>>,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
pub struct BoundsConfig {
    pub min: Option<f64>,
    pub max: Option<f64>,
    #[serde(default = "default_bounds_severity")]
    pub severity: crate::domain::anomaly::Severity,
}

fn default_bounds_severity() -> crate::domain::anomaly::Severity {
    crate::domain::anomaly::Severity::High
}

/// A network: its nodes (locations) with their role, and how complete every inflow and
/// outflow must be for an efficiency figure to be given.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct NetworkConfig {
    pub name: String,
    #[serde(default = "default_min_completeness")]
    pub min_completeness: f64,
    pub nodes: BTreeMap<String, crate::domain::network::Role>,
}

fn default_min_completeness() -> f64 {
    0.9
}

impl ScheduleConfig {
    /// Whether a job's cron says the job is off (`"off"`), e.g. `rotate` where a Kubernetes
    /// CronJob rotates instead.
    pub fn is_off(cron: &str) -> bool {
        cron.trim() == "off"
    }

    /// (job, cron expression) in a fixed order.
    pub fn jobs(&self) -> [(&'static str, &str); 9] {
        [
            ("watch", &self.watch),
            ("ingest", &self.ingest),
            ("gaps", &self.gaps),
            ("backfill", &self.backfill),
            ("rotate", &self.rotate),
            ("process", &self.process),
            ("forecast", &self.forecast),
            ("train", &self.train),
            ("predict", &self.predict),
        ]
    }
}

/// How long forecast issues are kept.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ForecastsConfig {
    /// Days an issue is kept after almanac stored it.
    pub retention_days: u32,
    /// Days a model's prediction is kept after it was issued.
    pub predictions_retention_days: u32,
}

/// The rolling window `rotate` keeps, and how long the daily rollups of what it drops outlive it.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct RotateConfig {
    pub months: u32,
    pub rollup_months: u32,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct IngestConfig {
    pub lookback_hours: u32,
}

/// How `init`, `ingest` and `backfill` share the work.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct LoadsConfig {
    /// (location, source) loads run at once; each provider stays within its own budget and
    /// `max_in_flight`.
    pub parallel: u32,
}

/// Extra locations from Weather-Data-Product sites files, which carry no radius or sources.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct SitesConfig {
    pub files: Vec<PathBuf>,
    pub radius_km: f64,
    pub sources: BTreeMap<Dataset, Vec<String>>,
}

/// A location as declared in config; its id is the table key.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct LocationConfig {
    pub name: String,
    pub country: String,
    pub latitude: f64,
    pub longitude: f64,
    pub timezone: String,
    pub radius_km: f64,
    #[serde(default = "default_kind")]
    pub kind: LocationKind,
    pub enabled: bool,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub aemet_stations: Vec<String>,
    /// The id of the price-zone location whose electricity prices apply here.
    pub price_zone: Option<String>,
    /// Its region (ISO 3166-2, `ES-MD`) and municipality (`madrid`) in the holiday calendars.
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub municipality: Option<String>,
    #[serde(default)]
    pub sources: BTreeMap<Dataset, Vec<String>>,
    /// Weather forecast sources, in priority order (`open_meteo_forecast`, `aemet_forecast`,
    /// `owm_forecast`).
    #[serde(default)]
    pub forecasts: Vec<String>,
    /// The municipality's INE code (`28079`), for AEMET's municipal forecast: five digits, a
    /// number from the environment read as one (`8019` is `08019`).
    #[serde(default, deserialize_with = "ine_code")]
    pub aemet_municipality: Option<String>,
    /// Local hours each named source is used in, e.g. `{ aemet_obs = "8-20" }`.
    #[serde(default)]
    pub source_hours: BTreeMap<String, String>,
}

/// An INE municipality code given as text or as a number (the environment's `28079` reads as
/// one), as five digits; anything else is refused at load.
fn ine_code<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Code {
        Text(String),
        Number(u32),
    }
    let code = match Option::<Code>::deserialize(d)? {
        None => return Ok(None),
        Some(Code::Text(text)) => text.trim().to_owned(),
        Some(Code::Number(n)) => format!("{n:05}"),
    };
    if code.len() != 5 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(serde::de::Error::custom(format!(
            "`{code}` is not an INE municipality code (five digits, e.g. 28079)"
        )));
    }
    Ok(Some(code))
}

fn default_kind() -> LocationKind {
    LocationKind::City
}

impl Config {
    /// Every location: config tables first, then sites files.
    pub fn registry(&self) -> Registry {
        let mut locations: Vec<Location> = self
            .locations
            .iter()
            .filter_map(|(id, l)| l.to_location(id).ok())
            .collect();
        locations.extend(self.site_locations.iter().cloned());
        Registry::new(locations)
    }

    /// The kind of the location `id` (configured or from a sites file).
    pub fn location_kind(&self, id: &str) -> Option<LocationKind> {
        self.locations.get(id).map(|l| l.kind).or_else(|| {
            self.site_locations
                .iter()
                .find(|l| l.id == id)
                .map(|l| l.kind)
        })
    }

    /// The SQLite file inside the data directory.
    pub fn sqlite_path(&self) -> PathBuf {
        self.store.data_dir.join("almanac.db")
    }

    fn processing_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let p = &self.processing;
        if !(1..=3660).contains(&p.metrics_days) {
            problems.push(format!(
                "processing.metrics_days must be 1..=3660, got {}",
                p.metrics_days
            ));
        }
        if !(0.0..=1.0).contains(&p.materiality) {
            problems.push(format!(
                "processing.materiality must be between 0 and 1, got {}",
                p.materiality
            ));
        }
        if p.min_points < 3 || p.flatline_minutes == 0 {
            problems.push(
                "processing.min_points must be at least 3 and processing.flatline_minutes positive"
                    .into(),
            );
        }
        for (dataset, variables) in &p.bounds {
            for (variable, b) in variables {
                if dataset.variable(variable).is_none() {
                    problems.push(format!(
                        "processing.bounds.{dataset}.{variable}: no such variable"
                    ));
                }
                if b.min.is_none() && b.max.is_none()
                    || matches!((b.min, b.max), (Some(lo), Some(hi)) if lo >= hi)
                {
                    problems.push(format!("processing.bounds.{dataset}.{variable}: give min, max or both, min below max"));
                }
            }
        }
        let known = |id: &str| {
            self.locations.contains_key(id) || self.site_locations.iter().any(|l| l.id == id)
        };
        for (id, network) in &self.networks {
            if !(0.0..=1.0).contains(&network.min_completeness) {
                problems.push(format!(
                    "networks.{id}.min_completeness must be between 0 and 1"
                ));
            }
            for node in network.nodes.keys().filter(|n| !known(n)) {
                problems.push(format!("networks.{id}.nodes: `{node}` is not a location"));
            }
        }
        problems
    }

    fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(url) = &self.store.url
            && !(url.expose().starts_with("postgres://")
                || url.expose().starts_with("postgresql://"))
        {
            problems.push(
                "store.url must be a postgres:// URL (unset: the embedded SQLite store)".into(),
            );
        }
        for (id, location) in &self.locations {
            if let Err(found) = location.to_location(id) {
                problems.extend(found.into_iter().map(|p| format!("locations.{id}: {p}")));
            }
            if location.region.is_some() || location.municipality.is_some() {
                let place = crate::domain::calendar::Place {
                    country: &location.country,
                    region: location.region.as_deref(),
                    municipality: location.municipality.as_deref(),
                };
                if let Err(e) = self.holidays.check(place) {
                    problems.push(format!("locations.{id}: {e}"));
                }
            }
            if let Some(zone) = &location.price_zone
                && self
                    .locations
                    .get(zone)
                    .is_none_or(|z| z.kind != LocationKind::PriceZone)
            {
                problems.push(format!(
                    "locations.{id}.price_zone: `{zone}` is not a location of kind price_zone"
                ));
            }
        }
        for location in &self.site_locations {
            if self.locations.contains_key(&location.id) {
                problems.push(format!(
                    "site `{}` has the id of a configured location",
                    location.id
                ));
            }
            problems.extend(check_sources(
                &format!("site `{}`", location.id),
                &location.sources,
            ));
        }
        problems.extend(
            self.sources
                .open_meteo
                .limits
                .problems("sources.open_meteo.limits"),
        );
        problems.extend(self.sources.ree.limits.problems("sources.ree.limits"));
        problems.extend(self.sources.aemet.limits.problems("sources.aemet.limits"));
        problems.extend(self.sources.owm.limits.problems("sources.owm.limits"));
        problems.extend(self.sources.esios.limits.problems("sources.esios.limits"));
        problems.extend(
            self.sources
                .madrid_traffic
                .limits
                .problems("sources.madrid_traffic.limits"),
        );
        for (name, format) in &self.sources.csv_import.formats {
            problems.extend(format.problems(&format!("sources.csv_import.formats.{name}")));
        }
        if jiff::tz::TimeZone::get(&self.schedule.timezone).is_err() {
            problems.push(format!(
                "schedule.timezone: unknown IANA time zone `{}`",
                self.schedule.timezone
            ));
        }
        if !(1..=366).contains(&self.schedule.recent_days) {
            problems.push(format!(
                "schedule.recent_days must be 1..=366, got {}",
                self.schedule.recent_days
            ));
        }
        for (job, cron) in self.schedule.jobs() {
            if ScheduleConfig::is_off(cron) {
                continue;
            }
            if let Err(e) = crate::domain::cron::Cron::parse(cron) {
                problems.push(format!("schedule.{job}: {e}"));
            }
        }
        if !(1..=1200).contains(&self.rotate.months)
            || self.rotate.rollup_months < self.rotate.months
        {
            problems.push(format!(
                "rotate.months must be 1..=1200 and rotate.rollup_months at least as long, got {} and {}",
                self.rotate.months, self.rotate.rollup_months
            ));
        }
        problems.extend(self.processing_problems());
        if let Some(url) = &self.tracking.mlflow_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            problems.push(format!(
                "tracking.mlflow_url must be an http:// or https:// URL, got `{url}`"
            ));
        }
        for (id, model) in &self.models {
            problems.extend(model.problems(id, |l| self.location_kind(l)));
        }
        let t = &self.tenants;
        let radius_ok = t.radius_km.is_finite() && t.radius_km > 0.0 && t.radius_km <= 50.0;
        if !(radius_ok && (1..=50).contains(&t.max_points)) {
            problems.push(format!(
                "tenants: radius_km must be in (0, 50] km and max_points in 1..=50; got {} and {}",
                t.radius_km, t.max_points
            ));
        }
        for (name, value, max) in [
            ("http.max_connections", self.http.max_connections, 1_000_000),
            (
                "http.header_timeout_secs",
                self.http.header_timeout_secs,
                3_600,
            ),
            ("http.body_timeout_secs", self.http.body_timeout_secs, 3_600),
            ("http.idle_timeout_secs", self.http.idle_timeout_secs, 3_600),
        ] {
            if !(1..=max).contains(&value) {
                problems.push(format!("{name} must be 1..={max}, got {value}"));
            }
        }
        if !(1..=64).contains(&self.loads.parallel) {
            problems.push(format!(
                "loads.parallel must be 1..=64, got {}",
                self.loads.parallel
            ));
        }
        for (name, digest) in &self.http.api_keys {
            if crate::secret::parse_sha256(digest).is_none() {
                problems.push(format!(
                    "http.api_keys.{name} must be the key's SHA-256 digest, 64 hex digits (`almanac api-key {name}` makes a key and its digest); got {} characters",
                    digest.len()
                ));
            }
        }
        if let Some(admin) = &self.http.admin_token
            && self.http.api_keys.values().any(|d| {
                crate::secret::parse_sha256(d) == Some(crate::secret::sha256(admin.expose()))
            })
        {
            problems.push(
                "http.api_keys holds the admin token's digest: give readers a key of their own"
                    .into(),
            );
        }
        if self.http.api_keys.contains_key("admin") {
            problems.push("http.api_keys.admin: `admin` names the admin token's allowance; give the key another name".into());
        }
        if self.store.ca_file.is_some()
            && let Some(url) = &self.store.url
            && ["sslmode=disable", "sslmode=allow", "sslmode=prefer"]
                .iter()
                .any(|m| url.expose().contains(m))
        {
            problems.push("store.ca_file is set but store.url's sslmode (disable, allow or prefer) would not check the certificate: use verify-full (or verify-ca, require)".into());
        }
        if self.http.rate_limit_burst > 0 && self.http.rate_limit_per_minute == 0 {
            problems.push(
                "http.rate_limit_burst is set but http.rate_limit_per_minute is 0 (no limit)"
                    .into(),
            );
        }
        for (name, file) in [
            ("store.ca_file", &self.store.ca_file),
            ("redis.ca_file", &self.redis.ca_file),
        ] {
            if let Some(path) = file
                && let Err(e) = std::fs::metadata(path)
            {
                problems.push(format!("{name}: {}: {e}", path.display()));
            }
        }
        if self.redis.ca_file.is_some()
            && self
                .redis
                .url
                .as_ref()
                .is_some_and(|u| !u.expose().starts_with("rediss://"))
        {
            problems.push("redis.ca_file is set but redis.url is not a rediss:// (TLS) URL".into());
        }
        if self.store.read_urls.is_some() && self.store.url.is_none() {
            problems.push(
                "store.read_urls names PostgreSQL replicas, but store.url (the primary) is not set"
                    .into(),
            );
        }
        for url in self.store.replica_urls() {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                problems.push(
                    "store.read_urls: each URL starts with postgres:// (comma-separated)".into(),
                );
                break;
            }
        }
        if !(1..=3_600).contains(&self.store.replica_check_secs)
            || !(1..=86_400).contains(&self.store.max_replica_lag_secs)
        {
            problems.push(format!(
                "store.replica_check_secs must be 1..=3600 and store.max_replica_lag_secs 1..=86400, got {} and {}",
                self.store.replica_check_secs, self.store.max_replica_lag_secs
            ));
        }
        if self.store.ca_file.is_some() && self.store.url.is_none() {
            problems.push(
                "store.ca_file is set but store.url is not: the embedded store has no TLS".into(),
            );
        }
        if !(1..=10_000).contains(&self.redis.timeout_ms) {
            problems.push(format!(
                "redis.timeout_ms must be 1..=10000, got {}",
                self.redis.timeout_ms
            ));
        }
        if !(1..=1200).contains(&self.init.months) {
            problems.push(format!(
                "init.months must be between 1 and 1200, got {}",
                self.init.months
            ));
        }
        problems
    }
}

impl LocationConfig {
    fn to_location(&self, id: &str) -> Result<Location, Vec<String>> {
        let mut problems = Vec::new();
        let coordinates = Coordinates::new(self.latitude, self.longitude)
            .map_err(|e| problems.push(e.to_string()))
            .ok();
        let valid_id = !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !valid_id {
            problems.push("ids are lowercase ASCII letters, digits, `_` and `-`".into());
        }
        let zone = check_location(&self.timezone, self.radius_km)
            .map_err(|e| problems.push(e))
            .ok();
        let mut source_hours = BTreeMap::new();
        for (source, window) in &self.source_hours {
            if !self.sources.values().flatten().any(|s| s == source) {
                problems.push(format!(
                    "source_hours.{source}: not a source of this location's priority lists"
                ));
            }
            match HourWindow::parse(window) {
                Ok(window) => {
                    source_hours.insert(source.clone(), window);
                }
                Err(e) => problems.push(format!("source_hours.{source}: {e}")),
            }
        }
        problems.extend(check_sources("sources", &self.sources));
        if self.kind == LocationKind::Points {
            problems.push(
                "kind `points` is made by tenant registration, not declared: use city or site"
                    .into(),
            );
        }
        for id in &self.forecasts {
            if !crate::sources::providers::forecast_ids().any(|known| known == id) {
                problems.push(format!(
                    "forecasts: unknown forecast source `{id}` (known: {})",
                    crate::sources::providers::forecast_ids()
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        if self.forecasts.iter().any(|id| id == "aemet_forecast")
            && self.aemet_municipality.is_none()
        {
            problems.push("forecasts names aemet_forecast, but aemet_municipality (the INE code, `28079`) is not set".into());
        }
        if self.enabled && self.sources.values().all(Vec::is_empty) {
            problems.push(
                "enabled, but no source feeds any dataset: set `sources` or `enabled = false`"
                    .into(),
            );
        }
        let (Some(coordinates), Some(timezone)) = (coordinates, zone) else {
            return Err(problems);
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Location {
            id: id.to_string(),
            name: self.name.clone(),
            country: self.country.clone(),
            coordinates,
            timezone,
            radius_km: self.radius_km,
            kind: self.kind,
            enabled: self.enabled,
            aliases: self.aliases.clone(),
            aemet_stations: self.aemet_stations.clone(),
            region: self.region.clone(),
            municipality: self.municipality.clone(),
            price_zone: self.price_zone.clone(),
            sources: self.sources.clone(),
            forecasts: self.forecasts.clone(),
            aemet_municipality: self.aemet_municipality.clone(),
            source_hours,
            points: Vec::new(),
        })
    }
}

/// Checks shared by config locations and sites: a real IANA zone and a positive radius.
/// The location's time zone, once its name and radius are checked.
fn check_location(timezone: &str, radius_km: f64) -> Result<jiff::tz::TimeZone, String> {
    let zone = jiff::tz::TimeZone::get(timezone)
        .map_err(|_| format!("unknown IANA time zone `{timezone}`"))?;
    if !(radius_km.is_finite() && radius_km > 0.0) {
        return Err(format!(
            "radius_km must be a positive number of kilometres, got {radius_km}"
        ));
    }
    Ok(zone)
}

fn check_sources(what: &str, sources: &BTreeMap<Dataset, Vec<String>>) -> Vec<String> {
    sources
        .values()
        .flatten()
        .filter(|s| {
            !crate::sources::providers::ids().any(|id| id == s.as_str())
                && !crate::sources::kinds::is_import_id(s)
        })
        .map(|s| {
            format!(
                "{what}: unknown source `{s}` (live: {}; imported files: siar, csv_<format>, …)",
                crate::sources::providers::ids()
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect()
}
