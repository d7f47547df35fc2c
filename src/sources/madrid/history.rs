//! The monthly 15-minute history (dataset 208627): one ZIP per month holding `MM-YYYY.csv`, about
//! 13 million rows, read as a stream in constant memory. Header variants: current
//! `"id";"fecha";"tipo_elem";"intensidad";"ocupacion";"carga";"vmed";"error";"periodo_integracion"`,
//! older ones with `idelem` and `identif`, `;` or `,` separators, quoted or bare numbers. `fecha`
//! is Madrid local time without an offset: in the repeated autumn hour a point's second reading
//! of the same local time is the later instant (rows of a point come in time order); a local time
//! that does not exist (the spring-forward hour) is a reject.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};

use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};

use crate::domain::{Reject, Timestamp};
use crate::sources::SourceError;
use crate::sources::madrid::PointReading;
use crate::sources::madrid::pm::{NO_DATA, ZONE};
use crate::sources::text::decimal;

/// Column positions found in the header.
struct Columns {
    id: usize,
    fecha: usize,
    intensidad: Option<usize>,
    ocupacion: Option<usize>,
    carga: Option<usize>,
    vmed: Option<usize>,
    error: Option<usize>,
}

/// A `fecha` read: its instant, both instants of a repeated autumn hour, or none (the hour
/// clocks jump forward over).
#[derive(Clone, Copy)]
enum Local {
    At(i64),
    Fold { before: i64, after: i64 },
    Gap,
}

/// `fecha` texts already read that are kept (a month's ~3,000 quarter hours recur once per
/// point); past this many the memo starts again, so memory stays bounded whatever the file.
const LOCALS_KEPT: usize = 50_000;

/// A streaming reader of one month's CSV: an iterator of readings or rejects.
pub struct History<R: Read> {
    rows: csv::Reader<std::io::Chain<std::io::Cursor<Vec<u8>>, BufReader<R>>>,
    /// The row being read, reused (a record a row costs an allocation or more).
    record: Option<csv::StringRecord>,
    columns: Columns,
    zone: TimeZone,
    /// The last instant of each point, to place the repeated autumn hour.
    last: HashMap<String, i64>,
    /// What each `fecha` text seen means (parsing it and asking the zone cost most of a row).
    locals: HashMap<Box<str>, Local>,
    /// Why reading stopped early (the stream broke off), once it has.
    pub broken: Option<String>,
}

impl<R: Read> History<R> {
    pub fn new(reader: R) -> Result<Self, SourceError> {
        let mut reader = BufReader::with_capacity(1 << 16, reader);
        let mut first = Vec::new();
        reader
            .read_until(b'\n', &mut first)
            .map_err(|e| SourceError::Malformed(format!("unreadable history file: {e}")))?;
        let header = String::from_utf8_lossy(&first)
            .trim()
            .trim_start_matches('\u{feff}')
            .to_owned();
        let delimiter = if header.contains(';') { b';' } else { b',' };
        let names: Vec<String> = header
            .split(char::from(delimiter))
            .map(|h| h.trim().trim_matches('"').to_lowercase())
            .collect();
        let find =
            |candidates: &[&str]| names.iter().position(|n| candidates.contains(&n.as_str()));
        let (Some(id), Some(fecha)) = (find(&["id", "idelem"]), find(&["fecha"])) else {
            return Err(SourceError::Malformed(format!(
                "not a Madrid traffic history file: no id/idelem and fecha in `{header}`"
            )));
        };
        let columns = Columns {
            id,
            fecha,
            intensidad: find(&["intensidad"]),
            ocupacion: find(&["ocupacion"]),
            carga: find(&["carga"]),
            vmed: find(&["vmed"]),
            error: find(&["error"]),
        };
        let rows = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(true)
            .flexible(true)
            .from_reader(std::io::Cursor::new(first).chain(reader));
        let zone = TimeZone::get(ZONE)
            .map_err(|e| SourceError::Malformed(format!("time zone {ZONE}: {e}")))?;
        Ok(Self {
            rows,
            record: Some(csv::StringRecord::new()),
            columns,
            zone,
            last: HashMap::new(),
            locals: HashMap::new(),
            broken: None,
        })
    }

    /// What the local time `text` means in Madrid.
    fn local(&mut self, text: &str) -> Result<Local, String> {
        if let Some(&local) = self.locals.get(text) {
            return Ok(local);
        }
        let civil = DateTime::strptime("%Y-%m-%d %H:%M:%S", text)
            .or_else(|_| DateTime::strptime("%d/%m/%Y %H:%M:%S", text))
            .map_err(|_| format!("`fecha` {text} is not yyyy-mm-dd hh:mm:ss"))?;
        let at = |offset| {
            civil
                .to_zoned(TimeZone::fixed(offset))
                .map(|z| z.timestamp().as_second())
                .map_err(|e| format!("`fecha` {text}: {e}"))
        };
        let local = match self.zone.to_ambiguous_timestamp(civil).offset() {
            AmbiguousOffset::Unambiguous { offset } => Local::At(at(offset)?),
            AmbiguousOffset::Fold { before, after } => Local::Fold {
                before: at(before)?,
                after: at(after)?,
            },
            AmbiguousOffset::Gap { .. } => Local::Gap,
        };
        if self.locals.len() >= LOCALS_KEPT {
            self.locals.clear();
        }
        self.locals.insert(text.into(), local);
        Ok(local)
    }

    fn reading(&mut self, row: &csv::StringRecord) -> Result<PointReading, String> {
        let cell = |i: Option<usize>| i.and_then(|i| row.get(i)).map(str::trim).unwrap_or("");
        let point = cell(Some(self.columns.id));
        if point.is_empty() {
            return Err("no point id".into());
        }
        let local = cell(Some(self.columns.fecha));
        let epoch = match self.local(local)? {
            Local::At(epoch) => epoch,
            // The point's second reading of a repeated local time is the later instant.
            Local::Fold { before, after } => match self.last.get(point) {
                Some(&seen) if seen >= before => after,
                _ => before,
            },
            Local::Gap => {
                return Err(format!(
                    "`fecha` {local} does not exist in Madrid (clocks jump forward)"
                ));
            }
        };
        match self.last.get_mut(point) {
            Some(last) => *last = epoch,
            None => {
                self.last.insert(point.to_owned(), epoch);
            }
        }
        let number = |i: Option<usize>| {
            let raw = cell(i);
            if raw.is_empty() {
                return Ok(None);
            }
            decimal(raw)
                .map(|v| Some(v).filter(|v| *v != NO_DATA))
                .ok_or_else(|| format!("`{raw}` is not a number"))
        };
        Ok(PointReading {
            point: point.to_owned(),
            ts: Timestamp::from_epoch(epoch),
            intensity: number(self.columns.intensidad)?,
            occupancy: number(self.columns.ocupacion)?,
            load: number(self.columns.carga)?,
            // vmed is 0 (or -1) where a point does not measure speed (urban detectors).
            average_speed: number(self.columns.vmed)?.filter(|v| *v > 0.0),
            service_level: None,
            error: cell(self.columns.error).to_owned(),
        })
    }
}

impl<R: Read> Iterator for History<R> {
    type Item = Result<PointReading, Reject>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.broken.is_some() {
            return None;
        }
        let mut row = self.record.take().unwrap_or_default();
        let item = match self.rows.read_record(&mut row) {
            Ok(false) => None,
            Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => {
                if let csv::ErrorKind::Io(io) = e.kind() {
                    self.broken = Some(format!("the file broke off: {io}"));
                }
                None
            }
            Ok(true) => Some(self.reading(&row).map_err(|reason| Reject {
                record: row.iter().collect::<Vec<_>>().join(";"),
                reason,
                value: None,
            })),
            Err(e) => Some(Err(Reject {
                record: e
                    .position()
                    .map_or("?".into(), |p| format!("line {}", p.line())),
                reason: format!("unreadable CSV row: {e}"),
                value: None,
            })),
        };
        self.record = Some(row);
        item
    }
}

/// Streams the month's CSV inside a history ZIP (its first `.csv` entry) through `each`,
/// decompressing as it reads.
pub fn stream_zip<R: Read + std::io::Seek>(
    archive: R,
    mut each: impl FnMut(Result<PointReading, Reject>),
) -> Result<(), SourceError> {
    let mut archive = zip::ZipArchive::new(archive)
        .map_err(|e| SourceError::Malformed(format!("not a ZIP archive: {e}")))?;
    let index = (0..archive.len())
        .find(|&i| {
            archive
                .name_for_index(i)
                .and_then(Result::ok)
                .is_some_and(|n| n.to_lowercase().ends_with(".csv"))
        })
        .ok_or_else(|| SourceError::Malformed("the ZIP holds no .csv file".into()))?;
    let entry = archive
        .by_index(index)
        .map_err(|e| SourceError::Malformed(format!("unreadable ZIP entry: {e}")))?;
    let mut history = History::new(entry)?;
    for item in history.by_ref() {
        each(item);
    }
    match history.broken {
        Some(reason) => Err(SourceError::Malformed(reason)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(csv: &str) -> (Vec<PointReading>, Vec<Reject>) {
        let (mut ok, mut bad) = (Vec::new(), Vec::new());
        for item in History::new(csv.as_bytes()).unwrap() {
            match item {
                Ok(r) => ok.push(r),
                Err(r) => bad.push(r),
            }
        }
        (ok, bad)
    }

    #[test]
    fn local_times_become_instants_through_both_daylight_saving_changes() {
        let csv = "\"id\";\"fecha\";\"tipo_elem\";\"intensidad\";\"ocupacion\";\"carga\";\"vmed\";\"error\";\"periodo_integracion\"\n\
            1001;\"2025-10-26 02:45:00\";\"M30\";\"900\";5;40;\"72\";\"N\";15\n\
            1001;\"2025-10-26 02:00:00\";\"M30\";880;5;40;70;\"N\";15\n\
            1001;\"2025-10-26 02:15:00\";\"M30\";870;5;40;0;\"N\";15\n\
            1001;\"2025-03-30 02:15:00\";\"M30\";870;5;40;70;\"N\";15\n\
            1001;\"2025-03-30 03:00:00\";\"M30\";NaN;5;40;70;\"N\";15\n";
        let (ok, bad) = read(csv);
        let instants: Vec<_> = ok.iter().map(|r| r.ts.to_string()).collect();
        assert_eq!(
            instants,
            vec![
                "2025-10-26T00:45:00+00:00", // first 02:45, CEST
                "2025-10-26T01:00:00+00:00", // 02:00 again after 02:45: the CET one
                "2025-10-26T01:15:00+00:00",
            ]
        );
        assert_eq!(ok[0].average_speed, Some(72.0));
        assert_eq!(ok[2].average_speed, None, "vmed 0 is no speed");
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert!(bad[0].reason.contains("does not exist"));
        assert!(bad[1].reason.contains("not a number"));
    }

    #[test]
    fn older_comma_separated_headers_are_read_too() {
        let csv = "idelem,fecha,identif,tipo_elem,intensidad,ocupacion,carga,vmed,error,periodo_integracion\n\
                   6000,2019-01-01 00:00:00,PM10001,PUNTOS MEDIDA M-30,1200,7,30,81,N,15\n";
        let (ok, bad) = read(csv);
        assert!(bad.is_empty());
        assert_eq!(ok[0].point, "6000");
        assert_eq!(ok[0].ts.to_string(), "2018-12-31T23:00:00+00:00");
        assert!(History::new("a,b\n".as_bytes()).is_err());
    }
}
