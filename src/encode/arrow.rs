//! A training frame as an Arrow IPC stream (`application/vnd.apache.arrow.stream`): a schema
//! message, one record batch, the end-of-stream marker. `time` is `timestamp[s, tz=UTC]`,
//! `local_time` and text columns `utf8`, numbers `float64`, flags `bool`, all nullable; each
//! field carries its unit, whether it is known in advance and its sources as field metadata,
//! the schema the location, resolution and time zone. pandas, polars and pyarrow read it as is
//! (`pa.ipc.open_stream(url)`).
//!
//! The messages are flatbuffers, written here by a small top-down writer (tables first, what
//! they point to after them): the few tables of the Arrow format need no generated code and no
//! dependency.

use crate::query::training::{TrainingFrame, Values};

/// One flatbuffer value.
enum Fb {
    Table(Vec<(u16, Fb)>),
    U8(u8),
    Bool(bool),
    I16(i16),
    I64(i64),
    Str(String),
    Tables(Vec<Fb>),
    /// A vector of structs of two `i64` (Arrow's `FieldNode` and `Buffer`).
    Pairs(Vec<[i64; 2]>),
}

impl Fb {
    /// Inline size (and alignment) of a field holding this value in a table.
    fn inline_size(&self) -> usize {
        match self {
            Fb::U8(_) | Fb::Bool(_) => 1,
            Fb::I16(_) => 2,
            Fb::I64(_) => 8,
            Fb::Table(_) | Fb::Str(_) | Fb::Tables(_) | Fb::Pairs(_) => 4,
        }
    }
}

struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn align(&mut self, to: usize) {
        while !self.buf.len().is_multiple_of(to) {
            self.buf.push(0);
        }
    }

    fn patch_offset(&mut self, at: usize, target: usize) {
        let relative = (target - at) as u32;
        self.buf[at..at + 4].copy_from_slice(&relative.to_le_bytes());
    }

    /// Writes `value` (a table, string or vector) and returns where it starts.
    fn write(&mut self, value: &Fb) -> usize {
        match value {
            Fb::Table(fields) => self.table(fields),
            Fb::Str(s) => {
                self.align(4);
                let at = self.buf.len();
                self.buf.extend((s.len() as u32).to_le_bytes());
                self.buf.extend(s.as_bytes());
                self.buf.push(0);
                at
            }
            Fb::Tables(items) => {
                self.align(4);
                let at = self.buf.len();
                self.buf.extend((items.len() as u32).to_le_bytes());
                let slots: Vec<usize> = items
                    .iter()
                    .map(|_| {
                        let slot = self.buf.len();
                        self.buf.extend([0; 4]);
                        slot
                    })
                    .collect();
                for (slot, item) in slots.into_iter().zip(items) {
                    let target = self.write(item);
                    self.patch_offset(slot, target);
                }
                at
            }
            Fb::Pairs(pairs) => {
                // The length sits just before the first 8-aligned element.
                while !(self.buf.len() + 4).is_multiple_of(8) {
                    self.buf.push(0);
                }
                let at = self.buf.len();
                self.buf.extend((pairs.len() as u32).to_le_bytes());
                for [a, b] in pairs {
                    self.buf.extend(a.to_le_bytes());
                    self.buf.extend(b.to_le_bytes());
                }
                at
            }
            _ => unreachable!("scalars are written inline"),
        }
    }

    /// A table: its vtable, then the table (inline fields, references patched once their
    /// targets are written after it).
    fn table(&mut self, fields: &[(u16, Fb)]) -> usize {
        // Field offsets within the table: after the 4-byte vtable reference, each aligned to
        // its size (the table itself starts 8-aligned).
        let mut layout = Vec::with_capacity(fields.len());
        let mut size: usize = 4;
        for (_, value) in fields {
            let n = value.inline_size();
            size = size.next_multiple_of(n);
            layout.push(size);
            size += n;
        }
        let slots = fields.iter().map(|(slot, _)| *slot + 1).max().unwrap_or(0) as usize;
        let mut vtable = vec![0u16; 2 + slots];
        vtable[0] = (4 + 2 * slots) as u16;
        vtable[1] = size as u16;
        for ((slot, _), offset) in fields.iter().zip(&layout) {
            vtable[2 + *slot as usize] = *offset as u16;
        }
        // The vtable just before the table, the table 8-aligned.
        let vtable_bytes = vtable.len() * 2;
        let mut start = self.buf.len();
        while !(start + vtable_bytes).is_multiple_of(8) {
            start += 1;
        }
        self.buf.resize(start, 0);
        for v in &vtable {
            self.buf.extend(v.to_le_bytes());
        }
        let table = self.buf.len();
        self.buf.extend(((table - start) as i32).to_le_bytes());
        self.buf.resize(table + size, 0);
        let mut references = Vec::new();
        for ((_, value), offset) in fields.iter().zip(&layout) {
            let at = table + offset;
            match value {
                Fb::U8(v) => self.buf[at] = *v,
                Fb::Bool(v) => self.buf[at] = u8::from(*v),
                Fb::I16(v) => self.buf[at..at + 2].copy_from_slice(&v.to_le_bytes()),
                Fb::I64(v) => self.buf[at..at + 8].copy_from_slice(&v.to_le_bytes()),
                other => references.push((at, other)),
            }
        }
        for (at, value) in references {
            let target = self.write(value);
            self.patch_offset(at, target);
        }
        table
    }
}

/// A finished flatbuffer with `root` as its root table.
fn flatbuffer(root: &Fb) -> Vec<u8> {
    let mut w = Writer { buf: vec![0; 8] };
    let at = w.write(root);
    w.patch_offset(0, at);
    w.align(8);
    w.buf
}

const TYPE_FLOAT: u8 = 3;
const TYPE_UTF8: u8 = 5;
const TYPE_BOOL: u8 = 6;
const TYPE_TIMESTAMP: u8 = 10;
const HEADER_SCHEMA: u8 = 1;
const HEADER_RECORD_BATCH: u8 = 3;
const V5: i16 = 4;

fn key_values(pairs: &[(&str, String)]) -> Fb {
    Fb::Tables(
        pairs
            .iter()
            .map(|(k, v)| Fb::Table(vec![(0, Fb::Str((*k).into())), (1, Fb::Str(v.clone()))]))
            .collect(),
    )
}

fn field(name: &str, type_id: u8, type_table: Fb, metadata: &[(&str, String)]) -> Fb {
    Fb::Table(vec![
        (0, Fb::Str(name.into())),
        (1, Fb::Bool(true)),
        (2, Fb::U8(type_id)),
        (3, type_table),
        (5, Fb::Tables(Vec::new())),
        (6, key_values(metadata)),
    ])
}

fn message(header_type: u8, header: Fb, body_length: usize) -> Vec<u8> {
    let meta = flatbuffer(&Fb::Table(vec![
        (0, Fb::I16(V5)),
        (1, Fb::U8(header_type)),
        (2, header),
        (3, Fb::I64(body_length as i64)),
    ]));
    let mut out = Vec::with_capacity(8 + meta.len());
    out.extend(u32::MAX.to_le_bytes());
    out.extend((meta.len() as u32).to_le_bytes());
    out.extend(meta);
    out
}

/// The record batch's body and its buffer and node lists.
#[derive(Default)]
struct Body {
    bytes: Vec<u8>,
    buffers: Vec<[i64; 2]>,
    nodes: Vec<[i64; 2]>,
}

impl Body {
    fn buffer(&mut self, data: &[u8]) {
        let at = self.bytes.len();
        self.bytes.extend(data);
        self.buffers.push([at as i64, data.len() as i64]);
        while !self.bytes.len().is_multiple_of(8) {
            self.bytes.push(0);
        }
    }

    /// A validity bitmap (empty when every value is there) and the node.
    fn validity(&mut self, present: impl ExactSizeIterator<Item = bool>) {
        let n = present.len();
        let mut bits = vec![0u8; n.div_ceil(8)];
        let mut nulls = 0;
        for (i, ok) in present.enumerate() {
            if ok {
                bits[i / 8] |= 1 << (i % 8);
            } else {
                nulls += 1;
            }
        }
        self.nodes.push([n as i64, nulls]);
        if nulls == 0 {
            self.buffer(&[]);
        } else {
            self.buffer(&bits);
        }
    }

    fn strings<'a>(&mut self, values: impl ExactSizeIterator<Item = Option<&'a str>> + Clone) {
        self.validity(values.clone().map(|v| v.is_some()));
        let mut offsets = Vec::with_capacity((values.len() + 1) * 4);
        let mut data = Vec::new();
        offsets.extend(0i32.to_le_bytes());
        for v in values {
            data.extend(v.unwrap_or("").as_bytes());
            offsets.extend((data.len() as i32).to_le_bytes());
        }
        self.buffer(&offsets);
        self.buffer(&data);
    }
}

/// The frame as an Arrow IPC stream.
pub fn stream(frame: &TrainingFrame) -> Vec<u8> {
    let n = frame.time.len();
    let mut fields = vec![
        field(
            "time",
            TYPE_TIMESTAMP,
            Fb::Table(vec![(0, Fb::I16(0)), (1, Fb::Str("UTC".into()))]),
            &[],
        ),
        field("local_time", TYPE_UTF8, Fb::Table(Vec::new()), &[]),
    ];
    let mut body = Body::default();
    body.validity(std::iter::repeat_n(true, n));
    let seconds: Vec<u8> = frame
        .time
        .iter()
        .flat_map(|t| t.epoch().to_le_bytes())
        .collect();
    body.buffer(&seconds);
    body.strings(frame.local_time.iter().map(|s| Some(s.as_str())));
    for column in &frame.columns {
        let metadata = [
            ("unit", column.unit.to_owned()),
            ("known_in_advance", column.known_in_advance.to_string()),
            ("sources", column.sources.join(",")),
        ];
        let (type_id, type_table) = match &column.values {
            Values::Numbers(values) => {
                body.validity(values.iter().map(Option::is_some));
                let data: Vec<u8> = values
                    .iter()
                    .flat_map(|v| v.unwrap_or(0.0).to_le_bytes())
                    .collect();
                body.buffer(&data);
                (TYPE_FLOAT, Fb::Table(vec![(0, Fb::I16(2))]))
            }
            Values::Text(values) => {
                body.strings(values.iter().copied());
                (TYPE_UTF8, Fb::Table(Vec::new()))
            }
            Values::Owned(values) => {
                body.strings(values.iter().map(|v| v.as_deref()));
                (TYPE_UTF8, Fb::Table(Vec::new()))
            }
            Values::Flags(values) => {
                body.validity(values.iter().map(|_| true));
                let mut bits = vec![0u8; n.div_ceil(8)];
                for (i, v) in values.iter().enumerate() {
                    if *v {
                        bits[i / 8] |= 1 << (i % 8);
                    }
                }
                body.buffer(&bits);
                (TYPE_BOOL, Fb::Table(Vec::new()))
            }
        };
        fields.push(field(&column.name, type_id, type_table, &metadata));
    }
    let schema = Fb::Table(vec![
        (0, Fb::I16(0)),
        (1, Fb::Tables(fields)),
        (
            2,
            key_values(&[
                ("location", frame.location.clone()),
                ("resolution", frame.resolution.to_owned()),
                ("timezone", frame.timezone.clone()),
            ]),
        ),
    ]);
    let mut out = message(HEADER_SCHEMA, schema, 0);
    let batch = Fb::Table(vec![
        (0, Fb::I64(n as i64)),
        (1, Fb::Pairs(std::mem::take(&mut body.nodes))),
        (2, Fb::Pairs(std::mem::take(&mut body.buffers))),
    ]);
    out.extend(message(HEADER_RECORD_BATCH, batch, body.bytes.len()));
    out.extend(&body.bytes);
    out.extend(u32::MAX.to_le_bytes());
    out.extend(0u32.to_le_bytes());
    out
}
