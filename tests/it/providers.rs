//! Every provider's parser on the recorded payloads in `../shared/fixtures` (real) and on the
//! repository's own inputs in the same formats (`tests/fixtures`), with values checked against
//! the files, and one conformance check that every parsed payload must pass.

use std::collections::BTreeSet;

use almanac::domain::{Dataset, Timestamp};
use almanac::sources::{Payload, ree};

use crate::support::shared_fixture;

fn utc(s: &str) -> Timestamp {
    Timestamp::from_jiff(s.parse().unwrap())
}

/// What every parsed payload must be: sorted by origin, time and variable; duplicate-free;
/// every value on its variable's grid, a canonical variable of the dataset, and in range.
pub fn conforms(payload: &Payload) {
    let mut seen = BTreeSet::new();
    for pair in payload.readings.windows(2) {
        let key = |r: &almanac::sources::Reading| {
            (r.origin.clone(), r.observation.ts, r.observation.variable)
        };
        assert!(
            key(&pair[0]) < key(&pair[1]),
            "not sorted or duplicated: {pair:?}"
        );
    }
    for r in &payload.readings {
        let o = &r.observation;
        let variable = payload
            .dataset
            .variable(o.variable)
            .unwrap_or_else(|| panic!("{} is not a {} variable", o.variable, payload.dataset));
        variable.check(o.value).unwrap();
        if let Some(step) = payload.dataset.natural_step(o.variable) {
            assert!(
                o.ts.is_aligned(step),
                "{} at {} off its grid",
                o.variable,
                o.ts
            );
        }
        assert!(seen.insert((r.origin.clone(), o.ts, o.variable)));
    }
    for reject in &payload.rejects {
        assert!(
            !reject.reason.is_empty() && !reject.record.is_empty(),
            "{reject:?}"
        );
    }
}

fn series(payload: &Payload, origin: Option<&str>, variable: &str) -> Vec<(Timestamp, f64)> {
    payload
        .readings
        .iter()
        .filter(|r| r.origin.as_deref() == origin && r.observation.variable == variable)
        .map(|r| (r.observation.ts, r.observation.value))
        .collect()
}

fn read(path: &str) -> Option<Vec<u8>> {
    shared_fixture(path).map(|p| std::fs::read(p).unwrap())
}

#[test]
fn ree_autumn_day_has_25_hours_keyed_by_id() {
    let Some(bytes) = read("ree/aiopvpc__PRICES_APIDATOS_2021_10_31.json") else {
        return;
    };
    let payload = ree::parse::apidatos(&bytes).unwrap();
    conforms(&payload);
    assert_eq!(payload.dataset, Dataset::EnergyPrice);
    assert!(payload.rejects.is_empty(), "{:?}", payload.rejects);
    let pvpc = series(&payload, None, "pvpc");
    let spot = series(&payload, None, "spot");
    assert_eq!((pvpc.len(), spot.len()), (25, 25));
    // 00:00+02:00, then 02:00+02:00 and 02:00+01:00: two distinct UTC hours.
    assert_eq!(pvpc[0], (utc("2021-10-30T22:00:00Z"), 171.48));
    assert_eq!(pvpc[2], (utc("2021-10-31T00:00:00Z"), 109.55));
    assert_eq!(pvpc[3], (utc("2021-10-31T01:00:00Z"), 104.85));
    assert_eq!(pvpc[24].0, utc("2021-10-31T22:00:00Z"));
    assert_eq!(spot[0], (utc("2021-10-30T22:00:00Z"), 134.48));
}

#[test]
fn ree_series_are_chosen_by_id_whatever_the_title_language() {
    let (Some(english), Some(single)) = (
        read("ree/aiopvpc__PRICES_APIDATOS_2021_06_01.json"),
        read("ree/aiopvpc__PRICES_APIDATOS_2021_06_01_CYM.json"),
    ) else {
        return;
    };
    let both = ree::parse::apidatos(&english).unwrap();
    conforms(&both);
    assert_eq!(
        series(&both, None, "spot").len(),
        24,
        "title is English here"
    );
    assert_eq!(series(&both, None, "pvpc").len(), 24);
    assert_eq!(
        series(&both, None, "pvpc")[0].0,
        utc("2021-05-31T22:00:00Z")
    );
    let pvpc_only = ree::parse::apidatos(&single).unwrap();
    conforms(&pvpc_only);
    assert_eq!(series(&pvpc_only, None, "spot").len(), 0);
    // Ceuta and Melilla's PVPC: the same prices but for the four hours its tariff periods shift.
    let cym = series(&pvpc_only, None, "pvpc");
    let peninsula = series(&both, None, "pvpc");
    assert_eq!(cym.len(), 24);
    let differing = cym.iter().zip(&peninsula).filter(|(a, b)| a != b).count();
    assert_eq!(differing, 4);
    let Some(normal) = read("ree/aiopvpc__PRICES_APIDATOS_2021_10_30.json") else {
        return;
    };
    let normal = ree::parse::apidatos(&normal).unwrap();
    conforms(&normal);
    assert_eq!(series(&normal, None, "pvpc").len(), 24);
}

#[test]
fn esios_indicators_interleave_geographies() {
    let (Some(pvpc), Some(surplus), Some(normal)) = (
        read("ree/aiopvpc__PRICES_ESIOS_1001_2021_10_31.json"),
        read("ree/aiopvpc__PRICES_ESIOS_1739_2021_10_31.json"),
        read("ree/aiopvpc__PRICES_ESIOS_1001_2024_03_09.json"),
    ) else {
        return;
    };
    let payload = ree::parse::esios_indicator(&pvpc).unwrap();
    conforms(&payload);
    let geos: BTreeSet<_> = payload
        .readings
        .iter()
        .map(|r| r.origin.clone().unwrap())
        .collect();
    assert_eq!(
        geos,
        ["8741", "8742", "8743", "8744", "8745"]
            .map(String::from)
            .into()
    );
    assert_eq!(payload.readings.len(), 5 * 25);
    let peninsula = series(&payload, Some("8741"), "pvpc");
    assert_eq!(peninsula[0], (utc("2021-10-30T22:00:00Z"), 171.48));
    // The same day from apidatos and from ESIOS agree hour by hour.
    if let Some(apidatos) = read("ree/aiopvpc__PRICES_APIDATOS_2021_10_31.json") {
        let apidatos = ree::parse::apidatos(&apidatos).unwrap();
        assert_eq!(peninsula, series(&apidatos, None, "pvpc"));
    }
    let surplus = ree::parse::esios_indicator(&surplus).unwrap();
    conforms(&surplus);
    assert_eq!(series(&surplus, Some("3"), "surplus").len(), 25);
    let normal = ree::parse::esios_indicator(&normal).unwrap();
    conforms(&normal);
    assert_eq!(series(&normal, Some("8741"), "pvpc").len(), 24);
}

#[test]
fn esios_archive_rows_count_hours_from_local_midnight() {
    let (Some(autumn), Some(spring)) = (
        read("ree/aiopvpc__PVPC_CURV_DD_2021_10_31.json"),
        read("ree/aiopvpc__PVPC_CURV_DD_2022_03_27.json"),
    ) else {
        return;
    };
    let autumn = ree::parse::esios_archive(&autumn).unwrap();
    conforms(&autumn);
    assert!(autumn.rejects.is_empty(), "{:?}", autumn.rejects);
    let pcb = series(&autumn, Some("PCB"), "pvpc");
    assert_eq!(pcb.len(), 25);
    assert_eq!(series(&autumn, Some("CYM"), "pvpc").len(), 25);
    // The 25th row (`24-25`) is the last hour of the day, and the archive agrees with apidatos.
    assert_eq!(pcb[24], (utc("2021-10-31T22:00:00Z"), 146.12));
    if let Some(apidatos) = read("ree/aiopvpc__PRICES_APIDATOS_2021_10_31.json") {
        assert_eq!(
            pcb,
            series(&ree::parse::apidatos(&apidatos).unwrap(), None, "pvpc")
        );
    }
    let spring = ree::parse::esios_archive(&spring).unwrap();
    conforms(&spring);
    let pcb = series(&spring, Some("PCB"), "pvpc");
    assert_eq!(pcb.len(), 23);
    assert_eq!(pcb[0].0, utc("2022-03-26T23:00:00Z"));
    // `01-02` then `03-04`: 03:00 CEST is 01:00 UTC, one hour after 01:00 CET.
    assert_eq!(pcb[2].0, utc("2022-03-27T01:00:00Z"));
}

/// AEMET daily files: (file, station, days, values, directions that are not 99/88, last day, its tmax).
const AEMET_DAILY: &[(&str, &str, usize, usize, usize, &str, f64)] = &[
    (
        "aaxel242__clima_diarios_0201D_2023-07-01_2023-12-31_ISO-8859-15.json",
        "0201D",
        184,
        1656,
        171,
        "2023-12-31",
        17.4,
    ),
    (
        "aaxel242__clima_diarios_0201X_2009-08-06_2009-12-31.json",
        "0201X",
        146,
        1259,
        109,
        "2009-12-31",
        17.9,
    ),
    (
        "aaxel242__clima_diarios_0201X_2024-07-01_2024-12-31.json",
        "0201X",
        184,
        1280,
        0,
        "2024-12-31",
        13.8,
    ),
    (
        "aaxel242__clima_diarios_0201D_2025-07-01_2025-11-30_ISO-8859-15.json",
        "0201D",
        153,
        1376,
        142,
        "2025-11-30",
        16.2,
    ),
];

#[test]
fn aemet_daily_values_decode_latin9_decimal_commas_and_absent_keys() {
    for &(file, station, days, values, directions, last, tmax) in AEMET_DAILY {
        let Some(bytes) = read(&format!("aemet/{file}")) else {
            return;
        };
        if file.contains("ISO-8859-15") {
            assert!(
                std::str::from_utf8(&bytes).is_err(),
                "{file} is really Latin-9"
            );
        }
        let payload = almanac::sources::aemet::parse::daily(&bytes).unwrap();
        conforms(&payload);
        assert!(payload.rejects.is_empty(), "{file}: {:?}", payload.rejects);
        // Every numeric string became a value, plus one per real gust direction.
        assert_eq!(payload.readings.len(), values + directions, "{file}");
        assert!(
            payload
                .readings
                .iter()
                .all(|r| r.origin.as_deref() == Some(station))
        );
        let days_seen: BTreeSet<_> = payload.readings.iter().map(|r| r.observation.ts).collect();
        assert_eq!(days_seen.len(), days, "{file}");
        let tmax_series = series(&payload, Some(station), "temperature_max");
        assert_eq!(
            *tmax_series.last().unwrap(),
            (utc(&format!("{last}T00:00:00Z")), tmax)
        );
    }
    let Some(bytes) = read(&format!("aemet/{}", AEMET_DAILY[0].0)) else {
        return;
    };
    let payload = almanac::sources::aemet::parse::daily(&bytes).unwrap();
    let first = utc("2023-07-01T00:00:00Z");
    let day: Vec<_> = payload
        .readings
        .iter()
        .filter(|r| r.observation.ts == first)
        .map(|r| (r.observation.variable, r.observation.value))
        .collect();
    assert_eq!(
        day,
        vec![
            ("humidity_max", 93.0),
            ("humidity_mean", 68.0),
            ("humidity_min", 56.0),
            ("precipitation_day_07utc", 0.0),
            ("temperature_max", 25.8),
            ("temperature_mean", 22.6),
            ("temperature_min", 19.4),
            ("wind_gust_direction", 100.0),
            ("wind_gust_max", 10.3),
            ("wind_speed_mean", 5.0),
        ]
    );
}

#[test]
fn aemet_envelope_and_hourly_observations() {
    let (Some(envelope), Some(observations)) = (
        read("aemet/homeassistant__station-3195_first_step_response.json"),
        read("aemet/homeassistant__station-3195-data_observacion_convencional.json"),
    ) else {
        return;
    };
    let envelope = almanac::sources::aemet::parse::envelope(200, None, &envelope).unwrap();
    assert_eq!(
        envelope.datos,
        "https://opendata.aemet.es/opendata/sh/208c3ca3"
    );
    let payload = almanac::sources::aemet::parse::observations(&observations).unwrap();
    conforms(&payload);
    assert!(payload.rejects.is_empty(), "{:?}", payload.rejects);
    // 23 hours × (ta, prec, hr, pres): this station's record has no wind fields.
    assert_eq!(payload.readings.len(), 23 * 4);
    let temperature = series(&payload, Some("3195"), "temperature");
    assert_eq!(temperature[0], (utc("2021-01-08T14:00:00Z"), 0.1));
    assert_eq!(temperature[22], (utc("2021-01-09T12:00:00Z"), -0.7));
    assert_eq!(series(&payload, Some("3195"), "pressure")[22].1, 924.6);
    assert_eq!(series(&payload, Some("3195"), "precipitation")[22].1, 7.0);
}

/// SIAR Linares files: (name, rows, rows with every value empty, days without values between
/// the first and last day with values). The last figure is the missing rows that
/// `../shared/fixtures/SOURCES.md` lists (2001: 1, 2005: 11, 2006: 4, 2007: 4, 2011: 29, 2021: 5,
/// 2022: 5) plus the empty rows inside that range (2018's is its first row, so outside).
const SIAR: &[(&str, usize, usize, u64)] = &[
    ("J09_Linares_01_01_2000_31_12_2000", 130, 0, 0),
    ("J09_Linares_01_01_2001_31_12_2001", 364, 0, 1),
    ("J09_Linares_01_01_2003_31_12_2003", 365, 1, 1),
    ("J09_Linares_01_01_2005_31_12_2005", 354, 0, 11),
    ("J09_Linares_01_01_2006_31_12_2006", 361, 0, 4),
    ("J09_Linares_01_01_2007_31_12_2007", 361, 0, 4),
    ("J09_Linares_01_01_2011_31_12_2011", 336, 0, 29),
    ("J17_Linares_01_01_2018_31_12_2018", 202, 1, 0),
    ("J17_Linares_01_01_2021_31_12_2021", 360, 5, 5 + 5),
    ("J17_Linares_01_01_2022_31_12_2022", 360, 25, 5 + 25),
    ("J17_Linares_01_01_2025_16_09_2025", 259, 0, 0),
    ("J17_Linares_01_10_2025_31_10_2025", 30, 0, 0),
];

#[test]
fn siar_utf16_files_yield_their_days_and_their_known_gaps() {
    use almanac::domain::{Grid, Step, TimeRange, gaps};
    for &(name, rows, empty, without_values) in SIAR {
        let Some(bytes) = read(&format!("siar-linares/{name}.csv")) else {
            return;
        };
        assert_eq!(&bytes[..4], b"I\0d\0", "UTF-16LE without a BOM");
        let payload = almanac::sources::siar::parse(&bytes).unwrap();
        conforms(&payload);
        assert!(payload.rejects.is_empty(), "{name}: {:?}", payload.rejects);
        let days: Vec<Timestamp> = payload
            .readings
            .iter()
            .map(|r| r.observation.ts)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(days.len(), rows - empty, "{name}");
        let range = TimeRange::new(days[0], days[days.len() - 1].plus(86_400)).unwrap();
        let missing: u64 = gaps::find(Grid::new(range, Step::DAY), &days)
            .iter()
            .map(|g| g.missing)
            .sum();
        assert_eq!(missing, without_values, "{name}");
    }
    let Some(bytes) = read("siar-linares/J09_Linares_01_01_2001_31_12_2001.csv") else {
        return;
    };
    let payload = almanac::sources::siar::parse(&bytes).unwrap();
    let days: Vec<_> = series(&payload, Some("23-9"), "temperature_mean")
        .iter()
        .map(|(t, _)| *t)
        .collect();
    let range = TimeRange::new(utc("2001-01-01T00:00:00Z"), utc("2002-01-01T00:00:00Z")).unwrap();
    let gap = gaps::find(Grid::new(range, Step::DAY), &days);
    assert_eq!(
        (gap[0].start, gap[0].missing),
        (utc("2001-03-02T00:00:00Z"), 1)
    );
    let Some(bytes) = read("siar-linares/J17_Linares_01_01_2022_31_12_2022.csv") else {
        return;
    };
    let payload = almanac::sources::siar::parse(&bytes).unwrap();
    let first_day: Vec<_> = payload
        .readings
        .iter()
        .filter(|r| r.observation.ts == utc("2022-01-01T00:00:00Z"))
        .map(|r| (r.observation.variable, r.observation.value))
        .collect();
    assert_eq!(
        first_day,
        vec![
            ("et0", 0.88),
            ("humidity_max", 100.0),
            ("humidity_mean", 81.9),
            ("humidity_min", 33.8),
            ("precipitation_sum", 0.0),
            ("radiation_sum", 10.04),
            ("temperature_max", 23.0),
            ("temperature_mean", 9.54),
            ("temperature_min", 1.47),
            ("wind_direction_mean", 113.5),
            ("wind_gust_direction", 244.1),
            ("wind_gust_max", 2.82),
            ("wind_speed_mean", 0.4),
        ]
    );
}

#[test]
fn madrid_old_pm_xml_with_error_rows_joins_its_points_by_code() {
    use almanac::sources::madrid::{CityAggregator, pm, points};
    let (Some(xml), Some(locations)) = (
        read("madrid-traffic/sentinel__pm_xml_snapshot_2018-02_old_format.xml"),
        read("madrid-traffic/sentinel__intens_points_pmed_ubicacion.csv"),
    ) else {
        return;
    };
    assert!(
        pm::parse(&xml, None).is_err(),
        "the old schema has no time of its own"
    );
    let fetched = utc("2018-02-24T10:07:00Z");
    let snapshot = pm::parse(&xml, Some(fetched)).unwrap();
    assert_eq!(snapshot.time, None);
    assert_eq!(snapshot.readings.len(), 4275);
    assert!(snapshot.rejects.is_empty(), "{:?}", &snapshot.rejects[..3]);
    let by_error = |code: &str| snapshot.readings.iter().filter(|r| r.error == code).count();
    assert_eq!(
        (by_error("N"), by_error("S"), by_error("Error")),
        (3944, 202, 129)
    );
    let first = &snapshot.readings[0];
    assert_eq!(
        (first.point.as_str(), first.intensity, first.load),
        ("24001", Some(160.0), Some(10.0))
    );
    assert_eq!(
        first.ts,
        utc("2018-02-24T09:45:00Z"),
        "the last complete quarter hour"
    );
    let error_row = snapshot
        .readings
        .iter()
        .find(|r| r.error == "Error")
        .unwrap();
    assert_eq!(error_row.intensity, None, "literal `Error` is no value");

    let mut payload = Payload::new(Dataset::Traffic);
    for reading in &snapshot.readings {
        reading.add_to(&mut payload);
    }
    let payload = payload.finish();
    conforms(&payload);
    // Valid rows hold 16 065 numbers (intensity, occupancy, load, service level, speed > 0), 16
    // of them the `-1` no-data sentinel; the 331 rows flagged S or Error are rejects.
    assert_eq!(payload.readings.len(), 16_065 - 16);
    assert_eq!(payload.rejects.len(), 202 + 129);

    let located = points::parse(&locations).unwrap();
    let madrid = almanac::domain::Coordinates::new(40.4168, -3.7038).unwrap();
    let within: std::collections::HashSet<String> = located
        .points
        .iter()
        .filter(|p| p.coordinates.distance_km(madrid) <= 30.0)
        .filter_map(|p| p.code.clone())
        .collect();
    let mut city = CityAggregator::new(within);
    for reading in &snapshot.readings {
        city.add(reading);
    }
    // 4 022 of the 4 275 codes are in the location file; the rest cannot be placed.
    assert_eq!(city.used + city.invalid + city.outside, 4275);
    assert_eq!(city.outside, 4275 - 4022);
    let observations = city.finish();
    let points_used = observations
        .iter()
        .find(|o| o.variable == "points")
        .unwrap();
    assert_eq!(points_used.value, city_used_of(&snapshot, &located));
    assert!(
        observations
            .iter()
            .all(|o| o.ts == utc("2018-02-24T09:45:00Z"))
    );
}

/// The valid readings whose code the location file places: counted independently of the
/// aggregator.
fn city_used_of(
    snapshot: &almanac::sources::madrid::pm::Snapshot,
    located: &almanac::sources::madrid::points::Points,
) -> f64 {
    let codes: BTreeSet<_> = located
        .points
        .iter()
        .filter_map(|p| p.code.as_deref())
        .collect();
    snapshot
        .readings
        .iter()
        .filter(|r| r.error == "N" && r.intensity.is_some_and(|i| i >= 0.0))
        .filter(|r| codes.contains(r.point.as_str()))
        .count() as f64
}

#[test]
fn madrid_point_files_convert_utm_and_refuse_mangled_coordinates() {
    use almanac::sources::madrid::points;
    let (Some(current), Some(mangled)) = (
        read("madrid-traffic/sentinel__intens_points_pmed_ubicacion.csv"),
        read("madrid-traffic/azazeln28__pmed_ubicacion_2016_cp1252_crlf.csv"),
    ) else {
        return;
    };
    let parsed = points::parse(&current).unwrap();
    assert_eq!((parsed.points.len(), parsed.rejects.len()), (4072, 0));
    let madrid = almanac::domain::Coordinates::new(40.4168, -3.7038).unwrap();
    assert!(
        parsed
            .points
            .iter()
            .all(|p| p.coordinates.distance_km(madrid) < 25.0)
    );
    let first = &parsed.points[0];
    assert_eq!(
        (
            first.id.as_str(),
            first.code.as_deref(),
            first.kind.as_str()
        ),
        ("1006", Some("04FT74PM01"), "m30")
    );
    assert!((first.coordinates.latitude - 40.411_893_9).abs() < 1e-6);
    assert!((first.coordinates.longitude + 3.736_323_5).abs() < 1e-6);
    assert_eq!(
        parsed.points.iter().filter(|p| p.kind == "urban").count()
            + parsed.points.iter().filter(|p| p.kind == "m30").count(),
        4072
    );

    assert!(
        std::str::from_utf8(&mangled).is_err(),
        "Latin-1 with embedded UTF-8"
    );
    let parsed = points::parse(&mangled).unwrap();
    assert_eq!((parsed.points.len(), parsed.rejects.len()), (0, 3868));
    assert!(
        parsed.rejects[0].reason.contains("not UTM metres"),
        "{:?}",
        parsed.rejects[0]
    );
}

#[test]
fn openweathermap_bodies_in_kelvin_and_metric() {
    use almanac::sources::owm::parse::{Units, parse};
    let (
        Some(onecall),
        Some(current),
        Some(forecast),
        Some(oc_current),
        Some(oc_hourly),
        Some(minutely),
    ) = (
        read("openweathermap/homeassistant__onecall3_london_2024-10-25.json"),
        read("openweathermap/pyopenweathermap__free_current.json"),
        read("openweathermap/pyopenweathermap__free_forecast.json"),
        read("openweathermap/pyopenweathermap__onecall_current.json"),
        read("openweathermap/pyopenweathermap__onecall_hourly.json"),
        read("openweathermap/pyopenweathermap__onecall_minutely.json"),
    )
    else {
        return;
    };
    let london = parse(&onecall, Units::Standard).unwrap();
    conforms(&london);
    assert!(london.rejects.is_empty(), "{:?}", london.rejects);
    // current at 15:59:18Z → the 16:00 hour; 287.89 K → 14.74 °C; rain.1h 0.29 over the hour before.
    let temperature = series(&london, None, "temperature");
    assert!(temperature.contains(&(utc("2024-10-25T16:00:00Z"), 14.74)));
    assert!(temperature.contains(&(utc("2024-10-25T15:00:00Z"), 15.2)));
    assert_eq!(
        temperature.len(),
        48,
        "48 hourly entries, the current one at 16:00 among them"
    );
    let precipitation = series(&london, None, "precipitation");
    assert_eq!(precipitation.len(), 48);
    assert!(precipitation.contains(&(utc("2024-10-25T16:00:00Z"), 0.29)));
    assert_eq!(
        precipitation.iter().filter(|(_, v)| *v > 0.0).count(),
        3,
        "rain only where it fell"
    );
    assert!(
        series(&london, None, "pressure").is_empty(),
        "One Call pressure is at sea level"
    );
    let days = series(&london, None, "precipitation_sum");
    assert_eq!(
        (days.len(), days[0]),
        (8, (utc("2024-10-25T00:00:00Z"), 0.54))
    );
    assert_eq!(series(&london, None, "temperature_max")[0].1, 17.09);

    let zocca = parse(&current, Units::Standard).unwrap();
    conforms(&zocca);
    // dt 1661870592 = 14:43:12Z → 15:00; 298.48 K; grnd_level 933 hPa is station pressure.
    let at = utc("2022-08-30T15:00:00Z");
    assert_eq!(series(&zocca, None, "temperature"), vec![(at, 25.33)]);
    assert_eq!(series(&zocca, None, "pressure"), vec![(at, 933.0)]);
    assert_eq!(series(&zocca, None, "precipitation"), vec![(at, 3.16)]);

    let item = parse(&forecast, Units::Standard).unwrap();
    conforms(&item);
    assert!(
        series(&item, None, "precipitation").is_empty(),
        "a 3-hour amount is not an hour's"
    );
    assert_eq!(
        series(&item, None, "temperature"),
        vec![(utc("2022-08-30T15:00:00Z"), 23.61)]
    );

    let metric = parse(&oc_current, Units::Metric).unwrap();
    conforms(&metric);
    assert_eq!(series(&metric, None, "temperature")[0].1, 6.84);
    let hourly = parse(&oc_hourly, Units::Metric).unwrap();
    conforms(&hourly);
    assert_eq!(series(&hourly, None, "wind_speed")[0].1, 1.02);
    // A minutely element is a precipitation rate for one minute: nothing almanac stores.
    let minutely = parse(&minutely, Units::Metric).unwrap();
    assert!(minutely.readings.is_empty() && minutely.rejects.is_empty());
}

#[test]
fn meteostat_hourly_json_with_nulls_and_kmh() {
    let (Some(recent), Some(sparse)) = (
        read("meteostat/spadacciniweb__json_api_hourly_16230_2021-07-21_30d.json"),
        read("meteostat/spadacciniweb__json_api_hourly_16230_1984-08-04_30d_sparse.json"),
    ) else {
        return;
    };
    let payload = almanac::sources::meteostat::parse(&recent).unwrap();
    conforms(&payload);
    assert!(payload.rejects.is_empty(), "{:?}", payload.rejects);
    // 720 hours: temp, rhum, wspd, wdir every hour, prcp on 62.
    assert_eq!(payload.readings.len(), 720 * 4 + 62);
    let at = utc("2021-07-21T00:00:00Z");
    assert_eq!(series(&payload, None, "temperature")[0], (at, 23.0));
    assert_eq!(
        series(&payload, None, "wind_speed")[0],
        (at, 1.5),
        "5.4 km/h"
    );
    let sparse = almanac::sources::meteostat::parse(&sparse).unwrap();
    conforms(&sparse);
    assert_eq!(
        sparse.readings.len(),
        286 + 284 + 291 + 115,
        "nulls are missing, not zero"
    );
}
