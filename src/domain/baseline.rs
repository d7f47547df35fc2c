//! Baseline forecasts and how they are scored: the naive forecast (the last value), the seasonal
//! naive forecast (the value one season ago: a day or a week of hourly values), rolling-origin
//! backtests with MAE, RMSE and MASE, and prediction intervals from backtest residuals (split
//! conformal: the absolute errors of earlier origins at each lead give the interval's half-width,
//! scored on the later origins only, so the coverage reported is not the calibration's own).
//! Every model issue 17 adds is to be scored against the better of these. Pure: values in, numbers
//! out; a missing value is `None` and never counts as a zero.

/// A baseline forecaster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Baseline {
    /// Every lead takes the last value present.
    Naive,
    /// Lead `h` takes the value `period` steps before it (the last season present).
    Seasonal { period: usize },
}

impl Baseline {
    pub fn name(self) -> String {
        match self {
            Baseline::Naive => "naive".into(),
            Baseline::Seasonal { period } => format!("seasonal_naive_{period}"),
        }
    }

    /// The forecast of the `horizon` steps after `history`; `None` where the history holds
    /// nothing to take (a missing value a season ago, an empty history).
    pub fn predict(self, history: &[Option<f64>], horizon: usize) -> Vec<Option<f64>> {
        match self {
            Baseline::Naive => {
                let last = history.iter().rev().find_map(|v| *v);
                vec![last; horizon]
            }
            Baseline::Seasonal { period } => (0..horizon)
                .map(|h| {
                    // The same position in the last season that has passed: h steps ahead is
                    // `period - h % period` steps back from the end, a whole season earlier for
                    // leads past one season.
                    let back = period - h % period;
                    history.len().checked_sub(back).and_then(|i| history[i])
                })
                .collect(),
        }
    }
}

/// How a forecaster did over a backtest.
#[derive(Clone, Debug, PartialEq)]
pub struct Score {
    /// Forecast origins scored.
    pub origins: usize,
    /// (forecast, actual) pairs scored: both present.
    pub pairs: usize,
    pub mae: f64,
    pub rmse: f64,
    /// MAE divided by the in-sample MAE of the seasonal naive forecast one step ahead
    /// (`None` when that is zero or cannot be computed).
    pub mase: Option<f64>,
    /// Share of the scored actuals inside the 80 % and 95 % intervals (`None` without
    /// calibration origins).
    pub coverage_80: Option<f64>,
    pub coverage_95: Option<f64>,
}

/// A rolling-origin backtest of `forecast` over `values`: the last `origins` origins, `horizon`
/// steps apart, each forecasting the `horizon` steps after it from everything before it. The
/// first half of the origins (at least one) calibrates the intervals (per lead, the 80th and 95th
/// percentile of absolute errors), the rest are scored for coverage; MAE and RMSE use every
/// origin. `season` scales MASE (24 for hourly values with a daily cycle).
pub fn backtest(
    values: &[Option<f64>],
    horizon: usize,
    origins: usize,
    season: usize,
    forecast: impl Fn(&[Option<f64>], usize) -> Vec<Option<f64>>,
) -> Option<Score> {
    if horizon == 0 || origins == 0 {
        return None;
    }
    let first = values.len().checked_sub(horizon * origins)?;
    if first == 0 {
        return None;
    }
    // Per origin, per lead: (forecast, actual) when both are there.
    let runs: Vec<Vec<Option<(f64, f64)>>> = (0..origins)
        .map(|k| {
            let origin = first + k * horizon;
            let predicted = forecast(&values[..origin], horizon);
            (0..horizon)
                .map(
                    |h| match (predicted.get(h).copied().flatten(), values[origin + h]) {
                        (Some(f), Some(a)) => Some((f, a)),
                        _ => None,
                    },
                )
                .collect()
        })
        .collect();
    let errors: Vec<f64> = runs
        .iter()
        .flatten()
        .flatten()
        .map(|(f, a)| f - a)
        .collect();
    if errors.is_empty() {
        return None;
    }
    let n = errors.len() as f64;
    let mae = errors.iter().map(|e| e.abs()).sum::<f64>() / n;
    let rmse = (errors.iter().map(|e| e * e).sum::<f64>() / n).sqrt();
    let scale = seasonal_scale(&values[..first], season.max(1));
    let calibration = (origins / 2).max(1);
    let (coverage_80, coverage_95) = if origins > calibration {
        let (calibrate, scored) = runs.split_at(calibration);
        let width = |q: f64| -> Vec<Option<f64>> {
            (0..horizon)
                .map(|h| {
                    let mut abs: Vec<f64> = calibrate
                        .iter()
                        .filter_map(|run| run[h].map(|(f, a)| (f - a).abs()))
                        .collect();
                    quantile(&mut abs, q)
                })
                .collect()
        };
        let cover = |widths: &[Option<f64>]| {
            let (mut inside, mut total) = (0usize, 0usize);
            for run in scored {
                for (h, pair) in run.iter().enumerate() {
                    if let (Some((f, a)), Some(w)) = (pair, widths[h]) {
                        total += 1;
                        inside += usize::from((f - a).abs() <= w);
                    }
                }
            }
            (total > 0).then(|| inside as f64 / total as f64)
        };
        (cover(&width(0.8)), cover(&width(0.95)))
    } else {
        (None, None)
    };
    Some(Score {
        origins,
        pairs: errors.len(),
        mae,
        rmse,
        mase: scale.filter(|s| *s > 0.0).map(|s| mae / s),
        coverage_80,
        coverage_95,
    })
}

/// The mean absolute difference between values `season` steps apart (the in-sample error of
/// the seasonal naive forecast), over the pairs where both are present.
fn seasonal_scale(values: &[Option<f64>], season: usize) -> Option<f64> {
    let diffs: Vec<f64> = values
        .iter()
        .zip(values.iter().skip(season))
        .filter_map(|(a, b)| Some((b.as_ref()? - a.as_ref()?).abs()))
        .collect();
    (!diffs.is_empty()).then(|| diffs.iter().sum::<f64>() / diffs.len() as f64)
}

/// The `q` quantile of `values` (the smallest value with at least `q` of them at or below it,
/// so an interval built from it covers at least that share of the calibration errors).
fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    Some(values[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some(values: &[f64]) -> Vec<Option<f64>> {
        values.iter().copied().map(Some).collect()
    }

    #[test]
    fn naive_repeats_the_last_value_present() {
        let history = vec![Some(1.0), Some(2.0), None];
        assert_eq!(Baseline::Naive.predict(&history, 3), vec![Some(2.0); 3]);
        assert_eq!(Baseline::Naive.predict(&[], 2), vec![None, None]);
    }

    #[test]
    fn seasonal_naive_takes_the_same_time_one_season_back() {
        // Two days of a 4-step "day": 0 1 2 3 | 10 11 12 13.
        let history = some(&[0.0, 1.0, 2.0, 3.0, 10.0, 11.0, 12.0, 13.0]);
        let season = Baseline::Seasonal { period: 4 };
        assert_eq!(
            season.predict(&history, 6),
            some(&[10.0, 11.0, 12.0, 13.0, 10.0, 11.0])
        );
        let mut gappy = history.clone();
        gappy[5] = None;
        assert_eq!(season.predict(&gappy, 2), vec![Some(10.0), None]);
        assert_eq!(season.predict(&history[..2], 1), vec![None]);
    }

    #[test]
    fn a_perfectly_seasonal_series_is_forecast_exactly_by_its_season() {
        let values: Vec<Option<f64>> = (0..24 * 20).map(|i| Some((i % 24) as f64)).collect();
        let season = Baseline::Seasonal { period: 24 };
        let score = backtest(&values, 24, 6, 24, |h, n| season.predict(h, n)).unwrap();
        assert_eq!((score.origins, score.pairs), (6, 144));
        assert_eq!((score.mae, score.rmse), (0.0, 0.0));
        // The seasonal scale is zero too: MASE is undefined, not infinite.
        assert_eq!(score.mase, None);
        let naive = backtest(&values, 24, 6, 24, |h, n| Baseline::Naive.predict(h, n)).unwrap();
        assert!(naive.mae > 5.0, "{naive:?}");
    }

    #[test]
    fn errors_and_mase_are_computed_on_known_numbers() {
        // A ramp: naive one step ahead is off by 1 each time, two steps by 2.
        let values: Vec<Option<f64>> = (0..20).map(|i| Some(i as f64)).collect();
        let score = backtest(&values, 2, 4, 1, |h, n| Baseline::Naive.predict(h, n)).unwrap();
        assert_eq!(score.pairs, 8);
        assert!((score.mae - 1.5).abs() < 1e-12);
        assert!((score.rmse - (2.5f64).sqrt()).abs() < 1e-12);
        // The in-sample one-step naive error of a ramp is 1.
        assert!((score.mase.unwrap() - 1.5).abs() < 1e-12);
    }

    #[test]
    fn intervals_are_calibrated_on_earlier_origins_and_scored_on_later_ones() {
        // Noise of known size around a constant: errors alternate ±1 and ±3.
        let values: Vec<Option<f64>> = (0..200)
            .map(|i| Some(10.0 + [1.0, -3.0, -1.0, 3.0][i % 4]))
            .collect();
        let mean = |_: &[Option<f64>], n: usize| vec![Some(10.0); n];
        let score = backtest(&values, 4, 20, 4, mean).unwrap();
        // Half-widths from the first ten origins: 80 % → 3, 95 % → 3: every later error inside.
        assert_eq!(score.coverage_95, Some(1.0));
        assert_eq!(score.coverage_80, Some(1.0));
        // One origin only: nothing left to score the intervals on.
        let one = backtest(&values, 4, 1, 4, mean).unwrap();
        assert_eq!((one.coverage_80, one.coverage_95), (None, None));
    }

    #[test]
    fn missing_actuals_and_short_histories_are_not_scored() {
        let mut values: Vec<Option<f64>> = (0..40).map(|i| Some(i as f64)).collect();
        for v in values.iter_mut().skip(35) {
            *v = None;
        }
        // Origins at 30 and 35: only the first one's actuals exist.
        let score = backtest(&values, 5, 2, 1, |h, n| Baseline::Naive.predict(h, n)).unwrap();
        assert_eq!(score.pairs, 5);
        assert!(backtest(&values[..5], 5, 2, 1, |h, n| Baseline::Naive.predict(h, n)).is_none());
        assert!(backtest(&[None; 30], 5, 2, 1, |h, n| Baseline::Naive.predict(h, n)).is_none());
    }
}
