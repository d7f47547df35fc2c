//! `gaps`: for every selected series, the expected grid over a range against what is stored,
//! each hole with its start, end, missing count and severity. Severity follows the chocolate
//! factory's thresholds — minor up to 2 hours, moderate up to 12, critical beyond — counted in
//! days instead of hours for daily series.

use serde::Serialize;

use crate::core::Core;
use crate::domain::{Dataset, Grid, Step, TimeRange, Timestamp, gaps};
use crate::store::StoreError;

/// Which series to look at; `None` is "all".
#[derive(Clone, Debug, Default)]
pub struct Selection {
    pub location: Option<String>,
    pub dataset: Option<Dataset>,
    pub source: Option<String>,
    /// Default: the `init` window back from now.
    pub range: Option<TimeRange>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Minor,
    Moderate,
    Critical,
}

impl Severity {
    /// ≤ 2 units minor, ≤ 12 moderate, more critical; the unit is the hour, or the day for
    /// series whose step is a day or longer.
    pub fn of(gap: gaps::Gap, step: Step) -> Self {
        let unit = if step.seconds() >= Step::DAY.seconds() {
            Step::DAY.seconds()
        } else {
            3_600
        };
        let length = gap.seconds() as f64 / unit as f64;
        if length <= 2.0 {
            Severity::Minor
        } else if length <= 12.0 {
            Severity::Moderate
        } else {
            Severity::Critical
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Minor => "minor",
            Severity::Moderate => "moderate",
            Severity::Critical => "critical",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct GapOut {
    pub start: String,
    pub end: String,
    pub missing: u64,
    pub severity: Severity,
}

#[derive(Clone, Debug, Serialize)]
pub struct SeriesGaps {
    pub location: String,
    pub dataset: Dataset,
    pub variable: String,
    pub source: String,
    pub step_seconds: i64,
    pub start: String,
    pub end: String,
    pub expected: u64,
    pub present: u64,
    pub gaps: Vec<GapOut>,
}

pub async fn find(
    core: &Core,
    selection: &Selection,
    now: Timestamp,
) -> Result<Vec<SeriesGaps>, StoreError> {
    let mut found = Vec::new();
    let tenants: Vec<_> = core.book().locations().cloned().collect();
    for location in core.registry.all().iter().chain(&tenants) {
        if selection
            .location
            .as_ref()
            .is_some_and(|l| *l != location.id)
        {
            continue;
        }
        for &dataset in Dataset::ALL {
            if selection.dataset.is_some_and(|d| d != dataset) {
                continue;
            }
            for series in core.store.series(&location.id, dataset).await? {
                if selection
                    .source
                    .as_ref()
                    .is_some_and(|s| *s != series.source)
                {
                    continue;
                }
                let step = series.step;
                let range = selection.range.unwrap_or_else(|| {
                    let end = now.floor(step);
                    TimeRange {
                        start: end.months_before(core.config.init.months).ceil(step),
                        end,
                    }
                });
                let grid = Grid::new(range, step);
                let present: Vec<Timestamp> = core
                    .store
                    .read(series.id, range)
                    .await?
                    .into_iter()
                    .map(|p| p.ts)
                    .collect();
                let holes = gaps::find(grid, &present);
                let missing: u64 = holes.iter().map(|g| g.missing).sum();
                found.push(SeriesGaps {
                    location: location.id.clone(),
                    dataset,
                    variable: series.variable.clone(),
                    source: series.source.clone(),
                    step_seconds: step.seconds(),
                    start: range.start.to_string(),
                    end: range.end.to_string(),
                    expected: grid.len(),
                    present: grid.len() - missing,
                    gaps: holes
                        .into_iter()
                        .map(|g| GapOut {
                            start: g.start.to_string(),
                            end: g.end.to_string(),
                            missing: g.missing,
                            severity: Severity::of(g, step),
                        })
                        .collect(),
                });
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gap(hours: i64) -> gaps::Gap {
        gaps::Gap {
            start: Timestamp::from_epoch(0),
            end: Timestamp::from_epoch(hours * 3_600),
            missing: hours as u64,
        }
    }

    #[test]
    fn severity_counts_hours_or_days() {
        assert_eq!(Severity::of(gap(1), Step::HOUR), Severity::Minor);
        assert_eq!(Severity::of(gap(2), Step::HOUR), Severity::Minor);
        assert_eq!(Severity::of(gap(3), Step::HOUR), Severity::Moderate);
        assert_eq!(
            Severity::of(gap(12), Step::QUARTER_HOUR),
            Severity::Moderate
        );
        assert_eq!(Severity::of(gap(13), Step::HOUR), Severity::Critical);
        // Daily series count days: 3 days is moderate, not critical.
        assert_eq!(Severity::of(gap(48), Step::DAY), Severity::Minor);
        assert_eq!(Severity::of(gap(72), Step::DAY), Severity::Moderate);
        assert_eq!(Severity::of(gap(13 * 24), Step::DAY), Severity::Critical);
    }
}
