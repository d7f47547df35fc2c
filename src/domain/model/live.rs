//! Predictions scored against the actuals as they arrive: every stored issue's forecast of an
//! instant that now has a value is one pair, its lead the steps between the issue and the
//! instant (0 for the step under way when it was issued).

use serde::Serialize;

use crate::domain::Timestamp;

/// One forecast value with its 80 % and 95 % bounds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Predicted {
    pub ts: Timestamp,
    pub value: f64,
    pub lower_80: Option<f64>,
    pub upper_80: Option<f64>,
    pub lower_95: Option<f64>,
    pub upper_95: Option<f64>,
}

/// The errors of the leads `from..=to` (steps).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LeadScore {
    pub from: usize,
    pub to: usize,
    pub pairs: usize,
    pub mae: f64,
}

/// How a version's predictions did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scored {
    pub pairs: usize,
    pub mae: f64,
    pub rmse: f64,
    /// Share of actuals inside the 80 % and 95 % bounds.
    pub coverage_80: Option<f64>,
    pub coverage_95: Option<f64>,
    pub by_horizon: Vec<LeadScore>,
}

/// Scores `predictions` (each with its issue time) against `actual`, with leads counted in
/// steps of `step_seconds` and grouped in bands of `band` leads; `None` when no actual is known.
pub fn score(
    predictions: impl IntoIterator<Item = (Timestamp, Predicted)>,
    actual: impl Fn(Timestamp) -> Option<f64>,
    step_seconds: i64,
    band: usize,
) -> Option<Scored> {
    let band = band.max(1);
    let (mut abs, mut sq, mut n) = (0.0, 0.0, 0usize);
    let (mut in80, mut n80, mut in95, mut n95) = (0usize, 0usize, 0usize, 0usize);
    let mut bands: Vec<(usize, f64)> = Vec::new();
    for (issued, p) in predictions {
        let Some(a) = actual(p.ts) else { continue };
        let e = (p.value - a).abs();
        abs += e;
        sq += e * e;
        n += 1;
        if let (Some(lo), Some(hi)) = (p.lower_80, p.upper_80) {
            n80 += 1;
            in80 += usize::from(lo <= a && a <= hi);
        }
        if let (Some(lo), Some(hi)) = (p.lower_95, p.upper_95) {
            n95 += 1;
            in95 += usize::from(lo <= a && a <= hi);
        }
        let ahead = (p.ts.epoch() - issued.epoch()).max(0);
        let lead = ((ahead + step_seconds - 1) / step_seconds.max(1)) as usize;
        let b = lead / band;
        if bands.len() <= b {
            bands.resize(b + 1, (0, 0.0));
        }
        bands[b].0 += 1;
        bands[b].1 += e;
    }
    if n == 0 {
        return None;
    }
    let share = |inside: usize, total: usize| (total > 0).then(|| inside as f64 / total as f64);
    Some(Scored {
        pairs: n,
        mae: abs / n as f64,
        rmse: (sq / n as f64).sqrt(),
        coverage_80: share(in80, n80),
        coverage_95: share(in95, n95),
        by_horizon: bands
            .into_iter()
            .enumerate()
            .filter(|(_, (count, _))| *count > 0)
            .map(|(b, (count, sum))| LeadScore {
                from: b * band,
                to: b * band + band - 1,
                pairs: count,
                mae: sum / count as f64,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hours: i64) -> Timestamp {
        Timestamp::from_epoch(1_767_225_600 + hours * 3_600)
    }

    fn p(ts: i64, value: f64) -> Predicted {
        Predicted {
            ts: at(ts),
            value,
            lower_80: Some(value - 1.0),
            upper_80: Some(value + 1.0),
            lower_95: Some(value - 2.0),
            upper_95: Some(value + 2.0),
        }
    }

    #[test]
    fn pairs_errors_leads_and_coverage() {
        // Issued 10 minutes into hour 0: hour 0 is lead 0, hour 2 lead 2.
        let issued = at(0).plus(600);
        let predictions = [
            (issued, p(0, 10.0)),
            (issued, p(2, 10.0)),
            (issued, p(3, 10.0)),
        ];
        let actual = |t: Timestamp| match (t.epoch() - at(0).epoch()) / 3_600 {
            0 => Some(10.5),
            2 => Some(13.0),
            _ => None,
        };
        let s = score(predictions, actual, 3_600, 2).unwrap();
        assert_eq!(s.pairs, 2);
        assert!((s.mae - 1.75).abs() < 1e-12);
        assert_eq!((s.coverage_80, s.coverage_95), (Some(0.5), Some(0.5)));
        assert_eq!(s.by_horizon.len(), 2);
        assert_eq!((s.by_horizon[0].from, s.by_horizon[0].to), (0, 1));
        assert_eq!((s.by_horizon[1].from, s.by_horizon[1].pairs), (2, 1));
        assert!(score([(issued, p(3, 1.0))], actual, 3_600, 2).is_none());
    }
}
