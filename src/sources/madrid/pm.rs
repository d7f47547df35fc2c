//! The real-time `pm.xml` snapshot, in both schemas (`shared/reference/upstream-formats.md`
//! §4.1): the current one (`<fecha_hora>` in Madrid local time, `<idelem>`, `<st_x>/<st_y>` UTM
//! with decimal commas) and the pre-2019 one (no time, `<codigo>`, no coordinates, literal
//! `Error` in numeric fields). Empty or missing elements and `-1` are missing values. Detectors
//! integrate over 15 minutes, so a snapshot holds the last complete period: its readings are
//! stamped at the quarter hour before the one the snapshot was taken in.

use std::collections::BTreeMap;

use jiff::civil::DateTime;
use quick_xml::events::Event;

use crate::domain::{Coordinates, Reject, Step, Timestamp};
use crate::sources::SourceError;
use crate::sources::madrid::{PointReading, utm};
use crate::sources::text::{decimal, utf8_or_latin1};

/// The number Madrid writes where a detector has no value.
pub const NO_DATA: f64 = -1.0;

/// Madrid's time zone: every local time in its files is in it.
pub const ZONE: &str = "Europe/Madrid";

#[derive(Debug, Default)]
pub struct Snapshot {
    /// The snapshot's own time (`<fecha_hora>`), when the schema has one.
    pub time: Option<Timestamp>,
    pub readings: Vec<PointReading>,
    /// Where each point is, when the snapshot says (current schema).
    pub coordinates: Vec<(String, Coordinates)>,
    pub rejects: Vec<Reject>,
}

/// Parses a snapshot. `fallback` is the time to stamp readings with when the snapshot has no
/// `<fecha_hora>` (the pre-2019 schema): the time it was fetched.
pub fn parse(bytes: &[u8], fallback: Option<Timestamp>) -> Result<Snapshot, SourceError> {
    let text = utf8_or_latin1(bytes);
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut snapshot = Snapshot::default();
    let mut fields: Option<BTreeMap<String, String>> = None;
    let mut pms: Vec<BTreeMap<String, String>> = Vec::new();
    let mut current: Option<String> = None;
    let mut seen_root = false;
    loop {
        let event = reader.read_event().map_err(|e| {
            SourceError::Malformed(format!(
                "broken XML at byte {}: {e}",
                reader.buffer_position()
            ))
        })?;
        match event {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                match name.as_str() {
                    "pms" => seen_root = true,
                    "pm" => fields = Some(BTreeMap::new()),
                    _ => current = Some(name),
                }
            }
            Event::Text(t) => {
                if let Some(name) = &current {
                    let value = t
                        .decode()
                        .map_err(|e| SourceError::Malformed(format!("bad text in <{name}>: {e}")))?
                        .trim()
                        .to_owned();
                    match fields.as_mut() {
                        Some(fields) => {
                            fields.insert(name.clone(), value);
                        }
                        None if name == "fecha_hora" => {
                            snapshot.time = Some(local_time(&value).ok_or_else(|| {
                                SourceError::Malformed(format!(
                                    "<fecha_hora> `{value}` is not dd/mm/yyyy hh:mm:ss"
                                ))
                            })?);
                        }
                        None => {}
                    }
                }
            }
            Event::End(e) => {
                if e.name().as_ref() == b"pm"
                    && let Some(done) = fields.take()
                {
                    pms.push(done);
                }
                current = None;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !seen_root {
        return Err(SourceError::Malformed("not a pm.xml: no <pms> root".into()));
    }
    let Some(time) = snapshot.time.or(fallback) else {
        return Err(SourceError::Malformed(
            "the snapshot has no <fecha_hora> (pre-2019 schema) and no fetch time was given".into(),
        ));
    };
    let ts = time
        .floor(Step::QUARTER_HOUR)
        .plus(-Step::QUARTER_HOUR.seconds());
    for pm in pms {
        let field = |name: &str| pm.get(name).map(String::as_str).filter(|v| !v.is_empty());
        let Some(point) = field("idelem").or(field("codigo")) else {
            snapshot.rejects.push(Reject {
                record: format!("{pm:?}"),
                reason: "a <pm> with neither <idelem> nor <codigo>".into(),
                value: None,
            });
            continue;
        };
        let error = field("error").unwrap_or("").to_owned();
        let mut number = |name: &str| {
            let raw = field(name)?;
            let value = decimal(raw);
            if value == Some(NO_DATA) {
                return None;
            }
            if value.is_none() && error == "N" {
                snapshot.rejects.push(Reject {
                    record: format!("point {point}: <{name}>{raw}</{name}>"),
                    reason: format!("<{name}> is not a number"),
                    value: None,
                });
            }
            value
        };
        let reading = PointReading {
            point: point.to_owned(),
            ts,
            intensity: number("intensidad"),
            occupancy: number("ocupacion"),
            load: number("carga"),
            average_speed: number("velocidad"),
            service_level: number("nivelServicio"),
            error,
        };
        if let (Some(x), Some(y)) = (field("st_x"), field("st_y"))
            && let Some(c) = decimal(x)
                .zip(decimal(y))
                .and_then(|(x, y)| utm::to_wgs84(30, x, y))
        {
            snapshot.coordinates.push((point.to_owned(), c));
        }
        snapshot.readings.push(reading);
    }
    Ok(snapshot)
}

/// `dd/mm/yyyy hh:mm:ss` in Madrid local time as an instant (in the repeated autumn hour, the
/// earlier of the two).
fn local_time(text: &str) -> Option<Timestamp> {
    let civil = DateTime::strptime("%d/%m/%Y %H:%M:%S", text.trim()).ok()?;
    let zone = jiff::tz::TimeZone::get(ZONE).ok()?;
    let zoned = civil.to_zoned(zone).ok()?;
    Some(Timestamp::from_epoch(zoned.timestamp().as_second()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_schema_carries_its_time_and_coordinates() {
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<pms>\
            <fecha_hora>20/05/2026 12:50:19</fecha_hora>\
            <pm><idelem>9841</idelem><descripcion>Pº Castellana</descripcion>\
            <intensidad>400</intensidad><ocupacion>3</ocupacion><carga>16</carga>\
            <nivelServicio>0</nivelServicio><intensidadSat>3100</intensidadSat>\
            <error>N</error><subarea>0328</subarea>\
            <st_x>438339,375874991</st_x><st_y>4480454,96970565</st_y></pm>\
            <pm><idelem>1001</idelem><intensidad></intensidad><velocidad>Error</velocidad><error>N</error></pm>\
            </pms>";
        let snapshot = parse(xml.as_bytes(), None).unwrap();
        // 12:50:19 CEST = 10:50:19 UTC, taken in the 10:45 quarter hour: the 10:30 period.
        assert_eq!(snapshot.time, Some(Timestamp::from_epoch(1_779_274_219)));
        assert_eq!(
            snapshot.readings[0].ts,
            Timestamp::from_epoch(1_779_273_000)
        );
        assert_eq!(snapshot.readings[0].intensity, Some(400.0));
        assert_eq!(snapshot.readings[1].intensity, None);
        assert_eq!(snapshot.coordinates.len(), 1);
        assert!((snapshot.coordinates[0].1.latitude - 40.47).abs() < 0.01);
        assert_eq!(snapshot.rejects.len(), 1, "{:?}", snapshot.rejects);
        assert!(parse(b"<pms><pm><codigo>1</codigo></pm></pms>", None).is_err());
        assert!(parse(b"<html>", None).is_err());
    }
}
