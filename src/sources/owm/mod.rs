//! OpenWeatherMap: current weather, One Call 3.0 (hourly, and the time machine for history) and
//! the free 5-day/3-hour forecast, keyed by `appid`.

pub mod forecast;
pub mod parse;
pub mod source;
