//! Madrid's measurement-point location files, in their three generations (see
//! `shared/reference/upstream-formats.md` §4.3): 2016 `idelem;tipo_elem;identif;nombre;st_x;st_y`
//! (Latin-1 with embedded UTF-8, coordinates often destroyed by a locale export), 2017–18
//! `"cod_cent";"id";"nombre";"tipo_elem";"x";"y"` (UTF-8, UTM with decimal commas) and 2019+
//! `tipo_elem;distrito;id;cod_cent;nombre;utm_x;utm_y;longitud;latitud`. Columns are found by
//! name; UTM zone 30N is converted to latitude/longitude; a row whose coordinates cannot be read
//! is a reject with the reason, never a point at a guessed place.

use crate::domain::{Coordinates, Reject};
use crate::sources::SourceError;
use crate::sources::madrid::utm;
use crate::sources::text::{decimal, utf8_or_latin1};

/// A detector and where it is. `id` joins the history files and the current `pm.xml`
/// (`idelem`); `code` joins the pre-2019 `pm.xml` (`codigo`).
#[derive(Clone, Debug, PartialEq)]
pub struct MeasurementPoint {
    pub id: String,
    pub code: Option<String>,
    pub kind: String,
    pub name: String,
    pub coordinates: Coordinates,
}

#[derive(Debug, Default)]
pub struct Points {
    pub points: Vec<MeasurementPoint>,
    pub rejects: Vec<Reject>,
}

/// `URB`, `PUNTOS DE MEDIDA URBANOS` → `urban`; `M-30`, `M30`, `PUNTOS DE MEDIDA M-30` → `m30`.
pub fn kind(tipo: &str) -> String {
    let upper = tipo.trim().to_uppercase();
    if upper.starts_with("URB") || upper.contains("URBANO") {
        "urban".into()
    } else if upper.replace('-', "").contains("M30") {
        "m30".into()
    } else {
        upper.to_lowercase()
    }
}

pub fn parse(bytes: &[u8]) -> Result<Points, SourceError> {
    let text = utf8_or_latin1(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| SourceError::Malformed(format!("no header row: {e}")))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_lowercase())
        .collect();
    let column = |names: &[&str]| header.iter().position(|h| names.contains(&h.as_str()));
    let (Some(id), Some(tipo)) = (column(&["id", "idelem"]), column(&["tipo_elem"])) else {
        return Err(SourceError::Malformed(format!(
            "not a measurement-point file: no id/idelem or tipo_elem column in `{}`",
            header.join(";")
        )));
    };
    let code = column(&["cod_cent", "identif"]);
    let name = column(&["nombre"]);
    let (x, y) = (
        column(&["x", "st_x", "utm_x"]),
        column(&["y", "st_y", "utm_y"]),
    );
    let (lat, lon) = (column(&["latitud"]), column(&["longitud"]));
    if (x.is_none() || y.is_none()) && (lat.is_none() || lon.is_none()) {
        return Err(SourceError::Malformed(
            "not a measurement-point file: no coordinate columns".into(),
        ));
    }
    let mut points = Points::default();
    for row in reader.records() {
        let row = match row {
            Ok(row) => row,
            Err(e) => {
                points.rejects.push(Reject {
                    record: e
                        .position()
                        .map_or("?".into(), |p| format!("line {}", p.line())),
                    reason: format!("unreadable CSV row: {e}"),
                    value: None,
                });
                continue;
            }
        };
        let cell = |i: Option<usize>| i.and_then(|i| row.get(i)).map(str::trim).unwrap_or("");
        let record = || row.iter().collect::<Vec<_>>().join(";");
        let from_degrees = match (decimal(cell(lat)), decimal(cell(lon))) {
            (Some(lat), Some(lon)) => Coordinates::new(lat, lon).ok(),
            _ => None,
        };
        let coordinates = from_degrees.or_else(|| match (decimal(cell(x)), decimal(cell(y))) {
            (Some(x), Some(y)) => utm::to_wgs84(30, x, y),
            _ => None,
        });
        let Some(coordinates) = coordinates else {
            points.rejects.push(Reject {
                record: record(),
                reason: format!(
                    "coordinates `{}`, `{}` are not UTM metres (a locale export mangles them into `438.963.314.634.858`)",
                    cell(x),
                    cell(y)
                ),
                value: None,
            });
            continue;
        };
        if cell(Some(id)).is_empty() {
            points.rejects.push(Reject {
                record: record(),
                reason: "no point id".into(),
                value: None,
            });
            continue;
        }
        points.points.push(MeasurementPoint {
            id: cell(Some(id)).to_owned(),
            code: Some(cell(code))
                .filter(|c| !c.is_empty())
                .map(str::to_owned),
            kind: kind(cell(Some(tipo))),
            name: cell(name).to_owned(),
            coordinates,
        });
    }
    Ok(points)
}
