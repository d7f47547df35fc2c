//! Gap finding: the expected grid of a series against the instants actually stored. A pure
//! function over sorted timestamps; the store supplies the instants, callers decide what to do.

use super::time::{Grid, Step, Timestamp};

/// A maximal run of missing grid instants, `[start, end)`: `end` is the first instant after the
/// run, so `missing = (end - start) / step` and a single missing hour lasts one hour (the
/// chocolate factory's `end - start` of the last missing slot said zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gap {
    pub start: Timestamp,
    pub end: Timestamp,
    pub missing: u64,
}

impl Gap {
    pub fn seconds(self) -> i64 {
        self.end.epoch() - self.start.epoch()
    }
}

/// The gaps of `grid` given the `present` instants, which must be sorted ascending. Instants off
/// the grid (unaligned or outside the range) and repeats are ignored.
pub fn find(grid: Grid, present: &[Timestamp]) -> Vec<Gap> {
    let step = grid.step;
    let mut gaps = Vec::new();
    let mut expected = grid.first();
    let end = grid.range.end;
    for &ts in present.iter().filter(|&&ts| grid.contains(ts)) {
        if ts > expected {
            gaps.push(gap(expected, ts, step));
        }
        if ts >= expected {
            expected = ts.plus(step.seconds());
        }
    }
    if expected < end {
        gaps.push(gap(expected, end.ceil(step), step));
    }
    gaps
}

fn gap(start: Timestamp, end: Timestamp, step: Step) -> Gap {
    let missing = ((end.epoch() - start.epoch()) / step.seconds()) as u64;
    Gap {
        start,
        end,
        missing,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::time::TimeRange;

    const H: i64 = 3_600;

    fn grid(start: i64, end: i64) -> Grid {
        Grid::new(
            TimeRange::new(Timestamp::from_epoch(start), Timestamp::from_epoch(end)).unwrap(),
            Step::HOUR,
        )
    }

    fn at(hours: &[i64]) -> Vec<Timestamp> {
        hours.iter().map(|h| Timestamp::from_epoch(h * H)).collect()
    }

    fn spans(gaps: &[Gap]) -> Vec<(i64, i64, u64)> {
        gaps.iter()
            .map(|g| (g.start.epoch() / H, g.end.epoch() / H, g.missing))
            .collect()
    }

    #[test]
    fn complete_series_has_no_gaps() {
        assert!(find(grid(0, 5 * H), &at(&[0, 1, 2, 3, 4])).is_empty());
    }

    #[test]
    fn empty_series_is_one_gap_over_the_whole_grid() {
        assert_eq!(spans(&find(grid(0, 5 * H), &[])), vec![(0, 5, 5)]);
    }

    #[test]
    fn single_missing_hour_lasts_one_hour() {
        let gaps = find(grid(0, 5 * H), &at(&[0, 1, 3, 4]));
        assert_eq!(spans(&gaps), vec![(2, 3, 1)]);
        assert_eq!(gaps[0].seconds(), H);
    }

    #[test]
    fn leading_and_trailing_holes_are_found() {
        assert_eq!(
            spans(&find(grid(0, 6 * H), &at(&[2, 3]))),
            vec![(0, 2, 2), (4, 6, 2)]
        );
    }

    #[test]
    fn off_grid_and_repeated_instants_are_ignored() {
        let mut present = at(&[0, 1, 1, 4, 9]);
        present.insert(2, Timestamp::from_epoch(H + 30));
        assert_eq!(spans(&find(grid(0, 5 * H), &present)), vec![(2, 4, 2)]);
    }

    #[test]
    fn unaligned_range_end_closes_the_last_gap_on_the_grid() {
        // Instants 0h, 1h, 2h are expected in [0, 2h30m); 2h is missing.
        assert_eq!(
            spans(&find(grid(0, 2 * H + 1_800), &at(&[0, 1]))),
            vec![(2, 3, 1)]
        );
    }

    proptest! {
        #[test]
        fn gaps_are_sorted_disjoint_aligned_inside_and_account_for_every_instant(
            start in -50i64..50,
            len in 0i64..200,
            present in proptest::collection::btree_set(-60i64..260, 0..150),
        ) {
            let g = grid(start * H, (start + len) * H);
            let present: Vec<_> = present.into_iter().map(|h| Timestamp::from_epoch(h * H)).collect();
            let gaps = find(g, &present);
            let mut previous_end = None;
            let mut missing = 0;
            for gap in &gaps {
                prop_assert!(gap.start < gap.end);
                prop_assert!(gap.start.is_aligned(g.step) && gap.end.is_aligned(g.step));
                prop_assert!(g.range.start <= gap.start && gap.end <= g.range.end.ceil(g.step));
                if let Some(end) = previous_end { prop_assert!(end < gap.start); }
                prop_assert!(!present.iter().any(|p| gap.start <= *p && *p < gap.end));
                previous_end = Some(gap.end);
                missing += gap.missing;
            }
            let on_grid = present.iter().filter(|p| g.contains(**p)).count() as u64;
            prop_assert_eq!(missing + on_grid, g.len());
        }
    }
}
