//! The scheduler `serve` runs: each job on its cron expression in the configured time zone.
//!
//! At each tick a replica first claims the tick's lease ([`Leases`]: in the store, with Redis as
//! a first gate when configured, [`RedisLeases`]):
//! only one replica gets a tick, and none gets it while the job's previous run still holds the
//! lease (renewed while it runs, so a killed holder's lease lapses after [`LEASE`]). A job runs
//! on its own task, so a slow backfill does not delay the next ingest; a failing job logs its
//! whole error chain and its next tick runs as usual. Ticks missed while the process was down
//! are not caught up: the next one comes at its time.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jiff::tz::TimeZone;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::core::Core;
use crate::domain::Timestamp;
use crate::domain::cron::Cron;
use crate::metrics::Metrics;
use crate::ops::job::{self, Job};
use crate::store::{Store, StoreError};

/// How long a claimed lease lasts without renewal; renewed every third of it while a job runs.
pub const LEASE: Duration = Duration::from_secs(300);

/// Where the scheduler claims ticks: one holder per process.
#[async_trait]
pub trait Leases: Send + Sync + 'static {
    fn holder(&self) -> &str;
    /// Claims `tick` of `job` until `until` (see [`crate::store::SharedRuns::claim_lease`]).
    async fn claim(
        &self,
        job: &str,
        tick: Timestamp,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
    async fn renew(&self, job: &str, until: Timestamp) -> Result<bool, StoreError>;
    async fn release(&self, job: &str) -> Result<(), StoreError>;
}

/// Leases in the store's `leases` table, held under the store handle's instance name.
pub struct StoreLeases(pub Arc<dyn Store>);

impl StoreLeases {
    /// The leases in `core`'s store.
    pub fn of(core: &crate::core::Core) -> Self {
        Self(core.store.clone())
    }
}

#[async_trait]
impl Leases for StoreLeases {
    fn holder(&self) -> &str {
        self.0.instance()
    }

    async fn claim(
        &self,
        job: &str,
        tick: Timestamp,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.0
            .claim_lease(job, tick, self.holder(), until, now)
            .await
    }

    async fn renew(&self, job: &str, until: Timestamp) -> Result<bool, StoreError> {
        self.0.renew_lease(job, self.holder(), until).await
    }

    async fn release(&self, job: &str) -> Result<(), StoreError> {
        self.0.release_lease(job, self.holder()).await
    }
}

/// Leases claimed in Redis first, when it is configured: the first replica to set a tick's key
/// goes on to claim the store's lease, the others stop there without touching the database. The
/// store's lease stays the authority: a replica that cannot reach Redis (or finds its keys
/// flushed) claims it as if Redis were not there, and the store still lets one replica have a
/// tick and none while the job's previous run holds it.
pub struct RedisLeases {
    pub shared: Arc<crate::cache::Shared>,
    /// Key prefix (`redis.prefix`).
    pub prefix: String,
    pub store: StoreLeases,
}

#[async_trait]
impl Leases for RedisLeases {
    fn holder(&self) -> &str {
        self.store.holder()
    }

    async fn claim(
        &self,
        job: &str,
        tick: Timestamp,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let key = format!("{}:lease:{job}:{}", self.prefix, tick.epoch());
        if self.shared.set_once(&key, self.holder(), LEASE).await == Some(false) {
            return Ok(false);
        }
        self.store.claim(job, tick, until, now).await
    }

    async fn renew(&self, job: &str, until: Timestamp) -> Result<bool, StoreError> {
        self.store.renew(job, until).await
    }

    async fn release(&self, job: &str) -> Result<(), StoreError> {
        self.store.release(job).await
    }
}

/// What the scheduler runs at a tick.
#[async_trait]
pub trait Runner: Send + Sync + 'static {
    async fn run(&self, job: &'static str, tick: Timestamp) -> anyhow::Result<()>;
}

/// Runs the configured operation of each job as a job run (see [`crate::ops::job`]).
pub struct Operations(pub Core);

#[async_trait]
impl Runner for Operations {
    async fn run(&self, name: &'static str, _tick: Timestamp) -> anyhow::Result<()> {
        let core = &self.0;
        let job = Job::configured(name, core)
            .ok_or_else(|| anyhow::anyhow!("no job is called {name}"))?;
        let run = job::begin(core, job, None).await?;
        let summary = job::execute(core, job, run, None).await?;
        if summary.failed() {
            anyhow::bail!("job run {run} failed:\n{summary}");
        }
        tracing::info!(run, values = ?summary.total(), "job done");
        Ok(())
    }
}

/// Runs `work` under the claimed lease of `job`, renewing it every third of [`LEASE`] until the
/// work ends, then releases it.
pub async fn holding<T>(
    leases: &dyn Leases,
    job: &str,
    clock: Clock,
    work: impl Future<Output = T>,
) -> T {
    let renew = async {
        loop {
            tokio::time::sleep(LEASE / 3).await;
            let until = clock.now().plus(LEASE.as_secs() as i64);
            match leases.renew(job, until).await {
                Ok(true) => {}
                Ok(false) => tracing::warn!(job, "the job's lease was taken over while it ran"),
                Err(error) => {
                    tracing::warn!(
                        job,
                        error = format!("{error:#}"),
                        "could not renew the job's lease"
                    )
                }
            }
        }
    };
    let out = tokio::select! {
        out = work => out,
        () = renew => unreachable!("renewing loops for ever"),
    };
    if let Err(error) = leases.release(job).await {
        tracing::warn!(
            job,
            error = format!("{error:#}"),
            "could not release the job's lease; it lapses on its own"
        );
    }
    out
}

/// Where the scheduler's time comes from.
#[derive(Clone, Copy, Debug)]
pub enum Clock {
    /// The system's wall clock (re-read at least every minute while waiting, so a clock step
    /// or a suspended machine does not leave a job waiting on an old deadline).
    System,
    /// Tokio's clock (which tests pause and advance), anchored to the wall time `at`.
    Tokio {
        at: Timestamp,
        origin: tokio::time::Instant,
    },
}

impl Clock {
    /// Tokio's clock reading `at` now.
    pub fn tokio_at(at: Timestamp) -> Self {
        Clock::Tokio {
            at,
            origin: tokio::time::Instant::now(),
        }
    }

    pub fn now(self) -> Timestamp {
        match self {
            Clock::System => Timestamp::now(),
            Clock::Tokio { at, origin } => at.plus(origin.elapsed().as_secs() as i64),
        }
    }

    async fn sleep_until(self, deadline: Timestamp) {
        match self {
            Clock::System => loop {
                #[allow(clippy::disallowed_methods, reason = "sleeping on the wall clock")]
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                let left = Duration::from_secs(deadline.epoch().max(0) as u64).saturating_sub(now);
                if left.is_zero() {
                    return;
                }
                tokio::time::sleep(left.min(Duration::from_secs(60))).await;
            },
            Clock::Tokio { at, origin } => {
                let offset = (deadline.epoch() - at.epoch()).max(0) as u64;
                tokio::time::sleep_until(origin + Duration::from_secs(offset)).await;
            }
        }
    }
}

pub struct Scheduler {
    leases: Arc<dyn Leases>,
    zone: TimeZone,
    jobs: Vec<(&'static str, Cron)>,
    runner: Arc<dyn Runner>,
    clock: Clock,
    metrics: Option<Arc<Metrics>>,
}

impl Scheduler {
    pub fn new(
        leases: Arc<dyn Leases>,
        zone: TimeZone,
        jobs: Vec<(&'static str, Cron)>,
        runner: Arc<dyn Runner>,
        clock: Clock,
    ) -> Self {
        Self {
            leases,
            zone,
            jobs,
            runner,
            clock,
            metrics: None,
        }
    }

    /// The scheduler `serve` runs: the configured jobs, running the configured operations.
    pub fn configured(core: &Core) -> anyhow::Result<Self> {
        let schedule = &core.config.schedule;
        let zone = TimeZone::get(&schedule.timezone)?;
        let mut jobs = Vec::new();
        for (name, cron) in schedule.jobs() {
            if crate::config::ScheduleConfig::is_off(cron) {
                tracing::info!(job = name, "scheduled job is off");
                continue;
            }
            if name == "watch" && core.notifier.is_none() {
                // Nothing to tell anyone: not a run every five minutes for nothing.
                tracing::info!(job = name, "no notify target: the watch job is off");
                continue;
            }
            jobs.push((
                name,
                Cron::parse(cron).map_err(|e| anyhow::anyhow!("schedule.{name}: {e}"))?,
            ));
        }
        let store = StoreLeases(core.store.clone());
        let leases: Arc<dyn Leases> = match &core.shared {
            Some(shared) => Arc::new(RedisLeases {
                shared: shared.clone(),
                prefix: core.config.redis.prefix.clone(),
                store,
            }),
            None => Arc::new(store),
        };
        let mut scheduler = Self::new(
            leases,
            zone,
            jobs,
            Arc::new(Operations(core.clone())),
            Clock::System,
        );
        scheduler.metrics = Some(core.metrics.clone());
        Ok(scheduler)
    }

    /// Runs the jobs until `shutdown` completes; jobs still running then are cancelled (their
    /// leases lapse and their runs are marked abandoned by the next process that looks).
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let this = Arc::new(self);
        let mut next: Vec<Option<Timestamp>> = this
            .jobs
            .iter()
            .map(|(_, cron)| cron.next_after(this.clock.now(), &this.zone))
            .collect();
        let mut running = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            let Some(due) = next.iter().flatten().min().copied() else {
                shutdown.await;
                return;
            };
            tokio::select! {
                () = this.clock.sleep_until(due) => {}
                () = &mut shutdown => return,
                Some(finished) = running.join_next() => {
                    if let Err(panic) = finished {
                        tracing::error!(error = %panic, "a scheduled job panicked");
                    }
                    continue;
                }
            }
            let now = this.clock.now();
            for (i, (name, cron)) in this.jobs.iter().enumerate() {
                if let Some(tick) = next[i].filter(|tick| *tick <= now) {
                    running.spawn(this.clone().fire(name, tick));
                    next[i] = cron.next_after(now.max(tick), &this.zone);
                }
            }
        }
    }

    /// One tick of one job: claim it, run it while renewing the lease, let go.
    async fn fire(self: Arc<Self>, name: &'static str, tick: Timestamp) {
        let now = self.clock.now();
        let until = now.plus(LEASE.as_secs() as i64);
        let claimed = self.leases.claim(name, tick, until, now).await;
        match claimed {
            Ok(true) => {}
            Ok(false) => {
                tracing::debug!(job = name, %tick, "tick taken by another replica, or the job is still running");
                self.count(name, "skipped");
                return;
            }
            Err(error) => {
                tracing::error!(job = name, %tick, error = format!("{error:#}"), "could not claim the job's lease");
                self.count(name, "failed");
                return;
            }
        }
        let span = tracing::info_span!("job", job = name, %tick);
        let work = async {
            tracing::info!("job started");
            self.runner.run(name, tick).await
        };
        let result = holding(self.leases.as_ref(), name, self.clock, work)
            .instrument(span.clone())
            .await;
        match result {
            Ok(()) => self.count(name, "succeeded"),
            Err(error) => {
                span.in_scope(|| tracing::error!(error = format!("{error:#}"), "job failed"));
                self.count(name, "failed");
            }
        }
    }

    fn count(&self, job: &str, result: &str) {
        if let Some(metrics) = &self.metrics {
            metrics.add(
                "almanac_scheduler_ticks_total",
                &[("job", job), ("result", result)],
                1.0,
            );
        }
    }
}
