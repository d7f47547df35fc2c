//! SIAR (Ministerio de Agricultura's agroclimatic network) daily CSV exports, the chocolate
//! factory's historical weather. Pure: bytes in, values out.
//!
//! Quirks handled: UTF-16LE without a BOM (UTF-8 accepted too), `;` separators, decimal commas,
//! `dd/mm/yyyy` dates beside a day-of-year column that must agree with them, CRLF, units inside
//! the header (`Temp Media (ºC)`, with an ordinal º), and empty cells where a sensor had no value.
//! Columns are found by header name, not position. A daily value is stamped at 00:00 UTC of its
//! date (SIAR's day).

use jiff::civil::Date;

use crate::domain::{Dataset, Flag, Observation, Timestamp};
use crate::sources::text::{decimal, looks_utf16le, utf16le};
use crate::sources::{Payload, SourceError};

/// Header name (without its unit) → (canonical variable, unit when the header gives none).
const COLUMNS: &[(&str, &str, &str)] = &[
    ("Temp Media", "temperature_mean", "°C"),
    ("Temp Max", "temperature_max", "°C"),
    ("Temp Mínima", "temperature_min", "°C"),
    ("Humedad Media", "humidity_mean", "%"),
    ("Humedad Max", "humidity_max", "%"),
    ("Humedad Min", "humidity_min", "%"),
    ("Velviento", "wind_speed_mean", "m/s"),
    ("DirViento", "wind_direction_mean", "°"),
    ("VelVientoMax", "wind_gust_max", "m/s"),
    ("Dir viento Vel Max", "wind_gust_direction", "°"),
    ("Radiación", "radiation_sum", "MJ/m²"),
    ("Precipitación", "precipitation_sum", "mm"),
    ("EtPMon", "et0", "mm"),
];

/// A header cell split into its name and unit: `Temp Media (ºC)` → (`Temp Media`, `ºC`).
fn split_header(cell: &str) -> (&str, Option<&str>) {
    match cell
        .trim()
        .strip_suffix(')')
        .and_then(|c| c.rsplit_once(" ("))
    {
        Some((name, unit)) => (name.trim(), Some(unit)),
        None => (cell.trim(), None),
    }
}

pub fn parse(bytes: &[u8]) -> Result<Payload, SourceError> {
    let text = if looks_utf16le(bytes) {
        utf16le(bytes)?
    } else {
        String::from_utf8(bytes.to_vec())
            .map_err(|_| SourceError::Malformed("neither UTF-16LE nor UTF-8".into()))?
    };
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .ok_or_else(|| SourceError::Malformed("an empty file".into()))?
        .split(';')
        .collect();
    let find = |name: &str| header.iter().position(|h| split_header(h).0 == name);
    let (Some(province), Some(station), Some(date), Some(day_of_year)) = (
        find("IdProvincia"),
        find("IdEstacion"),
        find("Fecha"),
        find("Dia"),
    ) else {
        return Err(SourceError::Malformed(format!(
            "not a SIAR daily export: the header lacks IdProvincia, IdEstacion, Fecha or Dia ({})",
            header.join(";")
        )));
    };
    let columns: Vec<(usize, &'static str, &str)> = COLUMNS
        .iter()
        .filter_map(|&(name, variable, default_unit)| {
            let i = find(name)?;
            Some((
                i,
                variable,
                split_header(header[i]).1.unwrap_or(default_unit),
            ))
        })
        .collect();
    let mut payload = Payload::new(Dataset::Weather);
    for line in lines {
        let cells: Vec<&str> = line.split(';').collect();
        if cells.len() != header.len() {
            payload.reject(
                line,
                format!(
                    "{} fields where the header has {}",
                    cells.len(),
                    header.len()
                ),
            );
            continue;
        }
        let origin = format!("{}-{}", cells[province].trim(), cells[station].trim());
        let Ok(day) = Date::strptime("%d/%m/%Y", cells[date].trim()) else {
            payload.reject(line, "`Fecha` is not dd/mm/yyyy");
            continue;
        };
        if cells[day_of_year].trim().parse::<i16>().ok() != Some(day.day_of_year()) {
            payload.reject(line, format!("`Dia` is not the day of the year of {day}"));
            continue;
        }
        let ts = Timestamp::utc_midnight(day);
        for &(i, variable, unit) in &columns {
            let cell = cells[i].trim();
            if cell.is_empty() {
                continue; // no value from the station that day
            }
            let Some(canonical) = Dataset::Weather.variable(variable) else {
                continue;
            };
            let checked = decimal(cell)
                .ok_or_else(|| format!("`{}` is not a decimal number", header[i]))
                .and_then(|raw| canonical.canonical(raw, unit));
            match checked {
                Ok(value) => payload.push(
                    Some(&origin),
                    Observation {
                        variable,
                        ts,
                        value,
                        flag: Flag::Observed,
                    },
                ),
                Err(reason) => payload.reject_value(
                    format!("{origin} {day} {} = {cell}", header[i]),
                    reason,
                    Some(&origin),
                    variable,
                    ts,
                ),
            }
        }
    }
    Ok(payload.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(text: &str) -> Vec<u8> {
        text.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    #[test]
    fn reads_utf16_rows_and_refuses_inconsistent_ones() {
        let file = "IdProvincia;IdEstacion;Fecha;Año;Dia;Temp Media (ºC);Precipitación (mm);EtPMon\r\n\
                    23;17;01/01/2022;2022;1;9,54;0;0,88\r\n\
                    23;17;02/01/2022;2022;9;9,54;0;0,88\r\n\
                    23;17;03/01/2022;2022;3;;x;0,5\r\n";
        let payload = parse(&utf16(file)).unwrap();
        let got: Vec<_> = payload
            .readings
            .iter()
            .map(|r| (r.observation.variable, r.observation.value))
            .collect();
        assert_eq!(
            got,
            vec![
                ("et0", 0.88),
                ("precipitation_sum", 0.0),
                ("temperature_mean", 9.54),
                ("et0", 0.5)
            ]
        );
        assert_eq!(payload.readings[0].origin.as_deref(), Some("23-17"));
        assert_eq!(payload.rejects.len(), 2, "{:?}", payload.rejects);
        assert!(payload.rejects[0].reason.contains("day of the year"));
        assert!(payload.rejects[1].reason.contains("not a decimal"));
    }
}
