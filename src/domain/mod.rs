//! The vocabulary of almanac as plain values and pure functions: time, gaps, locations, series.
//! Nothing here does I/O, reads the clock or knows about storage, HTTP or providers.

pub mod anomaly;
pub mod calendar;
pub mod cron;
pub mod energy;
pub mod factory;
pub mod gaps;
pub mod location;
pub mod model;
pub mod network;
pub mod notify;
pub mod quality;
pub mod resample;
pub mod rollup;
pub mod series;
pub mod tenant;
pub mod time;
pub mod units;
pub mod weather;
pub mod windows;

pub use location::{
    Coordinates, HourWindow, Location, LocationKind, Mapping, NotCovered, Registry,
};
pub use series::{
    Aggregation, Counts, Dataset, Flag, Observation, RefusedKind, Reject, RejectedValue, RunStatus,
    Variable,
};
pub use time::{Grid, Rfc3339Days, Step, TimeRange, Timestamp};
