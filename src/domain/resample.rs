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
/// grow with severity). Rounded to three decimals; none for an empty bucket.
pub fn aggregate(aggregation: Aggregation, values: &[f64]) -> Option<f64> {
    let last = *values.last()?;
    let round = |x: f64| (x * 1000.0).round() / 1000.0;
    Some(match aggregation {
        Aggregation::Mean => round(values.iter().sum::<f64>() / values.len() as f64),
        Aggregation::Sum => round(values.iter().sum()),
        Aggregation::Counter => last,
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

/// `values` with runs of at most `max_gap` missing steps filled by `method`, and which were.
/// Longer runs stay empty, and so do the ends for `Linear` (nothing on one side to draw from)
/// and a leading run for `Locf`. Linear values are rounded to three decimals.
pub fn fill(values: &[Option<f64>], method: Fill, max_gap: usize) -> (Vec<Option<f64>>, Vec<bool>) {
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
                (Fill::Linear, Some(b), Some(a)) => {
                    let t = (k + 1) as f64 / (i - start + 1) as f64;
                    Some(((b + (a - b) * t) * 1000.0).round() / 1000.0)
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
        let (linear, marked) = fill(&values, Fill::Linear, 3);
        assert_eq!(&linear[..4], [Some(1.0), Some(2.0), Some(3.0), Some(4.0)]);
        assert!(
            linear[4..8].iter().all(Option::is_none),
            "four missing > max_gap 3"
        );
        assert_eq!(linear[9], None, "no value after the end to draw to");
        assert_eq!(marked[..4], [false, true, true, false]);
        let (locf, _) = fill(&values, Fill::Locf, 4);
        assert_eq!(locf[4..8], [Some(4.0); 4]);
        assert_eq!(locf[9], Some(9.0), "carried past the end");
        let (leading, marked) = fill(&[None, Some(2.0)], Fill::Locf, 3);
        assert_eq!(
            (leading, marked),
            (vec![None, Some(2.0)], vec![false, false])
        );
    }
}
