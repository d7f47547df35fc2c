//! MSTL with an AutoETS trend (`augurs`): the series is decomposed into its seasons (a day and a
//! week of hourly values) by LOESS, the rest (trend and remainder) is forecast by the best
//! exponential smoothing model AutoETS finds, and the last cycle of each season is added back.
//! Without a season the history holds three times (`CYCLES`), the trend model alone forecasts
//! the series. `Trend::LocalAr` replaces AutoETS by an AR(1) around the recent level.
//!
//! Gaps inside the history are interpolated linearly before fitting (the decomposition needs
//! every step); missing values at its end are forecast as well and dropped, so the forecast
//! always starts right after the history.

use augurs::ets::AutoETS;
use augurs::mstl::MSTLModel;
use augurs::{Fit, Predict};

use super::{Forecaster, ModelError};

/// The MSTL family at these seasons (in steps), with its trend model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mstl {
    pub periods: Vec<usize>,
    pub trend: Trend,
}

/// How what is left once the seasons are taken away (trend and remainder) is forecast.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trend {
    /// The best exponential smoothing model AutoETS finds.
    Ets,
    /// An AR(1) around the mean of the last longest season: the deviation from it decays
    /// by the lag-1 autocorrelation each step (`LocalAr`).
    LocalAr,
}

/// Fewer values than this (after the leading gap) are not enough to fit a trend.
const MIN_VALUES: usize = 10;

impl Forecaster for Mstl {
    fn name(&self) -> String {
        let family = match self.trend {
            Trend::Ets => "mstl",
            Trend::LocalAr => "mstl_ar",
        };
        super::named(family, &self.periods)
    }

    fn forecast(
        &self,
        history: &[Option<f64>],
        horizon: usize,
    ) -> Result<Vec<Option<f64>>, ModelError> {
        let first = history.iter().position(Option::is_some);
        let last = history.iter().rposition(Option::is_some);
        let (Some(first), Some(last)) = (first, last) else {
            return Err(ModelError("no value in the history".into()));
        };
        let y = interpolate(&history[first..=last]);
        if y.len() < MIN_VALUES {
            return Err(ModelError(format!(
                "{} values in the history, {MIN_VALUES} at least needed",
                y.len()
            )));
        }
        // Missing values at the end are forecast too, then dropped.
        let late = history.len() - 1 - last;
        let steps = horizon + late;
        let periods: Vec<usize> = self
            .periods
            .iter()
            .copied()
            .filter(|p| y.len() >= super::CYCLES * p)
            .collect();
        let point = match (self.trend, periods.is_empty()) {
            (Trend::LocalAr, true) => LocalAr {
                window: y.len().min(168),
            }
            .forecast(&y, steps),
            (Trend::LocalAr, false) => {
                let window = periods.last().copied().unwrap_or(168);
                fit_predict(
                    MSTLModel::new(periods, LocalAr { window }),
                    &y,
                    steps,
                    "MSTL",
                )?
            }
            (Trend::Ets, true) => fit_predict(AutoETS::non_seasonal(), &y, steps, "AutoETS")?,
            (Trend::Ets, false) => {
                let trend = AutoETS::non_seasonal().into_trend_model();
                fit_predict(MSTLModel::new(periods, trend), &y, steps, "MSTL")?
            }
        };
        Ok(point
            .into_iter()
            .skip(late)
            .map(|v| v.is_finite().then_some(v))
            .collect())
    }
}

/// [`Trend::LocalAr`]: the mean `mu` of the last `window` values, and the lag-1
/// autocorrelation `phi` of the deviations from it (clamped to 0..=0.99); a forecast `h` steps
/// ahead is `mu + phi^h (last - mu)`: the optimal forecast of an AR(1) around a level, which
/// returns to the recent level instead of carrying the last noise forward for ever.
#[derive(Clone, Copy, Debug)]
struct LocalAr {
    window: usize,
}

#[derive(Clone, Debug)]
struct LocalArFitted {
    mu: f64,
    phi: f64,
    last: f64,
    fitted: Vec<f64>,
}

impl LocalAr {
    fn fitted(&self, y: &[f64]) -> LocalArFitted {
        let n = y.len();
        let recent = &y[n.saturating_sub(self.window.max(1))..];
        let mu = recent.iter().sum::<f64>() / recent.len() as f64;
        // The autocorrelation over up to four windows, around the recent level.
        let span = &y[n.saturating_sub(4 * self.window.max(1))..];
        let (mut num, mut den) = (0.0, 0.0);
        for w in span.windows(2) {
            num += (w[0] - mu) * (w[1] - mu);
            den += (w[0] - mu) * (w[0] - mu);
        }
        let phi = if den > 0.0 {
            (num / den).clamp(0.0, 0.99)
        } else {
            0.0
        };
        let fitted = std::iter::once(f64::NAN)
            .chain(y[..n - 1].iter().map(|v| mu + phi * (v - mu)))
            .collect();
        LocalArFitted {
            mu,
            phi,
            last: y[n - 1],
            fitted,
        }
    }

    fn forecast(&self, y: &[f64], steps: usize) -> Vec<f64> {
        self.fitted(y).ahead(steps)
    }
}

impl LocalArFitted {
    fn ahead(&self, steps: usize) -> Vec<f64> {
        let mut decay = 1.0;
        (0..steps)
            .map(|_| {
                decay *= self.phi;
                self.mu + decay * (self.last - self.mu)
            })
            .collect()
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

impl augurs::mstl::TrendModel for LocalAr {
    fn name(&self) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Borrowed("LocalAr")
    }

    fn fit(
        &self,
        y: &[f64],
    ) -> Result<Box<dyn augurs::mstl::FittedTrendModel + Sync + Send>, BoxError> {
        if y.is_empty() {
            return Err("no values".into());
        }
        Ok(Box::new(self.fitted(y)))
    }
}

impl augurs::mstl::FittedTrendModel for LocalArFitted {
    fn predict_inplace(
        &self,
        horizon: usize,
        _level: Option<f64>,
        forecast: &mut augurs::Forecast,
    ) -> Result<(), BoxError> {
        forecast.point = self.ahead(horizon);
        Ok(())
    }

    fn predict_in_sample_inplace(
        &self,
        _level: Option<f64>,
        forecast: &mut augurs::Forecast,
    ) -> Result<(), BoxError> {
        forecast.point = self.fitted.clone();
        Ok(())
    }

    fn training_data_size(&self) -> Option<usize> {
        Some(self.fitted.len())
    }
}

/// `model` fitted on `y`, forecasting `steps` ahead (`what` names it in an error).
fn fit_predict<M: Fit>(
    model: M,
    y: &[f64],
    steps: usize,
    what: &str,
) -> Result<Vec<f64>, ModelError> {
    let fitted = model
        .fit(y)
        .map_err(|e| ModelError(format!("{what}: {e}")))?;
    Ok(fitted
        .predict(steps, None)
        .map_err(|e| ModelError(format!("{what}: {e}")))?
        .point)
}

/// The values with each run of missing ones replaced by the straight line between its
/// neighbours (`values` starts and ends with a value).
fn interpolate(values: &[Option<f64>]) -> Vec<f64> {
    let mut out = Vec::with_capacity(values.len());
    let mut previous: Option<(usize, f64)> = None;
    for (i, v) in values.iter().enumerate() {
        let Some(v) = *v else { continue };
        if let Some((j, u)) = previous {
            let gap = (i - j) as f64;
            for k in j + 1..i {
                out.push(u + (v - u) * (k - j) as f64 / gap);
            }
        }
        out.push(v);
        previous = Some((i, v));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_inside_are_interpolated() {
        let v = [Some(1.0), None, None, Some(4.0), Some(5.0)];
        assert_eq!(interpolate(&v), vec![1.0, 2.0, 3.0, 4.0, 5.0]);
    }

    #[test]
    fn a_daily_and_weekly_pattern_is_learned() {
        // Four weeks of an hourly pattern: a daily wave, higher on weekdays, a slow rise.
        let value = |i: usize| {
            let day = ((i / 24) % 7 < 5) as u8 as f64 * 5.0;
            10.0 + day
                + 3.0 * ((i % 24) as f64 / 24.0 * std::f64::consts::TAU).sin()
                + i as f64 * 0.001
        };
        let history: Vec<Option<f64>> = (0..24 * 28).map(|i| Some(value(i))).collect();
        let model = Mstl {
            periods: vec![24, 168],
            trend: Trend::Ets,
        };
        let forecast = model.forecast(&history, 48).unwrap();
        assert_eq!(forecast.len(), 48);
        let mae: f64 = forecast
            .iter()
            .enumerate()
            .map(|(h, f)| (f.unwrap() - value(24 * 28 + h)).abs())
            .sum::<f64>()
            / 48.0;
        assert!(mae < 0.5, "mae {mae}");
    }

    #[test]
    fn the_local_ar_trend_returns_to_the_recent_level() {
        // An AR(1) with phi 0.5 around 10, last value 14: 12, 11, 10.5, …
        let ar = LocalArFitted {
            mu: 10.0,
            phi: 0.5,
            last: 14.0,
            fitted: Vec::new(),
        };
        assert_eq!(ar.ahead(3), vec![12.0, 11.0, 10.5]);
        // Fitted on a series that alternates around 5: phi clamps to 0, the forecast is 5.
        let y: Vec<f64> = (0..40)
            .map(|i| if i % 2 == 0 { 4.0 } else { 6.0 })
            .collect();
        let fitted = LocalAr { window: 10 }.fitted(&y);
        assert_eq!((fitted.mu, fitted.phi), (5.0, 0.0));
        assert_eq!(fitted.ahead(2), vec![5.0, 5.0]);
    }

    #[test]
    fn a_late_end_is_forecast_and_dropped() {
        let mut history: Vec<Option<f64>> = (0..24 * 3).map(|i| Some((i % 24) as f64)).collect();
        history.extend([None, None]);
        let model = Mstl {
            periods: vec![24],
            trend: Trend::Ets,
        };
        let forecast = model.forecast(&history, 3).unwrap();
        // The history ends at 23 (its last value, hour 23); the first forecast is for hour 2.
        assert_eq!(forecast.len(), 3);
        assert!((forecast[0].unwrap() - 2.0).abs() < 0.5, "{forecast:?}");
        assert!(model.forecast(&[None; 5], 3).is_err());
        assert!(model.forecast(&[Some(1.0); 4], 3).is_err());
    }
}
