//! Request parameters as the seed's clients send them: query strings whose rejections become
//! our error shape, coordinates, and dates as ISO dates or date-times with or without offset.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use jiff::tz::TimeZone;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::core::Core;
use crate::domain::time::DateError;
use crate::domain::{Coordinates, TimeRange, Timestamp};

/// A JSON object request body whose fields are read as text, numbers or strings alike (the
/// seed's clients send both), each problem its own `invalid_body`.
pub struct JsonFields(serde_json::Map<String, serde_json::Value>);

impl JsonFields {
    /// `body` as a JSON object; `expected` names its fields in the error.
    pub fn parse(body: &[u8], expected: &str) -> Result<Self, ApiError> {
        let invalid = |detail: String| ApiError::bad_request("invalid_body", detail);
        let value: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| invalid(format!("the body is a JSON object with {expected}: {e}")))?;
        match value {
            serde_json::Value::Object(fields) => Ok(Self(fields)),
            _ => Err(invalid("the body must be a JSON object".into())),
        }
    }

    /// Field `name` as text; `None` when absent or null.
    pub fn text(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.0.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(text)) => Ok(Some(text.clone())),
            Some(serde_json::Value::Number(number)) => Ok(Some(number.to_string())),
            Some(other) => Err(ApiError::bad_request(
                "invalid_body",
                format!("`{name}` must be a string or a number, got {other}"),
            )),
        }
    }
}

/// A request body (read whole by `body::whole`, which refuses one too large or too slow).
pub struct ApiBody(pub Bytes);

impl FromRequest<Core> for ApiBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, core: &Core) -> Result<Self, Self::Rejection> {
        // Limits and deadlines were applied when the body was read (`body::whole`).
        match Bytes::from_request(request, core).await {
            Ok(bytes) => Ok(Self(bytes)),
            Err(rejection) => Err(ApiError::bad_request("invalid_body", rejection.body_text())),
        }
    }
}

/// `Path<T>` whose rejection (a segment that is not UTF-8 once decoded, or not of the expected
/// type) is an [`ApiError`] naming the problem.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::bad_request(
                "invalid_path",
                format!("the URL's path: {}", rejection.body_text()),
            )),
        }
    }
}

/// `Query<T>` whose rejection is an [`ApiError`] naming the problem.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::bad_request(
                "invalid_query",
                rejection.body_text(),
            )),
        }
    }
}

/// Parses `latitude` and `longitude` query values into a checked point.
pub fn coordinates(latitude: &str, longitude: &str) -> Result<Coordinates, ApiError> {
    let number = |name: &str, raw: &str| {
        raw.trim().parse::<f64>().map_err(|_| {
            ApiError::bad_request(
                "invalid_coordinates",
                format!("{name} must be a number, got `{raw}`"),
            )
        })
    };
    Coordinates::new(
        number("latitude", latitude)?,
        number("longitude", longitude)?,
    )
    .map_err(|e| ApiError::bad_request("invalid_coordinates", e.to_string()))
}

/// `fill` (`none`, `locf`, `linear`) and `max_gap` (missing steps, 1 to 1000; 3 by default) as
/// the native answers and frames take them.
pub fn fill(
    fill: Option<&str>,
    max_gap: Option<&str>,
) -> Result<Option<(crate::domain::resample::Fill, usize)>, ApiError> {
    use crate::domain::resample::Fill;
    // `max_gap` is checked whether or not a fill asks for it: a bad value is never ignored.
    let max_gap = match max_gap {
        None => 3,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1_000).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_parameter",
                    format!("max_gap is a number of missing steps, 1 to 1000, got `{text}`"),
                )
            })?,
    };
    Ok(match fill.unwrap_or("none") {
        "none" => None,
        "locf" => Some((Fill::Locf, max_gap)),
        "linear" => Some((Fill::Linear, max_gap)),
        other => {
            return Err(ApiError::bad_request(
                "invalid_parameter",
                format!("fill is none, locf or linear, got `{other}`"),
            ));
        }
    })
}

/// `lead_hours` of forecasts: 0 (default) to 384 (16 days, the longest forecast kept).
pub fn lead_hours(raw: Option<u32>) -> Result<u32, ApiError> {
    match raw.unwrap_or(0) {
        hours @ 0..=384 => Ok(hours),
        hours => Err(ApiError::bad_request(
            "invalid_parameter",
            format!("lead_hours is 0..=384 (16 days), got {hours}"),
        )),
    }
}

/// Which end of a range a date names.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Start,
    End,
}

/// The half-open range almanac's `start`/`end` name at a location: a plain date is that local
/// calendar day of the location, a date-time without an offset its local time (Open-Meteo's
/// convention: `2025-01-01` to `2025-01-02` in Madrid is 48 whole Madrid hours, and
/// `resolution=day` gives two whole days); an instant with `Z` or an offset is exact. Otherwise
/// as [`named_date_range`].
pub fn date_range(
    start: &str,
    end: &str,
    max_days: u32,
    zone: &TimeZone,
) -> Result<TimeRange, ApiError> {
    range_in(["start", "end"], start, end, max_days, zone)
}

/// The half-open range a pair of the seeds' date parameters names (`names`, as the client sent
/// them: `start_date`/`end_date`, `start_time`/`end_time`). Both ends are inclusive as in the
/// seed's `BETWEEN`; an end given as a plain date includes that whole day. Dates and times
/// without an offset are UTC, the seeds' rule.
///
/// A range longer than `max_days` (`http.max_range_days`) is refused, naming the limit.
pub fn named_date_range(
    names: [&str; 2],
    start: &str,
    end: &str,
    max_days: u32,
) -> Result<TimeRange, ApiError> {
    range_in(names, start, end, max_days, &TimeZone::UTC)
}

fn range_in(
    [start_name, end_name]: [&str; 2],
    start: &str,
    end: &str,
    max_days: u32,
    zone: &TimeZone,
) -> Result<TimeRange, ApiError> {
    let from = instant(start_name, start, End::Start, zone)?;
    let to = instant(end_name, end, End::End, zone)?;
    if to < from {
        return Err(ApiError::bad_request(
            "invalid_range",
            format!("{end_name} {end} is before {start_name} {start}"),
        ));
    }
    let days = (to.epoch() - from.epoch()) / 86_400;
    if days >= i64::from(max_days) {
        return Err(ApiError::bad_request(
            "range_too_large",
            format!(
                "the range spans {days} days; the limit is {max_days} (http.max_range_days): ask in parts"
            ),
        ));
    }
    Ok(TimeRange {
        start: from,
        end: to.plus(1),
    })
}

/// The instant one parameter names (`as_of`): a date is its first second in `zone`, a time
/// without an offset is `zone`'s.
pub fn instant_in(name: &str, raw: &str, zone: &TimeZone) -> Result<Timestamp, ApiError> {
    instant(name, raw, End::Start, zone)
}

/// The instant a date parameter names (without an offset, in `zone`); for an end date, the
/// last second it covers (see [`Timestamp::parse_in`]).
fn instant(name: &str, raw: &str, which: End, zone: &TimeZone) -> Result<Timestamp, ApiError> {
    Timestamp::parse_in(raw, which == End::End, zone).map_err(|e| {
        ApiError::bad_request(
            "invalid_date",
            match e {
                DateError::Invalid => format!(
                    "{name} `{raw}` is not an ISO 8601 date (2024-01-31) or date-time (2024-01-31T00:00:00, optionally with Z or ±HH:MM)"
                ),
                // A well-formed date the calendar arithmetic cannot carry (the end of year 9999).
                DateError::OutOfRange => format!(
                    "{name} `{raw}` is outside the dates almanac handles (0001-01-01 to 9999-12-30)"
                ),
            },
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(start: &str, end: &str) -> (String, String) {
        let r = named_date_range(["start_date", "end_date"], start, end, 36_600).unwrap();
        (r.start.to_string(), r.end.to_string())
    }

    #[test]
    fn plain_dates_at_a_location_are_its_local_days() {
        let madrid = TimeZone::get("Europe/Madrid").unwrap();
        let local = |start, end| {
            let r = date_range(start, end, 36_600, &madrid).unwrap();
            (r.start.to_string(), r.end.to_string())
        };
        assert_eq!(
            local("2025-01-01", "2025-01-02"),
            (
                "2024-12-31T23:00:00+00:00".into(),
                "2025-01-02T23:00:00+00:00".into()
            )
        );
        // The spring-forward day has 23 hours.
        let r = date_range("2025-03-30", "2025-03-30", 36_600, &madrid).unwrap();
        assert_eq!(r.end.epoch() - r.start.epoch(), 23 * 3_600);
        // A time without an offset is local; with one it is exact.
        assert_eq!(
            local("2025-07-01T08:00", "2025-07-01T09:00Z").0,
            "2025-07-01T06:00:00+00:00"
        );
        assert_eq!(
            local("2025-07-01T08:00:00+00:00", "2025-07-01").0,
            "2025-07-01T08:00:00+00:00"
        );
    }

    #[test]
    fn accepts_what_the_seed_clients_send() {
        assert_eq!(
            range("2024-01-01", "2024-01-02"),
            (
                "2024-01-01T00:00:00+00:00".into(),
                "2024-01-03T00:00:00+00:00".into()
            )
        );
        assert_eq!(
            range("2024-01-01T00:00:00", "2024-01-01T05:00:00Z"),
            (
                "2024-01-01T00:00:00+00:00".into(),
                "2024-01-01T05:00:01+00:00".into()
            )
        );
        assert_eq!(
            range("2024-01-01T02:00:00+02:00", "2024-01-01 03:00").0,
            "2024-01-01T00:00:00+00:00"
        );
        assert_eq!(
            range("2024-01-01T00:00:00.000Z", "2024-01-01T00:00").0,
            "2024-01-01T00:00:00+00:00"
        );
    }

    #[test]
    fn a_date_past_the_calendar_says_so() {
        let error = date_range("9999-12-30", "9999-12-31", 36_600, &TimeZone::UTC).unwrap_err();
        assert!(
            error.detail.contains("outside the dates"),
            "{}",
            error.detail
        );
    }

    #[test]
    fn errors_name_the_parameters_the_client_sent() {
        let native = date_range("2024-02-01", "nope", 36_600, &TimeZone::UTC)
            .unwrap_err()
            .detail;
        assert!(native.starts_with("end `nope`"), "{native}");
        let seed = named_date_range(
            ["start_date", "end_date"],
            "2024-02-01",
            "2024-01-01",
            36_600,
        )
        .unwrap_err()
        .detail;
        assert_eq!(seed, "end_date 2024-01-01 is before start_date 2024-02-01");
    }

    #[test]
    fn refuses_inverted_and_unparsable_dates() {
        assert_eq!(
            date_range("2024-02-01", "2024-01-01", 36_600, &TimeZone::UTC)
                .unwrap_err()
                .code,
            "invalid_range"
        );
        assert_eq!(
            date_range("yesterday", "2024-01-01", 36_600, &TimeZone::UTC)
                .unwrap_err()
                .code,
            "invalid_date"
        );
        assert_eq!(
            date_range("2024-13-01", "2024-12-01", 36_600, &TimeZone::UTC)
                .unwrap_err()
                .code,
            "invalid_date"
        );
    }

    #[test]
    fn refuses_bad_coordinates() {
        assert_eq!(
            coordinates("91", "0").unwrap_err().code,
            "invalid_coordinates"
        );
        assert_eq!(
            coordinates("north", "0").unwrap_err().code,
            "invalid_coordinates"
        );
        assert!(coordinates(" 40.4 ", "-3.7").is_ok());
    }
}
