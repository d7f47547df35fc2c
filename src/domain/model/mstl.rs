//! MSTL with an AutoETS trend (`augurs`): the series is decomposed into its seasons (a day and a
//! week of hourly values) by LOESS, the rest (trend and remainder) is forecast by the best
//! exponential smoothing model AutoETS finds, and the last cycle of each season is added back.
//! Without a season the history holds twice, AutoETS alone forecasts the series.
//!
//! Gaps inside the history are interpolated linearly before fitting (the decomposition needs
//! every step); missing values at its end are forecast as well and dropped, so the forecast
//! always starts right after the history.

use augurs::ets::AutoETS;
use augurs::mstl::MSTLModel;
use augurs::{Fit, Predict};

use super::{Forecaster, ModelError};

/// The MSTL family at these seasons (in steps).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mstl {
    pub periods: Vec<usize>,
}

/// Fewer values than this (after the leading gap) are not enough to fit a trend.
const MIN_VALUES: usize = 10;

impl Forecaster for Mstl {
    fn name(&self) -> String {
        let mut name = String::from("mstl");
        for p in &self.periods {
            name.push('_');
            name.push_str(&p.to_string());
        }
        name
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
            .filter(|p| y.len() >= 2 * p)
            .collect();
        let point = if periods.is_empty() {
            let fitted = AutoETS::non_seasonal()
                .fit(&y)
                .map_err(|e| ModelError(format!("AutoETS: {e}")))?;
            fitted
                .predict(steps, None)
                .map_err(|e| ModelError(format!("AutoETS: {e}")))?
                .point
        } else {
            let model = MSTLModel::new(periods, AutoETS::non_seasonal().into_trend_model());
            let fitted = model
                .fit(&y)
                .map_err(|e| ModelError(format!("MSTL: {e}")))?;
            fitted
                .predict(steps, None)
                .map_err(|e| ModelError(format!("MSTL: {e}")))?
                .point
        };
        Ok(point
            .into_iter()
            .skip(late)
            .map(|v| v.is_finite().then_some(v))
            .collect())
    }
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
    fn a_late_end_is_forecast_and_dropped() {
        let mut history: Vec<Option<f64>> = (0..24 * 3).map(|i| Some((i % 24) as f64)).collect();
        history.extend([None, None]);
        let model = Mstl { periods: vec![24] };
        let forecast = model.forecast(&history, 3).unwrap();
        // The history ends at 23 (its last value, hour 23); the first forecast is for hour 2.
        assert_eq!(forecast.len(), 3);
        assert!((forecast[0].unwrap() - 2.0).abs() < 0.5, "{forecast:?}");
        assert!(model.forecast(&[None; 5], 3).is_err());
        assert!(model.forecast(&[Some(1.0); 4], 3).is_err());
    }
}
