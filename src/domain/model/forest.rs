//! A random forest (`smartcore`, 50 trees of depth 10 at most) over lags and the calendar — the
//! factory's and the utility's model family — forecasting every lead directly. For a target
//! step `t` forecast from an origin `o` (the first step not yet known, `t ≥ o`), the features are:
//! - the lead `t − o`;
//! - per season `p` of the step (a day, a week): the value one, or more, whole seasons before `t`
//!   that was known at `o`, and `t`'s position in that season;
//! - the last value known at `o`, and the mean of the last longest season before `o` (the level);
//! - each regressor known in advance at `t` (whether `t` falls on a holiday).
//!
//! It is trained on the history itself: each step with a value is a target, seen from an origin
//! a lead before it (leads drawn in turn over the horizon), on the last `MAX_ROWS` such rows.
//! Positions in a season are counted from the history's start, which every row of one fit
//! shares, so they need no clock. Forecast weather is not a feature: forecasts are stored only
//! since almanac started fetching them, far shorter than a training window, and the observed
//! weather in their place would leak the future into the backtest.

use smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;

use super::{Forecaster, Known, ModelError};

/// The forest family at these seasons (in steps).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forest {
    pub periods: Vec<usize>,
}

/// Training rows at most (the newest).
const MAX_ROWS: usize = 3_000;
/// Fewer rows than this are not enough to grow a forest.
const MIN_ROWS: usize = 50;

impl Forest {
    /// The features of target `t` seen from origin `o` (`None` when a lag is missing).
    fn features(&self, y: &[Option<f64>], known: &Known, o: usize, t: usize) -> Option<Vec<f64>> {
        let last = y[..o].iter().rev().take(48).find_map(|v| *v)?;
        let mut row = vec![(t - o) as f64, last];
        let level_span = self.periods.last().copied().unwrap_or(24).min(o);
        let recent: Vec<f64> = y[o - level_span..o].iter().flatten().copied().collect();
        row.push(if recent.is_empty() {
            last
        } else {
            recent.iter().sum::<f64>() / recent.len() as f64
        });
        for &p in &self.periods {
            // The value whole seasons before t, known at o: one season back, or more.
            let mut k = (t - o) / p + 1;
            let lag = loop {
                let back = p * k;
                if back > t {
                    break None;
                }
                if let Some(v) = y[t - back] {
                    break Some(v);
                }
                k += 1;
                if k > (t - o) / p + 3 {
                    break None;
                }
            };
            row.push(lag?);
            row.push((t % p) as f64);
        }
        for column in &known.columns {
            row.push(*column.get(t)?);
        }
        Some(row)
    }
}

impl Forest {
    /// Whether feature `i` of a row is a value of the series (scaled like the target), not a
    /// lead or a position in a season: the last value, the level, and each season's lag.
    fn is_value(&self, i: usize) -> bool {
        i == 1 || i == 2 || (i >= 3 && i < 3 + 2 * self.periods.len() && (i - 3).is_multiple_of(2))
    }
}

impl Forecaster for Forest {
    fn name(&self) -> String {
        super::named("forest", &self.periods)
    }

    fn forecast(
        &self,
        history: &[Option<f64>],
        horizon: usize,
    ) -> Result<Vec<Option<f64>>, ModelError> {
        self.forecast_known(history, &Known::default(), horizon)
    }

    fn forecast_known(
        &self,
        history: &[Option<f64>],
        known: &Known,
        horizon: usize,
    ) -> Result<Vec<Option<f64>>, ModelError> {
        let n = history.len();
        known.check(n + horizon)?;
        let longest = self.periods.last().copied().unwrap_or(1);
        let mut rows = Vec::new();
        let mut targets = Vec::new();
        // The newest targets first, each from an origin `lead` before it, leads in turn.
        for (i, t) in (longest + 1..n).rev().enumerate() {
            if rows.len() >= MAX_ROWS {
                break;
            }
            let Some(value) = history[t] else { continue };
            let lead = i % horizon.max(1);
            let Some(o) = t.checked_sub(lead).filter(|&o| o > 0) else {
                continue;
            };
            if let Some(row) = self.features(history, known, o, t) {
                rows.push(row);
                targets.push(value);
            }
        }
        if rows.len() < MIN_ROWS {
            return Err(ModelError(format!(
                "{} training rows from {n} steps, {MIN_ROWS} at least needed",
                rows.len()
            )));
        }
        // Values scaled to the targets' mean and spread: smartcore's trees stop splitting when
        // the variance gained is below a fixed epsilon, which a series of small numbers (flows
        // in m³/s) never exceeds.
        let mean = targets.iter().sum::<f64>() / targets.len() as f64;
        let spread = (targets.iter().map(|v| (v - mean).powi(2)).sum::<f64>()
            / targets.len() as f64)
            .sqrt()
            .max(f64::MIN_POSITIVE);
        let scale = |v: f64| (v - mean) / spread;
        let scaled = |row: &[f64]| -> Vec<f64> {
            row.iter()
                .enumerate()
                .map(|(i, &v)| if self.is_value(i) { scale(v) } else { v })
                .collect()
        };
        let rows: Vec<Vec<f64>> = rows.iter().map(|r| scaled(r)).collect();
        let targets: Vec<f64> = targets.into_iter().map(scale).collect();
        let x = DenseMatrix::from_2d_vec(&rows).map_err(|e| ModelError(e.to_string()))?;
        // Features tried at each split: most of them (the usual third would leave one of five,
        // mostly the lead or the level, which say little alone).
        let m = (rows[0].len() * 3).div_ceil(5).max(2);
        let parameters = RandomForestRegressorParameters::default()
            .with_n_trees(50)
            .with_m(m)
            .with_max_depth(10)
            .with_min_samples_leaf(3)
            .with_seed(42);
        let forest = RandomForestRegressor::fit(&x, &targets, parameters)
            .map_err(|e| ModelError(format!("random forest: {e}")))?;
        // Forecast rows; a step whose lags are all missing has no forecast.
        let mut extended = history.to_vec();
        extended.resize(n + horizon, None);
        let ahead: Vec<Option<Vec<f64>>> = (n..n + horizon)
            .map(|t| self.features(&extended, known, n, t))
            .collect();
        let known: Vec<Vec<f64>> = ahead.iter().flatten().map(|r| scaled(r)).collect();
        if known.is_empty() {
            return Ok(vec![None; horizon]);
        }
        let x = DenseMatrix::from_2d_vec(&known).map_err(|e| ModelError(e.to_string()))?;
        let predicted: Vec<f64> = forest
            .predict(&x)
            .map_err(|e| ModelError(format!("random forest: {e}")))?;
        let mut values = predicted.into_iter().map(|v| v * spread + mean);
        Ok(ahead
            .iter()
            .map(|row| row.as_ref().and_then(|_| values.next()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_daily_pattern_is_learned_from_its_lags() {
        let value = |i: usize| 10.0 + ((i % 24) as f64 - 12.0).abs();
        let history: Vec<Option<f64>> = (0..24 * 20).map(|i| Some(value(i))).collect();
        let forest = Forest { periods: vec![24] };
        let forecast = forest.forecast(&history, 24).unwrap();
        assert_eq!(forecast.len(), 24);
        let mae: f64 = forecast
            .iter()
            .enumerate()
            .map(|(h, f)| (f.unwrap() - value(24 * 20 + h)).abs())
            .sum::<f64>()
            / 24.0;
        // Trees average neighbouring hours (a leaf holds three rows at least): not exact, but far
        // closer than the last value repeated (MAE 5.5 here).
        let truth: Vec<f64> = (0..24).map(|h| value(24 * 20 + h)).collect();
        assert!(mae < 1.0, "mae {mae}: {forecast:?} against {truth:?}");
        assert_eq!(forest.name(), "forest_24");
    }

    #[test]
    fn a_holiday_known_in_advance_is_learned() {
        // Daily values with a weekly shape; every 10th day a holiday at a third of the level.
        let holiday = |i: usize| i % 10 == 3;
        let value = |i: usize| {
            let base = 100.0 + 10.0 * (i % 7) as f64;
            if holiday(i) { base / 3.0 } else { base }
        };
        let n = 7 * 60;
        let horizon = 14;
        let history: Vec<Option<f64>> = (0..n).map(|i| Some(value(i))).collect();
        let known = Known {
            names: vec!["holiday".into()],
            columns: vec![
                (0..n + horizon)
                    .map(|i| f64::from(u8::from(holiday(i))))
                    .collect(),
            ],
        };
        let forest = Forest { periods: vec![7] };
        let mae = |forecast: Vec<Option<f64>>| {
            forecast
                .iter()
                .enumerate()
                .map(|(h, f)| (f.unwrap() - value(n + h)).abs())
                .sum::<f64>()
                / horizon as f64
        };
        let with = mae(forest.forecast_known(&history, &known, horizon).unwrap());
        let without = mae(forest.forecast(&history, horizon).unwrap());
        assert!(with < 5.0, "with the holiday column: MAE {with}");
        assert!(with * 3.0 < without, "with {with}, without {without}");
        // A column too short for the horizon is refused, not read past its end.
        let short = known.slice(0, n);
        assert!(forest.forecast_known(&history, &short, horizon).is_err());
    }

    #[test]
    fn too_short_a_history_is_refused() {
        let history: Vec<Option<f64>> = (0..30).map(|i| Some(i as f64)).collect();
        assert!(Forest { periods: vec![24] }.forecast(&history, 6).is_err());
    }
}
