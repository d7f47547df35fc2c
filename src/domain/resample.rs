//! Resampling a series for an answer: one bucket's value by the variable's aggregation, and
//! filling short runs of missing steps.

use std::collections::BTreeMap;

use super::Aggregation;

/// How a missing step may be filled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fill {
    /// The last value carried forward.
    Locf,
    /// A straight line between the values either side.
    Linear,
}

/// One bucket's value by the variable's aggregation: levels averaged, amounts summed, a
/// counter's last reading, a category's most frequent value (the larger on a tie: weather codes
/// grow with severity), directions averaged as unit vectors (none when they cancel out).
/// Rounded to three decimals; none for an empty bucket.
pub fn aggregate(aggregation: Aggregation, values: &[f64]) -> Option<f64> {
    let last = *values.last()?;
    let round = |x: f64| (x * 1000.0).round() / 1000.0;
    Some(match aggregation {
        Aggregation::Mean => round(values.iter().sum::<f64>() / values.len() as f64),
        Aggregation::Sum => round(values.iter().sum()),
        Aggregation::Counter => last,
        Aggregation::Direction => {
            let (sin, cos) = values.iter().fold((0.0, 0.0), |(s, c), d: &f64| {
                let r = d.to_radians();
                (s + r.sin(), c + r.cos())
            });
            if sin.hypot(cos) < 1e-9 * values.len() as f64 {
                return None;
            }
            round(sin.atan2(cos).to_degrees().rem_euclid(360.0)) % 360.0
        }
        Aggregation::Category => {
            let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
            for v in values {
                *counts.entry(v.round() as i64).or_default() += 1;
            }
            let most = counts.values().copied().max().unwrap_or(0);
            counts
                .into_iter()
                .filter(|(_, n)| *n == most)
                .map(|(code, _)| code)
                .max()
                .unwrap_or(0) as f64
        }
    })
}

/// `values` (of a variable aggregating as `aggregation`) with runs of at most `max_gap` missing
/// steps filled by `method`, and which were. Longer runs stay empty, and so do the ends for
/// `Linear` (nothing on one side to draw from) and a leading run for `Locf`. Linear values are
/// rounded to three decimals; a direction turns the short way round (350° to 10° through 0°);
/// a category is never interpolated (a weather code between two others means nothing).
pub fn fill(
    values: &[Option<f64>],
    method: Fill,
    max_gap: usize,
    aggregation: Aggregation,
) -> (Vec<Option<f64>>, Vec<bool>) {
    let mut out = values.to_vec();
    let mut filled = vec![false; values.len()];
    let mut i = 0;
    while i < values.len() {
        if values[i].is_some() {
            i += 1;
            continue;
        }
        let start = i;
        while i < values.len() && values[i].is_none() {
            i += 1;
        }
        if i - start > max_gap {
            continue;
        }
        let before = start.checked_sub(1).and_then(|b| values[b]);
        let after = values.get(i).copied().flatten();
        for (k, slot) in (start..i).enumerate() {
            let value = match (method, before, after) {
                (Fill::Locf, Some(b), _) => Some(b),
                (Fill::Linear, _, _) if aggregation == Aggregation::Category => None,
                (Fill::Linear, Some(b), Some(a)) => {
                    let t = (k + 1) as f64 / (i - start + 1) as f64;
                    let v = if aggregation == Aggregation::Direction {
                        let turn = (a - b + 540.0).rem_euclid(360.0) - 180.0;
                        (b + turn * t).rem_euclid(360.0)
                    } else {
                        b + (a - b) * t
                    };
                    Some((v * 1000.0).round() / 1000.0)
                }
                _ => None,
            };
            if value.is_some() {
                out[slot] = value;
                filled[slot] = true;
            }
        }
    }
    (out, filled)
}

#[cfg(test)]
mod tests {
    use super::{Fill, aggregate, fill};
    use crate::domain::Aggregation;

    #[test]
    fn buckets_aggregate_by_the_variables_kind() {
        let v = [1.0, 2.0, 4.0];
        assert_eq!(aggregate(Aggregation::Mean, &v), Some(2.333));
        assert_eq!(aggregate(Aggregation::Sum, &v), Some(7.0));
        assert_eq!(aggregate(Aggregation::Counter, &v), Some(4.0));
        assert_eq!(
            aggregate(Aggregation::Category, &[3.0, 61.0, 61.0, 3.0]),
            Some(61.0)
        );
        assert_eq!(
            aggregate(Aggregation::Category, &[3.0, 3.0, 61.0]),
            Some(3.0)
        );
        assert_eq!(aggregate(Aggregation::Mean, &[]), None);
    }

    #[test]
    fn short_runs_are_filled_and_long_ones_left() {
        let values = [
            Some(1.0),
            None,
            None,
            Some(4.0),
            None,
            None,
            None,
            None,
            Some(9.0),
            None,
        ];
        let (linear, marked) = fill(&values, Fill::Linear, 3, Aggregation::Mean);
        assert_eq!(&linear[..4], [Some(1.0), Some(2.0), Some(3.0), Some(4.0)]);
        assert!(
            linear[4..8].iter().all(Option::is_none),
            "four missing > max_gap 3"
        );
        assert_eq!(linear[9], None, "no value after the end to draw to");
        assert_eq!(marked[..4], [false, true, true, false]);
        let (locf, _) = fill(&values, Fill::Locf, 4, Aggregation::Mean);
        assert_eq!(locf[4..8], [Some(4.0); 4]);
        assert_eq!(locf[9], Some(9.0), "carried past the end");
        let (leading, marked) = fill(&[None, Some(2.0)], Fill::Locf, 3, Aggregation::Mean);
        assert_eq!(
            (leading, marked),
            (vec![None, Some(2.0)], vec![false, false])
        );
    }

    #[test]
    fn directions_turn_the_short_way_and_categories_are_not_interpolated() {
        assert_eq!(aggregate(Aggregation::Direction, &[350.0, 10.0]), Some(0.0));
        assert_eq!(
            aggregate(Aggregation::Direction, &[80.0, 100.0]),
            Some(90.0)
        );
        assert_eq!(
            aggregate(Aggregation::Direction, &[270.0, 250.0]),
            Some(260.0)
        );
        assert_eq!(
            aggregate(Aggregation::Direction, &[0.0, 180.0]),
            None,
            "they cancel out"
        );
        let (turned, _) = fill(
            &[Some(350.0), None, Some(10.0)],
            Fill::Linear,
            3,
            Aggregation::Direction,
        );
        assert_eq!(turned[1], Some(0.0));
        let (codes, marked) = fill(
            &[Some(3.0), None, Some(61.0)],
            Fill::Linear,
            3,
            Aggregation::Category,
        );
        assert_eq!((codes[1], marked[1]), (None, false));
    }
}
