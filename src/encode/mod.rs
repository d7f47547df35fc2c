//! Training frames written out: CSV, an Arrow IPC stream, a Parquet file. Shared by the API's
//! frame route and `almanac frame`.

pub mod arrow;
pub mod parquet;

use crate::query::training::{TrainingFrame, Values};

/// The frame as CSV: `time,local_time,<columns>`, nulls as empty fields. Fields go straight
/// into the writer from one reused buffer (a record of owned strings per row cost most of the
/// time).
pub fn csv(frame: &TrainingFrame) -> String {
    use std::fmt::Write as _;
    let mut writer = csv::Writer::from_writer(Vec::with_capacity(frame.time.len() * 128));
    let _ = writer.write_field("time");
    let _ = writer.write_field("local_time");
    for column in &frame.columns {
        let _ = writer.write_field(&column.name);
    }
    let _ = writer.write_record(None::<&[u8]>);
    let mut field = String::new();
    let mut instants = crate::domain::Rfc3339Days::default();
    for (i, t) in frame.time.iter().enumerate() {
        let _ = match instants.format(*t) {
            Some(text) => writer.write_field(text),
            None => writer.write_field(t.to_string()),
        };
        let _ = writer.write_field(&frame.local_time[i]);
        for column in &frame.columns {
            field.clear();
            match &column.values {
                Values::Numbers(v) => {
                    if let Some(x) = v[i] {
                        let _ = write!(field, "{x}");
                    }
                }
                Values::Text(v) => field.push_str(v[i].unwrap_or_default()),
                Values::Owned(v) => field.push_str(v[i].as_deref().unwrap_or_default()),
                Values::Flags(v) => field.push_str(if v[i] { "true" } else { "false" }),
            }
            let _ = writer.write_field(&field);
        }
        let _ = writer.write_record(None::<&[u8]>);
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}
