//! The vocabulary of almanac as plain values and pure functions: time, gaps, locations, series.
//! Nothing here does I/O, reads the clock or knows about storage, HTTP or providers.

pub mod cron;
pub mod gaps;
pub mod location;
pub mod rollup;
pub mod series;
pub mod time;
pub mod units;
pub mod weather;

pub use location::{
    Coordinates, HourWindow, Location, LocationKind, Mapping, NotCovered, Registry,
};
pub use series::{Aggregation, Counts, Dataset, Flag, Observation, Reject, RunStatus, Variable};
pub use time::{Grid, Step, TimeRange, Timestamp};
