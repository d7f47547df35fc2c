//! Red Eléctrica: electricity prices of a price zone from apidatos (no key), and ESIOS when a
//! token is configured.

pub mod parse;
