//! A deterministic, plausible climate for any point and hour, for the simulated upstream: an
//! annual cycle scaled by latitude (hemisphere-aware), a diurnal cycle on local solar time,
//! multi-day weather regimes from smooth value noise, rain when a "wetness" regime is high,
//! and humidity, wind, pressure and WMO codes that follow from those. Same input, same output.

use std::f64::consts::TAU;

use crate::domain::Timestamp;

/// One hour of simulated weather in canonical units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hour {
    pub temperature: f64,
    pub precipitation: f64,
    pub humidity: f64,
    pub wind_speed: f64,
    pub wind_direction: f64,
    pub pressure: f64,
    pub weather_code: f64,
}

/// The simulated weather at `(latitude, longitude)` for the hour starting at `ts`.
pub fn hour(latitude: f64, longitude: f64, ts: Timestamp) -> Hour {
    let place = ((latitude * 1_000.0).round() as i64 as u64).wrapping_mul(0x9E37_79B9)
        ^ ((longitude * 1_000.0).round() as i64 as u64);
    let hours = ts.epoch() as f64 / 3_600.0;
    let days = hours / 24.0;
    let hemisphere = if latitude >= 0.0 { 1.0 } else { -1.0 };
    let season = (TAU * (days - 201.0) / 365.2425).cos() * hemisphere; // +1 mid-summer, −1 mid-winter
    let solar_hour = (hours + longitude / 15.0).rem_euclid(24.0);

    let wetness = noise(place, 1, hours, 48.0) + 0.3 * noise(place, 2, hours, 6.0) - 0.2 * season;
    let wet = (wetness - 0.75).max(0.0);
    let mean = 28.0 - 0.33 * latitude.abs();
    let annual = 2.0 + 0.17 * latitude.abs();
    let diurnal = (5.0 - 6.0 * wet).max(1.0) * (TAU * (solar_hour - 15.0) / 24.0).cos();
    let regime = 4.0 * noise(place, 3, hours, 72.0) + 1.5 * noise(place, 4, hours, 12.0);
    let temperature = round(mean + annual * season + diurnal + regime, 1);

    let precipitation = round(wet * 3.0, 1);
    let humidity = (95.0 - 2.2 * (temperature - 2.0) + 25.0 * wetness.max(0.0))
        .clamp(8.0, 100.0)
        .round();
    let wind_speed = round(
        (3.0 + 2.0 * noise(place, 5, hours, 24.0) + (TAU * solar_hour / 24.0).sin() + 3.0 * wet)
            .max(0.1),
        2,
    );
    // Prevailing south-westerlies veering with the weather regime.
    let wind_direction = (225.0 + 100.0 * noise(place, 7, hours, 36.0))
        .rem_euclid(360.0)
        .round()
        % 360.0;
    let pressure = round(
        1_016.0 + 8.0 * noise(place, 6, hours, 96.0) - 12.0 * wetness.max(0.0),
        1,
    );
    let weather_code = code(
        precipitation,
        temperature,
        wetness,
        humidity,
        wind_speed,
        season,
    );
    Hour {
        temperature,
        precipitation,
        humidity,
        wind_speed,
        wind_direction,
        pressure,
        weather_code,
    }
}

fn code(
    precipitation: f64,
    temperature: f64,
    wetness: f64,
    humidity: f64,
    wind: f64,
    season: f64,
) -> f64 {
    let code = match precipitation {
        p if p > 0.0 && temperature < 0.5 => match p {
            p if p < 0.5 => 71,
            p if p < 1.5 => 73,
            _ => 75,
        },
        p if p > 0.8 && season > 0.2 => 95,
        p if p > 0.0 => match p {
            p if p < 0.5 => 61,
            p if p < 2.0 => 63,
            _ => 65,
        },
        _ if humidity >= 97.0 && wind < 1.5 => 45,
        _ if wetness < -0.3 => 0,
        _ if wetness < 0.0 => 1,
        _ if wetness < 0.3 => 2,
        _ => 3,
    };
    f64::from(code)
}

/// Smooth value noise in `[-1, 1]`: random knots every `period` hours, eased in between.
pub(crate) fn noise(place: u64, channel: u64, hours: f64, period: f64) -> f64 {
    let position = hours / period;
    let knot = position.floor();
    let t = position - knot;
    let eased = t * t * (3.0 - 2.0 * t);
    let at = |k: f64| {
        unit(
            place
                ^ channel.wrapping_mul(0xD6E8_FEB8_6659_FD93)
                ^ (k as i64 as u64).wrapping_mul(0xA076_1D64_78BD_642F),
        )
    };
    let (a, b) = (at(knot), at(knot + 1.0));
    2.0 * (a + (b - a) * eased) - 1.0
}

/// splitmix64 to a float in `[0, 1)`.
pub(crate) fn unit(seed: u64) -> f64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) as f64 / (u64::MAX as f64 + 1.0)
}

pub(crate) fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Dataset;

    fn year(lat: f64, lon: f64) -> Vec<(Timestamp, Hour)> {
        let start = 1_704_067_200; // 2024-01-01T00:00Z
        (0..366 * 24)
            .map(|h| Timestamp::from_epoch(start + h * 3_600))
            .map(|ts| (ts, hour(lat, lon, ts)))
            .collect()
    }

    #[test]
    fn is_deterministic_and_physically_possible() {
        let ts = Timestamp::from_epoch(1_720_000_000);
        assert_eq!(hour(40.4168, -3.7038, ts), hour(40.4168, -3.7038, ts));
        for (_, h) in year(40.4168, -3.7038) {
            for (name, value) in [
                ("temperature", h.temperature),
                ("precipitation", h.precipitation),
                ("humidity", h.humidity),
                ("wind_speed", h.wind_speed),
                ("wind_direction", h.wind_direction),
                ("pressure", h.pressure),
                ("weather_code", h.weather_code),
            ] {
                Dataset::Weather
                    .variable(name)
                    .unwrap()
                    .check(value)
                    .unwrap();
            }
        }
    }

    #[test]
    fn madrid_is_seasonal_with_plausible_means() {
        let hours = year(40.4168, -3.7038);
        let mean_of = |month_days: std::ops::Range<i64>| {
            let sel: Vec<f64> = hours
                .iter()
                .filter(|(ts, _)| month_days.contains(&((ts.epoch() - 1_704_067_200) / 86_400)))
                .map(|(_, h)| h.temperature)
                .collect();
            sel.iter().sum::<f64>() / sel.len() as f64
        };
        let (january, july) = (mean_of(0..31), mean_of(182..213));
        assert!((2.0..10.0).contains(&january), "January mean {january}");
        assert!((20.0..30.0).contains(&july), "July mean {july}");
        let rain: f64 = hours.iter().map(|(_, h)| h.precipitation).sum();
        assert!((150.0..900.0).contains(&rain), "yearly rain {rain} mm");
        let codes: std::collections::BTreeSet<i64> =
            hours.iter().map(|(_, h)| h.weather_code as i64).collect();
        for expected in [0, 1, 2, 3, 61, 63, 95] {
            assert!(
                codes.contains(&expected),
                "code {expected} never occurs: {codes:?}"
            );
        }
        eprintln!(
            "simulated Madrid: January {january:.1} °C, July {july:.1} °C, {rain:.0} mm of rain a year"
        );
        assert!(
            year(-34.6, -58.4)
                .iter()
                .take(24 * 31)
                .map(|(_, h)| h.temperature)
                .sum::<f64>()
                / 744.0
                > 18.0,
            "January is summer in the south"
        );
    }
}
