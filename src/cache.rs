//! The in-process response cache: encoded answers (bytes, not objects), each with the data
//! version it was computed at ([`crate::store::Shared::version`]), its ETag and, made on first
//! demand, its gzip variant. An entry is served only while the version of the data under it is
//! unchanged, so any write (from this process or another) invalidates exactly the answers it
//! touches. Entries are evicted oldest first past a byte budget.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;

pub struct Entry {
    pub version: i64,
    pub body: Bytes,
    pub content_type: String,
    /// A strong validator: the CRC-32 of each half of the body and its length (a CRC runs at
    /// memory speed; a SipHash of a 5 MB answer cost ~4 ms).
    pub etag: String,
    gzip: OnceLock<Bytes>,
}

impl Entry {
    pub fn new(version: i64, body: Bytes, content_type: String) -> Self {
        let (front, back) = body.split_at(body.len() / 2);
        Self {
            version,
            etag: format!(
                "\"{:08x}{:08x}-{}\"",
                crc32fast::hash(front),
                crc32fast::hash(back),
                body.len()
            ),
            body,
            content_type,
            gzip: OnceLock::new(),
        }
    }

    /// The body gzipped, compressed once and kept.
    pub fn gzip(&self) -> &Bytes {
        self.gzip.get_or_init(|| self.compress(5))
    }

    /// The body gzipped at the fastest level, for an answer the cache does not keep: compressed
    /// for each request, so time counts more than bytes (the 5.5 MB two-year answer: 490 kB
    /// against 306 kB at level 5, and 59 uncached requests/s against 43 in `benches/http.sh`).
    pub fn gzip_once(&self) -> Bytes {
        self.compress(1)
    }

    fn compress(&self, level: u32) -> Bytes {
        let mut encoder = flate2::write::GzEncoder::new(
            Vec::with_capacity(self.body.len() / 8),
            flate2::Compression::new(level),
        );
        // Writing to a Vec cannot fail.
        let _ = encoder.write_all(&self.body);
        Bytes::from(encoder.finish().unwrap_or_default())
    }
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Arc<Entry>>,
    order: VecDeque<String>,
    bytes: usize,
}

pub struct ResponseCache {
    budget: usize,
    inner: Mutex<Inner>,
}

impl ResponseCache {
    /// A cache holding at most `budget` bytes of bodies (0: nothing is kept).
    pub fn new(budget: usize) -> Self {
        Self {
            budget,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The entry for `key` if it was computed at `version`; a stale one is dropped.
    pub fn get(&self, key: &str, version: i64) -> Option<Arc<Entry>> {
        let mut inner = self.inner.lock().ok()?;
        let entry = inner.entries.get(key)?.clone();
        if entry.version == version {
            return Some(entry);
        }
        inner.entries.remove(key);
        inner.bytes -= entry.body.len();
        None
    }

    /// The answer kept under `key`, whatever data version it was computed at: what can still be
    /// said while the store cannot tell the current version.
    pub fn last(&self, key: &str) -> Option<Arc<Entry>> {
        self.inner.lock().ok()?.entries.get(key).cloned()
    }

    /// Keeps `entry` under `key` (if it fits the budget), evicting the oldest entries as needed;
    /// whether it was kept.
    pub fn put(&self, key: String, entry: Arc<Entry>) -> bool {
        let size = entry.body.len();
        if size > self.budget / 4 {
            return false;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return false;
        };
        if let Some(old) = inner.entries.insert(key.clone(), entry) {
            inner.bytes -= old.body.len();
        } else {
            inner.order.push_back(key);
        }
        inner.bytes += size;
        while inner.bytes > self.budget {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            if let Some(gone) = inner.entries.remove(&oldest) {
                inner.bytes -= gone.body.len();
            }
        }
        true
    }

    /// Bytes of bodies held.
    pub fn bytes(&self) -> usize {
        self.inner.lock().map_or(0, |i| i.bytes)
    }
}

/// The Redis layer shared by replicas. Keys carry the data version, so a write elsewhere makes
/// the old answers unreachable (they expire after a day). Every call is bounded by a short
/// timeout; after a failure Redis is left alone for a few seconds, so a dead Redis costs at most
/// one slow call per pause and never fails a request.
pub struct Shared {
    client: redis::Client,
    connection: tokio::sync::Mutex<Option<redis::aio::ConnectionManager>>,
    resting_until: Mutex<Option<std::time::Instant>>,
    errors: std::sync::atomic::AtomicU64,
    /// The limit of one call (`redis.timeout_ms`).
    timeout: std::time::Duration,
}

const SHARED_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);
const SHARED_REST: std::time::Duration = std::time::Duration::from_secs(5);
const SHARED_TTL_SECS: u64 = 86_400;

impl Shared {
    /// Checks the URL; connects on first use. Each call may take `timeout`. A `rediss://`
    /// server's certificate must chain to `ca_file` (PEM) when given, else to the system's roots.
    pub fn new(
        url: &str,
        timeout: std::time::Duration,
        ca_file: Option<&std::path::Path>,
    ) -> Result<Self, redis::RedisError> {
        crate::sources::upstream::install_crypto();
        let client = match ca_file {
            Some(path) => {
                let root_cert = std::fs::read(path).map_err(|e| {
                    redis::RedisError::from((
                        redis::ErrorKind::InvalidClientConfig,
                        "cannot read redis.ca_file",
                        format!("{}: {e}", path.display()),
                    ))
                })?;
                let certificates = redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(root_cert),
                };
                redis::Client::build_with_tls(url, certificates)?
            }
            None => redis::Client::open(url)?,
        };
        Ok(Self {
            client,
            connection: tokio::sync::Mutex::new(None),
            resting_until: Mutex::new(None),
            errors: std::sync::atomic::AtomicU64::new(0),
            timeout,
        })
    }

    /// Calls that failed (or timed out) so far.
    pub fn errors(&self) -> u64 {
        self.errors.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The body and content type kept under `key`, if Redis has them and answers in time.
    pub async fn get(&self, key: &str) -> Option<(Bytes, String)> {
        let value: Vec<u8> = self
            .call(|mut c| {
                let key = key.to_owned();
                async move { redis::AsyncCommands::get::<_, Option<Vec<u8>>>(&mut c, key).await }
            })
            .await
            .flatten()?;
        let split = value.iter().position(|b| *b == b'\n')?;
        let content_type = String::from_utf8(value[..split].to_vec()).ok()?;
        Some((Bytes::copy_from_slice(&value[split + 1..]), content_type))
    }

    /// Keeps `entry` under `key` for a day (best effort).
    pub async fn put(&self, key: &str, entry: &Entry) {
        let mut value = Vec::with_capacity(entry.content_type.len() + 1 + entry.body.len());
        value.extend_from_slice(entry.content_type.as_bytes());
        value.push(b'\n');
        value.extend_from_slice(&entry.body);
        let _: Option<()> = self
            .call(|mut c| {
                let key = key.to_owned();
                async move { redis::AsyncCommands::set_ex(&mut c, key, value, SHARED_TTL_SECS).await }
            })
            .await;
    }

    /// Sets `key` to `value` for `ttl` unless it exists: `Some(true)` when this call set it,
    /// `Some(false)` when it was there, `None` when Redis did not answer.
    pub async fn set_once(&self, key: &str, value: &str, ttl: std::time::Duration) -> Option<bool> {
        self.call(|mut c| {
            let mut command = redis::cmd("SET");
            command
                .arg(key)
                .arg(value)
                .arg("NX")
                .arg("PX")
                .arg(ttl.as_millis() as u64);
            async move {
                let set: Option<String> = command.query_async(&mut c).await?;
                Ok(set.is_some())
            }
        })
        .await
    }

    async fn call<T, F, Fut>(&self, command: F) -> Option<T>
    where
        F: FnOnce(redis::aio::ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        if self
            .resting_until
            .lock()
            .ok()
            .and_then(|r| *r)
            .is_some_and(|until| std::time::Instant::now() < until)
        {
            return None;
        }
        let attempt = async {
            let connection = {
                let mut slot = self.connection.lock().await;
                match &*slot {
                    Some(connection) => connection.clone(),
                    None => {
                        let connect = self.client.get_connection_manager();
                        let connection = tokio::time::timeout(SHARED_CONNECT_TIMEOUT, connect)
                            .await
                            .map_err(|_| "no connection within the time limit".to_string())?
                            .map_err(|e| e.to_string())?;
                        *slot = Some(connection.clone());
                        connection
                    }
                }
            };
            tokio::time::timeout(self.timeout, command(connection))
                .await
                .map_err(|_| format!("no answer within {:?}", self.timeout))?
                .map_err(|e| e.to_string())
        };
        match attempt.await {
            Ok(value) => Some(value),
            Err(error) => {
                self.errors
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!(%error, "redis did not answer; serving without it for {SHARED_REST:?}");
                if let Ok(mut resting) = self.resting_until.lock() {
                    *resting = Some(std::time::Instant::now() + SHARED_REST);
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(version: i64, body: &str) -> Arc<Entry> {
        Arc::new(Entry::new(
            version,
            Bytes::from(body.to_owned()),
            "application/json".into(),
        ))
    }

    #[test]
    fn serves_an_entry_only_at_its_version() {
        let cache = ResponseCache::new(1_000);
        cache.put("k".into(), entry(3, "[1,2]"));
        assert!(cache.get("k", 3).is_some());
        assert!(cache.get("k", 4).is_none(), "a write moved the version");
        assert!(cache.get("k", 3).is_none(), "the stale entry is gone");
        assert_eq!(cache.bytes(), 0);
    }

    #[test]
    fn evicts_the_oldest_past_the_budget() {
        let cache = ResponseCache::new(100);
        for i in 0..5 {
            cache.put(format!("k{i}"), entry(0, &"x".repeat(25)));
        }
        assert!(cache.bytes() <= 100);
        assert!(cache.get("k0", 0).is_none());
        assert!(cache.get("k4", 0).is_some());
        cache.put("big".into(), entry(0, &"x".repeat(60)));
        assert!(
            cache.get("big", 0).is_none(),
            "more than a quarter of the budget is not kept"
        );
    }

    #[test]
    fn etags_follow_the_body_and_gzip_round_trips() {
        let (a, b) = (entry(0, "[1,2]"), entry(9, "[1,2]"));
        assert_eq!(a.etag, b.etag, "same bytes, same validator");
        assert_ne!(a.etag, entry(0, "[1,3]").etag);
        let body = "{\"x\": 1}".repeat(1_000);
        let big = entry(0, &body);
        let mut out = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&big.gzip()[..]), &mut out)
            .unwrap();
        assert_eq!(out, body);
        assert!(big.gzip().len() < body.len() / 10);
        let mut fast = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(&big.gzip_once()[..]),
            &mut fast,
        )
        .unwrap();
        assert_eq!(fast, body, "the fast level round-trips too");
    }

    #[test]
    fn put_says_whether_the_cache_keeps_an_entry() {
        let cache = ResponseCache::new(100);
        assert!(cache.put("small".into(), entry(0, "[1,2]")));
        assert!(
            !cache.put("big".into(), entry(0, &"x".repeat(26))),
            "over a quarter"
        );
        assert!(!ResponseCache::new(0).put("any".into(), entry(0, "[]")));
    }
}
