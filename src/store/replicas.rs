//! Where the API's reads go: the primary alone, or PostgreSQL streaming replicas
//! (`store.read_urls`) while they are close enough behind it. A monitor asks each replica its
//! lag every `store.replica_check_secs`; one that lags more than `store.max_replica_lag_secs`,
//! is not streaming from the primary, or does not answer, is skipped until it catches up, and
//! reads go to the others or to the primary. Writes, leases and migrations always go to the
//! primary (`Core::store`); only a request's reads go through here (`Core::reader`, inside
//! [`pinned`]): jobs, the CLI and background recomputations read the primary, so what an
//! operation reads is never behind what it wrote.
//!
//! Within one request every read goes to the same store ([`pinned`]): an answer never mixes a
//! replica's older state with a newer one. Requests are spread over the usable replicas in turn.

use std::cell::RefCell;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{Postgres, Store, StoreError};
use crate::metrics::Metrics;

/// What the monitor last found of one replica.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ReplicaState {
    /// `replica-1`… in the order of `store.read_urls` (the URLs are secrets).
    pub replica: String,
    /// Whether reads go to it now.
    pub used: bool,
    /// Seconds behind the primary, when it answered.
    pub lag_seconds: Option<f64>,
    /// Why it is skipped.
    pub reason: Option<String>,
}

struct Replica {
    handle: Arc<Postgres>,
    store: Arc<dyn Store>,
    state: Mutex<ReplicaState>,
    /// When a request's read on it last failed: a check that began before keeps it skipped.
    failed_at: Mutex<Option<Instant>>,
}

pub struct Reads {
    primary: Arc<dyn Store>,
    replicas: Vec<Replica>,
    next: AtomicUsize,
    max_lag: f64,
    /// Where the replicas' gauges go (set by [`watch`]).
    metrics: OnceLock<Arc<Metrics>>,
}

/// The store a request reads from, and which replica it is (`None`: the primary).
type Pin = Option<(Arc<dyn Store>, Option<usize>)>;

tokio::task_local! {
    static PIN: RefCell<Pin>;
}

/// Runs `work` (one request) with every read it makes through [`Reads::store`] going to one
/// store: the first chosen. Returns which replica that was, if one was.
pub async fn pinned<F: Future>(work: F) -> (F::Output, Option<usize>) {
    PIN.scope(RefCell::new(None), async {
        let output = work.await;
        let replica = PIN.with(|pin| pin.borrow().as_ref().and_then(|(_, i)| *i));
        (output, replica)
    })
    .await
}

impl Reads {
    /// Reads from the primary only (SQLite, or PostgreSQL without replicas).
    pub fn primary(primary: Arc<dyn Store>) -> Self {
        Self {
            primary,
            replicas: Vec::new(),
            next: AtomicUsize::new(0),
            max_lag: 0.0,
            metrics: OnceLock::new(),
        }
    }

    /// Reads spread over the replicas at `urls`, checked once before this returns; the blocks
    /// their reads find unpacked are packed on `packs_on` (the primary).
    pub async fn with_replicas(
        primary: Arc<dyn Store>,
        packs_on: &Postgres,
        urls: &[&str],
        ca_file: Option<&std::path::Path>,
        max_lag: Duration,
    ) -> Result<Self, StoreError> {
        let mut replicas = Vec::new();
        for (i, url) in urls.iter().enumerate() {
            let handle = Arc::new(Postgres::replica(url, ca_file, packs_on)?);
            replicas.push(Replica {
                store: handle.clone(),
                handle,
                state: Mutex::new(ReplicaState {
                    replica: format!("replica-{}", i + 1),
                    used: false,
                    lag_seconds: None,
                    reason: Some("not checked yet".into()),
                }),
                failed_at: Mutex::new(None),
            });
        }
        let reads = Self {
            primary,
            replicas,
            next: AtomicUsize::new(0),
            max_lag: max_lag.as_secs_f64(),
            metrics: OnceLock::new(),
        };
        reads.check().await;
        Ok(reads)
    }

    /// The store a read goes to. Inside a request ([`pinned`]): the one pinned for it if any,
    /// else the next usable replica in turn, else the primary, then pinned. Anywhere else: the
    /// primary.
    pub fn store(&self) -> Arc<dyn Store> {
        if self.replicas.is_empty() {
            return self.primary.clone();
        }
        let Ok(pinned) = PIN.try_with(|pin| pin.borrow().clone()) else {
            return self.primary.clone();
        };
        if let Some((store, _)) = pinned {
            return store;
        }
        let usable: Vec<usize> = (0..self.replicas.len())
            .filter(|&i| self.replicas[i].state.lock().is_ok_and(|s| s.used))
            .collect();
        let chosen = match usable.len() {
            0 => (self.primary.clone(), None),
            n => {
                let i = usable[self.next.fetch_add(1, Ordering::Relaxed) % n];
                (self.replicas[i].store.clone(), Some(i))
            }
        };
        let _ = PIN.try_with(|pin| *pin.borrow_mut() = Some(chosen.clone()));
        chosen.0
    }

    /// Whether reads may go to replicas at all.
    pub fn has_replicas(&self) -> bool {
        !self.replicas.is_empty()
    }

    /// Runs `work` with every read on the primary.
    pub async fn on_primary<F: Future>(&self, work: F) -> F::Output {
        PIN.scope(RefCell::new(Some((self.primary.clone(), None))), work)
            .await
    }

    /// A read on `replica` failed: it is skipped until a check that begins after now finds it
    /// answering.
    pub fn failed(&self, replica: usize) {
        let Some(entry) = self.replicas.get(replica) else {
            return;
        };
        if let Ok(mut at) = entry.failed_at.lock() {
            *at = Some(Instant::now());
        }
        let Ok(mut state) = entry.state.lock() else {
            return;
        };
        if state.used {
            tracing::warn!(replica = %state.replica, "a read on the replica failed: reads go elsewhere until it answers a check");
        }
        state.used = false;
        state.reason = Some("a read failed; skipped until it answers a check".into());
        self.gauge(&state);
    }

    /// Every replica's last state (empty without replicas).
    pub fn states(&self) -> Vec<ReplicaState> {
        self.replicas
            .iter()
            .filter_map(|r| r.state.lock().ok().map(|s| s.clone()))
            .collect()
    }

    /// Asks every replica its lag (at most two seconds each) and decides which are used.
    pub async fn check(&self) {
        for replica in &self.replicas {
            let began = Instant::now();
            let answer = tokio::time::timeout(Duration::from_secs(2), replica.handle.replica_lag())
                .await
                .map_err(|_| "no answer within 2 s".to_string())
                .and_then(|r| r.map_err(|e| e.to_string()));
            let failed_meanwhile = replica
                .failed_at
                .lock()
                .ok()
                .and_then(|at| *at)
                .is_some_and(|at| at >= began);
            let (used, lag, reason) = match answer {
                _ if failed_meanwhile => (
                    false,
                    None,
                    Some("a read failed; skipped until it answers a check".into()),
                ),
                Ok(Some(lag)) if lag <= self.max_lag => (true, Some(lag), None),
                Ok(Some(lag)) => (
                    false,
                    Some(lag),
                    Some(format!(
                        "{lag:.0} s behind the primary, over store.max_replica_lag_secs ({:.0})",
                        self.max_lag
                    )),
                ),
                Ok(None) => (
                    false,
                    None,
                    Some("not streaming from the primary (its lag cannot be known)".into()),
                ),
                Err(error) => (false, None, Some(format!("does not answer: {error}"))),
            };
            let Ok(mut state) = replica.state.lock() else {
                continue;
            };
            if state.used != used {
                match &reason {
                    None => {
                        tracing::info!(replica = %state.replica, "replica used for reads again")
                    }
                    Some(why) => {
                        tracing::warn!(replica = %state.replica, why, "replica skipped: reads go elsewhere")
                    }
                }
            }
            *state = ReplicaState {
                replica: state.replica.clone(),
                used,
                lag_seconds: lag,
                reason,
            };
            self.gauge(&state);
        }
    }

    fn gauge(&self, state: &ReplicaState) {
        if let Some(metrics) = self.metrics.get() {
            let labels = [("replica", state.replica.as_str())];
            let used = f64::from(u8::from(state.used));
            metrics.set("almanac_store_replica_used", &labels, used);
            if let Some(lag) = state.lag_seconds {
                metrics.set("almanac_store_replica_lag_seconds", &labels, lag);
            }
        }
    }
}

/// Checks the replicas every `every` while `reads` lives, their gauges in `metrics`.
pub fn watch(reads: &Arc<Reads>, every: Duration, metrics: Arc<Metrics>) {
    let _ = reads.metrics.set(metrics);
    for replica in &reads.replicas {
        if let Ok(state) = replica.state.lock() {
            reads.gauge(&state);
        }
    }
    let reads: Weak<Reads> = Arc::downgrade(reads);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let Some(reads) = reads.upgrade() else {
                return;
            };
            reads.check().await;
        }
    });
}
