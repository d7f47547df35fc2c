//! Operations: decide what to fetch, fetch it through a source and write it to the store, one
//! atomic chunk at a time, recording a run for each (location, dataset, source). The CLI, `serve`
//! and `demo` call these same functions. The `now` argument decides what to fetch; run records
//! carry wall-clock times.

pub mod backfill;
pub mod delete;
pub mod forecast;
pub mod gaps;
pub mod import;
pub mod ingest;
pub mod init;
pub mod job;
mod load;
pub mod model;
pub mod notify;
mod parallel;
pub mod process;
pub mod rotate;
pub mod sources;
pub mod tenants;

use std::fmt;

use crate::domain::Counts;

/// What one operation did for one (location, dataset, source).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub location: String,
    pub dataset: String,
    pub source: String,
    pub run: i64,
    pub chunks: u64,
    pub skipped: u64,
    pub failed: u64,
    pub counts: Counts,
    /// Expected values the upstream answered without (nulls, absent columns).
    pub missing: u64,
    pub error: Option<String>,
    /// What it did, where chunks and counts do not say it (a model's training).
    pub note: Option<String>,
}

/// Every outcome of one invocation.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub outcomes: Vec<Outcome>,
}

impl Summary {
    pub fn total(&self) -> Counts {
        let mut total = Counts::default();
        for outcome in &self.outcomes {
            total += outcome.counts;
        }
        total
    }

    pub fn failed(&self) -> bool {
        self.outcomes
            .iter()
            .any(|o| o.failed > 0 || o.error.is_some())
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for o in &self.outcomes {
            if let Some(what) = &o.note {
                write!(
                    f,
                    "{}/{}/{} (run {}): {what}",
                    o.location, o.dataset, o.source, o.run
                )?;
                match &o.error {
                    Some(error) => writeln!(f, "; error: {error}")?,
                    None => writeln!(f)?,
                }
                continue;
            }
            let Counts {
                inserted,
                updated,
                unchanged,
                rejected,
            } = o.counts;
            write!(
                f,
                "{}/{}/{} (run {}): {} chunks, {} already complete, {} failed; {inserted} inserted, {updated} updated, \
                 {unchanged} unchanged, {rejected} rejected, {} missing upstream",
                o.location, o.dataset, o.source, o.run, o.chunks, o.skipped, o.failed, o.missing
            )?;
            match &o.error {
                Some(error) => writeln!(f, "; first error: {error}")?,
                None => writeln!(f)?,
            }
        }
        if self.outcomes.is_empty() {
            writeln!(f, "nothing to do: no enabled location has a source")?;
        }
        Ok(())
    }
}
