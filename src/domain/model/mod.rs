//! Forecasting models, pure: values in, numbers out. A model family is a [`Forecaster`] (the
//! baselines, MSTL with an AutoETS or a local AR(1) trend, a random forest over lags); `backtest` scores one by rolling origins against the
//! better baseline and calibrates its intervals on its own past errors (split conformal);
//! `lifecycle` holds the rules that promote a shadow version, keep or roll back a champion.
//!
//! A series is a slice of `Option<f64>`, one per step of its grid; a missing value is `None` and
//! never counts as a zero.

mod backtest;
mod baseline;
mod forest;
pub mod lifecycle;
pub mod live;
mod mstl;

pub use backtest::{Backtest, BandScore, Evaluation, Metrics, Widths, backtest};
pub use baseline::Baseline;
pub use forest::Forest;
pub use live::Predicted;
pub use mstl::{Mstl, Trend};

use serde::{Deserialize, Serialize};

/// Why a model could not forecast.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ModelError(pub String);

/// A forecasting method.
pub trait Forecaster: Send + Sync {
    /// Its name, with its settings (`seasonal_naive_168`, `mstl_24_168`).
    fn name(&self) -> String;
    /// The `horizon` values after `history` (whose last element is the step just before the
    /// first one forecast); `None` where it has nothing to say.
    fn forecast(
        &self,
        history: &[Option<f64>],
        horizon: usize,
    ) -> Result<Vec<Option<f64>>, ModelError>;

    /// The same, with values known in advance for every step of the history and the horizon
    /// (holidays); a family that takes none ignores them.
    fn forecast_known(
        &self,
        history: &[Option<f64>],
        known: &Known,
        horizon: usize,
    ) -> Result<Vec<Option<f64>>, ModelError> {
        let _ = known;
        self.forecast(history, horizon)
    }
}

/// Regressors known in advance (a holiday flag), one column each, one value per step from the
/// history's first step to the horizon's last.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Known {
    pub names: Vec<String>,
    pub columns: Vec<Vec<f64>>,
}

impl Known {
    /// The columns' steps `from..to`.
    pub fn slice(&self, from: usize, to: usize) -> Known {
        Known {
            names: self.names.clone(),
            columns: self
                .columns
                .iter()
                .map(|c| c[from.min(c.len())..to.min(c.len())].to_vec())
                .collect(),
        }
    }

    /// Fails unless every column covers `steps` steps.
    pub fn check(&self, steps: usize) -> Result<(), ModelError> {
        match self
            .names
            .iter()
            .zip(&self.columns)
            .find(|(_, c)| c.len() < steps)
        {
            Some((name, c)) => Err(ModelError(format!(
                "regressor `{name}` has {} steps, {steps} needed",
                c.len()
            ))),
            None => Ok(()),
        }
    }
}

/// The model families a model can be declared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// The last value, repeated.
    Naive,
    /// The value one season ago (the longest season of the step the history holds [`CYCLES`]
    /// times).
    SeasonalNaive,
    /// MSTL decomposition over the step's seasons, its trend forecast by AutoETS.
    Mstl,
    /// The same decomposition, what is left forecast as an AR(1) around its recent level.
    MstlAr,
    /// A random forest over lags and the position in each season, every lead forecast directly.
    Forest,
}

impl Family {
    pub const ALL: [Family; 5] = [
        Family::Naive,
        Family::SeasonalNaive,
        Family::Mstl,
        Family::MstlAr,
        Family::Forest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Family::Naive => "naive",
            Family::SeasonalNaive => "seasonal_naive",
            Family::Mstl => "mstl",
            Family::MstlAr => "mstl_ar",
            Family::Forest => "forest",
        }
    }

    /// The forecaster of this family for a series of `step_seconds`, fitted on histories of
    /// about `history` steps.
    pub fn forecaster(self, step_seconds: i64, history: usize) -> Box<dyn Forecaster> {
        let periods = periods_held(step_seconds, history);
        match self {
            Family::Naive => Box::new(Baseline::Naive),
            Family::SeasonalNaive => match periods.last() {
                Some(&period) => Box::new(Baseline::Seasonal { period }),
                None => Box::new(Baseline::Naive),
            },
            Family::Mstl => Box::new(Mstl {
                periods,
                trend: Trend::Ets,
            }),
            Family::MstlAr => Box::new(Mstl {
                periods,
                trend: Trend::LocalAr,
            }),
            Family::Forest => Box::new(Forest { periods }),
        }
    }
}

/// A family's name with its seasons: `mstl_24_168`.
fn named(family: &str, periods: &[usize]) -> String {
    let mut name = String::from(family);
    for p in periods {
        name.push('_');
        name.push_str(&p.to_string());
    }
    name
}

/// The seasons (in steps) of a series at `step_seconds`: a day and a week of hourly (or finer)
/// values, a week and a year of daily ones.
pub fn seasons(step_seconds: i64) -> Vec<usize> {
    if step_seconds <= 0 {
        return Vec::new();
    }
    let day = (86_400 / step_seconds) as usize;
    if day >= 2 {
        vec![day, day * 7]
    } else {
        vec![7, 365]
    }
}

/// A season is decomposed (or used by the seasonal naive family) only when the history holds
/// it this many times: from two cycles a week's shape is mostly the noise of two weeks.
pub const CYCLES: usize = 3;

/// The seasons a history of `len` steps holds at least [`CYCLES`] times over (what a
/// decomposition or a seasonal naive forecast can be built on).
pub fn periods_held(step_seconds: i64, len: usize) -> Vec<usize> {
    seasons(step_seconds)
        .into_iter()
        .filter(|p| len >= CYCLES * p)
        .collect()
}

/// The baselines a model of this step is scored against: naive and seasonal naive at each of
/// the step's seasons the history holds.
pub fn baselines(step_seconds: i64, history: usize) -> Vec<Baseline> {
    let mut out = vec![Baseline::Naive];
    out.extend(
        seasons(step_seconds)
            .into_iter()
            .filter(|p| history > *p)
            .map(|period| Baseline::Seasonal { period }),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seasons_follow_the_step() {
        assert_eq!(seasons(3_600), vec![24, 168]);
        assert_eq!(seasons(900), vec![96, 672]);
        assert_eq!(seasons(86_400), vec![7, 365]);
        assert_eq!(periods_held(3_600, 24 * 14), vec![24]);
        assert_eq!(periods_held(3_600, 24 * 21), vec![24, 168]);
        assert_eq!(
            baselines(86_400, 400),
            vec![
                Baseline::Naive,
                Baseline::Seasonal { period: 7 },
                Baseline::Seasonal { period: 365 }
            ]
        );
    }

    #[test]
    fn families_name_their_settings() {
        assert_eq!(
            Family::SeasonalNaive.forecaster(3_600, 24 * 30).name(),
            "seasonal_naive_168"
        );
        assert_eq!(
            Family::Mstl.forecaster(3_600, 24 * 30).name(),
            "mstl_24_168"
        );
        // Too short for a week three times over: the daily season only.
        assert_eq!(Family::Mstl.forecaster(3_600, 24 * 14).name(), "mstl_24");
    }
}
