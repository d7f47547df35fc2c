//! Cron expressions (`minute hour day-of-month month day-of-week`, with `*`, lists, ranges and
//! steps) evaluated in a time zone, daylight saving included: "02:30 on Sunday" means 02:30 local
//! on Sunday. A local time that does not exist (the spring-forward hour) does not fire that day; a
//! local time that happens twice (the autumn hour) fires once, at its first occurrence — unless the
//! hour field is `*`, when the job keeps its pace through both passes (an every-15-minutes ingest
//! does not skip an hour). As in classic cron, when both day-of-month and day-of-week are
//! restricted, either matching will do.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, TimeZone};

use super::time::Timestamp;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    minutes: Vec<u8>,
    hours: Vec<u8>,
    days: Vec<u8>,
    months: Vec<u8>,
    weekdays: Vec<u8>,
    any_day: bool,
    any_weekday: bool,
    any_hour: bool,
    text: String,
}

/// One field's allowed values.
fn field(text: &str, min: u8, max: u8, name: &str) -> Result<Vec<u8>, String> {
    let mut values = Vec::new();
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (
                range,
                step.parse::<u8>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("{name}: bad step in `{part}`"))?,
            ),
            None => (part, 1),
        };
        let (low, high) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let a: u8 = a
                .parse()
                .map_err(|_| format!("{name}: `{part}` is not a range"))?;
            let b: u8 = b
                .parse()
                .map_err(|_| format!("{name}: `{part}` is not a range"))?;
            (a, b)
        } else {
            let v: u8 = range
                .parse()
                .map_err(|_| format!("{name}: `{part}` is not a number"))?;
            (v, if part.contains('/') { max } else { v })
        };
        if low < min || high > max || low > high {
            return Err(format!("{name}: `{part}` is outside {min}–{max}"));
        }
        values.extend((low..=high).step_by(step as usize));
    }
    values.sort_unstable();
    values.dedup();
    Ok(values)
}

impl Cron {
    pub fn parse(text: &str) -> Result<Self, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = fields[..] else {
            return Err(format!(
                "`{text}` needs five fields: minute hour day-of-month month day-of-week"
            ));
        };
        let mut weekdays = field(weekday, 0, 7, "day-of-week")?;
        // 7 is Sunday too.
        if weekdays.contains(&7) {
            weekdays.retain(|d| *d != 7);
            weekdays.push(0);
            weekdays.sort_unstable();
            weekdays.dedup();
        }
        Ok(Self {
            minutes: field(minute, 0, 59, "minute")?,
            hours: field(hour, 0, 23, "hour")?,
            days: field(day, 1, 31, "day-of-month")?,
            months: field(month, 1, 12, "month")?,
            weekdays,
            any_day: day == "*",
            any_hour: hour == "*" || hour.starts_with("*/"),
            any_weekday: weekday == "*",
            text: text.to_owned(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn day_matches(&self, date: Date) -> bool {
        let by_day = self.days.contains(&(date.day() as u8));
        let by_weekday = self
            .weekdays
            .contains(&(date.weekday().to_sunday_zero_offset() as u8));
        let month = self.months.contains(&(date.month() as u8));
        month
            && match (self.any_day, self.any_weekday) {
                (true, true) => true,
                (false, true) => by_day,
                (true, false) => by_weekday,
                (false, false) => by_day || by_weekday,
            }
    }

    /// The first instant strictly after `after` at which this expression fires in `zone`.
    pub fn next_after(&self, after: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        let local = after.to_jiff().to_zoned(zone.clone()).datetime();
        let mut date = local.date();
        // Eight years cover every day-of-month/weekday/month combination that can ever match.
        for _ in 0..(366 * 8) {
            if self.day_matches(date) {
                let mut soonest: Option<Timestamp> = None;
                for &hour in &self.hours {
                    for &minute in &self.minutes {
                        let civil = DateTime::from_parts(
                            date,
                            Time::new(hour as i8, minute as i8, 0, 0).ok()?,
                        );
                        for instant in self.occurrences(civil, zone) {
                            if instant > after && soonest.is_none_or(|s| instant < s) {
                                soonest = Some(instant);
                            }
                        }
                    }
                }
                if soonest.is_some() {
                    return soonest;
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    /// The instants a local time stands for: none in the spring gap, the first of the two in
    /// the autumn fold (both when the hour field is `*`).
    fn occurrences(&self, civil: DateTime, zone: &TimeZone) -> Vec<Timestamp> {
        let offsets = match zone.to_ambiguous_timestamp(civil).offset() {
            AmbiguousOffset::Unambiguous { offset } => vec![offset],
            AmbiguousOffset::Fold { before, after } if self.any_hour => vec![before, after],
            AmbiguousOffset::Fold { before, .. } => vec![before],
            AmbiguousOffset::Gap { .. } => vec![],
        };
        offsets
            .into_iter()
            .filter_map(|offset| civil.to_zoned(TimeZone::fixed(offset)).ok())
            .map(|zoned| Timestamp::from_jiff(zoned.timestamp()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> Timestamp {
        Timestamp::from_jiff(s.parse().unwrap())
    }

    fn madrid() -> TimeZone {
        TimeZone::get("Europe/Madrid").unwrap()
    }

    #[test]
    fn parses_lists_ranges_and_steps_and_refuses_nonsense() {
        let every_quarter = Cron::parse("*/15 * * * *").unwrap();
        assert_eq!(every_quarter.minutes, [0, 15, 30, 45]);
        assert_eq!(
            Cron::parse("0 8-10,14 * * 1-5").unwrap().hours,
            [8, 9, 10, 14]
        );
        assert_eq!(
            Cron::parse("0 2 * * 7").unwrap().weekdays,
            [0],
            "7 is Sunday"
        );
        for bad in [
            "* * * *",
            "60 * * * *",
            "*/0 * * * *",
            "0 25 * * *",
            "a * * * *",
            "5-1 * * * *",
        ] {
            assert!(Cron::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fires_at_local_times_across_daylight_saving() {
        let zone = madrid();
        // Daily at 01:00 local: 00:00Z in winter, 23:00Z the day before in summer.
        let daily = Cron::parse("0 1 * * *").unwrap();
        assert_eq!(
            daily.next_after(utc("2025-03-29T12:00:00Z"), &zone),
            Some(utc("2025-03-30T00:00:00Z"))
        );
        assert_eq!(
            daily.next_after(utc("2025-03-30T12:00:00Z"), &zone),
            Some(utc("2025-03-30T23:00:00Z"))
        );
        // 02:30 does not exist on 2025-03-30 in Madrid: that day is skipped.
        let at_0230 = Cron::parse("30 2 * * *").unwrap();
        assert_eq!(
            at_0230.next_after(utc("2025-03-29T12:00:00Z"), &zone),
            Some(utc("2025-03-31T00:30:00Z"))
        );
        // 02:30 happens twice on 2025-10-26: it fires once, at the first (CEST) one.
        let first = at_0230
            .next_after(utc("2025-10-25T12:00:00Z"), &zone)
            .unwrap();
        assert_eq!(first, utc("2025-10-26T00:30:00Z"));
        assert_eq!(
            at_0230.next_after(first, &zone),
            Some(utc("2025-10-27T01:30:00Z"))
        );
        // Monthly rotation, 1st at 02:00 local.
        let monthly = Cron::parse("0 2 1 * *").unwrap();
        assert_eq!(
            monthly.next_after(utc("2025-10-15T00:00:00Z"), &zone),
            Some(utc("2025-11-01T01:00:00Z"))
        );
        // "Sunday" is Sunday in Madrid, whatever day it is in UTC.
        let sunday_night = Cron::parse("30 0 * * 0").unwrap();
        let next = sunday_night
            .next_after(utc("2025-07-01T00:00:00Z"), &zone)
            .unwrap();
        assert_eq!(
            next,
            utc("2025-07-05T22:30:00Z"),
            "00:30 Sunday 6 July CEST is Saturday in UTC"
        );
        // Every 15 minutes keeps its pace through the autumn change: 02:45 CEST, then 02:00 CET.
        let quarter = Cron::parse("*/15 * * * *").unwrap();
        let after_first_pass = utc("2025-10-26T00:45:00Z");
        assert_eq!(
            quarter.next_after(after_first_pass, &zone),
            Some(utc("2025-10-26T01:00:00Z"))
        );
        let mut at = utc("2025-10-25T22:00:00Z");
        let mut fired = 0;
        while at < utc("2025-10-26T23:00:00Z") {
            at = quarter.next_after(at, &zone).unwrap();
            fired += 1;
        }
        assert_eq!(fired, 25 * 4, "the 25-hour day has a hundred quarter hours");
    }
}
