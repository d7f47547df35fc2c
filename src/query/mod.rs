//! The query wing: every answer the API or the CLI gives is computed here from parsed values
//! and returned as plain structs; `http` and `cli` only parse, call one function and render.
//! Rooms: `frame` (stored series assembled into rows, by source priority), `extent` (how much
//! is stored, per data version).

pub mod extent;
pub mod frame;

pub use extent::{extent, extent_of, holds, weather_extent};
pub use frame::{Cell, Frame, Row, rows, weather_rows};
