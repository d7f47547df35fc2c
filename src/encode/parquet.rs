//! A training frame as a Parquet file (`application/vnd.apache.parquet`): `PAR1`, one row
//! group holding one column chunk per column, the footer (`FileMetaData` in Thrift's compact
//! protocol), its length, `PAR1`. Every page is a v1 data page, uncompressed.
//!
//! - `time`: INT64, required, TIMESTAMP(UTC, milliseconds), with the legacy `TIMESTAMP_MILLIS`
//!   converted type so older readers agree (pandas: `datetime64[ms, UTC]`).
//! - `local_time`: BYTE_ARRAY STRING (`UTF8`), required, PLAIN: a different value each row.
//! - numbers: DOUBLE, optional (definition levels, nulls as nulls); flags: BOOLEAN, required.
//! - text (weekday, holiday names, tariff periods): BYTE_ARRAY STRING, optional,
//!   dictionary-encoded: a dictionary page of the distinct values, then the rows' indices
//!   (RLE_DICTIONARY). A 2-year frame repeats a handful of values 17,520 times.
//!
//! Parquet has no field metadata readers show, so the footer's key-value metadata carries it:
//! `location`, `resolution`, `timezone`, and `almanac:columns`, a JSON object naming each
//! column's `unit`, `known_in_advance` and `sources`
//! (`{"weather.temperature": {"unit": "°C", "known_in_advance": false, "sources": ["open_meteo"]}, …}`).
//! pyarrow shows it as the schema's metadata, polars through `read_parquet_metadata`.
//!
//! Written by hand, as the Arrow stream is (`arrow.rs`): the `parquet` crate brings arrow and
//! codecs for what is here pages, a Thrift encoder (`thrift.rs`) and the RLE/bit-packed hybrid
//! (`rle.rs`).

mod rle;
mod thrift;

use std::collections::HashMap;

use serde_json::json;

use crate::domain::Timestamp;
use crate::query::training::{TrainingFrame, Values};
use thrift::Value as T;

const MAGIC: &[u8] = b"PAR1";

// parquet.thrift's enums: physical types, repetitions, converted types, encodings, pages.
const BOOLEAN: i32 = 0;
const INT64: i32 = 2;
const DOUBLE: i32 = 5;
const BYTE_ARRAY: i32 = 6;
const REQUIRED: i32 = 0;
const OPTIONAL: i32 = 1;
const UTF8: i32 = 0;
const TIMESTAMP_MILLIS: i32 = 9;
const PLAIN: i32 = 0;
const RLE: i32 = 3;
const RLE_DICTIONARY: i32 = 8;
const DATA_PAGE: i32 = 0;
const DICTIONARY_PAGE: i32 = 2;
const UNCOMPRESSED: i32 = 0;

/// The frame as a Parquet file.
pub fn file(frame: &TrainingFrame) -> Vec<u8> {
    let mut chunks = vec![
        timestamps(&frame.time),
        plain_strings("local_time", &frame.local_time),
    ];
    chunks.extend(frame.columns.iter().map(|c| chunk(&c.name, &c.values)));
    let described: serde_json::Map<String, serde_json::Value> = frame
        .columns
        .iter()
        .map(|c| {
            let about = json!({
                "unit": c.unit,
                "known_in_advance": c.known_in_advance,
                "sources": c.sources,
            });
            (c.name.clone(), about)
        })
        .collect();
    let metadata = [
        ("location", frame.location.clone()),
        ("resolution", frame.resolution.to_owned()),
        ("timezone", frame.timezone.clone()),
        (
            "almanac:columns",
            serde_json::Value::from(described).to_string(),
        ),
    ];
    assemble(frame.time.len(), chunks, &metadata)
}

/// One column: its schema element and its pages, before they have a place in the file.
struct Chunk {
    name: String,
    element: T,
    physical: i32,
    /// The dictionary page (header and body), written before the data page.
    dictionary: Option<Vec<u8>>,
    data: Vec<u8>,
    encodings: Vec<i32>,
}

impl Chunk {
    /// `annotation`: the logical type (a union) and the legacy converted type.
    fn new(name: &str, physical: i32, repetition: i32, annotation: Option<(T, i32)>) -> Chunk {
        let mut element = vec![
            (1, T::I32(physical)),
            (3, T::I32(repetition)),
            (4, T::string(name)),
        ];
        if let Some((logical, converted)) = annotation {
            element.extend([(6, T::I32(converted)), (10, logical)]);
        }
        Chunk {
            name: name.to_owned(),
            element: T::Struct(element),
            physical,
            dictionary: None,
            data: Vec::new(),
            encodings: vec![PLAIN],
        }
    }

    /// Appends the pages to `out`; returns the `ColumnChunk` that finds them.
    fn write(self, out: &mut Vec<u8>, rows: usize) -> T {
        let start = out.len();
        let dictionary_offset = self.dictionary.map(|page| {
            out.extend(page);
            start
        });
        let data_offset = out.len();
        out.extend(self.data);
        let size = (out.len() - start) as i64;
        let mut meta = vec![
            (1, T::I32(self.physical)),
            (2, T::List(self.encodings.into_iter().map(T::I32).collect())),
            (3, T::List(vec![T::string(&self.name)])),
            (4, T::I32(UNCOMPRESSED)),
            (5, T::I64(rows as i64)),
            (6, T::I64(size)),
            (7, T::I64(size)),
            (9, T::I64(data_offset as i64)),
        ];
        if let Some(at) = dictionary_offset {
            meta.push((11, T::I64(at as i64)));
        }
        T::Struct(vec![(2, T::I64(start as i64)), (3, T::Struct(meta))])
    }
}

/// The pages of `chunks`, then the footer.
fn assemble(rows: usize, chunks: Vec<Chunk>, metadata: &[(&str, String)]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    let root = T::Struct(vec![
        (4, T::string("schema")),
        (5, T::I32(chunks.len() as i32)),
    ]);
    let mut schema = vec![root];
    let mut columns = Vec::with_capacity(chunks.len());
    for mut chunk in chunks {
        schema.push(std::mem::replace(&mut chunk.element, T::Struct(Vec::new())));
        columns.push(chunk.write(&mut out, rows));
    }
    let size = (out.len() - MAGIC.len()) as i64;
    let row_group = T::Struct(vec![
        (1, T::List(columns)),
        (2, T::I64(size)),
        (3, T::I64(rows as i64)),
        (5, T::I64(MAGIC.len() as i64)),
        (6, T::I64(size)),
    ]);
    let key_values = metadata
        .iter()
        .map(|(key, value)| T::Struct(vec![(1, T::string(key)), (2, T::string(value))]))
        .collect();
    let mut footer = Vec::new();
    // Format version 2: the data pages' RLE_DICTIONARY indices are a 2.x encoding.
    T::Struct(vec![
        (1, T::I32(2)),
        (2, T::List(schema)),
        (3, T::I64(rows as i64)),
        (4, T::List(vec![row_group])),
        (5, T::List(key_values)),
        (6, T::string("almanac")),
    ])
    .write(&mut footer);
    out.extend(&footer);
    out.extend((footer.len() as u32).to_le_bytes());
    out.extend(MAGIC);
    out
}

/// A page: its `PageHeader` (`header` in field `slot`), then `body`.
fn page(kind: i32, slot: i16, header: Vec<(i16, T)>, body: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 32);
    T::Struct(vec![
        (1, T::I32(kind)),
        (2, T::I32(body.len() as i32)),
        (3, T::I32(body.len() as i32)),
        (slot, T::Struct(header)),
    ])
    .write(&mut out);
    out.extend(body);
    out
}

/// A v1 data page of `values` rows (nulls included); levels are RLE.
fn data_page(values: usize, encoding: i32, body: Vec<u8>) -> Vec<u8> {
    let header = vec![
        (1, T::I32(values as i32)),
        (2, T::I32(encoding)),
        (3, T::I32(RLE)),
        (4, T::I32(RLE)),
    ];
    page(DATA_PAGE, 5, header, body)
}

/// The logical type STRING and the converted type UTF8.
fn string() -> Option<(T, i32)> {
    Some((T::Struct(vec![(1, T::Struct(Vec::new()))]), UTF8))
}

/// PLAIN byte arrays: each a 4-byte little-endian length, then its bytes.
fn plain<'a>(values: impl Iterator<Item = &'a str>) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        out.extend((v.len() as u32).to_le_bytes());
        out.extend(v.as_bytes());
    }
    out
}

fn timestamps(time: &[Timestamp]) -> Chunk {
    let millis = T::Struct(vec![(1, T::Struct(Vec::new()))]);
    let utc = T::Struct(vec![(1, T::Bool(true)), (2, millis)]);
    let annotation = Some((T::Struct(vec![(8, utc)]), TIMESTAMP_MILLIS));
    let mut chunk = Chunk::new("time", INT64, REQUIRED, annotation);
    let body = time
        .iter()
        .flat_map(|t| (t.epoch() * 1_000).to_le_bytes())
        .collect();
    chunk.data = data_page(time.len(), PLAIN, body);
    chunk
}

fn plain_strings(name: &str, values: &[String]) -> Chunk {
    let mut chunk = Chunk::new(name, BYTE_ARRAY, REQUIRED, string());
    chunk.data = data_page(
        values.len(),
        PLAIN,
        plain(values.iter().map(String::as_str)),
    );
    chunk
}

fn chunk(name: &str, values: &Values) -> Chunk {
    match values {
        Values::Numbers(values) => {
            let mut chunk = Chunk::new(name, DOUBLE, OPTIONAL, None);
            let mut body = rle::levels(values.iter().map(Option::is_some));
            body.extend(values.iter().flatten().flat_map(|v| v.to_le_bytes()));
            chunk.data = data_page(values.len(), PLAIN, body);
            chunk.encodings.push(RLE);
            chunk
        }
        Values::Text(values) => dictionary(name, values.iter().copied()),
        Values::Owned(values) => dictionary(name, values.iter().map(Option::as_deref)),
        Values::Flags(values) => {
            let mut chunk = Chunk::new(name, BOOLEAN, REQUIRED, None);
            chunk.data = data_page(values.len(), PLAIN, rle::bits(values));
            chunk
        }
    }
}

/// Optional strings, dictionary-encoded: the distinct values in a dictionary page (PLAIN), the
/// data page's definition levels, then each present value's index (a byte giving the bit
/// width, then RLE/bit-packed runs).
fn dictionary<'a>(name: &str, values: impl Iterator<Item = Option<&'a str>>) -> Chunk {
    let mut entries: Vec<&str> = Vec::new();
    let mut index: HashMap<&str, u32> = HashMap::new();
    let mut present = Vec::new();
    let mut indices = Vec::new();
    for value in values {
        present.push(value.is_some());
        if let Some(s) = value {
            let at = *index.entry(s).or_insert_with(|| {
                entries.push(s);
                entries.len() as u32 - 1
            });
            indices.push(at);
        }
    }
    let largest = entries.len().saturating_sub(1) as u32;
    let width = (u32::BITS - largest.leading_zeros()).max(1);
    let mut chunk = Chunk::new(name, BYTE_ARRAY, OPTIONAL, string());
    let header = vec![(1, T::I32(entries.len() as i32)), (2, T::I32(PLAIN))];
    let entries = plain(entries.into_iter());
    chunk.dictionary = Some(page(DICTIONARY_PAGE, 7, header, entries));
    let rows = present.len();
    let mut body = rle::levels(present.into_iter());
    body.push(width as u8);
    body.extend(rle::hybrid(&indices, width));
    chunk.data = data_page(rows, RLE_DICTIONARY, body);
    chunk.encodings.extend([RLE, RLE_DICTIONARY]);
    chunk
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_opens_and_ends_with_the_magic_behind_its_footer() {
        let chunks = vec![
            timestamps(&[Timestamp::from_epoch(0), Timestamp::from_epoch(3_600)]),
            chunk("x", &Values::Numbers(vec![Some(1.5), None])),
            chunk("f", &Values::Flags(vec![true, false])),
        ];
        let pages: usize = chunks.iter().map(|c| c.data.len()).sum();
        let bytes = assemble(2, chunks, &[("location", "madrid".into())]);
        assert_eq!(bytes[..4], *b"PAR1");
        assert_eq!(bytes[bytes.len() - 4..], *b"PAR1");
        let footer =
            u32::from_le_bytes(bytes[bytes.len() - 8..bytes.len() - 4].try_into().unwrap());
        assert_eq!(bytes.len(), 4 + pages + footer as usize + 8);
        let footer = &bytes[4 + pages..bytes.len() - 8];
        // FileMetaData: field 1 (version) is the i32 2 (zigzag 4), the last field the writer's name.
        assert_eq!(footer[..2], [0x15, 0x04]);
        assert!(footer.ends_with(b"\x07almanac\x00"));
        assert!(footer.windows(6).any(|w| w == b"madrid"));
    }

    #[test]
    fn text_is_a_dictionary_and_indices() {
        let values = Values::Text(vec![Some("mon"), Some("tue"), None, Some("mon")]);
        let chunk = chunk("calendar.weekday", &values);
        let dictionary = chunk.dictionary.unwrap();
        assert!(dictionary.ends_with(b"\x03\0\0\0mon\x03\0\0\0tue"));
        // Levels 1, 1, 0, 1 (one packed group behind its length), bit width 1, indices 0, 1, 0.
        assert!(
            chunk
                .data
                .ends_with(&[2, 0, 0, 0, 0x03, 0b1011, 1, 0x03, 0b010])
        );
        assert_eq!(chunk.encodings, [PLAIN, RLE, RLE_DICTIONARY]);
    }

    #[test]
    fn numbers_leave_nulls_to_the_levels() {
        let chunk = chunk("x", &Values::Numbers(vec![None, Some(2.0), None]));
        let mut body = vec![2, 0, 0, 0, 0x03, 0b010];
        body.extend(2.0f64.to_le_bytes());
        assert!(chunk.data.ends_with(&body));
    }
}
