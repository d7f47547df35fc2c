//! A per-provider circuit breaker, written by hand (the crates for it are unmaintained): after
//! `threshold` consecutive failures the circuit opens for `cooldown`; then one trial request is
//! let through (half-open), and its outcome closes or re-opens the circuit. Time is passed in.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { trial_running: bool },
}

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cooldown,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    /// `Ok` when a request may go out now, else how long until the circuit lets one through.
    pub fn permit(&self, now: Instant) -> Result<(), Duration> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match *state {
            State::Closed { .. } => Ok(()),
            State::Open { until } if now < until => Err(until - now),
            State::Open { .. }
            | State::HalfOpen {
                trial_running: false,
            } => {
                *state = State::HalfOpen {
                    trial_running: true,
                };
                Ok(())
            }
            State::HalfOpen {
                trial_running: true,
            } => Err(self.cooldown),
        }
    }

    /// Records the outcome of a request that `permit` let through.
    pub fn record(&self, success: bool, now: Instant) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        *state = match (*state, success) {
            (_, true) => State::Closed { failures: 0 },
            (State::Closed { failures }, false) if failures + 1 < self.threshold => State::Closed {
                failures: failures + 1,
            },
            (_, false) => State::Open {
                until: now + self.cooldown,
            },
        };
    }

    /// Whether requests are currently being refused, for status reporting.
    pub fn is_open(&self, now: Instant) -> bool {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        matches!(*state, State::Open { until } if now < until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_consecutive_failures_and_closes_after_a_good_trial() {
        let t0 = Instant::now();
        let breaker = Breaker::new(3, Duration::from_secs(10));
        for _ in 0..2 {
            breaker.permit(t0).unwrap();
            breaker.record(false, t0);
        }
        assert!(breaker.permit(t0).is_ok(), "two failures keep it closed");
        breaker.record(false, t0);
        assert_eq!(
            breaker.permit(t0 + Duration::from_secs(4)),
            Err(Duration::from_secs(6))
        );
        assert!(breaker.is_open(t0));

        let later = t0 + Duration::from_secs(10);
        assert!(
            breaker.permit(later).is_ok(),
            "one trial after the cooldown"
        );
        assert!(breaker.permit(later).is_err(), "only one trial at a time");
        breaker.record(true, later);
        assert!(breaker.permit(later).is_ok());
        assert!(!breaker.is_open(later));
    }

    #[test]
    fn a_failed_trial_reopens_the_circuit() {
        let t0 = Instant::now();
        let breaker = Breaker::new(1, Duration::from_secs(5));
        breaker.record(false, t0);
        let later = t0 + Duration::from_secs(5);
        breaker.permit(later).unwrap();
        breaker.record(false, later);
        assert!(breaker.permit(later + Duration::from_secs(1)).is_err());
    }

    #[test]
    fn a_success_resets_the_failure_count() {
        let t0 = Instant::now();
        let breaker = Breaker::new(2, Duration::from_secs(5));
        breaker.record(false, t0);
        breaker.record(true, t0);
        breaker.record(false, t0);
        assert!(breaker.permit(t0).is_ok());
    }
}
