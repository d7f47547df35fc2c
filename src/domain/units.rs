//! Units: every spelling an upstream or an import uses, with its dimension and its linear
//! relation to that dimension's base unit, so one function converts any value to a variable's
//! canonical unit (and refuses to turn a speed into a pressure).

/// What a unit measures. Two units convert into each other only within one dimension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dimension {
    Temperature,
    Length,
    Speed,
    Pressure,
    Flow,
    Volume,
    Ratio,
    Angle,
    Duration,
    Energy,
    Price,
    Rate,
    Code,
}

/// `(spelling, dimension, factor, offset)`: base = (value + offset) × factor.
const UNITS: &[(&str, Dimension, f64, f64)] = {
    use Dimension::*;
    &[
        ("°C", Temperature, 1.0, 0.0),
        ("ºC", Temperature, 1.0, 0.0),
        ("C", Temperature, 1.0, 0.0),
        ("celsius", Temperature, 1.0, 0.0),
        ("°F", Temperature, 5.0 / 9.0, -32.0),
        ("F", Temperature, 5.0 / 9.0, -32.0),
        ("fahrenheit", Temperature, 5.0 / 9.0, -32.0),
        ("K", Temperature, 1.0, -273.15),
        ("kelvin", Temperature, 1.0, -273.15),
        ("mm", Length, 0.001, 0.0),
        ("cm", Length, 0.01, 0.0),
        ("m", Length, 1.0, 0.0),
        ("inch", Length, 0.0254, 0.0),
        ("in", Length, 0.0254, 0.0),
        ("m/s", Speed, 1.0, 0.0),
        ("km/h", Speed, 1.0 / 3.6, 0.0),
        ("kmh", Speed, 1.0 / 3.6, 0.0),
        ("mph", Speed, 0.44704, 0.0),
        ("mp/h", Speed, 0.44704, 0.0),
        ("kn", Speed, 0.514_444, 0.0),
        ("Pa", Pressure, 1.0, 0.0),
        ("hPa", Pressure, 100.0, 0.0),
        ("mbar", Pressure, 100.0, 0.0),
        ("kPa", Pressure, 1_000.0, 0.0),
        ("bar", Pressure, 100_000.0, 0.0),
        ("psi", Pressure, 6_894.757, 0.0),
        ("mH2O", Pressure, 9_806.65, 0.0),
        ("L/s", Flow, 1.0, 0.0),
        ("l/s", Flow, 1.0, 0.0),
        ("L/min", Flow, 1.0 / 60.0, 0.0),
        ("m³/h", Flow, 1_000.0 / 3_600.0, 0.0),
        ("m3/h", Flow, 1_000.0 / 3_600.0, 0.0),
        ("m³/s", Flow, 1_000.0, 0.0),
        ("m3/s", Flow, 1_000.0, 0.0),
        ("m³", Volume, 1.0, 0.0),
        ("m3", Volume, 1.0, 0.0),
        ("L", Volume, 0.001, 0.0),
        ("l", Volume, 0.001, 0.0),
        ("%", Ratio, 1.0, 0.0),
        ("°", Angle, 1.0, 0.0),
        ("º", Angle, 1.0, 0.0),
        ("deg", Angle, 1.0, 0.0),
        ("h", Duration, 3_600.0, 0.0),
        ("min", Duration, 60.0, 0.0),
        ("s", Duration, 1.0, 0.0),
        ("MJ/m²", Energy, 1.0, 0.0),
        ("MJ/m2", Energy, 1.0, 0.0),
        ("€/MWh", Price, 1.0, 0.0),
        ("€/kWh", Price, 1_000.0, 0.0),
        ("veh/h", Rate, 1.0, 0.0),
        ("wmo code", Code, 1.0, 0.0),
        ("0-100", Code, 1.0, 0.0),
        ("0-3", Code, 1.0, 0.0),
        ("count", Code, 1.0, 0.0),
    ]
};

fn lookup(unit: &str) -> Option<(Dimension, f64, f64)> {
    UNITS
        .iter()
        .find(|(spelling, ..)| *spelling == unit)
        .map(|&(_, dimension, factor, offset)| (dimension, factor, offset))
}

/// Whether almanac knows `unit`.
pub fn is_known(unit: &str) -> bool {
    lookup(unit).is_some()
}

/// `value` in `from` expressed in `to`, or `None` when either unit is unknown or they measure
/// different things. A real conversion is rounded to 3 decimals (upstream resolution is at best
/// 0.01 of its own unit; float noise is not data);
/// identical units pass the value through untouched.
pub fn convert(value: f64, from: &str, to: &str) -> Option<f64> {
    if from == to {
        return lookup(from).map(|_| value);
    }
    let (from_dimension, from_factor, from_offset) = lookup(from)?;
    let (to_dimension, to_factor, to_offset) = lookup(to)?;
    if from_dimension != to_dimension {
        return None;
    }
    let base = (value + from_offset) * from_factor;
    let converted = base / to_factor - to_offset;
    Some((converted * 1e3).round() / 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_within_a_dimension() {
        assert_eq!(convert(212.0, "°F", "°C"), Some(100.0));
        assert_eq!(convert(273.15, "K", "°C"), Some(0.0));
        assert_eq!(convert(36.0, "km/h", "m/s"), Some(10.0));
        assert_eq!(convert(1.0, "inch", "mm"), Some(25.4));
        assert_eq!(convert(101.325, "kPa", "hPa"), Some(1013.25));
        assert_eq!(convert(3.6, "m³/h", "L/s"), Some(1.0));
        assert_eq!(convert(2.5, "bar", "bar"), Some(2.5));
        assert_eq!(convert(0.12, "€/kWh", "€/MWh"), Some(120.0));
    }

    #[test]
    fn refuses_unknown_units_and_crossed_dimensions() {
        assert_eq!(convert(1.0, "furlong", "m"), None);
        assert_eq!(convert(1.0, "m/s", "hPa"), None);
        assert_eq!(convert(0.5, "fraction", "%"), None);
        assert_eq!(convert(1.0, "parsec", "parsec"), None);
    }
}
