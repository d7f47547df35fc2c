//! Time as plain values: UTC instants in epoch seconds, fixed steps, half-open ranges and the
//! grids of instants that "should exist". Owns calendar arithmetic in UTC; it never reads the clock
//! except through [`Timestamp::now`], which only the CLI, the scheduler and request handlers call.

use std::fmt;

use jiff::{ToSpan, tz::TimeZone};

/// A UTC instant with second precision, stored as epoch seconds everywhere (store, cache, wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// A fixed sampling interval in seconds (15 minutes, an hour, a day).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Step(i64);

/// A half-open interval `[start, end)` of instants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimeRange {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// The aligned instants of a range at a step: what a complete series holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grid {
    pub range: TimeRange,
    pub step: Step,
}

impl Timestamp {
    pub const fn from_epoch(seconds: i64) -> Self {
        Self(seconds)
    }

    pub const fn epoch(self) -> i64 {
        self.0
    }

    /// The current instant; call it only at the edges (CLI, scheduler, handlers) and pass it down.
    #[allow(clippy::disallowed_methods, reason = "the one clock read")]
    pub fn now() -> Self {
        Self(jiff::Timestamp::now().as_second())
    }

    pub fn to_jiff(self) -> jiff::Timestamp {
        // Every i64 we store came from a valid jiff timestamp or from arithmetic bounded by one.
        jiff::Timestamp::from_second(self.0).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }

    pub fn from_jiff(ts: jiff::Timestamp) -> Self {
        Self(ts.as_second())
    }

    /// A civil date-time written without an offset, read as UTC (`None` outside jiff's range).
    pub fn from_utc_civil(civil: jiff::civil::DateTime) -> Option<Self> {
        civil
            .to_zoned(TimeZone::UTC)
            .ok()
            .map(|z| Self::from_jiff(z.timestamp()))
    }

    /// 00:00 UTC of `date`: where daily values are stamped. (Only a date in the first two days
    /// of year −9999 lies outside jiff's instants; it maps to the epoch, as before this helper.)
    pub fn utc_midnight(date: jiff::civil::Date) -> Self {
        Self::from_utc_civil(date.to_datetime(jiff::civil::Time::midnight())).unwrap_or(Self(0))
    }

    /// The latest aligned instant at or before `self`.
    pub fn floor(self, step: Step) -> Self {
        Self(self.0 - self.0.rem_euclid(step.0))
    }

    /// The earliest aligned instant at or after `self`.
    pub fn ceil(self, step: Step) -> Self {
        let floor = self.floor(step);
        if floor == self {
            self
        } else {
            Self(floor.0 + step.0)
        }
    }

    pub fn is_aligned(self, step: Step) -> bool {
        self.0.rem_euclid(step.0) == 0
    }

    pub const fn plus(self, seconds: i64) -> Self {
        Self(self.0 + seconds)
    }

    /// The same instant `months` calendar months earlier, in UTC (clamped to month end).
    pub fn months_before(self, months: u32) -> Self {
        let zoned = self.to_jiff().to_zoned(TimeZone::UTC);
        match zoned.checked_sub(i64::from(months).months()) {
            Ok(earlier) => Self::from_jiff(earlier.timestamp()),
            Err(_) => Self(i64::MIN / 2),
        }
    }

    /// The first instant of the UTC month after the one holding `self`.
    pub fn next_month_start(self) -> Self {
        let date = self.to_jiff().to_zoned(TimeZone::UTC).date();
        let first = date.first_of_month();
        let next = first.checked_add(1.month()).unwrap_or(first);
        Self(
            next.to_zoned(TimeZone::UTC)
                .map(|z| z.timestamp().as_second())
                .unwrap_or(i64::MAX / 2),
        )
    }

    /// The UTC calendar date, as sent to upstream APIs that take `YYYY-MM-DD`.
    pub fn utc_date(self) -> jiff::civil::Date {
        self.to_jiff().to_zoned(TimeZone::UTC).date()
    }
}

/// Why a date or date-time parameter names no instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateError {
    /// Not an ISO 8601 date or date-time.
    Invalid,
    /// Well formed, but beyond what the calendar arithmetic carries (the end of year 9999).
    OutOfRange,
}

impl Timestamp {
    /// The instant a date parameter names at a place: an instant with `Z` or an offset is
    /// exact; a date-time without an offset is `zone`'s local time; a plain date is the first
    /// second of that local day, or with `end` its last second (so a range's plain end date
    /// includes the whole day).
    pub fn parse_in(text: &str, end: bool, zone: &TimeZone) -> Result<Self, DateError> {
        let text = text.trim();
        if let Ok(ts) = text.parse::<jiff::Timestamp>() {
            return Ok(Self::from_jiff(ts));
        }
        if let Ok(dt) = text.parse::<jiff::civil::DateTime>()
            && text.len() > 10
        {
            return dt
                .to_zoned(zone.clone())
                .map(|z| Self::from_jiff(z.timestamp()))
                .map_err(|_| DateError::OutOfRange);
        }
        let date = text
            .parse::<jiff::civil::Date>()
            .map_err(|_| DateError::Invalid)?;
        let day = match end {
            true => date.tomorrow().map_err(|_| DateError::OutOfRange)?,
            false => date,
        };
        let start = day
            .to_zoned(zone.clone())
            .map_err(|_| DateError::OutOfRange)?;
        let ts = Self::from_jiff(start.timestamp());
        Ok(if end { ts.plus(-1) } else { ts })
    }

    /// The `Display` form written into `buf` without the formatting machinery, for years 0 to
    /// 9999 (answers print tens of thousands of these); `None` for other years.
    pub fn rfc3339(self, buf: &mut [u8; 25]) -> Option<&str> {
        let (days, second) = (self.0.div_euclid(86_400), self.0.rem_euclid(86_400));
        let (year, month, day) = civil_from_days(days);
        if !(0..=9_999).contains(&year) {
            return None;
        }
        *buf = *b"0000-00-00T00:00:00+00:00";
        digits(buf, 0, 4, year as u32);
        digits(buf, 5, 2, month);
        digits(buf, 8, 2, day);
        clock(buf, second);
        std::str::from_utf8(buf).ok()
    }
}

/// `n` in decimal into `buf[at..at + width]`, zero-padded.
fn digits(buf: &mut [u8; 25], at: usize, width: usize, mut n: u32) {
    for i in (at..at + width).rev() {
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// The time of day (seconds since midnight) into an RFC 3339 text.
fn clock(buf: &mut [u8; 25], second: i64) {
    digits(buf, 11, 2, (second / 3_600) as u32);
    digits(buf, 14, 2, (second / 60 % 60) as u32);
    digits(buf, 17, 2, (second % 60) as u32);
}

/// [`Timestamp::rfc3339`] of instants in order, the date worked out again only when the day
/// changes (an answer's rows are mostly the same day's hours).
#[derive(Default)]
pub struct Rfc3339Days {
    day: Option<i64>,
    buf: [u8; 25],
}

impl Rfc3339Days {
    /// The text of `ts`; `None` for years outside 0 to 9999.
    pub fn format(&mut self, ts: Timestamp) -> Option<&[u8; 25]> {
        let (day, second) = (ts.0.div_euclid(86_400), ts.0.rem_euclid(86_400));
        if self.day == Some(day) {
            clock(&mut self.buf, second);
        } else {
            self.day = None;
            ts.rfc3339(&mut self.buf)?;
            self.day = Some(day);
        }
        Some(&self.buf)
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with an explicit `+00:00`, the form Python's `isoformat()` gives the seed.
    /// Computed directly from the epoch.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(text) = self.rfc3339(&mut [0; 25]) {
            return f.write_str(text);
        }
        let (days, second) = (self.0.div_euclid(86_400), self.0.rem_euclid(86_400));
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}+00:00",
            second / 3600,
            second / 60 % 60,
            second % 60
        )
    }
}

/// The proleptic Gregorian (year, month, day) of a count of days since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Serialized as its RFC 3339 text (the `Display` form).
impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.rfc3339(&mut [0; 25]) {
            Some(text) => serializer.serialize_str(text),
            None => serializer.collect_str(self),
        }
    }
}

/// From RFC 3339 text (what [`Timestamp`] serializes to).
impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse::<jiff::Timestamp>()
            .map(Timestamp::from_jiff)
            .map_err(|e| {
                serde::de::Error::custom(format!("`{text}` is not an RFC 3339 instant: {e}"))
            })
    }
}

impl Step {
    pub const QUARTER_HOUR: Step = Step(900);
    pub const HOUR: Step = Step(3_600);
    pub const DAY: Step = Step(86_400);

    /// A step of `seconds`, which must be positive.
    pub const fn from_seconds(seconds: i64) -> Option<Self> {
        if seconds > 0 {
            Some(Self(seconds))
        } else {
            None
        }
    }

    pub const fn seconds(self) -> i64 {
        self.0
    }
}

impl TimeRange {
    /// A range, or `None` when `end` is before `start` (an empty range is allowed).
    pub fn new(start: Timestamp, end: Timestamp) -> Option<Self> {
        (start <= end).then_some(Self { start, end })
    }

    pub fn is_empty(self) -> bool {
        self.start >= self.end
    }

    pub fn contains(self, ts: Timestamp) -> bool {
        self.start <= ts && ts < self.end
    }

    pub fn seconds(self) -> i64 {
        (self.end.0 - self.start.0).max(0)
    }

    /// The overlap of two ranges, `None` when they do not overlap.
    pub fn intersect(self, other: TimeRange) -> Option<TimeRange> {
        let start = self.start.max(other.start);
        let end = self.end.min(other.end);
        (start < end).then_some(TimeRange { start, end })
    }

    /// The range cut at UTC month boundaries, in order: the unit of atomic, resumable loading.
    pub fn split_by_month(self) -> Vec<TimeRange> {
        let mut parts = Vec::new();
        let mut start = self.start;
        while start < self.end {
            let end = start.next_month_start().min(self.end);
            parts.push(TimeRange { start, end });
            start = end;
        }
        parts
    }
}

impl Grid {
    pub fn new(range: TimeRange, step: Step) -> Self {
        Self { range, step }
    }

    /// The first aligned instant inside the range.
    pub fn first(self) -> Timestamp {
        self.range.start.ceil(self.step)
    }

    /// How many aligned instants the range holds.
    pub fn len(self) -> u64 {
        let first = self.first();
        if first >= self.range.end {
            return 0;
        }
        ((self.range.end.0 - 1 - first.0) / self.step.0 + 1) as u64
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    pub fn contains(self, ts: Timestamp) -> bool {
        self.range.contains(ts) && ts.is_aligned(self.step)
    }

    pub fn iter(self) -> impl Iterator<Item = Timestamp> {
        let step = self.step.0;
        let end = self.range.end;
        std::iter::successors(Some(self.first()), move |t| Some(t.plus(step)))
            .take_while(move |t| *t < end)
    }
}

/// The step of a frame's grid (and of a model's series): hours, or the location's local days.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    Hour,
    /// The location's local days.
    Day,
}

impl Resolution {
    pub const fn as_str(self) -> &'static str {
        match self {
            Resolution::Hour => "hour",
            Resolution::Day => "day",
        }
    }

    /// Its length in seconds (a local day's is nominal: 23 or 25 h across a change of offset).
    pub const fn seconds(self) -> i64 {
        match self {
            Resolution::Hour => 3_600,
            Resolution::Day => 86_400,
        }
    }

    /// The start of the step `t` falls in: its hour, or its local day in `zone`.
    pub fn floor(self, t: Timestamp, zone: &TimeZone) -> Timestamp {
        match self {
            Resolution::Hour => t.floor(Step::HOUR),
            Resolution::Day => t
                .to_jiff()
                .to_zoned(zone.clone())
                .start_of_day()
                .map_or(t.floor(Step::DAY), |z| Timestamp::from_jiff(z.timestamp())),
        }
    }

    /// The starts of `n` steps from the one `from` falls in.
    pub fn starts(self, from: Timestamp, n: usize, zone: &TimeZone) -> Vec<Timestamp> {
        let first = self.floor(from, zone);
        match self {
            Resolution::Hour => (0..n as i64).map(|k| first.plus(k * 3_600)).collect(),
            Resolution::Day => {
                let date = first.to_jiff().to_zoned(zone.clone()).date();
                date.series(1.days())
                    .filter_map(|d| d.to_zoned(zone.clone()).ok())
                    .map(|z| Timestamp::from_jiff(z.timestamp()))
                    .take(n)
                    .collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn resolution_steps_follow_local_days() {
        let zone = TimeZone::get("Europe/Madrid").unwrap();
        // 2026-03-28 12:30 UTC: the next local days are 24, 23 (spring forward) and 24 h long.
        let t = Timestamp::from_epoch(1_774_701_000);
        let days = Resolution::Day.starts(t, 3, &zone);
        assert_eq!(days[0].epoch(), 1_774_652_400); // 2026-03-28T00:00+01:00
        assert_eq!(days[1].epoch() - days[0].epoch(), 86_400);
        assert_eq!(days[2].epoch() - days[1].epoch(), 82_800);
        let hours = Resolution::Hour.starts(t, 2, &zone);
        assert_eq!(
            hours,
            vec![
                Timestamp::from_epoch(1_774_699_200),
                Timestamp::from_epoch(1_774_702_800)
            ]
        );
    }

    #[test]
    fn texts_of_instants_in_order_match_display() {
        let mut days = super::Rfc3339Days::default();
        let instants = (-90_000i64..200_000).step_by(1_799).chain([
            -62_200_000_000,
            0,
            59,
            253_402_300_799,
            253_402_300_800,
            86_399,
            86_400,
        ]);
        for epoch in instants {
            let ts = super::Timestamp::from_epoch(epoch);
            let text = days
                .format(ts)
                .map(|b| String::from_utf8(b.to_vec()).unwrap());
            let display = ts.to_string();
            let in_range = display.len() == 25 && !display.starts_with('-'); // years 0 to 9999
            assert_eq!(text.as_deref(), in_range.then_some(&*display), "{epoch}");
        }
    }

    #[test]
    fn display_matches_jiff_across_eras() {
        for epoch in [
            -62_200_000_000i64, // in year -1: the formatting machinery's path
            -62_135_596_800,    // 0001-01-01
            -86_401,
            -1,
            0,
            951_782_400, // 2000-02-29
            1_711_846_799,
            1_735_689_600,
            4_102_444_799,
            253_402_128_000, // 9999-12-30, near the end of the range jiff takes
        ] {
            let ts = super::Timestamp::from_epoch(epoch);
            let civil = ts
                .to_jiff()
                .to_zoned(jiff::tz::TimeZone::UTC)
                .datetime()
                .strftime("%Y-%m-%dT%H:%M:%S+00:00")
                .to_string();
            assert_eq!(ts.to_string(), civil, "{epoch}");
        }
        let mut epoch = -5_000_000_000i64;
        while epoch < 5_000_000_000 {
            let ts = super::Timestamp::from_epoch(epoch);
            let civil = ts.to_jiff().to_zoned(jiff::tz::TimeZone::UTC).datetime();
            assert_eq!(
                ts.to_string(),
                format!("{}+00:00", civil.strftime("%Y-%m-%dT%H:%M:%S"))
            );
            epoch += 7_777_777;
        }
    }

    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::from_jiff(s.parse().unwrap())
    }

    #[test]
    fn floor_and_ceil_align_negative_and_positive_instants() {
        assert_eq!(Timestamp::from_epoch(3_599).floor(Step::HOUR).epoch(), 0);
        assert_eq!(Timestamp::from_epoch(-1).floor(Step::HOUR).epoch(), -3_600);
        assert_eq!(Timestamp::from_epoch(1).ceil(Step::HOUR).epoch(), 3_600);
        assert_eq!(Timestamp::from_epoch(3_600).ceil(Step::HOUR).epoch(), 3_600);
    }

    #[test]
    fn display_is_utc_iso_with_offset() {
        assert_eq!(
            ts("2024-03-31T01:00:00Z").to_string(),
            "2024-03-31T01:00:00+00:00"
        );
    }

    #[test]
    fn months_before_uses_the_calendar() {
        assert_eq!(
            ts("2026-11-22T10:00:00Z").months_before(24),
            ts("2024-11-22T10:00:00Z")
        );
        assert_eq!(
            ts("2026-03-31T00:00:00Z").months_before(1),
            ts("2026-02-28T00:00:00Z")
        );
    }

    #[test]
    fn split_by_month_cuts_at_utc_month_starts() {
        let range = TimeRange::new(ts("2024-01-15T00:00:00Z"), ts("2024-03-02T00:00:00Z")).unwrap();
        let parts = range.split_by_month();
        let bounds: Vec<_> = parts
            .iter()
            .map(|p| (p.start.to_string(), p.end.to_string()))
            .collect();
        assert_eq!(
            bounds,
            vec![
                (
                    "2024-01-15T00:00:00+00:00".into(),
                    "2024-02-01T00:00:00+00:00".into()
                ),
                (
                    "2024-02-01T00:00:00+00:00".into(),
                    "2024-03-01T00:00:00+00:00".into()
                ),
                (
                    "2024-03-01T00:00:00+00:00".into(),
                    "2024-03-02T00:00:00+00:00".into()
                ),
            ]
        );
    }

    #[test]
    fn grid_counts_aligned_instants_of_a_half_open_range() {
        let day = TimeRange::new(ts("2024-01-01T00:00:00Z"), ts("2024-01-02T00:00:00Z")).unwrap();
        assert_eq!(Grid::new(day, Step::HOUR).len(), 24);
        assert_eq!(Grid::new(day, Step::QUARTER_HOUR).len(), 96);
        let ragged =
            TimeRange::new(ts("2024-01-01T00:30:00Z"), ts("2024-01-01T03:00:01Z")).unwrap();
        assert_eq!(Grid::new(ragged, Step::HOUR).iter().count(), 3);
        assert_eq!(Grid::new(ragged, Step::HOUR).len(), 3);
        let empty = TimeRange::new(ts("2024-01-01T00:30:00Z"), ts("2024-01-01T00:45:00Z")).unwrap();
        assert!(Grid::new(empty, Step::HOUR).is_empty());
    }

    #[test]
    fn inverted_ranges_are_refused() {
        assert!(TimeRange::new(Timestamp::from_epoch(10), Timestamp::from_epoch(9)).is_none());
    }
}
