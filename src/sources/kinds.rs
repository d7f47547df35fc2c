//! Payload kinds: every upstream payload type almanac reads, by name, parsed offline exactly as
//! the live path parses it and printed as JSON lines (`almanac sources parse KIND FILE`). One
//! object per observation (`variable`, `time` in UTC RFC 3339, `value`, `unit`, `flag`, and the
//! station, point, zone or node when the payload carries several, and a forecast's `issued`), one
//! per measurement point for location files, and one per rejected record (`reject`: the reason,
//! `record`: the excerpt).

use std::io::Write;

use serde_json::{Value, json};

use crate::domain::{Dataset, Reject, TimeRange, Timestamp};
use crate::sources::csv_import::Format;
use crate::sources::madrid::{history, pm, points};
use crate::sources::owm::parse::Units;
use crate::sources::{
    Payload, Reading, SourceError, aemet, csv_import, meteostat, open_meteo, owm, ree, siar,
};

/// A payload type: its name, what it is, and what the origin of a value is called in it.
pub struct Kind {
    pub name: &'static str,
    pub describes: &'static str,
    origin: &'static str,
}

pub const KINDS: &[Kind] = &[
    Kind {
        name: "open_meteo",
        describes: "Open-Meteo archive or forecast JSON (hourly and daily blocks)",
        origin: "location",
    },
    Kind {
        name: "aemet_envelope",
        describes: "AEMET first-step answer: where the `datos` are",
        origin: "station",
    },
    Kind {
        name: "aemet_daily",
        describes: "AEMET daily climatological values (`datos` body, ISO-8859-15)",
        origin: "station",
    },
    Kind {
        name: "aemet_observations",
        describes: "AEMET hourly conventional observations (`datos` body)",
        origin: "station",
    },
    Kind {
        name: "aemet_forecast_hourly",
        describes: "AEMET municipal hourly forecast (`datos` body; hours read in Europe/Madrid)",
        origin: "municipality",
    },
    Kind {
        name: "owm",
        describes: "OpenWeatherMap current weather, forecast item or One Call 3.0 body (--units)",
        origin: "location",
    },
    Kind {
        name: "madrid_pm",
        describes: "Madrid real-time pm.xml, current or pre-2019 schema (--at for the latter)",
        origin: "point",
    },
    Kind {
        name: "madrid_points",
        describes: "Madrid measurement-point locations, any of the three generations",
        origin: "point",
    },
    Kind {
        name: "madrid_history",
        describes: "Madrid monthly 15-minute history, the ZIP or its CSV (streamed)",
        origin: "point",
    },
    Kind {
        name: "ree_apidatos",
        describes: "REE apidatos market prices JSON",
        origin: "zone",
    },
    Kind {
        name: "esios_indicator",
        describes: "ESIOS /indicators/{id} JSON (values per geography)",
        origin: "geo",
    },
    Kind {
        name: "esios_archive",
        describes: "ESIOS public archive 70 (PVPC per hour, decimal commas)",
        origin: "zone",
    },
    Kind {
        name: "siar",
        describes: "SIAR daily CSV export (UTF-16LE)",
        origin: "station",
    },
    Kind {
        name: "meteostat",
        describes: "Meteostat JSON API stations/hourly body",
        origin: "station",
    },
    Kind {
        name: "csv:<format>",
        describes: "generic CSV import in a format declared under sources.csv_import.formats",
        origin: "node",
    },
];

/// What some kinds need besides the bytes.
#[derive(Default)]
pub struct Options<'a> {
    /// The fetch time of a pre-2019 `pm.xml`, which has none of its own.
    pub at: Option<Timestamp>,
    pub units: Units,
    /// The declared formats, for `csv:<format>`.
    pub formats: Option<&'a std::collections::BTreeMap<String, Format>>,
}

/// Why a payload could not be parsed and printed.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("unknown kind `{0}` (`almanac sources kinds` lists them)")]
    UnknownKind(String),
    #[error("no CSV format `{0}` under sources.csv_import.formats")]
    UnknownFormat(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Payload(#[from] SourceError),
}

/// How many lines of each sort were written.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub observations: u64,
    pub points: u64,
    pub rejects: u64,
}

/// Whether `id` names the series of imported files (`siar`, `csv_<format>`, `meteostat`, …).
pub fn is_import_id(id: &str) -> bool {
    id.strip_prefix("csv_").is_some_and(|f| !f.is_empty())
        || KINDS.iter().any(|k| !k.name.contains(':') && k.name == id)
}

/// The source id values imported from a file of `kind` are stored under: the kind, with
/// `csv:<format>` written `csv_<format>`.
pub fn source_id(kind: &str) -> String {
    kind.replace(':', "_")
}

/// A whole payload of `kind` in memory (every kind but the point and history files, which are
/// not series of their own, the AEMET envelope, which holds no values, and the AEMET forecast,
/// whose values are not observations).
pub fn payload(kind: &str, bytes: &[u8], options: &Options) -> Result<Payload, ParseError> {
    Ok(match kind {
        "open_meteo" => {
            let all = TimeRange {
                start: Timestamp::from_epoch(i64::MIN / 4),
                end: Timestamp::from_epoch(i64::MAX / 4),
            };
            let parsed = open_meteo::parse(bytes, all)?;
            let mut payload = Payload::new(Dataset::Weather);
            for observation in parsed.hourly.into_iter().chain(parsed.daily) {
                payload.push(None, observation);
            }
            payload.rejects = parsed.rejects;
            payload.finish()
        }
        "aemet_daily" => aemet::parse::daily(bytes)?,
        "aemet_observations" => aemet::parse::observations(bytes)?,
        "owm" => owm::parse::parse(bytes, options.units)?,
        "madrid_pm" => {
            let snapshot = pm::parse(bytes, options.at)?;
            let mut payload = Payload::new(Dataset::Traffic);
            for reading in &snapshot.readings {
                reading.add_to(&mut payload);
            }
            payload.rejects.extend(snapshot.rejects);
            payload.finish()
        }
        "ree_apidatos" => ree::parse::apidatos(bytes)?,
        "esios_indicator" => ree::parse::esios_indicator(bytes)?,
        "esios_archive" => ree::parse::esios_archive(bytes)?,
        "siar" => siar::parse(bytes)?,
        "meteostat" => meteostat::parse(bytes)?,
        csv if csv.starts_with("csv:") => {
            let name = csv.trim_start_matches("csv:");
            let format = options
                .formats
                .and_then(|formats| formats.get(name))
                .ok_or_else(|| ParseError::UnknownFormat(name.to_owned()))?;
            csv_import::parse(bytes, format)?
        }
        other => return Err(ParseError::UnknownKind(other.to_owned())),
    })
}

/// Parses `path` as `kind` and writes JSON lines to `out`.
pub fn parse(
    kind: &str,
    path: &std::path::Path,
    options: &Options,
    out: &mut dyn Write,
) -> Result<Tally, ParseError> {
    let origin = KINDS
        .iter()
        .find(|k| k.name == kind || (kind.starts_with("csv:") && k.name == "csv:<format>"))
        .map(|k| k.origin)
        .ok_or_else(|| ParseError::UnknownKind(kind.to_owned()))?;
    let mut writer = Lines {
        out,
        origin,
        issued: None,
        tally: Tally::default(),
        failed: None,
    };
    if kind == "madrid_history" {
        let mut file = std::fs::File::open(path)?;
        let mut magic = [0u8; 4];
        let is_zip =
            std::io::Read::read_exact(&mut file, &mut magic).is_ok() && magic == *b"PK\x03\x04";
        std::io::Seek::rewind(&mut file)?;
        let mut each = |item: Result<crate::sources::madrid::PointReading, Reject>| match item {
            Ok(reading) => {
                let mut payload = Payload::new(Dataset::Traffic);
                reading.add_to(&mut payload);
                writer.payload(&payload);
            }
            Err(reject) => writer.reject(&reject),
        };
        if is_zip {
            history::stream_zip(file, &mut each)?;
        } else {
            let mut rows = history::History::new(file)?;
            for item in rows.by_ref() {
                each(item);
            }
            if let Some(reason) = rows.broken {
                return Err(SourceError::Malformed(reason).into());
            }
        }
        return writer.finish();
    }
    let bytes = std::fs::read(path)?;
    match kind {
        "aemet_envelope" => {
            let envelope = aemet::parse::envelope(200, None, &bytes)?;
            writer.line(&json!({"datos": envelope.datos, "metadatos": envelope.metadatos}));
        }
        "aemet_forecast_hourly" => {
            // The peninsula's zone: a Canary Islands forecast would need Atlantic/Canary.
            let zone = jiff::tz::TimeZone::get("Europe/Madrid")
                .map_err(|e| SourceError::Malformed(format!("time zone Europe/Madrid: {e}")))?;
            let forecast = aemet::forecast::hourly(&bytes, &zone)?;
            writer.issued = forecast.issued;
            writer.payload(&forecast.payload);
        }
        "madrid_points" => {
            let parsed = points::parse(&bytes)?;
            for p in &parsed.points {
                writer.tally.points += 1;
                writer.line(&json!({
                    "point": p.id, "code": p.code, "kind": p.kind, "name": p.name,
                    "latitude": p.coordinates.latitude, "longitude": p.coordinates.longitude,
                }));
            }
            for reject in &parsed.rejects {
                writer.reject(reject);
            }
        }
        _ => writer.payload(&payload(kind, &bytes, options)?),
    }
    writer.finish()
}

struct Lines<'a> {
    out: &'a mut dyn Write,
    origin: &'static str,
    /// When the forecast being printed was issued.
    issued: Option<Timestamp>,
    tally: Tally,
    failed: Option<std::io::Error>,
}

impl Lines<'_> {
    fn line(&mut self, value: &Value) {
        if self.failed.is_none()
            && let Err(e) = writeln!(self.out, "{value}")
        {
            self.failed = Some(e);
        }
    }

    fn reading(&mut self, dataset: Dataset, reading: &Reading) {
        let o = &reading.observation;
        let unit = dataset.variable(o.variable).map_or("", |v| v.unit);
        let mut line = json!({
            "variable": o.variable,
            "time": o.ts.to_string(),
            "value": o.value,
            "unit": unit,
            "flag": o.flag,
        });
        if let Some(origin) = &reading.origin {
            line[self.origin] = json!(origin);
        }
        if let Some(issued) = self.issued {
            line["issued"] = json!(issued.to_string());
        }
        self.tally.observations += 1;
        self.line(&line);
    }

    fn reject(&mut self, reject: &Reject) {
        self.tally.rejects += 1;
        self.line(&json!({"reject": reject.reason, "record": reject.record}));
    }

    fn payload(&mut self, payload: &Payload) {
        for reading in &payload.readings {
            self.reading(payload.dataset, reading);
        }
        for reject in &payload.rejects {
            self.reject(reject);
        }
    }

    /// The tally, or the write error (a reader that stopped early, like `head`, is no error).
    fn finish(self) -> Result<Tally, ParseError> {
        match self.failed {
            Some(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
            _ => Ok(self.tally),
        }
    }
}
