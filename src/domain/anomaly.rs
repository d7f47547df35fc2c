//! Anomalies in one series: robust z-scores against a rolling reference (median and MAD, so the
//! outliers being looked for do not widen the yardstick), by hour of day where the series is
//! seasonal; jumps (the same score on the change from the previous reading); and static bounds
//! from config (a pressure service range). Pure: values in, anomalies out.
//!
//! The robust z-score of `x` against a reference is `0.6745 · (x − median) / MAD`, which equals
//! the ordinary z-score for normal data. The MAD is taken as at least `materiality` (5 % by
//! default) of the series' typical level: utility meters are accurate to a few percent, and a
//! quiet series should not turn a change within that into an anomaly. A reference with MAD 0 (a flat or stuck reference) gives
//! no score: it cannot say how far is far.

use jiff::tz::TimeZone;
use serde::Serialize;

use super::time::{Step, Timestamp};

/// How far from the reference, in robust deviations, each severity starts.
pub const MEDIUM: f64 = 2.5;
pub const HIGH: f64 = 3.0;
pub const CRITICAL: f64 = 4.0;
/// A change is a jump from this many robust deviations of the usual change. Changes of noisy
/// readings are heavier-tailed than the readings (bounded noise on two readings), so the level
/// bands would call ordinary jitter a jump; a jump is therefore always critical.
pub const JUMP: f64 = CRITICAL;

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }

    /// The severity of a robust deviation, if it is one.
    pub fn of(z: f64) -> Option<Self> {
        let z = z.abs();
        if z >= CRITICAL {
            Some(Severity::Critical)
        } else if z >= HIGH {
            Some(Severity::High)
        } else if z >= MEDIUM {
            Some(Severity::Medium)
        } else {
            None
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Against the previous 24 hours.
    RobustZ,
    /// Against the same local time of day over the previous 14 days.
    RobustZSeasonal,
    /// The change from the previous reading against the previous 24 hours' changes (from
    /// [`JUMP`] deviations on; series without a daily profile only).
    RateOfChange,
    /// Outside configured bounds.
    Threshold,
}

impl Method {
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::RobustZ => "robust_z",
            Method::RobustZSeasonal => "robust_z_seasonal",
            Method::RateOfChange => "rate_of_change",
            Method::Threshold => "threshold",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Method::RobustZ,
            Method::RobustZSeasonal,
            Method::RateOfChange,
            Method::Threshold,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }
}

/// One anomalous value.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Anomaly {
    pub ts: Timestamp,
    pub value: f64,
    /// What the method expected: the reference median, the previous value plus the usual
    /// change, or the bound crossed.
    pub expected: f64,
    /// Robust deviations for the statistical methods; the distance beyond the bound for
    /// thresholds.
    pub deviation: f64,
    pub method: Method,
    pub severity: Severity,
}

/// Configured bounds of a variable; a value outside them is an anomaly of `severity`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bounds {
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub severity: Severity,
}

/// What detection needs besides the values.
pub struct Settings<'a> {
    pub step: Step,
    pub zone: &'a TimeZone,
    /// A reference needs at least this many values to score.
    pub min_points: usize,
    pub bounds: Option<Bounds>,
    /// Readings in a flatline this long (a stuck sensor, see `quality`) are neither scored nor
    /// part of any reference: they would shrink its spread and make ordinary noise look wild.
    pub flatline_seconds: i64,
    /// Deviations are measured against at least this share of the series' typical level (the
    /// median absolute value of the last 24 hours): in a very quiet series a change of a
    /// fraction of a percent is not an anomaly, however many MADs it is.
    pub materiality: f64,
}

const RECENT: i64 = 86_400;
const SEASON_DAYS: i64 = 14;
const SEASON_MIN: usize = 7;
/// Minutes either side of a time of day that count as the same time of day.
const SLOT_SPREAD: i32 = 30;

/// The anomalies among `values` (sorted, one per instant) at instants in `[from, ..)`; values
/// before `from` serve as reference only (the caller passes the 14 days before it). One
/// anomaly per instant: the first method that finds it, in the order threshold, seasonal or
/// plain z-score, rate of change.
pub fn detect(values: &[(Timestamp, f64)], from: Timestamp, settings: &Settings) -> Vec<Anomaly> {
    // Each value's local time of day, minutes from midnight (one zone conversion per value).
    let slots: Vec<i32> = values
        .iter()
        .map(|&(ts, _)| slot_of_day(ts, settings.zone))
        .collect();
    let seasonal = seasonal_by_slot(values, &slots);
    // Seasonal series are scored on what is left after the usual level of their time of day
    // (the median of that slot over the previous 14 days); others on their values.
    let baselines: Vec<Option<f64>> = if seasonal {
        seasonal_baselines(values, &slots)
    } else {
        vec![Some(0.0); values.len()]
    };
    let stuck = stuck_mask(values, settings);
    let residual = |j: usize| {
        if stuck[j] {
            None
        } else {
            baselines[j].map(|b| values[j].1 - b)
        }
    };
    let method = if seasonal {
        Method::RobustZSeasonal
    } else {
        Method::RobustZ
    };
    let step = settings.step.seconds();
    let first = values.partition_point(|&(ts, _)| ts < from);
    let mut out: Vec<Anomaly> = Vec::new();
    let mut reference = Vec::new();
    let mut changes = Vec::new();
    let mut levels = Vec::new();
    for i in first..values.len() {
        let (ts, value) = values[i];
        if let Some(a) = settings.bounds.and_then(|b| beyond(ts, value, b)) {
            out.push(a);
            continue;
        }
        if stuck[i] {
            continue;
        }
        let day_start = values.partition_point(|&(t, _)| t.epoch() < ts.epoch() - RECENT);
        levels.clear();
        levels.extend(
            (day_start..i)
                .filter(|&j| !stuck[j])
                .map(|j| values[j].1.abs()),
        );
        let floor = if levels.is_empty() {
            0.0
        } else {
            settings.materiality * median_of(&mut levels)
        };
        if let Some(r) = residual(i) {
            reference.clear();
            reference.extend((day_start..i).filter_map(residual));
            if let Some((usual, z)) = robust_z(&mut reference, r, settings.min_points, floor)
                && let Some(severity) = Severity::of(z)
            {
                out.push(Anomaly {
                    ts,
                    value,
                    expected: value - r + usual,
                    deviation: z,
                    method,
                    severity,
                });
                continue;
            }
        }
        // A jump: only between readings one step apart (a gap is not a jump), and not the
        // return from an anomalous reading.
        // A seasonal series' jumps are judged by its time-of-day residual above: a daily
        // step (a tariff period starting, a morning rise) is no anomaly however steep.
        let after_anomaly = i > 0 && out.last().is_some_and(|a| a.ts == values[i - 1].0);
        if !seasonal && i > 0 && values[i - 1].0.epoch() == ts.epoch() - step && !after_anomaly {
            changes.clear();
            changes.extend(
                (day_start.max(1)..i)
                    .filter(|&j| {
                        values[j].0.epoch() - values[j - 1].0.epoch() == step
                            && !stuck[j]
                            && !stuck[j - 1]
                    })
                    .map(|j| values[j].1 - values[j - 1].1),
            );
            let change = value - values[i - 1].1;
            if let Some((usual, z)) = robust_z(&mut changes, change, settings.min_points, floor)
                && z.abs() >= JUMP
                && let Some(severity) = Severity::of(z)
            {
                out.push(Anomaly {
                    ts,
                    value,
                    expected: values[i - 1].1 + usual,
                    deviation: z,
                    method: Method::RateOfChange,
                    severity,
                });
            }
        }
    }
    out
}

/// Which values belong to a flatline.
fn stuck_mask(values: &[(Timestamp, f64)], settings: &Settings) -> Vec<bool> {
    let arrived: Vec<super::quality::Arrived> = values
        .iter()
        .map(|&(ts, value)| super::quality::Arrived {
            ts,
            value,
            arrival: 0,
        })
        .collect();
    let rules = super::quality::Rules {
        flatline_seconds: settings.flatline_seconds,
    };
    let mut stuck = vec![false; values.len()];
    for run in super::quality::flatlines(&arrived, settings.step, &rules) {
        let from = values.partition_point(|&(ts, _)| ts < run.start);
        let to = values.partition_point(|&(ts, _)| ts <= run.end);
        stuck[from..to].iter_mut().for_each(|s| *s = true);
    }
    stuck
}

/// Each value's usual level for its local time of day: the median of the values within half
/// an hour of that time of day over the 14 days before it (a locally straight profile keeps its
/// median at the centre, and five slots a day give the median enough values to be steady),
/// when at least a week of that exact time of day is there.
fn seasonal_baselines(values: &[(Timestamp, f64)], slots: &[i32]) -> Vec<Option<f64>> {
    let mut by_slot: std::collections::BTreeMap<i32, Vec<usize>> = Default::default();
    let mut out = Vec::with_capacity(values.len());
    let mut near = Vec::new();
    for (i, &(ts, _)) in values.iter().enumerate() {
        let slot = slots[i];
        let oldest = ts.epoch() - SEASON_DAYS * RECENT;
        let recent = |indices: &Vec<usize>| {
            let from = indices.partition_point(|&j| values[j].0.epoch() < oldest);
            from..indices.len()
        };
        let same = by_slot.get(&slot).map_or(0, |v| recent(v).len());
        near.clear();
        for offset in -SLOT_SPREAD..=SLOT_SPREAD {
            let key = (slot + offset).rem_euclid(24 * 60);
            if let Some(indices) = by_slot.get(&key) {
                // Earlier days only: today's neighbours are all before this instant, which
                // would tilt the median on a slope.
                near.extend(
                    indices[recent(indices)]
                        .iter()
                        .filter(|&&j| values[j].0.epoch() <= ts.epoch() - RECENT / 2)
                        .map(|&j| values[j].1),
                );
            }
        }
        out.push((same >= SEASON_MIN).then(|| median_of(&mut near)));
        by_slot.entry(slot).or_default().push(i);
    }
    out
}

/// Minutes since local midnight.
fn slot_of_day(ts: Timestamp, zone: &TimeZone) -> i32 {
    let local = ts.to_jiff().to_zoned(zone.clone());
    i32::from(local.hour()) * 60 + i32::from(local.minute())
}

fn beyond(ts: Timestamp, value: f64, bounds: Bounds) -> Option<Anomaly> {
    let crossed = match (bounds.min, bounds.max) {
        (Some(min), _) if value < min => min,
        (_, Some(max)) if value > max => max,
        _ => return None,
    };
    Some(Anomaly {
        ts,
        value,
        expected: crossed,
        deviation: value - crossed,
        method: Method::Threshold,
        severity: bounds.severity,
    })
}

/// The reference's median and `value`'s robust z-score against it; none for a reference too
/// small or without spread. Reorders `reference`.
pub fn robust_z(
    reference: &mut [f64],
    value: f64,
    min_points: usize,
    floor: f64,
) -> Option<(f64, f64)> {
    if reference.len() < min_points.max(1) {
        return None;
    }
    let median = median_of(reference);
    for v in reference.iter_mut() {
        *v = (*v - median).abs();
    }
    let mad = median_of(reference).max(floor);
    // Rounding leaves a flat reference a MAD of a few ulps; that is no spread either.
    (mad > 1e-9 * (median.abs() + 1.0)).then(|| (median, 0.6745 * (value - median) / mad))
}

/// The median, reordering `values` (which keep their elements).
fn median_of(values: &mut [f64]) -> f64 {
    let n = values.len();
    let (_, &mut upper, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        upper
    } else {
        let lower = values[..n / 2]
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        (lower + upper) / 2.0
    }
}

/// A series is seasonal when the mean profile by local hour of day explains at least half of
/// its variance (and it spans at least two days).
pub fn is_seasonal(values: &[(Timestamp, f64)], zone: &TimeZone) -> bool {
    let slots: Vec<i32> = values
        .iter()
        .map(|&(ts, _)| slot_of_day(ts, zone))
        .collect();
    seasonal_by_slot(values, &slots)
}

/// [`is_seasonal`] with each value's minutes from local midnight given.
fn seasonal_by_slot(values: &[(Timestamp, f64)], slots: &[i32]) -> bool {
    if values.len() < 2 || values[values.len() - 1].0.epoch() - values[0].0.epoch() < 2 * RECENT {
        return false;
    }
    let mut sums = [(0.0f64, 0u32); 24];
    let mut total = 0.0;
    for (&(_, v), &slot) in values.iter().zip(slots) {
        let h = (slot / 60) as usize;
        sums[h].0 += v;
        sums[h].1 += 1;
        total += v;
    }
    let mean = total / values.len() as f64;
    let mut within = 0.0;
    let mut all = 0.0;
    for (&(_, v), &slot) in values.iter().zip(slots) {
        let h = (slot / 60) as usize;
        let hour_mean = sums[h].0 / f64::from(sums[h].1);
        within += (v - hour_mean).powi(2);
        all += (v - mean).powi(2);
    }
    all > 0.0 && 1.0 - within / all >= 0.5
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc() -> TimeZone {
        TimeZone::UTC
    }

    /// Bounded noise (a rounded sensor) around `level`, deterministic.
    fn noisy(n: usize, level: impl Fn(usize) -> f64) -> Vec<(Timestamp, f64)> {
        let start = Timestamp::from_epoch(1_750_000_000).floor(Step::QUARTER_HOUR);
        let mut rng = fastrand::Rng::with_seed(7);
        (0..n)
            .map(|i| {
                let noise = rng.f64() - 0.5;
                (start.plus(i as i64 * 900), level(i) + noise)
            })
            .collect()
    }

    fn settings(zone: &TimeZone) -> Settings<'_> {
        Settings {
            step: Step::QUARTER_HOUR,
            zone,
            min_points: 10,
            bounds: None,
            flatline_seconds: 7_200,
            materiality: 0.0,
        }
    }

    #[test]
    fn a_spike_is_found_with_its_severity_and_nothing_else() {
        let mut values = noisy(400, |_| 50.0);
        values[300].1 = 58.0;
        let zone = utc();
        let found = detect(&values, values[96].0, &settings(&zone));
        assert_eq!(found.len(), 1, "{found:?}");
        let a = &found[0];
        assert_eq!(
            (a.ts, a.method, a.severity),
            (values[300].0, Method::RobustZ, Severity::Critical)
        );
        assert!((a.expected - 50.0).abs() < 0.1);
    }

    #[test]
    fn a_daily_profile_makes_the_reference_seasonal() {
        let zone = utc();
        let daily = |i: usize| 20.0 + 10.0 * ((i % 96) as f64 / 96.0 * std::f64::consts::TAU).sin();
        let mut values = noisy(96 * 20, daily);
        assert!(is_seasonal(&values, &zone));
        assert!(!is_seasonal(&noisy(96 * 20, |_| 5.0), &zone));
        // At the daily trough, 18 L/s would be ordinary at noon but is far off for the hour.
        let trough = 96 * 18 + 72;
        values[trough].1 = daily(trough) + 6.0;
        let found = detect(&values, values[96 * 15].0, &settings(&zone));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].ts, found[0].method),
            (values[trough].0, Method::RobustZSeasonal)
        );
    }

    #[test]
    fn bounds_come_first_and_a_flat_reference_scores_nothing() {
        let zone = utc();
        let mut values: Vec<_> = (0..200)
            .map(|i| (Timestamp::from_epoch(i * 900), 4.5))
            .collect();
        values[150].1 = 1.5;
        values[160].1 = 4.6;
        let mut s = settings(&zone);
        s.bounds = Some(Bounds {
            min: Some(2.0),
            max: Some(8.0),
            severity: Severity::High,
        });
        let found = detect(&values, Timestamp::from_epoch(0), &s);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].method, found[0].expected, found[0].deviation),
            (Method::Threshold, 2.0, -0.5)
        );
    }

    #[test]
    fn severities_start_where_documented() {
        assert_eq!(Severity::of(2.4), None);
        assert_eq!(Severity::of(-2.5), Some(Severity::Medium));
        assert_eq!(Severity::of(3.0), Some(Severity::High));
        assert_eq!(Severity::of(4.0), Some(Severity::Critical));
        let mut reference = vec![1.0, 2.0, 3.0, 4.0, 100.0];
        let (median, z) = robust_z(&mut reference, 5.0, 3, 0.0).unwrap();
        assert_eq!(median, 3.0);
        assert!((z - 0.6745 * 2.0).abs() < 1e-12);
    }
}
