//! Anomalies in one series: robust z-scores (median and MAD, so the outliers being looked for do
//! not widen the yardstick) of what is left of each value once the expected is taken away, and
//! static bounds from config (a pressure service range). Pure: values in, anomalies out.
//!
//! The expected value is the series' usual level for that local time of day (where it has a daily
//! profile), for weekdays and weekends apart (where it also has a weekly one: traffic, prices),
//! plus the level it has kept over the last hours (a warm spell, a busy day), so that weather
//! and demand moving as they do is not news. What is left (the innovation) is scored against the
//! innovations of the same time of day and kind of day over the reference weeks, or of the last
//! week where the series has no daily profile.
//!
//! The robust z-score of `x` against a reference is `0.6745 · (x − median) / MAD`, which equals
//! the ordinary z-score for normal data. The MAD is taken as at least `materiality` (5 % by
//! default) of the series' typical level: utility meters are accurate to a few percent, and a
//! quiet series should not turn a change within that into an anomaly. A reference with MAD 0 (a
//! flat or stuck reference) gives no score: it cannot say how far is far; nor does an
//! intermittent series (at least half its last week exactly zero: rain), whose bursts are its
//! nature.

use jiff::tz::TimeZone;
use serde::Serialize;

use super::time::{Step, Timestamp};

/// How far from the reference, in robust deviations, each severity starts.
pub const MEDIUM: f64 = 2.5;
pub const HIGH: f64 = 3.0;
pub const CRITICAL: f64 = 4.0;

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
    /// A series without a daily profile: the value less its level of the last hours, against
    /// the last week's.
    RobustZ,
    /// A series with a daily (or weekly) profile: the value less the usual level of its time
    /// of day (and kind of day) and less the level kept over the last hours, against the same
    /// time and kind of day over the reference weeks.
    RobustZSeasonal,
    /// A jump from the previous reading. Earlier versions stored it; a jump now shows as a
    /// robust z-score, so it is read back but no longer found.
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
/// The reference weeks of a series with a daily profile (two), or a weekly one (four: eight
/// weekend days).
const SEASON_DAYS: i64 = 14;
const WEEKLY_SEASON_DAYS: i64 = 28;
/// A time of day needs this many earlier days of its kind to have a usual level.
const SEASON_MIN: usize = 7;
/// The level a series has kept lately: the median of its residuals over these seconds (at
/// least [`LEVEL_STEPS`] readings).
const LEVEL_SECONDS: i64 = 3 * 3_600;
const LEVEL_STEPS: i64 = 4;
/// A series without a daily profile is scored against the last week's innovations, once it has
/// two days of them: a few hours of a new series (AEMET's last 24 observations on a first
/// ingest) say too little about how it varies.
const SCALE_SECONDS: i64 = 7 * RECENT;
const MIN_HISTORY_SECONDS: i64 = 2 * RECENT;
/// Minutes either side of a time of day whose innovations say how much that time of day
/// varies (the morning rise varies more than the night).
const SCALE_SPREAD: i32 = 60;

/// What of its calendar a series follows: nothing, the time of day, or the time of day of
/// weekdays and weekends apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    None,
    Daily,
    Weekly,
}

/// An instant's place in the local calendar.
#[derive(Clone, Copy)]
struct Slot {
    /// Minutes since local midnight.
    minute: i32,
    weekend: bool,
}

impl Slot {
    fn of(ts: Timestamp, zone: &TimeZone) -> Self {
        let local = ts.to_jiff().to_zoned(zone.clone());
        Self {
            minute: i32::from(local.hour()) * 60 + i32::from(local.minute()),
            weekend: local.weekday().to_monday_one_offset() >= 6,
        }
    }
}

/// The anomalies among `values` (sorted, one per instant) at instants in `[from, ..)`; values
/// before `from` serve as reference only (the caller passes the four weeks before it). One
/// anomaly per instant: a bound crossed first, else the robust z-score.
pub fn detect(values: &[(Timestamp, f64)], from: Timestamp, settings: &Settings) -> Vec<Anomaly> {
    // One zone conversion per value.
    let slots: Vec<Slot> = values
        .iter()
        .map(|&(ts, _)| Slot::of(ts, settings.zone))
        .collect();
    let profile = profile_by_slot(values, &slots);
    let stuck = stuck_mask(values, settings);
    let innovations = innovations(values, &slots, profile, &stuck, settings.step);
    let method = if profile == Profile::None {
        Method::RobustZ
    } else {
        Method::RobustZSeasonal
    };
    let first = values.partition_point(|&(ts, _)| ts < from);
    let mut out: Vec<Anomaly> = Vec::new();
    let mut reference = Vec::new();
    let mut levels = Vec::new();
    for i in first..values.len() {
        let (ts, value) = values[i];
        if let Some(a) = settings.bounds.and_then(|b| beyond(ts, value, b)) {
            out.push(a);
            continue;
        }
        let Some(innovation) = innovations[i] else {
            continue;
        };
        if values[0].0.epoch() > ts.epoch() - MIN_HISTORY_SECONDS {
            continue;
        }
        let week_start = values.partition_point(|&(t, _)| t.epoch() < ts.epoch() - SCALE_SECONDS);
        levels.clear();
        levels.extend((week_start..i).map(|j| values[j].1.abs()));
        if levels.is_empty() || median_of(&mut levels) == 0.0 {
            // Intermittent (rain): bursts are what it does.
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
        reference.clear();
        match profile {
            Profile::None => {
                reference.extend(innovations[week_start..i].iter().flatten());
            }
            Profile::Daily | Profile::Weekly => {
                let days = season_days(profile);
                let oldest =
                    values.partition_point(|&(t, _)| t.epoch() < ts.epoch() - days * RECENT);
                reference.extend((oldest..i).filter_map(|j| {
                    let near = circular_distance(slots[j].minute, slots[i].minute) <= SCALE_SPREAD;
                    let same_kind =
                        profile == Profile::Daily || slots[j].weekend == slots[i].weekend;
                    innovations[j].filter(|_| near && same_kind)
                }));
            }
        }
        if let Some((usual, z)) = robust_z(&mut reference, innovation, settings.min_points, floor)
            && let Some(severity) = Severity::of(z)
        {
            out.push(Anomaly {
                ts,
                value,
                expected: value - innovation + usual,
                deviation: z,
                method,
                severity,
            });
        }
    }
    out
}

fn season_days(profile: Profile) -> i64 {
    if profile == Profile::Weekly {
        WEEKLY_SEASON_DAYS
    } else {
        SEASON_DAYS
    }
}

/// Minutes between two times of day, across midnight.
fn circular_distance(a: i32, b: i32) -> i32 {
    let d = (a - b).rem_euclid(24 * 60);
    d.min(24 * 60 - d)
}

/// Each value less what was expected of it: its time of day's usual level (none before enough
/// days of that kind are there) and the level its residuals kept over the last hours (none when
/// fewer than two readings are there: after a gap nothing says where the series stood). Stuck
/// readings have none and are no part of any level.
fn innovations(
    values: &[(Timestamp, f64)],
    slots: &[Slot],
    profile: Profile,
    stuck: &[bool],
    step: Step,
) -> Vec<Option<f64>> {
    let residuals: Vec<Option<f64>> = match profile {
        Profile::None => values.iter().map(|&(_, v)| Some(v)).collect(),
        Profile::Daily | Profile::Weekly => seasonal_baselines(values, slots, profile)
            .into_iter()
            .zip(values)
            .map(|(baseline, &(_, v))| baseline.map(|b| v - b))
            .collect(),
    };
    let residual = |j: usize| residuals[j].filter(|_| !stuck[j]);
    let window = LEVEL_SECONDS.max(LEVEL_STEPS * step.seconds());
    let mut recent = Vec::new();
    (0..values.len())
        .map(|i| {
            let r = residual(i)?;
            let start = values.partition_point(|&(t, _)| t.epoch() < values[i].0.epoch() - window);
            recent.clear();
            recent.extend((start..i).filter_map(residual));
            (recent.len() >= 2).then(|| r - median_of(&mut recent))
        })
        .collect()
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

/// Each value's usual level for its local time of day: the median of that exact time of day on
/// the earlier days of the reference weeks (of the same kind, weekday or weekend, where the
/// series has a weekly profile), when at least [`SEASON_MIN`] of them are there. Exact: the
/// median of a spread of times would blunt every rush-hour peak.
fn seasonal_baselines(
    values: &[(Timestamp, f64)],
    slots: &[Slot],
    profile: Profile,
) -> Vec<Option<f64>> {
    let days = season_days(profile);
    // (minute, weekend) → indices in time order.
    let mut by_slot: std::collections::HashMap<(i32, bool), Vec<usize>> = Default::default();
    let mut same = Vec::new();
    values
        .iter()
        .enumerate()
        .map(|(i, &(ts, _))| {
            let kind = profile == Profile::Weekly && slots[i].weekend;
            let earlier = by_slot.entry((slots[i].minute, kind)).or_default();
            let oldest = ts.epoch() - days * RECENT;
            let from = earlier.partition_point(|&j| values[j].0.epoch() < oldest);
            same.clear();
            same.extend(earlier[from..].iter().map(|&j| values[j].1));
            earlier.push(i);
            (same.len() >= SEASON_MIN).then(|| median_of(&mut same))
        })
        .collect()
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

/// What of its calendar a series follows. It has a daily profile when the mean by local hour of
/// day explains at least half of its variance (and it spans at least two days), and a weekly
/// one besides when telling weekdays from weekends takes away at least a quarter of what the
/// hours leave (traffic and prices: about 0.8; weather and the water network: under 0.03).
pub fn profile(values: &[(Timestamp, f64)], zone: &TimeZone) -> Profile {
    let slots: Vec<Slot> = values.iter().map(|&(ts, _)| Slot::of(ts, zone)).collect();
    profile_by_slot(values, &slots)
}

fn profile_by_slot(values: &[(Timestamp, f64)], slots: &[Slot]) -> Profile {
    if values.len() < 2 || values[values.len() - 1].0.epoch() - values[0].0.epoch() < 2 * RECENT {
        return Profile::None;
    }
    let n = values.len() as f64;
    let mean = values.iter().map(|&(_, v)| v).sum::<f64>() / n;
    let all: f64 = values.iter().map(|&(_, v)| (v - mean).powi(2)).sum();
    // Sum of squares left around the mean of each group (`group` in 0..48).
    let within = |group: &dyn Fn(Slot) -> usize| {
        let mut sums = [(0.0f64, 0u32); 48];
        for (&(_, v), &slot) in values.iter().zip(slots) {
            let g = &mut sums[group(slot)];
            g.0 += v;
            g.1 += 1;
        }
        values
            .iter()
            .zip(slots)
            .map(|(&(_, v), &slot)| {
                let (sum, count) = sums[group(slot)];
                (v - sum / f64::from(count)).powi(2)
            })
            .sum::<f64>()
    };
    let hour = |s: Slot| (s.minute / 60) as usize;
    let by_hour = within(&hour);
    if all <= 0.0 || 1.0 - by_hour / all < 0.5 {
        return Profile::None;
    }
    let by_kind = within(&|s: Slot| hour(s) + 24 * usize::from(s.weekend));
    if by_hour > 0.0 && (by_hour - by_kind) / by_hour >= 0.25 {
        Profile::Weekly
    } else {
        Profile::Daily
    }
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
        assert_eq!(profile(&values, &zone), Profile::Daily);
        assert_eq!(profile(&noisy(96 * 20, |_| 5.0), &zone), Profile::None);
        // At the daily trough, 18 L/s would be ordinary at noon but is far off for the hour.
        let trough = 96 * 18 + 72;
        values[trough].1 = daily(trough) + 6.0;
        // A meter good to 2 %: a reading 0.8 L/s off in 10 is within it, however rare.
        let settings = Settings {
            materiality: 0.02,
            ..settings(&zone)
        };
        let found = detect(&values, values[96 * 15].0, &settings);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].ts, found[0].method),
            (values[trough].0, Method::RobustZSeasonal)
        );
    }

    /// Quarter-hourly traffic from `noisy`'s start (a Sunday, 15:00 UTC): a morning and an
    /// evening rush on weekdays, a low midday hump at weekends.
    fn traffic(i: usize) -> f64 {
        let quarter = 60 + i; // since the first Sunday's midnight
        let weekend = (6 + quarter / 96) % 7 >= 5;
        let hour = (quarter % 96) as f64 / 4.0;
        let rush = |centre: f64, width: f64| (-(hour - centre).powi(2) / width).exp();
        if weekend {
            100.0 + 300.0 * rush(13.0, 12.0)
        } else {
            80.0 + 800.0 * rush(8.5, 1.5) + 600.0 * rush(18.5, 2.5)
        }
    }

    #[test]
    fn weekends_are_compared_with_weekends() {
        let zone = utc();
        let weeks = 96 * 7;
        let mut values = noisy(6 * weeks, traffic);
        assert_eq!(profile(&values, &zone), Profile::Weekly);
        let from = values[4 * weeks].0;
        let settings = Settings {
            materiality: 0.05,
            ..settings(&zone)
        };
        // Two ordinary weeks, weekends included: nothing to say.
        let found = detect(&values, from, &settings);
        assert!(found.is_empty(), "{found:?}");
        // A weekday morning rush at a weekend's level is news.
        let monday_rush = 4 * weeks + 96 + 34 - 60; // Monday 08:30
        assert!(traffic(monday_rush) > 800.0);
        values[monday_rush].1 = traffic(monday_rush - 2 * 96) + 0.3; // Saturday's 08:30
        let found = detect(&values, from, &settings);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].ts, found[0].method, found[0].severity),
            (
                values[monday_rush].0,
                Method::RobustZSeasonal,
                Severity::Critical
            )
        );
    }

    #[test]
    fn a_slow_drift_is_weather_and_a_jump_is_news() {
        let zone = utc();
        // Pressure wandering 16 hPa over four days, read to a tenth.
        let drift = |i: usize| 1_016.0 + 8.0 * (i as f64 / 384.0 * std::f64::consts::TAU).sin();
        let mut values = noisy(96 * 21, drift);
        for v in &mut values {
            v.1 = (v.1 * 10.0).round() / 10.0;
        }
        assert_eq!(profile(&values, &zone), Profile::None);
        let from = values[96 * 14].0;
        let found = detect(&values, from, &settings(&zone));
        assert!(found.is_empty(), "{found:?}");
        let jump = 96 * 17 + 40;
        values[jump].1 += 4.0;
        let found = detect(&values, from, &settings(&zone));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].ts, found[0].method),
            (values[jump].0, Method::RobustZ)
        );
        assert!(
            (found[0].expected - drift(jump)).abs() < 1.0,
            "{:?}",
            found[0]
        );
    }

    #[test]
    fn a_series_a_day_old_is_not_judged_yet() {
        let zone = utc();
        let mut values = noisy(96 * 3, |_| 50.0);
        values[60].1 = 58.0;
        values[250].1 = 58.0;
        let found = detect(&values, values[0].0, &settings(&zone));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].ts, values[250].0);
    }

    #[test]
    fn rain_is_not_an_anomaly() {
        let zone = utc();
        let mut rng = fastrand::Rng::with_seed(11);
        // Dry mostly; a shower of a few hours every few days, up to 6 mm an hour.
        let values: Vec<_> = (0..96 * 30)
            .map(|i| {
                let ts = Timestamp::from_epoch(1_750_000_000 + i * 900);
                let shower = (i / 4) % 90 < 5;
                let mm = if shower {
                    (rng.f64() * 60.0).round() / 10.0
                } else {
                    0.0
                };
                (ts, mm)
            })
            .collect();
        let found = detect(&values, values[96 * 14].0, &settings(&zone));
        assert!(found.is_empty(), "{found:?}");
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
