//! Byte ranges of an answer (RFC 9110 §14), so analytics tools read almanac's answers straight
//! from their URL: polars', pyarrow's and DuckDB's HTTP readers ask for `Range: bytes=…` and
//! expect 206. Every successful GET answer says `Accept-Ranges: bytes`; a single range is 206
//! with `Content-Range`, one past the end 416 naming the length; several ranges, an encoded
//! (gzip) answer or an `If-Range` that does not match the answer's ETag get the whole answer
//! (200), as the RFC allows. HEAD answers carry the whole answer's `Content-Length`.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// The middleware.
pub async fn ranges(request: Request, next: Next) -> Response {
    let wanted = match *request.method() {
        Method::GET | Method::HEAD => request.headers().get(header::RANGE).cloned(),
        _ => return next.run(request).await,
    };
    let if_range = request.headers().get(header::IF_RANGE).cloned();
    let response = next.run(request).await;
    if response.status() != StatusCode::OK
        || response.headers().contains_key(header::CONTENT_ENCODING)
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    parts
        .headers
        .insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let Some(wanted) = wanted else {
        return Response::from_parts(parts, body);
    };
    // If-Range names the answer the client already holds part of: only that one is sliced.
    let current = parts.headers.get(header::ETAG);
    if if_range.is_some_and(|tag| Some(&tag) != current) {
        return Response::from_parts(parts, body);
    }
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            detail: "the answer could not be read back".into(),
        }
        .into_response();
    };
    let length = bytes.len() as u64;
    match parse(wanted.to_str().unwrap_or(""), length) {
        Range::Whole => Response::from_parts(parts, Body::from(bytes)),
        Range::Unsatisfiable => {
            let mut response = ApiError {
                status: StatusCode::RANGE_NOT_SATISFIABLE,
                code: "range_not_satisfiable",
                detail: format!("the answer is {length} bytes long"),
            }
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{length}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            response
        }
        Range::Part(first, last) => {
            parts.status = StatusCode::PARTIAL_CONTENT;
            if let Ok(value) = HeaderValue::from_str(&format!("bytes {first}-{last}/{length}")) {
                parts.headers.insert(header::CONTENT_RANGE, value);
            }
            parts.headers.remove(header::CONTENT_LENGTH);
            let part = bytes.slice(first as usize..=last as usize);
            Response::from_parts(parts, Body::from(part))
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Range {
    /// Not a single byte range almanac slices: the whole answer.
    Whole,
    Unsatisfiable,
    /// First and last byte, both included.
    Part(u64, u64),
}

/// `bytes=0-99`, `bytes=100-` or `bytes=-100` of an answer `length` bytes long.
fn parse(text: &str, length: u64) -> Range {
    let Some(spec) = text.trim().strip_prefix("bytes=") else {
        return Range::Whole;
    };
    if spec.contains(',') {
        return Range::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Range::Whole;
    };
    let number = |s: &str| s.trim().parse::<u64>().ok();
    let (first, last) = match (first.trim().is_empty(), last.trim().is_empty()) {
        // The last n bytes.
        (true, false) => match number(last) {
            Some(0) => return Range::Unsatisfiable,
            Some(n) => (length.saturating_sub(n), length.saturating_sub(1)),
            None => return Range::Whole,
        },
        (false, true) => match number(first) {
            Some(first) => (first, length.saturating_sub(1)),
            None => return Range::Whole,
        },
        (false, false) => match (number(first), number(last)) {
            (Some(first), Some(last)) if first <= last => {
                (first, last.min(length.saturating_sub(1)))
            }
            _ => return Range::Whole,
        },
        (true, true) => return Range::Whole,
    };
    if length == 0 || first >= length {
        Range::Unsatisfiable
    } else {
        Range::Part(first, last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_ranges_as_the_rfc_reads_them() {
        assert_eq!(parse("bytes=0-99", 1_000), Range::Part(0, 99));
        assert_eq!(parse("bytes=900-", 1_000), Range::Part(900, 999));
        assert_eq!(parse("bytes=-100", 1_000), Range::Part(900, 999));
        assert_eq!(parse("bytes=990-2000", 1_000), Range::Part(990, 999));
        assert_eq!(parse("bytes=-5000", 1_000), Range::Part(0, 999));
        assert_eq!(parse("bytes=1000-", 1_000), Range::Unsatisfiable);
        assert_eq!(parse("bytes=-0", 1_000), Range::Unsatisfiable);
        // Several ranges, another unit, nonsense: the whole answer.
        assert_eq!(parse("bytes=0-1,5-9", 1_000), Range::Whole);
        assert_eq!(parse("items=0-1", 1_000), Range::Whole);
        assert_eq!(parse("bytes=9-1", 1_000), Range::Whole);
        assert_eq!(parse("bytes=a-b", 1_000), Range::Whole);
    }
}
