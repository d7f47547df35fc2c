//! The read side: stored series assembled into the row shapes clients ask for. For each
//! variable, the location's sources are consulted in priority order and the first one holding
//! a value at an instant provides it — skipping a source outside the local hours the location
//! gives it (`source_hours`, the hybrid rule); an instant with no value anywhere produces no row.
//!
//! The rows are a [`Frame`]: instants, and per instant one cell per variable in one flat array,
//! so assembling two years of hourly weather allocates a handful of vectors, not maps per row.

use std::collections::HashMap;
use std::sync::Arc;

use super::extent::prioritized;
use crate::core::Core;
use crate::domain::{Dataset, Flag, Location, Step, TimeRange, Timestamp};
use crate::store::{Point, RunId, StoreError};

/// One stored value in a row: the value, how it came to be and which source gave it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cell {
    pub value: f64,
    pub flag: Flag,
    /// Index into [`Frame`]'s sources.
    source: u16,
}

/// Rows of one dataset at one location, by instant; see the module documentation.
#[derive(Debug, Default)]
pub struct Frame {
    /// The variables a row has cells for, in the dataset's order.
    variables: Vec<&'static str>,
    sources: Vec<Arc<str>>,
    times: Vec<Timestamp>,
    /// `times.len() × variables.len()`, row after row.
    cells: Vec<Option<Cell>>,
    /// Per row: the source of its first filled variable (sources rarely mix within a row), and
    /// when its oldest value was first written and its newest last changed.
    row_source: Vec<u16>,
    created: Vec<Option<Timestamp>>,
    updated: Vec<Option<Timestamp>>,
}

/// One row of a [`Frame`].
#[derive(Clone, Copy)]
pub struct Row<'a> {
    frame: &'a Frame,
    i: usize,
}

impl Frame {
    pub fn len(&self) -> usize {
        self.times.len()
    }

    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// The position of `variable` among a row's cells, if the frame holds it.
    pub fn column(&self, variable: &str) -> Option<usize> {
        self.variables.iter().position(|v| *v == variable)
    }

    pub fn rows(&self) -> impl ExactSizeIterator<Item = Row<'_>> {
        (0..self.len()).map(|i| Row { frame: self, i })
    }
}

impl<'a> Row<'a> {
    pub fn ts(self) -> Timestamp {
        self.frame.times[self.i]
    }

    /// The cell of column `column` (from [`Frame::column`]); `None` for a column the frame
    /// lacks.
    pub fn cell(self, column: Option<usize>) -> Option<&'a Cell> {
        let n = self.frame.variables.len();
        self.frame.cells[self.i * n + column?].as_ref()
    }

    pub fn value(self, column: Option<usize>) -> Option<f64> {
        self.cell(column).map(|c| c.value)
    }

    /// The source of a cell.
    pub fn source_of(self, cell: &Cell) -> &'a Arc<str> {
        &self.frame.sources[cell.source as usize]
    }

    /// The source of the row's first filled variable.
    pub fn source(self) -> &'a Arc<str> {
        &self.frame.sources[self.frame.row_source[self.i] as usize]
    }

    pub fn created_at(self) -> Option<Timestamp> {
        self.frame.created[self.i]
    }

    pub fn updated_at(self) -> Option<Timestamp> {
        self.frame.updated[self.i]
    }
}

/// The hourly weather of `location` in `range` (the variables named, or all).
pub async fn weather_rows(
    core: &Core,
    location: &Location,
    range: TimeRange,
    variables: Option<&[&str]>,
) -> Result<Frame, StoreError> {
    rows(
        core,
        location,
        Dataset::Weather,
        Step::HOUR,
        range,
        variables,
    )
    .await
}

/// The rows of `dataset` at `step` for `location` in `range`, by instant, with the variables
/// named (or all the dataset's at that step).
pub async fn rows(
    core: &Core,
    location: &Location,
    dataset: Dataset,
    step: Step,
    range: TimeRange,
    variables: Option<&[&str]>,
) -> Result<Frame, StoreError> {
    let mut frame = Frame::default();
    // (variable, source, points) in priority order.
    let mut reads: Vec<(&'static str, u16, Vec<Point>)> = Vec::new();
    let mut wanted = Vec::new();
    for series in prioritized(core, location, dataset).await? {
        if let Some(variable) = dataset
            .variable(&series.variable)
            .filter(|_| series.step == step)
            .filter(|v| variables.is_none_or(|names| names.contains(&v.name)))
        {
            wanted.push((series, variable));
        }
    }
    let ids: Vec<_> = wanted.iter().map(|(s, _)| s.id).collect();
    let read = core.reader().read_many(&ids, range).await?;
    for ((series, variable), mut points) in wanted.into_iter().zip(read) {
        in_source_hours(&mut points, location, &series.source);
        let source = match frame.sources.iter().position(|s| **s == *series.source) {
            Some(i) => i,
            None => {
                frame.sources.push(Arc::from(series.source.as_str()));
                frame.sources.len() - 1
            }
        };
        reads.push((variable.name, source as u16, points));
    }
    // Columns in the dataset's order, whatever the sources' order.
    frame.variables = dataset
        .variables()
        .iter()
        .flat_map(|group| group.iter().map(|v| v.name))
        .filter(|name| reads.iter().any(|(read, ..)| read == name))
        .collect();

    let started = run_starts(core, &reads).await?;

    // Every instant some accepted value is stored at, in order: the reads (each sorted by
    // instant) merged one after the other, mostly onto the same instants. One cursor per read
    // then finds its rows.
    let mut times: Vec<i64> = Vec::new();
    for (.., points) in &reads {
        times = merge(times, points);
    }
    let (n, width) = (times.len(), frame.variables.len());
    frame.cells = vec![None; n * width];
    frame.row_source = vec![u16::MAX; n];
    frame.created = vec![None; n];
    frame.updated = vec![None; n];
    let (mut created_start, mut updated_start) =
        (RunStarts::new(&started), RunStarts::new(&started));
    for (variable, source, points) in &reads {
        let column = frame.column(variable).unwrap_or_default();
        let mut i = 0;
        for p in points {
            while times[i] < p.ts.epoch() {
                i += 1;
            }
            let cell = &mut frame.cells[i * width + column];
            if cell.is_some() {
                continue; // a preferred source already gave this variable
            }
            *cell = Some(Cell {
                value: p.value,
                flag: p.flag,
                source: *source,
            });
            if frame.row_source[i] == u16::MAX {
                frame.row_source[i] = *source;
            }
            let (created, updated) = (
                created_start.of(p.created_run),
                updated_start.of(p.updated_run),
            );
            frame.created[i] = min_some(frame.created[i], created);
            frame.updated[i] = frame.updated[i].max(updated);
        }
    }
    frame.times = times.into_iter().map(Timestamp::from_epoch).collect();
    Ok(frame)
}

/// Keeps the points of `source` inside the local hours `location` uses it in (the hybrid rule:
/// outside them, the next source in the priority list fills); all of them for a source used at
/// every hour.
pub(super) fn in_source_hours(points: &mut Vec<Point>, location: &Location, source: &str) {
    if let Some(window) = location.source_hours.get(source) {
        let zone = &location.timezone;
        points.retain(|p| {
            let offset = zone.to_offset(p.ts.to_jiff()).seconds();
            let hour = (p.ts.epoch() + i64::from(offset)).rem_euclid(86_400) / 3_600;
            window.contains(hour as u8)
        });
    }
}

/// The sorted instants of `times` and of `points` (sorted), once each.
fn merge(times: Vec<i64>, points: &[Point]) -> Vec<i64> {
    if times.len() == points.len() && times.iter().zip(points).all(|(t, p)| *t == p.ts.epoch()) {
        return times;
    }
    let mut out = Vec::with_capacity(times.len().max(points.len()));
    let (mut a, mut b) = (
        times.iter().copied().peekable(),
        points.iter().map(|p| p.ts.epoch()).peekable(),
    );
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(&x), Some(&y)) if x < y => a.next(),
            (Some(&x), Some(&y)) if y < x => b.next(),
            (Some(_), Some(_)) => {
                b.next();
                a.next()
            }
            (Some(_), None) => a.next(),
            (None, Some(_)) => b.next(),
            (None, None) => break,
        };
        out.extend(next);
    }
    out
}

/// When each run that wrote one of `reads`' values started: few runs, though every value names
/// two (and neighbours mostly the same two).
async fn run_starts(
    core: &Core,
    reads: &[(&'static str, u16, Vec<Point>)],
) -> Result<HashMap<RunId, Timestamp>, StoreError> {
    let mut ids: Vec<RunId> = Vec::new();
    for (.., points) in reads {
        let mut last = None;
        for p in points {
            if last != Some((p.created_run, p.updated_run)) {
                last = Some((p.created_run, p.updated_run));
                ids.extend([p.created_run, p.updated_run]);
            }
        }
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(core
        .reader()
        .runs_by_id(&ids)
        .await?
        .into_iter()
        .map(|r| (r.id, Timestamp::from_epoch(r.started_at)))
        .collect())
}

/// Run start lookups, remembering the last answer (neighbouring values share their runs).
struct RunStarts<'a> {
    started: &'a HashMap<RunId, Timestamp>,
    last: Option<(RunId, Option<Timestamp>)>,
}

impl<'a> RunStarts<'a> {
    fn new(started: &'a HashMap<RunId, Timestamp>) -> Self {
        Self {
            started,
            last: None,
        }
    }

    fn of(&mut self, run: RunId) -> Option<Timestamp> {
        match self.last {
            Some((id, start)) if id == run => start,
            _ => {
                let start = self.started.get(&run).copied();
                self.last = Some((run, start));
                start
            }
        }
    }
}

fn min_some(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(instants: &[i64]) -> Vec<Point> {
        instants
            .iter()
            .map(|&t| Point {
                ts: Timestamp::from_epoch(t),
                value: 0.0,
                flag: Flag::Observed,
                created_run: 1,
                updated_run: 1,
            })
            .collect()
    }

    #[test]
    fn merge_keeps_every_instant_once_in_order() {
        let times = merge(Vec::new(), &points(&[0, 10, 20, 40]));
        assert_eq!(times, [0, 10, 20, 40]);
        assert_eq!(merge(times.clone(), &points(&[0, 10, 20, 40])), times);
        let times = merge(times, &points(&[-5, 10, 30, 40, 50]));
        assert_eq!(times, [-5, 0, 10, 20, 30, 40, 50]);
        assert_eq!(merge(times, &[]), [-5, 0, 10, 20, 30, 40, 50]);
    }
}
