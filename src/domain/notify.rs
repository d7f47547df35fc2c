//! When to tell an operator: each condition almanac watches (a job failing, data going stale, a
//! source's circuit open, a gap left unfilled, critical anomalies) is a topic, checked again and
//! again; [`decide`] turns one check into at most one message, from the topic's state kept
//! between checks (in the store, so every replica sees the same):
//! - a condition fires once it has been observed continuously for its hold time;
//! - a message goes out only when the state to tell (firing or resolved) differs from the last
//!   one told — the same state is never told twice (deduplicated);
//! - at most one message per topic per `gap` (rate-limited, the factory's 15 minutes): a change
//!   inside that time is told at the first check after it, if it still holds then;
//! - a one-off event (a model rolled back) fires once and is never "resolved".

use serde::{Deserialize, Serialize};

use super::Timestamp;

/// A topic's state between checks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopicState {
    /// Whether the condition held at the last check, and since when it has held (or not).
    pub observed: bool,
    pub observed_since: Timestamp,
    /// The last state told (`true`: firing), and when; `None`: nothing told yet.
    pub told: Option<bool>,
    pub told_at: Option<Timestamp>,
    /// What the last check said of it.
    pub detail: String,
}

/// What to tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Told {
    Firing,
    Resolved,
}

/// One check of a topic.
#[derive(Clone, Copy, Debug)]
pub struct Check {
    /// Whether the condition holds now.
    pub observed: bool,
    /// How long it must hold before it fires, seconds.
    pub hold: i64,
    /// At most one message per topic this often, seconds.
    pub gap: i64,
    /// A one-off event: told when it fires, never resolved.
    pub once: bool,
    pub now: Timestamp,
}

/// The topic's next state and the message to send, if any.
pub fn decide(
    previous: Option<&TopicState>,
    check: Check,
    detail: &str,
) -> (TopicState, Option<Told>) {
    let Check {
        observed,
        hold,
        gap,
        once,
        now,
    } = check;
    let observed_since = match previous {
        Some(p) if p.observed == observed => p.observed_since,
        _ => now,
    };
    let mut state = TopicState {
        observed,
        observed_since,
        told: previous.and_then(|p| p.told),
        told_at: previous.and_then(|p| p.told_at),
        detail: detail.to_owned(),
    };
    let firing = observed && now.epoch() - observed_since.epoch() >= hold;
    // What is to be told: a one-off only its firing; a condition its state once it was told
    // firing, or fires (a condition never told is not "resolved").
    let want = if once {
        // Told once per episode: observed again after it stopped being observed.
        (firing && (state.told != Some(true) || previous.is_some_and(|p| !p.observed)))
            .then_some(true)
    } else if firing {
        (state.told != Some(true)).then_some(true)
    } else if state.told == Some(true) && !observed {
        Some(false)
    } else {
        None
    };
    let Some(want) = want else {
        return (state, None);
    };
    if state
        .told_at
        .is_some_and(|at| now.epoch() - at.epoch() < gap)
    {
        return (state, None);
    }
    state.told = Some(want);
    state.told_at = Some(now);
    (
        state,
        Some(if want { Told::Firing } else { Told::Resolved }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60;

    fn run(checks: &[(i64, bool)], hold: i64, once: bool) -> Vec<(i64, Told)> {
        let mut state: Option<TopicState> = None;
        let mut told = Vec::new();
        for &(minute, observed) in checks {
            let check = Check {
                observed,
                hold: hold * MIN,
                gap: 15 * MIN,
                once,
                now: Timestamp::from_epoch(minute * MIN),
            };
            let (next, message) = decide(state.as_ref(), check, "");
            if let Some(m) = message {
                told.push((minute, m));
            }
            state = Some(next);
        }
        told
    }

    #[test]
    fn a_condition_is_told_once_then_resolved() {
        let checks = [
            (0, false),
            (5, true),
            (10, true),
            (15, true),
            (20, false),
            (25, false),
        ];
        assert_eq!(
            run(&checks, 0, false),
            [(5, Told::Firing), (20, Told::Resolved)]
        );
        // Never firing: nothing, not even a "resolved".
        assert!(run(&[(0, false), (5, false)], 0, false).is_empty());
    }

    #[test]
    fn it_fires_only_after_holding_long_enough() {
        // Held from minute 5: fires at the first check 30 minutes on.
        let checks = [(5, true), (20, true), (34, true), (35, true), (40, true)];
        assert_eq!(run(&checks, 30, false), [(35, Told::Firing)]);
        // Interrupted before the hold: the clock starts again.
        let checks = [(5, true), (20, false), (25, true), (50, true), (55, true)];
        assert_eq!(run(&checks, 30, false), [(55, Told::Firing)]);
    }

    #[test]
    fn flapping_is_rate_limited_and_told_when_it_settles() {
        // Fires at 0, clears at 1, fires at 2, clears at 3 and stays clear: the resolution
        // waits for the 15 minutes to pass, and the flaps inside them are never told.
        let checks = [
            (0, true),
            (1, false),
            (2, true),
            (3, false),
            (10, false),
            (15, false),
        ];
        assert_eq!(
            run(&checks, 0, false),
            [(0, Told::Firing), (15, Told::Resolved)]
        );
        // Still firing when the gap has passed: nothing more to tell.
        let checks = [(0, true), (1, false), (2, true), (20, true)];
        assert_eq!(run(&checks, 0, false), [(0, Told::Firing)]);
    }

    #[test]
    fn a_one_off_event_is_told_once_per_episode_and_never_resolved() {
        let checks = [(0, true), (5, true), (10, false), (30, true), (31, false)];
        assert_eq!(
            run(&checks, 0, true),
            [(0, Told::Firing), (30, Told::Firing)]
        );
    }
}
