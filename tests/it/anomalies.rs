//! Anomaly detection on the series the demo stores (Madrid's weather, its traffic as the
//! source aggregates the simulated detectors, spot and PVPC prices) with the default settings:
//! weekly patterns, weather regimes and rain are what these series do, so a month of each must
//! raise at most a handful of anomalies. The only faults in them are the detectors' own error
//! readings (`E`, `S`, 2.5 % of them), which leave a detector (an M-30 one carries three times
//! the traffic of the others) out of the city's mean now and then; the city's intensity may
//! show those, and only those. The injected water
//! faults are checked in `processing.rs` (`the_anomalies_found_are_the_injected_ones`).

use std::collections::{BTreeMap, HashSet};

use almanac::demo::{climate, madrid, ree};
use almanac::domain::anomaly::{self, Profile, Settings};
use almanac::domain::{Step, Timestamp};
use almanac::sources::madrid::{CityAggregator, PointReading};

/// 2026-09-01T00:00Z: the month scored is October, the four weeks before are the reference.
const START: i64 = 1_788_220_800;
const REFERENCE_DAYS: i64 = 30;
const SCORED_DAYS: i64 = 31;

/// A series' name, step, values and the calendar profile it must be found to have.
type Case<'a> = (&'a str, Step, Vec<(Timestamp, f64)>, Option<Profile>);

fn series(step: Step, value: impl Fn(Timestamp) -> Option<f64>) -> Vec<(Timestamp, f64)> {
    let n = (REFERENCE_DAYS + SCORED_DAYS) * 86_400 / step.seconds();
    (0..n)
        .map(|i| Timestamp::from_epoch(START + i * step.seconds()))
        .filter_map(|ts| value(ts).map(|v| (ts, v)))
        .collect()
}

#[test]
fn a_month_of_fault_free_demo_series_raises_a_handful_of_anomalies() {
    let defaults = almanac::config::load(None, Vec::new()).unwrap().processing;
    let zone = jiff::tz::TimeZone::get("Europe/Madrid").unwrap();
    let (lat, lon) = (40.4168, -3.7038);
    let weather = |f: fn(&climate::Hour) -> f64| {
        series(Step::HOUR, move |ts| Some(f(&climate::hour(lat, lon, ts))))
    };
    // The city's traffic as the source makes it, and the quarter hours some detector's reading
    // was refused (about 45 % of them).
    let detectors = madrid::points();
    let mut city = CityAggregator::new(detectors.iter().map(|p| p.id.to_string()).collect());
    let mut refused = HashSet::new();
    for ts in series(Step::QUARTER_HOUR, |_| Some(0.0))
        .into_iter()
        .map(|(ts, _)| ts)
    {
        for point in &detectors {
            let r = madrid::reading(point, ts);
            if r.error != "N" {
                refused.insert(ts);
            }
            city.add(&PointReading {
                point: point.id.to_string(),
                ts,
                intensity: Some(r.intensity),
                occupancy: Some(r.occupancy),
                load: Some(r.load),
                average_speed: r.speed,
                service_level: Some(r.service_level),
                error: r.error.into(),
            });
        }
    }
    let mut stored: BTreeMap<&str, Vec<(Timestamp, f64)>> = BTreeMap::new();
    for o in city.finish() {
        stored.entry(o.variable).or_default().push((o.ts, o.value));
    }
    let mut traffic = |name: &str| stored.remove(name).unwrap();
    let cases: Vec<Case> = vec![
        ("temperature", Step::HOUR, weather(|h| h.temperature), None),
        ("humidity", Step::HOUR, weather(|h| h.humidity), None),
        ("pressure", Step::HOUR, weather(|h| h.pressure), None),
        ("wind_speed", Step::HOUR, weather(|h| h.wind_speed), None),
        (
            "precipitation",
            Step::HOUR,
            weather(|h| h.precipitation),
            None,
        ),
        (
            "intensity",
            Step::QUARTER_HOUR,
            traffic("intensity"),
            Some(Profile::Weekly),
        ),
        (
            "occupancy",
            Step::QUARTER_HOUR,
            traffic("occupancy"),
            Some(Profile::Weekly),
        ),
        (
            "load",
            Step::QUARTER_HOUR,
            traffic("load"),
            Some(Profile::Weekly),
        ),
        (
            "average_speed",
            Step::QUARTER_HOUR,
            traffic("average_speed"),
            Some(Profile::Weekly),
        ),
        (
            "spot",
            Step::HOUR,
            series(Step::HOUR, |ts| Some(ree::spot(ts))),
            None,
        ),
        (
            "pvpc",
            Step::HOUR,
            series(Step::HOUR, |ts| Some(ree::pvpc(ts))),
            Some(Profile::Weekly),
        ),
    ];
    let from = Timestamp::from_epoch(START + REFERENCE_DAYS * 86_400);
    let mut total = 0;
    let mut report = Vec::new();
    for (name, step, values, expected_profile) in cases {
        if let Some(expected) = expected_profile {
            assert_eq!(anomaly::profile(&values, &zone), expected, "{name}");
        }
        let settings = Settings {
            step,
            zone: &zone,
            min_points: defaults.min_points as usize,
            bounds: None,
            flatline_seconds: i64::from(defaults.flatline_minutes) * 60,
            materiality: defaults.materiality,
        };
        let found = anomaly::detect(&values, from, &settings);
        report.push(format!("{name} {}", found.len()));
        let allowed = if name == "intensity" {
            // A quarter hour without a detector: the mean of the others is another figure.
            let elsewhere: Vec<_> = found.iter().filter(|a| !refused.contains(&a.ts)).collect();
            assert!(
                elsewhere.is_empty(),
                "intensity with every detector in: {elsewhere:#?}"
            );
            10
        } else {
            total += found.len();
            2
        };
        assert!(
            found.len() <= allowed,
            "{name}: {} in a month: {found:#?}",
            found.len()
        );
    }
    eprintln!(
        "anomalies in a month of fault-free demo series: {}",
        report.join(", ")
    );
    assert!(
        total <= 3,
        "{total} anomalies in all: {}",
        report.join(", ")
    );
}
