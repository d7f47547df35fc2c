//! Parsers against recorded upstream payloads (`../shared/fixtures`, real) and the repository's
//! own inputs in the same formats (`tests/fixtures`, for cases no recording covers).

use almanac::domain::{Coordinates, TimeRange, Timestamp};
use almanac::sources::open_meteo::{Parsed, parse};

use crate::support::{own_fixture, shared_fixture};

const ALL: TimeRange = TimeRange {
    start: Timestamp::from_epoch(-10_000_000_000),
    end: Timestamp::from_epoch(10_000_000_000),
};

fn parse_file(path: &std::path::Path) -> Parsed {
    parse(&std::fs::read(path).unwrap(), ALL).unwrap()
}

fn utc(s: &str) -> Timestamp {
    Timestamp::from_jiff(s.parse().unwrap())
}

fn values(observations: &[almanac::domain::Observation], variable: &str) -> Vec<(Timestamp, f64)> {
    observations
        .iter()
        .filter(|o| o.variable == variable)
        .map(|o| (o.ts, o.value))
        .collect()
}

#[test]
fn adelaide_archive_uses_the_one_fixed_offset_of_the_response() {
    let Some(path) = shared_fixture("open-meteo/vinea__archive_hourly_adelaide_2025-01-10_12.json")
    else {
        return;
    };
    let parsed = parse_file(&path);
    // "2025-01-10T00:00" at utc_offset_seconds 34200 (+9:30, though Adelaide is on +10:30 in January).
    let temperature = values(&parsed.hourly, "temperature");
    assert_eq!(temperature.len(), 72);
    assert_eq!(temperature[0], (utc("2025-01-09T14:30:00Z"), 20.3));
    assert_eq!(temperature[71].0, utc("2025-01-12T13:30:00Z"));
    assert_eq!(
        values(&parsed.hourly, "wind_speed")[0].1,
        1.27,
        "m/s stays m/s"
    );
    assert_eq!(values(&parsed.hourly, "humidity")[0].1, 33.0);
    assert_eq!(parsed.hourly.len(), 72 * 4);
    assert!(parsed.rejects.is_empty());
    assert_eq!(parsed.ignored.len(), 2, "{:?}", parsed.ignored);
}

#[test]
fn adelaide_forecast_parses_like_the_archive() {
    let Some(path) =
        shared_fixture("open-meteo/vinea__forecast_hourly_adelaide_2026-07-16_18.json")
    else {
        return;
    };
    let parsed = parse_file(&path);
    assert_eq!(
        values(&parsed.hourly, "temperature")[0].0,
        utc("2026-07-15T14:30:00Z")
    );
    assert_eq!(parsed.hourly.len(), 72 * 4);
}

#[test]
fn amsterdam_1953_converts_kmh_and_reads_the_daily_block() {
    let Some(path) = shared_fixture("open-meteo/frenck__historical_weather.json") else {
        return;
    };
    let parsed = parse_file(&path);
    // utc_offset_seconds 7200 in January ("GMT+2"): 00:00 local is 22:00 UTC the day before.
    assert_eq!(
        values(&parsed.hourly, "temperature"),
        [
            (utc("1953-01-30T22:00:00Z"), 5.8),
            (utc("1953-01-30T23:00:00Z"), 5.5),
            (utc("1953-01-31T00:00:00Z"), 5.1)
        ]
    );
    assert_eq!(
        values(&parsed.hourly, "wind_speed")[0].1,
        6.444,
        "23.2 km/h"
    );
    assert_eq!(
        values(&parsed.daily, "wind_gust_max")[0],
        (utc("1953-01-30T22:00:00Z"), 24.889)
    );
    assert_eq!(
        values(&parsed.daily, "precipitation_sum")[1],
        (utc("1953-01-31T22:00:00Z"), 12.5)
    );
    assert!(
        parsed
            .ignored
            .iter()
            .any(|i| i.contains("soil_moisture_index_0_to_7cm")),
        "{:?}",
        parsed.ignored
    );
}

#[test]
fn model_suffixed_columns_are_recognised_and_not_stored_as_the_default() {
    let Some(path) = shared_fixture("open-meteo/frenck__historical_weather_models.json") else {
        return;
    };
    let parsed = parse_file(&path);
    assert!(parsed.daily.is_empty());
    let models: Vec<_> = parsed
        .ignored
        .iter()
        .filter(|i| i.contains("model-specific"))
        .collect();
    assert_eq!(models.len(), 3, "{:?}", parsed.ignored);
    assert!(
        models.iter().any(|m| m.contains("(era5_land)")),
        "{models:?}"
    );
}

#[test]
fn new_york_decade_in_fahrenheit_becomes_celsius_at_utc_midnights_of_the_fixed_offset() {
    let Some(path) =
        shared_fixture("open-meteo/brrrrrr__archive_daily_nyc_2016-02-15_2026-02-14.json")
    else {
        return;
    };
    let parsed = parse_file(&path);
    let maxima = values(&parsed.daily, "temperature_max");
    assert_eq!(maxima.len(), 3_653);
    // -18000 all decade long, summer included (no DST), so every day starts at 05:00 UTC.
    assert_eq!(maxima[0], (utc("2016-02-15T05:00:00Z"), 4.722), "40.5 °F");
    assert!(
        maxima
            .iter()
            .all(|(ts, _)| ts.epoch().rem_euclid(86_400) == 5 * 3_600)
    );
    assert_eq!(
        values(&parsed.daily, "apparent_temperature_min")[0].1,
        -14.611,
        "5.7 °F"
    );
    assert_eq!(parsed.daily.len(), 3_653 * 4);
    assert!(parsed.ignored.iter().any(|i| i.contains("sunrise")));
}

#[test]
fn unixtime_nulls_and_kmh_in_our_own_payload() {
    let parsed = parse_file(&own_fixture("open_meteo_archive_unixtime_nulls.json"));
    assert_eq!(
        parsed.hourly.len(),
        12,
        "two hours of six variables; the nulls are missing, not zero"
    );
    assert_eq!(
        values(&parsed.hourly, "wind_speed"),
        [
            (utc("2025-01-01T00:00:00Z"), 2.0),
            (utc("2025-01-01T01:00:00Z"), 3.0)
        ]
    );
    assert_eq!(values(&parsed.hourly, "weather_code")[1].1, 61.0);
    assert!(parsed.rejects.is_empty());
}

#[test]
fn the_keep_range_limits_what_a_payload_yields() {
    let bytes = std::fs::read(own_fixture("open_meteo_archive_unixtime_nulls.json")).unwrap();
    let first_hour =
        TimeRange::new(utc("2025-01-01T00:00:00Z"), utc("2025-01-01T01:00:00Z")).unwrap();
    assert_eq!(parse(&bytes, first_hour).unwrap().hourly.len(), 6);
}

#[test]
fn both_sites_file_schemas_load_as_locations() {
    let (Some(current), Some(initial)) = (
        shared_fixture("weather-data-product/sites_sample.head.json"),
        shared_fixture("weather-data-product/sites_sample.initial.json"),
    ) else {
        return;
    };
    let files = format!(
        "[{:?}, {:?}]",
        current.to_str().unwrap(),
        initial.to_str().unwrap()
    );
    let config =
        almanac::config::load(None, [("ALMANAC__SITES__FILES".to_string(), files)]).unwrap();
    let registry = config.registry();
    let lima = registry.get("MPE").unwrap();
    assert_eq!(
        (
            lima.name.as_str(),
            lima.timezone_name(),
            lima.coordinates.latitude
        ),
        ("Lima", "America/Lima", -12.0464)
    );
    let first_schema = registry.get("5").unwrap();
    assert_eq!(
        (
            first_schema.name.as_str(),
            first_schema.coordinates.longitude
        ),
        ("Lima", -77.0428)
    );
    assert_eq!(
        registry.all().len(),
        5 + 1 + 7 + 6,
        "cities, the price zone, two sites files"
    );
    let bogota = registry
        .nearest(Coordinates::new(4.65, -74.1).unwrap())
        .unwrap();
    assert_eq!(bogota.location.name, "Bogotá");
    assert!(bogota.distance_km < 25.0);
}

#[test]
fn a_sites_file_with_bad_entries_reports_each_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sites.json");
    std::fs::write(
        &path,
        r#"[{"site_id":"A","name":"x","lat":95,"lon":0,"country":"c","timezone":"UTC"},
            {"site_id":"B","name":"y","latitude":0,"longitude":0,"country":"c","timezone":"Nowhere/City"}]"#,
    )
    .unwrap();
    let err = almanac::config::load(
        None,
        [(
            "ALMANAC__SITES__FILES".to_string(),
            format!("[{:?}]", path.to_str().unwrap()),
        )],
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("site `a`: latitude") && text.contains("site `b`: unknown IANA time zone"),
        "{text}"
    );
}
