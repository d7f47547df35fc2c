//! Windowed metrics: a series' values summarised per 5 minutes, hour or day (the day in the
//! location's time zone, so daylight-saving days have 23 or 25 hours). Each window holds count,
//! mean, min, max and sample variance; the sum where the variable is an amount per interval; the
//! increase where it is a cumulative counter (differenced reading to reading, never summed); and
//! the count expected from the series' own step, so completeness is `count / expected`. Pure:
//! values in, rows out.

use jiff::tz::TimeZone;
use serde::Serialize;

use super::series::Aggregation;
use super::time::{Step, Timestamp};

/// The length of a window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Window {
    #[serde(rename = "5min")]
    FiveMinutes,
    #[serde(rename = "1hour")]
    Hour,
    #[serde(rename = "1day")]
    Day,
}

impl Window {
    pub const ALL: [Window; 3] = [Window::FiveMinutes, Window::Hour, Window::Day];

    /// The name the Abbanoa API and the store use.
    pub const fn as_str(self) -> &'static str {
        match self {
            Window::FiveMinutes => "5min",
            Window::Hour => "1hour",
            Window::Day => "1day",
        }
    }

    /// `5min`, `1hour`/`hour`, `1day`/`day`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "5min" => Some(Window::FiveMinutes),
            "1hour" | "hour" => Some(Window::Hour),
            "1day" | "day" => Some(Window::Day),
            _ => None,
        }
    }

    /// Whether windows of this length say anything about a series with `step`: a window
    /// shorter than the step would hold one value or none.
    pub fn applies_to(self, step: Step) -> bool {
        match self {
            Window::FiveMinutes => step.seconds() <= 300,
            Window::Hour => step.seconds() <= 3_600,
            Window::Day => step.seconds() <= 86_400,
        }
    }

    /// The window holding `ts`: `[start, end)`.
    pub fn bounds(self, ts: Timestamp, zone: &TimeZone) -> (Timestamp, Timestamp) {
        match self {
            Window::FiveMinutes => {
                let start = ts.floor(Step::from_seconds(300).expect("positive"));
                (start, start.plus(300))
            }
            Window::Hour => {
                let start = ts.floor(Step::HOUR);
                (start, start.plus(3_600))
            }
            Window::Day => {
                let zoned = ts.to_jiff().to_zoned(zone.clone());
                let start = zoned.start_of_day().expect("a day has a start");
                let end = zoned
                    .tomorrow()
                    .and_then(|t| t.start_of_day())
                    .expect("a day has an end");
                (
                    Timestamp::from_jiff(start.timestamp()),
                    Timestamp::from_jiff(end.timestamp()),
                )
            }
        }
    }
}

/// One window of one series.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WindowMetrics {
    pub window: Window,
    pub start: Timestamp,
    pub end: Timestamp,
    pub count: u32,
    /// Instants of the series' step inside the window.
    pub expected: u32,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    /// Sample variance; none under two values.
    pub variance: Option<f64>,
    /// The total, for amounts per interval (volume delivered, precipitation).
    pub sum: Option<f64>,
    /// The increase of a cumulative counter over the window: the differences between
    /// consecutive readings that end in it (from the reading before the window on), resets
    /// (a reading lower than the one before) left out.
    pub delta: Option<f64>,
    pub last: f64,
}

impl WindowMetrics {
    pub fn completeness(&self) -> f64 {
        if self.expected == 0 {
            0.0
        } else {
            (f64::from(self.count) / f64::from(self.expected)).min(1.0)
        }
    }
}

/// The windows of `values` (sorted by time, one per instant) that hold at least one value.
/// `before` is the reading just before the first value, when there is one: a counter's first
/// increase starts from it.
pub fn compute(
    values: &[(Timestamp, f64)],
    before: Option<(Timestamp, f64)>,
    step: Step,
    window: Window,
    zone: &TimeZone,
    aggregation: Aggregation,
) -> Vec<WindowMetrics> {
    let mut out: Vec<WindowMetrics> = Vec::new();
    let mut previous = before.map(|(_, v)| v);
    let mut current: Option<Accumulator> = None;
    for &(ts, value) in values {
        if current.as_ref().is_none_or(|c| ts >= c.end) {
            if let Some(done) = current.take() {
                out.push(done.finish(window, step, aggregation));
            }
            let (start, end) = window.bounds(ts, zone);
            current = Some(Accumulator::new(start, end));
        }
        let acc = current.as_mut().expect("set above");
        acc.add(value);
        if let Some(p) = previous
            && value >= p
        {
            acc.increase += value - p;
        }
        previous = Some(value);
    }
    if let Some(done) = current {
        out.push(done.finish(window, step, aggregation));
    }
    out
}

/// Instants of `step` (aligned on the epoch) in `[start, end)`.
pub fn expected(start: Timestamp, end: Timestamp, step: Step) -> u32 {
    let first = start.ceil(step).epoch();
    if first >= end.epoch() {
        return 0;
    }
    u32::try_from((end.epoch() - 1 - first) / step.seconds() + 1).unwrap_or(u32::MAX)
}

struct Accumulator {
    start: Timestamp,
    end: Timestamp,
    count: u32,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
    sum: f64,
    last: f64,
    increase: f64,
}

impl Accumulator {
    fn new(start: Timestamp, end: Timestamp) -> Self {
        Self {
            start,
            end,
            count: 0,
            mean: 0.0,
            m2: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            sum: 0.0,
            last: f64::NAN,
            increase: 0.0,
        }
    }

    /// Welford's update: stable for long windows of large values (meter readings).
    fn add(&mut self, value: f64) {
        self.count += 1;
        let d = value - self.mean;
        self.mean += d / f64::from(self.count);
        self.m2 += d * (value - self.mean);
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.sum += value;
        self.last = value;
    }

    fn finish(self, window: Window, step: Step, aggregation: Aggregation) -> WindowMetrics {
        WindowMetrics {
            window,
            start: self.start,
            end: self.end,
            count: self.count,
            expected: expected(self.start, self.end, step),
            mean: self.mean,
            min: self.min,
            max: self.max,
            variance: (self.count > 1).then(|| self.m2 / f64::from(self.count - 1)),
            sum: (aggregation == Aggregation::Sum).then_some(self.sum),
            delta: (aggregation == Aggregation::Counter).then_some(self.increase),
            last: self.last,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::from_jiff(s.parse().unwrap())
    }

    fn madrid() -> TimeZone {
        TimeZone::get("Europe/Madrid").unwrap()
    }

    #[test]
    fn hourly_windows_of_quarter_hour_readings() {
        let start = at("2025-07-17T00:00:00Z");
        let values: Vec<_> = [1.0, 2.0, 3.0, 4.0, 10.0, 20.0]
            .iter()
            .enumerate()
            .map(|(i, &v)| (start.plus(i as i64 * 900), v))
            .collect();
        let rows = compute(
            &values,
            None,
            Step::QUARTER_HOUR,
            Window::Hour,
            &madrid(),
            Aggregation::Sum,
        );
        assert_eq!(rows.len(), 2);
        let first = &rows[0];
        assert_eq!((first.count, first.expected), (4, 4));
        assert_eq!((first.mean, first.min, first.max), (2.5, 1.0, 4.0));
        assert_eq!(first.sum, Some(10.0));
        assert_eq!(first.delta, None);
        // sample variance of 1, 2, 3, 4
        assert!((first.variance.unwrap() - 5.0 / 3.0).abs() < 1e-12);
        assert_eq!((rows[1].count, rows[1].expected), (2, 4));
        assert_eq!(rows[1].completeness(), 0.5);
        assert_eq!(rows[1].last, 20.0);
    }

    #[test]
    fn a_counter_is_differenced_across_windows_and_resets_are_left_out() {
        let start = at("2025-07-17T00:00:00Z");
        // meter: 100 → 110 → 130 | 160 → 5 (reset) → 15
        let values: Vec<_> = [110.0, 130.0, 160.0, 5.0, 15.0]
            .iter()
            .enumerate()
            .map(|(i, &v)| (start.plus(i as i64 * 1_800), v))
            .collect();
        let rows = compute(
            &values,
            Some((start.plus(-1_800), 100.0)),
            Step::from_seconds(1_800).unwrap(),
            Window::Hour,
            &madrid(),
            Aggregation::Counter,
        );
        let deltas: Vec<_> = rows.iter().map(|r| r.delta.unwrap()).collect();
        assert_eq!(deltas, [30.0, 30.0, 10.0]);
        assert!(rows.iter().all(|r| r.sum.is_none()));
    }

    #[test]
    fn days_follow_the_local_calendar_and_daylight_saving() {
        // 2025-03-30 in Madrid has 23 hours, 2025-10-26 has 25.
        for (day, hours) in [("2025-03-30", 23), ("2025-10-26", 25), ("2025-07-01", 24)] {
            let (start, end) = Window::Day.bounds(
                Timestamp::from_jiff(
                    format!("{day}T12:00:00+02:00")
                        .parse::<jiff::Timestamp>()
                        .unwrap(),
                ),
                &madrid(),
            );
            assert_eq!((end.epoch() - start.epoch()) / 3_600, hours, "{day}");
            assert_eq!(expected(start, end, Step::QUARTER_HOUR), hours as u32 * 4);
        }
    }

    #[test]
    fn short_windows_apply_only_to_series_at_least_as_fine() {
        assert!(Window::FiveMinutes.applies_to(Step::from_seconds(300).unwrap()));
        assert!(!Window::FiveMinutes.applies_to(Step::QUARTER_HOUR));
        assert!(Window::Hour.applies_to(Step::QUARTER_HOUR));
        assert!(!Window::Hour.applies_to(Step::DAY));
        assert!(Window::Day.applies_to(Step::DAY));
        assert_eq!(Window::parse("1hour"), Some(Window::Hour));
        assert_eq!(Window::parse("week"), None);
    }
}
