//! AEMET OpenData: daily climatological values and hourly conventional observations of the
//! stations a location names, through the two-step envelope → `datos` flow.

pub mod parse;
pub mod source;
