//! Training frames written out: CSV, an Arrow IPC stream, a Parquet file. Shared by the API's
//! frame route and `almanac frame`.

pub mod arrow;
pub mod parquet;

use crate::query::training::{TrainingFrame, Values};

/// The frame as CSV: `time,local_time,<columns>`, nulls as empty fields.
pub fn csv(frame: &TrainingFrame) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["time".to_owned(), "local_time".to_owned()];
    header.extend(frame.columns.iter().map(|c| c.name.clone()));
    let _ = writer.write_record(&header);
    for (i, t) in frame.time.iter().enumerate() {
        let mut record = vec![t.to_string(), frame.local_time[i].clone()];
        for column in &frame.columns {
            record.push(match &column.values {
                Values::Numbers(v) => v[i].map(|x| x.to_string()).unwrap_or_default(),
                Values::Text(v) => v[i].unwrap_or_default().to_owned(),
                Values::Owned(v) => v[i].clone().unwrap_or_default(),
                Values::Flags(v) => v[i].to_string(),
            });
        }
        let _ = writer.write_record(&record);
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}
