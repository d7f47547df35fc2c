//! OpenWeatherMap: current weather and One Call 3.0 (hourly, and the time machine for
//! history), keyed by `appid`.

pub mod parse;
pub mod source;
