//! AEMET OpenData: daily climatological values and hourly conventional observations of the
//! stations a location names, and municipal hourly forecasts, through the two-step envelope →
//! `datos` flow.

pub mod forecast;
pub mod parse;
pub mod source;
