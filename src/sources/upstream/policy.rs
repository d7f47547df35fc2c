//! A provider's request policy as configured (`sources.<id>.limits`), and the weighted call
//! budgets built from it with `governor`.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};

use super::UpstreamError;

/// Budgets count calls in hundredths so that fractional weights (Open-Meteo's 1.3 calls for a
/// month of six variables) are charged exactly.
const CELLS_PER_CALL: u32 = 100;

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Policy {
    pub max_in_flight: u32,
    pub timeout_secs: u64,
    pub retries: u32,
    pub backoff_initial_ms: u64,
    pub backoff_max_ms: u64,
    /// A 429 asking us to wait longer than this fails the request instead of sleeping.
    pub max_retry_after_secs: u64,
    pub breaker_failures: u32,
    pub breaker_cooldown_secs: u64,
    pub max_body_bytes: u64,
    pub budgets: Vec<Budget>,
}

/// At most `calls` (weighted) per `per_secs` seconds.
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
pub struct Budget {
    pub calls: u32,
    pub per_secs: u64,
}

pub(super) struct Limiter {
    limiter: DefaultDirectRateLimiter,
}

impl Policy {
    pub fn problems(&self, prefix: &str) -> Vec<String> {
        let mut problems = Vec::new();
        for (i, b) in self.budgets.iter().enumerate() {
            if b.calls == 0 || b.per_secs == 0 || b.calls > u32::MAX / CELLS_PER_CALL {
                problems.push(format!("{prefix}.budgets[{i}]: calls and per_secs must be positive (calls ≤ 42 million)"));
            }
        }
        if self.timeout_secs == 0 {
            problems.push(format!("{prefix}.timeout_secs must be positive"));
        }
        problems
    }

    /// The wait before retry number `attempt + 1`: exponential, capped, with "equal jitter"
    /// (half fixed, half random from `unit` in `[0, 1)`), so retries of many clients spread out.
    pub fn backoff(&self, attempt: u32, unit: f64) -> Duration {
        let exp = self
            .backoff_initial_ms
            .saturating_mul(1u64 << attempt.min(20));
        let capped = exp.min(self.backoff_max_ms) as f64;
        Duration::from_millis((capped / 2.0 + capped / 2.0 * unit) as u64)
    }

    pub(super) fn limiters(&self) -> Vec<Limiter> {
        self.budgets
            .iter()
            .filter_map(|b| Limiter::new(*b))
            .collect()
    }
}

impl Limiter {
    fn new(budget: Budget) -> Option<Self> {
        let cells = NonZeroU32::new(budget.calls.checked_mul(CELLS_PER_CALL)?)?;
        let period = Duration::from_secs(budget.per_secs) / cells.get();
        let quota = Quota::with_period(period)?.allow_burst(cells);
        Some(Self {
            limiter: RateLimiter::direct(quota),
        })
    }

    /// Waits until `weight` calls fit in the budget, then charges them.
    pub(super) async fn acquire(&self, weight: f64) -> Result<(), UpstreamError> {
        let cells = (weight.max(0.01) * f64::from(CELLS_PER_CALL)).ceil() as u32;
        let n = NonZeroU32::new(cells).ok_or(UpstreamError::OverBudget(weight))?;
        self.limiter
            .until_n_ready(n)
            .await
            .map_err(|_| UpstreamError::OverBudget(weight))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            max_in_flight: 1,
            timeout_secs: 1,
            retries: 3,
            backoff_initial_ms: 100,
            backoff_max_ms: 1_000,
            max_retry_after_secs: 10,
            breaker_failures: 3,
            breaker_cooldown_secs: 1,
            max_body_bytes: 1,
            budgets: vec![Budget {
                calls: 2,
                per_secs: 60,
            }],
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let p = policy();
        assert_eq!(p.backoff(0, 0.0), Duration::from_millis(50));
        assert_eq!(p.backoff(0, 0.999), Duration::from_millis(99));
        assert_eq!(p.backoff(2, 0.0), Duration::from_millis(200));
        assert_eq!(p.backoff(10, 0.0), Duration::from_millis(500));
    }

    #[tokio::test]
    async fn a_request_heavier_than_the_whole_budget_is_refused() {
        let limiter = Limiter::new(Budget {
            calls: 2,
            per_secs: 60,
        })
        .unwrap();
        limiter.acquire(1.5).await.unwrap();
        assert_eq!(
            limiter.acquire(2.5).await,
            Err(UpstreamError::OverBudget(2.5))
        );
    }
}
