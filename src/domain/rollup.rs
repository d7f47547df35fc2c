//! Daily rollups: what rotation keeps of raw values before it drops them. One row per series and
//! local calendar day (the location's time zone, so a daylight-saving day has 23 or 25 hours):
//! count, mean, min, max, sum, and the first and last values (a counter's daily delta is
//! `last − first`). Pure: values in, rows out.

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::time::Timestamp;

#[derive(Clone, Debug, PartialEq)]
pub struct DailyRollup {
    pub day: Date,
    pub count: u64,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    pub sum: f64,
    pub first: f64,
    pub last: f64,
}

/// The daily rollups of `values` (sorted by time) in `zone`.
pub fn daily(values: &[(Timestamp, f64)], zone: &TimeZone) -> Vec<DailyRollup> {
    let mut days: BTreeMap<Date, DailyRollup> = BTreeMap::new();
    for &(ts, value) in values {
        let day = ts.to_jiff().to_zoned(zone.clone()).date();
        let row = days.entry(day).or_insert(DailyRollup {
            day,
            count: 0,
            mean: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            sum: 0.0,
            first: value,
            last: value,
        });
        row.count += 1;
        row.sum += value;
        row.min = row.min.min(value);
        row.max = row.max.max(value);
        row.last = value;
    }
    days.into_values()
        .map(|mut row| {
            row.mean = row.sum / row.count as f64;
            row
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_local_and_daylight_saving_days_have_their_own_length() {
        let zone = TimeZone::get("Europe/Madrid").unwrap();
        // 2025-10-26 in Madrid runs from 2025-10-25T22:00Z to 2025-10-26T23:00Z: 25 hours.
        let start = Timestamp::from_jiff("2025-10-25T22:00:00Z".parse().unwrap());
        let values: Vec<_> = (0..27).map(|h| (start.plus(h * 3_600), h as f64)).collect();
        let rows = daily(&values, &zone);
        assert_eq!(rows.len(), 2);
        let autumn = &rows[0];
        assert_eq!(autumn.day.to_string(), "2025-10-26");
        assert_eq!((autumn.count, autumn.first, autumn.last), (25, 0.0, 24.0));
        assert_eq!(
            (autumn.min, autumn.max, autumn.sum, autumn.mean),
            (0.0, 24.0, 300.0, 12.0)
        );
        assert_eq!(
            (rows[1].day.to_string().as_str(), rows[1].count),
            ("2025-10-27", 2)
        );
    }
}
