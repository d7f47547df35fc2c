//! A location's calendar: each local date with its weekday, weekend, the holiday that holds
//! there (national, its region's or its municipality's, with the publication it comes from),
//! the school-holiday period it falls in, and whether the calendars hold that year at all.

use jiff::civil::Date;
use serde::Serialize;

use super::QueryError;
use crate::core::Core;
use crate::domain::Location;
use crate::domain::calendar::Day;

#[derive(Serialize)]
pub struct CalendarAnswer<'a> {
    location: String,
    country: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    municipality: Option<String>,
    /// The years whose holidays the calendars hold for the country.
    years: Vec<i16>,
    days: Vec<Day<'a>>,
}

/// The location's days from `first` to `last` (both included); by default every day of the
/// years the calendars hold.
pub fn days<'a>(
    core: &'a Core,
    location: &Location,
    range: Option<(Date, Date)>,
) -> Result<CalendarAnswer<'a>, QueryError> {
    let calendars = &core.config.holidays;
    let place = location.place();
    let years = calendars.years(place.country);
    if years.is_empty() {
        return Err(QueryError::not_found(
            "no_calendar",
            format!(
                "no holiday calendar for country `{}` (add one with calendars.files)",
                location.country
            ),
        ));
    }
    let (first, last) = match range {
        Some(range) => range,
        None => {
            let year = |y: i16, month, day| Date::new(y, month, day).ok();
            match (
                years.first().and_then(|&y| year(y, 1, 1)),
                years.last().and_then(|&y| year(y, 12, 31)),
            ) {
                (Some(first), Some(last)) => (first, last),
                _ => {
                    return Err(QueryError::invalid(
                        "invalid_range",
                        "the calendars' years are outside the dates almanac handles",
                    ));
                }
            }
        }
    };
    if let Some(why) = calendars.not_available(place.country, first, last) {
        return Err(QueryError::not_found("calendar_not_available", why));
    }
    let days = first
        .series(jiff::ToSpan::days(1))
        .take_while(|d| *d <= last)
        .map(|date| calendars.day(place, date))
        .collect();
    Ok(CalendarAnswer {
        location: location.id.clone(),
        country: location.country.clone(),
        region: location.region.clone(),
        municipality: location.municipality.clone(),
        years,
        days,
    })
}
