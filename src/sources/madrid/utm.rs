//! UTM → latitude/longitude (inverse transverse Mercator, Snyder's series, GRS80), for the
//! measurement-point coordinates Madrid publishes in zone 30N. Madrid's files say ED50 moving to
//! ETRS89; they are read as ETRS89 (≈ WGS84). Read as ED50 instead, a point moves about 230 m,
//! which is nothing beside a city's coverage radius.

use crate::domain::Coordinates;

const A: f64 = 6_378_137.0;
const F: f64 = 1.0 / 298.257_222_101;
const K0: f64 = 0.9996;
const FALSE_EASTING: f64 = 500_000.0;

/// The point at `easting`, `northing` (metres) in northern-hemisphere UTM `zone`, or `None` when
/// the result is not a valid position (the numbers were not UTM).
pub fn to_wgs84(zone: u8, easting: f64, northing: f64) -> Option<Coordinates> {
    if !(1..=60).contains(&zone) || !easting.is_finite() || !northing.is_finite() {
        return None;
    }
    let e2 = F * (2.0 - F);
    let ep2 = e2 / (1.0 - e2);
    let x = easting - FALSE_EASTING;
    let m = northing / K0;
    let mu = m / (A * (1.0 - e2 / 4.0 - 3.0 * e2.powi(2) / 64.0 - 5.0 * e2.powi(3) / 256.0));
    let e1 = (1.0 - (1.0 - e2).sqrt()) / (1.0 + (1.0 - e2).sqrt());
    let phi1 = mu
        + (3.0 * e1 / 2.0 - 27.0 * e1.powi(3) / 32.0) * (2.0 * mu).sin()
        + (21.0 * e1.powi(2) / 16.0 - 55.0 * e1.powi(4) / 32.0) * (4.0 * mu).sin()
        + (151.0 * e1.powi(3) / 96.0) * (6.0 * mu).sin()
        + (1_097.0 * e1.powi(4) / 512.0) * (8.0 * mu).sin();
    let (sin1, cos1, tan1) = (phi1.sin(), phi1.cos(), phi1.tan());
    let c1 = ep2 * cos1.powi(2);
    let t1 = tan1.powi(2);
    let n1 = A / (1.0 - e2 * sin1.powi(2)).sqrt();
    let r1 = A * (1.0 - e2) / (1.0 - e2 * sin1.powi(2)).powf(1.5);
    let d = x / (n1 * K0);
    let latitude = phi1
        - (n1 * tan1 / r1)
            * (d.powi(2) / 2.0
                - (5.0 + 3.0 * t1 + 10.0 * c1 - 4.0 * c1.powi(2) - 9.0 * ep2) * d.powi(4) / 24.0
                + (61.0 + 90.0 * t1 + 298.0 * c1 + 45.0 * t1.powi(2)
                    - 252.0 * ep2
                    - 3.0 * c1.powi(2))
                    * d.powi(6)
                    / 720.0);
    let central = f64::from(zone) * 6.0 - 183.0;
    let longitude = central.to_radians()
        + (d - (1.0 + 2.0 * t1 + c1) * d.powi(3) / 6.0
            + (5.0 - 2.0 * c1 + 28.0 * t1 - 3.0 * c1.powi(2) + 8.0 * ep2 + 24.0 * t1.powi(2))
                * d.powi(5)
                / 120.0)
            / cos1;
    Coordinates::new(latitude.to_degrees(), longitude.to_degrees()).ok()
}

/// The UTM easting and northing (metres) of `point` in northern-hemisphere `zone`: the inverse
/// of [`to_wgs84`] (used to write location files in Madrid's layout).
pub fn from_wgs84(zone: u8, point: Coordinates) -> (f64, f64) {
    let e2 = F * (2.0 - F);
    let ep2 = e2 / (1.0 - e2);
    let phi = point.latitude.to_radians();
    let central = (f64::from(zone) * 6.0 - 183.0).to_radians();
    let n = A / (1.0 - e2 * phi.sin().powi(2)).sqrt();
    let t = phi.tan().powi(2);
    let c = ep2 * phi.cos().powi(2);
    let a = phi.cos() * (point.longitude.to_radians() - central);
    let m = A
        * ((1.0 - e2 / 4.0 - 3.0 * e2.powi(2) / 64.0 - 5.0 * e2.powi(3) / 256.0) * phi
            - (3.0 * e2 / 8.0 + 3.0 * e2.powi(2) / 32.0 + 45.0 * e2.powi(3) / 1_024.0)
                * (2.0 * phi).sin()
            + (15.0 * e2.powi(2) / 256.0 + 45.0 * e2.powi(3) / 1_024.0) * (4.0 * phi).sin()
            - (35.0 * e2.powi(3) / 3_072.0) * (6.0 * phi).sin());
    let easting = FALSE_EASTING
        + K0 * n
            * (a + (1.0 - t + c) * a.powi(3) / 6.0
                + (5.0 - 18.0 * t + t.powi(2) + 72.0 * c - 58.0 * ep2) * a.powi(5) / 120.0);
    let northing = K0
        * (m + n
            * phi.tan()
            * (a.powi(2) / 2.0
                + (5.0 - t + 9.0 * c + 4.0 * c.powi(2)) * a.powi(4) / 24.0
                + (61.0 - 58.0 * t + t.powi(2) + 600.0 * c - 330.0 * ep2) * a.powi(6) / 720.0));
    (easting, northing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_proj_for_a_madrid_point() {
        // PROJ (EPSG:25830 → EPSG:4326) gives -3.7363235, 40.4118939 for this M-30 detector.
        let c = to_wgs84(30, 437_526.638_490_494, 4_473_735.292_585_08).unwrap();
        assert!((c.latitude - 40.411_893_9).abs() < 1e-6, "{c:?}");
        assert!((c.longitude + 3.736_323_5).abs() < 1e-6, "{c:?}");
        assert_eq!(to_wgs84(30, f64::NAN, 0.0), None);
        assert_eq!(to_wgs84(0, 437_526.0, 4_473_735.0), None);
    }

    #[test]
    fn forward_and_inverse_round_trip_to_the_centimetre() {
        let (x, y) = from_wgs84(30, Coordinates::new(40.411_893_9, -3.736_323_5).unwrap());
        assert!(
            (x - 437_526.638).abs() < 0.05 && (y - 4_473_735.293).abs() < 0.05,
            "{x} {y}"
        );
        let back = to_wgs84(30, x, y).unwrap();
        assert!((back.latitude - 40.411_893_9).abs() < 1e-8);
    }
}
