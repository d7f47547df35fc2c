//! The scheduler on paused time, against real SQLite leases: jobs fire at the right local times
//! across both daylight-saving changes, each tick runs once under two replicas, a failing job does
//! not stop the others, and a job still running is not started again.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use almanac::domain::Timestamp;
use almanac::domain::cron::Cron;
use almanac::scheduler::{Clock, Leases, Runner, Scheduler, StoreLeases};
use almanac::store::{Shared, Sqlite, Store, StoreError};
use async_trait::async_trait;

/// One fire as a runner saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Fire {
    job: &'static str,
    tick: Timestamp,
    /// The scheduler's clock when the runner was called.
    at: Timestamp,
    #[allow(dead_code, reason = "read in failure messages")]
    replica: usize,
}

#[derive(Default)]
struct Log {
    fires: Mutex<Vec<Fire>>,
    /// Jobs of one name running now, and the most ever at once.
    running: Mutex<BTreeMap<&'static str, (u32, u32)>>,
}

impl Log {
    fn of(&self, job: &str) -> Vec<Fire> {
        let fires = self.fires.lock().unwrap();
        fires.iter().filter(|f| f.job == job).cloned().collect()
    }

    fn ticks(&self, job: &str) -> Vec<Timestamp> {
        self.of(job).iter().map(|f| f.tick).collect()
    }
}

/// Records every call; `slow` jobs take 40 minutes and `failing` ones fail.
struct Recorder {
    log: Arc<Log>,
    clock: Clock,
    replica: usize,
}

#[async_trait]
impl Runner for Recorder {
    async fn run(&self, job: &'static str, tick: Timestamp) -> anyhow::Result<()> {
        self.log.fires.lock().unwrap().push(Fire {
            job,
            tick,
            at: self.clock.now(),
            replica: self.replica,
        });
        {
            let mut running = self.log.running.lock().unwrap();
            let (now, most) = running.entry(job).or_default();
            *now += 1;
            *most = (*most).max(*now);
        }
        // Every job takes a little while, so replicas really overlap.
        let took = if job == "slow" { 40 * 60 } else { 30 };
        tokio::time::sleep(Duration::from_secs(took)).await;
        self.log.running.lock().unwrap().get_mut(job).unwrap().0 -= 1;
        if job == "failing" {
            anyhow::bail!("upstream said no")
        }
        Ok(())
    }
}

fn at(text: &str) -> Timestamp {
    Timestamp::from_jiff(text.parse().unwrap())
}

fn all(texts: &[&str]) -> Vec<Timestamp> {
    texts.iter().map(|t| at(t)).collect()
}

/// The real SQLite leases, with tokio's paused clock held still while a call is in flight: a
/// paused runtime otherwise takes SQLite's worker thread for idleness and jumps to the next
/// timer mid-call. (Tokio does not advance while a blocking task runs.)
struct Held(StoreLeases);

async fn held<T>(call: impl std::future::Future<Output = T>) -> T {
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let hold = tokio::task::spawn_blocking(move || {
        let _ = wait.recv();
    });
    let out = call.await;
    drop(done);
    hold.await.unwrap();
    out
}

#[async_trait]
impl Leases for Held {
    fn holder(&self) -> &str {
        self.0.holder()
    }

    async fn claim(
        &self,
        job: &str,
        tick: Timestamp,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        held(self.0.claim(job, tick, until, now)).await
    }

    async fn renew(&self, job: &str, until: Timestamp) -> Result<bool, StoreError> {
        held(self.0.renew(job, until)).await
    }

    async fn release(&self, job: &str) -> Result<(), StoreError> {
        held(self.0.release(job)).await
    }
}

/// `count` handles on one fresh database, each with its connections open before time is paused
/// (so no connection is opened on paused time, where a pool timeout would fire at once).
async fn stores(dir: &tempfile::TempDir, count: usize) -> Vec<Arc<dyn Store>> {
    let mut stores: Vec<Arc<dyn Store>> = Vec::new();
    for _ in 0..count {
        let store = Sqlite::open(&dir.path().join("almanac.db")).await.unwrap();
        tokio::try_join!(store.ping(), store.ping(), store.ping(), store.ping()).unwrap();
        stores.push(Arc::new(store));
    }
    stores
}

/// Runs one scheduler per store, from `start` for `minutes` of paused time.
async fn run(
    stores: Vec<Arc<dyn Store>>,
    jobs: &[(&'static str, &str)],
    start: &str,
    minutes: u64,
) -> Arc<Log> {
    tokio::time::pause();
    let log = Arc::new(Log::default());
    let zone = jiff::tz::TimeZone::get("Europe/Madrid").unwrap();
    let clock = Clock::tokio_at(at(start));
    let mut tasks = Vec::new();
    for (replica, store) in stores.into_iter().enumerate() {
        let jobs = jobs
            .iter()
            .map(|(name, cron)| (*name, Cron::parse(cron).unwrap()))
            .collect();
        let runner = Arc::new(Recorder {
            log: log.clone(),
            clock,
            replica,
        });
        let leases = Arc::new(Held(StoreLeases(store)));
        let scheduler = Scheduler::new(leases, zone.clone(), jobs, runner, clock);
        let end = tokio::time::sleep(Duration::from_secs(minutes * 60));
        tasks.push(tokio::spawn(scheduler.run(end)));
    }
    for task in tasks {
        task.await.unwrap();
    }
    log
}

#[tokio::test]
async fn jobs_fire_at_local_times_across_the_spring_change() {
    let dir = tempfile::tempdir().unwrap();
    let stores = stores(&dir, 1).await;
    // From Saturday 28 March 2026, 12:30 in Madrid, for three days; clocks go from 02:00 to
    // 03:00 on Sunday the 29th.
    let jobs = [
        ("nightly", "30 2 * * *"),
        ("hourly", "0 * * * *"),
        ("sunday", "0 9 * * 0"),
    ];
    let log = run(stores, &jobs, "2026-03-28T11:30:00Z", 72 * 60).await;

    assert_eq!(
        log.ticks("nightly"),
        // 02:30 does not exist on the 29th; then 02:30 CEST is 00:30 UTC.
        all(&["2026-03-30T00:30:00Z", "2026-03-31T00:30:00Z"])
    );
    assert_eq!(
        log.ticks("sunday"),
        all(&["2026-03-29T07:00:00Z"]),
        "09:00 CEST"
    );
    let hourly = log.of("hourly");
    assert_eq!(
        hourly.len(),
        72,
        "13:00 CET on the 28th to 13:00 CEST on the 31st"
    );
    assert!(
        hourly
            .windows(2)
            .all(|w| w[1].tick.epoch() - w[0].tick.epoch() == 3600),
        "every hour on the hour, none lost in the change: {:?}",
        log.ticks("hourly")
    );
    let fires = log.fires.lock().unwrap();
    assert!(
        fires.iter().all(|f| f.at == f.tick),
        "each job runs at its tick: {fires:?}"
    );
}

#[tokio::test]
async fn jobs_fire_once_in_the_repeated_autumn_hour_unless_hourly() {
    let dir = tempfile::tempdir().unwrap();
    let stores = stores(&dir, 1).await;
    // 25 October 2026: 03:00 CEST becomes 02:00 CET, so 02:00–02:59 happens twice.
    let jobs = [("nightly", "30 2 * * *"), ("hourly", "0 * * * *")];
    let log = run(stores, &jobs, "2026-10-24T11:30:00Z", 36 * 60).await;

    assert_eq!(
        log.ticks("nightly"),
        all(&["2026-10-25T00:30:00Z"]),
        "the first 02:30 (CEST) only"
    );
    let hourly = log.ticks("hourly");
    assert_eq!(hourly.len(), 36, "{hourly:?}");
    assert!(
        hourly.contains(&at("2026-10-25T00:00:00Z"))
            && hourly.contains(&at("2026-10-25T01:00:00Z")),
        "02:00 CEST and 02:00 CET both fire: {hourly:?}"
    );
}

#[tokio::test]
async fn two_replicas_run_each_tick_once() {
    let dir = tempfile::tempdir().unwrap();
    let stores = stores(&dir, 2).await;
    let jobs = [("ingest", "*/15 * * * *"), ("backfill", "0 1 * * *")];
    let log = run(stores, &jobs, "2026-05-31T23:50:00Z", 24 * 60).await;

    let ingest = log.of("ingest");
    let mut ticks: Vec<Timestamp> = ingest.iter().map(|f| f.tick).collect();
    ticks.dedup();
    assert_eq!(ingest.len(), 96, "one run per quarter hour of the day");
    assert_eq!(ticks.len(), 96, "no tick ran twice: {ingest:?}");
    assert_eq!(
        log.ticks("backfill"),
        all(&["2026-06-01T23:00:00Z"]),
        "01:00 CEST, once"
    );
}

#[tokio::test]
async fn a_failing_job_does_not_stop_the_others_and_a_running_job_is_not_started_again() {
    let dir = tempfile::tempdir().unwrap();
    let stores = stores(&dir, 1).await;
    let jobs = [
        ("failing", "*/10 * * * *"),
        ("slow", "*/15 * * * *"),
        ("ingest", "*/15 * * * *"),
    ];
    let log = run(stores, &jobs, "2026-01-12T08:59:00Z", 3 * 60).await;

    assert_eq!(
        log.of("failing").len(),
        18,
        "the failing job ran at every tick anyway"
    );
    assert_eq!(log.of("ingest").len(), 12, "the others ran at every tick");
    assert_eq!(
        log.ticks("slow"),
        all(&[
            "2026-01-12T09:00:00Z",
            "2026-01-12T09:45:00Z",
            "2026-01-12T10:30:00Z",
            "2026-01-12T11:15:00Z"
        ]),
        "a 40-minute job skips the ticks that come while it runs"
    );
    let running = log.running.lock().unwrap();
    assert_eq!(running["slow"].1, 1, "never two at once");
}
