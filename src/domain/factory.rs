//! The chocolate factory's production features (its v0.14 `FeatureSet`), one definition each.
//! All are deterministic formulas of an hour's price, temperature and humidity; what makes a
//! feature a forecast is only where its inputs come from (see `query::factory`).
//!
//! - temperature comfort index: `max(0, 100 − 10·|T − 21|)` (best at 21 °C, 18–24 °C good);
//! - humidity stress: `|H − 55| / 55 · 100` (45–65 % good);
//! - cost index: the hour's price within the prices of the period looked at, min-max scaled to
//!   0–100 (50 when they are all equal);
//! - production index: `clip(comfort − 0.5·cost − 0.3·stress, 0, 100)`;
//! - energy optimisation score: `clip(0.7·(100 − cost) + 0.3·comfort, 0, 100)`;
//! - quality risk: 50 when T is outside 18–24 °C, plus 30 when H is outside 45–65 %;
//! - recommendation, from the production index: ≥ 75 `Optimal_Production`, ≥ 50
//!   `Moderate_Production`, ≥ 25 `Reduced_Production`, else `Halt_Production`;
//! - optimal windows: runs of consecutive hours recommended `Optimal_Production` (or, when there
//!   is none, `Moderate_Production`), best mean production index first.

use serde::Serialize;

use super::Timestamp;

pub fn comfort(temperature: f64) -> f64 {
    (100.0 - 10.0 * (temperature - 21.0).abs()).max(0.0)
}

pub fn humidity_stress(humidity: f64) -> f64 {
    (humidity - 55.0).abs() / 55.0 * 100.0
}

/// `price` within `min..=max` as 0–100 (50 when `min == max`).
pub fn cost_index(price: f64, min: f64, max: f64) -> f64 {
    if max > min {
        ((price - min) / (max - min) * 100.0).clamp(0.0, 100.0)
    } else {
        50.0
    }
}

pub fn production_index(comfort: f64, cost: f64, stress: f64) -> f64 {
    (comfort - 0.5 * cost - 0.3 * stress).clamp(0.0, 100.0)
}

pub fn energy_optimisation(cost: f64, comfort: f64) -> f64 {
    (0.7 * (100.0 - cost) + 0.3 * comfort).clamp(0.0, 100.0)
}

pub fn quality_risk(temperature: f64, humidity: f64) -> f64 {
    let t = if (18.0..=24.0).contains(&temperature) {
        0.0
    } else {
        50.0
    };
    let h = if (45.0..=65.0).contains(&humidity) {
        0.0
    } else {
        30.0
    };
    t + h
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Recommendation {
    #[serde(rename = "Halt_Production")]
    Halt,
    #[serde(rename = "Reduced_Production")]
    Reduced,
    #[serde(rename = "Moderate_Production")]
    Moderate,
    #[serde(rename = "Optimal_Production")]
    Optimal,
}

pub fn recommendation(production_index: f64) -> Recommendation {
    match production_index {
        x if x >= 75.0 => Recommendation::Optimal,
        x if x >= 50.0 => Recommendation::Moderate,
        x if x >= 25.0 => Recommendation::Reduced,
        _ => Recommendation::Halt,
    }
}

/// Every feature of one hour.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Features {
    pub temperature_comfort_index: f64,
    pub humidity_stress_factor: f64,
    pub energy_cost_index: f64,
    pub chocolate_production_index: f64,
    pub energy_optimization_score: f64,
    pub quality_risk_factor: f64,
    pub production_recommendation: Recommendation,
}

/// The features of an hour at `price` (its cost index within `min..=max`), `temperature`,
/// `humidity`.
pub fn features(price: f64, (min, max): (f64, f64), temperature: f64, humidity: f64) -> Features {
    let comfort = comfort(temperature);
    let stress = humidity_stress(humidity);
    let cost = cost_index(price, min, max);
    let index = production_index(comfort, cost, stress);
    Features {
        temperature_comfort_index: comfort,
        humidity_stress_factor: stress,
        energy_cost_index: cost,
        chocolate_production_index: index,
        energy_optimization_score: energy_optimisation(cost, comfort),
        quality_risk_factor: quality_risk(temperature, humidity),
        production_recommendation: recommendation(index),
    }
}

/// A run of consecutive hours good for production.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Window {
    pub start: Timestamp,
    /// The end of its last hour.
    pub end: Timestamp,
    pub hours: usize,
    pub recommendation: Recommendation,
    pub mean_production_index: f64,
}

/// The optimal windows of `hours` (each hour's start and features, in order, an hour apart):
/// runs recommended `Optimal_Production`, or `Moderate_Production` when no hour is optimal; best
/// mean production index first.
pub fn windows(hours: &[(Timestamp, Features)]) -> Vec<Window> {
    let best = hours
        .iter()
        .map(|(_, f)| f.production_recommendation)
        .max()
        .unwrap_or(Recommendation::Halt);
    let level = best.max(Recommendation::Moderate);
    let mut out = Vec::new();
    let mut run: Vec<&(Timestamp, Features)> = Vec::new();
    let close = |run: &mut Vec<&(Timestamp, Features)>, out: &mut Vec<Window>| {
        if let (Some(first), Some(last)) = (run.first(), run.last()) {
            out.push(Window {
                start: first.0,
                end: last.0.plus(3_600),
                hours: run.len(),
                recommendation: level,
                mean_production_index: run
                    .iter()
                    .map(|(_, f)| f.chocolate_production_index)
                    .sum::<f64>()
                    / run.len() as f64,
            });
        }
        run.clear();
    };
    for hour in hours {
        let contiguous = run.last().is_none_or(|last| last.0.plus(3_600) == hour.0);
        if hour.1.production_recommendation >= level && contiguous {
            run.push(hour);
        } else {
            close(&mut run, &mut out);
            if hour.1.production_recommendation >= level {
                run.push(hour);
            }
        }
    }
    close(&mut run, &mut out);
    out.sort_by(|a, b| b.mean_production_index.total_cmp(&a.mean_production_index));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_formulas_on_known_numbers() {
        assert_eq!(comfort(21.0), 100.0);
        assert_eq!(comfort(18.0), 70.0);
        assert_eq!(comfort(40.0), 0.0);
        assert_eq!(humidity_stress(55.0), 0.0);
        assert!((humidity_stress(66.0) - 20.0).abs() < 1e-12);
        assert!((cost_index(0.10, 0.05, 0.15) - 50.0).abs() < 1e-9);
        assert_eq!(cost_index(0.10, 0.10, 0.10), 50.0);
        // comfort 100, cost 0, stress 0: optimal; cost 100 halves it: moderate.
        let f = features(0.05, (0.05, 0.15), 21.0, 55.0);
        assert_eq!(f.chocolate_production_index, 100.0);
        assert_eq!(f.energy_optimization_score, 100.0);
        assert_eq!(f.production_recommendation, Recommendation::Optimal);
        let f = features(0.15, (0.05, 0.15), 21.0, 55.0);
        assert_eq!(f.chocolate_production_index, 50.0);
        assert_eq!(f.production_recommendation, Recommendation::Moderate);
        assert_eq!(quality_risk(25.0, 70.0), 80.0);
        assert_eq!(
            serde_json::to_string(&Recommendation::Halt).unwrap(),
            "\"Halt_Production\""
        );
    }

    #[test]
    fn windows_are_runs_of_the_best_recommendation() {
        let t = |h: i64| Timestamp::from_epoch(1_767_225_600 + h * 3_600);
        let at = |price: f64| features(price, (0.05, 0.15), 21.0, 55.0);
        // Hours 0–1 optimal, 2 moderate, 3–5 optimal (cheapest at 4).
        let hours: Vec<_> = [0.06, 0.07, 0.14, 0.06, 0.05, 0.07]
            .iter()
            .enumerate()
            .map(|(h, &p)| (t(h as i64), at(p)))
            .collect();
        let w = windows(&hours);
        assert_eq!(w.len(), 2);
        assert_eq!((w[0].start, w[0].hours), (t(3), 3));
        assert_eq!((w[1].start, w[1].end), (t(0), t(2)));
        assert_eq!(w[0].recommendation, Recommendation::Optimal);
        // No optimal hour: the moderate runs.
        let moderate: Vec<_> = (0..3).map(|h| (t(h), at(0.15))).collect();
        assert_eq!(
            windows(&moderate)[0].recommendation,
            Recommendation::Moderate
        );
    }
}
