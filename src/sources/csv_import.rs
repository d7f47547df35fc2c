//! Generic CSV import, for readings that arrive as files or exports (a utility's loggers, the
//! Abbanoa case): one row per node and time, one column per variable. Each format is declared in
//! config (`sources.csv_import.formats.<name>`): the separator, the time and node columns, the
//! time zone of naive timestamps, the cadence, and for every stored variable its column and the
//! unit it is written in (converted to the variable's unit on the way in).

use std::collections::BTreeMap;

use jiff::civil::DateTime;
use serde::{Deserialize, Serialize};

use crate::domain::{Dataset, Flag, Observation, Step, Timestamp, units};
use crate::sources::text::decimal;
use crate::sources::{Payload, SourceError};

/// The declared formats, by name (`csv:<name>`).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Config {
    pub formats: BTreeMap<String, Format>,
}

/// One declared CSV layout.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Format {
    pub dataset: Dataset,
    /// One ASCII character.
    pub delimiter: String,
    pub time_column: String,
    /// The column naming the node/site a row belongs to (the origin); none for single-node files.
    pub node_column: Option<String>,
    /// The IANA zone of timestamps written without an offset.
    pub timezone: String,
    /// The loggers' cadence: a row off this grid is a reject.
    pub step_minutes: u32,
    /// Canonical variable → where it is and in which unit.
    pub columns: BTreeMap<String, Column>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Column {
    pub column: String,
    pub unit: String,
}

impl Format {
    pub fn step(&self) -> Step {
        Step::from_seconds(i64::from(self.step_minutes) * 60).unwrap_or(Step::HOUR)
    }

    /// Everything wrong with the declaration, prefixed by `what`.
    pub fn problems(&self, what: &str) -> Vec<String> {
        let mut problems = Vec::new();
        if self.delimiter.len() != 1 {
            problems.push(format!("{what}.delimiter must be one ASCII character"));
        }
        if jiff::tz::TimeZone::get(&self.timezone).is_err() {
            problems.push(format!(
                "{what}.timezone `{}` is not an IANA zone",
                self.timezone
            ));
        }
        if self.step_minutes == 0 || 1_440 % self.step_minutes != 0 {
            problems.push(format!(
                "{what}.step_minutes must divide a day, got {}",
                self.step_minutes
            ));
        }
        if self.columns.is_empty() {
            problems.push(format!("{what}.columns declares no variable"));
        }
        for (name, column) in &self.columns {
            match self.dataset.variable(name) {
                None => problems.push(format!(
                    "{what}.columns.{name}: not a {} variable",
                    self.dataset
                )),
                Some(v) if units::convert(1.0, &column.unit, v.unit).is_none() => {
                    problems.push(format!(
                        "{what}.columns.{name}: unit `{}` does not convert to {}",
                        column.unit, v.unit
                    ))
                }
                Some(_) => {}
            }
        }
        problems
    }
}

pub fn parse(bytes: &[u8], format: &Format) -> Result<Payload, SourceError> {
    let delimiter = *format.delimiter.as_bytes().first().unwrap_or(&b',');
    let zone = jiff::tz::TimeZone::get(&format.timezone)
        .map_err(|e| SourceError::Malformed(format!("time zone {}: {e}", format.timezone)))?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| SourceError::Malformed(format!("no header row: {e}")))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_owned())
        .collect();
    let find = |name: &str| header.iter().position(|h| h == name);
    let time = find(&format.time_column).ok_or_else(|| {
        SourceError::Malformed(format!("no `{}` column in the header", format.time_column))
    })?;
    let node =
        match &format.node_column {
            Some(name) => Some(find(name).ok_or_else(|| {
                SourceError::Malformed(format!("no `{name}` column in the header"))
            })?),
            None => None,
        };
    let mut columns = Vec::new();
    for (name, column) in &format.columns {
        let variable = format.dataset.variable(name).ok_or_else(|| {
            SourceError::Malformed(format!("`{name}` is not a {} variable", format.dataset))
        })?;
        let i = find(&column.column).ok_or_else(|| {
            SourceError::Malformed(format!("no `{}` column in the header", column.column))
        })?;
        columns.push((i, variable, column.unit.as_str()));
    }
    let step = format.step();
    let mut payload = Payload::new(format.dataset);
    for row in reader.records() {
        let row = match row {
            Ok(row) => row,
            Err(e) => {
                payload.reject(
                    e.position()
                        .map_or("?".into(), |p| format!("line {}", p.line())),
                    format!("unreadable CSV row: {e}"),
                );
                continue;
            }
        };
        let record = || row.iter().collect::<Vec<_>>().join(",");
        let origin = node.and_then(|i| row.get(i)).map(str::trim);
        if origin.is_some_and(str::is_empty) {
            payload.reject(record(), "no node id");
            continue;
        }
        let text = row.get(time).unwrap_or("").trim();
        let ts = match instant(text, &zone) {
            Some(ts) if ts.is_aligned(step) => ts,
            Some(ts) => {
                payload.reject(
                    record(),
                    format!("{ts} is off the {}-minute grid", format.step_minutes),
                );
                continue;
            }
            None => {
                payload.reject(record(), format!("`{text}` is not a date-time"));
                continue;
            }
        };
        for &(i, variable, unit) in &columns {
            let cell = row.get(i).unwrap_or("").trim();
            if cell.is_empty() {
                continue;
            }
            let checked = decimal(cell)
                .ok_or_else(|| format!("{} `{cell}` is not a number", header[i]))
                .and_then(|raw| variable.canonical(raw, unit));
            match checked {
                Ok(value) => payload.push(
                    origin,
                    Observation {
                        variable: variable.name,
                        ts,
                        value,
                        flag: Flag::Observed,
                    },
                ),
                Err(reason) => payload.reject_value(record(), reason, origin, variable.name, ts),
            }
        }
    }
    Ok(payload.finish())
}

/// RFC 3339 or `YYYY-MM-DD[ T]hh:mm[:ss]` with an optional offset (`+00`, `+0200`, `+02:00`,
/// `Z`); without one, the time is local to `zone` (the earlier instant in a repeated hour).
fn instant(text: &str, zone: &jiff::tz::TimeZone) -> Option<Timestamp> {
    let normalized = text.replacen(' ', "T", 1);
    if let Ok(t) = normalized.parse::<jiff::Timestamp>() {
        return Some(Timestamp::from_epoch(t.as_second()));
    }
    // A bare `±HH` offset (PostgreSQL's `+00`) is not RFC 3339: complete it.
    let bytes = normalized.as_bytes();
    if bytes.len() > 3
        && matches!(bytes[bytes.len() - 3], b'+' | b'-')
        && let Ok(t) = format!("{normalized}:00").parse::<jiff::Timestamp>()
    {
        return Some(Timestamp::from_epoch(t.as_second()));
    }
    let civil: DateTime = normalized.parse().ok()?;
    let zoned = civil.to_zoned(zone.clone()).ok()?;
    Some(Timestamp::from_epoch(zoned.timestamp().as_second()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format() -> Format {
        toml::from_str(
            r#"
            dataset = "sensor"
            delimiter = ";"
            time_column = "ts"
            node_column = "node"
            timezone = "Europe/Rome"
            step_minutes = 15
            columns = { flow_rate = { column = "q", unit = "m³/h" }, pressure = { column = "p", unit = "kPa" } }
            "#,
        )
        .unwrap()
    }

    #[test]
    fn converts_units_reads_local_times_and_keeps_bad_rows_as_rejects() {
        let csv = "ts;node;q;p\n\
                   2025-07-17 02:00:00;A;36;350\n\
                   2025-07-17T00:15:00Z;A;;x\n\
                   2025-07-17 00:20:00+00;A;1;300\n\
                   2025-07-17 00:30:00+00;;1;300\n";
        let payload = parse(csv.as_bytes(), &format()).unwrap();
        let got: Vec<_> = payload
            .readings
            .iter()
            .map(|r| {
                (
                    r.observation.ts.to_string(),
                    r.observation.variable,
                    r.observation.value,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("2025-07-17T00:00:00+00:00".to_string(), "flow_rate", 10.0),
                ("2025-07-17T00:00:00+00:00".to_string(), "pressure", 3.5),
            ]
        );
        let reasons: Vec<_> = payload.rejects.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(reasons[0].contains("not a number"));
        assert!(reasons[1].contains("off the 15-minute grid"));
        assert!(reasons[2].contains("no node id"));
    }

    #[test]
    fn declarations_are_checked() {
        let mut bad = format();
        bad.delimiter = ";;".into();
        bad.step_minutes = 7;
        bad.columns.insert(
            "pressure".into(),
            Column {
                column: "p".into(),
                unit: "m/s".into(),
            },
        );
        bad.columns.insert(
            "colour".into(),
            Column {
                column: "c".into(),
                unit: "%".into(),
            },
        );
        assert_eq!(bad.problems("f").len(), 4, "{:?}", bad.problems("f"));
        assert!(format().problems("f").is_empty());
    }
}
