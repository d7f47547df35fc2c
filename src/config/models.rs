//! `[models.<id>]`: forecasting models of stored series, and `[tracking]` (MLflow).

use serde::{Deserialize, Serialize};

use crate::domain::model::Family;
use crate::domain::model::lifecycle::Rules;
use crate::domain::time::Resolution;
use crate::domain::{Dataset, LocationKind};

/// One model: what it forecasts, how, how far, and when it is trained.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ModelConfig {
    /// The location (or node, or price zone) whose series it forecasts.
    pub location: String,
    pub dataset: Dataset,
    pub variable: String,
    /// Variables of the same quantity whose values fill the steps `variable` lacks (the spot
    /// price's `spot_15min`, quarter-hourly since the market's move on 2025-10-01).
    #[serde(default)]
    pub fill_from: Vec<String>,
    /// The series' step as the model sees it: hourly means (or sums), or local days.
    #[serde(default = "default_resolution")]
    pub resolution: Resolution,
    pub family: Family,
    /// Values known in advance the family takes as features (the forest only): `holiday`
    /// (the location's national, regional or local holiday), `school_holiday`. The calendars
    /// must hold every year of the training window and the horizon, or training fails saying
    /// which year is missing.
    #[serde(default)]
    pub regressors: Vec<Regressor>,
    /// How far it forecasts, hours (a multiple of the step: 168 for a week of days).
    pub horizon_hours: u32,
    /// The history each fit sees, days.
    #[serde(default = "default_training_days")]
    pub training_days: u32,
    /// Rolling origins of its backtest, `horizon` apart.
    #[serde(default = "default_origins")]
    pub backtest_origins: u32,
    /// A new version is trained when the newest is this many days old (the `train` job looks
    /// daily), or sooner when the champion degrades.
    #[serde(default = "default_retrain_days")]
    pub retrain_days: u32,
    /// Promotion and rollback rules.
    #[serde(default)]
    pub rules: Rules,
    /// The seed's `model_type` this model answers to on `/api/v1/predictions/{node_id}`
    /// (`flow_prediction`); `None`: `{variable}_prediction`.
    #[serde(default)]
    pub model_type: Option<String>,
    #[serde(default = "default_enabled")]
    pub enabled: bool,
}

/// A regressor known in advance, from the location's calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Regressor {
    Holiday,
    SchoolHoliday,
}

impl Regressor {
    pub fn as_str(self) -> &'static str {
        match self {
            Regressor::Holiday => "holiday",
            Regressor::SchoolHoliday => "school_holiday",
        }
    }
}

fn default_resolution() -> Resolution {
    Resolution::Hour
}
fn default_training_days() -> u32 {
    365
}
fn default_origins() -> u32 {
    10
}
fn default_retrain_days() -> u32 {
    7
}
fn default_enabled() -> bool {
    true
}

impl ModelConfig {
    /// Steps forecast.
    pub fn horizon_steps(&self) -> usize {
        (i64::from(self.horizon_hours) * 3_600 / self.resolution.seconds()) as usize
    }

    /// The seed's model type.
    pub fn model_type(&self) -> String {
        self.model_type
            .clone()
            .unwrap_or_else(|| format!("{}_prediction", self.variable))
    }

    /// What is wrong with it; `kind` finds a location's kind (`None`: no such location).
    pub fn problems(&self, id: &str, kind: impl Fn(&str) -> Option<LocationKind>) -> Vec<String> {
        let mut problems = Vec::new();
        let at = format!("models.{id}");
        if kind(&self.location).is_none() {
            problems.push(format!(
                "{at}.location: `{}` is not a location",
                self.location
            ));
        }
        for variable in std::iter::once(&self.variable).chain(&self.fill_from) {
            if self.dataset.variable(variable).is_none() {
                problems.push(format!(
                    "{at}: `{variable}` is not a {} variable",
                    self.dataset
                ));
            }
        }
        let step_hours = (self.resolution.seconds() / 3_600) as u32;
        if self.horizon_hours == 0
            || !self.horizon_hours.is_multiple_of(step_hours)
            || self.horizon_hours > 24 * 62
        {
            problems.push(format!(
                "{at}.horizon_hours must be a positive multiple of the step ({step_hours} h), at most 1488 (62 days); got {}",
                self.horizon_hours
            ));
        }
        if !(1..=3660).contains(&self.training_days) {
            problems.push(format!("{at}.training_days must be 1..=3660"));
        }
        if !(2..=200).contains(&self.backtest_origins) {
            problems.push(format!(
                "{at}.backtest_origins must be 2..=200 (half calibrate the intervals, half score them)"
            ));
        }
        if !(1..=366).contains(&self.retrain_days) {
            problems.push(format!("{at}.retrain_days must be 1..=366"));
        }
        if !self.regressors.is_empty() && self.family != Family::Forest {
            problems.push(format!(
                "{at}.regressors: only the `forest` family takes regressors (this one is `{}`)",
                self.family.as_str()
            ));
        }
        let r = &self.rules;
        if !(r.promote_ratio > 0.0 && r.degrade_ratio > 0.0) || r.min_scored == 0 {
            problems.push(format!(
                "{at}.rules: promote_ratio and degrade_ratio must be positive, min_scored at least 1"
            ));
        }
        problems
    }
}

/// Where trainings and backtests are also recorded.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct TrackingConfig {
    /// An MLflow tracking server (`http://127.0.0.1:5000`); unset: the store's versions are
    /// the only record.
    #[serde(default)]
    pub mlflow_url: Option<String>,
}
