//! A simulated Madrid traffic portal that speaks the real formats: the measurement-point file in
//! its 2019+ layout (`tipo_elem;distrito;id;cod_cent;nombre;utm_x;utm_y;longitud;latitud`, UTM
//! with decimal commas), the real-time `pm.xml` in its current schema (`<fecha_hora>` in Madrid
//! local time, `<idelem>`, `<st_x>/<st_y>`), and one history ZIP per complete month holding
//! `MM-YYYY.csv` (`"id";"fecha";…` in Madrid local time, so the autumn hour appears twice). A
//! month not yet over answers 404, as the portal has no file for it yet. Traffic follows a
//! plausible week: morning and evening rush, quieter weekends, detectors that sometimes report
//! errors (`E`, `S`).

use std::io::Write;

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::tz::TimeZone;

use super::climate::{noise, round, unit};
use crate::domain::{Coordinates, Step, TimeRange, Timestamp};
use crate::sources::madrid::utm;

pub const POINTS_PATH: &str = "/madrid/pmed_ubicacion.csv";
pub const PM_PATH: &str = "/madrid/pm.xml";
/// The history URL template the source is configured with (`{month}` and `{year}` filled in).
pub const HISTORY_TEMPLATE: &str = "/madrid/history/{month}-{year}.zip";

/// The simulated detectors: 24 around the centre, every fourth on the M-30.
pub const POINTS: usize = 24;

pub struct SimPoint {
    pub id: u32,
    pub m30: bool,
    pub coordinates: Coordinates,
    pub capacity: f64,
}

pub fn points() -> Vec<SimPoint> {
    (0..POINTS)
        .map(|i| {
            let angle = i as f64 * 2.399_963; // golden angle: spread evenly
            let distance_km = 0.6 + 7.0 * ((i as f64 + 0.5) / POINTS as f64).sqrt();
            let latitude = 40.4168 + distance_km / 111.0 * angle.sin();
            let longitude = -3.7038 + distance_km / 85.0 * angle.cos();
            let m30 = i % 4 == 0;
            SimPoint {
                id: 1_000 + i as u32 * 7,
                m30,
                coordinates: Coordinates::new(latitude, longitude).expect("near Madrid"),
                capacity: if m30 {
                    5_400.0
                } else {
                    1_500.0 + 150.0 * (i % 5) as f64
                },
            }
        })
        .collect()
}

/// One detector's reading for the quarter hour starting at `ts`.
pub struct SimReading {
    pub intensity: f64,
    pub occupancy: f64,
    pub load: f64,
    pub speed: Option<f64>,
    pub service_level: f64,
    pub error: &'static str,
}

pub fn reading(point: &SimPoint, ts: Timestamp) -> SimReading {
    let zone = TimeZone::get("Europe/Madrid").unwrap_or(TimeZone::UTC);
    reading_at(point, ts, Local::of(&ts.to_jiff().to_zoned(zone)))
}

/// What of Madrid's local time the traffic depends on.
#[derive(Clone, Copy)]
struct Local {
    hour: f64,
    weekend: bool,
}

impl Local {
    fn of(local: &jiff::Zoned) -> Self {
        Self {
            hour: f64::from(local.hour()) + f64::from(local.minute()) / 60.0,
            weekend: local.weekday().to_monday_one_offset() >= 6,
        }
    }
}

fn reading_at(point: &SimPoint, ts: Timestamp, local: Local) -> SimReading {
    let Local { hour, weekend } = local;
    let rush = |centre: f64, width: f64| (-(hour - centre).powi(2) / width).exp();
    let daily = if weekend {
        0.15 + 0.45 * rush(13.0, 12.0) + 0.25 * rush(20.0, 6.0)
    } else {
        0.1 + 0.8 * rush(8.5, 1.5) + 0.55 * rush(14.0, 4.0) + 0.75 * rush(18.5, 2.5)
    };
    let seed = u64::from(point.id);
    let hours = ts.epoch() as f64 / 3_600.0;
    let wobble = 1.0 + 0.12 * noise(seed, 21, hours, 3.0);
    let intensity = (point.capacity * 0.7 * daily * wobble).max(0.0).round();
    let load = round((intensity / point.capacity * 100.0).min(140.0), 0);
    let occupancy = round((load * 0.35).min(100.0), 0);
    let service_level = match load {
        l if l < 40.0 => 0.0,
        l if l < 70.0 => 1.0,
        l if l < 95.0 => 2.0,
        _ => 3.0,
    };
    let speed = point
        .m30
        .then(|| round((90.0 - 0.5 * load).clamp(8.0, 90.0), 0));
    let dice = unit(seed ^ (ts.epoch() as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let error = match dice {
        d if d < 0.01 => "S",
        d if d < 0.025 => "E",
        _ => "N",
    };
    SimReading {
        intensity,
        occupancy,
        load,
        speed,
        service_level,
        error,
    }
}

pub fn router() -> Router {
    Router::new()
        .route(POINTS_PATH, get(|| async { points_file() }))
        .route(PM_PATH, get(|| async { pm_xml(Timestamp::now()) }))
        .route(
            "/madrid/history/{file}",
            get(|Path(file): Path<String>| async move { history(&file, Timestamp::now()) }),
        )
}

fn decimal_comma(value: f64) -> String {
    format!("{value:.6}").replace('.', ",")
}

fn points_file() -> Response {
    let mut csv =
        String::from("tipo_elem;distrito;id;cod_cent;nombre;utm_x;utm_y;longitud;latitud\r\n");
    for p in points() {
        let (x, y) = utm::from_wgs84(30, p.coordinates);
        csv.push_str(&format!(
            "{};{};{};{:02}{:03};{} {};{};{};{};{}\r\n",
            if p.m30 { "M30" } else { "URB" },
            1 + p.id % 21,
            p.id,
            p.id % 100,
            p.id % 1000,
            if p.m30 { "M-30 PM" } else { "Calle simulada" },
            p.id,
            decimal_comma(x),
            decimal_comma(y),
            p.coordinates.longitude,
            p.coordinates.latitude,
        ));
    }
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv).into_response()
}

fn pm_xml(now: Timestamp) -> Response {
    let zone = TimeZone::get("Europe/Madrid").unwrap_or(TimeZone::UTC);
    let period = now
        .floor(Step::QUARTER_HOUR)
        .plus(-Step::QUARTER_HOUR.seconds());
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<pms>\n  <fecha_hora>{}</fecha_hora>\n",
        now.to_jiff().to_zoned(zone).strftime("%d/%m/%Y %H:%M:%S")
    );
    for p in points() {
        let r = reading(&p, period);
        let (x, y) = utm::from_wgs84(30, p.coordinates);
        xml.push_str(&format!(
            "  <pm>\n    <idelem>{}</idelem>\n    <intensidad>{}</intensidad>\n    <ocupacion>{}</ocupacion>\n    <carga>{}</carga>\n    <nivelServicio>{}</nivelServicio>\n",
            p.id, r.intensity, r.occupancy, r.load, r.service_level
        ));
        if let Some(speed) = r.speed {
            xml.push_str(&format!("    <velocidad>{speed}</velocidad>\n"));
        }
        xml.push_str(&format!(
            "    <error>{}</error>\n    <st_x>{}</st_x>\n    <st_y>{}</st_y>\n  </pm>\n",
            r.error,
            decimal_comma(x),
            decimal_comma(y)
        ));
    }
    xml.push_str("</pms>\n");
    ([(header::CONTENT_TYPE, "application/xml")], xml).into_response()
}

/// `MM-YYYY.zip` for a local month that is over; 404 otherwise.
fn history(file: &str, now: Timestamp) -> Response {
    let not_found = || (StatusCode::NOT_FOUND, "no such file").into_response();
    let Some((month, year)) = file
        .strip_suffix(".zip")
        .and_then(|f| f.split_once('-'))
        .and_then(|(m, y)| Some((m.parse::<i8>().ok()?, y.parse::<i16>().ok()?)))
    else {
        return not_found();
    };
    let zone = TimeZone::get("Europe/Madrid").unwrap_or(TimeZone::UTC);
    let Some(range) = local_month(year, month, &zone) else {
        return not_found();
    };
    if range.end > now {
        return not_found();
    }
    match zip_month(range, &format!("{month:02}-{year}.csv"), &zone) {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/zip")], bytes).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// The instants a local calendar month covers.
pub fn local_month(year: i16, month: i8, zone: &TimeZone) -> Option<TimeRange> {
    let first = jiff::civil::date(year, month, 1);
    let start = first.to_zoned(zone.clone()).ok()?;
    let end = first
        .checked_add(jiff::Span::new().months(1))
        .ok()?
        .to_zoned(zone.clone())
        .ok()?;
    TimeRange::new(
        Timestamp::from_epoch(start.timestamp().as_second()),
        Timestamp::from_epoch(end.timestamp().as_second()),
    )
}

fn zip_month(range: TimeRange, name: &str, zone: &TimeZone) -> std::io::Result<Vec<u8>> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file(name, zip::write::SimpleFileOptions::default())
        .map_err(std::io::Error::other)?;
    let mut out = std::io::BufWriter::new(&mut zip);
    writeln!(
        out,
        "\"id\";\"fecha\";\"tipo_elem\";\"intensidad\";\"ocupacion\";\"carga\";\"vmed\";\"error\";\"periodo_integracion\""
    )?;
    // Local times once per month, not once per row.
    let mut periods = Vec::new();
    let mut ts = range.start;
    while ts < range.end {
        let local = ts.to_jiff().to_zoned(zone.clone());
        periods.push((
            ts,
            local.strftime("%Y-%m-%d %H:%M:%S").to_string(),
            Local::of(&local),
        ));
        ts = ts.plus(Step::QUARTER_HOUR.seconds());
    }
    for p in points() {
        for (ts, label, local) in &periods {
            let r = reading_at(&p, *ts, *local);
            writeln!(
                out,
                "{};\"{label}\";\"{}\";{};{};{};{};\"{}\";15",
                p.id,
                if p.m30 { "M30" } else { "URB" },
                r.intensity,
                r.occupancy,
                r.load,
                r.speed.unwrap_or(0.0),
                r.error,
            )?;
        }
    }
    out.flush()?;
    drop(out);
    Ok(zip.finish().map_err(std::io::Error::other)?.into_inner())
}
