//! Data quality of one series per local day, from what is stored and what was refused:
//!
//! - **completeness** = present / expected, expected being the instants of the series' step in
//!   the day (23 or 25 hours on daylight-saving days);
//! - **validity** = present / (present + rejected), where rejected are the readings of that
//!   series and day refused at ingestion as physically impossible (pressure above 16 bar,
//!   humidity above 100 %, …) — stored values are valid by construction, so validity counts
//!   what was turned away; unknown (`None`) when the caller cannot say what was refused;
//! - **flatlines**: runs of consecutive readings (one step apart) with the same value lasting
//!   at least the configured time and at least three readings — a stuck sensor;
//! - **duplicates**: second readings for an instant that had one (the first is kept; the rest
//!   were refused at ingestion and are counted, not scored);
//! - **late arrivals**: values written after a value of a later instant of the same series was
//!   already stored (a gap filled afterwards, a logger that uploads out of order);
//! - **score** = completeness × validity × (1 − flatlined / present), validity left out where
//!   unknown: 1 is a full day of live, valid readings; a day with nothing is 0.
//!
//! Staleness (age of the newest value against the step) is a property of the series now, not of
//! a day: [`staleness`].

use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;

use super::gaps::{self, Gap};
use super::series::RefusedKind;
use super::time::{Grid, Step, TimeRange, Timestamp};
use super::windows::Window;

/// One stored value with the order it arrived in (the id of the run that first wrote it).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Arrived {
    pub ts: Timestamp,
    pub value: f64,
    pub arrival: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Flatline {
    pub start: Timestamp,
    /// The last reading of the run.
    pub end: Timestamp,
    pub readings: u32,
    pub value: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Issue {
    /// `missing`, `out_of_range`, `flatline`, `duplicate`, `late`.
    pub kind: &'static str,
    pub detail: String,
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    pub count: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DayQuality {
    pub day: Date,
    pub expected: u32,
    pub present: u32,
    pub completeness: f64,
    /// None when not known.
    pub rejected: Option<u32>,
    /// None when nothing arrived that day or what was refused is not known.
    pub validity: Option<f64>,
    pub flatlined: u32,
    /// Instants sent more than once (None when not known).
    pub duplicates: Option<u32>,
    pub late: u32,
    pub score: f64,
    pub issues: Vec<Issue>,
}

/// How long equal readings must last to be a flatline.
pub struct Rules {
    pub flatline_seconds: i64,
}

/// The quality of each local day of `days` (first..=last) for a series with `step`. `values`
/// are sorted by instant and may reach beyond the days (a flatline is measured whole);
/// `refused` are the readings refused at ingestion with why, when known.
pub fn daily(
    values: &[Arrived],
    refused: Option<&[(Timestamp, RefusedKind)]>,
    step: Step,
    zone: &TimeZone,
    (first, last): (Date, Date),
    rules: &Rules,
) -> Vec<DayQuality> {
    let late = late_arrivals(values);
    let flat = flatlines(values, step, rules);
    let mut out = Vec::new();
    let mut day = first;
    while day <= last {
        let Some((start, end)) = day_bounds(day, zone) else {
            break;
        };
        let lo = values.partition_point(|v| v.ts < start);
        let hi = values.partition_point(|v| v.ts < end);
        let today = &values[lo..hi];
        let range = TimeRange::new(start, end).expect("a day is not empty");
        let grid = Grid::new(range, step);
        let expected = u32::try_from(grid.len()).unwrap_or(u32::MAX);
        let present =
            u32::try_from(today.iter().filter(|v| grid.contains(v.ts)).count()).unwrap_or(u32::MAX);
        let refused_today = |kind: RefusedKind| {
            refused.map(|r| {
                r.iter()
                    .filter(|&&(t, k)| k == kind && range.contains(t))
                    .count() as u32
            })
        };
        let rejected_today = refused_today(RefusedKind::Invalid);
        let duplicates = refused_today(RefusedKind::Duplicate);
        let late_today = late[lo..hi].iter().filter(|&&l| l).count() as u32;
        let mut issues = Vec::new();
        let stamps: Vec<Timestamp> = today.iter().map(|v| v.ts).collect();
        for gap in gaps::find(grid, &stamps) {
            issues.push(missing(gap, step));
        }
        if let Some(rejected_today) = rejected_today.filter(|&r| r > 0) {
            issues.push(Issue {
                kind: "out_of_range",
                detail: format!(
                    "{rejected_today} readings refused at ingestion as outside the variable's physical range"
                ),
                start: None,
                end: None,
                count: rejected_today,
            });
        }
        let mut flatlined = 0;
        for f in flat.iter().filter(|f| f.start < end && f.end >= start) {
            let inside = today
                .iter()
                .filter(|v| v.ts >= f.start && v.ts <= f.end)
                .count() as u32;
            flatlined += inside;
            issues.push(Issue {
                kind: "flatline",
                detail: format!(
                    "{} readings in a row at {} ({} to {})",
                    f.readings, f.value, f.start, f.end
                ),
                start: Some(f.start),
                end: Some(f.end),
                count: inside,
            });
        }
        if let Some(duplicates) = duplicates.filter(|&d| d > 0) {
            issues.push(Issue {
                kind: "duplicate",
                detail: format!(
                    "{duplicates} instants were sent more than once; the first value was kept"
                ),
                start: None,
                end: None,
                count: duplicates,
            });
        }
        if late_today > 0 {
            issues.push(Issue {
                kind: "late",
                detail: format!(
                    "{late_today} values arrived after values of later instants were stored"
                ),
                start: None,
                end: None,
                count: late_today,
            });
        }
        let completeness = if expected == 0 {
            0.0
        } else {
            (f64::from(present) / f64::from(expected)).min(1.0)
        };
        let validity = rejected_today
            .map(|r| present + r)
            .filter(|&arrived| arrived > 0)
            .map(|arrived| f64::from(present) / f64::from(arrived));
        let live = if present == 0 {
            0.0
        } else {
            1.0 - f64::from(flatlined.min(present)) / f64::from(present)
        };
        out.push(DayQuality {
            day,
            expected,
            present,
            completeness,
            rejected: rejected_today,
            duplicates,
            validity,
            flatlined,
            late: late_today,
            score: completeness
                * validity.unwrap_or(if rejected_today.is_some() { 0.0 } else { 1.0 })
                * live,
            issues,
        });
        day = match day.tomorrow() {
            Ok(d) => d,
            Err(_) => break,
        };
    }
    out
}

fn missing(gap: Gap, step: Step) -> Issue {
    let count = u32::try_from(gap.seconds() / step.seconds()).unwrap_or(u32::MAX);
    Issue {
        kind: "missing",
        detail: format!(
            "{count} expected readings missing from {} to {}",
            gap.start, gap.end
        ),
        start: Some(gap.start),
        end: Some(gap.end),
        count,
    }
}

/// `[start, end)` of a local day.
pub fn day_bounds(day: Date, zone: &TimeZone) -> Option<(Timestamp, Timestamp)> {
    let start = day.to_zoned(zone.clone()).ok()?;
    Some(Window::Day.bounds(Timestamp::from_jiff(start.timestamp()), zone))
}

/// Whether each value arrived after a value of a later instant: its arrival is later than the
/// earliest arrival among the values after it.
fn late_arrivals(values: &[Arrived]) -> Vec<bool> {
    let mut late = vec![false; values.len()];
    let mut earliest_after = i64::MAX;
    for (i, v) in values.iter().enumerate().rev() {
        late[i] = v.arrival > earliest_after;
        earliest_after = earliest_after.min(v.arrival);
    }
    late
}

/// Runs of equal consecutive readings lasting at least `rules.flatline_seconds` and three
/// readings.
pub fn flatlines(values: &[Arrived], step: Step, rules: &Rules) -> Vec<Flatline> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < values.len() {
        let mut j = i;
        while j + 1 < values.len()
            && values[j + 1].value == values[i].value
            && values[j + 1].ts.epoch() - values[j].ts.epoch() == step.seconds()
        {
            j += 1;
        }
        let readings = (j - i + 1) as u32;
        let lasted = values[j].ts.epoch() - values[i].ts.epoch() + step.seconds();
        if readings >= 3 && lasted >= rules.flatline_seconds {
            out.push(Flatline {
                start: values[i].ts,
                end: values[j].ts,
                readings,
                value: values[i].value,
            });
        }
        i = j + 1;
    }
    out
}

/// How many steps old the newest value is at `now` (0 when it is the current step's).
pub fn staleness(last: Option<Timestamp>, now: Timestamp, step: Step) -> Option<f64> {
    last.map(|t| ((now.epoch() - t.epoch()).max(0) as f64 / step.seconds() as f64).floor())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readings(start: &str, values: &[f64], step: i64) -> Vec<Arrived> {
        let start = Timestamp::from_jiff(start.parse().unwrap());
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| Arrived {
                ts: start.plus(i as i64 * step),
                value: v,
                arrival: 1,
            })
            .collect()
    }

    fn rules() -> Rules {
        Rules {
            flatline_seconds: 3 * 3_600,
        }
    }

    #[test]
    fn a_full_live_day_scores_one_and_a_gap_costs_completeness() {
        let zone = TimeZone::UTC;
        let day: Date = "2025-07-17".parse().unwrap();
        let values: Vec<f64> = (0..24).map(|h| h as f64).collect();
        let mut stored = readings("2025-07-17T00:00:00Z", &values, 3_600);
        let q = daily(&stored, Some(&[]), Step::HOUR, &zone, (day, day), &rules());
        assert_eq!((q[0].expected, q[0].present, q[0].score), (24, 24, 1.0));
        assert!(q[0].issues.is_empty());
        stored.drain(5..11);
        let q = daily(&stored, Some(&[]), Step::HOUR, &zone, (day, day), &rules());
        assert_eq!(q[0].completeness, 18.0 / 24.0);
        assert_eq!(q[0].issues.len(), 1);
        assert_eq!((q[0].issues[0].kind, q[0].issues[0].count), ("missing", 6));
    }

    #[test]
    fn stuck_readings_rejects_and_late_values_are_issues() {
        let zone = TimeZone::get("Europe/Madrid").unwrap();
        let day: Date = "2025-10-26".parse().unwrap();
        // 25 local hours; hours 3..=8 stuck at 4.2.
        let values: Vec<f64> = (0..25)
            .map(|h| if (3..=8).contains(&h) { 4.2 } else { h as f64 })
            .collect();
        let mut stored = readings("2025-10-25T22:00:00Z", &values, 3_600);
        stored[20].arrival = 2;
        let rejected = [
            (stored[21].ts, RefusedKind::Invalid),
            (stored[22].ts, RefusedKind::Duplicate),
        ];
        let q = &daily(
            &stored,
            Some(&rejected),
            Step::HOUR,
            &zone,
            (day, day),
            &rules(),
        )[0];
        assert_eq!(
            (q.expected, q.present, q.rejected, q.flatlined, q.late),
            (25, 25, Some(1), 6, 1)
        );
        assert_eq!(q.validity, Some(25.0 / 26.0));
        let expected_score = 1.0 * (25.0 / 26.0) * (1.0 - 6.0 / 25.0);
        assert!((q.score - expected_score).abs() < 1e-12);
        let kinds: Vec<_> = q.issues.iter().map(|i| i.kind).collect();
        assert_eq!(q.duplicates, Some(1));
        assert_eq!(kinds, ["out_of_range", "flatline", "duplicate", "late"]);
    }

    #[test]
    fn short_runs_of_equal_values_are_not_flatlines() {
        let values = readings("2025-07-17T00:00:00Z", &[1.0, 1.0, 2.0, 2.0], 3_600);
        assert!(flatlines(&values, Step::HOUR, &rules()).is_empty());
        let values = readings("2025-07-17T00:00:00Z", &[1.0, 1.0, 1.0, 1.0, 2.0], 3_600);
        assert_eq!(flatlines(&values, Step::HOUR, &rules())[0].readings, 4);
        assert_eq!(
            staleness(Some(values[0].ts), values[4].ts, Step::HOUR),
            Some(4.0)
        );
    }
}
