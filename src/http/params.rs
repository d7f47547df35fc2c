//! Request parameters as the seed's clients send them: query strings whose rejections become
//! our error shape, coordinates, and dates as ISO dates or date-times with or without offset.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::core::Core;
use crate::domain::{Coordinates, TimeRange, Timestamp};

/// A request body, at most `http.max_body_kb`; too large a body is a 413 in our error shape
/// naming the limit.
pub struct ApiBody(pub Bytes);

impl FromRequest<Core> for ApiBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, core: &Core) -> Result<Self, Self::Rejection> {
        let http = &core.config.http;
        let too_large = || ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "body_too_large",
            detail: format!(
                "the body is larger than the limit of {} kB (http.max_body_kb)",
                http.max_body_kb
            ),
        };
        // An announced length over the limit is refused before a byte of the body is read.
        let announced = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|n| n > u64::from(http.max_body_kb) * 1024) {
            return Err(too_large());
        }
        let limit = Duration::from_secs(http.body_timeout_secs.into());
        match tokio::time::timeout(limit, Bytes::from_request(request, core)).await {
            Err(_) => Err(ApiError {
                status: StatusCode::REQUEST_TIMEOUT,
                code: "body_timeout",
                detail: format!(
                    "the body did not arrive within {} s (http.body_timeout_secs)",
                    http.body_timeout_secs
                ),
            }),
            Ok(Ok(bytes)) => Ok(Self(bytes)),
            Ok(Err(rejection)) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(too_large())
            }
            Ok(Err(rejection)) => Err(ApiError::bad_request("invalid_body", rejection.body_text())),
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

/// Which end of a range a date names.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Start,
    End,
}

/// The half-open range a `start`/`end` pair names (see [`named_date_range`]).
pub fn date_range(start: &str, end: &str, max_days: u32) -> Result<TimeRange, ApiError> {
    named_date_range(["start", "end"], start, end, max_days)
}

/// The half-open range a pair of date parameters names (`names`, as the client sent them: the
/// seed's `start_date`/`end_date`, almanac's `start`/`end`). Both ends are inclusive as in the
/// seed's `BETWEEN`; an end given as a plain date includes that whole day. Times without an
/// offset are UTC.
///
/// A range longer than `max_days` (`http.max_range_days`) is refused, naming the limit.
pub fn named_date_range(
    [start_name, end_name]: [&str; 2],
    start: &str,
    end: &str,
    max_days: u32,
) -> Result<TimeRange, ApiError> {
    let from = instant(start_name, start, End::Start)?;
    let to = instant(end_name, end, End::End)?;
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

/// The instant a date parameter names; for an end date, the last second it covers.
fn instant(name: &str, raw: &str, which: End) -> Result<Timestamp, ApiError> {
    let text = raw.trim();
    let invalid = || {
        ApiError::bad_request(
            "invalid_date",
            format!(
                "{name} `{raw}` is not an ISO 8601 date (2024-01-31) or date-time (2024-01-31T00:00:00, optionally with Z or ±HH:MM)"
            ),
        )
    };
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Ok(Timestamp::from_jiff(ts));
    }
    if let Ok(dt) = text.parse::<DateTime>()
        && text.len() > 10
    {
        return dt
            .to_zoned(TimeZone::UTC)
            .map(|z| Timestamp::from_jiff(z.timestamp()))
            .map_err(|_| invalid());
    }
    let date = text.parse::<Date>().map_err(|_| invalid())?;
    let day = if which == End::End {
        date.tomorrow().map_err(|_| invalid())?
    } else {
        date
    };
    let start = day.to_zoned(TimeZone::UTC).map_err(|_| invalid())?;
    let ts = Timestamp::from_jiff(start.timestamp());
    Ok(if which == End::End { ts.plus(-1) } else { ts })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(start: &str, end: &str) -> (String, String) {
        let r = date_range(start, end, 36_600).unwrap();
        (r.start.to_string(), r.end.to_string())
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
    fn errors_name_the_parameters_the_client_sent() {
        let native = date_range("2024-02-01", "nope", 36_600).unwrap_err().detail;
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
            date_range("2024-02-01", "2024-01-01", 36_600)
                .unwrap_err()
                .code,
            "invalid_range"
        );
        assert_eq!(
            date_range("yesterday", "2024-01-01", 36_600)
                .unwrap_err()
                .code,
            "invalid_date"
        );
        assert_eq!(
            date_range("2024-13-01", "2024-12-01", 36_600)
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
