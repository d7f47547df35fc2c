//! Weather facts that are definitions rather than data: the WMO 4677/4680 weather codes as
//! Open-Meteo uses them, turned into the text the seed's `description` field carries.

/// The English description of a WMO weather code, `None` for a code outside the table.
pub fn describe(code: f64) -> Option<&'static str> {
    if code.fract() != 0.0 {
        return None;
    }
    Some(match code as i64 {
        0 => "Clear sky",
        1 => "Mainly clear",
        2 => "Partly cloudy",
        3 => "Overcast",
        45 => "Fog",
        48 => "Depositing rime fog",
        51 => "Light drizzle",
        53 => "Moderate drizzle",
        55 => "Dense drizzle",
        56 => "Light freezing drizzle",
        57 => "Dense freezing drizzle",
        61 => "Slight rain",
        63 => "Moderate rain",
        65 => "Heavy rain",
        66 => "Light freezing rain",
        67 => "Heavy freezing rain",
        71 => "Slight snow fall",
        73 => "Moderate snow fall",
        75 => "Heavy snow fall",
        77 => "Snow grains",
        80 => "Slight rain showers",
        81 => "Moderate rain showers",
        82 => "Violent rain showers",
        85 => "Slight snow showers",
        86 => "Heavy snow showers",
        95 => "Thunderstorm",
        96 => "Thunderstorm with slight hail",
        99 => "Thunderstorm with heavy hail",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_codes_have_text_and_unknown_ones_none() {
        assert_eq!(super::describe(63.0), Some("Moderate rain"));
        assert_eq!(super::describe(4.0), None);
        assert_eq!(super::describe(61.5), None);
    }
}
