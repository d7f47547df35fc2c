//! Small answers kept so that cheap-looking requests stay cheap under load:
//! - [`Versioned`]: values that depend only on one (location, dataset)'s data (a set of series'
//!   extent, which needs a scan), kept with the data version they were computed at, so any write
//!   from any process makes them stale; computed one at a time, so a crowd asking at once
//!   computes each once.
//! - [`Recent`]: an answer (readiness, status) recomputed in the background at most once per
//!   period; requests get the last one at once.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::domain::Dataset;

/// (location, dataset, key) → (data version, value).
type Entries<V> = HashMap<(String, Dataset, String), (i64, V)>;

pub struct Versioned<V> {
    entries: Mutex<Entries<V>>,
    computing: tokio::sync::Mutex<()>,
}

impl<V: Clone> Default for Versioned<V> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            computing: tokio::sync::Mutex::new(()),
        }
    }
}

impl<V: Clone> Versioned<V> {
    /// The value for `key` of `location`'s `dataset` at data `version`: kept, or computed by
    /// `compute` (one computation at a time; a value computed meanwhile is taken instead).
    pub async fn get_or<E, F>(
        &self,
        location: &str,
        dataset: Dataset,
        key: String,
        version: i64,
        compute: F,
    ) -> Result<V, E>
    where
        F: Future<Output = Result<V, E>>,
    {
        let key = (location.to_owned(), dataset, key);
        if let Some(value) = self.kept(&key, version) {
            return Ok(value);
        }
        let _one = self.computing.lock().await;
        if let Some(value) = self.kept(&key, version) {
            return Ok(value);
        }
        let value = compute.await?;
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(key, (version, value.clone()));
        }
        Ok(value)
    }

    fn kept(&self, key: &(String, Dataset, String), version: i64) -> Option<V> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(key)
            .filter(|(at, _)| *at == version)
            .map(|(_, v)| v.clone())
    }
}

pub struct Recent<T> {
    period: Duration,
    last: Mutex<Option<(Instant, T)>>,
    computing: Arc<tokio::sync::Mutex<()>>,
}

impl<T: Clone> Recent<T> {
    pub fn new(period: Duration) -> Self {
        Self {
            period,
            last: Mutex::new(None),
            computing: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// The last value if younger than the period. Older, it is still the answer, and `compute`
    /// runs in the background to replace it (unless it already does): nobody waits for a
    /// recomputation but the very first.
    pub async fn get_or<F>(self: &Arc<Self>, compute: F) -> T
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + Sync + 'static,
    {
        let last = self.last();
        if let Some((at, value)) = &last
            && at.elapsed() < self.period
        {
            return value.clone();
        }
        match (self.computing.clone().try_lock_owned(), last) {
            (Ok(guard), Some((_, value))) => {
                let this = self.clone();
                tokio::spawn(async move {
                    let fresh = compute.await;
                    this.keep(fresh);
                    drop(guard);
                });
                value
            }
            (Err(_), Some((_, value))) => value,
            (free, None) => {
                let _one = match free {
                    Ok(guard) => guard,
                    Err(_) => self.computing.clone().lock_owned().await,
                };
                if let Some((_, value)) = self.last() {
                    return value;
                }
                let value = compute.await;
                self.keep(value.clone());
                value
            }
        }
    }

    fn keep(&self, value: T) {
        if let Ok(mut last) = self.last.lock() {
            *last = Some((Instant::now(), value));
        }
    }

    fn last(&self) -> Option<(Instant, T)> {
        self.last.lock().ok()?.clone()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use super::{Recent, Versioned};
    use crate::domain::Dataset;

    #[tokio::test]
    async fn a_versioned_value_is_computed_once_per_version() {
        let memo = Versioned::<u32>::default();
        let runs = AtomicU32::new(0);
        let compute = || async { Ok::<_, ()>(runs.fetch_add(1, Ordering::SeqCst) + 1) };
        let get = |version| memo.get_or("m", Dataset::Weather, "k".into(), version, compute());
        assert_eq!(get(1).await, Ok(1));
        assert_eq!(get(1).await, Ok(1));
        assert_eq!(get(2).await, Ok(2), "a new version computes again");
        let other = memo
            .get_or("m", Dataset::Traffic, "k".into(), 2, compute())
            .await;
        assert_eq!(other, Ok(3), "another dataset is another value");
        let (a, b) = tokio::join!(get(3), get(3));
        assert_eq!((a, b), (Ok(4), Ok(4)), "two at once compute once");
    }

    #[tokio::test]
    async fn a_recent_value_is_recomputed_in_the_background() {
        let recent = Arc::new(Recent::new(Duration::ZERO));
        assert_eq!(
            recent.get_or(async { 1 }).await,
            1,
            "the first is waited for"
        );
        let slow = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            2
        };
        assert_eq!(recent.get_or(slow).await, 1, "the last one, at once");
        assert_eq!(
            recent.get_or(async { 3 }).await,
            1,
            "one recomputation at a time"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            recent.get_or(async { 4 }).await,
            2,
            "the background one landed"
        );
        let kept = Arc::new(Recent::new(Duration::from_secs(60)));
        assert_eq!(kept.get_or(async { 5 }).await, 5);
        assert_eq!(kept.get_or(async { 6 }).await, 5, "young enough to keep");
    }
}
