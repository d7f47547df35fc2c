//! The baselines every model is scored against: the naive forecast (the last value present) and
//! the seasonal naive forecast (the value one season ago: a day or a week of hourly values, a
//! week or a year of daily ones). A missing value is `None` and never counts as a zero.

use super::{Forecaster, ModelError};

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

impl Forecaster for Baseline {
    fn name(&self) -> String {
        Baseline::name(*self)
    }

    fn forecast(
        &self,
        history: &[Option<f64>],
        horizon: usize,
    ) -> Result<Vec<Option<f64>>, ModelError> {
        Ok(self.predict(history, horizon))
    }
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
}
