//! Electricity-price features, one definition each:
//!
//! - the **2.0TD tariff period** of an hour (Spain's consumer access tariff, CNMC Circular
//!   3/2020, peninsular calendar): on working days P1 (peak) 10–14 h and 18–22 h, P2 (flat)
//!   8–10 h, 14–18 h and 22–24 h, P3 (valley) 0–8 h; Saturdays, Sundays, 6 January and the
//!   year's national holidays that are neither substitutable nor movable (Good Friday) are P3
//!   all day, as the holiday calendar says ([`Calendars::tariff_holiday`]). Hours are local
//!   (Europe/Madrid), so a daylight-saving day has 23 or 25 of them.
//! - per hour: the **price**, the **1 h trend** (price − previous hour's, when that hour is
//!   stored), the **24 h volatility** (standard deviation of the 24 hourly prices ending with
//!   this one, when all 24 are stored);
//! - per local day: the **cost index**, the day's mean price as a percentage of the mean of
//!   the 30 days before it (100 = as usual; none without a full previous month of prices).

use std::collections::BTreeMap;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use serde::Serialize;

use super::calendar::Calendars;
use super::time::Timestamp;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Period {
    P1,
    P2,
    P3,
}

/// The 2.0TD period of the hour starting at `ts`, in `zone` (the peninsula's Europe/Madrid).
pub fn period(ts: Timestamp, zone: &TimeZone, holidays: &Calendars) -> Period {
    let local = ts.to_jiff().to_zoned(zone.clone());
    let day = local.date();
    if matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) || holidays.tariff_holiday(day)
    {
        return Period::P3;
    }
    match local.hour() {
        0..=7 => Period::P3,
        10..=13 | 18..=21 => Period::P1,
        _ => Period::P2,
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HourFeatures {
    pub ts: Timestamp,
    pub price: f64,
    pub trend_1h: Option<f64>,
    pub volatility_24h: Option<f64>,
    pub period: Period,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DayIndex {
    pub day: Date,
    pub hours: u32,
    pub mean_price: f64,
    /// The day's mean as a percentage of the previous 30 days' mean.
    pub cost_index: Option<f64>,
}

/// Features of hourly `prices` (sorted, one per hour) at instants `>= from`; earlier prices
/// serve as history.
pub fn hourly(
    prices: &[(Timestamp, f64)],
    from: Timestamp,
    zone: &TimeZone,
    holidays: &Calendars,
) -> Vec<HourFeatures> {
    let first = prices.partition_point(|&(ts, _)| ts < from);
    (first..prices.len())
        .map(|i| {
            let (ts, price) = prices[i];
            let trend_1h = (i > 0 && prices[i - 1].0.epoch() == ts.epoch() - 3_600)
                .then(|| price - prices[i - 1].1);
            let volatility_24h = (i >= 23 && prices[i - 23].0.epoch() == ts.epoch() - 23 * 3_600)
                .then(|| std_dev(prices[i - 23..=i].iter().map(|p| p.1)));
            HourFeatures {
                ts,
                price,
                trend_1h,
                volatility_24h,
                period: period(ts, zone, holidays),
            }
        })
        .collect()
}

/// The cost index of each local day in `first..=last` that has prices.
pub fn daily_index(
    prices: &[(Timestamp, f64)],
    (first, last): (Date, Date),
    zone: &TimeZone,
) -> Vec<DayIndex> {
    let mut days: BTreeMap<Date, (f64, u32)> = BTreeMap::new();
    for &(ts, price) in prices {
        let day = ts.to_jiff().to_zoned(zone.clone()).date();
        let entry = days.entry(day).or_default();
        entry.0 += price;
        entry.1 += 1;
    }
    days.range(first..=last)
        .map(|(&day, &(sum, hours))| {
            let before = day.checked_sub(jiff::Span::new().days(30)).ok();
            let history: Vec<(f64, u32)> = before
                .map(|b| days.range(b..day).map(|(_, &v)| v).collect())
                .unwrap_or_default();
            let cost_index = (history.len() == 30).then(|| {
                let (s, n) = history
                    .iter()
                    .fold((0.0, 0), |(s, n), &(ds, dn)| (s + ds, n + dn));
                (sum / f64::from(hours)) / (s / f64::from(n)) * 100.0
            });
            DayIndex {
                day,
                hours,
                mean_price: sum / f64::from(hours),
                cost_index,
            }
        })
        .collect()
}

fn std_dev(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let n = values.clone().count() as f64;
    let mean = values.clone().sum::<f64>() / n;
    (values.map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn madrid() -> TimeZone {
        TimeZone::get("Europe/Madrid").unwrap()
    }

    fn local_hours(day: &str) -> Vec<(Timestamp, u8)> {
        let zone = madrid();
        let start = day.parse::<Date>().unwrap().to_zoned(zone.clone()).unwrap();
        let end = start.tomorrow().unwrap();
        let mut out = Vec::new();
        let mut t = start.timestamp();
        while t < end.timestamp() {
            out.push((
                Timestamp::from_jiff(t),
                t.to_zoned(zone.clone()).hour() as u8,
            ));
            t += jiff::SignedDuration::from_hours(1);
        }
        out
    }

    #[test]
    fn a_working_day_has_the_three_periods_at_their_hours() {
        let zone = madrid();
        let periods: Vec<Period> = local_hours("2025-11-19")
            .into_iter()
            .map(|(ts, _)| period(ts, &zone, &Calendars::embedded()))
            .collect();
        use Period::*;
        assert_eq!(
            periods,
            [
                P3, P3, P3, P3, P3, P3, P3, P3, P2, P2, P1, P1, P1, P1, P2, P2, P2, P2, P1, P1, P1,
                P1, P2, P2
            ]
        );
    }

    #[test]
    fn daylight_saving_days_keep_periods_on_local_hours() {
        let zone = madrid();
        // 2025-03-31 is a Monday after the spring change; 2025-10-27 a Monday after autumn's.
        // The change days themselves are Sundays (all P3): check the length and the hours.
        let spring = local_hours("2025-03-30");
        assert_eq!(spring.len(), 23);
        assert!(!spring.iter().any(|&(_, h)| h == 2));
        let autumn = local_hours("2025-10-26");
        assert_eq!(autumn.len(), 25);
        assert_eq!(autumn.iter().filter(|&&(_, h)| h == 2).count(), 2);
        assert!(
            autumn
                .iter()
                .all(|&(ts, _)| period(ts, &zone, &Calendars::embedded()) == Period::P3)
        );
        // A working day on which the change fell (2021-03-28 was a Sunday; use a weekday with
        // a shifted offset instead): 10:00 local is P1 both in winter and summer time.
        for day in ["2025-03-28", "2025-03-31", "2025-10-24", "2025-10-27"] {
            let hours = local_hours(day);
            let ten = hours.iter().find(|&&(_, h)| h == 10).unwrap().0;
            assert_eq!(
                period(ten, &zone, &Calendars::embedded()),
                Period::P1,
                "{day}"
            );
            let seven = hours.iter().find(|&&(_, h)| h == 7).unwrap().0;
            assert_eq!(
                period(seven, &zone, &Calendars::embedded()),
                Period::P3,
                "{day}"
            );
        }
    }

    #[test]
    fn weekends_and_national_holidays_are_valley_all_day() {
        let zone = madrid();
        for day in ["2025-11-22", "2025-11-23", "2025-12-08", "2025-10-13"] {
            let all_p3 = local_hours(day)
                .into_iter()
                .all(|(ts, _)| period(ts, &zone, &Calendars::embedded()) == Period::P3);
            // 2025-10-13 is the Monday after 12 October (a Sunday): substitutes are excluded.
            assert_eq!(all_p3, day != "2025-10-13", "{day}");
        }
    }

    #[test]
    fn trend_volatility_and_cost_index() {
        let zone = madrid();
        let start = Timestamp::from_jiff("2025-01-01T00:00:00Z".parse().unwrap());
        // 31 days at 100 €/MWh, then a day at 150.
        let prices: Vec<_> = (0..32 * 24)
            .map(|h| {
                (
                    start.plus(h * 3_600),
                    if h >= 31 * 24 { 150.0 } else { 100.0 },
                )
            })
            .collect();
        let features = hourly(
            &prices,
            prices[31 * 24 - 1].0,
            &zone,
            &Calendars::embedded(),
        );
        assert_eq!(features[0].trend_1h, Some(0.0));
        assert_eq!(features[0].volatility_24h, Some(0.0));
        assert_eq!(features[1].trend_1h, Some(50.0));
        let v = features[1].volatility_24h.unwrap();
        // 23 × 100 and 1 × 150: σ = 50·√(23)/24
        assert!((v - 50.0 * 23f64.sqrt() / 24.0).abs() < 1e-9);
        let days = daily_index(
            &prices,
            ("2025-01-01".parse().unwrap(), "2025-02-02".parse().unwrap()),
            &zone,
        );
        // Madrid days: the first starts at 01:00 local on 1 January (23 hours of it stored).
        assert_eq!(days[0].cost_index, None);
        let feb1 = days
            .iter()
            .find(|d| d.day.to_string() == "2025-02-01")
            .unwrap();
        // 1 February local: 23 hours at 150 and its first hour (23:00Z on 31 Jan) at 100.
        assert_eq!(feb1.hours, 24);
        let mean = (100.0 + 23.0 * 150.0) / 24.0;
        assert!((feb1.cost_index.unwrap() - mean).abs() < 1e-9);
    }
}
