//! Packed blocks: a series' values over one fixed span of time in one record, kept beside the
//! narrow rows for reading. The rows stay the truth and every write goes to them; a block is a
//! copy, made when a read found the span without one, and forgotten in the transaction of any
//! write or delete touching its span. A 2-year hourly read is then ~25 records a series instead
//! of ~17,500 rows (on SQLite a row costs ~0.2 µs to step through and decode; a block's value a
//! few nanoseconds).
//!
//! Layout (little-endian): format byte, `n: u32`, the instants, `n` values (`f64`), `n` flag
//! codes (`u8`), then the runs as segments: `k: u32`, `k` × (`len: u32`, created `i64`, updated
//! `i64`), consecutive values sharing both runs forming one segment (a load writes a span in one
//! run, so a block usually has one or a few). The instants are the first and the step (`i64`
//! each) when they are evenly spaced (format 2: a series without gaps, the usual block), else
//! all `n` (`i64`, format 1). About 9 bytes a value, 17 with gaps.

use super::{Point, SeriesId, StoreError};
use crate::domain::{Flag, TimeRange, Timestamp};

/// A block's span: 30 days (720 hourly values, 2,880 quarter-hours), counted from the epoch.
pub const SPAN_SECONDS: i64 = 30 * 86_400;

/// Instants listed one by one.
const LISTED: u8 = 1;
/// Instants evenly spaced: the first and the step.
const REGULAR: u8 = 2;

/// The block holding `ts`.
pub fn index(ts: Timestamp) -> i64 {
    ts.epoch().div_euclid(SPAN_SECONDS)
}

/// The instants block `index` covers.
pub fn span(index: i64) -> TimeRange {
    TimeRange {
        start: Timestamp::from_epoch(index * SPAN_SECONDS),
        end: Timestamp::from_epoch((index + 1) * SPAN_SECONDS),
    }
}

/// The blocks a range touches, first and last included (`None` for an empty range).
pub fn indices(range: TimeRange) -> Option<(i64, i64)> {
    (range.start < range.end).then(|| (index(range.start), index(range.end.plus(-1))))
}

/// Walks the blocks of a range in order, told which have a packed copy, and gives the parts of
/// the range between them: the values there come from the rows.
pub struct Gaps {
    range: TimeRange,
    next: i64,
    last: i64,
}

impl Gaps {
    /// `None` for an empty range.
    pub fn new(range: TimeRange) -> Option<Self> {
        let (first, last) = indices(range)?;
        Some(Self {
            range,
            next: first,
            last,
        })
    }

    /// The first and last block of the range.
    pub fn bounds(&self) -> (i64, i64) {
        (self.next, self.last)
    }

    /// The part of the range before packed block `index` and after the last one given (indices
    /// come in increasing order), if there is one.
    pub fn before(&mut self, index: i64) -> Option<TimeRange> {
        let gap = (index > self.next).then(|| TimeRange {
            start: self.range.start.max(span(self.next).start),
            end: self.range.end.min(span(index).start),
        });
        self.next = index + 1;
        gap
    }

    /// The part of the range after the last packed block given, if there is one.
    pub fn rest(&mut self) -> Option<TimeRange> {
        self.before(self.last + 1)
    }
}

/// The blocks each series' instants fall in, first to last, as `(series, first, last)`; the
/// instants come sorted by (series, instant).
pub fn spans(keys: impl IntoIterator<Item = (SeriesId, i64)>) -> Vec<(SeriesId, i64, i64)> {
    let mut spans: Vec<(SeriesId, i64, i64)> = Vec::new();
    for (series, ts) in keys {
        let index = index(Timestamp::from_epoch(ts));
        match spans.last_mut() {
            Some((s, _, last)) if *s == series => *last = index,
            _ => spans.push((series, index, index)),
        }
    }
    spans
}

/// Blocks being packed, so that concurrent reads asking for the same ones ask once.
#[derive(Default)]
pub struct Pending(std::sync::Mutex<std::collections::HashSet<(SeriesId, i64)>>);

impl Pending {
    /// Of the series' `blocks`, those no one is packing yet, now marked as being packed.
    pub fn claim(&self, series: SeriesId, blocks: Vec<i64>) -> Vec<i64> {
        match self.0.lock() {
            Ok(mut pending) => blocks
                .into_iter()
                .filter(|&b| pending.insert((series, b)))
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// The series' `blocks` are no longer being packed.
    pub fn release(&self, series: SeriesId, blocks: &[i64]) {
        if let Ok(mut pending) = self.0.lock() {
            for b in blocks {
                pending.remove(&(series, *b));
            }
        }
    }
}

/// Packs points (in instant order, as a read returns them).
pub fn encode(points: &[Point]) -> Vec<u8> {
    let n = points.len();
    let mut out = Vec::with_capacity(21 + n * 17 + 24);
    let step = match points {
        [first, second, ..] => second.ts.epoch() - first.ts.epoch(),
        _ => 0,
    };
    let regular = points
        .windows(2)
        .all(|w| w[1].ts.epoch() - w[0].ts.epoch() == step);
    out.push(if regular { REGULAR } else { LISTED });
    out.extend_from_slice(&(n as u32).to_le_bytes());
    if regular {
        let first = points.first().map_or(0, |p| p.ts.epoch());
        out.extend_from_slice(&first.to_le_bytes());
        out.extend_from_slice(&step.to_le_bytes());
    } else {
        for p in points {
            out.extend_from_slice(&p.ts.epoch().to_le_bytes());
        }
    }
    for p in points {
        out.extend_from_slice(&p.value.to_le_bytes());
    }
    out.extend(points.iter().map(|p| p.flag.code() as u8));
    let mut segments: Vec<(u32, i64, i64)> = Vec::new();
    for p in points {
        match segments.last_mut() {
            Some((len, created, updated))
                if *created == p.created_run && *updated == p.updated_run =>
            {
                *len += 1
            }
            _ => segments.push((1, p.created_run, p.updated_run)),
        }
    }
    out.extend_from_slice(&(segments.len() as u32).to_le_bytes());
    for (len, created, updated) in segments {
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&created.to_le_bytes());
        out.extend_from_slice(&updated.to_le_bytes());
    }
    out
}

/// A reader over a block's bytes that fails on a short block instead of panicking.
struct Bytes<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Bytes<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], StoreError> {
        let end = self
            .at
            .checked_add(len)
            .filter(|&end| end <= self.bytes.len());
        let end = end.ok_or_else(|| StoreError::Corrupt("a packed block is truncated".into()))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, StoreError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn i64(&mut self) -> Result<i64, StoreError> {
        Ok(i64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
}

/// A block's instants as stored.
enum Instants<'a> {
    Listed(&'a [u8]),
    Regular { first: i64, step: i64 },
}

impl Instants<'_> {
    fn at(&self, i: usize) -> i64 {
        match self {
            Instants::Listed(bytes) => {
                i64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().expect("8 bytes"))
            }
            Instants::Regular { first, step } => first + i as i64 * step,
        }
    }
}

/// Appends the block's points inside `range` to `out`, in instant order.
pub fn decode(bytes: &[u8], range: TimeRange, out: &mut Vec<Point>) -> Result<(), StoreError> {
    let mut reader = Bytes { bytes, at: 0 };
    let format = reader.take(1)?[0];
    let n = reader.u32()? as usize;
    let instants = match format {
        LISTED => Instants::Listed(reader.take(n * 8)?),
        REGULAR => Instants::Regular {
            first: reader.i64()?,
            step: reader.i64()?,
        },
        _ => {
            return Err(StoreError::Corrupt(format!(
                "a packed block has format {format}"
            )));
        }
    };
    let values = reader.take(n * 8)?;
    let flags = reader.take(n)?;
    let first = partition(n, |i| instants.at(i) < range.start.epoch());
    let last = partition(n, |i| instants.at(i) < range.end.epoch());
    let segments = reader.u32()?;
    let mut at = 0usize;
    out.reserve(last.saturating_sub(first));
    for _ in 0..segments {
        let len = reader.u32()? as usize;
        let created_run = reader.i64()?;
        let updated_run = reader.i64()?;
        let end = at + len;
        let (lo, hi) = (at.max(first), end.min(last));
        if lo < hi {
            let values = values[lo * 8..hi * 8].chunks_exact(8);
            for ((i, value), &code) in (lo..hi).zip(values).zip(&flags[lo..hi]) {
                out.push(Point {
                    ts: Timestamp::from_epoch(instants.at(i)),
                    value: f64::from_le_bytes(value.try_into().expect("8 bytes")),
                    flag: Flag::from_code(i64::from(code))
                        .ok_or_else(|| StoreError::Corrupt(format!("flag code {code}")))?,
                    created_run,
                    updated_run,
                });
            }
        }
        at = end;
    }
    if at != n {
        return Err(StoreError::Corrupt(format!(
            "a packed block's runs cover {at} of its {n} values"
        )));
    }
    Ok(())
}

/// The first `i` in `0..n` for which `before(i)` is false (`before` true then false).
fn partition(n: usize, before: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if before(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn gaps_are_the_range_between_packed_blocks() {
        let at = |block: i64, offset: i64| Timestamp::from_epoch(block * SPAN_SECONDS + offset);
        let range = TimeRange {
            start: at(10, 500),
            end: at(14, 7),
        };
        let mut gaps = Gaps::new(range).unwrap();
        assert_eq!(gaps.bounds(), (10, 14));
        assert_eq!(gaps.before(10), None, "the first block is packed");
        assert_eq!(
            gaps.before(13),
            Some(TimeRange {
                start: at(11, 0),
                end: at(13, 0)
            })
        );
        assert_eq!(
            gaps.rest(),
            Some(TimeRange {
                start: at(14, 0),
                end: at(14, 7)
            }),
            "the last block, cut at the range's end"
        );
        let mut none_packed = Gaps::new(range).unwrap();
        assert_eq!(none_packed.rest(), Some(range));
        let mut all_packed = Gaps::new(range).unwrap();
        for b in 10..=14 {
            assert_eq!(all_packed.before(b), None);
        }
        assert_eq!(all_packed.rest(), None);
        let empty = TimeRange {
            start: at(3, 0),
            end: at(3, 0),
        };
        assert!(Gaps::new(empty).is_none());
    }

    fn points(values: &[(i64, f64, i64, i64, i64)]) -> Vec<Point> {
        values
            .iter()
            .map(|&(ts, value, flag, created_run, updated_run)| Point {
                ts: Timestamp::from_epoch(ts),
                value,
                flag: Flag::from_code(flag).expect("flag"),
                created_run,
                updated_run,
            })
            .collect()
    }

    proptest! {
        #[test]
        fn a_block_gives_back_exactly_the_points_in_range(
            mut raw in proptest::collection::vec(
                (0i64..SPAN_SECONDS, any::<f64>(), 0i64..5, 1i64..4, 1i64..4), 0..300),
            start in -10i64..SPAN_SECONDS + 10,
            len in 0i64..SPAN_SECONDS + 20,
            regular in proptest::option::of(1i64..7_200),
        ) {
            raw.sort_by_key(|r| r.0);
            raw.dedup_by_key(|r| r.0);
            if let Some(step) = regular {
                // Evenly spaced from the first instant: stored as first and step.
                let first = raw.first().map_or(0, |r| r.0);
                for (i, r) in raw.iter_mut().enumerate() {
                    r.0 = first + i as i64 * step;
                }
            }
            let all = points(&raw);
            let range = TimeRange {
                start: Timestamp::from_epoch(start),
                end: Timestamp::from_epoch(start + len),
            };
            let mut got = Vec::new();
            decode(&encode(&all), range, &mut got).unwrap();
            let want: Vec<Point> = all.into_iter().filter(|p| range.contains(p.ts)).collect();
            prop_assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                prop_assert_eq!(g.ts, w.ts);
                prop_assert_eq!(g.value.to_bits(), w.value.to_bits());
                prop_assert_eq!((g.flag, g.created_run, g.updated_run), (w.flag, w.created_run, w.updated_run));
            }
        }
    }

    #[test]
    fn consecutive_values_of_one_run_share_a_segment() {
        let all = points(&[(0, 1.0, 0, 7, 7), (60, 2.0, 0, 7, 7), (120, 3.0, 2, 7, 9)]);
        let bytes = encode(&all);
        // format, n, first and step, 3 × (value, flag), 2 segments of (len, created, updated)
        assert_eq!(bytes.len(), 1 + 4 + 16 + 3 * 9 + 4 + 2 * 20);
        assert_eq!(bytes[0], REGULAR);
        let gap = points(&[(0, 1.0, 0, 7, 7), (60, 2.0, 0, 7, 7), (180, 3.0, 2, 7, 9)]);
        let bytes = encode(&gap);
        assert_eq!(bytes.len(), 1 + 4 + 3 * 17 + 4 + 2 * 20);
        assert_eq!(bytes[0], LISTED);
    }

    #[test]
    fn a_damaged_block_is_an_error_not_a_panic() {
        let everything = span(0);
        let listed = encode(&points(&[
            (0, 1.0, 0, 7, 7),
            (60, 2.0, 0, 7, 7),
            (600, 2.0, 0, 7, 7),
        ]));
        let bytes = encode(&points(&[(0, 1.0, 0, 7, 7), (60, 2.0, 0, 7, 7)]));
        for bytes in [&bytes, &listed] {
            for cut in 0..bytes.len() {
                assert!(
                    decode(&bytes[..cut], everything, &mut Vec::new()).is_err(),
                    "cut at {cut}"
                );
            }
        }
        let mut other = bytes.clone();
        other[0] = 9;
        assert!(decode(&other, everything, &mut Vec::new()).is_err());
    }

    #[test]
    fn blocks_meet_at_span_boundaries() {
        let range = TimeRange {
            start: Timestamp::from_epoch(SPAN_SECONDS - 1),
            end: Timestamp::from_epoch(2 * SPAN_SECONDS),
        };
        assert_eq!(indices(range), Some((0, 1)));
        assert_eq!(index(Timestamp::from_epoch(-1)), -1);
        assert_eq!(span(1).start.epoch(), SPAN_SECONDS);
    }
}
