//! Public holidays and school holidays: national, regional (ISO 3166-2 region) and local
//! (municipality) days, read from data files (`calendars/*.toml`, one per country, embedded,
//! plus any the config names), and what they make of a date at a place. Pure: text in, days
//! out; the files are read by `config`.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::{Date, Weekday};
use serde::{Deserialize, Serialize};

/// How widely a holiday holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    National,
    Regional,
    Local,
}

/// One holiday as a calendar file lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    pub date: Date,
    pub name: String,
    pub scope: Scope,
    /// The region it holds in (`ES-MD`), for a regional holiday.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The municipality it holds in (`madrid`), for a local holiday.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub municipality: Option<String>,
    /// A national holiday a region may replace by another day.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub substitutable: bool,
    /// A holiday whose date follows Easter.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub movable: bool,
    /// The publication it comes from (`BOE-A-2024-21316`).
    pub source: String,
}

/// A school-holiday period of a region, both ends included.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchoolHoliday {
    pub region: String,
    pub name: String,
    pub start: Date,
    pub end: Date,
    pub source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    country: String,
    #[serde(default)]
    holiday: Vec<Holiday>,
    #[serde(default)]
    school_holiday: Vec<SchoolHoliday>,
}

/// Where a location sits in the calendars.
#[derive(Clone, Copy, Debug)]
pub struct Place<'a> {
    pub country: &'a str,
    pub region: Option<&'a str>,
    pub municipality: Option<&'a str>,
}

/// What the calendars make of one date at one place.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Day<'a> {
    pub date: Date,
    pub weekday: &'static str,
    pub weekend: bool,
    /// The holiday that day (the narrowest scope when several fall on it).
    pub holiday: Option<&'a Holiday>,
    pub school_holiday: Option<&'a SchoolHoliday>,
}

/// Every calendar loaded, by country.
#[derive(Clone, Debug, Default)]
pub struct Calendars {
    countries: BTreeMap<String, Country>,
}

#[derive(Clone, Debug, Default)]
struct Country {
    holidays: BTreeMap<Date, Vec<Holiday>>,
    school: Vec<SchoolHoliday>,
    regions: BTreeSet<String>,
    municipalities: BTreeSet<String>,
    /// Years with national holidays listed.
    years: BTreeSet<i16>,
}

impl Calendars {
    /// Adds the calendar file `text` (named `what` in errors), checked: each holiday's scope
    /// names its region or municipality and nothing else, a period ends after it starts, and
    /// no day is listed twice for one place.
    pub fn add(&mut self, what: &str, text: &str) -> Result<(), Vec<String>> {
        let file: File = toml::from_str(text).map_err(|e| vec![format!("{what}: {e}")])?;
        let mut problems = Vec::new();
        let country = self
            .countries
            .entry(file.country.to_uppercase())
            .or_default();
        for h in file.holiday {
            let place = match (h.scope, &h.region, &h.municipality) {
                (Scope::National, None, None) => None,
                (Scope::Regional, Some(r), None) => Some(r.clone()),
                (Scope::Local, None, Some(m)) => Some(m.clone()),
                _ => {
                    problems.push(format!(
                        "{what}: {} {}: a national holiday names no place, a regional one its `region`, a local one its `municipality`",
                        h.date, h.name
                    ));
                    continue;
                }
            };
            let same_day = country.holidays.entry(h.date).or_default();
            if same_day.iter().any(|o| {
                o.scope == h.scope && o.region == h.region && o.municipality == h.municipality
            }) {
                problems.push(format!(
                    "{what}: {} is listed twice for {}",
                    h.date,
                    place.as_deref().unwrap_or("the country")
                ));
                continue;
            }
            match h.scope {
                Scope::National => {
                    country.years.insert(h.date.year());
                }
                Scope::Regional => {
                    country.regions.extend(h.region.clone());
                }
                Scope::Local => {
                    country.municipalities.extend(h.municipality.clone());
                }
            }
            same_day.push(h);
        }
        for s in file.school_holiday {
            if s.end < s.start {
                problems.push(format!(
                    "{what}: school holiday {} of {} ends ({}) before it starts ({})",
                    s.name, s.region, s.end, s.start
                ));
                continue;
            }
            country.regions.insert(s.region.clone());
            country.school.push(s);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// The calendars almanac ships (`calendars/*.toml`).
    pub fn embedded() -> Self {
        let mut calendars = Self::default();
        for (name, text) in EMBEDDED {
            if let Err(problems) = calendars.add(name, text) {
                // The files are checked by this module's tests; a broken one is a build defect.
                panic!("embedded calendar {name}: {}", problems.join("; "));
            }
        }
        calendars
    }

    /// Why `place` cannot be looked up, if it cannot: an unknown country, region or
    /// municipality (a typo would otherwise read as "no holidays").
    pub fn check(&self, place: Place<'_>) -> Result<(), String> {
        let Some(country) = self.countries.get(place.country) else {
            return Err(format!(
                "no holiday calendar for country `{}`",
                place.country
            ));
        };
        if let Some(region) = place.region
            && !country.regions.contains(region)
        {
            return Err(format!(
                "no holiday calendar for region `{region}` (known: {})",
                country
                    .regions
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some(municipality) = place.municipality
            && !country.municipalities.contains(municipality)
        {
            return Err(format!(
                "no local holidays for municipality `{municipality}` (known: {})",
                country
                    .municipalities
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(())
    }

    /// Why the holidays of `first..=last` cannot be told for `country`, if they cannot: a year
    /// the calendars do not hold (a day there with no holiday may still be one).
    pub fn not_available(&self, country: &str, first: Date, last: Date) -> Option<String> {
        let held = self.years(country);
        let missing: Vec<String> = (first.year()..=last.year())
            .filter(|y| !held.contains(y))
            .map(|y| y.to_string())
            .collect();
        if missing.is_empty() {
            return None;
        }
        let held = match (held.first(), held.last()) {
            (Some(a), Some(b)) => format!("{a}–{b}"),
            _ => "none".to_owned(),
        };
        Some(format!(
            "calendar not available for {} in {country} (held: {held}; add a year with calendars.files)",
            missing.join(", ")
        ))
    }

    /// The years whose national holidays the calendars hold for `country`.
    pub fn years(&self, country: &str) -> Vec<i16> {
        self.countries
            .get(country)
            .map(|c| c.years.iter().copied().collect())
            .unwrap_or_default()
    }

    /// What the calendars make of `date` at `place`.
    pub fn day(&self, place: Place<'_>, date: Date) -> Day<'_> {
        let country = self.countries.get(place.country);
        let applies = |h: &&Holiday| match h.scope {
            Scope::National => true,
            Scope::Regional => h.region.as_deref() == place.region,
            Scope::Local => h.municipality.as_deref() == place.municipality,
        };
        let holiday = country
            .and_then(|c| c.holidays.get(&date))
            .and_then(|same_day| same_day.iter().filter(applies).max_by_key(|h| h.scope));
        let school_holiday = country.and_then(|c| {
            c.school.iter().find(|s| {
                Some(s.region.as_str()) == place.region && s.start <= date && date <= s.end
            })
        });
        let weekday = date.weekday();
        Day {
            date,
            weekday: weekday_name(weekday),
            weekend: matches!(weekday, Weekday::Saturday | Weekday::Sunday),
            holiday,
            school_holiday,
        }
    }

    /// 1 for each of `dates` that is a holiday at `place` (`school`: a school holiday), else 0;
    /// fails naming the years the calendars do not hold, never reading them as "no holiday".
    pub fn flags(
        &self,
        place: Place<'_>,
        dates: &[Date],
        school: bool,
    ) -> Result<Vec<f64>, String> {
        self.check(place)?;
        if let (Some(first), Some(last)) = (dates.iter().min(), dates.iter().max())
            && let Some(why) = self.not_available(place.country, *first, *last)
        {
            return Err(why);
        }
        if school && let (Some(first), Some(last)) = (dates.iter().min(), dates.iter().max()) {
            // School periods are listed per region and year where a public source gives them:
            // a year with none listed is unknown, not a year without school holidays.
            let listed: BTreeSet<i16> = self
                .countries
                .get(place.country)
                .into_iter()
                .flat_map(|c| &c.school)
                .filter(|s| Some(s.region.as_str()) == place.region)
                .flat_map(|s| [s.start.year(), s.end.year()])
                .collect();
            let missing: Vec<String> = (first.year()..=last.year())
                .filter(|y| !listed.contains(y))
                .map(|y| y.to_string())
                .collect();
            if !missing.is_empty() {
                return Err(format!(
                    "school holidays not available for {} in region `{}`",
                    missing.join(", "),
                    place.region.unwrap_or("(none)")
                ));
            }
        }
        Ok(dates
            .iter()
            .map(|&date| {
                let day = self.day(place, date);
                let on = if school {
                    day.school_holiday.is_some()
                } else {
                    day.holiday.is_some()
                };
                f64::from(u8::from(on))
            })
            .collect())
    }

    /// Whether `date` is a holiday of Spain's 2.0TD electricity tariff (CNMC Circular 3/2020:
    /// "6 January and the national holidays of the year, excluding those that are substitutable
    /// and those without a fixed date"), valley all day. For a year the calendar does not hold,
    /// the fixed-date national holidays the circular's rule has always given.
    pub fn tariff_holiday(&self, date: Date) -> bool {
        let fixed = (date.month(), date.day()) == (1, 6);
        match self.countries.get("ES") {
            Some(spain) if spain.years.contains(&date.year()) => {
                fixed
                    || spain.holidays.get(&date).is_some_and(|same_day| {
                        same_day
                            .iter()
                            .any(|h| h.scope == Scope::National && !h.substitutable && !h.movable)
                    })
            }
            _ => {
                fixed
                    || matches!(
                        (date.month(), date.day()),
                        (1, 1)
                            | (5, 1)
                            | (8, 15)
                            | (10, 12)
                            | (11, 1)
                            | (12, 6)
                            | (12, 8)
                            | (12, 25)
                    )
            }
        }
    }
}

const EMBEDDED: &[(&str, &str)] = &[("calendars/es.toml", include_str!("../../calendars/es.toml"))];

fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Monday => "monday",
        Weekday::Tuesday => "tuesday",
        Weekday::Wednesday => "wednesday",
        Weekday::Thursday => "thursday",
        Weekday::Friday => "friday",
        Weekday::Saturday => "saturday",
        Weekday::Sunday => "sunday",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn madrid() -> Place<'static> {
        Place {
            country: "ES",
            region: Some("ES-MD"),
            municipality: Some("madrid"),
        }
    }

    #[test]
    fn flags_mark_holidays_and_refuse_years_not_held() {
        let calendars = Calendars::embedded();
        // San Isidro (local), 2 May (regional), an ordinary Wednesday, Christmas (national).
        let dates = [
            date(2026, 5, 15),
            date(2026, 5, 2),
            date(2026, 5, 13),
            date(2026, 12, 25),
        ];
        assert_eq!(
            calendars.flags(madrid(), &dates, false).unwrap(),
            [1.0, 1.0, 0.0, 1.0]
        );
        let err = calendars
            .flags(madrid(), &[date(2023, 5, 15), date(2026, 1, 1)], false)
            .unwrap_err();
        assert!(err.contains("calendar not available for 2023"), "{err}");
        // An unknown municipality is refused, not read as "no holidays".
        let nowhere = Place {
            municipality: Some("atlantis"),
            ..madrid()
        };
        assert!(calendars.flags(nowhere, &dates, false).is_err());
    }

    #[test]
    fn the_embedded_calendar_knows_the_seed_cities() {
        let calendars = Calendars::embedded();
        for (region, municipality) in [
            ("ES-MD", "madrid"),
            ("ES-CT", "barcelona"),
            ("ES-VC", "valencia"),
            ("ES-AN", "sevilla"),
            ("ES-PV", "bilbao"),
        ] {
            let place = Place {
                country: "ES",
                region: Some(region),
                municipality: Some(municipality),
            };
            calendars.check(place).unwrap();
        }
        assert_eq!(calendars.years("ES"), [2024, 2025, 2026, 2027]);
        assert!(
            calendars
                .check(Place {
                    region: Some("ES-XX"),
                    ..madrid()
                })
                .is_err()
        );
        assert!(
            calendars
                .check(Place {
                    country: "FR",
                    ..madrid()
                })
                .is_err()
        );
    }

    #[test]
    fn a_day_has_its_narrowest_holiday() {
        let calendars = Calendars::embedded();
        // San Isidro, Madrid's own.
        let isidro = calendars.day(madrid(), date(2025, 5, 15));
        let holiday = isidro.holiday.unwrap();
        assert_eq!(
            (holiday.scope, isidro.weekday, isidro.weekend),
            (Scope::Local, "thursday", false)
        );
        // Not in Barcelona.
        let barcelona = Place {
            country: "ES",
            region: Some("ES-CT"),
            municipality: Some("barcelona"),
        };
        assert!(
            calendars
                .day(barcelona, date(2025, 5, 15))
                .holiday
                .is_none()
        );
        // Christmas everywhere; Madrid's 2 May, the region's.
        assert_eq!(
            calendars
                .day(barcelona, date(2025, 12, 25))
                .holiday
                .unwrap()
                .scope,
            Scope::National
        );
        assert_eq!(
            calendars
                .day(madrid(), date(2025, 5, 2))
                .holiday
                .unwrap()
                .scope,
            Scope::Regional
        );
        // An ordinary day; a year the calendar does not hold says so.
        assert!(calendars.day(madrid(), date(2025, 5, 14)).holiday.is_none());
        assert_eq!(
            calendars.not_available("ES", date(2025, 1, 1), date(2027, 12, 31)),
            None
        );
        let missing = calendars
            .not_available("ES", date(2027, 6, 1), date(2029, 1, 1))
            .unwrap();
        assert!(
            missing.starts_with("calendar not available for 2028, 2029 in ES (held: 2024–2027"),
            "{missing}"
        );
    }

    #[test]
    fn known_holidays_of_each_city_in_2026() {
        let calendars = Calendars::embedded();
        // (region, municipality, date, scope, a word of its name)
        let pinned = [
            ("ES-MD", "madrid", date(2026, 5, 15), Scope::Local, "Isidro"),
            (
                "ES-MD",
                "madrid",
                date(2026, 11, 9),
                Scope::Local,
                "Almudena",
            ),
            (
                "ES-MD",
                "madrid",
                date(2026, 5, 2),
                Scope::Regional,
                "Comunidad",
            ),
            // Sundays moved to Monday by the region: All Saints and the Constitution.
            (
                "ES-MD",
                "madrid",
                date(2026, 11, 2),
                Scope::Regional,
                "Todos los Santos",
            ),
            (
                "ES-MD",
                "madrid",
                date(2026, 12, 7),
                Scope::Regional,
                "Constitución",
            ),
            (
                "ES-CT",
                "barcelona",
                date(2026, 9, 24),
                Scope::Local,
                "Merc",
            ),
            (
                "ES-CT",
                "barcelona",
                date(2026, 9, 11),
                Scope::Regional,
                "Cataluña",
            ),
            (
                "ES-CT",
                "barcelona",
                date(2026, 12, 26),
                Scope::Regional,
                "Esteban",
            ),
            (
                "ES-VC",
                "valencia",
                date(2026, 1, 22),
                Scope::Local,
                "Vicente",
            ),
            (
                "ES-VC",
                "valencia",
                date(2026, 10, 9),
                Scope::Regional,
                "Comunitat",
            ),
            ("ES-AN", "sevilla", date(2026, 6, 4), Scope::Local, "Corpus"),
            (
                "ES-AN",
                "sevilla",
                date(2026, 2, 28),
                Scope::Regional,
                "Andalucía",
            ),
            (
                "ES-AN",
                "sevilla",
                date(2026, 11, 2),
                Scope::Regional,
                "Todos los Santos",
            ),
            (
                "ES-PV",
                "bilbao",
                date(2026, 7, 31),
                Scope::Local,
                "Ignacio",
            ),
            (
                "ES-PV",
                "bilbao",
                date(2026, 7, 25),
                Scope::Regional,
                "Santiago",
            ),
        ];
        for (region, municipality, day, scope, word) in pinned {
            let place = Place {
                country: "ES",
                region: Some(region),
                municipality: Some(municipality),
            };
            let found = calendars.day(place, day);
            let holiday = found
                .holiday
                .unwrap_or_else(|| panic!("{municipality} {day}: no holiday"));
            assert_eq!(holiday.scope, scope, "{municipality} {day}");
            assert!(
                holiday.name.contains(word),
                "{municipality} {day}: {}",
                holiday.name
            );
        }
        // National days hold everywhere; a region's and a city's only there.
        let bilbao = Place {
            country: "ES",
            region: Some("ES-PV"),
            municipality: Some("bilbao"),
        };
        assert_eq!(
            calendars
                .day(bilbao, date(2026, 12, 8))
                .holiday
                .unwrap()
                .scope,
            Scope::National
        );
        assert!(calendars.day(bilbao, date(2026, 11, 2)).holiday.is_none());
        assert!(calendars.day(bilbao, date(2026, 5, 15)).holiday.is_none());
    }

    #[test]
    fn the_tariff_rule_takes_fixed_national_days_and_epiphany() {
        let calendars = Calendars::embedded();
        assert!(calendars.tariff_holiday(date(2025, 1, 6)));
        assert!(calendars.tariff_holiday(date(2025, 12, 8)));
        // Good Friday has no fixed date; San Isidro and 2 May are not national.
        assert!(!calendars.tariff_holiday(date(2025, 4, 18)));
        assert!(!calendars.tariff_holiday(date(2025, 5, 15)));
        assert!(!calendars.tariff_holiday(date(2025, 5, 2)));
        // Outside the calendar's years, the circular's fixed list.
        assert!(calendars.tariff_holiday(date(2031, 12, 25)));
    }

    #[test]
    fn a_bad_file_says_what_is_wrong() {
        let mut calendars = Calendars::default();
        let problems = calendars
            .add(
                "extra.toml",
                r#"
country = "ES"
[[holiday]]
date = "2025-06-24"
name = "San Juan"
scope = "regional"
source = "x"
[[school_holiday]]
region = "ES-CT"
name = "Estiu"
start = "2025-09-01"
end = "2025-06-21"
source = "x"
"#,
            )
            .unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("its `region`"), "{problems:?}");
        assert!(problems[1].contains("before it starts"), "{problems:?}");
    }
}
