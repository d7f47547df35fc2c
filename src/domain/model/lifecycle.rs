//! The rules a model's versions live by (the utility seed's, configurable): a new version runs
//! in shadow beside the champion; after `shadow_hours`, scored on the same targets as the
//! champion as the actuals arrived, it is promoted when its live MAE is at most
//! `promote_ratio` × the champion's, and retired otherwise. A champion whose live MAE exceeds
//! `degrade_ratio` × its backtest MAE is rolled back to the version it replaced when it was
//! promoted less than `rollback_hours` ago, and is retrained otherwise.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Rules {
    pub shadow_hours: u32,
    pub promote_ratio: f64,
    pub degrade_ratio: f64,
    pub rollback_hours: u32,
    /// Scored (prediction, actual) pairs needed before any judgement.
    pub min_scored: usize,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            shadow_hours: 24,
            promote_ratio: 1.1,
            degrade_ratio: 1.2,
            rollback_hours: 168,
            min_scored: 24,
        }
    }
}

/// A version's live score: its MAE over the pairs scored.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Live {
    pub mae: f64,
    pub pairs: usize,
}

/// What to do with a version.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Nothing yet (why).
    Wait(String),
    Promote(String),
    /// Retire the shadow.
    Reject(String),
    Keep,
    /// Put back the champion this one replaced.
    RollBack(String),
    /// Train a new version.
    Retrain(String),
}

/// A shadow version `age_hours` after it began, scored live on the same targets as the
/// champion (`champion` is `None` when the champion has no live score there).
pub fn judge_shadow(
    rules: &Rules,
    age_hours: f64,
    shadow: Option<Live>,
    champion: Option<Live>,
) -> Verdict {
    if age_hours < f64::from(rules.shadow_hours) {
        return Verdict::Wait(format!(
            "in shadow for {age_hours:.1} h of {} h",
            rules.shadow_hours
        ));
    }
    let shadow = match shadow {
        Some(s) if s.pairs >= rules.min_scored => s,
        other => {
            let pairs = other.map_or(0, |s| s.pairs);
            // A shadow that never meets enough actuals (a feed that stopped) is let go after
            // three shadow periods rather than kept forever.
            if age_hours >= 3.0 * f64::from(rules.shadow_hours) {
                return Verdict::Reject(format!(
                    "only {pairs} predictions scored after {age_hours:.0} h ({} needed)",
                    rules.min_scored
                ));
            }
            return Verdict::Wait(format!(
                "{pairs} predictions scored, {} needed",
                rules.min_scored
            ));
        }
    };
    match champion {
        Some(c) if c.pairs >= rules.min_scored => {
            if shadow.mae <= rules.promote_ratio * c.mae {
                Verdict::Promote(format!(
                    "live MAE {:.4} ≤ {} × the champion's {:.4} over {} predictions",
                    shadow.mae, rules.promote_ratio, c.mae, shadow.pairs
                ))
            } else {
                Verdict::Reject(format!(
                    "live MAE {:.4} > {} × the champion's {:.4} over {} predictions",
                    shadow.mae, rules.promote_ratio, c.mae, shadow.pairs
                ))
            }
        }
        _ => Verdict::Promote(format!(
            "the champion has no live score on the same targets; live MAE {:.4} over {} predictions",
            shadow.mae, shadow.pairs
        )),
    }
}

/// The champion, scored live since it became champion, against its backtest MAE;
/// `promoted_hours_ago` when it replaced another version (which a rollback puts back).
pub fn judge_champion(
    rules: &Rules,
    live: Option<Live>,
    backtest_mae: f64,
    promoted_hours_ago: Option<f64>,
) -> Verdict {
    let Some(live) = live.filter(|l| l.pairs >= rules.min_scored) else {
        return Verdict::Keep;
    };
    if live.mae <= rules.degrade_ratio * backtest_mae || live.mae.is_nan() {
        return Verdict::Keep;
    }
    let why = format!(
        "live MAE {:.4} > {} × its backtest MAE {:.4} over {} predictions",
        live.mae, rules.degrade_ratio, backtest_mae, live.pairs
    );
    match promoted_hours_ago {
        Some(hours) if hours < f64::from(rules.rollback_hours) => Verdict::RollBack(why),
        _ => Verdict::Retrain(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(mae: f64, pairs: usize) -> Option<Live> {
        Some(Live { mae, pairs })
    }

    #[test]
    fn a_shadow_waits_its_period_and_enough_actuals() {
        let r = Rules::default();
        assert!(matches!(
            judge_shadow(&r, 10.0, live(1.0, 100), live(2.0, 100)),
            Verdict::Wait(_)
        ));
        assert!(matches!(
            judge_shadow(&r, 30.0, live(1.0, 5), live(2.0, 100)),
            Verdict::Wait(_)
        ));
        assert!(matches!(
            judge_shadow(&r, 80.0, live(1.0, 5), live(2.0, 100)),
            Verdict::Reject(_)
        ));
    }

    #[test]
    fn a_worse_challenger_is_not_promoted_a_close_or_better_one_is() {
        let r = Rules::default();
        // 1.2 × worse: rejected.
        assert!(matches!(
            judge_shadow(&r, 24.0, live(1.2, 48), live(1.0, 48)),
            Verdict::Reject(_)
        ));
        // Within 1.1 ×: promoted (the seed's rule accepts a slightly worse fresher model).
        assert!(matches!(
            judge_shadow(&r, 24.0, live(1.1, 48), live(1.0, 48)),
            Verdict::Promote(_)
        ));
        assert!(matches!(
            judge_shadow(&r, 24.0, live(0.5, 48), None),
            Verdict::Promote(_)
        ));
    }

    #[test]
    fn a_degraded_champion_is_rolled_back_when_recent_else_retrained() {
        let r = Rules::default();
        assert_eq!(
            judge_champion(&r, live(1.1, 48), 1.0, Some(2.0)),
            Verdict::Keep
        );
        assert!(matches!(
            judge_champion(&r, live(1.3, 48), 1.0, Some(2.0)),
            Verdict::RollBack(_)
        ));
        assert!(matches!(
            judge_champion(&r, live(1.3, 48), 1.0, Some(500.0)),
            Verdict::Retrain(_)
        ));
        assert!(matches!(
            judge_champion(&r, live(1.3, 48), 1.0, None),
            Verdict::Retrain(_)
        ));
        // Too few actuals yet: keep.
        assert_eq!(
            judge_champion(&r, live(9.0, 3), 1.0, Some(2.0)),
            Verdict::Keep
        );
    }
}
