//! The one HTTP path every provider goes through. Per provider it enforces the provider's real
//! call budgets (weighted, as Open-Meteo counts them), a cap on requests in flight, a timeout,
//! retries with exponential backoff and jitter for retryable failures only (timeouts, broken
//! connections and bodies, 5xx, 429 honouring `Retry-After`), a circuit breaker and a response
//! size cap, and it returns typed errors. The retry loop is hand-written rather than `backon`
//! because each attempt must pass the breaker and the budgets again and 429 waits come from
//! the response. URLs are never logged with their query (it may carry a key).

mod breaker;
mod policy;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use reqwest::{StatusCode, header};
use tokio::sync::Semaphore;

use crate::metrics::Metrics;

pub use breaker::Breaker;
pub use policy::{Budget, Policy};

/// How a request to a provider failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UpstreamError {
    #[error("request timed out")]
    Timeout,
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error("rate limited (HTTP 429){}: {body}", retry_after.map(|d| format!(", retry after {}s", d.as_secs())).unwrap_or_default())]
    RateLimited {
        retry_after: Option<Duration>,
        body: String,
    },
    #[error("response larger than the {limit}-byte cap")]
    TooLarge { limit: u64 },
    #[error("response body broken off: {0}")]
    Body(String),
    #[error("circuit open after repeated failures; next trial in {}s", .0.as_secs())]
    CircuitOpen(Duration),
    #[error("a request of weight {0} exceeds the provider's whole budget")]
    OverBudget(f64),
}

impl UpstreamError {
    /// A short name for metrics: `timeout`, `connect`, `status_5xx`, …
    pub fn kind(&self) -> &'static str {
        match self {
            UpstreamError::Timeout => "timeout",
            UpstreamError::Connect(_) => "connect",
            UpstreamError::Status { status, .. } if *status >= 500 => "status_5xx",
            UpstreamError::Status { .. } => "status_4xx",
            UpstreamError::RateLimited { .. } => "rate_limited",
            UpstreamError::TooLarge { .. } => "too_large",
            UpstreamError::Body(_) => "broken_body",
            UpstreamError::CircuitOpen(_) => "circuit_open",
            UpstreamError::OverBudget(_) => "over_budget",
        }
    }

    /// Whether the same request may succeed if sent again.
    pub fn is_retryable(&self) -> bool {
        match self {
            UpstreamError::Timeout
            | UpstreamError::Connect(_)
            | UpstreamError::Body(_)
            | UpstreamError::RateLimited { .. } => true,
            UpstreamError::Status { status, .. } => *status >= 500,
            UpstreamError::TooLarge { .. }
            | UpstreamError::CircuitOpen(_)
            | UpstreamError::OverBudget(_) => false,
        }
    }

    /// Whether the failure says the provider is unhealthy (feeds the circuit breaker). A 429 or a
    /// 4xx says something about our request, not about the provider's health.
    fn is_provider_failure(&self) -> bool {
        match self {
            UpstreamError::Timeout | UpstreamError::Connect(_) | UpstreamError::Body(_) => true,
            UpstreamError::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

/// The shared HTTP client; hands out one [`Endpoint`] per provider.
#[derive(Clone)]
pub struct Upstream {
    http: reqwest::Client,
    metrics: Arc<Metrics>,
}

impl Upstream {
    /// A client whose request metrics go to `metrics`.
    pub fn with_metrics(metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        let mut upstream = Self::new()?;
        upstream.metrics = metrics;
        Ok(upstream)
    }

    pub fn new() -> anyhow::Result<Self> {
        install_crypto();
        #[allow(clippy::disallowed_methods, reason = "the one upstream client")]
        let http = reqwest::Client::builder()
            .user_agent(concat!("almanac/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self {
            http,
            metrics: Arc::default(),
        })
    }

    /// The underlying client (its TLS and connection pool), for almanac's own outbound calls
    /// that are not a provider's (MLflow tracking).
    pub fn client(&self) -> reqwest::Client {
        self.http.clone()
    }

    /// The request path of one provider, with its own budgets, breaker and in-flight cap.
    pub fn endpoint(&self, provider: &'static str, policy: &Policy) -> Endpoint {
        Endpoint {
            provider,
            metrics: self.metrics.clone(),
            http: self.http.clone(),
            budgets: policy.limiters(),
            in_flight: Semaphore::new(policy.max_in_flight.max(1) as usize),
            breaker: Breaker::new(
                policy.breaker_failures,
                Duration::from_secs(policy.breaker_cooldown_secs),
            ),
            policy: policy.clone(),
        }
    }
}

/// Installs rustls' `ring` provider for the process (cheaper to build than aws-lc-rs). Every
/// process that builds an HTTP client calls this first; calling it again is harmless.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// One provider's request path.
pub struct Endpoint {
    provider: &'static str,
    metrics: Arc<Metrics>,
    http: reqwest::Client,
    policy: Policy,
    budgets: Vec<policy::Limiter>,
    in_flight: Semaphore,
    breaker: Breaker,
}

/// A successful answer: its headers and body.
#[derive(Debug)]
pub struct Answer {
    pub headers: header::HeaderMap,
    pub body: Bytes,
}

/// A provider's own reading of a 2xx answer: some put their status in the body or in headers
/// (AEMET's `estado`, `aemet_estado`), and a refusal found there is retried like an HTTP one.
pub type Check<'a> = &'a (dyn Fn(&Answer) -> Result<(), UpstreamError> + Sync);

impl Endpoint {
    /// GETs `url`, charging `weight` calls to the budgets per attempt, and returns the body.
    pub async fn get(&self, url: &reqwest::Url, weight: f64) -> Result<Bytes, UpstreamError> {
        Ok(self.get_with(url, weight, &[], &|_| Ok(())).await?.body)
    }

    /// GETs `url` with extra request `headers` (an API key), reading each 2xx answer with
    /// `check` before accepting it.
    pub async fn get_with(
        &self,
        url: &reqwest::Url,
        weight: f64,
        headers: &[(&str, &str)],
        check: Check<'_>,
    ) -> Result<Answer, UpstreamError> {
        self.retrying(url, move || async move {
            let (_slot, response) = self.send(url, weight, headers).await?;
            let headers = response.headers().clone();
            let body = read_capped(response, self.policy.max_body_bytes).await?;
            let answer = Answer { headers, body };
            check(&answer).map(|()| answer)
        })
        .await
    }

    /// GETs `url` into an anonymous temporary file, streaming (a large download never sits in
    /// memory), and returns the file rewound to its start.
    pub async fn download(
        &self,
        url: &reqwest::Url,
        weight: f64,
    ) -> Result<std::fs::File, UpstreamError> {
        self.retrying(url, move || async move {
            let (_slot, mut response) = self.send(url, weight, &[]).await?;
            let limit = self.policy.max_body_bytes;
            if response.content_length().is_some_and(|n| n > limit) {
                return Err(UpstreamError::TooLarge { limit });
            }
            let local = |e: std::io::Error| UpstreamError::Body(format!("temporary file: {e}"));
            let mut file = tempfile::tempfile().map_err(local)?;
            let mut written = 0u64;
            while let Some(chunk) = response.chunk().await.map_err(classify)? {
                written += chunk.len() as u64;
                if written > limit {
                    return Err(UpstreamError::TooLarge { limit });
                }
                std::io::Write::write_all(&mut file, &chunk).map_err(local)?;
            }
            std::io::Seek::rewind(&mut file).map_err(local)?;
            Ok(file)
        })
        .await
    }

    /// Runs `attempt` under the breaker and retries it with backoff while it fails retryably.
    async fn retrying<T, F>(
        &self,
        url: &reqwest::Url,
        mut attempt_once: impl FnMut() -> F,
    ) -> Result<T, UpstreamError>
    where
        F: std::future::Future<Output = Result<T, UpstreamError>>,
    {
        let mut attempt = 0;
        loop {
            self.breaker
                .permit(Instant::now())
                .map_err(UpstreamError::CircuitOpen)?;
            let started = Instant::now();
            let result = attempt_once().await;
            let provider = [("provider", self.provider)];
            self.metrics.observe(
                "external_upstream_request_duration_seconds",
                &provider,
                started.elapsed().as_secs_f64(),
            );
            let outcome = match &result {
                Ok(_) => "ok",
                Err(e) => e.kind(),
            };
            self.metrics.add(
                "external_upstream_requests_total",
                &[("provider", self.provider), ("outcome", outcome)],
                1.0,
            );
            let failed = result
                .as_ref()
                .err()
                .filter(|e| e.is_provider_failure())
                .is_some();
            self.breaker.record(!failed, Instant::now());
            let open = if self.circuit_open() { 1.0 } else { 0.0 };
            self.metrics
                .set("external_upstream_circuit_open", &provider, open);
            let error = match result {
                Ok(body) => return Ok(body),
                Err(error) => error,
            };
            let delay = self
                .retry_delay(&error, attempt)
                .ok_or_else(|| error.clone())?;
            tracing::warn!(provider = self.provider, path = url.path(), attempt, delay_ms = delay.as_millis() as u64, %error, "retrying upstream request");
            self.metrics
                .add("external_upstream_retries_total", &provider, 1.0);
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// Whether requests to this provider are being refused by the breaker right now.
    pub fn circuit_open(&self) -> bool {
        self.breaker.is_open(Instant::now())
    }

    /// How long to wait before retrying, or `None` to give up with the error.
    fn retry_delay(&self, error: &UpstreamError, attempt: u32) -> Option<Duration> {
        if !error.is_retryable() || attempt >= self.policy.retries {
            return None;
        }
        match error {
            UpstreamError::RateLimited {
                retry_after: Some(wait),
                ..
            } => (wait.as_secs() <= self.policy.max_retry_after_secs).then_some(*wait),
            _ => Some(self.policy.backoff(attempt, fastrand::f64())),
        }
    }

    /// One request: budgets, an in-flight slot (held by the caller while it reads the body), the
    /// status turned into a typed error unless it is a success.
    async fn send(
        &self,
        url: &reqwest::Url,
        weight: f64,
        headers: &[(&str, &str)],
    ) -> Result<(tokio::sync::SemaphorePermit<'_>, reqwest::Response), UpstreamError> {
        for budget in &self.budgets {
            budget.acquire(weight).await?;
        }
        let slot = self
            .in_flight
            .acquire()
            .await
            .map_err(|e| UpstreamError::Connect(e.to_string()))?;
        let timeout = Duration::from_secs(self.policy.timeout_secs);
        let mut request = self.http.get(url.clone()).timeout(timeout);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.map_err(classify)?;
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            let retry_after = response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            let body = excerpt(response).await;
            return Err(UpstreamError::RateLimited { retry_after, body });
        }
        if !status.is_success() {
            let body = excerpt(response).await;
            return Err(UpstreamError::Status {
                status: status.as_u16(),
                body,
            });
        }
        Ok((slot, response))
    }
}

fn classify(error: reqwest::Error) -> UpstreamError {
    if error.is_timeout() {
        return UpstreamError::Timeout;
    }
    // reqwest's own message is generic ("client error (Connect)"); the cause is further down.
    // The URL is dropped: its query may carry a key.
    let error = error.without_url();
    let mut chain = error.to_string();
    let mut cause = std::error::Error::source(&error);
    while let Some(inner) = cause {
        chain.push_str(": ");
        chain.push_str(&inner.to_string());
        cause = inner.source();
    }
    if error.is_body() || error.is_decode() {
        UpstreamError::Body(chain)
    } else {
        UpstreamError::Connect(chain)
    }
}

async fn read_capped(mut response: reqwest::Response, limit: u64) -> Result<Bytes, UpstreamError> {
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(UpstreamError::TooLarge { limit });
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(classify)? {
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(UpstreamError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The first 512 bytes of an error body, for the message.
async fn excerpt(response: reqwest::Response) -> String {
    let bytes = read_capped(response, 64 * 1024).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]);
    text.trim().to_string()
}

/// `Retry-After` as delta-seconds or an HTTP date (RFC 9110 §10.2.3).
fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = jiff::fmt::rfc2822::parse(value.trim()).ok()?.timestamp();
    let wait = at.as_second() - crate::domain::Timestamp::now().epoch();
    Some(Duration::from_secs(wait.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn only_transient_failures_are_retried() {
        assert!(UpstreamError::Timeout.is_retryable());
        assert!(
            UpstreamError::Status {
                status: 503,
                body: String::new()
            }
            .is_retryable()
        );
        assert!(
            !UpstreamError::Status {
                status: 400,
                body: String::new()
            }
            .is_retryable()
        );
        assert!(!UpstreamError::TooLarge { limit: 1 }.is_retryable());
        assert!(
            !UpstreamError::RateLimited {
                retry_after: None,
                body: String::new()
            }
            .is_provider_failure()
        );
    }
}
