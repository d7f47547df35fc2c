//! Rolling-origin backtests: the last `origins` origins, `horizon` steps apart, each forecasting
//! the `horizon` steps after it from at most `window` steps before it — the model and every
//! baseline from the same histories. What is reported:
//! - MAE, RMSE and R² of the model over every (origin, lead) whose actual it forecast;
//! - MASE: the model's MAE divided by the better baseline's on the same pairs (below 1 beats
//!   both baselines), overall and per band of leads (the horizon cut into at most six bands:
//!   one lead has one error per origin, too few to judge alone);
//! - intervals by split conformal prediction: per band, the 80th and 95th percentiles of the
//!   absolute errors of the first half of the origins give the half-widths, and the coverage is
//!   counted on the later half only (an interval is never scored on its own calibration). The
//!   widths a version then serves come from every origin's errors.

use serde::{Deserialize, Serialize};

use super::{Baseline, Forecaster, Known, ModelError};

/// A backtest's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backtest {
    pub horizon: usize,
    pub origins: usize,
    /// A fit sees at most this many steps before its origin.
    pub window: usize,
}

/// The errors of one band of leads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BandScore {
    /// Its first and last lead, in steps from the origin (1 is the first step forecast).
    pub from: usize,
    pub to: usize,
    pub pairs: usize,
    pub mae: f64,
    pub baseline_mae: f64,
    pub mase: Option<f64>,
}

/// What a backtest measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub origins: usize,
    /// Values present before the first origin, within the window (what its fit saw).
    pub train_samples: usize,
    /// (forecast, actual) pairs scored.
    pub test_samples: usize,
    pub mae: f64,
    pub rmse: f64,
    /// 1 − SSE/SST over the scored actuals (`None` when they do not vary).
    pub r2: Option<f64>,
    /// The better baseline (lower MAE on the pairs both forecast) and its MAE there.
    pub baseline: String,
    pub baseline_mae: f64,
    /// The model's MAE over the better baseline's, on the same pairs.
    pub mase: Option<f64>,
    /// The worst band's MASE.
    pub mase_worst_band: Option<f64>,
    /// Share of the later origins' actuals inside the 80 % and 95 % intervals calibrated on the
    /// earlier ones (`None` with fewer than two origins).
    pub coverage_80: Option<f64>,
    pub coverage_95: Option<f64>,
    pub by_horizon: Vec<BandScore>,
}

/// Interval half-widths per band of leads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Widths {
    /// Leads per band.
    pub band: usize,
    pub w80: Vec<f64>,
    pub w95: Vec<f64>,
}

impl Widths {
    /// The 80 % and 95 % half-widths at lead `lead` (0 is the first step forecast).
    pub fn at(&self, lead: usize) -> Option<(f64, f64)> {
        let b = lead / self.band.max(1);
        Some((*self.w80.get(b)?, *self.w95.get(b)?))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    pub metrics: Metrics,
    pub widths: Widths,
}

/// The horizon is cut into at most this many bands of leads.
const BANDS: usize = 6;

/// Backtests `model` on `values` against `baselines` (see the module's notes); `known` covers
/// every step of `values` (the model sees, at each origin, its history's and horizon's share).
pub fn backtest(
    values: &[Option<f64>],
    known: &Known,
    shape: Backtest,
    model: &dyn Forecaster,
    baselines: &[Baseline],
) -> Result<Evaluation, ModelError> {
    let Backtest {
        horizon,
        origins,
        window,
    } = shape;
    if horizon == 0 || origins == 0 {
        return Err(ModelError(
            "a backtest needs a horizon and an origin".into(),
        ));
    }
    let first = values
        .len()
        .checked_sub(horizon * origins)
        .filter(|&f| f > 0)
        .ok_or_else(|| {
            ModelError(format!(
                "{} steps are too few for {origins} origins of {horizon} steps and a history before them",
                values.len()
            ))
        })?;
    let history = |origin: usize| &values[origin.saturating_sub(window)..origin];
    let train_samples = history(first).iter().flatten().count();
    // runs[k][h]: the model's forecast and the actual at origin k, lead h.
    let mut runs: Vec<Vec<(Option<f64>, Option<f64>)>> = Vec::with_capacity(origins);
    let mut base: Vec<Vec<Vec<Option<f64>>>> = vec![Vec::with_capacity(origins); baselines.len()];
    let mut failures = Vec::new();
    for k in 0..origins {
        let origin = first + k * horizon;
        let seen = history(origin);
        let ahead = known.slice(origin.saturating_sub(window), origin + horizon);
        let predicted = model
            .forecast_known(seen, &ahead, horizon)
            .unwrap_or_else(|e| {
                failures.push(e.0);
                vec![None; horizon]
            });
        runs.push(
            (0..horizon)
                .map(|h| (predicted.get(h).copied().flatten(), values[origin + h]))
                .collect(),
        );
        for (b, baseline) in baselines.iter().enumerate() {
            base[b].push(baseline.predict(seen, horizon));
        }
    }
    let pairs: Vec<(usize, usize, f64, f64)> = runs
        .iter()
        .enumerate()
        .flat_map(|(k, run)| {
            run.iter()
                .enumerate()
                .filter_map(move |(h, &(f, a))| Some((k, h, f?, a?)))
        })
        .collect();
    if pairs.is_empty() {
        return Err(ModelError(match failures.first() {
            Some(why) => format!("no origin could be forecast: {why}"),
            None => "no forecast met an actual value in the backtest".into(),
        }));
    }
    let n = pairs.len() as f64;
    let mae = pairs.iter().map(|p| (p.2 - p.3).abs()).sum::<f64>() / n;
    let rmse = (pairs.iter().map(|p| (p.2 - p.3).powi(2)).sum::<f64>() / n).sqrt();
    let mean = pairs.iter().map(|p| p.3).sum::<f64>() / n;
    let sst: f64 = pairs.iter().map(|p| (p.3 - mean).powi(2)).sum();
    let r2 = (sst > 0.0).then(|| 1.0 - rmse * rmse * n / sst);

    let band = horizon.div_ceil(BANDS);
    let bands = horizon.div_ceil(band);
    // The better baseline: lower MAE on the pairs it forecast too.
    let against = |b: usize, keep: &dyn Fn(usize) -> bool| {
        let (mut model_sum, mut base_sum, mut count) = (0.0, 0.0, 0usize);
        for &(k, h, f, a) in pairs.iter().filter(|p| keep(p.1)) {
            if let Some(g) = base[b][k].get(h).copied().flatten() {
                model_sum += (f - a).abs();
                base_sum += (g - a).abs();
                count += 1;
            }
        }
        (count > 0).then(|| (model_sum / count as f64, base_sum / count as f64, count))
    };
    let best = (0..baselines.len())
        .filter_map(|b| against(b, &|_| true).map(|m| (b, m)))
        .min_by(|x, y| x.1.1.total_cmp(&y.1.1));
    let ratio = |model: f64, base: f64| (base > 0.0).then(|| model / base);
    let (baseline, baseline_mae, mase, by_horizon) = match best {
        Some((b, (model_mae, base_mae, _))) => {
            let by_horizon: Vec<BandScore> = (0..bands)
                .filter_map(|i| {
                    let keep = |h: usize| h / band == i;
                    let (m, g, count) = against(b, &keep)?;
                    Some(BandScore {
                        from: i * band + 1,
                        to: ((i + 1) * band).min(horizon),
                        pairs: count,
                        mae: m,
                        baseline_mae: g,
                        mase: ratio(m, g),
                    })
                })
                .collect();
            (
                baselines[b].name(),
                base_mae,
                ratio(model_mae, base_mae),
                by_horizon,
            )
        }
        None => (String::new(), f64::NAN, None, Vec::new()),
    };
    let mase_worst_band = by_horizon
        .iter()
        .filter_map(|s| s.mase)
        .max_by(f64::total_cmp);

    let errors_of = |ks: std::ops::Range<usize>, i: usize| -> Vec<f64> {
        pairs
            .iter()
            .filter(|p| ks.contains(&p.0) && p.1 / band == i)
            .map(|p| (p.2 - p.3).abs())
            .collect()
    };
    let widths_over = |ks: std::ops::Range<usize>, q: f64| -> Vec<Option<f64>> {
        (0..bands)
            .map(|i| quantile(&mut errors_of(ks.clone(), i), q))
            .collect()
    };
    let calibration = (origins / 2).max(1);
    let (coverage_80, coverage_95) = if origins > calibration {
        let cover = |widths: &[Option<f64>]| {
            let scored = pairs.iter().filter(|p| p.0 >= calibration);
            let (mut inside, mut total) = (0usize, 0usize);
            for &(_, h, f, a) in scored {
                if let Some(w) = widths[h / band] {
                    total += 1;
                    inside += usize::from((f - a).abs() <= w);
                }
            }
            (total > 0).then(|| inside as f64 / total as f64)
        };
        (
            cover(&widths_over(0..calibration, 0.8)),
            cover(&widths_over(0..calibration, 0.95)),
        )
    } else {
        (None, None)
    };
    // The served widths: every origin's errors; a band without any takes the widest known.
    let fill = |w: Vec<Option<f64>>| -> Vec<f64> {
        let widest = w.iter().flatten().copied().fold(0.0, f64::max);
        w.into_iter().map(|x| x.unwrap_or(widest)).collect()
    };
    let widths = Widths {
        band,
        w80: fill(widths_over(0..origins, 0.8)),
        w95: fill(widths_over(0..origins, 0.95)),
    };
    Ok(Evaluation {
        metrics: Metrics {
            origins,
            train_samples,
            test_samples: pairs.len(),
            mae,
            rmse,
            r2,
            baseline,
            baseline_mae,
            mase,
            mase_worst_band,
            coverage_80,
            coverage_95,
            by_horizon,
        },
        widths,
    })
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

    /// A forecaster from a closure.
    struct With<F>(F);
    impl<F: Fn(&[Option<f64>], usize) -> Vec<Option<f64>> + Send + Sync> Forecaster for With<F> {
        fn name(&self) -> String {
            "test".into()
        }
        fn forecast(&self, h: &[Option<f64>], n: usize) -> Result<Vec<Option<f64>>, ModelError> {
            Ok((self.0)(h, n))
        }
    }

    fn shape(horizon: usize, origins: usize) -> Backtest {
        Backtest {
            horizon,
            origins,
            window: usize::MAX,
        }
    }

    #[test]
    fn a_perfectly_seasonal_series_is_forecast_exactly_by_its_season() {
        let values: Vec<Option<f64>> = (0..24 * 20).map(|i| Some((i % 24) as f64)).collect();
        let season = Baseline::Seasonal { period: 24 };
        let all = [Baseline::Naive, season];
        let e = backtest(&values, &Known::default(), shape(24, 6), &season, &all).unwrap();
        assert_eq!((e.metrics.origins, e.metrics.test_samples), (6, 144));
        assert_eq!((e.metrics.mae, e.metrics.rmse), (0.0, 0.0));
        assert_eq!(e.metrics.r2, Some(1.0));
        // Its own baseline is as good: MASE is undefined (0/0), not 1 or infinite.
        assert_eq!(e.metrics.mase, None);
        let naive = backtest(
            &values,
            &Known::default(),
            shape(24, 6),
            &Baseline::Naive,
            &all,
        )
        .unwrap();
        assert!(naive.metrics.mae > 5.0, "{:?}", naive.metrics);
    }

    #[test]
    fn errors_and_mase_are_computed_on_known_numbers() {
        // A ramp: the naive forecast is off by the lead; a forecast off by half a step beats it.
        let values: Vec<Option<f64>> = (0..20).map(|i| Some(i as f64)).collect();
        let off = With(|h: &[Option<f64>], n: usize| {
            let last = h.last().copied().flatten().unwrap();
            (1..=n).map(|k| Some(last + k as f64 - 0.5)).collect()
        });
        let e = backtest(
            &values,
            &Known::default(),
            shape(2, 4),
            &off,
            &[Baseline::Naive],
        )
        .unwrap();
        let m = &e.metrics;
        assert_eq!((m.test_samples, m.train_samples), (8, 12));
        assert!((m.mae - 0.5).abs() < 1e-12);
        assert_eq!(m.baseline, "naive");
        // Naive: errors 1 and 2, mean 1.5.
        assert!((m.baseline_mae - 1.5).abs() < 1e-12);
        assert!((m.mase.unwrap() - 1.0 / 3.0).abs() < 1e-12);
        // Two leads, one band each: lead 1 0.5/1, lead 2 0.5/2.
        assert_eq!(m.by_horizon.len(), 2);
        assert!((m.mase_worst_band.unwrap() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn intervals_are_calibrated_on_earlier_origins_and_scored_on_later_ones() {
        // Noise of known size around a constant: errors alternate ±1 and ±3.
        let values: Vec<Option<f64>> = (0..200)
            .map(|i| Some(10.0 + [1.0, -3.0, -1.0, 3.0][i % 4]))
            .collect();
        let mean = With(|_: &[Option<f64>], n: usize| vec![Some(10.0); n]);
        let e = backtest(
            &values,
            &Known::default(),
            shape(4, 20),
            &mean,
            &[Baseline::Naive],
        )
        .unwrap();
        // One lead a band; each lead always meets the same error (1 or 3): widths are exact.
        assert_eq!(e.metrics.coverage_95, Some(1.0));
        assert_eq!(e.metrics.coverage_80, Some(1.0));
        assert_eq!(e.widths.at(0), Some((1.0, 1.0)));
        assert_eq!(e.widths.at(1), Some((3.0, 3.0)));
        // One origin only: nothing left to score the intervals on.
        let one = backtest(
            &values,
            &Known::default(),
            shape(4, 1),
            &mean,
            &[Baseline::Naive],
        )
        .unwrap();
        assert_eq!(
            (one.metrics.coverage_80, one.metrics.coverage_95),
            (None, None)
        );
    }

    #[test]
    fn coverage_is_near_the_level_on_noise() {
        // Deterministic pseudo-noise: uniform errors in (-1, 1) around zero.
        let mut state = 12345u64;
        let values: Vec<Option<f64>> = (0..24 * 60)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                Some(((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0)
            })
            .collect();
        let zero = With(|_: &[Option<f64>], n: usize| vec![Some(0.0); n]);
        let e = backtest(
            &values,
            &Known::default(),
            shape(24, 40),
            &zero,
            &[Baseline::Naive],
        )
        .unwrap();
        let (c80, c95) = (
            e.metrics.coverage_80.unwrap(),
            e.metrics.coverage_95.unwrap(),
        );
        assert!((0.72..=0.88).contains(&c80), "{c80}");
        // 80 calibration errors a band: the 95th percentile is itself noisy (0.896 here).
        assert!((0.88..=0.99).contains(&c95), "{c95}");
        // Mean-zero noise: the zero forecast beats the naive one (MASE near 1/1.5 for uniform).
        assert!(e.metrics.mase.unwrap() < 0.8, "{:?}", e.metrics.mase);
    }

    #[test]
    fn missing_actuals_and_short_histories_are_not_scored() {
        let mut values: Vec<Option<f64>> = (0..40).map(|i| Some(i as f64)).collect();
        for v in values.iter_mut().skip(35) {
            *v = None;
        }
        // Origins at 30 and 35: only the first one's actuals exist.
        let e = backtest(
            &values,
            &Known::default(),
            shape(5, 2),
            &Baseline::Naive,
            &[Baseline::Naive],
        )
        .unwrap();
        assert_eq!(e.metrics.test_samples, 5);
        assert!(
            backtest(
                &values[..5],
                &Known::default(),
                shape(5, 2),
                &Baseline::Naive,
                &[]
            )
            .is_err()
        );
        assert!(
            backtest(
                &[None; 30],
                &Known::default(),
                shape(5, 2),
                &Baseline::Naive,
                &[]
            )
            .is_err()
        );
    }
}
